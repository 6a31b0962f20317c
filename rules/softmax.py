"""softmax and log_softmax along one dim."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

POOL = "nijlm"


STABLE_ABOVE = 60.0  # |x| beyond which e^x is computed as e^{x − m}, as torch does


def row_max(call: Call, x: Any, d: int, idx: list[sp.Expr]) -> sp.Expr:
    """``m`` = max of x along dim d, a constant of the run, or 0 when e^x cannot overflow.

    softmax(x) = softmax(x − c) for any constant c, so subtracting the run's row max
    keeps every formula (and its derivative) exact while e^{x − m} ≤ 1.
    """
    v = x.value.detach()
    if v.numel() == 0 or not bool(torch.isfinite(v).all()) or float(v.abs().max()) <= STABLE_ABOVE:
        return sp.S.Zero
    m = call.operand(v.amax(dim=d, keepdim=True), "row max", "m")
    read = list(idx)
    read[d] = sp.S.Zero
    return m[tuple(read)]


def _parts(call: Call, input: Any, dim: Any) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    x = call.operand(input, "input", "x")
    nd = x.ndim
    if nd == 0:  # a single element: softmax 1, log_softmax 0
        call.out()
        return x[()], sp.exp(x[()]), sp.S.Zero  # e^x / e^x = 1, x − log e^x = 0
    d = norm_dim(dim if dim is not None else (0 if nd in (0, 1, 3) else 1), nd)
    idx = call.out(*[POOL[k] for k in range(nd)])
    k = sp.Symbol("k", integer=True)
    other = list(idx)
    other[d] = k
    m = row_max(call, x, d, list(idx))
    norm = call.sum(sp.exp(x[tuple(other)] - m), (k, x.shape[d]))
    return x[idx], norm, m


@rule("softmax", functions=[F.softmax, torch.softmax], methods=["softmax"], modules=[nn.Softmax],
      latex=r"\operatorname{softmax}")
def softmax(call: Call, input: Any, dim: Any = None, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[n, i] = e^{x[n,i]} / Σ_k e^{x[n,k]}."""
    if call.module is not None:
        dim = call.module.dim
    xi, norm, m = _parts(call, input, kwargs.get("dim", dim))
    return sp.exp(xi - m) / norm


@rule("log_softmax", functions=[F.log_softmax, torch.log_softmax], methods=["log_softmax"],
      modules=[nn.LogSoftmax], latex=r"\operatorname{log\,softmax}")
def log_softmax(call: Call, input: Any, dim: Any = None, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[n, i] = x[n, i] − log Σ_k e^{x[n,k]}."""
    if call.module is not None:
        dim = call.module.dim
    xi, norm, m = _parts(call, input, kwargs.get("dim", dim))
    return xi - m - sp.log(norm)


@rule("safe_softmax", functions=[torch._safe_softmax], latex=r"\operatorname{softmax}")
def safe_softmax(call: Call, input: Any, dim: int, dtype: Any = None) -> sp.Expr:
    """y[n, i] = e^{x[n,i]} / Σ_k e^{x[n,k]}; torch gives 0 on a row that is −∞ throughout."""
    v = input.value
    if v.numel() and v.dim() and bool((v == float("-inf")).all(dim=norm_dim(dim, v.dim())).any()):
        raise NotImplementedError("a row that is −∞ throughout (torch's 0 there is no value of the formula)")
    xi, norm, m = _parts(call, input, dim)
    return sp.exp(xi - m) / norm
