"""Losses: MSE, cross entropy (class indices or probabilities), NLL, BCE with logits."""
from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.call import Call, Operand
from symbolic_torch.registry import rule

POOL = "nijklm"


def _reduce(call: Call, body: sp.Expr, limits: list[tuple[sp.Symbol, int]], reduction: str,
            weight_sum: sp.Expr | None = None) -> sp.Expr:
    if reduction == "none" or not limits:  # a 0-d loss is its own sum and mean
        return body
    total = call.sum(body, *limits)
    if reduction == "sum":
        return total
    if weight_sum is not None:
        return total / weight_sum
    return total / math.prod(n for _, n in limits)


def _at(op: Operand, idx: Sequence[sp.Symbol], shape: Sequence[int]) -> sp.Expr:
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
    return _at(x, idx, shape), _at(t, idx, shape), list(zip(idx, shape))


@rule("mse_loss", functions=[F.mse_loss], modules=[nn.MSELoss], latex=r"\operatorname{MSE}")
def mse(call: Call, input: Any, target: Any, *args: Any, reduction: str = "mean", **kwargs: Any) -> sp.Expr:
    """L = (1/N) Σ_i (x[i] − t[i])²."""
    reduction = call.module.reduction if call.module is not None else reduction
    xi, ti, lim = _elementwise_setup(call, input, target, reduction)
    return _reduce(call, (xi - ti) ** 2, lim, reduction)


@rule("bce_with_logits", functions=[F.binary_cross_entropy_with_logits], modules=[nn.BCEWithLogitsLoss],
      latex=r"\operatorname{BCEWithLogits}")
def bce_with_logits(call: Call, input: Any, target: Any, weight: Any = None, *args: Any,
                    reduction: str = "mean", pos_weight: Any = None, **kwargs: Any) -> sp.Expr:
    """L = (1/N) Σ_i w·[(1 − t)·x + (1 + (p − 1)·t)·log(1 + e^{−x})]."""
    m = call.module
    if m is not None:
        reduction, weight, pos_weight = m.reduction, m.weight, m.pos_weight
    xi, ti, lim = _elementwise_setup(call, input, target, reduction)
    idx, shape = [l[0] for l in lim], [l[1] for l in lim]
    softplus = sp.log(1 + sp.exp(-xi))
    log_weight = 1
    if pos_weight is not None:
        log_weight = 1 + (_at(call.operand(pos_weight, "pos_weight", "p"), idx, shape) - 1) * ti
    body = (1 - ti) * xi + log_weight * softplus
    if weight is not None:
        body = _at(call.operand(weight, "weight", "w"), idx, shape) * body
    return _reduce(call, body, lim, reduction)


def _class_loss(call: Call, input: Any, target: Any, weight: Any, reduction: str, ignore_index: int,
                log_probs: bool) -> sp.Expr:
    x = call.operand(input, "input", "x")
    if x.ndim > 2:
        raise NotImplementedError("class losses over extra spatial dims (N, C, d1, …)")
    t = call.operand(target, "target", "t")
    batched = x.ndim == 2
    n, k = sp.Symbol("n", integer=True), sp.Symbol("k", integer=True)
    row = (n,) if batched else ()
    nb = x.shape[0] if batched else 1
    C = x.shape[-1]
    if t.value.is_floating_point():  # class probabilities: −Σ_c w[c]·t[n,c]·log p[n,c], mean over n
        c = sp.Symbol("c", integer=True)
        wc = call.operand(weight, "weight", "w")[(c,)] if weight is not None else 1
        logp = x[(*row, c)] - (0 if log_probs else sp.log(call.sum(sp.exp(x[(*row, k)]), (k, C))))
        body = -call.sum(wc * t[(*row, c)] * logp, (c, C))
        call.out() if reduction != "none" else call.out(*("n" if batched else ""))
        return _reduce(call, body, [(n, nb)] if batched else [], reduction) if batched or reduction == "none" else body
    if bool((t.value == ignore_index).any()):
        raise NotImplementedError(f"targets equal to ignore_index={ignore_index}")
    ti = t[row] if batched else t[()]
    logp = x[(*row, ti)] - (0 if log_probs else sp.log(call.sum(sp.exp(x[(*row, k)]), (k, C))))
    w = call.operand(weight, "weight", "w") if weight is not None else None
    wt = w[(ti,)] if w is not None else 1
    if reduction == "none":
        call.out(*(["n"] if batched else []))
        return -wt * logp
    call.out()
    if not batched:
        return -wt * logp if reduction == "sum" or w is None else -logp
    wsum = call.sum(wt, (n, nb)) if w is not None else None
    return _reduce(call, -wt * logp, [(n, nb)], reduction, wsum)


@rule("cross_entropy", functions=[F.cross_entropy], modules=[nn.CrossEntropyLoss], latex=r"\operatorname{CE}")
def cross_entropy(call: Call, input: Any, target: Any, weight: Any = None, *args: Any,
                  ignore_index: int = -100, reduction: str = "mean", label_smoothing: float = 0.0,
                  **kwargs: Any) -> sp.Expr:
    """L = (1/N) Σ_n (log Σ_k e^{x[n,k]} − x[n, t[n]])."""
    m = call.module
    if m is not None:
        weight, ignore_index, reduction, label_smoothing = m.weight, m.ignore_index, m.reduction, m.label_smoothing
    if label_smoothing:
        raise NotImplementedError("label_smoothing > 0")
    return _class_loss(call, input, target, weight, reduction, ignore_index, log_probs=False)


@rule("nll_loss", functions=[F.nll_loss], modules=[nn.NLLLoss], latex=r"\operatorname{NLL}")
def nll_loss(call: Call, input: Any, target: Any, weight: Any = None, *args: Any,
             ignore_index: int = -100, reduction: str = "mean", **kwargs: Any) -> sp.Expr:
    """L = −(1/N) Σ_n x[n, t[n]]."""
    m = call.module
    if m is not None:
        weight, ignore_index, reduction = m.weight, m.ignore_index, m.reduction
    return _class_loss(call, input, target, weight, reduction, ignore_index, log_probs=True)
