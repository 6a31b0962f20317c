"""Reductions over dims: sum and mean (with keepdim)."""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch

from symbolic_torch.call import Call
from symbolic_torch.registry import rule

from ._vocab import dim as norm_dim

POOL = "ijklmuvw"


def reduce_formula(call: Call, input: Any, dims: Any, keepdim: bool, mean: bool) -> sp.Expr:
    """y[kept] = Σ_{reduced} x[…]  (divided by the count for a mean)."""
    x = call.operand(input, "input", "x")
    nd = x.ndim
    if dims is None or (isinstance(dims, (tuple, list)) and len(dims) == 0):
        dims = list(range(nd))
    dims = sorted({norm_dim(d, nd) for d in (dims if isinstance(dims, (tuple, list)) else [dims])})
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
    body = x[tuple(read)] if nd else x[()]
    total = call.sum(body, *[(sums[d], x.shape[d]) for d in dims]) if dims else body  # 0-d: nothing to sum
    if mean:
        return total / math.prod(x.shape[d] for d in dims)
    return total


@rule("sum", functions=[torch.sum], methods=["sum"], latex=r"\sum")
def sum_rule(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = Σ_{reduced} x[…]."""
    return reduce_formula(call, input, dim, keepdim, mean=False)


@rule("mean", functions=[torch.mean], methods=["mean"], latex=r"\operatorname{mean}")
def mean_rule(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = (1/N) Σ_{reduced} x[…]."""
    return reduce_formula(call, input, dim, keepdim, mean=True)
