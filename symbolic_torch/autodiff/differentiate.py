"""Backward formulas, derived by sympy: ∂L/∂x = Σ_out ḡ[out] · ∂y[out]/∂x.

For each differentiable operand of a step, sympy differentiates the forward
formula by one symbolic element of the operand; the delta-elimination pass
brings the result to closed index form. Nothing here knows any op.
"""
from __future__ import annotations

import sympy as sp

from symbolic_torch.ir import symbols as S
from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.autodiff.deltas import eliminate
from symbolic_torch.errors import DerivationError

_POOL = "ijklmnopqrstuvwabcdefgh"


_CACHE: dict[tuple, sp.Eq] = {}
_CACHE_SIZE = 4096


def gradient_formula(call: Call, rhs: sp.Expr, operand: Operand, seed_one: bool = False) -> sp.Eq:
    """``Eq(∂L/∂x[idx], closed form)`` for ``operand`` of the step ``call``.

    ``seed_one`` replaces the adjoint of a scalar output by 1 (the loss itself).
    Identical formulas (an RNN's time steps, repeated blocks) are derived once.
    """
    key = (rhs, call.out_indices, call.out_shape, operand.symbol, operand.shape, seed_one)
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = _derive_gradient(call, rhs, operand, seed_one)
    return _CACHE[key]


def _derive_gradient(call: Call, rhs: sp.Expr, operand: Operand, seed_one: bool) -> sp.Eq:
    out = call.out_indices
    free = tuple(sp.Symbol(f"α{k}", integer=True) for k in range(operand.ndim))
    ranges = {f: (0, n - 1) for f, n in zip(free, operand.shape)}
    element = operand[free]
    if out:
        adj = S.adjoint()[out]
    else:
        adj = sp.S.One if seed_one else sp.Symbol(S.ADJOINT, real=True)
    inner = sp.diff(rhs, element)
    expr = adj * inner
    if out:
        expr = sp.Sum(expr, *[(i, 0, n - 1) for i, n in zip(out, call.out_shape)])
    closed = eliminate(expr, ranges, prefer=list(out)) if expr.has(sp.KroneckerDelta) else _plain(expr, free)
    leftover = [c.__name__ for c in (sp.KroneckerDelta, sp.Derivative, sp.Subs) if closed.has(c)]
    if leftover:
        raise DerivationError(f"{call.node_name}: gradient for {operand.key} keeps {leftover}: {closed}")
    leaked = {s for s in closed.free_symbols
              if isinstance(s, sp.Symbol) and s.is_integer and s not in free}
    if leaked:  # a summation index escaped its Σ (e.g. a Piecewise folded out of a Sum)
        raise DerivationError(f"{call.node_name}: gradient for {operand.key} leaves indices "
                              f"{sorted(map(str, leaked))} unbound: {closed}. Use Iverson(cond) "
                              "factors, not Piecewise, for conditions inside a Sum.")
    names = _natural_names(rhs, operand, closed, free)
    rename = dict(zip(free, names))
    lhs_base = S.gradient_of(operand.symbol)
    lhs = lhs_base[tuple(names)] if names else sp.Symbol(S.GRAD_PREFIX + operand.symbol, real=True)
    return sp.Eq(lhs, closed.xreplace(rename), evaluate=False)


def _plain(expr: sp.Expr, free: tuple[sp.Symbol, ...]) -> sp.Expr:
    return expr.doit() if isinstance(expr, sp.Sum) and not expr.function.free_symbols else expr


def _natural_names(rhs: sp.Expr, operand: Operand, closed: sp.Expr,
                   free: tuple[sp.Symbol, ...]) -> tuple[sp.Symbol, ...]:
    """Index names for the gradient: those the forward formula reads the operand with."""
    used = {str(s) for s in _all_symbols(closed)} - {str(f) for f in free}
    used.add(operand.symbol)
    reads = [e for e in sp.preorder_traversal(rhs)
             if isinstance(e, sp.Indexed) and str(e.base.label) == operand.symbol]
    names: list[sp.Symbol] = []
    for k in range(len(free)):
        wanted = None
        if reads and isinstance(reads[0].indices[k], sp.Symbol):
            wanted = str(reads[0].indices[k])
        if wanted is None or wanted in used:
            wanted = next(c for c in _POOL if c not in used)
        used.add(wanted)
        names.append(S.index(wanted))
    return tuple(names)


def _all_symbols(e: sp.Basic) -> set[sp.Symbol]:
    return {s for s in sp.preorder_traversal(e) if isinstance(s, sp.Symbol)}
