"""Deltas on the digits of an index, as reshapes write them, made affine.

A reshape reads ``x[⌊k/9⌋, ⌊k/3⌋ mod 3, k mod 3]``: its deltas are on digits of ``k``, not
on ``k``. Three rewrites turn them into affine deltas that ``affine.solve_delta`` solves:

* ``merge_digits``: deltas on the digits of one expression ``L`` merged into ``L = Σ m·e``;
* ``merge_reindex``: deltas ``f_k = E_k(summed)`` on free indices merged into one equation
  on the flat index ``Σ s_k f_k``, when that is affine in the summation indices;
* ``split_digits``: a summation index replaced by its digits, ``j = 6·j₁ + j₀``.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import sympy as sp

from symbolic_torch.autodiff.conditions import bounds
from symbolic_torch.autodiff.substitution import Subs
from symbolic_torch.autodiff.terms import Term
from symbolic_torch.ir.symbols import Ranges, fresh_name

REINDEX_LIMIT = 1 << 21  # summation points an identity is checked on

Digit = tuple[sp.Expr, int, int | None]


def digit(e: sp.Expr, bound: set[sp.Symbol]) -> Digit | None:
    """Match ``Mod(⌊L/m⌋, r)``, ``⌊L/m⌋`` or ``Mod(L, r)`` with ``L`` integral in ``bound``:
    returns ``(L, m, r)`` (``r`` None for a bare floor), else None."""
    r = None
    if isinstance(e, sp.Mod) and e.args[1].is_Integer:
        e, r = e.args[0], int(e.args[1])
    m = 1
    if isinstance(e, sp.floor):
        x = sp.expand(e.args[0])
        m = math.lcm(*[int(sp.fraction(c)[1]) for c in sp.Add.make_args(x) for c in [c.as_coeff_Mul()[0]]])
        e = sp.expand(x * m)
    if not (e.free_symbols & bound) or (r is None and m == 1):
        return None
    return sp.expand(e), m, r


def _tiles(L: sp.Expr, digits: list[tuple[int, int | None]], ranges: Ranges) -> bool:
    """Do the digits (m₀ = 1, m₁ = m₀·r₀, …) determine every value L can take?"""
    stride = 1
    for k, (m, r) in enumerate(digits):
        if m != stride or (r is None and k != len(digits) - 1):
            return False
        stride = m * r if r is not None else stride
    b = bounds(L, ranges)
    top_m, top_r = digits[-1]
    return b is not None and b[0] >= 0 and (top_r is None or b[1] <= top_m * top_r - 1)


def merge_digits(deltas: tuple[sp.Expr, ...], bound: list[sp.Symbol],
                 ranges: Ranges) -> tuple[tuple[sp.Expr, ...], list[sp.Basic]]:
    """Deltas ``digit_k(L) = e_k`` that tile ``L`` merged into ``L = Σ m_k·e_k``.

    ``⌊k/3⌋ = a, k mod 3 = b`` becomes ``k = 3a + b`` with the condition ``0 ≤ b ≤ 2`` (each
    digit but the top one must stay in its range). Returns the new deltas (merged ones first)
    and the conditions to add.
    """
    groups: dict[sp.Expr, list[tuple[int, int | None, sp.Expr, int]]] = {}
    for k, d in enumerate(deltas):
        for a in sp.Add.make_args(d):
            c, core = a.as_coeff_Mul()
            got = digit(core, set(bound)) if c in (1, -1) else None
            if got is not None and not ((d - a).free_symbols & got[0].free_symbols):
                L, m, r = got
                groups.setdefault(L, []).append((m, r, sp.expand(-(d - a) / c), k))
                break
    used: set[int] = set()
    merged: list[sp.Expr] = []
    conds: list[sp.Basic] = []
    for L, digits in groups.items():
        digits.sort(key=lambda t: t[0])
        if not _tiles(L, [(m, r) for m, r, _, _ in digits], ranges):
            continue
        used.update(k for *_, k in digits)
        merged.append(L - sum(m * e for m, _, e, _ in digits))
        for m, r, e, _ in digits:
            if r is not None:  # the top digit is ⌊L/m⌋ once the others are in range: no condition
                conds.extend([sp.Le(0, e), sp.Le(e, r - 1)])
    return tuple(merged) + tuple(d for k, d in enumerate(deltas) if k not in used), conds


def _reads(deltas: tuple[sp.Expr, ...], bound: list[sp.Symbol],
           free: Ranges) -> list[tuple[int, sp.Symbol, sp.Expr, int]]:
    """The deltas ``f = E(summed)`` with ``E`` a floor/mod expression: (dim, f, E, delta's place)."""
    order = list(free)
    picked: list[tuple[int, sp.Symbol, sp.Expr, int]] = []
    for k, d in enumerate(deltas):
        d = sp.expand(d)
        heads = [f for f in d.free_symbols if f in free and f not in bound and d.coeff(f, 1) in (1, -1)]
        if len(heads) != 1:
            continue
        f = heads[0]
        c = d.coeff(f, 1)
        e = sp.expand(-(d - c * f) / c)
        if e.free_symbols & set(free) or not (e.free_symbols & set(bound)) or not e.has(sp.floor, sp.Mod):
            continue
        picked.append((order.index(f), f, e, k))
    return picked


def _flat_index(picked: list[tuple[int, sp.Symbol, sp.Expr, int]], variables: list[sp.Symbol],
                grid: list[np.ndarray], free: Ranges) -> tuple[np.ndarray, dict[sp.Symbol, int]] | None:
    """``Σ s_k E_k`` on every point of ``grid`` and the strides ``s_k``; None when an ``E_k``
    leaves its dim's range or is not an integer."""
    flat = np.zeros(grid[0].shape if grid else (), dtype=np.int64)
    strides: dict[sp.Symbol, int] = {}
    stride = 1
    for _, f, e, _ in reversed(picked):
        n = int(free[f][1]) + 1
        vals = np.asarray(sp.lambdify(variables, e, modules="numpy")(*grid)) + np.zeros(flat.shape)
        if not (np.all(vals == np.round(vals)) and vals.min() >= 0 and vals.max() <= n - 1):
            return None
        flat = flat + stride * vals.astype(np.int64)
        strides[f] = stride
        stride *= n
    return flat, strides


def merge_reindex(deltas: tuple[sp.Expr, ...], bound: list[sp.Symbol], free: Ranges,
                  ranges: Ranges) -> tuple[sp.Expr, ...]:
    """Deltas ``f_k = E_k(bound)`` (free index = floor/mod expression of summation indices, as
    a reshape writes them) merged into one affine equation on the flat index.

    With strides ``s_k`` of the free dims, ``Σ s_k f_k = Σ s_k E_k`` says the same as all the
    deltas when every ``E_k`` stays in its dim's range (mixed-radix digits are unique). When
    ``Σ s_k E_k`` is affine in the summation indices, the merged delta is solved by the radix
    step. Range and affinity are checked on every point of the summation ranges, not assumed.
    """
    picked = _reads(deltas, bound, free)
    if len(picked) < 2:
        return deltas
    picked.sort()
    variables = sorted(set().union(*[e.free_symbols for _, _, e, _ in picked]), key=str)
    if any(v not in ranges or ranges[v][0] != 0 for v in variables):
        return deltas
    sizes = [int(ranges[v][1]) + 1 for v in variables]
    if math.prod(sizes) > REINDEX_LIMIT:
        return deltas
    grid = np.meshgrid(*[np.arange(n, dtype=np.int64) for n in sizes], indexing="ij")
    index = _flat_index(picked, variables, grid, free)
    if index is None:
        return deltas
    flat, strides = index
    origin = int(flat[(0,) * len(variables)])
    coeffs = [int(flat[tuple(int(i == j) for i in range(len(variables)))]) - origin if sizes[j] > 1 else 0
              for j in range(len(variables))]
    if not np.array_equal(flat, origin + sum(c * g for c, g in zip(coeffs, grid))):
        return deltas  # not affine in the summation indices
    merged = sum(strides[f] * f for _, f, _, _ in picked) - origin - sum(c * v for c, v in zip(coeffs, variables))
    used = {k for *_, k in picked}
    return (sp.expand(merged),) + tuple(d for k, d in enumerate(deltas) if k not in used)


def _cuts(term: Term, v: sp.Symbol, n: int, bound: list[sp.Symbol]) -> tuple[set[int], bool]:
    """Where the deltas cut ``v`` (0 ≤ v < n) into digits, and whether a digit shares its
    delta with another summation index."""
    cuts: set[int] = set()
    mixed = False
    for d in term.deltas:
        for e in sp.preorder_traversal(d):
            got = digit(e, {v}) if isinstance(e, (sp.Mod, sp.floor)) else None
            if got is not None and got[0] == v:
                _, m, r = got
                cuts.update(c for c in (m, m * r if r else None) if c and 1 < c < n)
                mixed = mixed or bool((d.free_symbols - {v}) & set(bound))
    return cuts, mixed


def _digit_subs(term: Term, v: sp.Symbol, places: list[int], digits: list[sp.Symbol]) -> Subs:
    """``v ↦ Σ place·digit`` and each ``⌊v/m⌋ mod r`` read by the term ↦ its digits."""
    def part(lo_place: int, hi_place: int | None, over: int) -> sp.Expr:
        return sum((p // over) * c for p, c in zip(places, digits)
                   if p >= lo_place and (hi_place is None or p < hi_place))

    subs: Subs = {}
    for d in [term.coeff, *term.deltas, *term.conds]:
        for e in sp.preorder_traversal(d):
            got = digit(e, {v}) if isinstance(e, (sp.Mod, sp.floor)) else None
            if got is not None and got[0] == v:
                _, m, r = got
                subs[e] = part(m, m * r if r else None, m)
    subs[v] = sum(p * c for p, c in zip(places, digits))
    return subs


def split_digits(term: Term, bound: list[sp.Symbol], ranges: Ranges,
                 mixed_only: bool = False) -> tuple[Term, sp.Symbol, list[sp.Symbol]] | None:
    """Sum over a bound index's digits instead of the index itself.

    A reshape whose dims interleave (4×6 → 2×12) reads ``x[2i + ⌊j/6⌋, j mod 6]``: no delta is
    affine in one summation index. With ``j = 6·j₁ + j₀`` (0 ≤ j₀ < 6, 0 ≤ j₁ < 2), ``⌊j/6⌋``
    is ``j₁`` and ``j mod 6`` is ``j₀``, and the deltas become affine (then mixed-radix) in the
    digits. Done only where the cuts divide one another and the index's range; with
    ``mixed_only``, only for an index whose digit shares a delta with another summation index.
    Returns the new term, the index split and its digits (lowest first).
    """
    for v in bound:
        lo, hi = ranges[v]
        n = hi + 1
        cuts, mixed = _cuts(term, v, n, bound)
        if mixed_only and not mixed:
            continue
        chain = sorted(cuts)
        if lo != 0 or not chain or any(b % a for a, b in zip([1] + chain, chain + [n])):
            continue
        places = [1] + chain  # digit k counts places[k]; it runs below places[k+1]/places[k]
        sizes = [b // a for a, b in zip(places, chain + [n])]
        taken = {str(x) for x in term.coeff.free_symbols} | {str(x) for d in term.deltas for x in d.free_symbols} \
            | {str(u) for u in ranges}
        digits = []
        for k in range(len(places)):
            name = fresh_name(f"{v}{k}", taken)
            taken.add(name)
            digits.append(sp.Symbol(name, integer=True))
        limits = tuple(l for l in term.limits if l[0] != v) + tuple((c, 0, size - 1) for c, size in zip(digits, sizes))
        out = replace(term, limits=limits).xreplace(_digit_subs(term, v, places, digits))
        return replace(out, deltas=tuple(sp.expand(d) for d in out.deltas)), v, digits
    return None
