"""Ops returning tuples (split, chunk, unbind, broadcast_tensors): one formula per item read.

The step is the ``getitem`` that reads item k; ``call.item`` says which.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

POOL = "ijklmuvw"


def _piece(call: Call, input: Any, pieces: list[torch.Tensor], d: int, keep: bool) -> sp.Expr:
    """y[…, i, …] = x[…, i + o_k, …] (o_k: sizes of the items before k); unbind drops the dim."""
    x = call.operand(input, "input", "x")
    k = call.item
    offset = sum(p.shape[d] for p in pieces[:k]) if keep else k
    idx = list(call.out(*[POOL[j] for j in range(len(call.out_shape))]))
    read = idx[:d] + [idx[d] + offset] + idx[d + 1:] if keep else idx[:d] + [sp.Integer(offset)] + idx[d:]
    return x[tuple(read)]


@rule("split", functions=[torch.split, torch.tensor_split], methods=["split", "tensor_split"],
      latex=r"\operatorname{split}", multi_output=True)
def split(call: Call, input: Any, split_size_or_sections: Any, dim: int = 0, **kw: Any) -> sp.Expr:
    """y_k[…, i, …] = x[…, i + o_k, …]."""
    d = norm_dim(kw.get("dim", dim), input.ndim)
    fn = torch.tensor_split if "tensor_split" in call.target else torch.split
    sections = getattr(split_size_or_sections, "value", split_size_or_sections)  # tensor_split takes a tensor too
    return _piece(call, input, list(fn(input.value, sections, d)), d, keep=True)


@rule("chunk", functions=[torch.chunk], methods=["chunk"], latex=r"\operatorname{chunk}", multi_output=True)
def chunk(call: Call, input: Any, chunks: int, dim: int = 0) -> sp.Expr:
    """y_k[…, i, …] = x[…, i + k·⌈n/chunks⌉, …]."""
    d = norm_dim(dim, input.ndim)
    return _piece(call, input, list(torch.chunk(input.value, chunks, d)), d, keep=True)


@rule("unbind", functions=[torch.unbind], methods=["unbind"], latex=r"\operatorname{unbind}",
      multi_output=True)
def unbind(call: Call, input: Any, dim: int = 0) -> sp.Expr:
    """y_k[…] = x[…, k, …]."""
    d = norm_dim(dim, input.ndim)
    return _piece(call, input, [], d, keep=False)


@rule("broadcast_tensors", functions=[torch.broadcast_tensors], latex=r"\operatorname{broadcast}",
      multi_output=True)
def broadcast_tensors(call: Call, *tensors: Any) -> sp.Expr:
    """y_k[i…] = x_k[i…] read under broadcasting."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):  # the ATen form takes one list
        tensors = tuple(tensors[0])
    call.default_out()
    return call.broadcast(call.operand(tensors[call.item], "tensors." + str(call.item), "x"))


@rule("copy", methods=["copy"], latex=r"\operatorname{copy}")
def copy(call: Call, self: Any, src: Any, non_blocking: bool = False) -> sp.Expr:
    """y = src broadcast to self's shape (``aten.copy``: torch.export's functional ``x.copy_(src)``,
    as in ``y[:, 0] += 1``); self's values are overwritten, so it gets no gradient."""
    call.default_out()
    return call.broadcast(call.operand(src, "src", "s")) if isinstance(src, TensorArg) else sp.sympify(src)
