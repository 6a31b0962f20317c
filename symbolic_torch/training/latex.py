"""LaTeX of update formulas: the package's printer, taught the time-stamped optimizer symbols.

``θ_prev`` prints as θ⁽ᵗ⁻¹⁾, ``θ`` as θ⁽ᵗ⁾, the state ``b``, ``m``, ``v`` likewise, AMSGrad's
running maximum ``vmax`` as v̂⁽ᵗ⁾, and the derived gradient as ∂L/∂θ⁽ᵗ⁻¹⁾:

>>> latex(formulas.sgd({"lr": 0.1}, 1, (i,))[0])
'\\\\theta^{(t)}_{i} = - \\\\gamma \\\\frac{\\\\partial L}{\\\\partial \\\\theta^{(t-1)}_{i}} + \\\\theta^{(t-1)}_{i}'
"""
from __future__ import annotations

from typing import Any, Mapping

import sympy as sp
import torch

from symbolic_torch.ir.element import fmt

from symbolic_torch.printing.latex import SymbolicLatexPrinter
from symbolic_torch.training import formulas as F

_STAMP = {F.THETA: r"\theta^{(t-1)}", F.THETA_NEW: r"\theta^{(t)}", F.G: r"g^{(t)}",
          "vmax": r"\hat{v}^{(t)}", "vmax" + F.PREV: r"\hat{v}^{(t-1)}"}
for _name in ("b", "m", "v"):
    _STAMP[_name] = rf"{_name}^{{(t)}}"
    _STAMP[_name + F.PREV] = rf"{_name}^{{(t-1)}}"


class UpdateLatexPrinter(SymbolicLatexPrinter):
    """The package's LaTeX printer with the optimizer's time-stamped tensors."""

    def _label(self, name: str) -> str:
        return _STAMP.get(name) or super()._label(name)

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if expr.name in _STAMP:  # a 0-d parameter or state
            return _STAMP[expr.name]
        return super()._print_Symbol(expr, style=style)

    def _print_Pow(self, expr: sp.Pow) -> str:
        base, ex = expr.args
        stamped = isinstance(base, sp.Indexed) or (isinstance(base, sp.Symbol) and base.name in _STAMP)
        if stamped and ex.is_Integer and ex > 1:  # x^{(t)}_{i}^{2} would be a double superscript
            inner = self._print(base)
            inner = inner if inner.startswith("(") and inner.endswith(")") else rf"\left({inner}\right)"
            return rf"{inner}^{{{self._print(ex)}}}"
        return super()._print_Pow(expr)

    def _print_Equality(self, expr: sp.Eq) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"


class ElementPrinter(UpdateLatexPrinter):
    """An update formula at one element, printed in the formula's own order: each index
    replaced by its position and, given ``env``, each tensor element and hyper-parameter by
    its value (``θ_{0,1} − γ ∂L/∂θ_{0,1}`` → ``0.31 − 0.1 × 0.2``)."""

    def __init__(self, settings: dict[str, Any], position: Mapping[sp.Symbol, int],
                 env: Mapping[str, torch.Tensor] | None = None) -> None:
        super().__init__(settings)
        self.position, self.env = position, env

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        pos = tuple(self.position.get(i, i) for i in expr.indices)
        if self.env is None:
            return super()._print_Indexed(sp.Indexed(expr.base, *pos))
        return fmt(float(self.env[str(expr.base.label)][tuple(int(p) for p in pos)]), paren=True)

    def _print_Symbol(self, expr: sp.Symbol, style: str = "plain") -> str:
        if self.env is not None and expr.name in self.env:
            return fmt(float(self.env[expr.name]), paren=True)
        return super()._print_Symbol(expr, style=style)


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX of an update formula (or any expression in its symbols)."""
    return UpdateLatexPrinter({"order": "none", **settings}).doprint(expr)


def element_latex(expr: sp.Basic, position: Mapping[sp.Symbol, int],
                  env: Mapping[str, torch.Tensor] | None = None) -> str:
    """``expr`` at one element: indices replaced by ``position``, and values from ``env`` if given."""
    return ElementPrinter({"order": "none", "mul_symbol": "times" if env is not None else None},
                          position, env).doprint(expr)
