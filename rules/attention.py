"""Attention: scaled dot-product attention as one index formula; multi-head attention expanded.

``F.scaled_dot_product_attention`` is a single step: the softmax over key positions is
written out (``e^{s_ij} / Σ_l e^{s_il}``) so that sympy derives its gradients in one go.
``nn.MultiheadAttention`` is traced through an expansion: the q, k, v projections (each a
block of the packed ``in_proj_weight``), the head split, attention, the head merge and the
output projection each become a step.
"""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import expansion, rule

from symbolic_torch.rules._expansion import named, prefix, traced
from symbolic_torch.rules._vocab import names
from symbolic_torch.rules.linalg import batched_read


@rule("sdpa", functions=[F.scaled_dot_product_attention], latex=r"\operatorname{attention}")
def sdpa(call: Call, query: Any, key: Any, value: Any, attn_mask: Any = None, dropout_p: float = 0.0,
         is_causal: bool = False, scale: float | None = None, enable_gqa: bool = False) -> sp.Expr:
    """y[…, i, d] = Σ_j e^{s_ij}·V[…, j, d] / Σ_l e^{s_il}, s_ij = scale·Σ_e Q[…, i, e]·K[…, j, e] (+ M).

    With dropout_p > 0 each weight of the numerator is multiplied by D[…, i, j], the run's dropout
    mask (0 or 1/(1 − p)), a constant replayed from the RNG state the call saw.
    """
    if enable_gqa and query.shape[-3:-2] != key.shape[-3:-2]:
        raise NotImplementedError("grouped-query attention (enable_gqa with fewer key heads)")
    drop = dropout_mask(call, query, key, value, attn_mask, dropout_p, is_causal, scale) if dropout_p else None
    q = call.operand(query, "query", "Q")
    k = call.operand(key, "key", "K")
    v = call.operand(value, "value", "V")
    mask = None
    if attn_mask is not None:
        m = attn_mask.value if hasattr(attn_mask, "value") else attn_mask
        mask = (call.operand(m.to(q.value.dtype), "attn_mask", "M") if m.dtype == torch.bool
                else call.operand(attn_mask, "attn_mask", "M"))
        additive = m.dtype != torch.bool
    idx = call.out(*names(len(call.out_shape), ["i", "d"], pool="bhnt"))
    batch, i, d = idx[:-2], idx[-2], idx[-1]
    j, l, e = (sp.Symbol(s, integer=True) for s in "jle")
    c = call.scalar(scale) if scale is not None else 1 / sp.sqrt(q.shape[-1])

    def weight(col: sp.Symbol) -> sp.Expr:
        """e^{s_{i,col}}, masked."""
        s = c * call.sum(batched_read(call, q, batch, [i, e]) * batched_read(call, k, batch, [col, e]), (e, q.shape[-1]))
        factor: sp.Expr = sp.S.One
        if mask is not None:
            mread = batched_read(call, mask, batch, [i, col][2 - min(mask.ndim, 2):])
            if additive:
                s = s + mread
            else:
                factor = mread
        if is_causal:
            factor = factor * Iverson(sp.Le(col, i))
        return factor * sp.exp(s)

    n_keys = k.shape[-2]
    kept = batched_read(call, call.operand(drop, "dropout_mask", "D"), batch, [i, j]) if drop is not None else 1
    return (call.sum(kept * weight(j) * batched_read(call, v, batch, [j, d]), (j, n_keys))
            / call.sum(weight(l), (l, n_keys)))


def dropout_mask(call: Call, query: Any, key: Any, value: Any, attn_mask: Any, p: float, is_causal: bool,
                 scale: float | None) -> torch.Tensor:
    """The run's attention-dropout mask, shaped like the attention weights (…, L, S).

    On CPU, torch's attention with dropout is its math path: softmax weights, then ``dropout``
    (Bernoulli draws of the weights' shape). Those draws are replayed from the node's RNG state, and
    the output they give is checked against the run's: a fused kernel (CUDA's flash or
    memory-efficient attention) draws its mask inside the kernel, and it cannot be replayed.
    """
    q, k, v = (getattr(t, "value", t).detach() for t in (query, key, value))
    m = getattr(attn_mask, "value", attn_mask)
    if q.device.type != "cpu":
        raise NotImplementedError(f"attention dropout on {q.device.type}: the fused kernel draws its dropout mask "
                                  "inside the kernel, which cannot be replayed (run on CPU, or dropout_p=0)")
    scores = (q.double() @ k.double().transpose(-2, -1)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if m is not None:
        scores = scores.masked_fill(~m, float("-inf")) if m.dtype == torch.bool else scores + m.double()
    if is_causal:
        scores = scores.masked_fill(~torch.ones(scores.shape[-2:], dtype=torch.bool).tril(), float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    mask = call.replay(F.dropout, torch.ones(weights.shape, dtype=q.dtype), p, True)
    out = (weights * mask.double()) @ v.double()
    got = call.out_value.detach().double()
    tol = 1e-10 if q.dtype == torch.float64 else 1e-4
    if out.shape != got.shape or not torch.allclose(out, got, atol=tol, rtol=tol, equal_nan=True):
        raise NotImplementedError("attention dropout: replaying the run's RNG state does not reproduce its output "
                                  "(this attention kernel draws its dropout mask in a way that cannot be replayed)")
    return mask.to(q.dtype)


def stacked_linear(input: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, block: int,
                   size: int) -> torch.Tensor:
    """``F.linear`` with block ``block`` (rows ``block·size … +size−1``) of a packed weight and bias.

    A weight or bias whose leading dim is ``size`` is not packed and is used whole.
    """
    def rows(t: torch.Tensor) -> torch.Tensor:
        return t if t.shape[0] == size else t[block * size:(block + 1) * size]
    return F.linear(input, rows(weight), None if bias is None else rows(bias))


def stacked_linear_formula(call: Call, x: Operand, w: Operand, b: Operand | None, block: int, size: int,
                           idx: tuple[sp.Symbol, ...], m: sp.Symbol) -> sp.Expr:
    """Σ_m W[k·n + j, m]·x[…, m] + b[k·n + j], at output indices ``idx`` (``j`` the last)."""
    j = idx[-1]
    wrow = j + block * size if w.shape[0] != size else j
    body = call.sum(w[wrow, m] * x[(*idx[:-1], m)], (m, x.shape[-1]))
    if b is None:
        return body
    return body + b[j + block * size if b.shape[0] != size else j]


@rule("stacked_linear", functions=[stacked_linear], latex=r"\operatorname{linear}")
def stacked_linear_rule(call: Call, input: Any, weight: Any, bias: Any, block: int, size: int) -> sp.Expr:
    """y[…, j] = Σ_m W[k·n + j, m]·x[…, m] + b[k·n + j]  (block k of a packed projection)."""
    x = call.operand(input, "input", "x")
    w = call.operand(weight, "weight", "W")
    b = call.operand(bias, "bias", "b") if bias is not None else None
    idx = call.out(*names(len(call.out_shape), ["j"], pool="nlst"))
    return stacked_linear_formula(call, x, w, b, block, size, idx, sp.Symbol("m", integer=True))


def attention_mask(attn_mask: torch.Tensor | None, key_padding_mask: torch.Tensor | None, heads: int,
                   dtype: torch.dtype) -> torch.Tensor | None:
    """MultiheadAttention's masks as one additive float mask (bool True, "masked", becomes −∞).

    attn_mask (L, S) or (N·H, L, S), key_padding_mask (N, S) or (S,): broadcastable to (N, H, L, S).
    """
    def additive(t: torch.Tensor) -> torch.Tensor:
        if t.dtype == torch.bool:
            return torch.zeros(t.shape, dtype=dtype).masked_fill(t, float("-inf"))
        return t.to(dtype)
    mask = None
    if attn_mask is not None:
        mask = additive(attn_mask)
        if mask.dim() == 3:
            mask = mask.unflatten(0, (-1, heads))
    if key_padding_mask is not None:
        pad = additive(key_padding_mask).unsqueeze(-2).unsqueeze(-2)
        mask = pad if mask is None else mask + pad
    return mask


@rule("attention_mask", functions=[attention_mask], latex=r"\operatorname{mask}")
def attention_mask_rule(call: Call, attn_mask: Any, key_padding_mask: Any, heads: int, dtype: Any) -> sp.Expr:
    """y[i, j] = M[i, j]  (a float attn_mask is added as it is; bool masks are constants)."""
    if key_padding_mask is not None or attn_mask.ndim != 2:
        raise NotImplementedError("a differentiable float attn_mask together with key_padding_mask, or 3-d")
    m = call.operand(attn_mask, "attn_mask", "M")
    i, j = call.out("i", "j")
    return m[i, j]


@expansion(nn.MultiheadAttention)
def multihead_attention(m: nn.MultiheadAttention, query: Any, key: Any, value: Any,
                        key_padding_mask: Any = None, need_weights: bool = True, attn_mask: Any = None,
                        average_attn_weights: bool = True, is_causal: bool = False) -> tuple[Any, Any]:
    """q, k, v = blocks of in_proj; heads split; softmax(q·kᵀ/√d + mask)·v; heads merged; out_proj."""
    p = m.dropout if m.training else 0.0  # as torch: dropout on the attention weights in train mode only
    if m.bias_k is not None or m.add_zero_attn:
        raise NotImplementedError("MultiheadAttention with add_bias_kv or add_zero_attn")
    if is_causal and attn_mask is None:
        raise RuntimeError("MultiheadAttention: is_causal needs attn_mask, as in torch")
    E, H = m.embed_dim, m.num_heads
    pre = prefix(m, query)
    if not m.batch_first:  # (L, N, E) → (N, L, E); batched inputs only
        query, key, value = (t.transpose(0, 1) for t in (query, key, value))
    packed = m._qkv_same_embed_dim
    weights = (m.in_proj_weight,) * 3 if packed else (m.q_proj_weight, m.k_proj_weight, m.v_proj_weight)
    q, k, v = (named(named(traced(stacked_linear, t, w, m.in_proj_bias, n, E), f"{pre}_{c}")
                     .unflatten(-1, (H, E // H)).transpose(-3, -2), f"{pre}_{c}_heads")
               for n, (c, t, w) in enumerate(zip("qkv", (query, key, value), weights)))
    mask = None
    if attn_mask is not None or key_padding_mask is not None:
        mask = named(traced(attention_mask, attn_mask, key_padding_mask, H, query.dtype), f"{pre}_mask")
    if not need_weights:
        causal = is_causal and key_padding_mask is None
        o = F.scaled_dot_product_attention(q, k, v, None if causal else mask, p, is_causal=causal)
        attn = None
    else:
        scores = named((q * (1.0 / math.sqrt(E // H))) @ k.transpose(-2, -1), f"{pre}_scores")
        attn = named(F.softmax(scores if mask is None else scores + mask, dim=-1), f"{pre}_weights")
        if p:  # torch returns the weights after dropout
            attn = named(F.dropout(attn, p, True), f"{pre}_dropped_weights")
        o = attn @ v
        if average_attn_weights:
            attn = named(attn.mean(dim=-3), f"{pre}_mean_weights")
    named(o, f"{pre}_heads_out")
    merged = named(o.transpose(-3, -2).flatten(-2), f"{pre}_merged")
    out = named(F.linear(merged, m.out_proj.weight, m.out_proj.bias), f"{pre}_out")
    return (out if m.batch_first else out.transpose(0, 1)), attn
