"""Worked elements: the forward/backward expansion at one position, with numbers."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

import symbolic_torch as st


def test_forward_element_equals_real_value(tiny: st.Derivation) -> None:
    step = tiny["conv1"]
    e = step.at((0, 0, 4, 4))
    assert e.value == pytest.approx(float(tiny.values[step.output][0, 0, 4, 4]), abs=1e-12)
    assert e.expected == pytest.approx(e.value, abs=1e-12)
    assert e.terms == 10  # 9 products + the bias
    assert e.latex.startswith("y_{0,0,4,4} = ")
    assert r"\times" in e.latex and e.latex.endswith(f"= {e.value:.4g}")


def test_every_step_element_matches_output(tiny: st.Derivation) -> None:
    for step in tiny.steps:
        pos = tuple(n - 1 for n in step.out_shape)
        e = step.at(pos)
        assert e.value == pytest.approx(float(tiny.values[step.output][pos]), abs=1e-12), step.name


def test_gradient_element_matches_gradient(tiny: st.Derivation) -> None:
    grads = tiny.gradient_values()
    e = tiny["conv1"].grad_at("weight", (1, 0, 2, 0))
    assert e.value == pytest.approx(float(grads["conv1.weight"][1, 0, 2, 0]), abs=1e-12)
    assert e.terms == 36  # Σ over n, i, j of the 1×6×6 output
    assert r"\bar{g}" in e.formula_latex
    assert e.status == "verified"
    e = tiny["fc"].grad_at("input", (0, 7))
    assert e.lhs_latex == r"\frac{\partial L}{\partial x_{0,7}}"


def test_negative_positions_wrap_and_bad_positions_name_ranges(tiny: st.Derivation) -> None:
    assert tiny["conv1"].at((0, -1, -1, -1)).position == (0, 3, 5, 5)
    with pytest.raises(IndexError, match=r"0\.\.0, 0\.\.3, 0\.\.5, 0\.\.5"):
        tiny["conv1"].at((0, 4, 0, 0))
    with pytest.raises(IndexError, match="2 indices"):
        tiny["conv1"].at((0, 0))
    with pytest.raises(KeyError):
        tiny["conv1"].grad_at("nope", (0,))


def test_long_sum_truncates_quickly() -> None:
    torch.manual_seed(0)
    conv = nn.Conv2d(256, 1, 3).double()
    x = torch.randn(1, 256, 3, 3, dtype=torch.float64)
    d = st.derive(conv, x, verify=False)
    t0 = time.perf_counter()
    e = d[0].at((0, 0, 0, 0))
    elapsed = time.perf_counter() - t0
    assert e.terms == 2305
    assert r"\cdots" in e.latex and "2304" in e.latex
    assert e.value == pytest.approx(float(conv(x).detach()[0, 0, 0, 0]), abs=1e-10)
    assert elapsed < 1.0


def test_strided_conv_input_gradient_element() -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3, stride=2, padding=1).double()
    x = torch.randn(1, 2, 7, 7, dtype=torch.float64)
    g = torch.randn(1, 3, 4, 4, dtype=torch.float64)
    d = st.derive(conv, x, grad_output=g)
    assert d.verify().ok
    x_ = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(conv(x_), x_, g)
    for pos in [(0, 0, 0, 0), (0, 1, 3, 4), (0, 1, 6, 6)]:
        e = d[0].grad_at("input", pos)
        assert e.value == pytest.approx(float(ref[pos]), abs=1e-12)


def test_nan_and_inf_are_shown_and_flagged() -> None:
    lin = nn.Linear(3, 2).double()
    x = torch.tensor([[1.0, float("nan"), 2.0], [float("inf"), 0.5, 1.0]], dtype=torch.float64)
    d = st.derive(lin, x)
    e = d[0].at((0, 0))
    assert r"\mathrm{NaN}" in e.latex
    e = d[0].at((1, 0))
    assert r"\infty" in e.latex
    report = d.verify()
    assert any(r.nonfinite for r in report.rows)
    assert "NaN/Inf" in str(report)
