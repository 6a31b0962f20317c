"""Distances and normalisations built on the p-norm: cdist, pdist, pairwise_distance,
cosine_similarity, normalize, renorm; and the cross product."""
from __future__ import annotations

from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules.norms import broadcast_read, norm_order, pnorm

K = sp.Symbol("k", integer=True)  # the summed coordinate


def _lead(x: Operand, idx: Sequence[sp.Expr], out_lead: Sequence[int]) -> list[sp.Expr]:
    """``x``'s leading (batch) dims read at ``idx`` under broadcasting against ``out_lead``."""
    nb = x.ndim - 2
    pos = [len(out_lead) - nb + k for k in range(nb)]
    return [sp.S.Zero if x.shape[k] == 1 and out_lead[p] != 1 else idx[p] for k, p in enumerate(pos)]


@rule("cdist", functions=[torch.cdist, torch.functional.cdist], latex=r"\operatorname{cdist}")
def cdist(call: Call, x1: Any, x2: Any, p: float = 2.0, compute_mode: Any = None) -> sp.Expr:
    """y[b…, i, j] = ‖u[b…, i, :] − v[b…, j, :]‖_p."""
    u, v = call.operand(x1, "x1", "u"), call.operand(x2, "x2", "v")
    n = len(call.out_shape)
    idx = call.out(*("abcdefg"[: n - 2] + "ij"))
    if not call.out_value.numel():  # nothing to compute (the evaluator's windows need elements)
        return sp.S.Zero
    lead = call.out_shape[:-2]
    a = u[tuple(_lead(u, idx, lead) + [idx[-2], K])]
    b = v[tuple(_lead(v, idx, lead) + [idx[-1], K])]
    return pnorm(call, a - b, [(K, u.shape[-1])], norm_order(p))


@rule("pdist", functions=[F.pdist, torch.pdist], latex=r"\operatorname{pdist}")
def pdist(call: Call, input: Any, p: float = 2.0) -> sp.Expr:
    """y[r] = ‖x[I[r], :] − x[J[r], :]‖_p over the pairs I[r] < J[r] (constant tables)."""
    x = call.operand(input, "input", "x")
    pairs = torch.triu_indices(x.shape[0], x.shape[0], 1)
    (r,) = call.out("r")
    i, j = call.operand(pairs[0], "rows", "I")[r], call.operand(pairs[1], "cols", "J")[r]
    return pnorm(call, x[i, K] - x[j, K], [(K, x.shape[1])], norm_order(p))


@rule("pairwise_distance", functions=[F.pairwise_distance, torch.pairwise_distance], latex=r"\operatorname{dist}")
def pairwise_distance(call: Call, x1: Any, x2: Any, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> sp.Expr:
    """y[n…] = ‖u[n…, :] − v[n…, :] + ε‖_p over the last dim."""
    u, v = call.operand(x1, "x1", "u"), call.operand(x2, "x2", "v")
    shape = torch.broadcast_shapes(u.shape, v.shape)
    nd = len(shape)
    if nd == 0:
        call.out()
        return pnorm(call, u[()] - v[()] + call.scalar(eps), [], norm_order(p))
    idx = list(call.out(*"abcdefg"[: len(call.out_shape)]))
    full = (idx[:-1] if keepdim else idx) + [K]
    a, b = broadcast_read([u, v], shape, full[-nd:])
    return pnorm(call, a - b + call.scalar(eps), [(K, shape[-1])], norm_order(p), zero_guard=False)  # ε: never 0


def _along(call: Call, x: Operand, dim: int) -> tuple[list[sp.Expr], list[sp.Expr], int]:
    """Output indices, and the same with ``dim`` replaced by the summed K, for a reduction along dim."""
    idx = list(call.out(*"abcdefg"[: x.ndim]))
    d = norm_dim(dim, x.ndim)
    summed = list(idx)
    summed[d] = K
    return idx, summed, d


@rule("normalize", functions=[F.normalize], latex=r"\operatorname{normalize}")
def normalize(call: Call, input: Any, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out: Any = None) -> sp.Expr:
    """y[…i…] = x[…i…] / max(‖x[…, :, …]‖_p, ε)."""
    x = call.operand(input, "input", "x")
    if x.ndim == 0:
        call.out()
        n = pnorm(call, x[()], [], norm_order(p), zero_guard=False)
        return x[()] / sp.Piecewise((call.scalar(eps), n < eps), (n, True))
    idx, summed, d = _along(call, x, dim)
    n = pnorm(call, x[tuple(summed)], [(K, x.shape[d])], norm_order(p), zero_guard=False)
    return x[tuple(idx)] / sp.Piecewise((call.scalar(eps), n < eps), (n, True))


@rule("renorm", functions=[torch.renorm], methods=["renorm"], latex=r"\operatorname{renorm}")
def renorm(call: Call, input: Any, p: float, dim: int, maxnorm: float) -> sp.Expr:
    """y[…k…] = x[…k…]·c/(N_k + 10⁻⁷) where N_k = ‖x[…, k, …]‖_p > c (the slice along dim), else x."""
    x = call.operand(input, "input", "x")
    idx = list(call.out(*"abcdefg"[: x.ndim]))
    d = norm_dim(dim, x.ndim)
    others = [sp.Symbol(f"{c}'", integer=True) for c in "abcdefg"[: x.ndim]]
    read = list(others)
    read[d] = idx[d]
    limits = [(s, n) for k, (s, n) in enumerate(zip(others, x.shape)) if k != d]
    n = pnorm(call, x[tuple(read)], limits, norm_order(p), zero_guard=False)
    c = call.scalar(maxnorm)
    return sp.Piecewise((x[tuple(idx)] * c / (n + sp.Float(1e-7)), n > c), (x[tuple(idx)], True))


@rule("cosine_similarity", functions=[F.cosine_similarity, torch.cosine_similarity], latex=r"\cos")
def cosine_similarity(call: Call, x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> sp.Expr:
    """y[…] = Σ_k u·v / √(max(‖u‖², ε²)·max(‖v‖², ε²)) along dim (broadcast)."""
    u, v = call.operand(x1, "x1", "u"), call.operand(x2, "x2", "v")
    shape = torch.broadcast_shapes(u.shape, v.shape)
    nd = len(shape)
    if nd == 0:
        call.out()
        a, b = u[()], v[()]
        limits: list[tuple[sp.Symbol, int]] = []
    else:
        d = norm_dim(dim, nd)
        idx = list(call.out(*"abcdefg"[: nd - 1]))
        full = idx[:d] + [K] + idx[d:]
        a, b = broadcast_read([u, v], shape, full)
        limits = [(K, shape[d])]
    e2 = call.scalar(eps) ** 2
    nu, nv = call.sum(a ** 2, *limits) if limits else a ** 2, call.sum(b ** 2, *limits) if limits else b ** 2
    clamp = lambda s: sp.Piecewise((e2, s < e2), (s, True))  # noqa: E731
    dot = call.sum(a * b, *limits) if limits else a * b
    return dot / sp.sqrt(clamp(nu) * clamp(nv))


@rule("cross", functions=[torch.cross, torch.linalg.cross], methods=["cross"], latex=r"\times")
def cross(call: Call, input: Any, other: Any, dim: Any = None) -> sp.Expr:
    """y[…c…] = u[…c+1…]·v[…c+2…] − u[…c+2…]·v[…c+1…] (indices mod 3) along the size-3 dim."""
    u, v = call.operand(input, "input", "u"), call.operand(other, "other", "v")
    shape = torch.broadcast_shapes(u.shape, v.shape)
    if dim is None:
        dim = -1 if "linalg" in call.target else next(k for k, n in enumerate(shape) if n == 3)
    d = norm_dim(dim, len(shape))
    idx = list(call.out(*"abcdefg"[: len(shape)]))

    def at(t: Operand, c: int) -> sp.Expr:
        pos = list(idx)
        pos[d] = (idx[d] + c) % 3
        return broadcast_read([t], shape, pos)[0]
    return at(u, 1) * at(v, 2) - at(u, 2) * at(v, 1)
