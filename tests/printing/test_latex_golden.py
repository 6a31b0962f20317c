"""Golden LaTeX strings: input model → exact LaTeX of formulas and worked elements."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import symbolic_torch as st


@pytest.fixture(scope="module")
def linear() -> st.Derivation:
    lin = nn.Linear(3, 2).double()
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([[1.0, -2.0, 0.5], [0.25, 3.0, -1.0]]))
        lin.bias.copy_(torch.tensor([0.1, -0.2]))
    x = torch.tensor([[1.0, 2.0, -3.0]], dtype=torch.float64)
    return st.derive(lin, x, grad_output=torch.tensor([[1.0, -1.0]], dtype=torch.float64))


GOLDEN_LINEAR = {
    "forward": r"y_{n,o} = b_{o} + \sum_{i=0}^{2} W_{o,i} x_{n,i}",
    "input": r"\frac{\partial L}{\partial x_{n,i}} = \sum_{o=0}^{1} W_{o,i} \bar{g}_{n,o}",
    "weight": r"\frac{\partial L}{\partial W_{o,i}} = \sum_{n=0}^{0} x_{n,i} \bar{g}_{n,o}",
    "bias": r"\frac{\partial L}{\partial b_{o}} = \sum_{n=0}^{0} \bar{g}_{n,o}",
}


def test_linear_formulas(linear: st.Derivation) -> None:
    step = linear[0]
    assert st.latex(step.forward) == GOLDEN_LINEAR["forward"]
    for key in ("input", "weight", "bias"):
        assert st.latex(step.gradients[key]) == GOLDEN_LINEAR[key]


def test_linear_worked_elements(linear: st.Derivation) -> None:
    assert linear[0].at((0, 1)).latex == (
        r"y_{0,1} = b_{1} + \sum_{i=0}^{2} W_{1,i} x_{0,i} = \left(\left(0.25 \times 1\right) + "
        r"\left(3 \times 2\right) + \left((-1) \times (-3)\right)\right) - 0.2 = 9.05")
    assert linear[0].grad_at("weight", (1, 2)).latex == (
        r"\frac{\partial L}{\partial W_{1,2}} = \sum_{n=0}^{0} x_{n,2} \bar{g}_{n,1} = "
        r"\left((-3) \times (-1)\right) = 3")


def test_strided_conv_is_transposed_convolution() -> None:
    d = st.derive(nn.Conv1d(1, 1, 3, stride=2, padding=1).double(), torch.randn(1, 1, 6, dtype=torch.float64))
    assert st.latex(d[0].forward) == r"y_{n,o,i} = b_{o} + \sum_{c=0}^{0} \sum_{p=0}^{2} w_{o,c,p} x_{n,c,2 i + p - 1}"
    assert st.latex(d[0].gradients["input"]) == (
        r"\frac{\partial L}{\partial x_{n,c,i}} = \sum_{o=0}^{0} \sum_{p=0}^{2} \left[2 \mid \left(i - p + 1\right) "
        r"\wedge i - p \geq -1 \wedge i - p \leq 3\right] w_{o,c,p} \bar{g}_{n,o,\frac{i}{2} - \frac{p}{2} + \frac{1}{2}}")


def test_max_pool_uses_window_max_and_argmax() -> None:
    d = st.derive(nn.MaxPool2d(2), torch.randn(1, 1, 4, 4, dtype=torch.float64))
    assert st.latex(d[0].forward) == r"y_{n,c,i,j} = \max_{p,q} \left(x_{n,c,2 i + p,2 j + q}\right)"
    # non-overlapping windows: each input cell is in one window, read at (i mod 2, j mod 2)
    assert st.latex(d[0].gradients["input"]) == (
        r"\frac{\partial L}{\partial x_{n,c,i,j}} = \left(\left[i \bmod 2,j \bmod 2 = \operatorname{argmax}\right]"
        r"\right) \bar{g}_{n,c,\left\lfloor{\frac{i}{2}}\right\rfloor,\left\lfloor{\frac{j}{2}}\right\rfloor}")
    overlapping = st.derive(nn.MaxPool2d(3, stride=2), torch.randn(1, 1, 5, 5, dtype=torch.float64))
    assert r"\left[p,q = \operatorname{argmax}\right]" in st.latex(overlapping[0].gradients["input"])


def test_softmax_gradient() -> None:
    d = st.derive(nn.Softmax(1), torch.randn(2, 3, dtype=torch.float64))
    assert st.latex(d[0].forward) == r"y_{n,i} = \frac{e^{x_{n,i}}}{\sum_{k=0}^{2} e^{x_{n,k}}}"
    assert st.latex(d[0].gradients["input"]) == (
        r"\frac{\partial L}{\partial x_{n,j}} = \frac{e^{x_{n,j}} \bar{g}_{n,j}}{\sum_{k=0}^{2} e^{x_{n,k}}} - "
        r"\sum_{i=0}^{2} \frac{e^{x_{n,i}} e^{x_{n,j}} \bar{g}_{n,i}}{\left(\sum_{k=0}^{2} e^{x_{n,k}}\right)^{2}}")


def test_cross_entropy_gradient_has_indicator(tiny: st.Derivation) -> None:
    assert st.latex(tiny["loss"].gradients["input"]) == (
        r"\frac{\partial L}{\partial x_{n,i}} = -\left[i = t_{n}\right] + "
        r"\frac{e^{x_{n,i}}}{\sum_{k=0}^{9} e^{x_{n,k}}}")


def test_flatten_gradient_is_closed_form(tiny: st.Derivation) -> None:
    assert st.latex(tiny["flatten"].gradients["input"]) == (
        r"\frac{\partial L}{\partial x_{i,j,k,l}} = \bar{g}_{i,9 j + 3 k + l}")


@pytest.mark.parametrize("name, expected", [
    ("x0", "{x_{0}}"), ("alpha", r"\alpha"), ("W", "W"), ("x_in", r"\mathrm{x\_in}"),
    ("α", r"\mathrm{\ensuremath{\alpha}}"),
])
def test_labels_are_escaped(name: str, expected: str) -> None:
    from symbolic_torch.printing.latex import label_latex
    assert label_latex(name) == expected
