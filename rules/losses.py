"""Losses: MSE, cross entropy (class indices or probabilities), NLL, BCE with logits."""
from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.normalization import spatial_names
from symbolic_torch.rules.softmax import row_max

POOL = "nijklm"


def reduce_loss(call: Call, body: sp.Expr, limits: list[tuple[sp.Symbol, int]], reduction: str,
            weight_sum: sp.Expr | None = None) -> sp.Expr:
    """The per-element loss ``body`` reduced over ``limits``: "none", "sum", or "mean" (by ``weight_sum`` when given)."""
    if reduction == "none" or not limits:  # a 0-d loss is its own sum and mean
        return body
    total = call.sum(body, *limits)
    if reduction == "sum":
        return total
    if weight_sum is not None:
        return total / weight_sum
    return total / math.prod(n for _, n in limits)


def broadcast_at(op: Operand, idx: Sequence[sp.Symbol], shape: Sequence[int]) -> sp.Expr:
    """``op`` read at ``idx`` of the broadcast ``shape`` (its size-1 dims read at 0)."""
    lead = len(shape) - op.ndim
    return op[tuple(sp.S.Zero if n == 1 and shape[lead + k] != 1 else idx[lead + k]
                    for k, n in enumerate(op.shape))]


def _elementwise_setup(call: Call, input: Any, target: Any, reduction: str) -> tuple[sp.Expr, sp.Expr, list]:
    """x and t read at the indices of their broadcast shape, and those indices' limits."""
    x = call.operand(input, "input", "x")
    t = call.operand(target, "target", "t")
    shape = tuple(torch.broadcast_shapes(x.shape, t.shape))
    if reduction == "none":
        idx = call.out(*POOL[: len(shape)])
    else:
        call.out()
        idx = tuple(sp.Symbol(POOL[k], integer=True) for k in range(len(shape)))
    return broadcast_at(x, idx, shape), broadcast_at(t, idx, shape), list(zip(idx, shape))


REDUCTIONS = ("none", "mean", "sum")  # ATen's int codes


def options(call: Call, args: tuple, given: dict[str, Any], positional: Sequence[str],
            aten: Sequence[str]) -> dict[str, Any]:
    """The loss's options, whichever form called the rule: a module (its attributes), an ATen
    overload from torch.export (its own positional order, an int reduction) or the function."""
    if call.module is not None:
        return {k: getattr(call.module, k, v) for k, v in given.items()}
    order = aten if call.target.startswith("torch.ops.aten.") else positional
    got = {**given, **dict(zip(order, args))}
    if got.pop("size_average", None) is not None or got.pop("reduce", None) is not None:
        raise NotImplementedError("size_average= / reduce= (deprecated; use reduction=)")
    if isinstance(got["reduction"], int):
        got["reduction"] = REDUCTIONS[got["reduction"]]
    return got


@rule("mse_loss", functions=[F.mse_loss], modules=[nn.MSELoss], latex=r"\operatorname{MSE}")
def mse(call: Call, input: Any, target: Any, *args: Any, reduction: str = "mean", weight: Any = None,
        **kwargs: Any) -> sp.Expr:
    """L = (1/N) Σ_i (x[i] − t[i])²."""
    o = options(call, args, {"reduction": reduction, "weight": weight},
                ["size_average", "reduce", "reduction", "weight"], ["reduction"])
    if o["weight"] is not None:
        raise NotImplementedError("mse_loss with weight=")
    xi, ti, lim = _elementwise_setup(call, input, target, o["reduction"])
    return reduce_loss(call, (xi - ti) ** 2, lim, o["reduction"])


@rule("bce_with_logits", functions=[F.binary_cross_entropy_with_logits], modules=[nn.BCEWithLogitsLoss],
      latex=r"\operatorname{BCEWithLogits}")
def bce_with_logits(call: Call, input: Any, target: Any, weight: Any = None, *args: Any,
                    reduction: str = "mean", pos_weight: Any = None, **kwargs: Any) -> sp.Expr:
    """L = (1/N) Σ_i w·[(1 − t)·x + (1 + (p − 1)·t)·log(1 + e^{−x})]."""
    o = options(call, args, {"weight": weight, "reduction": reduction, "pos_weight": pos_weight},
                ["size_average", "reduce", "reduction", "pos_weight"], ["pos_weight", "reduction"])
    xi, ti, lim = _elementwise_setup(call, input, target, o["reduction"])
    idx, shape = [l[0] for l in lim], [l[1] for l in lim]
    softplus = sp.log(1 + sp.exp(-xi))
    log_weight = 1
    if o["pos_weight"] is not None:
        log_weight = 1 + (broadcast_at(call.operand(o["pos_weight"], "pos_weight", "p"), idx, shape) - 1) * ti
    body = (1 - ti) * xi + log_weight * softplus
    if o["weight"] is not None:
        body = broadcast_at(call.operand(o["weight"], "weight", "w"), idx, shape) * body
    return reduce_loss(call, body, lim, o["reduction"])


def _class_loss(call: Call, input: Any, target: Any, weight: Any, reduction: str, ignore_index: int,
                log_probs: bool, smoothing: float = 0.0) -> sp.Expr:
    """Cross entropy / NLL over input (C,), (N, C) or (N, C, d1, …), per position p = (n, d1, …).

    log p[p, c] = x[p, c] (NLL) or x[p, c] − log Σ_k e^{x[p, k]}. Class indices:
    ℓ[p] = −[t[p] ≠ ι]·((1 − ε)·w[t[p]]·log p[p, t[p]] + (ε/C)·Σ_c w[c]·log p[p, c]), the mean
    dividing by Σ_p [t[p] ≠ ι]·w[t[p]] (torch's ``nll_loss`` and label-smoothing normalizer).
    Probabilities: ℓ[p] = −Σ_c w[c]·((1 − ε)·t[p, c] + ε/C)·log p[p, c], the mean over positions.
    The ignore factor [t[p] ≠ ι] is written only when some target hits ι.
    """
    x = call.operand(input, "input", "x")
    t = call.operand(target, "target", "t")
    cdim = 1 if x.ndim >= 2 else 0
    C = x.shape[cdim]
    shape = x.shape[:cdim] + x.shape[cdim + 1:]  # the positions: (N, d1, …)
    names = (["n"] + spatial_names(len(shape) - 1))[: len(shape)]
    if reduction == "none":
        pos = call.out(*names)
    else:
        call.out()
        pos = tuple(sp.Symbol(v, integer=True) for v in names)
    limits = list(zip(pos, shape))
    k, c = sp.Symbol("k", integer=True), sp.Symbol("c", integer=True)

    def at(cls: sp.Expr) -> sp.Expr:
        return x[(*pos[:cdim], cls, *pos[cdim:])]

    m = 0 if log_probs else row_max(call, x, cdim, [*pos[:cdim], k, *pos[cdim:]])
    lse = 0 if log_probs else m + sp.log(call.sum(sp.exp(at(k) - m), (k, C)))
    w = call.operand(weight, "weight", "w") if weight is not None else None
    wc = w[(c,)] if w is not None else 1
    eps = sp.Rational(repr(float(smoothing)))  # 0.1 shown as 1/10: (1 − ε) = 9/10, ε/C = 1/40
    if t.value.is_floating_point():
        tc = t[(*pos[:cdim], c, *pos[cdim:])]
        if smoothing:
            tc = (1 - eps) * tc + eps / C
        return reduce_loss(call, -call.sum(wc * tc * (at(c) - lse), (c, C)), limits, reduction)
    ti = t[pos]
    wt = w[(ti,)] if w is not None else 1
    hit = bool((t.value == ignore_index).any())
    valid = Iverson(sp.Ne(ti, ignore_index)) if hit else 1
    body = wt * (at(ti) - lse)
    if smoothing:
        body = (1 - eps) * body + eps / C * call.sum(wc * (at(c) - lse), (c, C))
    body = -valid * body
    if reduction != "mean" or (w is None and not hit):
        return reduce_loss(call, body, limits, reduction)
    if bool((t.value == ignore_index).all()):
        raise NotImplementedError(f"every target equals ignore_index={ignore_index} with reduction='mean' "
                                  "(torch returns nan, 0/0, with a zero gradient)")
    if not limits:  # one position: divided by its own weight
        return body / wt
    return reduce_loss(call, body, limits, reduction, call.sum(valid * wt, *limits))


@rule("cross_entropy", functions=[F.cross_entropy, torch._C._nn.cross_entropy_loss], modules=[nn.CrossEntropyLoss],
      latex=r"\operatorname{CE}")
def cross_entropy(call: Call, input: Any, target: Any, weight: Any = None, *args: Any,
                  ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0,
                  **kwargs: Any) -> sp.Expr:
    """L = (1/N) Σ_n (log Σ_k e^{x[n,k]} − x[n, t[n]]); spatial dims, weights, ignore_index, label smoothing."""
    o = options(call, args, {"weight": weight, "ignore_index": ignore_index, "reduction": reduction,
                             "label_smoothing": label_smoothing},
                ["size_average", "ignore_index", "reduce", "reduction", "label_smoothing"],
                ["reduction", "ignore_index", "label_smoothing"])
    return _class_loss(call, input, target, o["weight"], o["reduction"], o["ignore_index"], log_probs=False,
                       smoothing=o["label_smoothing"])


@rule("nll_loss", functions=[F.nll_loss, torch._C._nn.nll_loss_nd], modules=[nn.NLLLoss], latex=r"\operatorname{NLL}")
def nll_loss(call: Call, input: Any, target: Any, weight: Any = None, *args: Any,
             ignore_index: int = -100, reduction: str = "mean", **kwargs: Any) -> sp.Expr:
    """L = −(1/N) Σ_n x[n, t[n]]; spatial dims (N, C, d1, …), weights, ignore_index."""
    o = options(call, args, {"weight": weight, "ignore_index": ignore_index, "reduction": reduction},
                ["size_average", "ignore_index", "reduce", "reduction"], ["reduction", "ignore_index"])
    return _class_loss(call, input, target, o["weight"], o["reduction"], o["ignore_index"], log_probs=True)
