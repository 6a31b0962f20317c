"""Embedding lookup: a read of the weight at an index that is itself data (not differentiable);
embedding_bag: sums, means or maxima of such reads over bags of indices."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.ir.primitives import Iverson, WindowMax
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names


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


@rule("embedding_aten", functions=[torch.embedding], latex=r"\operatorname{embedding}")
def embedding_aten(call: Call, weight: Any, indices: Any, padding_idx: int = -1, scale_grad_by_freq: bool = False,
                   sparse: bool = False) -> sp.Expr:
    """ATen's order (``aten.embedding``, as torch.export writes it): weight first; padding_idx −1 is none."""
    w = call.operand(weight, "weight", "W")
    return embedding_formula(call, indices, w, None if padding_idx == -1 else padding_idx, None,
                             scale_grad_by_freq, sparse)


# ---------------------------------------------------------------- embedding_bag
def _bags(k: Any, offsets: Any, include_last_offset: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each bag's start in the flat indices, its size by the offsets, and its size with the last
    bag running to the end of the indices (see ``_summed_sizes``)."""
    o = (offsets.value if isinstance(offsets, TensorArg) else torch.as_tensor(offsets)).long().flatten()
    end = torch.tensor([k.shape[0]])
    starts = o[:-1] if include_last_offset else o
    ends = o[1:] if include_last_offset else torch.cat([o[1:], end])
    to_end = torch.cat([ends[:-1], end]) if len(ends) else ends
    return starts.clone(), (ends - starts).clamp(min=0), (to_end - starts).clamp(min=0)


def _summed_sizes(call: Call, k: Any, w: Any, s: Any, starts: torch.Tensor, sizes: torch.Tensor,
                  to_end: torch.Tensor, count: torch.Tensor | None, pad: int | None) -> torch.Tensor:
    """The bag sizes torch's sum (or mean's numerator) used: with ``include_last_offset`` and a last
    offset short of the indices' end, torch's float64 kernel (and any with padding_idx) sums the last
    bag to the end of the indices, its float32 fast path only to the last offset. The run says which."""
    if bool((sizes == to_end).all()):
        return sizes
    b, a = len(starts) - 1, int(starts[-1])
    rows = k.value.long()[a:a + int(to_end[-1])]
    vals = w.value.detach()[rows].double() * (1.0 if s is None else s.value.detach()[a:a + len(rows)].double()[:, None])
    if pad is not None:
        vals = vals * (rows != pad).double()[:, None]
    scale = 1.0 if count is None else max(float(count[-1]), 1.0)
    got = call.out_value[b].detach().double() * scale
    short = vals[: int(sizes[-1])].sum(0)
    return sizes if (got - short).abs().max() < (got - vals.sum(0)).abs().max() else to_end


def embedding_bag_formula(call: Call, input: Any, w: Any, offsets: Any = None, max_norm: Any = None,
                          scale_grad_by_freq: bool = False, mode: str = "mean", sparse: bool = False,
                          per_sample_weights: Any = None, include_last_offset: bool = False,
                          padding_idx: int | None = None) -> sp.Expr:
    """y[b, j] = Σ_t [t < m[b]]·[k[o[b] + t] ≠ P]·s[o[b] + t]·W[k[o[b] + t], j] (sum); mean: that
    over the bag's count of non-padding entries (0 for an empty bag); max: the max over them.

    2-d indices: bag b is row b, read k[b, t]. 1-d indices: bag b starts at o[b] and holds m[b]
    entries (constants from the offsets). P is padding_idx; s the per-sample weights (sum only).
    """
    if call.item not in (0, None):
        raise NotImplementedError("the bookkeeping outputs of _embedding_bag")
    if max_norm is not None:
        raise NotImplementedError("EmbeddingBag with max_norm (renormalizes the weight in place)")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("EmbeddingBag with scale_grad_by_freq or sparse gradients")
    mode = {0: "sum", 1: "mean", 2: "max"}.get(mode, mode)  # ATen codes the mode as an int
    k = call.operand(input, "indices", "k")
    b, j = call.out("b", "j")
    t = sp.Symbol("t", integer=True)
    if mode not in ("sum", "mean", "max"):
        raise NotImplementedError(f"embedding_bag mode {mode!r}")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError(f"per_sample_weights with mode {mode!r}")
    if k.ndim == 2:
        at, size, size_all, longest = (b, t), None, None, k.shape[1]
    else:
        if offsets is None:
            raise NotImplementedError("embedding_bag of 1-d indices without offsets")
        starts, sizes, sizes_all = _bags(k, offsets, include_last_offset)
        o = call.operand(starts, "bag_start", "o")
        pad = padding_idx if padding_idx is not None and padding_idx >= 0 else None
        if mode != "max":  # max and mean's count run the last bag to the end of the indices
            count = sizes_all if pad is None else torch.tensor(
                [int((k.value[a:a + n] != pad).sum()) for a, n in zip(starts.tolist(), sizes_all.tolist())])
            sizes = _summed_sizes(call, k, w, per_sample_weights, starts, sizes, sizes_all,
                                  count if mode == "mean" else None, pad)
        size_all = call.operand(sizes_all, "bag_size", "m")[b]
        same = bool((sizes == sizes_all).all()) or mode == "max"
        size = size_all if same else call.operand(sizes, "bag_size_summed", "M")[b]
        at, longest = (o[b] + t,), max(int(sizes_all.max()) if sizes_all.numel() else 0, 1)
    row = k[at]
    not_pad = [sp.Ne(row, padding_idx)] if padding_idx is not None and padding_idx >= 0 else []  # ATen's −1: none
    keep = ([] if size is None else [t < size]) + not_pad
    mask = Iverson(sp.And(*keep)) if keep else sp.S.One
    read = w[row, j]
    if mode == "max":
        top = WindowMax(read, sp.Tuple(t, 0, longest - 1), sp.And(*keep)) if keep else \
            WindowMax(read, sp.Tuple(t, 0, longest - 1))
        count = call.sum(mask, (t, longest))
        return sp.Piecewise((0, sp.Eq(count, 0)), (top, True)) if keep else top  # an empty bag gives 0
    if per_sample_weights is not None:
        s = call.operand(per_sample_weights, "per_sample_weights", "s")
        read = s[at] * read
    total = call.sum(mask * read, (t, longest))
    if mode == "sum":
        return total
    counted = ([] if size_all is None else [t < size_all]) + not_pad
    count = call.sum(Iverson(sp.And(*counted)), (t, longest)) if counted else sp.S(longest)
    return total / sp.Max(count, 1)


@rule("embedding_bag", modules=[nn.EmbeddingBag], latex=r"\operatorname{EmbeddingBag}")
def embedding_bag_module(call: Call, input: Any, offsets: Any = None, per_sample_weights: Any = None) -> sp.Expr:
    """y[b, j] = Σ (mean, max) over bag b's entries t of W[k[…t…], j]."""
    m = call.module
    w = call.param("weight", "W")
    return embedding_bag_formula(call, input, w, offsets, m.max_norm, m.scale_grad_by_freq, m.mode, m.sparse,
                                 per_sample_weights, m.include_last_offset, m.padding_idx)


@rule("embedding_bag_fn", functions=[F.embedding_bag], latex=r"\operatorname{embeddingbag}")
def embedding_bag_function(call: Call, input: Any, weight: Any, offsets: Any = None, max_norm: Any = None,
                           norm_type: float = 2, scale_grad_by_freq: bool = False, mode: str = "mean",
                           sparse: bool = False, per_sample_weights: Any = None, include_last_offset: bool = False,
                           padding_idx: int | None = None) -> sp.Expr:
    """y[b, j] = Σ (mean, max) over bag b's entries t of W[k[…t…], j]."""
    w = call.operand(weight, "weight", "W")
    if padding_idx is not None and padding_idx < 0:
        padding_idx += w.shape[0]
    return embedding_bag_formula(call, input, w, offsets, max_norm, scale_grad_by_freq, mode, sparse,
                                 per_sample_weights, include_last_offset, padding_idx)


@rule("embedding_bag_aten", functions=[torch.embedding_bag, torch._embedding_bag], latex=r"\operatorname{embeddingbag}",
      multi_output=True)
def embedding_bag_aten(call: Call, weight: Any, indices: Any, offsets: Any, scale_grad_by_freq: bool = False,
                       mode: int = 0, sparse: bool = False, per_sample_weights: Any = None,
                       include_last_offset: bool = False, padding_idx: int | None = -1) -> sp.Expr:
    """ATen's (weight, indices, offsets, …, mode as 0/1/2, …) → (output, offset2bag, bag_size, max_indices)."""
    w = call.operand(weight, "weight", "W")
    return embedding_bag_formula(call, indices, w, offsets, None, scale_grad_by_freq, mode, sparse,
                                 per_sample_weights, include_last_offset, padding_idx)
