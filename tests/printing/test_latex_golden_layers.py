"""Golden LaTeX for the layers of issue 3 (normalization, dropout, transposed conv, embedding, padding, upsampling)."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import symbolic_torch as st


def derive(layer: nn.Module, x: torch.Tensor, train: bool = False) -> st.Step:
    torch.manual_seed(0)
    model = nn.Sequential(layer).double().train(train)
    return st.derive(model, x, verify=False)[0]


def rand(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, dtype=torch.float64)


GOLDEN: list[tuple[str, Any, Any, str, str]] = [
    ("LayerNorm", lambda: nn.LayerNorm(3), lambda: rand(2, 3), "forward",
     r"y_{n,i} = \frac{\left(x_{n,i} - \frac{\sum_{i_{1}=0}^{2} x_{n,i_{1}}}{3}\right) \gamma_{i}}{\sqrt{- \frac{"
     r"\left(\sum_{i_{1}=0}^{2} x_{n,i_{1}}\right)^{2}}{9} + \frac{\sum_{i_{1}=0}^{2} x_{n,i_{1}}^{2}}{3} + "
     r"1.0 \cdot 10^{-5}}} + \beta_{i}"),
    ("LayerNorm", lambda: nn.LayerNorm(3), lambda: rand(2, 3), "bias",
     r"\frac{\partial L}{\partial \beta_{i}} = \sum_{n=0}^{1} \bar{g}_{n,i}"),
    ("BatchNorm2d-eval", lambda: nn.BatchNorm2d(2), lambda: rand(1, 2, 2, 2), "forward",
     r"y_{n,c,i,j} = \frac{\left(- \mu_{c} + x_{n,c,i,j}\right) \gamma_{c}}{\sqrt{\mathrm{var}_{c} + "
     r"1.0 \cdot 10^{-5}}} + \beta_{c}"),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(2, 3, 3, stride=2), lambda: rand(1, 2, 3), "forward",
     r"y_{n,o,i} = b_{o} + \left(\sum_{c=0}^{1} \sum_{p=0}^{2} \left(\left[2 \mid \left(i - p\right)\right]\right) "
     r"w_{c,o,p} x_{n,c,\frac{i}{2} - \frac{p}{2}}\right)"),
    ("Embedding", lambda: nn.Embedding(4, 2, padding_idx=0), lambda: torch.tensor([1, 0]), "forward",
     r"y_{n,j} = \begin{cases} P_{j} & \text{for}\: k_{n} = 0 \\W_{k_{n},j} & \text{otherwise} \end{cases}"),
    ("Embedding", lambda: nn.Embedding(4, 2, padding_idx=0), lambda: torch.tensor([1, 0]), "weight",
     r"\frac{\partial L}{\partial W_{i,j}} = \sum_{n=0}^{1} \left[i = k_{n} \wedge k_{n} \neq 0\right] \bar{g}_{n,j}"),
    ("ReflectionPad1d", lambda: nn.ReflectionPad1d(1), lambda: rand(1, 1, 3), "forward",
     r"y_{n,c,i} = x_{n,c,2 - \left|{\left|{i - 1}\right| - 2}\right|}"),
    ("Upsample-nearest", lambda: nn.Upsample(scale_factor=2), lambda: rand(1, 1, 2, 2), "input",
     r"\frac{\partial L}{\partial x_{n,c,i,j}} = \sum_{i_{0}=0}^{1} \sum_{j_{0}=0}^{1} "
     r"\bar{g}_{n,c,2 i + i_{0},2 j + j_{0}}"),  # each input cell: the sum over its 2×2 block
    ("Upsample-linear", lambda: nn.Upsample(scale_factor=2, mode="linear", align_corners=True), lambda: rand(1, 1, 2),
     "forward", r"y_{n,c,i} = x_{n,c,\min\left(1, \left\lfloor{\frac{i}{3}}\right\rfloor + 1\right)} \left(\frac{i}{3} "
     r"- \left\lfloor{\frac{i}{3}}\right\rfloor\right) + x_{n,c,\left\lfloor{\frac{i}{3}}\right\rfloor} "
     r"\left(- \frac{i}{3} + \left\lfloor{\frac{i}{3}}\right\rfloor + 1\right)"),
    ("PReLU", lambda: nn.PReLU(2), lambda: rand(1, 2, 2), "weight",
     r"\frac{\partial L}{\partial a_{c}} = \sum_{n=0}^{0} \sum_{i=0}^{1} \left[x_{n,c,i} \leq 0\right] x_{n,c,i} "
     r"\bar{g}_{n,c,i}"),
]


@pytest.mark.parametrize("layer, x, which, expected", [pytest.param(*row[1:], id=f"{row[0]}-{row[3]}")
                                                      for row in GOLDEN])
def test_golden(layer: Any, x: Any, which: str, expected: str) -> None:
    step = derive(layer(), x())
    eq = step.forward if which == "forward" else step.gradients[which]
    assert st.latex(eq) == expected


def test_dropout_train_shows_the_mask() -> None:
    step = st.derive(nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).double().train(), rand(2, 3), verify=False)[1]
    assert st.latex(step.forward) == r"y_{n,i} = m_{n,i} x_{n,i}"
    assert st.latex(step.gradients["input"]) == r"\frac{\partial L}{\partial x_{n,i}} = m_{n,i} \bar{g}_{n,i}"


def test_batch_norm_train_notes_the_running_update() -> None:
    step = derive(nn.BatchNorm1d(2), rand(3, 2), train=True)
    assert step.notes[0].startswith(
        r"\mu_{c} \leftarrow 0.9\,\mu_{c} + 0.1 \cdot \frac{\sum_{n_{1}=0}^{2} x_{n_{1},c}}{3} = \left[")
