"""Convolutions (cross-correlations, as torch computes them)."""
from __future__ import annotations

from typing import Any, Sequence

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

OUT = "ijl"     # spatial output indices
KERNEL = "pqr"  # kernel offsets


def tup(v: Any, n: int) -> tuple[int, ...]:
    """An int or a sequence as ``n`` ints: torch repeats a one-element sequence over every dim."""
    if isinstance(v, (tuple, list)):
        return tuple(int(a) for a in v) * (n if len(v) == 1 else 1)
    return (int(v),) * n


def same_padding(kernel: Sequence[int], dilation: Sequence[int]) -> tuple[int, ...]:
    """Left padding of padding='same' (torch puts the odd extra pad on the right)."""
    return tuple(d * (k - 1) // 2 for k, d in zip(kernel, dilation))


def conv_formula(call: Call, x: Any, w: Any, b: Any, stride: Any, padding: Any,
                 dilation: Any, groups: int) -> sp.Expr:
    """y[n,o,i,j] = b[o] + Σ_c Σ_p Σ_q w[o,c,p,q]·x[n, g(o)·C_g + c, s·i + d·p − pad, …]."""
    nsp = w.ndim - 2
    kernel = w.shape[2:]
    stride, dilation = tup(stride, nsp), tup(dilation, nsp)
    if isinstance(padding, str):
        padding = (0,) * nsp if padding == "valid" else same_padding(kernel, dilation)
    padding = tup(padding, nsp)
    batched = x.ndim == nsp + 2
    idx = call.out(*((["n"] if batched else []) + ["o"] + list(OUT[:nsp])))
    o, spatial = idx[int(batched)], idx[int(batched) + 1:]
    c = sp.Symbol("c", integer=True)
    ks = [sp.Symbol(KERNEL[k], integer=True) for k in range(nsp)]
    cin_g, cout_g = w.shape[1], w.shape[0] // groups
    channel = c if groups == 1 else sp.floor(o / cout_g) * cin_g + c
    pos = [s * i + d * p - pad for i, p, s, d, pad in zip(spatial, ks, stride, dilation, padding)]
    read = x[tuple(([idx[0]] if batched else []) + [channel] + pos)]
    body = call.sum(w[(o, c, *ks)] * read, (c, cin_g), *[(p, k) for p, k in zip(ks, kernel)])
    return body + (b[o] if b is not None else 0)


def module_operands(call: Call, input: Any) -> tuple[Operand, Operand, Operand | None]:
    """x and a (transposed) convolution module's w and b; only zero padding has a rule yet."""
    mode = call.module.padding_mode
    if mode != "zeros":
        raise NotImplementedError(f"padding_mode={mode!r} (only 'zeros' has a rule yet)")
    return call.operand(input, "input", "x"), call.param("weight", "w"), call.param("bias", "b")


def function_operands(call: Call, input: Any, weight: Any, bias: Any) -> tuple[Operand, Operand, Operand | None]:
    """x, w and b (None when absent) of a functional (transposed) convolution."""
    x, w = call.operand(input, "input", "x"), call.operand(weight, "weight", "w")
    return x, w, call.operand(bias, "bias", "b") if bias is not None else None


@rule("conv", modules=[nn.Conv1d, nn.Conv2d, nn.Conv3d], latex=r"\operatorname{Conv}")
def conv_module(call: Call, input: Any) -> sp.Expr:
    """y[n,o,i,j] = b[o] + Σ_c Σ_p Σ_q w[o,c,p,q]·x[n,c,s·i+d·p−pad,…]."""
    m = call.module
    x, w, b = module_operands(call, input)
    return conv_formula(call, x, w, b, m.stride, m.padding, m.dilation, m.groups)


@rule("conv_fn", functions=[F.conv1d, F.conv2d, F.conv3d], latex=r"\operatorname{conv}")
def conv_function(call: Call, input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> sp.Expr:
    """y[n,o,i,j] = b[o] + Σ_c Σ_p Σ_q w[o,c,p,q]·x[n,c,s·i+d·p−pad,…]."""
    x, w, b = function_operands(call, input, weight, bias)
    return conv_formula(call, x, w, b, stride, padding, dilation, groups)
