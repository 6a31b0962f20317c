"""Shape ops, products and indexing for ``SymbolicTensor``: numpy does the bookkeeping."""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from symbolic_torch.gradcheck.op_table import Untraceable, handler, register
from symbolic_torch.gradcheck.symbolic_ops import FLOAT, arr, where, wrap
from symbolic_torch.gradcheck.tensor import SymbolicTensor


def _sizes(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)):
        return tuple(int(s) for s in size[0])
    return tuple(int(s) for s in size)


def _same(x: Any, a: np.ndarray) -> SymbolicTensor:
    return SymbolicTensor(a, x.dtype if isinstance(x, SymbolicTensor) else FLOAT)


def _data(x: Any) -> np.ndarray:
    return x.data if isinstance(x, SymbolicTensor) else arr(x)


register("reshape", "view")(lambda x, *size: _same(x, _data(x).reshape(_sizes(size))))
register("view_as", "reshape_as")(lambda x, other: _same(x, _data(x).reshape(tuple(other.shape))))
register("permute")(lambda x, *dims: _same(x, np.transpose(_data(x), _sizes(dims))))
register("transpose", "swapaxes", "swapdims")(lambda x, a, b: _same(x, np.swapaxes(_data(x), a, b)))
register("t")(lambda x: _same(x, _data(x).T))
register("unsqueeze")(lambda x, d: _same(x, np.expand_dims(_data(x), d % (_data(x).ndim + 1))))


@register("squeeze")
def squeeze(x: Any, dim: Any = None) -> SymbolicTensor:
    a = _data(x)
    if dim is None:
        return _same(x, a.reshape([n for n in a.shape if n != 1]))
    dims = [d % a.ndim for d in (dim if isinstance(dim, (tuple, list)) else (dim,)) if a.shape[d] == 1]
    return _same(x, np.squeeze(a, axis=tuple(dims)) if dims else a)


@register("flatten")
def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> SymbolicTensor:
    a = _data(x)
    if a.ndim == 0:
        return _same(x, a.reshape(1))
    s, e = start_dim % a.ndim, end_dim % a.ndim
    return _same(x, a.reshape(a.shape[:s] + (-1,) + a.shape[e + 1:]))


@register("expand", "broadcast_to")
def expand(x: Any, *size: Any) -> SymbolicTensor:
    a = _data(x)
    shape = list(_sizes(size))
    lead = len(shape) - a.ndim
    shape = [a.shape[k - lead] if n == -1 else n for k, n in enumerate(shape)]
    return _same(x, np.broadcast_to(a, tuple(shape)).copy())


register("expand_as")(lambda x, other: expand(x, tuple(other.shape)))
register("repeat")(lambda x, *r: _same(x, np.tile(_data(x), _sizes(r))))


@register("matmul", "mm", "bmm", "mv", "dot", "inner")
def matmul(a: Any, b: Any) -> SymbolicTensor:
    """y[…, i, j] = Σ_k a[…, i, k]·b[…, k, j]."""
    return wrap(np.matmul(arr(a), arr(b)))


@register("linear")
def linear(x: Any, weight: Any, bias: Any = None) -> SymbolicTensor:
    """y = x Wᵀ + b."""
    out = np.matmul(arr(x), np.swapaxes(arr(weight), -1, -2) if arr(weight).ndim > 1 else arr(weight))
    return wrap(out + arr(bias) if bias is not None else out)


@register("outer", "ger")
def outer(a: Any, b: Any) -> SymbolicTensor:
    return wrap(np.multiply.outer(arr(a), arr(b)))


@register("cat", "concat", "concatenate")
def cat(tensors: Any, dim: int = 0) -> SymbolicTensor:
    return wrap(np.concatenate([arr(t) for t in tensors], axis=dim))


@register("stack")
def stack(tensors: Any, dim: int = 0) -> SymbolicTensor:
    return wrap(np.stack([arr(t) for t in tensors], axis=dim))


def _index(idx: Any) -> Any:
    """A torch index as a numpy index; boolean masks that depend on values cannot be followed."""
    if isinstance(idx, tuple):
        return tuple(_index(i) for i in idx)
    if isinstance(idx, SymbolicTensor):
        raise Untraceable("indexing with a tensor computed from the inputs (its shape depends on values)")
    if isinstance(idx, torch.Tensor):
        return idx.detach().cpu().numpy()
    if isinstance(idx, list):
        return np.array(idx)
    return idx


@register("getitem")
def getitem(x: Any, idx: Any) -> SymbolicTensor:
    out = _data(x)[_index(idx)]
    if not isinstance(out, np.ndarray):
        box = np.empty((), dtype=object)
        box[()] = out
        out = box
    return _same(x, out)


@register("setitem")
def setitem(x: Any, idx: Any, value: Any) -> None:
    """``x[idx] = value``; a boolean tensor index of x's shape is a ``where``."""
    if not isinstance(x, SymbolicTensor):
        raise Untraceable("writing a symbolic value into a real tensor (start from zeros_like instead)")
    if isinstance(idx, SymbolicTensor) and idx.is_bool and tuple(idx.shape) == tuple(x.shape):
        x.data = where(idx, value, x).data
        return None
    if isinstance(idx, torch.Tensor) and idx.dtype == torch.bool:
        idx = idx.numpy()
    data = x.data.copy()
    data[_index(idx)] = np.broadcast_to(arr(value), data[_index(idx)].shape)
    x.data = data
    return None


@register("index_select")
def index_select(x: Any, dim: int, index: Any) -> SymbolicTensor:
    return _same(x, np.take(_data(x), _index(index), axis=dim))


@register("masked_select", "nonzero", "unique", "argmax", "argmin", "sort", "topk")
def value_dependent(*args: Any, **kwargs: Any) -> Any:
    raise Untraceable("an op whose result's shape or order depends on the values")


def _extreme(which: str) -> Any:
    def impl(x: Any, *args: Any, **kwargs: Any) -> SymbolicTensor:
        other = args[0] if args else kwargs.get("other")
        if isinstance(other, (torch.Tensor, SymbolicTensor)):
            return handler(which)(x, other)
        raise Untraceable(f"{which} over a dim (the chosen element depends on values)")
    return impl


register("max", "amax")(_extreme("maximum"))
register("min", "amin")(_extreme("minimum"))
