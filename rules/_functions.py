"""sympy functions the math rules use beyond the evaluator's built-ins, taught to it here.

Step functions (floor, ceil, trunc, round, sign) have derivative 0 wherever it exists,
which is what torch's backward uses; these classes say so (sympy's own ``sign`` answers
``2·DiracDelta``, its ``floor`` an unevaluated ``Derivative``).
"""
from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from symbolic_torch.numeric.evaluate import _ev, register


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


def _product(e: sp.Product, g: Any) -> torch.Tensor:
    """Π over the limits, whose bounds may depend on the grid's indices (Π_{j<k}: a cumprod's)."""
    inner, bounds = g, []
    for sym, lo, hi in e.limits:
        lo_t, hi_t = _ev(lo, inner), _ev(hi, inner)
        a, b = int(lo_t.min()), int(hi_t.max())
        if b < a:  # empty everywhere
            return g.scalar(1.0)
        inner = inner.bind(sym, a, b)
        bounds.append((sym, lo_t, hi_t))
    body = inner.lift(_ev(e.function, inner).to(torch.float64))
    for sym, lo_t, hi_t in bounds:  # outside its own bounds a factor is 1
        v = inner.lift(inner.values[sym])
        body = torch.where((v >= inner.lift(lo_t)) & (v <= inner.lift(hi_t)), body, torch.ones((), dtype=body.dtype))
    body = body.expand(list(body.shape[: g.ndim]) + list(torch.broadcast_shapes(body.shape, tuple(
        [1] * g.ndim + inner.sizes[g.ndim:]))[g.ndim:]))
    for d in reversed(range(g.ndim, inner.ndim)):
        body = body.prod(dim=d)
    return body


def _teach(cls: type, fn: Callable[..., torch.Tensor]) -> None:
    register(cls, lambda e, g: fn(*[_ev(a, g).to(torch.float64) for a in e.args]))


_teach(Ndtr, lambda x: torch.erfc(-x / 2 ** 0.5) / 2)  # torch.special.ndtr loses the far left tail
_teach(ExpShift, lambda x, m: torch.exp((x - m).clamp(max=0)))
_teach(Trunc, torch.trunc)
_teach(Round, torch.round)
_teach(sp.asinh, torch.asinh)
_teach(sp.acosh, torch.acosh)
_teach(sp.atanh, torch.atanh)
_teach(sp.erfc, torch.erfc)
_teach(sp.erfinv, torch.erfinv)
_teach(sp.loggamma, torch.lgamma)
_teach(sp.atan2, torch.atan2)
register(sp.Product, _product)
register(sp.polygamma, lambda e, g: torch.polygamma(int(e.args[0]), _ev(e.args[1], g).to(torch.float64)))
