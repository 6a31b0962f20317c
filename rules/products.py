"""Products over dims: prod and cumprod, as sympy ``Product``s.

sympy differentiates Π_j x[j] by x[a] as Π_{j<a} x[j]·Π_{j>a} x[j] (the product of the
others), which stays right where some x[j] is 0; no division by x[a] appears.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.reductions import reduction_indices
from symbolic_torch.rules.statistics import scan


@rule("prod", functions=[torch.prod], methods=["prod"], latex=r"\prod")
def prod(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = Π_{reduced} x[…]."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dim, keepdim)
    if not limits:
        return x[read]
    if any(n == 0 for _, n in limits):
        return sp.S.One
    return sp.Product(x[read], *[(s, 0, n - 1) for s, n in limits])


@rule("cumprod", functions=[torch.cumprod], methods=["cumprod"], latex=r"\operatorname{cumprod}")
def cumprod(call: Call, input: Any, dim: int, *, dtype: Any = None) -> sp.Expr:
    """y[…k…] = Π_j (1 + [j ≤ k]·(x[…j…] − 1)): x[j] up to k, 1 after (numeric limits, as the delta
    pass needs, and an Iverson factor rather than a Piecewise inside the product)."""
    x, xj, j, upto, n, k = scan(call, input, dim)
    return sp.Product(1 + upto * (xj - 1), (j, 0, n - 1)) if n else xj
