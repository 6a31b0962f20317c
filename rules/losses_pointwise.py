"""Pointwise losses: L1, smooth L1, Huber, soft margin, KL, BCE, Poisson and Gaussian NLL,
margin ranking, hinge embedding.

Each is ℓ[i…] over the broadcast of its operands, then reduced ("none", "mean", "sum").
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.activations import relu
from symbolic_torch.rules.losses import POOL, broadcast_at, options, reduce_loss

RED = ("size_average", "reduce", "reduction")


def hinge(z: sp.Expr) -> sp.Expr:
    """max(0, z), with torch's relu convention at 0."""
    return relu(z, None)  # type: ignore[arg-type]


def pointwise(name: str, fn: Any, keys: Sequence[str], positional: Sequence[str], defaults: dict[str, Any],
              body: Callable[..., sp.Expr], doc: str) -> None:
    """Register loss ``name``: ℓ = body(call, reads…, options) over the broadcast operands."""
    def impl(call: Call, *args: Any, **kwargs: Any) -> sp.Expr:
        tensors, rest = args[: len(keys)], args[len(keys):]
        o = options(call, rest, {**defaults, **kwargs}, positional, positional)
        ops = [call.operand(t, k, s) for t, (k, s) in zip(tensors, [k.split(":") for k in keys])]
        extra = {k: o[k] for k in o if k == "weight" and o[k] is not None}
        for k, v in extra.items():
            ops.append(call.operand(v, k, k[0].upper()))
        shape = tuple(torch.broadcast_shapes(*[op.shape for op in ops]))
        if o["reduction"] == "none":
            idx = call.out(*POOL[: len(shape)])
        else:
            call.out()
            idx = tuple(sp.Symbol(POOL[k], integer=True) for k in range(len(shape)))
        reads = {op.key: broadcast_at(op, idx, shape) for op in ops}
        loss = body(call, reads, o)
        red = o["reduction"]
        limits = list(zip(idx, shape))
        if red == "batchmean":
            return reduce_loss(call, loss, limits, "sum") / (shape[0] if shape else 1)
        return reduce_loss(call, loss, limits, red)
    impl.__doc__ = doc
    rule(name, functions=[fn], latex=rf"\operatorname{{{name}}}")(impl)


def _d(r: dict[str, sp.Expr]) -> sp.Expr:
    return r["input"] - r["target"]


pointwise("l1_loss", F.l1_loss, ["input:x", "target:t"], RED, {"reduction": "mean"},
          lambda c, r, o: sp.Abs(_d(r)), "ℓ = |x − t|.")
pointwise("smooth_l1_loss", F.smooth_l1_loss, ["input:x", "target:t"], RED + ("beta",), {"reduction": "mean", "beta": 1.0},
          lambda c, r, o: sp.Abs(_d(r)) if o["beta"] == 0 else sp.Piecewise(
              (_d(r) ** 2 / (2 * c.scalar(o["beta"])), sp.Abs(_d(r)) < c.scalar(o["beta"])),
              (sp.Abs(_d(r)) - c.scalar(o["beta"]) / 2, True)),
          "ℓ = d²/(2β) for |d| < β, |d| − β/2 otherwise (d = x − t).")
pointwise("huber_loss", F.huber_loss, ["input:x", "target:t"], ("reduction", "delta", "weight"),
          {"reduction": "mean", "delta": 1.0, "weight": None},
          lambda c, r, o: (r["weight"] if "weight" in r else 1) * sp.Piecewise(
              (_d(r) ** 2 / 2, sp.Abs(_d(r)) < c.scalar(o["delta"])),
              (c.scalar(o["delta"]) * (sp.Abs(_d(r)) - c.scalar(o["delta"]) / 2), True)),
          "ℓ = d²/2 for |d| < δ, δ(|d| − δ/2) otherwise.")
pointwise("soft_margin_loss", F.soft_margin_loss, ["input:x", "target:t"], RED, {"reduction": "mean"},
          lambda c, r, o: sp.log(1 + sp.exp(-r["target"] * r["input"])), "ℓ = log(1 + e^{−t·x}).")


def _kl(c: Call, r: dict[str, sp.Expr], o: dict[str, Any]) -> sp.Expr:
    x, t = r["input"], r["target"]
    if o["log_target"]:
        return sp.exp(t) * (t - x)
    return sp.Piecewise((0, sp.Eq(t, 0)), (t * sp.log(t), True)) - t * x


pointwise("kl_div", F.kl_div, ["input:x", "target:t"], RED + ("log_target",), {"reduction": "mean", "log_target": False},
          _kl, "ℓ = t·(log t − x) (0·log 0 = 0), or e^{t}(t − x) for a log target.")


def _clamped_log(z: sp.Expr) -> sp.Expr:
    """log z, limited below at −100 as torch's BCE does."""
    return sp.Piecewise((-100, z <= sp.exp(-100)), (sp.log(z), True))


pointwise("binary_cross_entropy", F.binary_cross_entropy, ["input:x", "target:t"], ("weight",) + RED,
          {"reduction": "mean", "weight": None},
          lambda c, r, o: -(r["weight"] if "weight" in r else 1) * (
              r["target"] * _clamped_log(r["input"]) + (1 - r["target"]) * _clamped_log(1 - r["input"])),
          "ℓ = −w·(t log x + (1 − t) log(1 − x)), logs limited below at −100.")


def _poisson(c: Call, r: dict[str, sp.Expr], o: dict[str, Any]) -> sp.Expr:
    x, t = r["input"], r["target"]
    loss = sp.exp(x) - t * x if o["log_input"] else x - t * sp.log(x + c.scalar(o["eps"]))
    if o["full"]:  # Stirling's term for t > 1
        loss += sp.Piecewise((t * sp.log(t) - t + sp.log(2 * sp.pi * t) / 2, t > 1), (0, True))
    return loss


pointwise("poisson_nll_loss", F.poisson_nll_loss, ["input:x", "target:t"],
          ("log_input", "full", "size_average", "eps", "reduce", "reduction"),
          {"reduction": "mean", "log_input": True, "full": False, "eps": 1e-8}, _poisson,
          "ℓ = eˣ − t·x (log input) or x − t·log(x + ε), plus Stirling's term when full.")
pointwise("margin_ranking_loss", F.margin_ranking_loss, ["input1:u", "input2:v", "target:t"], ("margin",) + RED,
          {"reduction": "mean", "margin": 0.0},
          lambda c, r, o: hinge(-r["target"] * (r["input1"] - r["input2"]) + c.scalar(o["margin"])),
          "ℓ = max(0, −t·(u − v) + margin).")
pointwise("hinge_embedding_loss", F.hinge_embedding_loss, ["input:x", "target:t"], ("margin",) + RED,
          {"reduction": "mean", "margin": 1.0},
          lambda c, r, o: sp.Piecewise((r["input"], sp.Ne(r["target"], -1)), (0, True))
          + sp.Piecewise((hinge(c.scalar(o["margin"]) - r["input"]), sp.Ne(r["target"], 1)), (0, True)),
          "ℓ = x where t ≠ −1, plus max(0, margin − x) where t ≠ 1.")


@rule("gaussian_nll_loss", functions=[F.gaussian_nll_loss], latex=r"\operatorname{GaussianNLL}")
def gaussian_nll_loss(call: Call, input: Any, target: Any, var: Any, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> sp.Expr:
    """ℓ = (log v + (x − t)²/v)/2 (+ log(2π)/2 when full), v = var limited below at ε.

    torch limits var without recording it, so its gradient is taken at the limited value as
    if v were var: v = var + C, C = max(var, ε) − var a constant.
    """
    x, t, w = call.operand(input, "input", "x"), call.operand(target, "target", "t"), call.operand(var, "var", "V")
    short = w.shape == x.shape[:-1] and w.ndim == x.ndim - 1  # one variance per row: var[..., None]
    shape = tuple(torch.broadcast_shapes(x.shape, t.shape, w.shape + (1,) if short else w.shape))
    if reduction == "none":
        idx = call.out(*POOL[: len(shape)])
    else:
        call.out()
        idx = tuple(sp.Symbol(POOL[k], integer=True) for k in range(len(shape)))
    lift = (w.value.clamp(min=eps) - w.value).detach()
    c = call.operand(lift, "var_limit", "C")
    vi = (lambda op: broadcast_at(op, idx[:-1], shape[:-1])) if short else (lambda op: broadcast_at(op, idx, shape))
    v = vi(w) + vi(c)
    loss = (sp.log(v) + (broadcast_at(x, idx, shape) - broadcast_at(t, idx, shape)) ** 2 / v) / 2
    if full:
        loss += sp.log(2 * sp.pi) / 2
    return reduce_loss(call, loss, list(zip(idx, shape)), reduction)
