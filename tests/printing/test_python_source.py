"""latexify-py renderings of plain Python functions, and the provenance that finds them."""
from __future__ import annotations

import torch

import symbolic_torch as st
from examples.custom_function_check import Huber
from examples.swish_mlp import swish
from symbolic_torch.printing.python_source import python_latex

SWISH = r"\mathrm{swish}(x) = x \cdot \mathrm{sigmoid} \mathopen{}\left( x \mathclose{}\right)"
HUBER = (r"\mathrm{Huber}(x) = 0.5 x x - 0.5 \mathopen{}\left( \mathrm{relu} \mathopen{}\left( \mathopen{}\left| x "
         r"\mathclose{}\right| - 3.0 \mathclose{}\right) \mathclose{}\right)^{2}")


def test_custom_activation_golden() -> None:
    shown = python_latex(swish)
    assert shown.ok and shown.latex == SWISH and shown.source.startswith("def swish(x: torch.Tensor)")


def test_autograd_function_forward_without_ctx_golden() -> None:
    assert python_latex(Huber.forward, "Huber", drop_ctx=True).latex == HUBER  # x.abs() read as |x|
    kept = python_latex(Huber.forward, "Huber")  # ctx.save_for_backward(...) is not math: latexify says so
    assert not kept.ok and "LatexifyNotSupportedError" in kept.reason


def test_lambda_rendered_under_a_name() -> None:
    sq = lambda y, t: ((y - t) ** 2).mean()  # noqa: E731
    assert python_latex(sq, "loss").latex == (r"\mathrm{loss}(y, t) = \mathrm{mean} \mathopen{}\left( \mathopen{}\left( "
                                             r"y - t \mathclose{}\right)^{2} \mathclose{}\right)")


def test_what_latexify_cannot_render_is_said() -> None:
    def loop(x):
        for _ in range(3):
            x = x + 1
        return x
    shown = python_latex(loop)
    assert not shown.ok and shown.note().startswith("latexify-py cannot render loop: LatexifyNotSupportedError")
    scope: dict = {}
    exec("f = lambda x: x * 2", scope)
    assert "source is not available" in python_latex(scope["f"]).reason
    assert python_latex(print).reason == "not a Python function (no code object)"


def test_steps_know_the_plain_function_they_came_from(swish) -> None:
    names = {s.name: (s.python_function.qualname if s.python_function else None) for s in swish.steps}
    assert names == {"fc1": None, "sigmoid": "swish", "mul": "swish", "fc2": None,
                     "sub": "squared_error", "pow_1": "squared_error", "sum_1": "squared_error",
                     "truediv": "squared_error"}


def test_a_lambda_loss_and_a_function_model() -> None:
    def model(x):
        return torch.tanh(x) * 2
    x = torch.randn(3, dtype=torch.float64)
    d = st.derive(model, x, loss=lambda y, t: ((y - t) ** 2).sum(), target=torch.zeros(3, dtype=torch.float64),
                  verify=False)
    fns = [s.python_function for s in d.steps]
    assert [f.qualname.rsplit(".", 1)[-1] for f in fns] == ["model", "model", "<lambda>", "<lambda>", "<lambda>"]
    md = d.to_markdown(worked=False)
    assert md.count("Written in Python as") == 2
    assert r"\mathrm{loss}(y, t) = \sum \mathopen{}\left(" in md  # the lambda, named after its role
