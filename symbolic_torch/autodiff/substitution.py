"""Substitution that respects bound variables.

``Σ_{i=0}^{n} x[i]`` binds ``i``: replacing the free ``i`` of an enclosing formula must not
touch it, and a value that mentions ``i`` must not be captured by it. ``bound_replace``
is ``xreplace`` with those two scoping rules, for sums and for window operators
(``WindowMax``, ``WindowArgmax``), whose ``limits`` bind the same way.
"""
from __future__ import annotations

import sympy as sp

from symbolic_torch.ir.primitives import WindowArgmax, WindowMax
from symbolic_torch.ir.symbols import fresh_name

Subs = dict[sp.Basic, sp.Basic]


def bound_replace(e: sp.Basic, subs: Subs) -> sp.Basic:
    """``e.xreplace(subs)`` that leaves variables bound by a Sum or window untouched.

    ``bound_replace(Σ_i x[i]·y[j], {i: 0, j: 1}) = Σ_i x[i]·y[1]``; a bound variable that a
    substituted value mentions is renamed first: ``Σ_i x[i + j]`` with ``j ↦ i`` becomes
    ``Σ_{i'} x[i' + i]``. One walk over the tree; a subtree with nothing to replace is
    returned as it is (the same object), so nothing is rebuilt for it.
    """
    return _replace(e, subs) if subs else e


def _replace(e: sp.Basic, subs: Subs) -> sp.Basic:
    if e in subs:
        return subs[e]
    if not e.args:
        return e
    if isinstance(e, (sp.Sum, WindowMax, WindowArgmax)):
        return _replace_in_scope(e, subs)
    args = [_replace(a, subs) for a in e.args]
    return e if all(a is b for a, b in zip(args, e.args)) else e.func(*args)


def _replace_in_scope(e: sp.Basic, subs: Subs) -> sp.Basic:
    """``bound_replace`` inside a scope: its body and its limits' ends, never its variables."""
    bound = {lim[0] for lim in e.limits}
    inner = {k: v for k, v in subs.items() if k not in bound}
    if not inner or not (e.free_symbols & set(inner)):
        return e
    incoming = set().union(*[sp.sympify(v).free_symbols for v in inner.values()])
    clash = bound & incoming
    if clash:  # rename this scope's variables so the substituted values are not captured
        e = e.xreplace(_fresh(e, clash, incoming))
        bound = {lim[0] for lim in e.limits}
    return e.func(*[_replace(a, inner) if not isinstance(a, sp.Tuple) or a[0] not in bound
                    else sp.Tuple(a[0], *[_replace(x, inner) for x in a[1:]]) for a in e.args])


def _fresh(e: sp.Basic, clash: set[sp.Symbol], incoming: set[sp.Basic]) -> Subs:
    """New names for the variables in ``clash``, unused in ``e`` and in the incoming values."""
    names = {str(a) for a in e.atoms(sp.Symbol)} | {str(a) for a in incoming}
    fresh: Subs = {}
    for b in clash:
        fresh[b] = sp.Symbol(fresh_name(str(b), names), integer=True)
        names.add(str(fresh[b]))
    return fresh
