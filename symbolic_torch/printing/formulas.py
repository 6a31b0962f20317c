"""Forward formulas as the handout shows them: a loss with mean reduction keeps its 1/N in view.

sympy folds ``(1/N)·Σ`` into ``Σ/N`` and drops ``1/1`` entirely, so a cross-entropy over one sample
would read as a plain sum. ``forward_latex`` writes ``L = \\frac{1}{N} Σ …`` with this run's N
whenever the op is a loss with ``reduction='mean'``.

>>> forward_latex(d["loss"])                               # doctest: +SKIP
'L = \\frac{1}{1} \\sum_{n=0}^{0} \\left(\\log{...} - x_{n,t_{n}}\\right)'
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING

import sympy as sp

from symbolic_torch.printing.attributes import is_loss, op_attributes
from symbolic_torch.printing.latex import latex

if TYPE_CHECKING:
    from symbolic_torch.ir.element import Element
    from symbolic_torch.ir.step import Step


def sum_count(e: sp.Basic) -> int:
    """The number of terms of ``e``'s outermost Σ (all its indices together); 0 without one."""
    if not isinstance(e, sp.Sum):
        sums = [a for a in sp.Add.make_args(e) for a in sp.Mul.make_args(a) if isinstance(a, sp.Sum)]
        if not sums:
            return 0
        e = sums[0]
    return math.prod(int(hi) - int(lo) + 1 for _, lo, hi in e.limits)


def mean_divisor(step: "Step") -> tuple[sp.Expr, sp.Expr] | None:
    """``(N, the summed body)`` of a loss with mean reduction (``N`` may be 1 or a weight sum);
    ``None`` for other steps."""
    attrs = op_attributes(step)
    if not is_loss(attrs.family) or attrs.get("reduction", "mean") != "mean":
        return None
    num, den = sp.fraction(step.forward.rhs)
    if den != 1:
        return den, num
    if isinstance(num, sp.Sum):  # a mean over one element: sympy dropped the 1/1
        return sp.Integer(1), num
    return None


def _body(e: sp.Expr) -> str:
    text = latex(e)
    return rf"\left({text}\right)" if isinstance(e, sp.Add) else text


def forward_latex(step: "Step") -> str:
    """The step's forward formula as LaTeX, ``\\frac{1}{N}`` in front of a mean loss's sum."""
    mean = mean_divisor(step)
    if mean is None:
        return latex(step.forward)
    n, body = mean
    return rf"{latex(step.forward.lhs)} = \frac{{1}}{{{latex(n)}}} {_body(body)}"


def forward_element(step: "Step", position: tuple[int, ...]) -> "Element":
    """``step.at(position)``, its formula and numbers written with the 1/N of a mean loss."""
    e = step.at(position)
    mean = mean_divisor(step)
    if mean is None:
        return e
    from symbolic_torch.printing.worked import numeric
    n, body = mean
    numbers, _ = numeric(body, step.env(adjoint=False))
    count, _ = numeric(n, step.env(adjoint=False))
    return replace(e, formula_latex=rf"\frac{{1}}{{{latex(n)}}} {_body(body)}",
                   numbers_latex=rf"\frac{{1}}{{{count}}} " + (numbers if isinstance(body, sp.Sum) else rf"\left({numbers}\right)"))
