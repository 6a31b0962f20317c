"""Reductions over dims: sum and mean (with keepdim)."""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

POOL = "ijklmuvw"


def reduction_indices(call: Call, x: Operand, dims: Any, keepdim: bool) -> tuple[tuple[Any, ...], list[tuple[sp.Symbol, int]]]:
    """``(read, limits)``: ``x`` read at ``x[read]`` sums over ``limits`` into the output's indices.

    ``dims`` None or empty reduces every dim; a 0-d input has nothing to reduce.
    """
    nd = x.ndim
    if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
        dims = list(range(nd))
    dims = sorted({norm_dim(d, nd) for d in (dims if isinstance(dims, (tuple, list)) else [dims])}) if nd else []
    in_names = [POOL[k] for k in range(nd)]
    sums = {d: sp.Symbol(in_names[d], integer=True) for d in dims}
    out_names = [("a" + in_names[d]) if d in sums else in_names[d] for d in range(nd) if keepdim or d not in sums]
    idx = iter(call.out(*out_names))
    read = []
    for d in range(nd):
        if d in sums:
            if keepdim:
                next(idx)
            read.append(sums[d])
        else:
            read.append(next(idx))
    return tuple(read), [(sums[d], x.shape[d]) for d in dims]


def reduce_formula(call: Call, input: Any, dims: Any, keepdim: bool, mean: bool) -> sp.Expr:
    """y[kept] = Σ_{reduced} x[…]  (divided by the count for a mean)."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dims, keepdim)
    body = x[read]
    total = call.sum(body, *limits) if limits else body  # 0-d: nothing to sum
    if mean:
        return total / math.prod(n for _, n in limits)
    return total


@rule("sum", functions=[torch.sum], methods=["sum"], latex=r"\sum")
def sum_rule(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = Σ_{reduced} x[…]."""
    return reduce_formula(call, input, dim, keepdim, mean=False)


@rule("mean", functions=[torch.mean], methods=["mean"], latex=r"\operatorname{mean}")
def mean_rule(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = (1/N) Σ_{reduced} x[…]."""
    return reduce_formula(call, input, dim, keepdim, mean=True)
