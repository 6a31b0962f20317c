"""Reducing scatters: scatter_reduce and index_reduce (sum, prod, mean, amax, amin; include_self).

Each output element y[p] combines x[p] (where the self value takes part: include_self, or no
source lands on p) with the source elements q whose index sends them to p along dim:
``[I[…q…] = p_d]`` (index_reduce: ``[I[q] = p_d]``), the index a constant of the run.
sum and mean add the members (mean divides by their count N, a constant); prod multiplies
(1 + [member]·(v − 1)); amax/amin are read as the run's maximising members, each weighted 1/N
over the ties, which is how torch's backward shares the gradient among equal extrema.
"""
from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

REDUCES = ("sum", "prod", "mean", "amax", "amin")


def _at(op: Operand, idx: tuple[sp.Expr, ...], d: int, q: sp.Expr) -> sp.Expr:
    """``op`` read at the output's indices with ``q`` along dim ``d`` (a 0-d operand: its one element)."""
    if op.ndim == 0:
        return op[()]
    return op[idx[:d] + (q,) + idx[d + 1:]]


def reduce_formula(call: Call, input: Any, src: Any, index: torch.Tensor, d: int, nq: int, reduce: str,
                   include_self: bool,
                   member: Callable[[Operand, tuple[sp.Expr, ...], sp.Symbol], sp.Expr],
                   scatter_add: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   gather: Callable[[torch.Tensor], torch.Tensor], src_part: torch.Tensor) -> sp.Expr:
    """y[p] = S[p]·x[p] ⊕ (⊕ over members q of src[…q…]), S[p] = [include_self or nothing lands on p].

    ``scatter_add(base, values)`` adds values (src-shaped) into base (x-shaped) as the op routes them,
    ``gather(t)`` reads an x-shaped t at each source element's target; ``src_part`` is the part of src
    the index reaches.
    """
    if reduce not in REDUCES:
        raise NotImplementedError(f"reduce={reduce!r}")
    x = call.operand(input, "input", "x")
    s = call.operand(src, "src", "s")
    I = call.operand(index, "index", "I")
    idx = call.default_out()
    q = sp.Symbol("q", integer=True)
    xv, sv = x.value.detach().to(torch.float64), src_part.detach().to(torch.float64)
    landed = scatter_add(torch.zeros_like(xv), torch.ones_like(sv)) > 0
    self_part = torch.ones_like(xv, dtype=torch.bool) if include_self else ~landed
    xi, sq, m = (x[idx] if idx else x[()]), _at(s, idx, d, q), member(I, idx, q)

    def table(t: torch.Tensor, key: str, symbol: str) -> sp.Expr:
        op = call.operand(t.to(torch.float64), key, symbol)
        return op[idx] if idx else op[()]
    if reduce in ("amax", "amin"):  # the run's extrema, the gradient shared evenly over ties (as torch's backward)
        out = call.out_value.detach().to(torch.float64)
        self_is = (xv == out).to(torch.float64)  # torch's backward counts x as a tie even where excluded
        src_is = (sv == gather(out)).to(torch.float64)
        ties = scatter_add(self_is, src_is).clamp(min=1)
        self_w = self_is * self_part / ties
        src_w = src_is / gather(ties)
        ws = call.operand(src_w, "src_weight", "w")
        rhs = table(self_w, "self_weight", "W") * xi + call.sum(m * _at(ws, idx, d, q) * sq, (q, nq))
        short = out - (self_w * xv + scatter_add(torch.zeros_like(xv), src_w * sv))
        if bool((short != 0).any()):  # include_self=False and x equal to the winner: torch's weights sum below 1
            call.notes.append("torch's backward shares the gradient with an excluded self value that ties the "
                              "extremum, so the sources' weights sum below 1; K restores the forward value and "
                              "gets no gradient, as in torch")
            rhs += table(short, "tie_correction", "K")
        return rhs
    keep = table(self_part, "self_kept", "S") if not include_self else sp.S.One
    if reduce == "prod":
        factor = sp.Product(1 + m * (sq - 1), (q, 0, nq - 1)) if nq else sp.S.One
        return (1 + keep * (xi - 1)) * factor
    total = keep * xi + call.sum(m * sq, (q, nq))
    if reduce == "mean":  # N: the members and the kept self value (1 where only x is left)
        return total / table(scatter_add(self_part.to(torch.float64), torch.ones_like(sv)), "count", "N")
    return total


@rule("scatter_reduce", functions=[torch.scatter_reduce], methods=["scatter_reduce"],
      latex=r"\operatorname{scatter\_reduce}")
def scatter_reduce(call: Call, input: Any, dim: int, index: Any, src: Any, reduce: str, *,
                   include_self: bool = True) -> sp.Expr:
    """y[…p…] = S·x[…p…] ⊕ Σ_q [I[…q…] = p_d]·s[…q…] along dim (⊕: sum, prod, mean, amax, amin)."""
    index = getattr(index, "value", index)
    ndim = input.ndim
    d = norm_dim(dim, ndim) if ndim else 0
    part = src.value[tuple(slice(0, n) for n in index.shape)] if index.ndim else src.value

    def member(I: Operand, idx: tuple[sp.Expr, ...], q: sp.Symbol) -> sp.Expr:
        if not idx:
            return Iverson(sp.Eq(I[()], 0)) if index.ndim == 0 else Iverson(sp.Eq(I[0], 0))
        inside = [idx[k] <= n - 1 for k, n in enumerate(index.shape) if k != d and n < call.out_shape[k]]
        return Iverson(sp.And(sp.Eq(_at(I, idx, d, q), idx[d]), *inside))
    nq = index.shape[d] if index.ndim else 1
    return reduce_formula(call, input, src, index, d, nq, reduce, include_self, member,
                          lambda base, v: base.scatter_add(d, index, v), lambda t: t.gather(d, index), part)


@rule("index_reduce", functions=[torch.index_reduce], methods=["index_reduce"], latex=r"\operatorname{index\_reduce}")
def index_reduce(call: Call, input: Any, dim: int, index: Any, source: Any, reduce: str, *,
                 include_self: bool = True) -> sp.Expr:
    """y[…p…] = S·x[…p…] ⊕ Σ_q [I[q] = p_d]·s[…q…] along dim (⊕: prod, mean, amax, amin)."""
    index = getattr(index, "value", index).reshape(-1)
    ndim = input.ndim
    d = norm_dim(dim, ndim) if ndim else 0

    def member(I: Operand, idx: tuple[sp.Expr, ...], q: sp.Symbol) -> sp.Expr:
        return Iverson(sp.Eq(I[q], idx[d] if idx else 0))

    def add(base: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return base.index_add(d, index, v) if base.ndim else base + v.sum()
    return reduce_formula(call, input, source, index, d, len(index), reduce, include_self, member, add,
                          lambda t: t.index_select(d, index) if t.ndim else t, source.value)
