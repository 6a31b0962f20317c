"""Linear algebra: Linear layers and matrix products."""
from __future__ import annotations

import operator
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names


def linear_formula(call: Call, input: Any, weight: Any, bias: Any = None, module: bool = False) -> sp.Expr:
    """y[n, o] = Σ_i W[o, i]·x[n, i] + b[o]."""
    x = call.operand(input, "input", "x")
    w = call.param("weight", "W") if module else call.operand(weight, "weight", "W")
    b = (call.param("bias", "b") if module else
         call.operand(bias, "bias", "b") if bias is not None else None)
    idx = call.out(*names(len(call.out_shape), ["o"]))
    i = sp.Symbol("i", integer=True)
    body = call.sum(w[idx[-1], i] * x[(*idx[:-1], i)], (i, x.shape[-1]))
    return body + (b[idx[-1]] if b is not None else 0)


@rule("linear", modules=[nn.Linear], latex=r"\operatorname{Linear}")
def linear_module(call: Call, input: Any) -> sp.Expr:
    """y[n, o] = Σ_i W[o, i]·x[n, i] + b[o]."""
    return linear_formula(call, input, None, None, module=True)


@rule("linear_fn", functions=[F.linear], latex=r"\operatorname{linear}")
def linear_function(call: Call, input: Any, weight: Any, bias: Any = None) -> sp.Expr:
    """y[n, o] = Σ_i W[o, i]·x[n, i] + b[o]."""
    return linear_formula(call, input, weight, bias)


@rule("matmul", functions=[torch.matmul, torch.mm, torch.bmm, operator.matmul],
      methods=["matmul", "mm", "bmm"], latex=r"@")
def matmul(call: Call, input: Any, other: Any, **_: Any) -> sp.Expr:
    """y[…, i, j] = Σ_k a[…, i, k]·b[…, k, j] (vectors lose their row/column index)."""
    a = call.operand(input, "input", "A")
    b = call.operand(other, "other", "B")
    out_n = len(call.out_shape)
    tail = (["i"] if a.ndim > 1 else []) + (["j"] if b.ndim > 1 else [])
    idx = call.out(*names(out_n, tail, pool="bcde"))
    batch = list(idx[: out_n - len(tail)])
    k = sp.Symbol("k", integer=True)
    i = [idx[out_n - len(tail)]] if a.ndim > 1 else []
    j = [idx[-1]] if b.ndim > 1 else []
    ai = batched_read(call, a, batch, i + [k])
    bi = batched_read(call, b, batch, [k] + j)
    return call.sum(ai * bi, (k, a.shape[-1]))


def batched_read(call: Call, t: Any, batch: list[sp.Symbol], tail: list[sp.Expr]) -> sp.Expr:
    """``t`` read at the output\'s ``batch`` indices (broadcast: size-1 dims at 0), then ``tail``."""
    nb = t.ndim - len(tail)
    out_b = call.out_shape[: len(batch)]
    own = []
    for k in range(nb):
        pos = len(batch) - nb + k
        own.append(sp.S.Zero if t.shape[k] == 1 and out_b[pos] != 1 else batch[pos])
    return t[tuple(own + tail)]
