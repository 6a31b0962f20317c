"""``bound_replace``: substitution that neither touches nor captures bound variables."""
from __future__ import annotations

import sympy as sp

from symbolic_torch.autodiff.substitution import bound_replace
from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.primitives import WindowMax

G = S.adjoint()
x = S.tensor("x")
i, j, k = S.indices("ijk")


def test_bound_replace_leaves_sum_variables_alone() -> None:
    e = sp.Sum(x[i] * G[j], (i, 0, 3))
    assert bound_replace(e, {i: sp.Integer(5), j: sp.Integer(2)}) == sp.Sum(x[i] * G[2], (i, 0, 3))


def test_bound_replace_substitutes_in_limits() -> None:
    e = sp.Sum(x[i], (i, 0, j))
    assert bound_replace(e, {i: sp.Integer(5), j: sp.Integer(2)}) == sp.Sum(x[i], (i, 0, 2))


def test_bound_replace_respects_nested_scopes() -> None:
    e = x[i] + sp.Sum(x[i] * G[j], (i, 0, 3))
    assert bound_replace(e, {i: k}) == x[k] + sp.Sum(x[i] * G[j], (i, 0, 3))


def test_bound_replace_leaves_window_variables_alone() -> None:
    p = S.index("p")
    e = WindowMax(x[2 * i + p], sp.Tuple(p, 0, 1))
    assert bound_replace(e, {p: sp.Integer(7), i: j}) == WindowMax(x[2 * j + p], sp.Tuple(p, 0, 1))


def test_bound_replace_substitutes_in_a_window_guard() -> None:
    p = S.index("p")
    e = WindowMax(x[2 * i + p], sp.Tuple(p, 0, 1), sp.And(2 * i + p >= 1, 2 * i + p <= 4))
    got = bound_replace(e, {p: sp.Integer(7), i: j})
    assert got == WindowMax(x[2 * j + p], sp.Tuple(p, 0, 1), sp.And(2 * j + p >= 1, 2 * j + p <= 4))




def test_bound_replace_renames_a_variable_the_value_would_be_captured_by() -> None:
    e = sp.Sum(x[i + j], (i, 0, 3))
    got = bound_replace(e, {j: i})
    fresh = sp.Symbol("i'", integer=True)
    assert got == sp.Sum(x[fresh + i], (fresh, 0, 3))


def test_bound_replace_without_a_match_returns_the_same_object() -> None:
    e = sp.Sum(x[i], (i, 0, 3))
    assert bound_replace(e, {j: k}) is e
    assert bound_replace(e, {}) is e
