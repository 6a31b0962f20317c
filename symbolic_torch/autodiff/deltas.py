"""Delta elimination: turn ``Σ … δ(…)`` into closed index form.

sympy's derivative of an index-form formula by a tensor element is a sum of
products with ``KroneckerDelta`` factors. This pass

1. flattens the expression into terms (coefficient, deltas, sum limits, conditions),
   pulling sums and piecewise branches that carry deltas out to the top;
2. merges deltas on the digits of one index (``⌊k/9⌋ = c``, ``k mod 3 = w``, as
   reshapes produce) into one affine equation;
3. solves each affine equation for a summation index: coefficient ±1 gives a
   substitution plus a range condition, a stride ``s`` adds ``s | rest``, a
   mixed-radix combination (``3·i + j = k``) eliminates all of its indices;
4. drops conditions that the index ranges already imply and terms they rule out.

What remains has no ``KroneckerDelta``: deltas between free indices become
conditions of a ``Piecewise``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

import numpy as np
import sympy as sp

from symbolic_torch.errors import DerivationError
from symbolic_torch.ir.primitives import WindowArgmax, WindowMax
from symbolic_torch.ir.symbols import Ranges, fresh_name

Limit = tuple[sp.Symbol, int, int]


@dataclass
class Term:
    """One product: ``Σ_limits [conds] coeff · Π δ(d = 0)``."""

    coeff: sp.Expr = sp.S.One
    deltas: list[sp.Expr] = field(default_factory=list)
    limits: list[Limit] = field(default_factory=list)
    conds: list[sp.Basic] = field(default_factory=list)

    def times(self, other: "Term") -> "Term":
        return Term(self.coeff * other.coeff, self.deltas + other.deltas,
                    self.limits + other.limits, self.conds + other.conds)

    def xreplace(self, subs: dict[sp.Basic, sp.Basic]) -> "Term":
        return Term(bound_replace(self.coeff, subs), [bound_replace(d, subs) for d in self.deltas],
                    self.limits, [bound_replace(c, subs) for c in self.conds])


def bound_replace(e: sp.Basic, subs: dict[sp.Basic, sp.Basic]) -> sp.Basic:
    """``xreplace`` that leaves variables bound by a Sum or window untouched."""
    if e in subs:
        return subs[e]
    if not subs or not (e.free_symbols & set(subs)):
        return e
    if e in subs:
        return subs[e]
    if isinstance(e, sp.Sum) or isinstance(e, (WindowMax, WindowArgmax)):
        bound = {lim[0] for lim in e.limits}
        inner = {k: v for k, v in subs.items() if k not in bound}
        incoming = set().union(*[sp.sympify(v).free_symbols for v in inner.values()]) if inner else set()
        clash = bound & incoming
        if clash:  # rename this scope's variables so the substituted values are not captured
            names = {str(a) for a in e.atoms(sp.Symbol)} | {str(a) for a in incoming}
            fresh = {}
            for b in clash:
                fresh[b] = sp.Symbol(fresh_name(str(b), names), integer=True)
                names.add(str(fresh[b]))
            e = e.xreplace(fresh)
            bound = {lim[0] for lim in e.limits}
        return e.func(*[bound_replace(a, inner) if not isinstance(a, sp.Tuple) or a[0] not in bound
                        else sp.Tuple(a[0], *[bound_replace(x, inner) for x in a[1:]]) for a in e.args])
    if not e.args:
        return e
    return e.func(*[bound_replace(a, subs) for a in e.args])


def eliminate(expr: sp.Expr, free: Ranges, prefer: Sequence[sp.Symbol] = ()) -> sp.Expr:
    """Closed form of ``expr``, a derivative full of deltas, for indices in ``free``.

    ``prefer`` lists summation indices to solve for first (the adjoint's indices,
    so that a convolution's input gradient comes out as a transposed convolution).
    """
    taken = {str(s) for s in expr.free_symbols | set(free)}
    terms = _flatten(_distribute(expr), taken)
    done = [t for t in (_solve_term(t, free, list(prefer)) for t in terms) if t is not None]
    return _rebuild(done)


# ---------------------------------------------------------------- flatten
def _distribute(e: sp.Expr) -> sp.Expr:
    """Products over sums distributed, nothing else: e^{x−m} must stay one exponential
    (split into e^{−m}·e^{x}, a stabilised softmax would overflow again)."""
    return sp.expand(e, deep=False, mul=True, multinomial=False, power_exp=False, power_base=False,
                     log=False, basic=False)


def _flatten(e: sp.Basic, taken: set[str]) -> list[Term]:
    if e == 0:
        return []
    if not e.has(sp.KroneckerDelta):
        return [Term(coeff=e)]
    if isinstance(e, sp.Add):  # separate terms may reuse names: each renames from the same base
        return [t for a in e.args for t in _flatten(a, set(taken))]
    if isinstance(e, sp.Mul):
        terms = [Term()]
        for factor in e.args:
            terms = [t.times(u) for t in terms for u in _flatten(factor, taken)]
        return terms
    if isinstance(e, sp.KroneckerDelta):
        return [Term(deltas=[e.args[0] - e.args[1]])]
    if isinstance(e, sp.Sum):
        return _flatten_sum(e, taken)
    if isinstance(e, sp.Piecewise):
        return _flatten_piecewise(e, taken)
    raise DerivationError(f"cannot eliminate Kronecker deltas inside {type(e).__name__}: {e}")


def _flatten_sum(e: sp.Sum, taken: set[str]) -> list[Term]:
    subs: dict[sp.Basic, sp.Basic] = {}
    limits: list[Limit] = []
    for sym, lo, hi in e.limits:
        inner = {str(a) for a in e.function.atoms(sp.Symbol)} - {str(sym)}  # a new name must not be captured
        name = fresh_name(str(sym), taken | inner) if str(sym) in taken else str(sym)
        taken.add(name)
        new = sp.Symbol(name, integer=True) if name != str(sym) else sym
        if new is not sym:
            subs[sym] = new
        limits.append((new, int(lo), int(hi)))
    body = e.function.xreplace(subs) if subs else e.function
    body = _distribute(body)
    return [replace(t, limits=limits + t.limits) for t in _flatten(body, taken)]


def _flatten_piecewise(e: sp.Piecewise, taken: set[str]) -> list[Term]:
    out: list[Term] = []
    earlier: list[sp.Basic] = []
    for value, cond in e.args:
        here = sp.And(cond, *[sp.Not(c) for c in earlier])
        earlier.append(cond)
        if here == sp.false:
            continue
        for t in _flatten(_distribute(value), taken):
            out.append(t if here == sp.true else replace(t, conds=t.conds + [here]))
    return out


# ---------------------------------------------------------------- solve
def _solve_term(term: Term, free: Ranges, prefer: list[sp.Symbol]) -> Term | None:
    while term.deltas:
        ranges = {**free, **{s: (lo, hi) for s, lo, hi in term.limits}}
        bound = [s for s, _, _ in term.limits]
        term = replace(term, deltas=_merge_digits(term.deltas, bound, ranges, term))
        term = replace(term, deltas=_merge_reindex(term.deltas, bound, free, ranges))
        split = _split_digits(term, bound, ranges, mixed_only=True)
        if split is not None:
            term, v, digits = split
            if v in prefer:  # the digits of an adjoint index are adjoint indices too
                prefer = prefer + digits
            continue
        for k, d in enumerate(term.deltas):
            solved = _solve_delta(d, bound, ranges, prefer)
            if solved is None:
                continue
            subs, conds = solved
            rest = Term(term.coeff, term.deltas[:k] + term.deltas[k + 1:],
                        [l for l in term.limits if l[0] not in subs], term.conds)
            term = rest.xreplace(subs)
            term.conds.extend(conds)
            break
        else:
            split = _split_digits(term, bound, ranges)
            if split is not None:
                term, v, digits = split
                if v in prefer:  # the digits of an adjoint index are adjoint indices too
                    prefer = prefer + digits
                continue
            term = replace(term, deltas=[], conds=term.conds + [_as_eq(d) for d in term.deltas])
    return _simplify_conds(term, free)


REINDEX_LIMIT = 1 << 21  # summation points an identity is checked on


def _merge_reindex(deltas: list[sp.Expr], bound: list[sp.Symbol], free: Ranges, ranges: Ranges) -> list[sp.Expr]:
    """Deltas ``f_k = E_k(bound)`` (free index = floor/mod expression of summation indices, as
    a reshape writes them) merged into one affine equation on the flat index.

    With strides ``s_k`` of the free dims, ``Σ s_k f_k = Σ s_k E_k`` says the same as all the
    deltas when every ``E_k`` stays in its dim's range (mixed-radix digits are unique). When
    ``Σ s_k E_k`` is affine in the summation indices, the merged delta is solved by the radix
    step. Range and affinity are checked on every point of the summation ranges, not assumed.
    """
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
    flat = np.zeros(grid[0].shape if grid else (), dtype=np.int64)
    strides: dict[sp.Symbol, int] = {}
    stride = 1
    for _, f, e, _ in reversed(picked):  # the flat index Σ s_k E_k, each E_k checked in its dim's range
        n = int(free[f][1]) + 1
        vals = np.asarray(sp.lambdify(variables, e, modules="numpy")(*grid)) + np.zeros(flat.shape)
        if not (np.all(vals == np.round(vals)) and vals.min() >= 0 and vals.max() <= n - 1):
            return deltas
        flat = flat + stride * vals.astype(np.int64)
        strides[f] = stride
        stride *= n
    origin = int(flat[(0,) * len(variables)])
    coeffs = [int(flat[tuple(int(i == j) for i in range(len(variables)))]) - origin if sizes[j] > 1 else 0
              for j in range(len(variables))]
    if not np.array_equal(flat, origin + sum(c * g for c, g in zip(coeffs, grid))):
        return deltas  # not affine in the summation indices
    merged = sum(strides[f] * f for _, f, _, _ in picked) - origin - sum(c * v for c, v in zip(coeffs, variables))
    used = {k for *_, k in picked}
    return [sp.expand(merged)] + [d for k, d in enumerate(deltas) if k not in used]


def _split_digits(term: Term, bound: list[sp.Symbol], ranges: Ranges,
                  mixed_only: bool = False) -> tuple[Term, sp.Symbol, list[sp.Symbol]] | None:
    """Sum over a bound index's digits instead of the index itself.

    A reshape whose dims interleave (4×6 → 2×12) reads ``x[2i + ⌊j/6⌋, j mod 6]``: no delta is
    affine in one summation index. With ``j = 6·j₁ + j₀`` (0 ≤ j₀ < 6, 0 ≤ j₁ < 2), ``⌊j/6⌋``
    is ``j₁`` and ``j mod 6`` is ``j₀``, and the deltas become affine (then mixed-radix) in the
    digits. Done only where the cuts divide one another and the index's range; with
    ``mixed_only``, only for an index whose digit shares a delta with another summation index.
    """
    everything = [term.coeff, *term.deltas, *term.conds]
    taken = {str(x) for x in term.coeff.free_symbols} | {str(x) for d in term.deltas for x in d.free_symbols} \
        | {str(v) for v in ranges}
    for v in bound:
        lo, hi = ranges[v]
        n = hi + 1
        cuts: set[int] = set()
        mixed = False
        for d in term.deltas:
            for e in sp.preorder_traversal(d):
                got = _digit(e, {v}) if isinstance(e, (sp.Mod, sp.floor)) else None
                if got is not None and got[0] == v:
                    _, m, r = got
                    cuts.update(c for c in (m, m * r if r else None) if c and 1 < c < n)
                    mixed = mixed or bool((d.free_symbols - {v}) & set(bound))
        if mixed_only and not mixed:
            continue
        chain = sorted(cuts)
        if lo != 0 or not chain or any(b % a for a, b in zip([1] + chain, chain + [n])):
            continue
        places = [1] + chain  # digit k counts places[k]; it runs below places[k+1]/places[k]
        sizes = [b // a for a, b in zip(places, chain + [n])]
        digits = []
        for k in range(len(places)):
            name = fresh_name(f"{v}{k}", taken)
            taken.add(name)
            digits.append(sp.Symbol(name, integer=True))
        value = sum(p * c for p, c in zip(places, digits))

        def part(lo_place: int, hi_place: int | None, over: int) -> sp.Expr:
            return sum((p // over) * c for p, c in zip(places, digits)
                       if p >= lo_place and (hi_place is None or p < hi_place))

        subs: dict[sp.Basic, sp.Basic] = {}
        for d in everything:
            for e in sp.preorder_traversal(d):
                got = _digit(e, {v}) if isinstance(e, (sp.Mod, sp.floor)) else None
                if got is not None and got[0] == v:
                    _, m, r = got
                    subs[e] = part(m, m * r if r else None, m)
        subs[v] = value
        limits = [l for l in term.limits if l[0] != v] + [(c, 0, size - 1) for c, size in zip(digits, sizes)]
        out = Term(term.coeff, term.deltas, limits, term.conds).xreplace(subs)
        return replace(out, deltas=[sp.expand(d) for d in out.deltas]), v, digits
    return None


def _as_eq(d: sp.Expr) -> sp.Basic:
    pos = sp.Add(*[a for a in sp.Add.make_args(d) if not a.could_extract_minus_sign()])
    neg = -sp.Add(*[a for a in sp.Add.make_args(d) if a.could_extract_minus_sign()])
    return sp.Eq(pos, neg)


def _linear(d: sp.Expr, v: sp.Symbol) -> tuple[sp.Expr, sp.Expr] | None:
    """``d = c·v + rest`` with integer ``c ≠ 0`` and ``v ∉ rest``, else None."""
    d = sp.expand(d)
    c = d.coeff(v, 1)
    rest = sp.expand(d - c * v)
    if c.is_Integer and c != 0 and v not in rest.free_symbols:
        return c, rest
    return None


def _solve_delta(d: sp.Expr, bound: list[sp.Symbol], ranges: Ranges,
                 prefer: list[sp.Symbol]) -> tuple[dict, list] | None:
    present = [v for v in bound if v in d.free_symbols]
    d = _integral(d, present)
    if not present:
        return None
    order = sorted(present, key=lambda v: (v not in prefer, prefer.index(v) if v in prefer else 0))
    radix = _solve_radix(d, order, ranges, prefer)
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


def _integral(d: sp.Expr, variables: list[sp.Symbol]) -> sp.Expr:
    """``d`` scaled so that its summation indices have integer coefficients (i/2 − j = 0 → i − 2j = 0)."""
    d = sp.expand(d)
    dens = [int(sp.fraction(d.coeff(v, 1))[1]) for v in variables if d.coeff(v, 1).is_Rational]
    scale = math.lcm(*dens) if dens else 1
    return sp.expand(d * scale) if scale > 1 else d


def _solve_radix(d: sp.Expr, order: list[sp.Symbol], ranges: Ranges,
                 prefer: list[sp.Symbol]) -> tuple[dict, list] | None:
    """Solve ``Σ c_k v_k = R`` when the c_k are the strides of a mixed radix."""
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


# ---------------------------------------------------------------- digits
def _digit(e: sp.Expr, bound: set[sp.Symbol]) -> tuple[sp.Expr, int, int | None] | None:
    """Match ``Mod(⌊L/m⌋, r)``, ``⌊L/m⌋`` or ``Mod(L, r)``: returns (L, m, r)."""
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


def _merge_digits(deltas: list[sp.Expr], bound: list[sp.Symbol], ranges: Ranges,
                  term: Term) -> list[sp.Expr]:
    groups: dict[sp.Expr, list[tuple[int, int | None, sp.Expr, int]]] = {}
    for k, d in enumerate(deltas):
        for a in sp.Add.make_args(d):
            c, core = a.as_coeff_Mul()
            got = _digit(core, set(bound)) if c in (1, -1) else None
            if got is not None and not ((d - a).free_symbols & got[0].free_symbols):
                L, m, r = got
                groups.setdefault(L, []).append((m, r, sp.expand(-(d - a) / c), k))
                break
    used: set[int] = set()
    merged: list[sp.Expr] = []
    for L, digits in groups.items():
        digits.sort(key=lambda t: t[0])
        if not _tiles(L, [(m, r) for m, r, _, _ in digits], ranges):
            continue
        used.update(k for *_, k in digits)
        merged.append(L - sum(m * e for m, _, e, _ in digits))
        for m, r, e, _ in digits:
            if r is not None:  # the top digit is ⌊L/m⌋ once the others are in range: no condition
                term.conds.extend([sp.Le(0, e), sp.Le(e, r - 1)])
    return merged + [d for k, d in enumerate(deltas) if k not in used]


# ---------------------------------------------------------------- conditions
def bounds(e: sp.Expr, ranges: Ranges) -> tuple[float, float] | None:
    """Interval of ``e`` over the index ranges, or None when unknown."""
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
        n = int(e.args[1])
        b = bounds(e.args[0], ranges)
        if b is not None and math.floor(b[0] / n) == math.floor(b[1] / n):
            k = math.floor(b[0] / n) * n
            return b[0] - k, b[1] - k
        return 0.0, n - 1.0
    return None


def _decide(c: sp.Basic, ranges: Ranges) -> bool | None:
    if c in (sp.true, sp.false):
        return bool(c)
    if isinstance(c, sp.Eq) and isinstance(c.lhs, sp.Mod) and c.rhs == 0:
        x, n = c.lhs.args
        x = sp.expand(x)
        if all((coef % n) == 0 for coef in [x.as_coeff_add()[0]] + [a.as_coeff_Mul()[0] for a in x.as_coeff_add()[1]]):
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


def _split(conds: Iterable[sp.Basic]) -> list[sp.Basic]:
    out: list[sp.Basic] = []
    for c in conds:
        out.extend(_split(c.args) if isinstance(c, sp.And) else [c])
    return out


def _simplify_conds(term: Term, free: Ranges) -> Term | None:
    ranges = {**free, **{s: (lo, hi) for s, lo, hi in term.limits}}
    kept: list[sp.Basic] = []
    for c in _split(term.conds):
        verdict = _decide(c, ranges)
        if verdict is False:
            return None
        if verdict is None and c not in kept:
            kept.append(c)
    if term.coeff == 0:
        return None
    return replace(term, conds=kept)


# ---------------------------------------------------------------- rebuild
def _recombine(e: sp.Basic) -> sp.Basic:
    """``a mod m + m·⌊a/m⌋`` back to ``a`` (the digits of an index read whole again)."""
    def fix(add: sp.Add) -> sp.Expr:
        terms = list(add.args)
        for t in terms:
            if isinstance(t, sp.Mod) and t.args[1].is_Integer:
                a, m = t.args
                partner = m * sp.floor(a / m)
                if partner in terms:
                    rest = [u for u in terms if u is not t and u != partner]
                    return fix(sp.Add(a, *rest)) if rest else a
        return add
    return e.replace(lambda x: isinstance(x, sp.Add), fix) if e.has(sp.Mod) else e


def _rebuild(terms: list[Term]) -> sp.Expr:
    groups: dict[tuple, list[sp.Expr]] = {}
    for t in terms:
        t = replace(t, coeff=_recombine(t.coeff), conds=[_recombine(c) for c in t.conds])
        key = (tuple(t.limits), tuple(t.conds))
        groups.setdefault(key, []).append(t.coeff)
    out = sp.S.Zero
    for (limits, conds), coeffs in groups.items():
        body = sp.Add(*coeffs)
        if conds:
            body = sp.Piecewise((body, sp.And(*conds)), (0, True))
        if limits and body.could_extract_minus_sign():  # print "− Σ …", not "Σ −…"
            out -= sp.Sum(-body, *limits)
        else:
            out += sp.Sum(body, *limits) if limits else body
    return out
