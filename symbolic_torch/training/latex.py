"""LaTeX of update formulas: the package's printer, taught the time-stamped optimizer symbols.

``θ_prev`` prints as θ⁽ᵗ⁻¹⁾, ``θ`` as θ⁽ᵗ⁾, the state ``b``, ``m``, ``v`` likewise, AMSGrad's
running maximum ``vmax`` as v̂⁽ᵗ⁾, and the derived gradient as ∂L/∂θ⁽ᵗ⁻¹⁾:

>>> latex(formulas.sgd({"lr": 0.1}, 1, (i,))[0])
'\\\\theta^{(t)}_{i} = - \\\\gamma \\\\frac{\\\\partial L}{\\\\partial \\\\theta^{(t-1)}_{i}} + \\\\theta^{(t-1)}_{i}'
"""
from __future__ import annotations

from typing import Any

import sympy as sp

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
            return rf"\left({self._print(base)}\right)^{{{self._print(ex)}}}"
        return super()._print_Pow(expr)

    def _print_Equality(self, expr: sp.Eq) -> str:
        return f"{self._print(expr.lhs)} = {self._print(expr.rhs)}"


def latex(expr: Any, **settings: Any) -> str:
    """LaTeX of an update formula (or any expression in its symbols)."""
    return UpdateLatexPrinter({"order": "none", **settings}).doprint(expr)
