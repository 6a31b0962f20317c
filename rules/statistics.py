"""Reductions beyond sum and mean: extrema, log-sum-exp, variance, NaN-skipping sums, scans.

Every entry reads its input through ``reduction_indices`` (rules/reductions.py): the
kept dims are the output's indices, the reduced ones run over ``Σ`` (or a window max).
"""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import WindowMax
from symbolic_torch.frontend.registry import rule

from symbolic_torch.ir.functions import ExpShift
from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules._vocab import is_tensor
from symbolic_torch.rules.arithmetic import operands
from symbolic_torch.rules.reductions import POOL, reduction_indices
from symbolic_torch.rules.selection import by_indices


def extremum(x: Operand, read: tuple[Any, ...], limits: list[tuple[sp.Symbol, int]], sign: int) -> sp.Expr:
    """max (sign 1) or min (sign −1) of ``x[read]`` over ``limits``: a window max."""
    body = sign * x[read]
    if not limits:
        return x[read]
    return sign * WindowMax(body, *[sp.Tuple(s, 0, n - 1) for s, n in limits])


def _amax(sign: int) -> Any:
    def impl(call: Call, input: Any, dim: Any = (), keepdim: bool = False, **kwargs: Any) -> sp.Expr:
        x = call.operand(input, "input", "x")
        read, limits = reduction_indices(call, x, kwargs.get("dim", dim), kwargs.get("keepdim", keepdim))
        return extremum(x, read, limits, sign) if call.out_value.numel() else sp.S.Zero
    impl.__doc__ = f"y[kept] = {'max' if sign > 0 else 'min'}_{{reduced}} x[…] (the first extremum takes the gradient)."
    return impl


rule("amax", functions=[torch.amax], methods=["amax"], latex=r"\max")(_amax(1))
rule("amin", functions=[torch.amin], methods=["amin"], latex=r"\min")(_amax(-1))


def _max(sign: int) -> Any:
    def impl(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
        other = args[0] if args else kwargs.get("other")
        if is_tensor(other):  # the binary form: elementwise max(u, v)
            u, v = operands(call, (input, "input", "u"), (other, "other", "v"))
            return sp.Max(u, v) if sign > 0 else sp.Min(u, v)
        x = call.operand(input, "input", "x")
        if args or "dim" in kwargs:  # (values, indices) along a dim: x read at the run's indices
            if call.item not in (0, None):
                raise NotImplementedError("the indices of max/min")
            with torch.no_grad():
                chosen = (torch.max if sign > 0 else torch.min)(x.value, *args, **kwargs).indices
            return by_indices(call, x, chosen, kwargs.get("dim", args[0] if args else 0))
        read, limits = reduction_indices(call, x, None, False)
        return extremum(x, read, limits, sign)
    impl.__doc__ = "y = max_i x[i] over every element; max(u, v) elementwise; along a dim, x[…, I[…], …]."
    return impl


rule("max", functions=[torch.max], methods=["max"], latex=r"\max", multi_output=True)(_max(1))
rule("min", functions=[torch.min], methods=["min"], latex=r"\min", multi_output=True)(_max(-1))


@rule("aminmax", functions=[torch.aminmax], methods=["aminmax"], latex=r"\min,\max", multi_output=True)
def aminmax(call: Call, input: Any, *, dim: Any = None, keepdim: bool = False) -> sp.Expr:
    """(y_0, y_1)[kept] = (min, max)_{reduced} x[…]."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dim, keepdim)
    return extremum(x, read, limits, -1 if call.item == 0 else 1) if call.out_value.numel() else sp.S.Zero


def shift(call: Call, m: torch.Tensor) -> sp.Expr:
    """The run's maxima as a constant ``M`` read at the output's indices (non-finite ones as 0).

    ``log Σ e^{x}`` = M + log Σ e^{x − M} for any constant M; the run's max keeps e^{x − M} ≤ 1.
    """
    m = torch.where(torch.isfinite(m), m, torch.zeros((), dtype=m.dtype)).detach()
    return call.operand(m, "shift", "M")[call.out_indices]


@rule("logsumexp", functions=[torch.logsumexp, torch.special.logsumexp], methods=["logsumexp"],
      latex=r"\operatorname{logsumexp}")
def logsumexp(call: Call, input: Any, dim: Any = (), keepdim: bool = False) -> sp.Expr:
    """y[kept] = M + log Σ_{reduced} e^{x[…] − M}, M the run's max (a constant)."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dim, keepdim)
    if not limits:
        return x[read]
    m = shift(call, torch.amax(x.value, dim=[norm_dim(d, x.ndim) for d in _dims(dim, x.ndim)], keepdim=keepdim))
    return m + sp.log(call.sum(ExpShift(x[read], m), *limits))


def _dims(dim: Any, nd: int) -> list[int]:
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return list(range(nd))
    return list(dim) if isinstance(dim, (tuple, list)) else [dim]


def variance(call: Call, input: Any, args: tuple[Any, ...], kwargs: dict[str, Any], mean_only: bool = False) -> sp.Expr:
    """Σ (x − x̄)² / (N − c) over the reduced dims (torch's var signatures parsed here)."""
    args = list(args)
    unbiased = kwargs.get("unbiased")
    if args and isinstance(args[0], bool):  # var(x, unbiased)
        unbiased = args.pop(0)
    dims = args.pop(0) if args else kwargs.get("dim")
    if args:  # var(x, dim, unbiased[, keepdim])
        unbiased = args.pop(0)
    keepdim = args.pop(0) if args else kwargs.get("keepdim", False)
    c = kwargs.get("correction")
    c = (1 if unbiased is None or unbiased else 0) if c is None else c
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dims, keepdim)
    n = math.prod(size for _, size in limits)
    fresh = {s: sp.Symbol(f"{s}'", integer=True) for s, _ in limits}
    if mean_only:
        return call.sum(x[read], *limits) / n if limits else x[read]
    mean = call.sum(x[read].xreplace(fresh), *[(fresh[s], size) for s, size in limits]) / n
    return call.sum((x[read] - mean) ** 2, *limits) / (n - call.scalar(c))


@rule("var", functions=[torch.var], methods=["var"], latex=r"\operatorname{Var}")
def var(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[kept] = Σ_r (x[…r…] − x̄)² / (N − c), x̄ = Σ_r x[…r…] / N (c: correction, 1 by default)."""
    return variance(call, input, args, kwargs)


@rule("var_mean", functions=[torch.var_mean], latex=r"\operatorname{Var},\operatorname{mean}", multi_output=True)
def var_mean(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """(y_0, y_1) = (the variance, the mean) over the reduced dims."""
    if call.item == 0:
        return variance(call, input, args, kwargs)
    return variance(call, input, args, kwargs, mean_only=True)


@rule("std_mean", functions=[torch.std_mean], latex=r"\operatorname{std},\operatorname{mean}", multi_output=True)
def std_mean(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """(y_0, y_1) = (the standard deviation, the mean) over the reduced dims."""
    if call.item == 0:
        return sp.sqrt(variance(call, input, args, kwargs))
    return variance(call, input, args, kwargs, mean_only=True)


@rule("std", functions=[torch.std], methods=["std"], latex=r"\operatorname{std}")
def std(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[kept] = √(Σ_r (x[…r…] − x̄)² / (N − c))."""
    return sp.sqrt(variance(call, input, args, kwargs))


def _nan_free(call: Call, x: Operand, read: tuple[Any, ...]) -> tuple[sp.Expr, sp.Expr | None]:
    """``(x[read] with NaN cells read as 0, [cell is NaN])``; the NaN mask is a constant operand."""
    nan = torch.isnan(x.value)
    if not bool(nan.any()):
        return x[read], None
    from symbolic_torch.ir.primitives import Iverson
    m = call.operand(nan, "nan_mask", "m")[read]
    return Iverson(sp.Eq(m, 0)) * x[read], m


@rule("nansum", functions=[torch.nansum], methods=["nansum"], latex=r"\sum")
def nansum(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = Σ_r x[…r…] over the cells that are not NaN."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dim, keepdim)
    body, _ = _nan_free(call, x, read)
    return call.sum(body, *limits) if limits else body


@rule("nanmean", functions=[torch.nanmean], methods=["nanmean"], latex=r"\operatorname{mean}")
def nanmean(call: Call, input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> sp.Expr:
    """y[kept] = Σ_r x[…r…] / #{r : x[…r…] not NaN}, over the cells that are not NaN."""
    x = call.operand(input, "input", "x")
    read, limits = reduction_indices(call, x, dim, keepdim)
    body, nan = _nan_free(call, x, read)
    if not limits:
        return body
    count = call.sum(1 - nan, *limits) if nan is not None else math.prod(size for _, size in limits)
    return call.sum(body, *limits) / count


def scan(call: Call, input: Any, dim: int) -> tuple[Operand, sp.Expr, sp.Symbol, sp.Expr, int, sp.Expr]:
    """``(x, x read at j along dim, j, [j ≤ k], size, k)`` for a cumulative op along ``dim``."""
    from symbolic_torch.ir.primitives import Iverson
    x = call.operand(input, "input", "x")
    idx = call.out(*[POOL[k] for k in range(x.ndim)])
    if x.ndim == 0:
        return x, x[()], sp.S.Zero, sp.S.One, 0, sp.S.Zero
    d = norm_dim(dim, x.ndim)
    j = sp.Symbol("j'", integer=True)
    read = list(idx)
    read[d] = j
    xj = x[tuple(read)] if x.shape[d] else sp.S.Zero  # an empty dim: an empty output
    return x, xj, j, Iverson(j <= idx[d]), x.shape[d], idx[d]


@rule("cumsum", functions=[torch.cumsum], methods=["cumsum"], latex=r"\operatorname{cumsum}")
def cumsum(call: Call, input: Any, dim: int, *, dtype: Any = None) -> sp.Expr:
    """y[…k…] = Σ_j [j ≤ k]·x[…j…]."""
    x, xj, j, upto, n, _ = scan(call, input, dim)
    return call.sum(upto * xj, (j, n)) if n else xj


@rule("logcumsumexp", functions=[torch.logcumsumexp], methods=["logcumsumexp"], latex=r"\operatorname{logcumsumexp}")
def logcumsumexp(call: Call, input: Any, dim: int) -> sp.Expr:
    """y[…k…] = M + log Σ_j [j ≤ k]·e^{x[…j…] − M}, M the run's running max (a constant)."""
    x, xj, j, upto, n, _ = scan(call, input, dim)
    if not n:
        return xj
    m = shift(call, torch.cummax(x.value, norm_dim(dim, x.ndim)).values)
    return m + sp.log(call.sum(upto * ExpShift(xj, m), (j, n)))


@rule("softmin", functions=[F.softmin], latex=r"\operatorname{softmin}")
def softmin(call: Call, input: Any, dim: Any = None, _stacklevel: int = 3, dtype: Any = None) -> sp.Expr:
    """y[…i…] = e^{−x[…i…]} / Σ_k e^{−x[…k…]}."""
    x, xk, k, _, n, _ = scan(call, input, dim if dim is not None else 0)
    if not n:
        return sp.S.One
    return sp.exp(-x[call.out_indices]) / call.sum(sp.exp(-xk), (k, n))


@rule("trace", functions=[torch.trace], methods=["trace"], latex=r"\operatorname{tr}")
def trace(call: Call, input: Any) -> sp.Expr:
    """y = Σ_i x[i, i] over i < min(rows, cols)."""
    x = call.operand(input, "input", "x")
    i = sp.Symbol("i", integer=True)
    return call.sum(x[i, i], (i, min(x.shape)))


@rule("sum_to_size", methods=["sum_to_size"], latex=r"\sum")
def sum_to_size(call: Call, input: Any, *size: Any) -> sp.Expr:
    """y[kept] = Σ x[…] over the leading dims and the dims the target size has as 1."""
    x = call.operand(input, "input", "x")
    target = call.out_shape
    lead = x.ndim - len(target)
    dims = [d for d in range(x.ndim) if d < lead or (target[d - lead] == 1 and x.shape[d] != 1)]
    idx = call.out(*[POOL[k] for k in range(len(target))])
    sums = {d: sp.Symbol(f"r{d}", integer=True) for d in dims}
    read = [sums[d] if d in sums else idx[d - lead] for d in range(x.ndim)]
    body = x[tuple(read)] if read else x[()]
    return call.sum(body, *[(sums[d], x.shape[d]) for d in dims]) if dims else body
