"""The gradient checker's report shows the Function's forward rendered by latexify-py."""
from __future__ import annotations

import torch

from examples.custom_function_check import Huber
from symbolic_torch.testing import check_gradients


class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g


class Clip(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        y = x
        for _ in range(2):
            y = torch.clamp(y, -1.0, 1.0)
        return y

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * (x.abs() < 1).to(g.dtype)


def test_passing_report_shows_forward_beside_derived_element() -> None:
    lines = str(check_gradients(Square, torch.tensor([0.5, -1.5], dtype=torch.float64))).split("\n")
    assert lines[1:] == [r"  forward, rendered by latexify-py:  \mathrm{Square}(x) = x x",
                         "  derived ∂L/∂x[0] = 2*g[0]*x[0]"]


def test_failing_report_shows_forward_source() -> None:
    text = str(check_gradients(Huber, torch.tensor([-4.0, 1.0], dtype=torch.float64)))
    assert text.split("\n")[2] == (
        r"forward, rendered by latexify-py:  \mathrm{Huber}(x) = 0.5 x x - 0.5 \mathopen{}\left( \mathrm{relu} "
        r"\mathopen{}\left( \mathopen{}\left| x \mathclose{}\right| - 3.0 \mathclose{}\right) \mathclose{}\right)^{2}")


def test_unrenderable_forward_is_said_not_fatal() -> None:
    text = str(check_gradients(Clip, torch.tensor([0.5, -0.25], dtype=torch.float64)))
    assert "latexify-py cannot render Clip: LatexifyNotSupportedError" in text
