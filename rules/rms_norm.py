"""RMS norm: y = x/√(mean of x² over the normalized dims + ε)·γ (``nn.RMSNorm``, ``F.rms_norm``)."""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names
from symbolic_torch.rules.normalization import affine, operands, sample, spatial_names


def rms_norm_formula(call: Call, x: Operand, shape: Any, weight: Operand | None, eps: float | None) -> sp.Expr:
    """y = x/√((1/M) Σ x² + ε)·γ over the last len(shape) dims; ε None: the dtype's machine epsilon."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    k = len(shape)
    eps = torch.finfo(x.value.dtype).eps if eps is None else eps
    idx = call.out(*names(x.ndim, spatial_names(k)))
    reduced = [(a, x.shape[a], 0) for a in range(x.ndim - k, x.ndim)]
    x1, lim = sample(x, idx, reduced, "1")
    mean_square = call.sum(x1 ** 2, *lim) / math.prod(x.shape[x.ndim - k:])
    return affine(call, x[idx] / sp.sqrt(mean_square + call.scalar(eps)), weight, None, idx[x.ndim - k:])


@rule("rms_norm", modules=[nn.RMSNorm], latex=r"\operatorname{RMSNorm}")
def rms_norm_module(call: Call, input: Any) -> sp.Expr:
    """y[n,i] = x[n,i]/√((1/M) Σ_i x[n,i]² + ε)·γ_i over the normalized dims."""
    m = call.module
    x = call.operand(input, "input", "x")
    return rms_norm_formula(call, x, m.normalized_shape, call.param("weight", "gamma"), m.eps)


@rule("rms_norm_fn", functions=[F.rms_norm, torch.rms_norm], latex=r"\operatorname{rms\_norm}")
def rms_norm_function(call: Call, input: Any, normalized_shape: Any, weight: Any = None,
                      eps: float | None = None) -> sp.Expr:
    """y[n,i] = x[n,i]/√((1/M) Σ_i x[n,i]² + ε)·γ_i over the normalized dims (ε None: finfo(dtype).eps)."""
    x, w, _, _, _ = operands(call, input, weight, None)
    return rms_norm_formula(call, x, normalized_shape, w, eps)
