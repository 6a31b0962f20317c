"""Reading a tensor element: outside the tensor, the value is 0 (zero padding).

A formula may read a tensor at a position that is not one of its elements: outside
its shape, or (after an index division) not an integer. Such a read is 0. That is the
zero padding of convolutions; every other rule guards its reads with range conditions,
so there it never shows. The evaluator, the scalar chain of the gradient checker and
the worked elements of the printers all read elements through this module.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch

Position = Sequence[Any]  # ints or floats, or tensors of positions (broadcast together)


def contains(shape: Sequence[int], position: Position) -> Any:
    """Whether ``position`` is an element of a tensor of ``shape``: integral and in range on every axis.

    A bool for numbers, a bool tensor for tensors of positions.
    """
    ok: Any = True
    for p, n in zip(position, shape):
        whole = p == (torch.round(p) if isinstance(p, torch.Tensor) else round(p))
        ok = ok & whole & (p >= 0) & (p < n)
    return ok


def element(t: Any, position: Position, outside: Any = 0.0) -> Any:
    """``t[position]`` (a tensor or an array), or ``outside`` where ``position`` is not an element of ``t``.

    >>> element(torch.arange(3.0), [2]), element(torch.arange(3.0), [3])
    (tensor(2.), 0.0)
    """
    if len(position) != t.ndim:
        raise ValueError(f"a read at {tuple(position)} of a tensor with {t.ndim} dims")
    if not contains(t.shape, position):
        return outside
    return t[tuple(int(p) for p in position)]


def gather(t: torch.Tensor, positions: Sequence[torch.Tensor]) -> torch.Tensor:
    """``t`` read at every position of broadcast ``positions`` (one tensor per axis of ``t``), as
    float64; 0 where a position is not an element of ``t``."""
    if len(positions) != t.dim():
        raise ValueError(f"a read with {len(positions)} positions of a tensor with {t.dim()} dims")
    if t.dim() == 0:
        return t.to(torch.float64)
    pos = torch.broadcast_tensors(*positions)
    ok = contains(t.shape, pos)
    if t.numel() == 0:  # every read is outside an empty tensor
        return torch.zeros(pos[0].shape, dtype=torch.float64, device=t.device)
    flat = torch.zeros(pos[0].shape, dtype=torch.long, device=t.device)
    for p, n in zip(pos, t.shape):  # row-major offset, 0 (a valid offset) where the read is outside
        flat = flat * n + torch.where(ok, p, 0).long()
    vals = t.contiguous().view(-1)[flat]
    return torch.where(ok, vals, torch.zeros((), dtype=vals.dtype)).to(torch.float64)
