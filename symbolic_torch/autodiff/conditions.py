"""Conditions of a term, decided by the index ranges.

An unsolved delta becomes the condition ``lhs = rhs``; solving one for a summation index
leaves range conditions (``0 ≤ i − 2k ≤ 5``). ``simplify_conds`` drops those the ranges
already imply and removes a term whose conditions can never hold, using ``bounds``, an
interval of an index expression over the ranges.
"""
from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterable

import sympy as sp

from symbolic_torch.autodiff.terms import Term
from symbolic_torch.ir.symbols import Ranges


def bounds(e: sp.Expr, ranges: Ranges) -> tuple[float, float] | None:
    """Interval of ``e`` over the index ranges, or None when unknown.

    Interval arithmetic over ``+``, ``·``, ``⌊·⌋``, ``⌈·⌉`` and ``mod n``: with
    ``0 ≤ i ≤ 3``, ``bounds(2i − 1) = (−1, 7)``; ``x mod n`` is exact when ``x`` stays in one
    period, else ``(0, n − 1)``.
    """
    if e.is_Number:
        return float(e), float(e)
    if isinstance(e, sp.Symbol):
        return tuple(map(float, ranges[e])) if e in ranges else None  # type: ignore[return-value]
    if isinstance(e, sp.Add):
        parts = [bounds(a, ranges) for a in e.args]
        if any(p is None for p in parts):
            return None
        return sum(p[0] for p in parts), sum(p[1] for p in parts)  # type: ignore[index]
    if isinstance(e, sp.Mul):
        out = (1.0, 1.0)
        for a in e.args:
            b = bounds(a, ranges)
            if b is None:
                return None
            prods = [out[0] * b[0], out[0] * b[1], out[1] * b[0], out[1] * b[1]]
            out = (min(prods), max(prods))
        return out
    if isinstance(e, (sp.floor, sp.ceiling)):
        b = bounds(e.args[0], ranges)
        f = math.floor if isinstance(e, sp.floor) else math.ceil
        return None if b is None else (f(b[0]), f(b[1]))
    if isinstance(e, sp.Mod) and e.args[1].is_Integer and e.args[1] > 0:
        return _mod_bounds(e, ranges)
    return None


def _mod_bounds(e: sp.Mod, ranges: Ranges) -> tuple[float, float]:
    """Interval of ``x mod n``: shifted ``bounds(x)`` within one period, else ``[0, n − 1]``."""
    n = int(e.args[1])
    b = bounds(e.args[0], ranges)
    if b is not None and math.floor(b[0] / n) == math.floor(b[1] / n):
        k = math.floor(b[0] / n) * n
        return b[0] - k, b[1] - k
    return 0.0, n - 1.0


def as_eq(d: sp.Expr) -> sp.Basic:
    """The delta ``δ(d = 0)`` as a condition, positive terms left: ``i − 2j + 1`` → ``i + 1 = 2j``."""
    pos = sp.Add(*[a for a in sp.Add.make_args(d) if not a.could_extract_minus_sign()])
    neg = -sp.Add(*[a for a in sp.Add.make_args(d) if a.could_extract_minus_sign()])
    return sp.Eq(pos, neg)


def _divisible(c: sp.Basic) -> bool:
    """``Mod(x, n) = 0`` where every coefficient of ``x`` is a multiple of ``n``."""
    if not (isinstance(c, sp.Eq) and isinstance(c.lhs, sp.Mod) and c.rhs == 0):
        return False
    x, n = c.lhs.args
    const, parts = sp.expand(x).as_coeff_add()
    return all((coef % n) == 0 for coef in [const] + [a.as_coeff_Mul()[0] for a in parts])


def decide(c: sp.Basic, ranges: Ranges) -> bool | None:
    """True when ``c`` holds on all of ``ranges``, False when it holds nowhere, else None.

    A relation ``lhs ∼ rhs`` is decided from ``bounds(lhs − rhs)``: with ``0 ≤ i ≤ 3``,
    ``i ≥ 0`` is True, ``i > 3`` is False, ``i ≥ 2`` is None.
    """
    if c in (sp.true, sp.false):
        return bool(c)
    if _divisible(c):
        return True
    if not isinstance(c, sp.core.relational.Relational):
        return None
    b = bounds(sp.expand(c.lhs - c.rhs), ranges)
    if b is None:
        return None
    lo, hi = b
    table = {
        sp.StrictLessThan: (hi < 0, lo >= 0), sp.LessThan: (hi <= 0, lo > 0),
        sp.StrictGreaterThan: (lo > 0, hi <= 0), sp.GreaterThan: (lo >= 0, hi < 0),
        sp.Equality: (lo == hi == 0, lo > 0 or hi < 0), sp.Unequality: (lo > 0 or hi < 0, lo == hi == 0),
    }
    always, never = table.get(type(c), (False, False))
    return True if always else False if never else None


def _conjuncts(conds: Iterable[sp.Basic]) -> list[sp.Basic]:
    """The conditions with every ``And`` opened into its parts."""
    out: list[sp.Basic] = []
    for c in conds:
        out.extend(_conjuncts(c.args) if isinstance(c, sp.And) else [c])
    return out


def simplify_conds(term: Term, free: Ranges) -> Term | None:
    """``term`` with the conditions the ranges imply dropped (and no repeats); None when
    a condition can never hold or the coefficient is zero."""
    ranges = term.ranges(free)
    kept: list[sp.Basic] = []
    for c in _conjuncts(term.conds):
        verdict = decide(c, ranges)
        if verdict is False:
            return None
        if verdict is None and c not in kept:
            kept.append(c)
    if term.coeff == 0:
        return None
    return replace(term, conds=tuple(kept))
