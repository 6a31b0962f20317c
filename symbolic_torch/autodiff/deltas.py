"""Delta elimination: turn ``Σ … δ(…)`` into closed index form.

sympy's derivative of an index-form formula by a tensor element is a sum of
products with ``KroneckerDelta`` factors. This pass

1. flattens the expression into terms (coefficient, deltas, sum limits, conditions),
   pulling sums and piecewise branches that carry deltas out to the top (``terms``);
2. merges deltas on the digits of one index (``⌊k/9⌋ = c``, ``k mod 3 = w``, as
   reshapes produce) into one affine equation (``digits``);
3. solves each affine equation for a summation index: coefficient ±1 gives a
   substitution plus a range condition, a stride ``s`` adds ``s | rest``, a
   mixed-radix combination (``3·i + j = k``) eliminates all of its indices (``affine``);
4. drops conditions that the index ranges already imply and terms they rule out
   (``conditions``).

What remains has no ``KroneckerDelta``: deltas between free indices become
conditions of a ``Piecewise``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import sympy as sp

from symbolic_torch.autodiff.affine import solve_delta
from symbolic_torch.autodiff.conditions import as_eq, bounds, simplify_conds
from symbolic_torch.autodiff.digits import merge_digits, merge_reindex, split_digits
from symbolic_torch.autodiff.substitution import bound_replace
from symbolic_torch.autodiff.terms import Term, distribute, flatten, rebuild
from symbolic_torch.ir.symbols import Ranges

__all__ = ["bound_replace", "bounds", "eliminate"]


def eliminate(expr: sp.Expr, free: Ranges, prefer: Sequence[sp.Symbol] = ()) -> sp.Expr:
    """Closed form of ``expr``, a derivative full of deltas, for indices in ``free``.

    ``prefer`` lists summation indices to solve for first (the adjoint's indices,
    so that a convolution's input gradient comes out as a transposed convolution).
    ``Σ_{o} ḡ[o]·W[o, i]·δ(i, i₀)`` over ``o`` gives ``Σ_{o} ḡ[o]·W[o, i₀]``; a delta left
    between free indices becomes ``Piecewise((…, i = j), (0, True))``.
    """
    taken = {str(s) for s in expr.free_symbols | set(free)}
    terms = flatten(distribute(expr), taken)
    done = [t for t in (_solve_term(t, free, list(prefer)) for t in terms) if t is not None]
    return rebuild(done)


def _solve_term(term: Term, free: Ranges, prefer: list[sp.Symbol]) -> Term | None:
    """``term`` without deltas (solved, or kept as conditions), its conditions simplified."""
    while term.deltas:
        term, prefer = _step(term, free, prefer)
    return simplify_conds(term, free)


def _step(term: Term, free: Ranges, prefer: list[sp.Symbol]) -> tuple[Term, list[sp.Symbol]]:
    """One round: merge digit deltas, then split an index into digits or solve one delta;
    when nothing applies, every delta left becomes a condition."""
    ranges = term.ranges(free)
    bound = term.summed
    deltas, conds = merge_digits(term.deltas, bound, ranges)
    term = replace(term, deltas=merge_reindex(deltas, bound, free, ranges), conds=term.conds + tuple(conds))
    split = split_digits(term, bound, ranges, mixed_only=True)
    if split is None:
        solved = _substitute(term, bound, ranges, prefer)
        if solved is not None:
            return solved, prefer
        split = split_digits(term, bound, ranges)
    if split is None:
        return replace(term, deltas=(), conds=term.conds + tuple(as_eq(d) for d in term.deltas)), prefer
    term, v, digits = split
    return term, prefer + digits if v in prefer else prefer  # an adjoint index's digits are adjoint indices too


def _substitute(term: Term, bound: list[sp.Symbol], ranges: Ranges, prefer: list[sp.Symbol]) -> Term | None:
    """``term`` with its first solvable delta solved and substituted, or None."""
    for k, d in enumerate(term.deltas):
        solved = solve_delta(d, bound, ranges, prefer)
        if solved is None:
            continue
        subs, conds = solved
        rest = Term(term.coeff, term.deltas[:k] + term.deltas[k + 1:],
                    tuple(l for l in term.limits if l[0] not in subs), term.conds)
        rest = rest.xreplace(subs)
        return replace(rest, conds=rest.conds + tuple(conds))
    return None
