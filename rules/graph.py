"""Graph networks: message passing by index (gather with index_select, scatter with index_add / scatter_add).

An integer index tensor ``I`` is a constant operand; reading or writing through it is written with
Iverson brackets, ``y[i, f] = x[i, f] + Σ_e [I[e] = i]·s[e, f]``, so that sympy's derivatives stay in
closed form (the gradient of a scatter is a gather and vice versa). The dense GCN layer
``D^{-1/2}(A + I)D^{-1/2} X W`` needs no rule of its own: it is sum, pow, mul and matmul.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

POOL = "ifkluv"


def _out(call: Call, d: int, name: str = "i") -> tuple[sp.Symbol, ...]:
    """Output indices: ``name`` along the indexed dim ``d``, others from the pool."""
    pool = iter(c for c in POOL if c != name)
    return call.out(*[name if k == d else next(pool) for k in range(len(call.out_shape))])


@rule("index_add", functions=[torch.index_add], methods=["index_add", "index_add_"], latex=r"\operatorname{index\_add}")
def index_add(call: Call, input: Any, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> sp.Expr:
    """y[…, i, …] = x[…, i, …] + α·Σ_e [I[e] = i]·s[…, e, …]."""
    x = call.operand(input, "input", "x")
    idx_t = call.operand(index, "index", "I")
    s = call.operand(source, "source", "s")
    d = norm_dim(dim, max(x.ndim, 1))
    out = _out(call, d)
    if not out:  # 0-d input: index and source are 0-d or one element
        e = sp.Symbol("e", integer=True)
        return x[()] + call.scalar(alpha) * call.sum(Iverson(sp.Eq(idx_t[e], 0)) * s[(e,) if s.ndim else ()],
                                                     (e, max(idx_t.value.numel(), 1)))
    e = sp.Symbol("e", integer=True)
    read = list(out)
    read[d] = e
    body = Iverson(sp.Eq(idx_t[(e,)] if idx_t.ndim else idx_t[()], out[d])) * s[tuple(read)]
    return x[out] + call.scalar(alpha) * call.sum(body, (e, s.shape[d] if s.ndim else 1))


@rule("scatter_add", functions=[torch.scatter_add], methods=["scatter_add", "scatter_add_"],
      latex=r"\operatorname{scatter\_add}")
def scatter_add(call: Call, input: Any, dim: int, index: Any, src: Any) -> sp.Expr:
    """y[…, i, …] = x[…, i, …] + Σ_e [I[…, e, …] = i]·s[…, e, …] (positions inside I's shape)."""
    x = call.operand(input, "input", "x")
    idx_t = call.operand(index, "index", "I")
    s = call.operand(src, "src", "s")
    if x.ndim == 0:
        raise NotImplementedError("scatter_add into a 0-d tensor")
    d = norm_dim(dim, x.ndim)
    out = _out(call, d)
    e = sp.Symbol("e", integer=True)
    read = list(out)
    read[d] = e
    inside = sp.Mul(*[Iverson(sp.Lt(out[k], n)) for k, n in enumerate(idx_t.shape) if k != d and n < x.shape[k]])
    body = inside * Iverson(sp.Eq(idx_t[tuple(read)], out[d])) * s[tuple(read)]
    return x[out] + call.sum(body, (e, idx_t.shape[d]))


@rule("index_select", functions=[torch.index_select], methods=["index_select"], latex=r"\operatorname{index\_select}")
def index_select(call: Call, input: Any, dim: int, index: Any) -> sp.Expr:
    """y[…, e, …] = Σ_n [I[e] = n]·x[…, n, …]  (= x[…, I[e], …])."""
    x = call.operand(input, "input", "x")
    idx_t = call.operand(index, "index", "I")
    if x.ndim == 0:
        raise NotImplementedError("index_select on a 0-d tensor")
    d = norm_dim(dim, x.ndim)
    out = _out(call, d, name="e")
    n = sp.Symbol("n", integer=True)
    read = list(out)
    read[d] = n
    which = idx_t[(out[d],)] if idx_t.ndim else idx_t[()]
    return call.sum(Iverson(sp.Eq(which, n)) * x[tuple(read)], (n, x.shape[d]))
