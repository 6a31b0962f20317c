"""Pooling: window max (a primitive with its own derivative), averages, power averages (lp_pool)."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.ir.primitives import Iverson, WindowMax
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.convolution import KERNEL, OUT, tup


def _setup(call: Call, input: Any, nsp: int) -> tuple[Any, list[sp.Symbol], list[sp.Symbol]]:
    x = call.operand(input, "input", "x")
    lead = x.ndim - nsp
    idx = call.out(*(list("nc")[2 - lead:] + list(OUT[:nsp])))
    ks = [sp.Symbol(KERNEL[k], integer=True) for k in range(nsp)]
    return x, list(idx), ks


def _no_stride(stride: Any) -> bool:
    """torch's pooling default: stride None or an empty sequence means the kernel size."""
    return stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0)


def max_pool_formula(call: Call, input: Any, nsp: int, kernel_size: Any, stride: Any = None,
                     padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                     return_indices: bool = False, *, _map: Callable[[sp.Expr], sp.Expr] = lambda v: v) -> sp.Expr:
    """y[n,c,i,j] = max_{p,q} x[n, c, s·i + d·p − pad, s·j + d·q − pad].

    With ``return_indices`` the op returns (values, indices): this is the values item; the
    indices (integers) are a constant of the derivation, never a step.
    """
    if call.item not in (0, None):
        raise NotImplementedError("the indices item of max pooling")
    k = tup(kernel_size, nsp)
    s = tup(kernel_size if _no_stride(stride) else stride, nsp)
    pad, dil = tup(padding, nsp), tup(dilation, nsp)
    x, idx, ks = _setup(call, input, nsp)
    lead = idx[: len(idx) - nsp]
    pos = [si * i + di * p - pi for i, p, si, di, pi in zip(idx[len(lead):], ks, s, dil, pad)]
    body = _map(x[tuple(lead + pos)])  # _map: what lp_pool(p = ∞) pools, |x|
    limits = [sp.Tuple(p, 0, kk - 1) for p, kk in zip(ks, k)]
    if any(pad) or ceil_mode:  # windows reach past the edge: those cells are −∞
        size = x.shape[len(lead):]
        inside = sp.And(*[c for q, n in zip(pos, size) for c in (q >= 0, q <= n - 1)])
        return WindowMax(body, *limits, inside)
    return WindowMax(body, *limits)


def avg_pool_formula(call: Call, input: Any, nsp: int, kernel_size: Any, stride: Any = None,
                     padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                     divisor_override: Any = None, *, _map: Callable[[sp.Expr], sp.Expr] = lambda v: v) -> sp.Expr:
    """y[n,c,i,j] = (1/K) Σ_p Σ_q x[n, c, s·i + p − pad, s·j + q − pad]."""
    k = tup(kernel_size, nsp)
    s = tup(kernel_size if _no_stride(stride) else stride, nsp)
    pad = tup(padding, nsp)
    x, idx, ks = _setup(call, input, nsp)
    lead = idx[: len(idx) - nsp]
    pos = [si * i + p - pi for i, p, si, pi in zip(idx[len(lead):], ks, s, pad)]
    total = call.sum(_map(x[tuple(lead + pos)]), *[(p, kk) for p, kk in zip(ks, k)])  # lp_pool: x^p
    if divisor_override:
        return total / divisor_override
    if (any(pad) and not count_include_pad) or ceil_mode:
        size = x.shape[len(lead):]
        starts = [si * i - pi for i, si, pi in zip(idx[len(lead):], s, pad)]
        return total / math.prod(_window_count(a, kk, n, pi, count_include_pad)
                                 for a, kk, n, pi in zip(starts, k, size, pad))
    return total / math.prod(k)


def _window_count(start: sp.Expr, k: int, n: int, pad: int, include_pad: bool) -> sp.Expr:
    """Cells a window counts: min(a + K, H + pad) − a with padding, min(a + K, H) − max(a, 0) without."""
    if include_pad:
        return sp.Min(start + k, n + pad) - start
    return sp.Min(start + k, n) - sp.Max(start, 0)


def adaptive_avg_formula(call: Call, input: Any, nsp: int, output_size: Any = None) -> sp.Expr:
    """y[n,c,i,j] = mean of x over rows ⌊iH/H'⌋ … ⌈(i+1)H/H'⌉−1 (and likewise columns).

    ``output_size`` is read from the output's shape (where None entries are already resolved).
    """
    x, idx, ks = _setup(call, input, nsp)
    lead = idx[: len(idx) - nsp]
    size_in = x.shape[len(lead):]
    size_out = call.out_shape[len(lead):]
    if all(a % b == 0 for a, b in zip(size_in, size_out)):
        k = [a // b for a, b in zip(size_in, size_out)]
        pos = [kk * i + p for i, p, kk in zip(idx[len(lead):], ks, k)]
        return call.sum(x[tuple(lead + pos)], *[(p, kk) for p, kk in zip(ks, k)]) / math.prod(k)
    hs = [sp.Symbol(h, integer=True) for h in "hwv"[:nsp]]
    conds, count = [], sp.S.One
    for i, h, a, b in zip(idx[len(lead):], hs, size_in, size_out):
        start, end = sp.floor(i * a / b), sp.ceiling((i + 1) * a / b)
        conds += [h >= start, h <= end - 1]
        count *= end - start
    body = Iverson(sp.And(*conds)) * x[tuple(lead + hs)]
    return call.sum(body, *[(h, a) for h, a in zip(hs, size_in)]) / count


def adaptive_max_formula(call: Call, input: Any, nsp: int, output_size: Any = None,
                         return_indices: bool = False) -> sp.Expr:
    """y[n,c,i,j] = max of x[n,c,h,w] over ⌊iH/H'⌋ ≤ h < ⌈(i+1)H/H'⌉, ⌊jW/W'⌋ ≤ w < ⌈(j+1)W/W'⌉.

    Written as a window max over offsets p < K (K the longest window) from the window's start,
    guarded by ``start + p < end`` where windows differ in length. With ``return_indices`` this
    is the values item; the indices are a constant. The output size is read off the output.
    """
    if call.item not in (0, None):
        raise NotImplementedError("the indices item of adaptive max pooling")
    x, idx, ks = _setup(call, input, nsp)
    lead = idx[: len(idx) - nsp]
    size_in = x.shape[len(lead):]
    size_out = call.out_shape[len(lead):]
    pos, limits, guard = [], [], []
    for i, p, a, b in zip(idx[len(lead):], ks, size_in, size_out):
        if a % b == 0:
            pos.append(a // b * i + p)
            limits.append(sp.Tuple(p, 0, a // b - 1))
            continue
        start, end = sp.floor(i * a / b), sp.ceiling((i + 1) * a / b)
        longest = max(-(-(t + 1) * a // b) - t * a // b for t in range(b))
        pos.append(start + p)
        limits.append(sp.Tuple(p, 0, longest - 1))
        guard.append(start + p <= end - 1)
    body = x[tuple(lead + pos)]
    return WindowMax(body, *limits, sp.And(*guard)) if guard else WindowMax(body, *limits)


@rule("max_pool", modules=[nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d], latex=r"\operatorname{MaxPool}",
      multi_output=True)
def max_pool_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = max_{p,q} x[n, c, s·i + d·p − pad, s·j + d·q − pad]."""
    m = call.module
    nsp = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(m)]
    return max_pool_formula(call, input, nsp, m.kernel_size, m.stride, m.padding, m.dilation,
                            m.ceil_mode, m.return_indices)


@rule("avg_pool", modules=[nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d], latex=r"\operatorname{AvgPool}")
def avg_pool_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = (1/K) Σ_p Σ_q x[n, c, s·i + p − pad, s·j + q − pad]."""
    m = call.module
    nsp = {nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}[type(m)]
    return avg_pool_formula(call, input, nsp, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                            m.count_include_pad, getattr(m, "divisor_override", None))


@rule("adaptive_avg_pool", modules=[nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d],
      latex=r"\operatorname{AdaptiveAvgPool}")
def adaptive_avg_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = mean of x[n,c,h,w] over the window ⌊iH/H'⌋ ≤ h < ⌈(i+1)H/H'⌉, …"""
    nsp = {nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3}[type(call.module)]
    return adaptive_avg_formula(call, input, nsp)


@rule("adaptive_max_pool", modules=[nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d],
      latex=r"\operatorname{AdaptiveMaxPool}", multi_output=True)
def adaptive_max_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = max of x[n,c,h,w] over the window ⌊iH/H'⌋ ≤ h < ⌈(i+1)H/H'⌉, …"""
    nsp = {nn.AdaptiveMaxPool1d: 1, nn.AdaptiveMaxPool2d: 2, nn.AdaptiveMaxPool3d: 3}[type(call.module)]
    return adaptive_max_formula(call, input, nsp)


def per_dim(name: str, functions: Sequence[Any], latex: str, build: Callable[..., sp.Expr],
            multi_output: bool = False) -> None:
    """Register ``{name}{N}d_fn`` for torch's N-d functions: N, not the input's rank, fixes the
    spatial dims (``max_pool2d`` on a (C, H, W) input and ``max_pool1d`` on (N, C, L) look alike)."""
    for nsp, f in enumerate(functions, start=1):  # f: one target or several (with_indices forms)
        def impl(call: Call, input: Any, *args: Any, _nsp: int = nsp, **kwargs: Any) -> sp.Expr:
            return build(call, input, _nsp, *args, **kwargs)
        impl.__doc__ = build.__doc__
        targets = f if isinstance(f, (tuple, list)) else [f]
        rule(f"{name}{nsp}d_fn", functions=targets, latex=latex, multi_output=multi_output)(impl)


# y[n,c,i,j] = max_{p,q} x[…]; (1/K) Σ_{p,q} x[…]; mean over ⌊iH/H'⌋ ≤ h < ⌈(i+1)H/H'⌉
# the *_with_indices forms (what return_indices=True calls; aten.max_pool2d_with_indices) return
# (values, indices): the values item has the formula, the indices are constants
per_dim("max_pool", [(F.max_pool1d, F.max_pool1d_with_indices, torch.max_pool1d_with_indices),
                     (F.max_pool2d, F.max_pool2d_with_indices), (F.max_pool3d, F.max_pool3d_with_indices)],
        r"\operatorname{maxpool}", max_pool_formula, multi_output=True)
per_dim("avg_pool", [F.avg_pool1d, F.avg_pool2d, F.avg_pool3d], r"\operatorname{avgpool}", avg_pool_formula)
per_dim("adaptive_avg_pool", [F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d],
        r"\operatorname{adaptiveavgpool}", adaptive_avg_formula)
per_dim("adaptive_max_pool", [(F.adaptive_max_pool1d, F.adaptive_max_pool1d_with_indices, torch.adaptive_max_pool1d),
                              (F.adaptive_max_pool2d, F.adaptive_max_pool2d_with_indices),
                              (F.adaptive_max_pool3d, F.adaptive_max_pool3d_with_indices)],
        r"\operatorname{adaptivemaxpool}", adaptive_max_formula, multi_output=True)


# lp_pool: torch computes (sign(a)·relu(|a|)·K)^{1/p}, a the average of x^p over the window (K its
# kernel size): the p-th root of the window's Σ x^p (partial windows under ceil_mode: K times the
# mean over the cells inside). Edges, as torch: a window whose Σ x^p is 0 gives 0 and gradient 0
# (relu's backward stops it; a Piecewise on the sum, so that 0·∞ never reaches the chain rule); a
# negative sum (odd p) passes sign·relu unchanged: p = 1 gives it, other p give NaN as pow does;
# p = ±∞ is torch's max (−min) pool of |x|.
def lp_pool_formula(call: Call, input: Any, nsp: int, norm_type: Any, kernel_size: Any,
                    stride: Any = None, ceil_mode: bool = False) -> sp.Expr:
    """y[n,c,i,j] = (Σ_{p,q} x[n, c, s·i + p, s·j + q]^P)^{1/P}; 0 (gradient 0) where the sum is 0."""
    P = float(norm_type)
    if math.isinf(P):  # torch: max_pool(|x|), or −max_pool(−|x|)
        sign = 1 if P > 0 else -1
        return sign * max_pool_formula(call, input, nsp, kernel_size, stride, 0, 1, ceil_mode,
                                       _map=lambda v: sign * sp.Abs(v))
    if P == 0:
        raise NotImplementedError("lp_pool with norm_type 0 (torch computes 1^∞)")
    q = call.scalar(int(P) if P.is_integer() else P)
    k = math.prod(tup(kernel_size, nsp))
    mean = avg_pool_formula(call, input, nsp, kernel_size, stride, 0, ceil_mode, _map=lambda v: v ** q)
    total = k * mean  # Σ x^P (partial windows: K · their mean, as torch)
    root = total if q == 1 else total ** (1 / q)
    return sp.Piecewise((0, sp.Eq(total, 0)), (root, True))  # torch's relu stops the gradient at 0


@rule("lp_pool", modules=[nn.LPPool1d, nn.LPPool2d, nn.LPPool3d], latex=r"\operatorname{LPPool}")
def lp_pool_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = (Σ_{p,q} x[n, c, s·i + p, s·j + q]^P)^{1/P}."""
    m = call.module
    nsp = {nn.LPPool1d: 1, nn.LPPool2d: 2, nn.LPPool3d: 3}[type(m)]
    return lp_pool_formula(call, input, nsp, m.norm_type, m.kernel_size, m.stride, m.ceil_mode)


per_dim("lp_pool", [F.lp_pool1d, F.lp_pool2d, F.lp_pool3d], r"\operatorname{lppool}", lp_pool_formula)
