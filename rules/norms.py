"""Vector and matrix norms: ‖x‖_p = (Σ |x|^p)^{1/p}, max |x|, induced 1/∞ norms, and dist.

At a zero vector torch's gradient is 0 (a subgradient); the formulas say so with a
``Piecewise`` on the sum, so that 0/0 never reaches the chain rule.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import Iverson, WindowMax
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules.reductions import reduction_indices

Limits = Sequence[tuple[sp.Symbol, int]]


def _window(body: sp.Expr, limits: Limits, sign: int) -> sp.Expr:
    return sign * WindowMax(sign * body, *[sp.Tuple(s, 0, n - 1) for s, n in limits]) if limits else body


def pnorm(call: Call, body: sp.Expr, limits: Limits, p: Any, zero_guard: bool = True) -> sp.Expr:
    """‖body‖_p over ``limits``: (Σ |b|^p)^{1/p}; p = ±∞ a max/min of |b|, p = 0 a count.

    ``zero_guard``: 0 (and a 0 gradient) where the norm is 0; off where the caller clamps it.
    """
    a = sp.Abs(body)
    if p in (math.inf, -math.inf):
        return _window(a, limits, 1 if p > 0 else -1)
    if p == 0:
        return call.sum(Iverson(sp.Ne(body, 0)), *limits) if limits else Iverson(sp.Ne(body, 0))
    if p == 1:
        return call.sum(a, *limits) if limits else a
    q = call.scalar(p)
    total = call.sum(body ** 2 if p == 2 else a ** q, *limits) if limits else (body ** 2 if p == 2 else a ** q)
    root = sp.sqrt(total) if p == 2 else total ** (1 / q)
    if not zero_guard:
        return root
    return sp.Piecewise((0, sp.Eq(root, 0)), (root, True))  # ‖x‖ = 0: torch's gradient is 0


def norm_order(p: Any, default: Any = 2) -> Any:
    """The order p of a norm as torch gives it (None, "fro", a number): 2 by default, an int where whole."""
    if p is None or p == "fro":
        return default
    if isinstance(p, str):
        raise NotImplementedError(f"the {p!r} norm")
    return float(p) if not float(p).is_integer() or math.isinf(float(p)) else int(p)


def vector(call: Call, input: Any, p: Any, dim: Any, keepdim: bool) -> sp.Expr:
    """‖x‖_p over ``dim`` (all dims when None)."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dim, keepdim)
    return pnorm(call, x[read], limits, norm_order(p))


def matrix(call: Call, input: Any, ord: Any, dims: Sequence[int], keepdim: bool) -> sp.Expr:
    """Induced norms: ‖x‖_∞ = max_r Σ_c |x[r, c]|, ‖x‖_1 = max_c Σ_r |x[r, c]| (−: min)."""
    if ord in (None, "fro"):
        return vector(call, input, 2, dims, keepdim)
    if ord not in (1, -1, math.inf, -math.inf):
        raise NotImplementedError(f"the matrix norm ord={ord!r} (needs singular values)")
    x = call.operand(input, "input", "x")
    r, c = (norm_dim(d, x.ndim) for d in dims)
    read, limits = reduction_indices(call, x, [r, c], keepdim)
    by_dim = dict(zip(sorted({r, c}), limits))
    outer, inner = (by_dim[r], by_dim[c]) if ord in (math.inf, -math.inf) else (by_dim[c], by_dim[r])
    return _window(call.sum(sp.Abs(x[read]), inner), [outer], 1 if ord > 0 else -1)


@rule("vector_norm", functions=[torch.linalg.vector_norm], methods=["linalg_vector_norm"],  # the ATen name
      latex=r"\|\cdot\|")
def vector_norm(call: Call, input: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> sp.Expr:
    """y[kept] = (Σ_r |x[…r…]|^p)^{1/p}."""
    return vector(call, input, ord, dim, keepdim)


@rule("norm", functions=[torch.norm, torch.functional.norm], methods=["norm"], latex=r"\|\cdot\|")
def norm(call: Call, input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False, *,
         dtype: Any = None, out: Any = None) -> sp.Expr:
    """y[kept] = (Σ_r |x[…r…]|^p)^{1/p} (p = "fro": 2)."""
    return vector(call, input, p, dim, keepdim)


@rule("linalg_norm", functions=[torch.linalg.norm], latex=r"\|\cdot\|")
def linalg_norm(call: Call, input: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> sp.Expr:
    """A vector norm (1 dim, or every dim when ord is None) or an induced matrix norm (2 dims)."""
    nd = input.ndim
    dims = [dim] if isinstance(dim, int) else (list(dim) if dim is not None else None)
    if ord is None and dims is None:
        return vector(call, input, 2, None, keepdim)
    dims = dims if dims is not None else list(range(nd))
    if len(dims) == 2:
        return matrix(call, input, ord, dims, keepdim)
    return vector(call, input, 2 if ord is None else ord, dims, keepdim)


@rule("matrix_norm", functions=[torch.linalg.matrix_norm], latex=r"\|\cdot\|")
def matrix_norm(call: Call, input: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None) -> sp.Expr:
    """An induced matrix norm over the last two dims (Frobenius by default)."""
    return matrix(call, input, ord, list(dim), keepdim)


def broadcast_read(ops: Sequence[Operand], shape: Sequence[int], idx: Sequence[sp.Symbol]) -> list[sp.Expr]:
    """Each operand read at ``idx`` of the broadcast ``shape`` (size-1 dims read 0)."""
    out = []
    for o in ops:
        lead = len(shape) - o.ndim
        pos = [sp.S.Zero if n == 1 and shape[lead + k] != 1 else idx[lead + k] for k, n in enumerate(o.shape)]
        out.append(o[tuple(pos)])
    return out


@rule("dist", functions=[torch.dist], methods=["dist"], latex=r"\operatorname{dist}")
def dist(call: Call, input: Any, other: Any, p: Any = 2) -> sp.Expr:
    """y = ‖u − v‖_p over every element of the broadcast difference."""
    u, v = call.operand(input, "input", "u"), call.operand(other, "other", "v")
    shape = torch.broadcast_shapes(u.shape, v.shape)
    idx = [sp.Symbol(c, integer=True) for c in "ijklmn"[: len(shape)]]
    a, b = broadcast_read([u, v], shape, idx)
    return pnorm(call, a - b, list(zip(idx, shape)), norm_order(p))
