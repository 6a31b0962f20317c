"""``evaluate_points`` (and the gradient checker's ``evaluate_at`` on it) against ``evaluate``."""
from __future__ import annotations

import math

import pytest
import sympy as sp
import torch

from symbolic_torch.gradcheck.sampling import evaluate_at
from symbolic_torch.ir.functions import Floor, Ndtr
from symbolic_torch.numeric.evaluate import evaluate, evaluate_points

x = sp.IndexedBase("x")
s = sp.Symbol("s")
POINTS = torch.tensor([[-2.0, 0.5], [0.0, 3.0], [1.5, -1.0], [4.0, 0.25]], dtype=torch.float64)
S = torch.tensor([0.5, -1.0, 2.0, 3.0], dtype=torch.float64)
EXPRS = [
    x[0] * x[1] + s,
    sp.exp(x[0]) / (1 + x[1] ** 2) - sp.sqrt(s ** 2),
    sp.Piecewise((x[0], x[0] > 0), (x[1], x[1] > 0)),  # no branch at the third point: NaN
    sp.Max(x[0], x[1], s) + sp.Min(x[0], 0),
    sp.Heaviside(x[0]) * Floor(x[1]) + Ndtr(s),
    sp.Piecewise((1, sp.Xor(x[0] > 0, x[1] > 0)), (-1, True)),
    sp.erfc(x[1]) + sp.atan2(x[0], s),
]


@pytest.mark.parametrize("expr", EXPRS, ids=range(len(EXPRS)))
def test_points_agree_with_the_evaluator_point_by_point(expr: sp.Expr) -> None:
    known = {x[0]: POINTS[:, 0], x[1]: POINTS[:, 1], s: S}
    got = evaluate_points(expr, known, 4)
    at = evaluate_at(expr, {"x": POINTS, "s": S})
    for m in range(4):
        one = float(evaluate(expr, {"x": POINTS[m], "s": S[m]}))
        for value in (float(got[m]), float(at[m])):
            assert value == one or (math.isnan(value) and math.isnan(one)), (expr, m, value, one)


def test_an_unmatched_piecewise_is_nan_everywhere() -> None:
    """sympy's meaning: no condition holds, the value is undefined."""
    pw = sp.Piecewise((x[0], x[0] > 0), (x[1], x[1] > 0))
    assert math.isnan(float(evaluate(pw, {"x": torch.tensor([-1.0, -1.0])})))
    assert math.isnan(float(evaluate_at(pw, {"x": torch.tensor([[-1.0, -1.0]])})[0]))
    assert float(evaluate(sp.Piecewise((x[0], x[0] > 0), (0, True)), {"x": torch.tensor([-1.0, 2.0])})) == 0.0


def test_a_dirac_delta_is_zero_at_the_points_and_no_points_give_an_empty_tensor() -> None:
    assert evaluate_at(sp.DiracDelta(x[0]) + x[1], {"x": POINTS}).tolist() == POINTS[:, 1].tolist()
    assert evaluate_at(x[0] + 1, {"x": POINTS[:0]}).shape == (0,)
