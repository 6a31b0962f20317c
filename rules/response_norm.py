"""Local response normalization across channels.

y = x / (k + α/size · Σ_t x[c + t − ⌊size/2⌋]²)^β, channels past either end read as 0 (torch
pads the squares with zeros and divides by ``size``).
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule


def lrn_formula(call: Call, input: Any, size: int, alpha: float = 1e-4, beta: float = 0.75,
                k: float = 1.0) -> sp.Expr:
    """y[n,c,…] = x[n,c,…] / (k + α/size · Σ_t x[n, c + t − ⌊size/2⌋, …]²)^β."""
    x = call.operand(input, "input", "x")
    if x.ndim < 3:
        raise NotImplementedError("local_response_norm needs a 3-d or higher input")
    if call.out_value.numel() == 0:
        return sp.S.Zero
    rest = ["i", "j", "l", "m", "r", "u", "v"][: x.ndim - 2]
    n, c, *sp_idx = call.out("n", "c", *rest)
    t = sp.Symbol("t", integer=True)
    window = call.sum(x[(n, c + t - size // 2, *sp_idx)] ** 2, (t, int(size)))
    scale = call.scalar(k) + call.scalar(alpha) / int(size) * window
    return x[(n, c, *sp_idx)] * scale ** (-call.scalar(beta))


@rule("local_response_norm", modules=[nn.LocalResponseNorm], latex=r"\operatorname{LRN}")
def lrn_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,…] = x[n,c,…] / (k + α/size · Σ_t x[n, c + t − ⌊size/2⌋, …]²)^β."""
    m = call.module
    return lrn_formula(call, input, m.size, m.alpha, m.beta, m.k)


rule("local_response_norm_fn", functions=[F.local_response_norm], latex=r"\operatorname{lrn}")(lrn_formula)
