"""Primitives sympy cannot differentiate on its own.

``WindowMax`` is the max over a window of index values (max pooling). Like
``sympy.sin`` it is a ``Function`` subclass that knows its own derivative:
``fdiff`` gives ∂max/∂body at a window position, the indicator that the
position is the window's first argmax (what torch's kernels select on ties).
"""
from __future__ import annotations

import sympy as sp


def _limits(args: tuple[sp.Basic, ...]) -> tuple[sp.Tuple, ...]:
    return tuple(a for a in args if isinstance(a, sp.Tuple))


class _Window(sp.Function):
    """A function of a body over bound window variables; sympy never evaluates it."""

    is_real = True

    @classmethod
    def eval(cls, *args: sp.Basic) -> None:
        return None

    @property
    def body(self) -> sp.Expr:
        return self.args[0]


class WindowMax(_Window):
    """``WindowMax(body, (p, lo, hi), (q, lo, hi)[, guard])`` = max over p, q of body.

    The limit variables are bound, as in ``Sum``. Window cells where the
    optional ``guard`` (a condition, e.g. "inside the unpadded input") is false
    count as −∞: max pooling's padding. The guard is a plain argument, not a
    ``Piecewise`` body, so that sympy's piecewise folding cannot pull the bound
    variables out of the window.
    """

    @property
    def limits(self) -> tuple[sp.Tuple, ...]:
        return _limits(self.args[1:])

    @property
    def variables(self) -> tuple[sp.Symbol, ...]:
        return tuple(lim[0] for lim in self.limits)

    @property
    def guard(self) -> sp.Basic:
        last = self.args[-1]
        return sp.true if isinstance(last, sp.Tuple) else last

    @property
    def free_symbols(self) -> set[sp.Basic]:
        inner = (self.body.free_symbols | self.guard.free_symbols) - set(self.variables)
        for lim in self.limits:
            inner |= lim[1].free_symbols | lim[2].free_symbols
        return inner

    def fdiff(self, argindex: int = 1) -> sp.Expr:
        """∂ max_w body(w) / ∂ body(w) = [w is the window's first argmax]."""
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        fresh = {v: sp.Dummy(str(v), integer=True) for v in self.variables}
        limits = [sp.Tuple(fresh[lim[0]], lim[1], lim[2]) for lim in self.limits]
        body = self.body.xreplace(fresh)
        return WindowArgmax(body, *limits, self.guard.xreplace(fresh), sp.Tuple(*self.variables))

    def _eval_derivative(self, s: sp.Basic) -> sp.Expr:
        inner = self.body.diff(s)
        if inner == 0:
            return sp.S.Zero
        return sp.Sum(self.fdiff() * inner, *[tuple(lim) for lim in self.limits])

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        under = ",".join(printer._print(v) for v in self.variables)
        if self.guard != sp.true:  # padded cells hold −∞
            under += r"\,:\,\text{inside}"
        return r"\max_{%s} %s" % (under, printer.parenthesize(self.body, 1000))

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        under = ", ".join(printer._print(v) for v in self.variables)
        return f"max_{{{under}}}({printer._print(self.body)})"


class WindowArgmax(_Window):
    """``WindowArgmax(body, *limits, guard, (p0, q0))``: 1 where (p0, q0) is the first argmax."""

    is_nonnegative = True

    @property
    def limits(self) -> tuple[sp.Tuple, ...]:
        return _limits(self.args[1:-2])

    @property
    def guard(self) -> sp.Basic:
        return self.args[-2]

    @property
    def position(self) -> sp.Tuple:
        return self.args[-1]

    @property
    def free_symbols(self) -> set[sp.Basic]:
        bound = {lim[0] for lim in self.limits}
        return ((self.body.free_symbols | self.guard.free_symbols) - bound) | self.position.free_symbols

    def _eval_derivative(self, s: sp.Basic) -> sp.Expr:
        return sp.S.Zero  # piecewise constant

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        pos = ",".join(printer._print(p) for p in self.position)
        return r"\left[%s = \operatorname{argmax}\right]" % pos

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        pos = ", ".join(printer._print(p) for p in self.position)
        return f"[({pos}) = argmax]"


class Iverson(sp.Function):
    """``Iverson(cond)`` = 1 where ``cond`` holds, else 0 (written ``[cond]``).

    A factor rather than a ``Piecewise`` so that sympy's piecewise folding
    never lifts a condition on a summation index out of its ``Sum``.
    """

    is_real = True
    is_nonnegative = True

    @classmethod
    def eval(cls, cond: sp.Basic) -> sp.Expr | None:
        if cond == sp.true:
            return sp.S.One
        if cond == sp.false:
            return sp.S.Zero
        return None

    def _eval_derivative(self, s: sp.Basic) -> sp.Expr:
        return sp.S.Zero  # piecewise constant

    def _latex(self, printer: sp.printing.latex.LatexPrinter) -> str:
        return r"\left[%s\right]" % printer._print(self.args[0])

    def _sympystr(self, printer: sp.printing.str.StrPrinter) -> str:
        return f"[{printer._print(self.args[0])}]"
