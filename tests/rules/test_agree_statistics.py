"""Agreement tests for rules/statistics.py and rules/norms.py."""
from __future__ import annotations

import math
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

import symbolic_torch as st

from conftest import check, rand

CASES: list[tuple[str, Callable[..., Any], Callable[[], torch.Tensor]]] = [
    ("amax", lambda x: torch.amax(x, dim=(0, 2), keepdim=True), lambda: rand(2, 3, 4)),
    ("amin", lambda x: x.amin(1), lambda: rand(3, 4)),
    ("max", torch.max, lambda: rand(3, 4)), ("min", lambda x: x.min(), lambda: rand(3, 4)),
    ("max", lambda x: torch.max(x, x.flip(0)), lambda: rand(3, 4)),
    ("logsumexp", lambda x: torch.logsumexp(x, 1), lambda: rand(3, 4)),
    ("logsumexp", lambda x: torch.logsumexp(x, (0, 1), keepdim=True), lambda: rand(3, 4) * 1000),  # no overflow
    ("var", lambda x: torch.var(x, 1), lambda: rand(3, 4)),
    ("var", lambda x: torch.var(x, (0, 2), correction=0, keepdim=True), lambda: rand(2, 3, 4)),
    ("var", lambda x: x.var(False), lambda: rand(3, 4)),
    ("std", lambda x: torch.std(x, 0, True, True), lambda: rand(3, 4)),
    ("nansum", lambda x: torch.nansum(x, 1), lambda: rand(3, 4)),
    ("nanmean", lambda x: torch.nanmean(x), lambda: rand(3, 4)),
    ("cumsum", lambda x: torch.cumsum(x, 1), lambda: rand(3, 4)),
    ("logcumsumexp", lambda x: torch.logcumsumexp(x, 0), lambda: rand(3, 4) * 500),
    ("softmin", lambda x: F.softmin(x, 1), lambda: rand(3, 4)),
    ("trace", torch.trace, lambda: rand(3, 4)),
    ("vector_norm", lambda x: torch.linalg.vector_norm(x, 3, dim=1), lambda: rand(3, 4)),
    ("vector_norm", lambda x: torch.linalg.vector_norm(x, math.inf), lambda: rand(3, 4)),
    ("vector_norm", lambda x: torch.linalg.vector_norm(x, 0.5, keepdim=True), lambda: rand(3, 4)),
    ("vector_norm", lambda x: torch.linalg.vector_norm(x, 0), lambda: rand(3, 4)),
    ("vector_norm", lambda x: torch.linalg.vector_norm(x, -2), lambda: rand(3, 4)),
    ("norm", lambda x: torch.norm(x), lambda: rand(3, 4)), ("norm", lambda x: x.norm(1, dim=0), lambda: rand(3, 4)),
    ("norm", lambda x: torch.norm(x, -math.inf, 1), lambda: rand(3, 4)),
    ("linalg_norm", lambda x: torch.linalg.norm(x), lambda: rand(3, 4)),
    ("linalg_norm", lambda x: torch.linalg.norm(x, math.inf), lambda: rand(3, 4)),
    ("linalg_norm", lambda x: torch.linalg.norm(x, -1, dim=(1, 0)), lambda: rand(3, 4)),
    ("linalg_norm", lambda x: torch.linalg.norm(x, 3, dim=1), lambda: rand(3, 4)),
    ("matrix_norm", lambda x: torch.linalg.matrix_norm(x), lambda: rand(2, 3, 4)),
    ("matrix_norm", lambda x: torch.linalg.matrix_norm(x, 1), lambda: rand(2, 3, 4)),
]


@pytest.mark.parametrize("rule, f, make", CASES, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(CASES)])
def test_reduction(rule: str, f: Callable[..., Any], make: Callable[[], torch.Tensor]) -> None:
    d = check(lambda x: f(x), make())
    assert rule in [s.op for s in d.steps]


def test_vector_norm_at_zero() -> None:
    d = check(lambda x: torch.linalg.vector_norm(x), torch.zeros(3, dtype=torch.float64),
              zero_gradient_ok="torch takes the subgradient 0 at ‖x‖ = 0 (x/‖x‖ would be NaN)")
    assert d.steps[0].op == "vector_norm"


def test_dist_broadcasts() -> None:
    d = check(lambda x, y: torch.dist(x, y, 3), rand(3, 4), rand(4))
    assert d.steps[0].op == "dist"


def test_nan_cells_are_skipped() -> None:
    """The NaN mask is a constant of the formula; the NaN cells get no gradient."""
    x = rand(4)
    x[1] = float("nan")
    for f in (torch.nansum, torch.nanmean):
        check(lambda t: f(t), x)


@pytest.mark.parametrize("dim", [1, 0, (0, 1)])
@pytest.mark.parametrize("f", [torch.nansum, torch.nanmean], ids=["nansum", "nanmean"])
def test_nan_reductions_along_dims_with_an_all_nan_row(f: Callable[..., Any], dim: Any) -> None:
    """A NaN read under a false [m = 0] is 0 (forward); ḡ/0 under it stays NaN, as in torch's backward."""
    x = rand(3, 4)
    x[0, 1] = float("nan")
    x[2, :] = float("nan")
    g = torch.randn(f(x, dim).shape, dtype=torch.float64)
    d = st.derive(lambda t: f(t, dim), x, grad_output=g)
    assert d.report is not None and d.report.ok, str(d.report)
    leaf = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(f(leaf, dim), leaf, g)
    torch.testing.assert_close(d.gradient_values()["t"], ref, rtol=0, atol=1e-12, equal_nan=True)
    torch.testing.assert_close(d.values[d.outputs[0]], f(x, dim), rtol=0, atol=1e-12, equal_nan=True)


def test_logsumexp_shift_is_a_constant() -> None:
    d = check(lambda x: torch.logsumexp(x, 1), rand(2, 3))
    assert str(d.steps[0].forward.rhs) == "log(Sum(ExpShift(x[i, j], M[i]), (j, 0, 2))) + M[i]"
    assert not d.steps[0].operand("shift").differentiable


@pytest.mark.parametrize("f", [lambda x: torch.prod(x), lambda x: x.prod(1, keepdim=True), lambda x: torch.cumprod(x, 1)],
                         ids=["prod", "prod-dim", "cumprod"])
def test_products_with_a_zero(f: Callable[..., Any]) -> None:
    """Π differentiates to the product of the others: no division, right at zeros."""
    x = rand(3, 4)
    x[1, 2] = 0.0
    check(f, x)


def test_aten_names_reach_their_rules() -> None:
    """torch.export's ATen overloads (masked ops decompose to them) find the same rules."""
    from symbolic_torch.frontend import table
    assert table.lookup("call_function", torch.ops.aten.linalg_vector_norm.default).name == "vector_norm"
    assert table.lookup("call_function", torch.ops.aten.divide.Tensor).name == "div"
    check(lambda x, y: torch.divide(x, y) + x.divide(y), rand(3), rand(3, positive=True))
