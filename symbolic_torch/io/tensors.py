"""The tensors of a saved derivation: one safetensors blob, referenced from the JSON by key.

Every tensor is stored once (a parameter that is also a graph value, an operand that is the
value of its source: one entry), on the CPU, contiguous, in its own dtype (safetensors keeps
bool, integers, float16/bfloat16/32/64 and complex exactly).

>>> import torch
>>> store = TensorStore()
>>> t = torch.arange(3.0)
>>> store.add(t) == store.add(t)
True
>>> TensorStore.read(store.blob())["t0"].tolist()
[0.0, 1.0, 2.0]
"""
from __future__ import annotations

from typing import Mapping

import torch
from safetensors.torch import load as _load_bytes
from safetensors.torch import save as _save_bytes

from symbolic_torch.errors import FormatError


def _identity(t: torch.Tensor) -> tuple[object, ...]:
    """Same storage, offset, shape, stride and dtype: the same tensor."""
    if t.device.type == "meta" or t.numel() == 0:
        return ("empty", id(t))
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype, t.device)


class TensorStore:
    """Tensors collected for saving; ``add`` answers the key the JSON refers to."""

    def __init__(self) -> None:
        self.tensors: dict[str, torch.Tensor] = {}
        self._keys: dict[tuple[object, ...], str] = {}

    def add(self, t: torch.Tensor) -> str:
        """Keep ``t`` (once) and answer its key."""
        ident = _identity(t)
        if ident not in self._keys:
            key = f"t{len(self.tensors)}"
            self.tensors[key] = t.detach().to("cpu").contiguous().clone()
            self._keys[ident] = key
        return self._keys[ident]

    def add_optional(self, t: torch.Tensor | None) -> str | None:
        """``add`` for a tensor that may be missing (None stays None)."""
        return None if t is None else self.add(t)

    def blob(self) -> bytes:
        """Every tensor as one safetensors file's bytes."""
        return _save_bytes(self.tensors)

    @staticmethod
    def read(blob: bytes) -> dict[str, torch.Tensor]:
        """The tensors of a safetensors blob, by key."""
        try:
            return _load_bytes(blob)
        except Exception as e:  # safetensors raises its own SafetensorError
            raise FormatError(f"the tensor file is not a valid safetensors file: {e}") from e


def fetch(tensors: Mapping[str, torch.Tensor], key: str | None, what: str) -> torch.Tensor | None:
    """The tensor ``key`` refers to (None for None), or a ``FormatError`` naming ``what`` needed it."""
    if key is None:
        return None
    if key not in tensors:
        raise FormatError(f"{what}: tensor {key!r} is missing from the tensor file")
    return tensors[key]
