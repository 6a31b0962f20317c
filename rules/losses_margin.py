"""Margin and embedding losses over rows: cosine embedding, multi-label soft margin, multi-class
and multi-label margins, triplets.

Each is ℓ[n] per row n of an (N, C) input (one value for a (C,) input), then reduced
("none", "mean", "sum").
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule
from symbolic_torch.ir.primitives import Iverson

from symbolic_torch.rules.losses import broadcast_at, options, reduce_loss
from symbolic_torch.rules.losses_pointwise import RED, hinge
from symbolic_torch.rules.norms import norm_order, pnorm


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
        sp.Piecewise((hinge(cos - call.scalar(margin)), sp.Eq(ti, -1)), (0, True))
    return reduce_loss(call, loss, rows, reduction)


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
    xi, ti = broadcast_at(x, full, shape), broadcast_at(t, full, shape)
    logsig = lambda z: -sp.log(1 + sp.exp(-z))  # noqa: E731
    body = -(ti * logsig(xi) + (1 - ti) * logsig(-xi)) * (broadcast_at(w, full, shape) if w is not None else 1)
    size = shape[-1] if shape else 1
    loss = (call.sum(body, (c, size)) if x.ndim else body) / size
    return reduce_loss(call, loss, rows, reduction)


@rule("multi_margin_loss", functions=[F.multi_margin_loss], latex=r"\operatorname{MultiMargin}")
def multi_margin_loss(call: Call, input: Any, target: Any, p: int = 1, margin: float = 1.0, weight: Any = None,
                      size_average: Any = None, reduce: Any = None, reduction: str = "mean") -> sp.Expr:
    """ℓ[n] = (1/C) Σ_{i ≠ y} w[y]·max(0, margin − x[n, y] + x[n, i])^p, y = t[n] (a constant)."""
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
    return reduce_loss(call, loss, rows, reduction)


def _distance(call: Call, a: Any, b: Any, row: list[sp.Symbol], p: float, eps: float) -> sp.Expr:
    k = sp.Symbol("k", integer=True)
    # no zero guard: with ε added the distance is 0 only where a − b = −ε exactly
    return pnorm(call, a[tuple(row + [k])] - b[tuple(row + [k])] + call.scalar(eps), [(k, a.shape[-1])], norm_order(p),
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
    return reduce_loss(call, hinge(call.scalar(margin) + d_pos - d_neg), rows, reduction)


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
    return reduce_loss(call, loss, rows, o["reduction"])
