"""Symbolic equality under a budget, constants read exactly, branch coverage of samples."""
from __future__ import annotations

import math
import time

import sympy as sp
import torch

from symbolic_torch.gradcheck.equivalence import branch_points, canonical, exact_constant, prove
from symbolic_torch.gradcheck.sampling import Space, cover, evaluate_at

x, g = sp.symbols("x g", real=True)


def later() -> float:
    return time.monotonic() + 30


def test_floats_are_read_as_the_constants_they_round_to() -> None:
    assert exact_constant(1 / math.sqrt(2)) == sp.sqrt(2) / 2
    assert exact_constant(1 / math.sqrt(2 * math.pi)) == sp.sqrt(2) / (2 * sp.sqrt(sp.pi))
    assert exact_constant(1e-5) == sp.Rational(1, 100000)
    assert exact_constant(0.70710678) != sp.sqrt(2) / 2  # a truncated constant is not √2/2


def test_prove_equal_forms_and_leave_different_ones_open() -> None:
    s = 1 / (1 + sp.exp(-x))
    assert prove(g * (s + x * s * (1 - s)), g * s * (1 + x * (1 - s)), later()).proved
    huber = sp.Piecewise((x, sp.Abs(x) <= 3), (3 * sp.sign(x), True))
    assert prove(huber, sp.Piecewise((-3, x < -3), (3, x > 3), (x, True)), later()).status == "proved"
    wrong = prove(2 * g * x, g * x, later())
    assert wrong.status == "open" and wrong.difference == g * x
    assert prove(2 * g * x, g * x, time.monotonic() - 1).status == "timeout"


def test_canonical_forms_share_one_proof_across_elements() -> None:
    a, b = sp.IndexedBase("a", real=True), sp.IndexedBase("b", real=True)
    first, _ = canonical([a[0, 1] * b[0, 1]])
    second, back = canonical([a[2, 2] * b[2, 2]])
    assert first == second and second[0].xreplace(back) == a[2, 2] * b[2, 2]


def test_cover_adds_points_on_the_missing_side_of_each_condition() -> None:
    X = sp.IndexedBase("x", real=True)
    space = Space({"x": torch.zeros(2, dtype=torch.float64)}, set(), set())
    conditions = branch_points(sp.Piecewise((1, X[0] > 50), (0, True)) + sp.Abs(X[1] + 7))
    extra = cover(conditions, space.first(), space)
    assert bool((extra["x"][:, 0] > 50).any()) and bool((extra["x"][:, 1] < -7).any())
    assert evaluate_at(X[0] * 2, extra).shape == (len(extra["x"]),)
