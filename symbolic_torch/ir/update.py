"""``BufferUpdate``: a buffer an op moves as a side effect, beside its differentiated formula.

BatchNorm and InstanceNorm in train mode update their running statistics,
``μ̂[c] ← (1 − m)·μ̂[c] + m·s·μ_B[c]``. That is computed, not differentiated; the rule
records it as data (the statistic's formula, the momentum, the values before and after),
verification evaluates it against the buffer the run left, and printers render it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import sympy as sp
import torch


@dataclass(frozen=True, eq=False)
class BufferUpdate:
    """``buffer[index] ← (1 − factor)·buffer[index] + factor·scale·statistic``.

    ``symbol`` names the buffer in formulas (``mu``, ``var``); ``statistic`` is an index
    formula over ``index`` (0 … ``size`` − 1) that reads the tensors in ``env`` (by symbol);
    ``before`` is the buffer as the run found it (None when it was not kept, e.g. a buffer
    handed to ``F.instance_norm``), ``after`` as the run left it.
    """

    buffer: str
    symbol: str
    index: sp.Symbol
    size: int
    factor: sp.Expr
    scale: sp.Expr
    statistic: sp.Expr
    env: Mapping[str, torch.Tensor] = field(repr=False)
    after: torch.Tensor = field(repr=False)
    before: torch.Tensor | None = field(default=None, repr=False)

    @property
    def key(self) -> str:
        """The verification row's key: ``"running_mean update"``."""
        return f"{self.buffer} update"

    @property
    def old(self) -> sp.Indexed:
        """The buffer's element before the update, ``μ̂[c]``."""
        return sp.IndexedBase(self.symbol, real=True)[self.index]

    @property
    def formula(self) -> sp.Expr:
        """The right side of the update, in ``old`` and the statistic."""
        return (1 - self.factor) * self.old + self.factor * self.scale * self.statistic

    @property
    def checkable(self) -> bool:
        """Whether the buffer before the run is known, so the update can be verified."""
        return self.before is not None
