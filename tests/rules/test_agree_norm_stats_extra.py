"""Agreement tests for rules/normalization_extra.py (rms_norm, ATen's tuple-valued norms) and the
statistics, softmax and loss additions beside them."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st

from conftest import check, compare, rand

NORM_CASES: list[tuple[str, Callable[..., Any], tuple[Callable[[], torch.Tensor], ...]]] = [
    ("rms_norm_fn", lambda x, w: F.rms_norm(x, (4,), w, 1e-6), (lambda: rand(3, 4), lambda: rand(4))),
    ("rms_norm_fn", lambda x, w: F.rms_norm(x, (3, 4), w), (lambda: rand(2, 3, 4), lambda: rand(3, 4))),
    ("rms_norm_fn", lambda x: F.rms_norm(x, [5]), (lambda: rand(2, 2, 5),)),  # ε None: finfo(float64).eps
    ("rms_norm_fn", lambda x: F.rms_norm(x, (5,), eps=0.1), (lambda: rand(5),)),
    ("native_layer_norm", lambda x, w, b: torch.native_layer_norm(x, (4,), w, b, 1e-5)[0],
     (lambda: rand(3, 4), lambda: rand(4), lambda: rand(4))),
    ("native_layer_norm", lambda x, w: sum(o.sum() for o in torch.native_layer_norm(x, (2, 3), w, None, 0.5)),
     (lambda: rand(2, 2, 3), lambda: rand(2, 3))),  # μ and 1/σ: no gradient, as in torch
    ("native_group_norm", lambda x, w, b: torch.native_group_norm(x, w, b, 2, 6, 4, 3, 1e-5)[0],
     (lambda: rand(2, 6, 4), lambda: rand(6), lambda: rand(6))),
    ("native_group_norm", lambda x, w: torch.native_group_norm(x, w, None, 3, 4, 5, 4, 0.1)[0],
     (lambda: rand(3, 4, 5), lambda: rand(4))),  # one channel per group
    # cubed before the sum: Σ of a normalized output is constant in x and w
    ("native_batch_norm", lambda x, w, b: sum(o.pow(3).sum() for o in torch.native_batch_norm(
        x, w, b, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), True, 0.1, 1e-5)),
     (lambda: rand(4, 3, 2), lambda: rand(3), lambda: rand(3))),
    ("native_batch_norm", lambda x, w: torch.native_batch_norm(
        x, w, None, torch.full((2,), 0.5, dtype=torch.float64), torch.full((2,), 2.0, dtype=torch.float64),
        False, 0.1, 1e-5)[0], (lambda: rand(3, 2, 2, 2), lambda: rand(2))),
    ("native_batch_norm_legit", lambda x, w, b: torch._native_batch_norm_legit(
        x, w, b, torch.zeros(2, dtype=torch.float64), torch.ones(2, dtype=torch.float64), True, 0.1, 1e-5)[0],
     (lambda: rand(5, 2), lambda: rand(2), lambda: rand(2))),
    ("native_batch_norm_legit", lambda x, w: torch._native_batch_norm_legit(x, w, None, True, 0.1, 1e-3)[0],
     (lambda: rand(3, 2, 4), lambda: rand(2))),
    ("native_batch_norm_legit_no_training", lambda x, b: torch._native_batch_norm_legit_no_training(
        x, None, b, torch.zeros(2, dtype=torch.float64), torch.full((2,), 3.0, dtype=torch.float64), 0.1, 1e-5)[0],
     (lambda: rand(3, 2, 4), lambda: rand(2))),
    ("batch_norm_with_update", lambda x, w, b: torch.ops.aten._batch_norm_with_update(
        x, w, b, torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64), 0.1, 1e-5)[0],
     (lambda: rand(2, 3, 3), lambda: rand(3), lambda: rand(3))),
]


@pytest.mark.parametrize("rule, f, makes", NORM_CASES, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(NORM_CASES)])
def test_norm(rule: str, f: Callable[..., Any], makes: tuple[Callable[[], torch.Tensor], ...]) -> None:
    d = check(f, *[m() for m in makes])
    assert rule in [s.op for s in d.steps]


@pytest.mark.parametrize("shape, affine", [((4,), True), ((3, 4), False), (4, True)])
def test_rms_norm_module(shape: Any, affine: bool) -> None:
    m = nn.RMSNorm(shape, eps=None if affine else 1e-4, elementwise_affine=affine).double()
    if affine:
        with torch.no_grad():
            m.weight.copy_(rand(*m.weight.shape))
    d = check(nn.Sequential(m), rand(2, 3, 4))
    assert d.steps[0].op == "rms_norm"


def test_rms_norm_formula() -> None:
    d = st.derive(lambda x, w: F.rms_norm(x, (3,), w, 1e-6), rand(2, 3), rand(3))
    assert st.latex(d.steps[0].forward) == (
        r"y_{n,i} = \frac{\gamma_{i} x_{n,i}}{\sqrt{\frac{\sum_{i_{1}=0}^{2} x_{n,i_{1}}^{2}}{3} + 1.0 \cdot 10^{-6}}}")


@pytest.mark.parametrize("shape, groups", [((2, 4, 2, 3), 2), ((3, 4, 5), 4), ((2, 6), 3)])
def test_native_group_norm_statistics(shape: tuple[int, ...], groups: int) -> None:
    """μ and 1/σ are differentiated: against autograd with the three outputs' adjoints given (torch's
    backward takes μ's and 1/σ's only together), end to end, as the coverage tool compares."""
    n, c = shape[:2]
    hw = 1
    for s in shape[2:]:
        hw *= s

    def f(x: torch.Tensor, w: torch.Tensor) -> Any:
        y, mean, rstd = torch.native_group_norm(x, w, None, n, c, hw, groups, 1e-3)
        return y, mean, rstd

    x, w = rand(*shape), rand(c)
    outs = f(x, w)
    gs = [torch.randn(o.shape, dtype=torch.float64) for o in outs]
    d = st.derive(f, x, w, grad_output=gs, verify=False)
    assert sorted(s.op for s in d.steps) == ["native_group_norm"] * 3
    leaves = [x.clone().requires_grad_(True), w.clone().requires_grad_(True)]
    ref = torch.autograd.grad(f(*leaves), leaves, gs)
    compare(d.gradient_values(), dict(zip(("x", "w"), ref)))


FW = torch.tensor([3, 1, 2, 5])
STAT_CASES: list[tuple[str, Callable[..., Any], tuple[Callable[[], torch.Tensor], ...]]] = [
    ("cov", lambda x: torch.cov(x), (lambda: rand(3, 4),)),
    ("cov", lambda x: torch.cov(x, correction=0), (lambda: rand(4),)),
    ("cov", lambda x: x.cov(correction=2, fweights=FW), (lambda: rand(2, 4),)),
    ("cov", lambda x, a: torch.cov(x, aweights=a), (lambda: rand(3, 4), lambda: rand(4, positive=True))),
    ("cov", lambda x, a: torch.cov(x, correction=3, fweights=FW, aweights=a),
     (lambda: rand(1, 4), lambda: rand(4, positive=True))),
    ("corrcoef", lambda x: torch.corrcoef(x), (lambda: rand(3, 5),)),
    ("corrcoef", lambda x: x.corrcoef(), (lambda: rand(2, 4),)),
    ("corrcoef", lambda x: torch.corrcoef(x) * x.sum(), (lambda: rand(1, 4),)),  # one row: c / c = 1
    ("quantile", lambda x: torch.quantile(x, 0.3), (lambda: rand(3, 4),)),
    ("quantile", lambda x: torch.quantile(x, 0.3, dim=1, keepdim=True), (lambda: rand(3, 4),)),
    ("quantile", lambda x, q: torch.quantile(x, q, dim=0), (lambda: rand(5, 3), lambda: torch.rand(4, dtype=torch.float64))),
    ("quantile", lambda x, q: torch.quantile(x, q, keepdim=True), (lambda: rand(2, 3), lambda: torch.rand(3, dtype=torch.float64))),
    ("quantile", lambda x: x.quantile(0.7, -1, interpolation="midpoint"), (lambda: rand(2, 3, 5),)),
    ("quantile", lambda x: torch.quantile(x, torch.tensor([0.2, 0.6], dtype=torch.float64), 1, interpolation="lower"),
     (lambda: rand(2, 5, 2),)),
    ("quantile", lambda x: torch.quantile(x, 0.45, 0, interpolation="higher"), (lambda: rand(6, 2),)),
    ("quantile", lambda x: torch.quantile(x, 0.45, 0, True, interpolation="nearest"), (lambda: rand(6, 2),)),
    ("nanquantile", lambda x: torch.nanquantile(x, 0.4, dim=1), (lambda: rand(3, 6),)),
]


@pytest.mark.parametrize("rule, f, makes", STAT_CASES, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(STAT_CASES)])
def test_statistic(rule: str, f: Callable[..., Any], makes: tuple[Callable[[], torch.Tensor], ...]) -> None:
    d = check(f, *[m() for m in makes])
    assert rule in [s.op for s in d.steps]


@pytest.mark.parametrize("interpolation", ["linear", "lower", "higher", "midpoint", "nearest"])
def test_nanquantile_skips_nan(interpolation: str) -> None:
    """n counts the non-NaN elements of each row; the NaN cells get no gradient."""
    x = rand(3, 6)
    x[0, 2] = x[2, 0] = x[2, 5] = float("nan")
    q = torch.tensor([0.25, 0.9], dtype=torch.float64)
    check(lambda t, p: torch.nanquantile(t, p, dim=1, interpolation=interpolation), x, q)


def test_cov_float32_aweights_are_refused() -> None:
    with pytest.raises(st.UnsupportedOpError, match="aweights in torch.float32"):
        st.derive(lambda x: torch.cov(x, aweights=torch.rand(4)), rand(2, 4))


ML_TARGET = torch.tensor([[3, 0, -1, 1, 2], [1, 4, 2, 3, 0], [-1, 2, 3, 0, 1], [2, 2, -1, 0, 0]])


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_multilabel_margin_loss(reduction: str) -> None:
    d = check(lambda x: F.multilabel_margin_loss(x, ML_TARGET, reduction=reduction), rand(4, 5))
    assert d.steps[-1].op == "multilabel_margin_loss"
    check(lambda x: F.multilabel_margin_loss(x, ML_TARGET[0], reduction=reduction), rand(5))


@pytest.mark.parametrize("f, make", [
    (lambda x: torch._safe_softmax(x, 1), lambda: rand(3, 4)),
    (lambda x: torch.ops.aten._safe_softmax.default(x, 0), lambda: rand(2, 3, 2) + 100),  # large, not saturated
])
def test_safe_softmax(f: Callable[..., Any], make: Callable[[], torch.Tensor]) -> None:
    d = check(f, make())
    assert d.steps[0].op == "safe_softmax"


def test_safe_softmax_row_of_minus_inf_is_refused() -> None:
    x = rand(2, 3)
    x[1] = float("-inf")
    with pytest.raises(st.UnsupportedOpError, match="−∞ throughout"):
        st.derive(lambda t: torch._safe_softmax(t, 1), x)


def test_corrcoef_of_a_constant_row_is_refused() -> None:
    with pytest.raises(st.UnsupportedOpError, match="constant row"):
        st.derive(lambda x: torch.corrcoef(x), torch.ones(1, 4, dtype=torch.float64))
