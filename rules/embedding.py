"""Embedding lookup: a read of the weight at an index that is itself data (not differentiable)."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.call import Call
from symbolic_torch.registry import rule

from ._vocab import names


def embedding_formula(call: Call, input: Any, weight: Any, padding_idx: int | None, max_norm: Any,
                      scale_grad_by_freq: bool, sparse: bool) -> sp.Expr:
    """y[n, j] = W[k[n], j]; with padding_idx p, the row W[p] is a constant (its gradient is 0)."""
    if max_norm is not None:
        raise NotImplementedError("Embedding with max_norm (renormalizes the weight in place)")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("Embedding with scale_grad_by_freq or sparse gradients")
    k = call.operand(input, "indices", "k")
    w = weight
    idx = call.out(*names(k.ndim + 1, ["j"]))
    row = k[idx[:-1]] if k.ndim else k[()]
    read = w[row, idx[-1]]
    if padding_idx is None:
        return read
    pad = padding_idx + w.shape[0] if padding_idx < 0 else padding_idx
    held = call.operand(w.value[pad].detach().clone(), "padding_row", "P")  # torch never updates it
    return sp.Piecewise((held[idx[-1]], sp.Eq(row, pad)), (read, True))


@rule("embedding", modules=[nn.Embedding], latex=r"\operatorname{Embedding}")
def embedding_module(call: Call, input: Any) -> sp.Expr:
    """y[n, j] = W[k[n], j], k the indices (a constant)."""
    m = call.module
    w = call.param("weight", "W")
    return embedding_formula(call, input, w, m.padding_idx, m.max_norm, m.scale_grad_by_freq, m.sparse)


@rule("embedding_fn", functions=[F.embedding], latex=r"\operatorname{embedding}")
def embedding_function(call: Call, input: Any, weight: Any, padding_idx: int | None = None, max_norm: Any = None,
                       norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> sp.Expr:
    """y[n, j] = W[k[n], j], k the indices (a constant)."""
    w = call.operand(weight, "weight", "W")
    return embedding_formula(call, input, w, padding_idx, max_norm, scale_grad_by_freq, sparse)
