"""Terms: a derivative flattened into ``Σ [conditions] coefficient · Π δ`` products, and back.

``flatten`` pulls every sum and piecewise branch that carries a ``KroneckerDelta`` out to
the top, so that each term lists its summation limits, conditions and deltas apart from
its delta-free coefficient; ``rebuild`` writes solved terms back as one sympy expression,
terms with the same limits and conditions under one ``Σ`` and one ``Piecewise``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import sympy as sp

from symbolic_torch.autodiff.substitution import Subs, bound_replace
from symbolic_torch.errors import DerivationError
from symbolic_torch.ir.symbols import Ranges, fresh_name

Limit = tuple[sp.Symbol, int, int]


@dataclass(frozen=True)
class Term:
    """One product ``Σ_limits [conds] coeff · Π_d δ(d = 0)``.

    Each delta is kept as the expression ``d`` it says is zero (``δ(i, j)`` as ``i − j``);
    the conditions are conjoined.
    """

    coeff: sp.Expr = sp.S.One
    deltas: tuple[sp.Expr, ...] = ()
    limits: tuple[Limit, ...] = ()
    conds: tuple[sp.Basic, ...] = ()

    def times(self, other: Term) -> Term:
        """The product of two terms: coefficients multiplied, everything else joined."""
        return Term(self.coeff * other.coeff, self.deltas + other.deltas,
                    self.limits + other.limits, self.conds + other.conds)

    def xreplace(self, subs: Subs) -> Term:
        """``subs`` applied to coefficient, deltas and conditions (the limits stay)."""
        return Term(bound_replace(self.coeff, subs), tuple(bound_replace(d, subs) for d in self.deltas),
                    self.limits, tuple(bound_replace(c, subs) for c in self.conds))

    @property
    def summed(self) -> list[sp.Symbol]:
        """The summation indices, in the order of the limits."""
        return [s for s, _, _ in self.limits]

    def ranges(self, free: Ranges) -> Ranges:
        """The range of every index: the free ones from ``free``, the summed from the limits."""
        return {**free, **{s: (lo, hi) for s, lo, hi in self.limits}}


def distribute(e: sp.Expr) -> sp.Expr:
    """Products over sums distributed, nothing else: e^{x−m} must stay one exponential
    (split into e^{−m}·e^{x}, a stabilised softmax would overflow again)."""
    return sp.expand(e, deep=False, mul=True, multinomial=False, power_exp=False, power_base=False,
                     log=False, basic=False)


def flatten(e: sp.Basic, taken: set[str]) -> list[Term]:
    """``e`` (products already distributed) as a list of terms whose sum it is.

    ``Σ_i a·δ(i, j) + b`` gives ``[Term(a, (i − j,), ((i, lo, hi),)), Term(b)]``. A summation
    index whose name is in ``taken`` is renamed (and its new name added), so that indices
    of different sums pulled into one term stay apart.
    """
    if e == 0:
        return []
    if not e.has(sp.KroneckerDelta):
        return [Term(coeff=e)]
    if isinstance(e, sp.Add):  # separate terms may reuse names: each renames from the same base
        return [t for a in e.args for t in flatten(a, set(taken))]
    if isinstance(e, sp.Mul):
        terms = [Term()]
        for factor in e.args:
            terms = [t.times(u) for t in terms for u in flatten(factor, taken)]
        return terms
    if isinstance(e, sp.KroneckerDelta):
        return [Term(deltas=(e.args[0] - e.args[1],))]
    if isinstance(e, sp.Sum):
        return _flatten_sum(e, taken)
    if isinstance(e, sp.Piecewise):
        return _flatten_piecewise(e, taken)
    raise DerivationError(f"cannot eliminate Kronecker deltas inside {type(e).__name__}: {e}")


def _flatten_sum(e: sp.Sum, taken: set[str]) -> list[Term]:
    """The terms of a sum's body, each with the sum's limits (renamed apart) in front."""
    subs: Subs = {}
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
    body = distribute(body)
    return [replace(t, limits=tuple(limits) + t.limits) for t in flatten(body, taken)]


def _flatten_piecewise(e: sp.Piecewise, taken: set[str]) -> list[Term]:
    """The terms of each branch, with the branch's condition (and no earlier one's)."""
    out: list[Term] = []
    earlier: list[sp.Basic] = []
    for value, cond in e.args:
        here = sp.And(cond, *[sp.Not(c) for c in earlier])
        earlier.append(cond)
        if here == sp.false:
            continue
        for t in flatten(distribute(value), taken):
            out.append(t if here == sp.true else replace(t, conds=t.conds + (here,)))
    return out


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


def rebuild(terms: list[Term]) -> sp.Expr:
    """The sum of delta-free ``terms`` as one expression.

    Terms with equal limits and conditions share one ``Σ_limits Piecewise((Σ coeffs, conds),
    (0, True))``; a sum whose body reads negative is written ``− Σ …``.
    """
    groups: dict[tuple, list[sp.Expr]] = {}
    for t in terms:
        t = replace(t, coeff=_recombine(t.coeff), conds=tuple(_recombine(c) for c in t.conds))
        groups.setdefault((t.limits, t.conds), []).append(t.coeff)
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
