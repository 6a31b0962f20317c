"""The steps of delta elimination on their own: terms, conditions, affine solving, digits.

Each step is fed a hand-written input and its exact output is asserted, so that a change of
one step shows here and not only as a different closed form in ``test_deltas``.
"""
from __future__ import annotations

import sympy as sp

from symbolic_torch.autodiff.affine import solve_delta
from symbolic_torch.autodiff.conditions import as_eq, bounds, decide, simplify_conds
from symbolic_torch.autodiff.digits import digit, merge_digits, merge_reindex, split_digits
from symbolic_torch.autodiff.terms import Term, distribute, flatten, rebuild
from symbolic_torch.ir import symbols as S

x = S.tensor("x")
i, j, k, m = S.indices("ijkm")


# --- terms ----------------------------------------------------------------------------------------

def test_flatten_pulls_the_sum_and_the_delta_out() -> None:
    e = sp.Sum(x[i] * sp.KroneckerDelta(i, k), (i, 0, 3)) + x[k]
    assert set(flatten(distribute(e), {"k"})) == {Term(x[i], (i - k,), ((i, 0, 3),)), Term(x[k])}


def test_flatten_renames_a_summation_index_that_is_taken() -> None:
    (t,) = flatten(sp.Sum(x[i] * sp.KroneckerDelta(i, k), (i, 0, 3)), {"i", "k"})
    fresh = sp.Symbol("i'", integer=True)
    assert t == Term(x[fresh], (fresh - k,), ((fresh, 0, 3),))


def test_flatten_gives_a_branch_its_condition_and_not_the_earlier_ones() -> None:
    e = sp.Piecewise((sp.KroneckerDelta(i, k), i < 2), (2 * sp.KroneckerDelta(i, k), True))
    first, second = flatten(e, set())
    assert first.conds == (i < 2,) and second.conds == (sp.Not(i < 2),) and second.coeff == 2


def test_distribute_keeps_an_exponential_whole() -> None:
    e = sp.exp(x[i] - x[k]) * (x[i] + 1)
    assert distribute(e) == sp.exp(x[i] - x[k]) * x[i] + sp.exp(x[i] - x[k])


def test_rebuild_groups_terms_and_reads_digits_whole() -> None:
    terms = [Term(x[sp.Mod(k, 3) + 3 * sp.floor(k / 3)], (), ((i, 0, 2),), (sp.Eq(i, k),)),
             Term(-x[i], (), ((i, 0, 2),), (sp.Eq(i, k),)), Term(x[j])]
    body = sp.Piecewise((x[k] - x[i], sp.Eq(i, k)), (0, True))
    assert rebuild(terms) == sp.Sum(body, (i, 0, 2)) + x[j]


# --- conditions -----------------------------------------------------------------------------------

def test_bounds_is_interval_arithmetic() -> None:
    r = {i: (0, 3), j: (1, 2)}
    assert bounds(2 * i - j, r) == (-2.0, 5.0)
    assert bounds(sp.floor(i / 2), r) == (0, 1)
    assert bounds(sp.Mod(i + 4, 8), r) == (4.0, 7.0)  # one period: exact
    assert bounds(sp.Mod(i, 2), r) == (0.0, 1.0)
    assert bounds(i * k, r) is None


def test_decide_says_always_never_or_unknown() -> None:
    r = {i: (0, 3)}
    assert decide(i >= 0, r) is True
    assert decide(i > 3, r) is False
    assert decide(i >= 2, r) is None
    assert decide(sp.Eq(sp.Mod(4 * i + 2, 2), 0), r) is True
    assert decide(sp.Eq(x[i], 0), r) is None


def test_simplify_conds_drops_implied_and_repeated_conditions() -> None:
    t = Term(x[i], (), ((i, 0, 3),), (sp.And(i >= 0, k <= i), k <= i))
    assert simplify_conds(t, {k: (0, 5)}) == Term(x[i], (), ((i, 0, 3),), (k <= i,))
    assert simplify_conds(Term(x[i], conds=(i > 3,)), {i: (0, 3)}) is None


def test_as_eq_puts_negative_terms_on_the_right() -> None:
    assert as_eq(i - 2 * j + 1) == sp.Eq(i + 1, 2 * j)


# --- affine ---------------------------------------------------------------------------------------

def test_solve_delta_with_a_unit_coefficient_substitutes() -> None:
    subs, conds = solve_delta(i - k + 1, [i], {i: (0, 3)}, [])
    assert subs == {i: k - 1} and conds == [sp.Le(0, k - 1), sp.Le(k - 1, 3)]


def test_solve_delta_with_a_stride_asks_divisibility() -> None:
    subs, conds = solve_delta(2 * i - k, [i], {i: (0, 3)}, [])
    assert subs == {i: k / 2}
    assert conds == [sp.Eq(sp.Mod(k, 2), 0), sp.Le(0, k), sp.Le(k, 6)]


def test_solve_delta_prefers_the_adjoint_index() -> None:
    subs, _ = solve_delta(i + j - k, [i, j], {i: (0, 3), j: (0, 5)}, [j])
    assert subs == {j: k - i}


def test_solve_delta_on_a_mixed_radix_eliminates_every_index() -> None:
    subs, conds = solve_delta(3 * i + j - k, [i, j], {i: (0, 1), j: (0, 2)}, [])
    assert subs == {j: sp.Mod(k, 3), i: sp.floor(k / 3)}
    assert conds == [sp.Le(0, k), sp.Le(k, 5)]


def test_solve_delta_without_a_summation_index_is_none() -> None:
    assert solve_delta(k - m, [i], {i: (0, 3)}, []) is None


# --- digits ---------------------------------------------------------------------------------------

def test_digit_reads_floor_and_mod() -> None:
    assert digit(sp.Mod(sp.floor(k / 3), 2), {k}) == (k, 3, 2)
    assert digit(sp.Mod(k, 3), {k}) == (k, 1, 3)
    assert digit(sp.floor(k / 3), {i}) is None


def test_merge_digits_joins_the_digits_of_one_index() -> None:
    deltas = (sp.floor(k / 3) - i, sp.Mod(k, 3) - j, m - 1)
    merged, conds = merge_digits(deltas, [k], {k: (0, 5), i: (0, 1), j: (0, 2)})
    assert merged == (k - 3 * i - j, m - 1) and conds == [sp.Le(0, j), sp.Le(j, 2)]


def test_merge_reindex_writes_one_equation_on_the_flat_index() -> None:
    deltas = (i - sp.floor(k / 3), j - sp.Mod(k, 3))
    assert merge_reindex(deltas, [k], {i: (0, 1), j: (0, 2)}, {k: (0, 5)}) == (3 * i + j - k,)


def test_split_digits_sums_over_the_digits_of_an_index() -> None:
    t = Term(x[k], (2 * i + sp.floor(k / 6) - m, sp.Mod(k, 6) - j), ((i, 0, 1), (k, 0, 11)))
    out, v, digits = split_digits(t, [i, k], {i: (0, 1), k: (0, 11), m: (0, 3), j: (0, 5)})
    k0, k1 = digits
    assert v == k and [str(d) for d in digits] == ["k0", "k1"]
    assert out == Term(x[k0 + 6 * k1], (2 * i + k1 - m, k0 - j), ((i, 0, 1), (k0, 0, 5), (k1, 0, 1)))
