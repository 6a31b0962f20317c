"""Pooling: window max (a primitive with its own derivative), averages."""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.call import Call
from symbolic_torch.primitives import WindowMax
from symbolic_torch.registry import rule

from .convolution import KERNEL, OUT, tup


def _setup(call: Call, input: Any, nsp: int) -> tuple[Any, list[sp.Symbol], list[sp.Symbol]]:
    x = call.operand(input, "input", "x")
    lead = x.ndim - nsp
    idx = call.out(*(list("nc")[2 - lead:] + list(OUT[:nsp])))
    ks = [sp.Symbol(KERNEL[k], integer=True) for k in range(nsp)]
    return x, list(idx), ks


def max_pool_formula(call: Call, input: Any, nsp: int, kernel_size: Any, stride: Any = None,
                     padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                     return_indices: bool = False) -> sp.Expr:
    """y[n,c,i,j] = max_{p,q} x[n, c, s·i + d·p − pad, s·j + d·q − pad]."""
    if return_indices:
        raise NotImplementedError("return_indices=True")
    k = tup(kernel_size, nsp)
    s = tup(stride if stride not in (None, []) else kernel_size, nsp)
    pad, dil = tup(padding, nsp), tup(dilation, nsp)
    x, idx, ks = _setup(call, input, nsp)
    lead = idx[: len(idx) - nsp]
    pos = [si * i + di * p - pi for i, p, si, di, pi in zip(idx[len(lead):], ks, s, dil, pad)]
    body = x[tuple(lead + pos)]
    if any(pad) or ceil_mode:  # windows reach past the edge: those cells are −∞
        size = x.shape[len(lead):]
        inside = sp.And(*[c for q, n in zip(pos, size) for c in (q >= 0, q <= n - 1)])
        body = sp.Piecewise((body, inside), (-sp.oo, True))
    return WindowMax(body, *[sp.Tuple(p, 0, kk - 1) for p, kk in zip(ks, k)])


def avg_pool_formula(call: Call, input: Any, nsp: int, kernel_size: Any, stride: Any = None,
                     padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                     divisor_override: Any = None) -> sp.Expr:
    """y[n,c,i,j] = (1/K) Σ_p Σ_q x[n, c, s·i + p − pad, s·j + q − pad]."""
    k = tup(kernel_size, nsp)
    s = tup(stride if stride not in (None, []) else kernel_size, nsp)
    pad = tup(padding, nsp)
    x, idx, ks = _setup(call, input, nsp)
    lead = idx[: len(idx) - nsp]
    pos = [si * i + p - pi for i, p, si, pi in zip(idx[len(lead):], ks, s, pad)]
    total = call.sum(x[tuple(lead + pos)], *[(p, kk) for p, kk in zip(ks, k)])
    if divisor_override:
        return total / divisor_override
    if (any(pad) and not count_include_pad) or ceil_mode:
        size = x.shape[len(lead):]
        ends = [(q >= -pi, q <= n - 1 + pi) if count_include_pad else (q >= 0, q <= n - 1)
                for q, n, pi in zip(pos, size, pad)]
        count = call.sum(sp.Piecewise((1, sp.And(*[c for e in ends for c in e])), (0, True)),
                         *[(p, kk) for p, kk in zip(ks, k)])
        return total / count
    return total / math.prod(k)


def adaptive_avg_formula(call: Call, input: Any, nsp: int) -> sp.Expr:
    """y[n,c,i,j] = mean of x over rows ⌊iH/H'⌋ … ⌈(i+1)H/H'⌉−1 (and likewise columns)."""
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
    body = sp.Piecewise((x[tuple(lead + hs)], sp.And(*conds)), (0, True))
    return call.sum(body, *[(h, a) for h, a in zip(hs, size_in)]) / count


@rule("max_pool", modules=[nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d], latex=r"\operatorname{MaxPool}")
def max_pool_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = max_{p,q} x[n, c, s·i + d·p − pad, s·j + d·q − pad]."""
    m = call.module
    nsp = {nn.MaxPool1d: 1, nn.MaxPool2d: 2, nn.MaxPool3d: 3}[type(m)]
    return max_pool_formula(call, input, nsp, m.kernel_size, m.stride, m.padding, m.dilation,
                            m.ceil_mode, m.return_indices)


@rule("max_pool_fn", functions=[F.max_pool1d, F.max_pool2d, F.max_pool3d], latex=r"\operatorname{maxpool}")
def max_pool_function(call: Call, input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                      dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> sp.Expr:
    """y[n,c,i,j] = max_{p,q} x[n, c, s·i + d·p − pad, s·j + d·q − pad]."""
    nsp = len(call.out_shape) - 2 if len(call.out_shape) > 2 else 1
    nsp = len(tup(kernel_size, nsp)) if isinstance(kernel_size, (tuple, list)) else nsp
    return max_pool_formula(call, input, nsp, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@rule("avg_pool", modules=[nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d], latex=r"\operatorname{AvgPool}")
def avg_pool_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = (1/K) Σ_p Σ_q x[n, c, s·i + p − pad, s·j + q − pad]."""
    m = call.module
    nsp = {nn.AvgPool1d: 1, nn.AvgPool2d: 2, nn.AvgPool3d: 3}[type(m)]
    return avg_pool_formula(call, input, nsp, m.kernel_size, m.stride, m.padding, m.ceil_mode,
                            m.count_include_pad, getattr(m, "divisor_override", None))


@rule("avg_pool_fn", functions=[F.avg_pool1d, F.avg_pool2d, F.avg_pool3d], latex=r"\operatorname{avgpool}")
def avg_pool_function(call: Call, input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
                      ceil_mode: bool = False, count_include_pad: bool = True,
                      divisor_override: Any = None) -> sp.Expr:
    """y[n,c,i,j] = (1/K) Σ_p Σ_q x[n, c, s·i + p − pad, s·j + q − pad]."""
    nsp = len(kernel_size) if isinstance(kernel_size, (tuple, list)) else max(1, len(call.out_shape) - 2)
    return avg_pool_formula(call, input, nsp, kernel_size, stride, padding, ceil_mode,
                            count_include_pad, divisor_override)


@rule("adaptive_avg_pool", modules=[nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d],
      latex=r"\operatorname{AdaptiveAvgPool}")
def adaptive_avg_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = mean of x[n,c,h,w] over the window ⌊iH/H'⌋ ≤ h < ⌈(i+1)H/H'⌉, …"""
    nsp = {nn.AdaptiveAvgPool1d: 1, nn.AdaptiveAvgPool2d: 2, nn.AdaptiveAvgPool3d: 3}[type(call.module)]
    return adaptive_avg_formula(call, input, nsp)


@rule("adaptive_avg_pool_fn", functions=[F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d],
      latex=r"\operatorname{adaptiveavgpool}")
def adaptive_avg_function(call: Call, input: Any, output_size: Any) -> sp.Expr:
    """y[n,c,i,j] = mean of x[n,c,h,w] over the window ⌊iH/H'⌋ ≤ h < ⌈(i+1)H/H'⌉, …"""
    nsp = len(output_size) if isinstance(output_size, (tuple, list)) else 1
    return adaptive_avg_formula(call, input, nsp)
