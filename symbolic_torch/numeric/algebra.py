"""Handlers for the algebra of index formulas: symbols, tensor reads, +, ·, powers, conditions.

Index arithmetic stays exact: rational coefficients are applied as integer multiples over
one denominator, so a read at ``(h − k)/2`` lands on an integer exactly where it should.
"""
from __future__ import annotations

import math
from typing import Callable

import sympy as sp
import torch

from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.numeric.grid import Grid, Handler, register
from symbolic_torch.numeric.padding import gather


def _symbol(e: sp.Symbol, g: Grid) -> torch.Tensor:
    if e in g.values:
        return g.lift(g.values[e])
    if str(e) in g.env:  # a 0-d tensor
        return g.scalar(0.0) + g.env[str(e)].reshape(())
    raise KeyError(f"index {e} has no range here")


def _indexed(e: sp.Indexed, g: Grid) -> torch.Tensor:
    t = g.env[str(e.base.label)]
    if t.dim() != len(e.indices):
        raise ValueError(f"{e}: tensor has {t.dim()} dims, formula uses {len(e.indices)}")
    return g.scalar(0.0) + gather(t, [g.eval(i).to(torch.float64) for i in e.indices])


def _add(e: sp.Add, g: Grid) -> torch.Tensor:
    # Rational coefficients share one denominator so that index arithmetic such as
    # a/3 − k/3 + 1/3 stays exact: Σ (D·cᵢ)·tᵢ is an exact integer sum, divided once by D.
    denom = math.lcm(*[int(a.as_coeff_Mul()[0].q) if a.as_coeff_Mul()[0].is_Rational else 1 for a in e.args])
    if denom == 1:
        out = g.eval(e.args[0])
        for a in e.args[1:]:
            out = out + g.eval(a)
        return out
    out = g.scalar(0.0)
    for a in e.args:
        c, rest = a.as_coeff_Mul()
        out = out + (g.eval(rest) * int(c * denom) if c.is_Rational else g.eval(a) * denom)
    return out / denom


def _mul(e: sp.Mul, g: Grid) -> torch.Tensor:
    c, rest = e.as_coeff_Mul()
    if c.is_Rational and c.q != 1:  # (p·x)/q is exact where the result is an integer; x·(p/q) is not
        return g.eval(rest) * int(c.p) / int(c.q)
    gates = [a for a in e.args if isinstance(a, Iverson)]
    factors = [a for a in e.args if not isinstance(a, Iverson)]
    out = g.eval(factors[0]) if factors else g.scalar(1.0)
    for a in factors[1:]:
        out = out * g.eval(a)
    for a in gates:  # a false [cond] absorbs NaN ([x not NaN]·x is 0 where x is NaN), not ±inf: 0·inf = NaN
        off = torch.where(torch.isinf(out), torch.full((), math.nan, dtype=out.dtype), 0.0)
        out = torch.where(g.eval(a.args[0]), out, off.to(out.dtype))
    return out


def _pow(e: sp.Pow, g: Grid) -> torch.Tensor:
    base, ex = e.args
    b = g.eval(base)
    if ex == sp.S.Half:
        return torch.sqrt(b)
    if ex.is_Integer:
        return b ** int(ex)
    return b ** g.eval(ex)


def _piecewise(e: sp.Piecewise, g: Grid) -> torch.Tensor:
    """The first branch whose condition holds; where none does, undefined (NaN), as in sympy."""
    out = g.scalar(math.nan)
    for value, cond in reversed(e.args):
        out = g.eval(value) if cond == sp.true else torch.where(g.eval(cond), g.eval(value), out)
    return out


def _fold(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Handler:
    """op applied left to right over the arguments (And, Or, Max, a relation's two sides)."""
    def run(e: sp.Basic, g: Grid) -> torch.Tensor:
        out = g.eval(e.args[0])
        for a in e.args[1:]:
            out = op(out, g.eval(a))
        return out
    return run


for _cls, _op in [(sp.StrictLessThan, torch.lt), (sp.LessThan, torch.le), (sp.StrictGreaterThan, torch.gt),
                  (sp.GreaterThan, torch.ge), (sp.Equality, torch.eq), (sp.Unequality, torch.ne),
                  (sp.And, torch.logical_and), (sp.Or, torch.logical_or), (sp.Xor, torch.logical_xor),
                  (sp.Max, torch.maximum), (sp.Min, torch.minimum), (sp.Mod, torch.remainder)]:
    register(_cls, _fold(_op))
register(sp.Symbol, _symbol)
register(sp.Indexed, _indexed)
register(sp.Add, _add)
register(sp.Mul, _mul)
register(sp.Pow, _pow)
register(sp.Piecewise, _piecewise)
register(Iverson, lambda e, g: g.eval(e.args[0]).to(torch.float64))
register(sp.KroneckerDelta, lambda e, g: (g.eval(e.args[0]) == g.eval(e.args[1])).to(torch.float64))
register(sp.Not, lambda e, g: torch.logical_not(g.eval(e.args[0])))
register(sp.logic.boolalg.BooleanTrue, lambda e, g: g.scalar(True))
register(sp.logic.boolalg.BooleanFalse, lambda e, g: g.scalar(False))
register(sp.UnevaluatedExpr, lambda e, g: g.eval(e.args[0]))
register(sp.Number, lambda e, g: g.scalar(float(e)))
