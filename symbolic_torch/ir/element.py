"""``Element``: one element of a formula, instantiated and expanded with the run's numbers."""
from __future__ import annotations

import math
from dataclasses import dataclass


def fmt(v: float, paren: bool = False) -> str:
    """A number for LaTeX: 4 significant digits, NaN and ∞ spelled out.

    >>> fmt(1234567.0)
    '1.235 \\\\cdot 10^{6}'
    """
    if math.isnan(v):
        return r"\mathrm{NaN}"
    if math.isinf(v):
        return r"\infty" if v > 0 else (r"(-\infty)" if paren else r"-\infty")
    s = f"{v:.4g}"
    if "e" in s:
        mant, ex = s.split("e")
        s = rf"{mant} \cdot 10^{{{int(ex)}}}"
    return f"({s})" if paren and v < 0 else s


@dataclass(frozen=True)
class Element:
    """One element of a formula, instantiated and expanded with numbers.

    ``latex`` is the full line ``lhs = formula at the position = numbers = value``;
    ``terms`` is the number of terms of the expansion (before truncation).
    """

    step: str
    kind: str  # "forward" or the operand key of a gradient
    position: tuple[int, ...]
    value: float
    terms: int
    lhs_latex: str
    formula_latex: str
    numbers_latex: str
    expected: float | None = None
    status: str = "unverified"

    @property
    def latex(self) -> str:
        """``lhs = formula = numbers = value``."""
        return f"{self.lhs_latex} = {self.formula_latex} = {self.numbers_latex} = {fmt(self.value)}"

    def __str__(self) -> str:
        return self.latex

    def _repr_latex_(self) -> str:
        from symbolic_torch.printing.notebook import element_latex_repr
        return element_latex_repr(self)

    def _repr_html_(self) -> str:
        from symbolic_torch.printing.notebook import element_html
        return element_html(self)
