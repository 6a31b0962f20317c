"""What a gradient check found: the record, its mismatches, and how a mismatch is measured."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sympy as sp
import torch

from symbolic_torch.gradcheck.equivalence import Proof, element_symbols
from symbolic_torch.gradcheck.formulas import Formulas
from symbolic_torch.gradcheck.report import render
from symbolic_torch.gradcheck.sampling import Batch, locate


@dataclass(frozen=True)
class Mismatch:
    """The worst element of one wrong gradient, with the point where it is wrong."""

    name: str
    position: tuple[int, ...]
    derived: sp.Expr | None
    yours: sp.Expr | None
    difference: sp.Expr | None
    point: dict[sp.Basic, float]  # the scalars the formulas read, at the counterexample
    derived_value: float
    your_value: float
    allowed: float
    wrong_elements: int
    total_elements: int
    swapped_with: str | None = None
    order: int = 1
    on_branch: tuple[sp.Expr, sp.Expr] | None = None  # (derived, yours) on the counterexample's branch


@dataclass
class GradientCheck:
    """What ``check_gradients`` found; ``ok`` is True when nothing is wrong."""

    function: str
    truth: Formulas | None = None
    user: Formulas | None = None
    proofs: dict[str, list[Proof]] = field(default_factory=dict)
    points: int = 0
    branch_points: int = 0
    problems: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    order: int = 1
    forward: Any = None  # the Function's forward, whose source the report shows (latexify-py)

    @property
    def ok(self) -> bool:
        return not (self.problems or self.mismatches)

    def proved(self, name: str) -> bool:
        """True when every element of ``name``'s gradient was proved equal symbolically."""
        return bool(self.proofs.get(name)) and all(p.proved for p in self.proofs[name])

    def __str__(self) -> str:
        return render(self)


def excess(ref: torch.Tensor, got: torch.Tensor, atol: float, rtol: float) -> torch.Tensor:
    """|got − ref| / (atol + rtol·|ref|) where ref is finite (a non-finite got there counts as ∞)."""
    finite = torch.isfinite(ref)
    ratio = (got - ref).abs() / (atol + rtol * ref.abs())
    ratio = torch.where(finite & ~torch.isfinite(got), torch.inf, ratio)
    return torch.where(finite, ratio.nan_to_num(torch.inf), torch.zeros((), dtype=ref.dtype))


def point(batch: Batch, i: int, name: str, pos: tuple[int, ...], *formulas: sp.Expr | None) -> dict[sp.Basic, float]:
    """The scalars the formulas read (or the element itself), at point ``i`` of the batch."""
    atoms: set[sp.Basic] = set()
    for f in formulas:
        if f is not None:
            atoms |= element_symbols(sp.sympify(f))
    if not atoms:
        atoms = {sp.IndexedBase(name)[pos] if pos else sp.Symbol(name)}
    out = {}
    for a in sorted(atoms, key=sp.default_sort_key):
        n, p = locate(a)
        if n in batch:
            out[a] = float(batch[n][(i, *p)])
    return out
