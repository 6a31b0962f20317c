"""Notation the rules write beyond sympy's own functions (pure sympy: no numbers here).

The evaluator (``symbolic_torch.numeric``) knows how to compute each of them.

Step functions (floor, ceil, trunc, round, sign) have derivative 0 wherever it exists,
which is what torch's backward uses; these classes say so (sympy's own ``sign`` answers
``2·DiracDelta``, its ``floor`` an unevaluated ``Derivative``).
"""
from __future__ import annotations

from typing import Any

import sympy as sp


class _Step:
    """Mixin: piecewise constant, so ∂/∂x = 0."""

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.S.Zero

    def _eval_derivative(self, s: sp.Basic) -> sp.Expr:
        return sp.S.Zero


class Floor(_Step, sp.floor):
    """⌊x⌋ with ∂ = 0."""


class Ceiling(_Step, sp.ceiling):
    """⌈x⌉ with ∂ = 0."""


class Sign(_Step, sp.sign):
    """sign(x) ∈ {−1, 0, 1} with ∂ = 0 (torch's sign and sgn)."""


class Trunc(_Step, sp.Function):
    """x rounded toward zero, ∂ = 0."""

    is_real = True

    def _latex(self, printer: Any) -> str:
        return r"\operatorname{trunc}\left(%s\right)" % printer._print(self.args[0])


class Round(_Step, sp.Function):
    """x rounded half to even (torch.round), ∂ = 0."""

    is_real = True

    def _latex(self, printer: Any) -> str:
        return r"\operatorname{round}\left(%s\right)" % printer._print(self.args[0])


class Ndtr(sp.Function):
    """Φ(x), the standard normal CDF; Φ' = e^{−x²/2}/√(2π).

    A class of its own: sympy would rewrite erfc(−x/√2)/2 as 1 − erfc(x/√2)/2, which
    loses every digit of Φ in the left tail (log Φ and its derivative need them).
    """

    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return sp.exp(-self.args[0] ** 2 / 2) / sp.sqrt(2 * sp.pi)

    def _latex(self, printer: Any) -> str:
        return r"\Phi\left(%s\right)" % printer._print(self.args[0])


class ExpShift(sp.Function):
    """e^{x − M}: an exponential shifted by a constant M ≥ x, kept as one factor.

    ``sp.exp(x − M)`` would be split into e^{x}·e^{−M} when the delta pass expands
    products, which overflows for large x; the shift exists to avoid exactly that.
    Evaluated as e^{min(x − M, 0)}: where x > M the term is one a ``[j ≤ k]`` factor
    zeroes (a running max shifts a cumulative sum), and 0·∞ must not become NaN.
    """

    is_real = True
    nargs = 2

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return self if argindex == 1 else -self

    def _latex(self, printer: Any) -> str:
        return r"e^{%s - %s}" % (printer._print(self.args[0]), printer._print(self.args[1]))


class Entr(sp.Function):
    """−x·log x for x > 0, 0 at 0, −∞ below; ∂ = −(1 + log x) everywhere (torch's entr backward:
    +∞ at 0, NaN below 0), which a piecewise form would not give."""

    is_real = True

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        return -(1 + sp.log(self.args[0]))

    def _latex(self, printer: Any) -> str:
        return r"\operatorname{entr}\left(%s\right)" % printer._print(self.args[0])


class ScaledBesselI(sp.Function):
    """e^{−|x|}·I_ν(x) for an integer order ν ≥ 0 (torch's i0e, i1e).

    ∂/∂x = (Ĩ_{|ν−1|}(x) + Ĩ_{ν+1}(x))/2 − sign(x)·Ĩ_ν(x), since I_{−1} = I_1.
    """

    is_real = True
    nargs = 2

    def fdiff(self, argindex: int = 2) -> sp.Expr:
        nu, x = self.args
        if argindex != 2:
            raise sp.ArgumentIndexError(self, argindex)
        return (ScaledBesselI(abs(nu - 1), x) + ScaledBesselI(nu + 1, x)) / 2 - Sign(x) * self

    def _latex(self, printer: Any) -> str:
        return r"e^{-\left|%s\right|} I_{%s}\left(%s\right)" % (
            printer._print(self.args[1]), printer._print(self.args[0]), printer._print(self.args[1]))
