"""fold (col2im): the sum of overlapping patches.

y[n, c, h, w] = Σ_{p,q,a,b} δ(h, s·a + d·p − pad)·δ(w, s·b + d·q − pad)·x[n, c·kh·kw + p·kw + q, a·Lw + b]:
every patch (a, b) adds its kernel cell (p, q) to the output cell it lands on. The block (a, b)
and the kernel cell are the sum's indices, so that the gradient (an unfold of ḡ) comes out as a
read of ḡ per kernel cell.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.convolution import tup


def fold_formula(call: Call, input: Any, output_size: Any, kernel_size: Any, dilation: Any = 1,
                 padding: Any = 0, stride: Any = 1) -> sp.Expr:
    """y[n,c,h,w] = Σ_{p,q,a,b} [h = s·a + d·p − pad]·[w = s·b + d·q − pad]·x[n, c·K + p·kw + q, a·Lw + b]."""
    x = call.operand(input, "input", "x")
    (H, W), (kh, kw) = tup(output_size, 2), tup(kernel_size, 2)
    (dh, dw), (ph, pw), (sh, sw) = tup(dilation, 2), tup(padding, 2), tup(stride, 2)
    lh = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    lw = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    lead = x.ndim - 2
    idx = call.out(*(["n"] * lead + ["c", "h", "w"]))
    n, (c, h, w) = idx[:lead], idx[lead:]
    p, q, a, b = (sp.Symbol(s, integer=True) for s in "pqab")
    body = (sp.KroneckerDelta(h, sh * a + dh * p - ph) * sp.KroneckerDelta(w, sw * b + dw * q - pw)
            * x[(*n, c * kh * kw + p * kw + q, a * lw + b)])
    return call.sum(body, (p, kh), (q, kw), (a, lh), (b, lw))


@rule("fold", modules=[nn.Fold], latex=r"\operatorname{Fold}")
def fold_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,h,w] = Σ of the patches' cells that land on (h, w) (col2im)."""
    m = call.module
    return fold_formula(call, input, m.output_size, m.kernel_size, m.dilation, m.padding, m.stride)


# aten.col2im (torch.export's name for fold) takes the same arguments in the same order
rule("fold_fn", functions=[F.fold, torch._C._nn.col2im], latex=r"\operatorname{fold}")(fold_formula)
