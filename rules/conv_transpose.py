"""Transposed convolutions: each input element scatters a copy of the kernel, stride s apart.

Read from the output's side: y[n,o,i] = b[o] + Σ_c Σ_p [s | i + pad − d·p]·x[n,c,(i + pad − d·p)/s]·w[c,o,p].
torch's weight layout is (in, out/groups, k…); output_padding only adds rows at the end.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.convolution import KERNEL, OUT, function_operands, module_operands, tup


def conv_transpose_formula(call: Call, x: Operand, w: Operand, b: Operand | None, stride: Any, padding: Any,
                           dilation: Any, groups: int) -> sp.Expr:
    """y[n,o,i] = b[o] + Σ_c Σ_p [s | i + pad − d·p]·x[n, g·C_g + c, (i + pad − d·p)/s]·w[g·C_g + c, o mod O_g, p]."""
    nsp = w.ndim - 2
    stride, padding, dilation = tup(stride, nsp), tup(padding, nsp), tup(dilation, nsp)
    batched = x.ndim == nsp + 2
    idx = call.out(*((["n"] if batched else []) + ["o"] + list(OUT[:nsp])))
    o, spatial = idx[int(batched)], idx[int(batched) + 1:]
    c = sp.Symbol("c", integer=True)
    ks = [sp.Symbol(KERNEL[k], integer=True) for k in range(nsp)]
    cin_g, cout_g = w.shape[0] // groups, w.shape[1]
    channel = c if groups == 1 else sp.floor(o / cout_g) * cin_g + c
    out_channel = o if groups == 1 else sp.Mod(o, cout_g)
    body = w[(channel, out_channel, *ks)]
    pos = []
    for i, p, s, d, pad in zip(spatial, ks, stride, dilation, padding):
        t = i + pad - d * p
        pos.append(t / s)
        if s != 1:
            body = body * Iverson(sp.Eq(sp.Mod(t, s), 0))
    body = body * x[tuple(([idx[0]] if batched else []) + [channel] + pos)]
    total = call.sum(body, (c, cin_g), *[(p, k) for p, k in zip(ks, w.shape[2:])])
    return total + (b[o] if b is not None else 0)


@rule("conv_transpose", modules=[nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d],
      latex=r"\operatorname{ConvTranspose}")
def conv_transpose_module(call: Call, input: Any, output_size: Any = None) -> sp.Expr:
    """y[n,o,i] = b[o] + Σ_c Σ_p [s | i + pad − d·p]·x[n,c,(i + pad − d·p)/s]·w[c,o,p]."""
    m = call.module
    x, w, b = module_operands(call, input)
    return conv_transpose_formula(call, x, w, b, m.stride, m.padding, m.dilation, m.groups)


@rule("conv_transpose_fn", functions=[F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d],
      latex=r"\operatorname{conv\_transpose}")
def conv_transpose_function(call: Call, input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                            padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                            dilation: Any = 1) -> sp.Expr:
    """y[n,o,i] = b[o] + Σ_c Σ_p [s | i + pad − d·p]·x[n,c,(i + pad − d·p)/s]·w[c,o,p]."""
    x, w, b = function_operands(call, input, weight, bias)
    return conv_transpose_formula(call, x, w, b, stride, padding, dilation, groups)
