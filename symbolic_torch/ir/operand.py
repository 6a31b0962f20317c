"""An operand of a step: a tensor in its formula, torch's name for it and its symbol."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp
import torch

from symbolic_torch.ir import symbols as S


@dataclass(frozen=True)
class Operand:
    """A tensor in a step's formula: torch's name for it and its symbol."""

    key: str
    symbol: str
    source: str | None
    shape: tuple[int, ...]
    differentiable: bool
    slot: int | str
    value: torch.Tensor = field(repr=False, compare=False)

    @property
    def base(self) -> sp.IndexedBase:
        return S.tensor(self.symbol)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, idx: Any) -> sp.Expr:
        idx = idx if isinstance(idx, tuple) else (idx,)
        if not idx:
            return sp.Symbol(self.symbol, real=True)
        return self.base[idx]
