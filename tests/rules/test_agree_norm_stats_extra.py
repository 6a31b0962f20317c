"""Agreement tests for rules/normalization_extra.py (rms_norm, ATen's tuple-valued norms) and the
statistics, softmax and loss additions beside them."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st

from conftest import check, rand

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
    ("native_batch_norm", lambda x, w, b: sum(o.sum() for o in torch.native_batch_norm(
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
    got = d.gradient_values()
    for name, r in zip(("x", "w"), ref):
        torch.testing.assert_close(got[name], r, rtol=0, atol=1e-10)
