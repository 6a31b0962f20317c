"""LaTeX printer: sympy's, taught our notation, plus ``_print_Step`` and ``_print_Derivation``.

Tensors print as ``x_{n,i}``, the adjoint as ``\\bar{g}``, gradients as
``\\partial L / \\partial x_{n,i}``; sums as ``\\sum_{c=0}^{2}`` per index;
guarded terms as Iverson brackets ``[i - p \\geq 0]``; ``s \\mid k`` for divisibility.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import sympy as sp
from sympy.printing.latex import LatexPrinter, translate
from sympy.printing.latex import greek_letters_set as GREEK

from symbolic_torch.ir import symbols as S
from symbolic_torch.printing.text import text

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation, Step
    from symbolic_torch.ir.update import BufferUpdate

_SPECIAL = {S.ADJOINT: r"\bar{g}"}


class SymbolicLatexPrinter(LatexPrinter):
    """sympy's LatexPrinter with index notation and IR printing."""

    _default_settings = {**LatexPrinter._default_settings, "elements": True}

    def _label(self, name: str) -> str:
        if name in _SPECIAL:
            return _SPECIAL[name]
        if name.startswith(S.GRAD_PREFIX):
            return rf"\frac{{\partial L}}{{\partial {self._label(name[len(S.GRAD_PREFIX):])}}}"
        return label_latex(name)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        name = str(expr.base.label)
        idx = ",".join(self._print(i) for i in expr.indices)
        if name.startswith(S.GRAD_PREFIX):
            return rf"\frac{{\partial L}}{{\partial {self._label(name[len(S.GRAD_PREFIX):])}_{{{idx}}}}}"
        return f"{self._label(name)}_{{{idx}}}"

    def _print_IndexedBase(self, expr: sp.IndexedBase) -> str:
        return self._label(str(expr.label))

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        name = expr.name
        if name in _SPECIAL or name.startswith(S.GRAD_PREFIX):
            return self._label(name)
        if name.endswith("'"):
            return self._print_Symbol(sp.Symbol(name.rstrip("'"))) + "'" * (len(name) - len(name.rstrip("'")))
        if not name.isascii():
            return rf"\mathrm{{{text(name)}}}"
        return super()._print_Symbol(expr, style=style)

    def _print_Sum(self, expr: sp.Sum) -> str:
        heads = "".join(rf"\sum_{{{self._print(v)}={self._print(lo)}}}^{{{self._print(hi)}}} "
                        for v, lo, hi in expr.limits)
        body = expr.function
        inner = self._print(body)
        if isinstance(body, sp.Add):
            inner = rf"\left({inner}\right)"
        return heads + inner

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        if len(expr.args) == 2 and expr.args[1] == (0, True):
            value, cond = expr.args[0]
            if value.could_extract_minus_sign():
                return "-" + self._print(sp.Piecewise((-value, cond), (0, True)))
            if value == 1:
                return rf"\left[{self._print(cond)}\right]"
            val = self._print(value)
            if isinstance(value, sp.Add):
                val = rf"\left({val}\right)"
            return rf"\left[{self._print(cond)}\right] {val}"
        return super()._print_Piecewise(expr)

    def _print_Equality(self, expr: sp.Eq) -> str:
        if isinstance(expr.lhs, sp.Mod) and expr.rhs == 0:
            x, n = expr.lhs.args
            return rf"{self._print(n)} \mid {self.parenthesize(x, 1000) if isinstance(x, sp.Add) else self._print(x)}"
        return super()._print_Relational(expr)

    def _print_Step(self, step: "Step") -> str:
        lines = [rf"{self._print(step.forward.lhs)} &= {self._print(step.forward.rhs)}"]
        for key, eq in step.gradients.items():
            lines.append(rf"{self._print(eq.lhs)} &= {self._print(eq.rhs)}")
        return r"\begin{aligned}" + r"\\ ".join(lines) + r"\end{aligned}"

    def _print_Derivation(self, d: "Derivation") -> str:
        return derivation_latex(d)


def label_latex(name: str) -> str:
    """A tensor or step name as a LaTeX symbol: ``x0`` → ``{x_{0}}``, ``alpha`` → ``\\alpha``."""
    m = re.fullmatch(r"([A-Za-z]+)(\d+)", name)
    if m:
        return f"{{{label_latex(m.group(1))}_{{{m.group(2)}}}}}"
    if re.fullmatch(r"[A-Za-z]", name):
        return name
    if name.lower() in GREEK:
        return translate(name)
    return rf"\mathrm{{{text(name)}}}"


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX for a sympy expression, a Step or a Derivation in our notation."""
    return SymbolicLatexPrinter(settings).doprint(expr)


def status_text(status: str) -> str:
    return {"verified": r"verified against autograd", "failed": r"FAILED verification — do not use",
            "unverified": r"not verified"}[status]


def update_latex(u: BufferUpdate, status: str = "unverified") -> str:
    """A buffer update as one line: ``μ_c ← 0.9 μ_c + 0.1 · (statistic) = [the run's values]``.

    An update that failed verification is named, not shown as if it were right; one whose
    buffer before the run is unknown is marked "(not checked)".
    """
    if status == "failed":
        return rf"\text{{{text(u.buffer)} update: FAILED verification}}"
    stat = latex(u.statistic) if u.scale == 1 else rf"{latex(u.scale)}\left({latex(u.statistic)}\right)"
    line = rf"{latex(u.old)} \leftarrow {latex(1 - u.factor)}\,{latex(u.old)} + {latex(u.factor)} \cdot {stat}"
    if not u.checkable:
        line += r"\quad\text{(not checked)}"
    values = ", ".join(f"{v:.4g}" for v in u.after.reshape(-1).tolist()[:8])
    more = r", \ldots" if u.size > 8 else ""
    return line + rf" = \left[{values}{more}\right]"


def derivation_latex(d: "Derivation") -> str:
    """The derivation as a LaTeX fragment: per step, forward and backward formulas."""
    out = []
    for step in d.steps:
        out.append(rf"\paragraph{{{text(step.name)} ({text(step.op)})}}")
        out.append(r"\[" + latex(step.forward) + r"\]")
        for key, eq in step.gradients.items():
            tag = status_text(step.status(key))
            if step.status(key) == "failed":
                out.append(rf"\textbf{{{text(key)}: {tag}.}}")
                continue
            out.append(r"\[" + latex(eq) + rf"\qquad\text{{({tag})}}\]")
        for note in step.notes:  # e.g. running statistics: computed, not differentiated
            out.append(r"\[" + note + r"\]")
    return "\n".join(out)
