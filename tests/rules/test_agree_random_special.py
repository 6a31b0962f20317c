"""Random ops (alpha dropout, normal, bernoulli: the run's draws replayed as constants), special functions
(entr, Bessel i0/i0e/i1/i1e, nextafter, frexp), scatter_reduce / index_reduce, matrix_power, gradient, zero_."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

import symbolic_torch as st
from conftest import check, rand
from test_agree_attention_dropout import check_random  # derive and compare under the same seed


# ---------------------------------------------------------------- random ops
ALPHA = [
    ("alpha-train", lambda x: F.alpha_dropout(x, 0.4, True), (3, 5)),
    ("alpha-train-3d", lambda x: F.alpha_dropout(x, 0.7, True) * x, (2, 3, 4)),
    ("alpha-eval", lambda x: F.alpha_dropout(x, 0.4, False), (4,)),
    ("alpha-p1", lambda x: F.alpha_dropout(x, 1.0, True) + x, (3, 2)),
    ("alpha-0d", lambda x: F.alpha_dropout(x, 0.3, True), ()),  # seed 5 keeps the element (p = 0.5 drops it)
    ("feature-4d", lambda x: F.feature_alpha_dropout(x, 0.5, True), (2, 3, 2, 2)),
    ("feature-3d", lambda x: F.feature_alpha_dropout(x, 0.3, True).exp(), (3, 4, 5)),
    ("feature-eval", lambda x: F.feature_alpha_dropout(x, 0.3, False), (2, 3)),
    ("module", lambda x: torch.nn.AlphaDropout(0.2)(x), (4, 3)),
]


@pytest.mark.parametrize("fn, shape", [pytest.param(f, s, id=n) for n, f, s in ALPHA])
def test_alpha_dropout(fn: Callable[..., Any], shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    check_random(fn, rand(*shape))


def test_alpha_dropout_formula() -> None:
    torch.manual_seed(0)
    d = check_random(lambda x: F.alpha_dropout(x, 0.5, True), rand(4, 6))
    step = d.steps[0]
    assert str(step.forward.rhs) == ("0.886404894665932*m[n, i]*x[n, i] + "
                                     "1.55838786103606*m[n, i] - 0.779193930518032")
    mask = step.operand("mask")
    assert mask.source is None and set(mask.value.unique().tolist()) <= {0.0, 1.0}


def test_feature_alpha_dropout_mask_per_channel() -> None:
    torch.manual_seed(0)
    d = check_random(lambda x: F.feature_alpha_dropout(x, 0.5, True), rand(3, 4, 2, 2))
    assert d.steps[0].operand("mask").shape == (3, 4)


RANDOM = [
    ("normal-tensors", lambda m, s: torch.normal(m, s.abs() + 0.1) + m * s, ((3, 4), (3, 4))),
    ("normal-broadcast", lambda m, s: torch.normal(m, s.abs()) * m, ((1, 2, 3), (5, 2, 3))),
    ("normal-float-std", lambda m, s: torch.normal(m, 1.5) + s, ((2, 3), (2, 3))),
    ("normal-float-mean", lambda m, s: torch.normal(0.3, s.abs()) * m, ((4,), (4,))),
    ("bernoulli", lambda p, x: torch.bernoulli(p.sigmoid()) * x, ((3, 4), (3, 4))),
]


@pytest.mark.parametrize("fn, shapes", [pytest.param(f, s, id=n) for n, f, s in RANDOM])
def test_random_draws(fn: Callable[..., Any], shapes: tuple[tuple[int, ...], ...]) -> None:
    torch.manual_seed(0)
    check_random(fn, *(rand(*s) for s in shapes))


def test_random_draw_that_does_not_replay_is_refused() -> None:
    from symbolic_torch.frontend.call import Call, TensorArg
    from symbolic_torch.rules.random_ops import bernoulli
    p = rand(4, positive=True) / 2
    torch.manual_seed(3)
    out = torch.bernoulli(p)
    call = Call("b", "bernoulli", None, None, out)
    torch.manual_seed(4)
    call.rng_state = torch.random.get_rng_state()  # not the state the run saw
    with pytest.raises(NotImplementedError, match="does not reproduce"):
        bernoulli(call, TensorArg(p, "p", True, 0))


def test_bernoulli_with_p_is_a_constant() -> None:
    """torch.bernoulli(x, p) ignores x's values (torch has no derivative for it): y is the run's draws, ∂ = 0."""
    torch.manual_seed(0)
    x = rand(5)
    torch.manual_seed(2)
    d = st.derive(lambda x: torch.bernoulli(x, 0.3) + x.sin(), x, grad_output=torch.ones(5, dtype=torch.float64),
                  verify=False)  # torch's autograd has no derivative to verify against
    assert str(d.steps[0].forward.rhs) == "B[i]"
    assert torch.allclose(d.gradient_values()[d.input_names[0]], x.cos())


# ---------------------------------------------------------------- special functions
SPECIAL = [
    ("entr", lambda x: torch.special.entr(x.abs() + 0.1), (3, 4)),
    ("i0", lambda x: torch.i0(x * 3), (2, 5)),
    ("i0-method", lambda x: x.i0() * x, (4,)),
    ("special-i0", lambda x: torch.special.i0(x), (2, 2, 3)),
    ("i0e", lambda x: torch.special.i0e(x * 4), (3, 4)),
    ("i1", lambda x: torch.special.i1(x * 3), (6,)),
    ("i1e", lambda x: torch.special.i1e(x * 4), (2, 3)),
    ("i1-at-zero", lambda x: torch.special.i1(x * torch.tensor([0.0, 1, 0, 2], dtype=torch.float64)), (4,)),
    ("i1e-at-zero", lambda x: torch.special.i1e(x * torch.tensor([0.0, 1, 0], dtype=torch.float64)), (2, 3)),
    ("i0e-large", lambda x: torch.special.i0e(x * 400), (5,)),
    ("i1e-second-order", lambda x: torch.special.i1e(x).sum() * torch.special.i0e(x), (3,)),
    ("frexp", lambda x: torch.frexp(x * 10)[0], (3, 4)),
    ("frexp-method", lambda x: x.frexp().mantissa * x, (5,)),
]


@pytest.mark.parametrize("fn, shape", [pytest.param(f, s, id=n) for n, f, s in SPECIAL])
def test_special(fn: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(fn, rand(*shape))


def test_entr_at_zero_and_below() -> None:
    """torch's entr backward −(1 + log x): +∞ at 0, NaN below 0; verification compares the patterns."""
    x = torch.tensor([0.0, -1.5, 0.3, 2.0], dtype=torch.float64)
    d = st.derive(lambda x: torch.special.entr(x), x, grad_output=torch.ones(4, dtype=torch.float64))
    assert d.report is not None and d.report.ok, str(d.report)
    g = d.gradient_values()[d.input_names[0]]
    assert g[0] == float("inf") and g[1].isnan() and torch.isfinite(g[2:]).all()


def test_special_formulas() -> None:
    forward = {k: str(check(f, rand(3)).steps[-1].forward.rhs) for k, f in [
        ("entr", lambda x: torch.special.entr(x.abs())), ("i1", lambda x: torch.special.i1(x)), ("i0e", lambda x: torch.special.i0e(x)),
        ("frexp", lambda x: torch.frexp(x)[0])]}
    assert forward == {"entr": "Entr(x[i])", "i1": "besseli(1, x[i])", "i0e": "ScaledBesselI(0, x[i])",
                       "frexp": "x[i]/2**E[i]"}


NEXTAFTER = [
    ("up", lambda x, y: torch.nextafter(x, x + 1), ((3, 4), (3, 4))),
    ("broadcast", lambda x, y: torch.nextafter(x, y) * y, ((5, 1), (5,))),
    ("toward-other", lambda x, y: x.nextafter(y).exp(), ((2, 3), (2, 3))),
    ("scalar-other", lambda x, y: torch.nextafter(x, torch.tensor(0.0, dtype=torch.float64)), ((4,), (1,))),
]


@pytest.mark.parametrize("fn, shapes", [pytest.param(f, s, id=n) for n, f, s in NEXTAFTER])
def test_nextafter(fn: Callable[..., Any], shapes: tuple[tuple[int, ...], ...]) -> None:
    d = check(fn, *(rand(*s) for s in shapes))
    step = [s for s in d.steps if s.op == "nextafter"][0]
    assert step.operand("step").value.abs().max() < 1e-14


# ---------------------------------------------------------------- scatter_reduce, index_reduce
IDX = torch.tensor([[0, 2, 0, 1], [3, 3, 0, 2], [1, 0, 0, 0]])  # rows of 4 targets in 0…3 (2 untouched in row 2)
ROWS = torch.tensor([2, 0, 2, 4, 2])  # index_reduce: 5 source rows into rows 0…4 (1 and 3 untouched)


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["sum", "prod", "mean", "amax", "amin"])
def test_scatter_reduce(reduce: str, include_self: bool) -> None:
    check(lambda x, s: torch.scatter_reduce(x, 1, IDX, s, reduce, include_self=include_self), rand(3, 4), rand(3, 4))
    check(lambda x, s: x.scatter_reduce(0, IDX[:2, :3] % 2, s, reduce, include_self=include_self) * x,
          rand(2, 4, positive=True), rand(2, 3))


@pytest.mark.parametrize("include_self", [True, False])
@pytest.mark.parametrize("reduce", ["prod", "mean", "amax", "amin"])
def test_index_reduce(reduce: str, include_self: bool) -> None:
    check(lambda x, s: torch.index_reduce(x, 0, ROWS, s, reduce, include_self=include_self), rand(5, 3), rand(5, 3))
    check(lambda x, s: x.index_reduce(1, ROWS[:3] % 3, s, reduce, include_self=include_self).exp(),
          rand(2, 3, 2), rand(2, 3, 2))


@pytest.mark.parametrize("reduce", ["amax", "amin"])
def test_extremum_ties_share_the_gradient(reduce: str) -> None:
    """Equal extrema (self and two sources) split the gradient evenly, as torch's backward does."""
    x = torch.tensor([[1.0, 5.0, -2.0]], dtype=torch.float64)
    s = torch.tensor([[1.0, 1.0, 0.5, 5.0]], dtype=torch.float64)
    index = torch.tensor([[0, 0, 1, 1]])
    d = check(lambda x, s: torch.scatter_reduce(x, 1, index, s, reduce), x, s)  # shares checked against autograd
    g = d.gradient_values()
    if reduce == "amax":
        assert torch.equal(g[d.input_names[1]].abs() > 0, torch.tensor([[True, True, False, True]]))
    # include_self=False: a self value equal to the winning source is no tie (it is not in the max)
    x0 = torch.tensor([[5.0, 0.0]], dtype=torch.float64)
    d = check(lambda x, s: torch.scatter_reduce(x, 1, torch.tensor([[0, 0, 1]]), s, reduce, include_self=False),
              x0, torch.tensor([[5.0, 1.0, 2.0]], dtype=torch.float64))
    assert not d.gradient_values()[d.input_names[0]].any()  # every self value was replaced
    check(lambda x, s: torch.index_reduce(x, 0, torch.tensor([0, 0]), s, reduce), torch.ones(1, 2, dtype=torch.float64),
          torch.tensor([[1.0, 3.0], [1.0, -3.0]], dtype=torch.float64))


def test_scatter_reduce_formula() -> None:
    d = check(lambda x, s: torch.scatter_reduce(x, 1, IDX[:, :2], s, "sum", include_self=False), rand(3, 4), rand(3, 2))
    assert str(d.steps[0].forward.rhs) == "S[i, j]*x[i, j] + Sum([Eq(I[i, q], j)]*s[i, q], (q, 0, 1))"


# ---------------------------------------------------------------- matrix_power, gradient, zero_
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
def test_matrix_power(n: int, shape: tuple[int, ...]) -> None:
    check(lambda a: torch.linalg.matrix_power(a, n) + a, rand(*shape) / 2)


def test_matrix_power_method_and_scalar_inverse() -> None:
    check(lambda a: a.matrix_power(4).sin(), rand(2, 2))
    check(lambda a: torch.linalg.matrix_power(a, -3), rand(3, 1, 1, positive=True))  # 1×1: the inverse is 1/a


def test_matrix_power_negative_is_refused() -> None:
    with pytest.raises(st.UnsupportedOpError, match="needs the inverse"):
        st.derive(lambda a: torch.linalg.matrix_power(a, -1), rand(2, 2))


def test_matrix_power_formula() -> None:
    d = check(lambda a: torch.linalg.matrix_power(a, 3), rand(3, 3))
    assert str(d.steps[0].forward.rhs) == "Sum(A[i, k1]*A[k1, k2]*A[k2, j], (k1, 0, 2), (k2, 0, 2))"


COORDS = torch.tensor([0.0, 0.4, 1.5, 1.7, 3.0], dtype=torch.float64)
GRADIENT = [
    ("1d", lambda x: torch.gradient(x)[0], (6,)),
    ("1d-spacing", lambda x: torch.gradient(x, spacing=0.5)[0], (5,)),
    ("2d-edge2", lambda x: torch.gradient(x, edge_order=2)[1] * torch.gradient(x, edge_order=2)[0], (4, 5)),
    ("dims-spacings", lambda x: torch.gradient(x, spacing=[2.0, 0.3], dim=(0, 2))[1], (3, 2, 4)),
    ("dim-int", lambda x: torch.gradient(x, dim=-1, edge_order=2)[0].exp(), (2, 5)),
    ("coords", lambda x: torch.gradient(x, spacing=(COORDS,), dim=1)[0], (3, 5)),
    ("coords-edge2", lambda x: torch.gradient(x, spacing=(COORDS,), dim=0, edge_order=2)[0], (5, 2)),
]


@pytest.mark.parametrize("fn, shape", [pytest.param(f, s, id=n) for n, f, s in GRADIENT])
def test_gradient(fn: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(fn, rand(*shape))


def test_zero_() -> None:
    """torch.zero_ and x.zero_() on an intermediate: y = 0 (fx: a zeros_like constant; torch.export: aten.zero)."""
    check(lambda x: torch.zero_(x * 2) + x.sin(), rand(3, 4))
    check(lambda x: (x * 3).zero_() * 2 + x, rand(5))
    from test_agree_pooling_extra import exported
    d = check(exported(lambda x: torch.zero_(x * 2) + x.sin()), rand(3, 4))
    assert d.capture_method == "torch.export" and [str(s.forward.rhs) for s in d.steps if s.op == "zero_"] == ["0"]


@pytest.mark.parametrize("nu", [0, 1, 2])
@pytest.mark.parametrize("at", [-1.7, 0.4, 2.5])
def test_primitive_derivatives_agree_with_sympy(nu: int, at: float) -> None:
    """The primitives' own derivatives (kept as one factor for torch's edge values) equal sympy's
    derivative of what they stand for, where that is defined."""
    import sympy as sp
    from symbolic_torch.rules.special_functions import Entr, ScaledBesselI
    x = sp.Symbol("x", real=True)
    ours = ScaledBesselI(nu, x).diff(x).subs(x, at)
    theirs = sp.diff(sp.exp(-sp.Abs(x)) * sp.besseli(nu, x), x).subs(x, at)
    ours = ours.replace(ScaledBesselI, lambda n, y: sp.exp(-sp.Abs(y)) * sp.besseli(n, y))
    assert abs(float(sp.N(ours.rewrite(sp.sign))) - float(sp.N(theirs))) < 1e-12
    if at > 0:
        assert abs(float(Entr(x).diff(x).subs(x, at)) - float(sp.diff(-x * sp.log(x), x).subs(x, at))) < 1e-12
