"""The tolerance table: how close a derived number must be to torch's to count as equal.

One table for every consumer — verification (``Derivation.verify``), the OpInfo sweep, the
gradient checker — per dtype, plus the documented exceptions a rule may declare
(``Tolerance``: torch's kernel is known to be less exact than the math, and why).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch


class Tol(NamedTuple):
    """An absolute and a relative tolerance."""

    atol: float
    rtol: float


# Verification of a step or a gradient computed in this dtype (float32 and below: the relative
# error OR the absolute error must be small; float64: |Δ| ≤ atol + rtol·max|ref|).
BY_DTYPE: dict[torch.dtype, Tol] = {
    torch.float64: Tol(1e-10, 1e-12),
    torch.float32: Tol(1e-7, 1e-5),
    torch.float16: Tol(1e-3, 1e-2),
    torch.bfloat16: Tol(1e-2, 1e-2),
}
OPINFO = Tol(1e-10, 1e-9)        # the OpInfo sweep: float64 samples, elementwise allclose
GRADCHECK = Tol(1e-8, 1e-6)      # assert_gradients_match's defaults: your backward vs the derived gradient
FAITHFUL = Tol(1e-9, 1e-7)       # a traced formula must reproduce its own numbers at the example point

MAX_TOLERANCE = 1e-6  # a documented inexactness of torch's kernel, not a place to hide a wrong formula
WITHIN = "within the rule's tolerance: "  # how verification notes a check passed by a Tolerance


def for_dtype(dtype: torch.dtype) -> Tol:
    """The verification tolerance of ``dtype`` (float64's for anything not listed)."""
    return BY_DTYPE.get(dtype, BY_DTYPE[torch.float64])


def is_reduced(dtype: torch.dtype) -> bool:
    """float32 and below: compared by relative error (or absolute, whichever passes)."""
    return dtype in (torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class Tolerance:
    """How far torch's kernel is known to stray from a rule's exact formula, and why.

    Verification (``Derivation.verify``) and the coverage tool pass a check of the rule that
    fails the usual tolerance but holds within ``atol + rtol·|ref|``, showing ``reason`` with it.
    """

    reason: str
    atol: float = 0.0
    rtol: float = 0.0

    def valid(self) -> bool:
        """A reason is given and both bounds lie in [0, MAX_TOLERANCE]."""
        return (bool(self.reason.strip()) and 0 <= self.atol <= MAX_TOLERANCE
                and 0 <= self.rtol <= MAX_TOLERANCE)

    def widen(self, tol: tuple[float, float]) -> Tol:
        """``(atol, rtol)`` widened to this exception's bounds where they are larger."""
        atol, rtol = tol
        return Tol(max(atol, self.atol), max(rtol, self.rtol))
