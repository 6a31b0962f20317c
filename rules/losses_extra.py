"""More losses: the pointwise ones (L1, smooth L1, Huber, soft margin, KL, BCE, Poisson and
Gaussian NLL), the ranking and embedding ones, multi-label and multi-class margins, triplets.

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
from symbolic_torch.rules.losses import POOL, _at, _reduce, options

RED = ("size_average", "reduce", "reduction")


def _hinge(z: sp.Expr) -> sp.Expr:
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
        reads = {op.key: _at(op, idx, shape) for op in ops}
        loss = body(call, reads, o)
        red = o["reduction"]
        limits = list(zip(idx, shape))
        if red == "batchmean":
            return _reduce(call, loss, limits, "sum") / (shape[0] if shape else 1)
        return _reduce(call, loss, limits, red)
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
          lambda c, r, o: _hinge(-r["target"] * (r["input1"] - r["input2"]) + c.scalar(o["margin"])),
          "ℓ = max(0, −t·(u − v) + margin).")
pointwise("hinge_embedding_loss", F.hinge_embedding_loss, ["input:x", "target:t"], ("margin",) + RED,
          {"reduction": "mean", "margin": 1.0},
          lambda c, r, o: sp.Piecewise((r["input"], sp.Ne(r["target"], -1)), (0, True))
          + sp.Piecewise((_hinge(c.scalar(o["margin"]) - r["input"]), sp.Ne(r["target"], 1)), (0, True)),
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
    vi = (lambda op: _at(op, idx[:-1], shape[:-1])) if short else (lambda op: _at(op, idx, shape))
    v = vi(w) + vi(c)
    loss = (sp.log(v) + (_at(x, idx, shape) - _at(t, idx, shape)) ** 2 / v) / 2
    if full:
        loss += sp.log(2 * sp.pi) / 2
    return _reduce(call, loss, list(zip(idx, shape)), reduction)


def _rows(call: Call, ndim: int, reduction: str) -> tuple[list[sp.Symbol], list[tuple[sp.Symbol, int]]]:
    """Row indices of a (N, C) or (C,) loss: output indices when unreduced, summation ones otherwise."""
    n = sp.Symbol("n", integer=True)
    if ndim < 2:
        call.out()
        return [], []
    if reduction == "none":
        (n,) = call.out("n")
    else:
        call.out()
    return [n], [(n, call.operands[0].shape[0])]


@rule("cosine_embedding_loss", functions=[F.cosine_embedding_loss], latex=r"\operatorname{CosineEmbedding}")
def cosine_embedding_loss(call: Call, input1: Any, input2: Any, target: Any, margin: float = 0.0,
                          size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> sp.Expr:
    """ℓ[n] = 1 − cos where t = 1, max(0, cos − margin) where t = −1; cos = u·v/√((|u|² + ε)(|v|² + ε))."""
    u, v = call.operand(input1, "input1", "u"), call.operand(input2, "input2", "v")
    t = call.operand(target, "target", "t")
    row, rows = _rows(call, u.ndim, reduction)
    k = sp.Symbol("k", integer=True)
    at = lambda op: op[tuple(row + [k])]  # noqa: E731
    eps = sp.Float(1e-12)
    lim = (k, u.shape[-1])
    cos = call.sum(at(u) * at(v), lim) / sp.sqrt((call.sum(at(u) ** 2, lim) + eps) * (call.sum(at(v) ** 2, lim) + eps))
    ti = t[tuple(row)] if t.ndim else t[()]
    loss = sp.Piecewise((1 - cos, sp.Eq(ti, 1)), (0, True)) + \
        sp.Piecewise((_hinge(cos - call.scalar(margin)), sp.Eq(ti, -1)), (0, True))
    return _reduce(call, loss, rows, reduction)


@rule("multilabel_soft_margin_loss", functions=[F.multilabel_soft_margin_loss], latex=r"\operatorname{MultiLabelSoftMargin}")
def multilabel_soft_margin_loss(call: Call, input: Any, target: Any, weight: Any = None, size_average: Any = None,
                                reduce: Any = None, reduction: str = "mean") -> sp.Expr:
    """ℓ[n] = −(1/C) Σ_c w[c]·(t log σ(x) + (1 − t) log σ(−x))[n, c]."""
    x, t = call.operand(input, "input", "x"), call.operand(target, "target", "t")
    w = call.operand(weight, "weight", "w") if weight is not None else None
    row, rows = _rows(call, x.ndim, reduction)
    c = sp.Symbol("c", integer=True)
    shape = tuple(torch.broadcast_shapes(x.shape, t.shape, *([w.shape] if w is not None else [])))
    full = row + [c] if x.ndim >= 1 else []
    xi, ti = _at(x, full, shape), _at(t, full, shape)
    logsig = lambda z: -sp.log(1 + sp.exp(-z))  # noqa: E731
    body = -(ti * logsig(xi) + (1 - ti) * logsig(-xi)) * (_at(w, full, shape) if w is not None else 1)
    size = shape[-1] if shape else 1
    loss = (call.sum(body, (c, size)) if x.ndim else body) / size
    return _reduce(call, loss, rows, reduction)


@rule("multi_margin_loss", functions=[F.multi_margin_loss], latex=r"\operatorname{MultiMargin}")
def multi_margin_loss(call: Call, input: Any, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None,
                      size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> sp.Expr:
    """ℓ[n] = (1/C) Σ_{i ≠ y} w[y]·max(0, margin − x[n, y] + x[n, i])^p, y = t[n] (a constant)."""
    from symbolic_torch.ir.primitives import Iverson
    x, t = call.operand(input, "input", "x"), call.operand(target, "target", "t")
    w = call.operand(weight, "weight", "w") if weight is not None else None
    row, rows = _rows(call, x.ndim, reduction)
    if x.ndim == 0:
        return sp.S.Zero  # one class, the target: nothing to compare
    i = sp.Symbol("i", integer=True)
    y = t[tuple(row)] if t.ndim else t[()]
    z = call.scalar(margin) - x[tuple(row + [y])] + x[tuple(row + [i])]
    body = Iverson(sp.Ne(i, y)) * Iverson(z > 0) * z ** int(p) * (w[y] if w is not None else 1)
    loss = call.sum(body, (i, x.shape[-1])) / x.shape[-1]
    return _reduce(call, loss, rows, reduction)


def _distance(call: Call, a: Any, b: Any, row: list[sp.Symbol], p: float, eps: float) -> sp.Expr:
    from symbolic_torch.rules.norms import _order, pnorm
    k = sp.Symbol("k", integer=True)
    # no zero guard: with ε added the distance is 0 only where a − b = −ε exactly
    return pnorm(call, a[tuple(row + [k])] - b[tuple(row + [k])] + call.scalar(eps), [(k, a.shape[-1])], _order(p),
                 zero_guard=False)


def _triplet(call: Call, anchor: Any, positive: Any, negative: Any, margin: float, p: float, eps: float,
             swap: bool, reduction: str) -> sp.Expr:
    """ℓ[n] = max(0, margin + d(a, p) − d(a, n)), d(a, n) = min(d(a, n), d(p, n)) with swap."""
    a, q, m = (call.operand(t, k, s) for t, k, s in [(anchor, "anchor", "a"), (positive, "positive", "p"),
                                                      (negative, "negative", "q")])
    row, rows = _rows(call, a.ndim, reduction)
    d_pos, d_neg = _distance(call, a, q, row, p, eps), _distance(call, a, m, row, p, eps)
    if swap:
        d_neg = sp.Min(d_neg, _distance(call, q, m, row, p, eps))
    return _reduce(call, _hinge(call.scalar(margin) + d_pos - d_neg), rows, reduction)


@rule("triplet_margin_loss", functions=[F.triplet_margin_loss], latex=r"\operatorname{TripletMargin}")
def triplet_margin_loss(call: Call, anchor: Any, positive: Any, negative: Any, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average: Any = None, reduce: Any = None,
                        reduction: str = "mean") -> sp.Expr:
    """ℓ[n] = max(0, margin + ‖a − p + ε‖_p − ‖a − q + ε‖_p) (q: the negative)."""
    return _triplet(call, anchor, positive, negative, margin, p, eps, swap, reduction)


@rule("multilabel_margin_loss", functions=[F.multilabel_margin_loss], latex=r"\operatorname{MultiLabelMargin}")
def multilabel_margin_loss(call: Call, input: Any, target: Any, *args: Any, reduction: str = "mean",
                           **kwargs: Any) -> sp.Expr:
    """ℓ[n] = (1/C) Σ_j Σ_i V[n,j]·(1 − P[n,i])·max(0, 1 − x[n, T[n,j]] + x[n, i]): T[n, j] the target
    classes up to the first −1 (V[n, j] = 1 there), P[n, i] = 1 for a target class; all constants."""
    from symbolic_torch.ir.primitives import Iverson
    o = options(call, args, {"reduction": reduction, **kwargs}, RED, ["reduction"])
    x = call.operand(input, "input", "x")
    t = getattr(target, "value", target).reshape(-1, max(x.shape[-1] if x.ndim else 1, 1)).long()
    row, rows = _rows(call, x.ndim, o["reduction"])
    if x.ndim == 0:
        return sp.S.Zero  # one class: a target or none, nothing to compare
    valid = (torch.cumprod((t != -1).long(), 1) > 0)
    hits = torch.zeros_like(t).scatter_add_(1, torch.where(valid, t, 0), valid.long()) > 0  # invalid ones add 0
    shape = x.shape if x.ndim == 2 else (x.shape[-1],)
    T = call.operand(torch.where(valid, t, 0).reshape(shape), "target", "T")
    V = call.operand(valid.to(x.value.dtype).reshape(shape), "target_valid", "V")
    P = call.operand(hits.to(x.value.dtype).reshape(shape), "target_classes", "P")
    i, j = sp.Symbol("i", integer=True), sp.Symbol("j", integer=True)
    at = lambda op, k: op[tuple(row + [k])]  # noqa: E731
    z = 1 - x[tuple(row + [at(T, j)])] + at(x, i)
    body = at(V, j) * (1 - at(P, i)) * Iverson(z > 0) * z
    size = x.shape[-1]
    loss = call.sum(body, (i, size), (j, size)) / size
    return _reduce(call, loss, rows, o["reduction"])
