"""Solving one affine delta ``δ(d = 0)`` for summation indices.

``d`` is affine in the summation indices it mentions. Three cases, tried in this order:

* mixed radix: ``3·i + j = k`` with ``0 ≤ j < 3`` gives ``i = ⌊k/3⌋``, ``j = k mod 3``
  and the condition ``0 ≤ k ≤ 3·n_i − 1``: every index of the equation goes at once;
* coefficient ±1: ``i = k − 1`` and the range condition ``lo ≤ k − 1 ≤ hi``;
* stride ``s``: ``2·i = k`` gives ``i = k/2`` with ``k mod 2 = 0`` and ``2·lo ≤ k ≤ 2·hi``.

Preferred indices (the adjoint's) are solved for first, so that a convolution's input
gradient reads as a transposed convolution.
"""
from __future__ import annotations

import math

import sympy as sp

from symbolic_torch.ir.symbols import Ranges

Solution = tuple[dict[sp.Symbol, sp.Expr], list[sp.Basic]]


def _linear(d: sp.Expr, v: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``d = c·v + rest`` with integer ``c ≠ 0`` and ``v ∉ rest``, else None."""
    d = sp.expand(d)
    c = d.coeff(v, 1)
    rest = sp.expand(d - c * v)
    if c.is_Integer and c != 0 and v not in rest.free_symbols:
        return c, rest
    return None


def _integral(d: sp.Expr, variables: list[sp.Symbol]) -> sp.Expr:
    """``d`` scaled so that its summation indices have integer coefficients (i/2 − j = 0 → i − 2j = 0)."""
    d = sp.expand(d)
    dens = [int(sp.fraction(d.coeff(v, 1))[1]) for v in variables if d.coeff(v, 1).is_Rational]
    scale = math.lcm(*dens) if dens else 1
    return sp.expand(d * scale) if scale > 1 else d


def solve_delta(d: sp.Expr, bound: list[sp.Symbol], ranges: Ranges,
                prefer: list[sp.Symbol]) -> Solution | None:
    """``(substitution, conditions)`` that eliminate ``δ(d = 0)``, or None when ``d`` is not
    affine with integer coefficients in any summation index of ``bound``.

    A mixed radix eliminates all of its indices; otherwise one index ``v`` of ``c·v + rest``
    goes: the preferred first, then one with ``|c| = 1``.
    """
    present = [v for v in bound if v in d.free_symbols]
    d = _integral(d, present)
    if not present:
        return None
    order = sorted(present, key=lambda v: (v not in prefer, prefer.index(v) if v in prefer else 0))
    radix = _solve_radix(d, order, ranges)
    if radix is not None:
        return radix
    candidates = [(v, _linear(d, v)) for v in order]
    candidates = [(v, lin) for v, lin in candidates if lin is not None]
    if not candidates:
        return None
    # adjoint indices first (transposed-convolution form), then unit coefficients
    candidates.sort(key=lambda vc: (vc[0] not in prefer, abs(vc[1][0]) != 1))
    v, (c, rest) = candidates[0]
    lo, hi = ranges[v]
    numer = sp.expand(-rest if c > 0 else rest)  # v = numer / |c|
    value = sp.expand(numer / abs(c))
    conds: list[sp.Basic] = [sp.Le(lo * abs(c), numer), sp.Le(numer, hi * abs(c))]
    if abs(c) != 1:
        conds.insert(0, sp.Eq(sp.Mod(numer, abs(c)), 0))
    return {v: value}, conds


def _solve_radix(d: sp.Expr, order: list[sp.Symbol], ranges: Ranges) -> Solution | None:
    """Solve ``Σ c_k v_k = R`` when the c_k are the strides of a mixed radix.

    With the ``v_k`` sorted by ``|c_k|``: ``|c_0| = 1``, ``|c_{k+1}| = |c_k|·n_k`` (``n_k`` the
    size of ``v_k``'s range, which starts at 0) and all ``c_k`` of one sign. Then
    ``v_k = ⌊R/|c_k|⌋ mod n_k`` (the last without ``mod``) and ``0 ≤ R ≤ Π n_k − 1``.
    """
    if len(order) < 2:
        return None
    d = sp.expand(d)
    coeffs = {v: d.coeff(v, 1) for v in order}
    rest = sp.expand(d - sum(c * v for v, c in coeffs.items()))
    if any(v in rest.free_symbols for v in order) or not all(c.is_Integer for c in coeffs.values()):
        return None
    sign = 1 if all(c > 0 for c in coeffs.values()) else -1 if all(c < 0 for c in coeffs.values()) else 0
    if sign == 0 or any(ranges[v][0] != 0 for v in order):
        return None
    digits = sorted(order, key=lambda v: sign * coeffs[v])
    stride = 1
    for v in digits:
        if sign * coeffs[v] != stride:
            return None
        stride *= ranges[v][1] + 1
    total = -sign * rest
    subs = {}
    for k, v in enumerate(digits):
        part = sp.floor(total / (sign * coeffs[v]))
        subs[v] = part if k == len(digits) - 1 else sp.Mod(part, ranges[v][1] + 1)
    return subs, [sp.Le(0, total), sp.Le(total, stride - 1)]
