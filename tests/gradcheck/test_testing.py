"""The symbolic gradient checker: planted bugs are caught and named, correct Functions pass.

Each planted bug is a ``torch.autograd.Function`` whose backward is wrong in one way;
where ``torch.autograd.gradcheck`` misses the bug, the test shows it passing on the same
input.
"""
from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from examples.custom_function_check import Huber as HuberSignError  # slope +3 below −3
from symbolic_torch.testing import assert_gradients_match, check_gradients

pytest_plugins = ["pytester"]


PROOF = 120.0  # time budget where a test asserts a proof: generous, so a busy machine cannot flake it


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def gradcheck(fn_cls: type, *inputs: torch.Tensor) -> bool:
    leaves = tuple(t.clone().requires_grad_(True) for t in inputs)
    return torch.autograd.gradcheck(fn_cls.apply, leaves, raise_exception=False)


def failure(fn_cls: type, *inputs: object, **options: object) -> str:
    with pytest.raises(AssertionError) as info:
        assert_gradients_match(fn_cls, *inputs, **options)
    return str(info.value)


# -- planted bugs --------------------------------------------------------------
class Square(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x * grad_output


class SquareMissingTwo(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * x  # bug: d(x²)/dx = 2x


class Huber(HuberSignError):
    """Huber loss with δ = 3 (the README's example), with the right backward."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.clamp(x, -3.0, 3.0)


class SwappedGradients(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * torch.exp(y)

    @staticmethod
    def backward(ctx, grad_output):
        x, y = ctx.saved_tensors
        e = torch.exp(y)
        return grad_output * x * e, grad_output * e  # bug: (∂/∂y, ∂/∂x)


class ForgetsGradOutput(Square):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return 2 * x  # bug: not multiplied by grad_output


class ScaleByRow(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, w):
        ctx.save_for_backward(x, w)
        return x * w  # w (3,) broadcasts over x (4, 3)

    @staticmethod
    def backward(ctx, grad_output):
        x, w = ctx.saved_tensors
        return grad_output * w, grad_output * x  # bug: w's gradient not summed over dim 0


def test_missing_factor_two_names_input_and_formulas() -> None:
    x = rand(4, 3)
    text = failure(SquareMissingTwo, x)
    assert "the gradient of input 'x' is wrong" in text
    assert re.search(r"derived\s+2\*grad_output\[\d, \d\]\*x\[\d, \d\]", text)
    assert re.search(r"your backward\s+grad_output\[\d, \d\]\*x\[\d, \d\]", text)
    assert re.search(r"difference \(derived − yours\)\s+grad_output\[\d, \d\]\*x\[\d, \d\]", text)
    assert "they differ at" in text and "12 of 12" in text
    assert not gradcheck(SquareMissingTwo, x)  # gradcheck catches this one, saying only that numbers differ


def test_branch_sign_error_that_gradcheck_misses() -> None:
    x = rand(4, 3)
    assert bool((x.abs() < 3).all())  # the example never reaches the wrong branch …
    assert gradcheck(HuberSignError, x)  # … so gradcheck passes
    text = failure(HuberSignError, x)
    assert "the gradient of input 'x' is wrong" in text
    point = re.search(r"they differ at .*x\[\d, \d\] = (-?[\d.]+)", text)
    assert point and float(point.group(1)) < -3  # the counterexample lies in the wrong branch
    derived, yours = map(float, re.search(r"derived = (-?[\d.e+-]+),  yours = (-?[\d.e+-]+)", text).groups())
    assert derived == pytest.approx(-yours)
    assert re.search(r"on this point's branch: derived = -3\*grad_output\[\d, \d\],  yours = 3\*grad_output", text)
    result = assert_gradients_match(Huber, x, time_budget=PROOF)  # the correct Huber: no false alarm, and a proof
    assert result.proved("x")


class WideSoftplus(torch.autograd.Function):
    """softplus with its linear tail from x = 200: no random point reaches that branch."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return F.softplus(x, beta=1.0, threshold=200.0)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.where(x > 200.0, 1.0, torch.sigmoid(x))


class WideSoftplusTailBug(WideSoftplus):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.where(x > 200.0, 0.0, torch.sigmoid(x))  # bug: the tail's slope is 1


def test_branch_beyond_the_random_scales_is_sampled() -> None:
    x = rand(4, 3)
    result = assert_gradients_match(WideSoftplus, x, time_budget=PROOF)
    assert result.branch_points >= 1 and result.proved("x")
    assert gradcheck(WideSoftplusTailBug, x)
    text = failure(WideSoftplusTailBug, x)
    assert float(re.search(r"x\[\d, \d\] = (-?[\d.]+)", text).group(1)) > 200


def test_swapped_gradients_name_both_inputs() -> None:
    text = failure(SwappedGradients, rand(4, 3), rand(4, 3, seed=1))
    assert "the gradients of inputs 'x', 'y' are wrong" in text
    assert "your gradient for 'x' equals the derived gradient of 'y'" in text
    assert "wrong order" in text
    assert not gradcheck(SwappedGradients, rand(4, 3), rand(4, 3, seed=1))


def test_forgetting_grad_output() -> None:
    text = failure(ForgetsGradOutput, rand(4, 3))
    assert "the gradient of input 'x' is wrong" in text
    assert re.search(r"your backward\s+2\*x\[\d, \d\]\n", text)
    assert not gradcheck(ForgetsGradOutput, rand(4, 3))


def test_unreduced_broadcast_gradient_that_gradcheck_misses() -> None:
    x, w = rand(4, 3), rand(3, seed=1)
    assert gradcheck(ScaleByRow, x, w)  # autograd's engine sums the (4, 3) gradient to (3,) silently
    text = failure(ScaleByRow, x, w)
    assert "shape (4, 3) for input 'w' of shape (3,)" in text
    assert "does not sum over the broadcast dimension(s) (0,)" in text


# -- correct Functions: no false alarm --------------------------------------------
class Swish(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad_output * s * (1 + x * (1 - s))


class Softplus(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return F.softplus(x)  # torch's softplus is exactly linear above x = 20 …

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.sigmoid(x)  # … so this differs there, by < 3e-9 (within rtol)


class LinearGELU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        z = x @ weight.t() + bias
        ctx.save_for_backward(x, weight, z)
        return F.gelu(z)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight, z = ctx.saved_tensors
        cdf = 0.5 * (1 + torch.erf(z / math.sqrt(2)))
        pdf = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
        gz = grad_output * (cdf + z * pdf)
        return gz @ weight, gz.t() @ x, gz.sum(0)


class LayerNorm(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        centred = x - x.mean(-1, keepdim=True)
        rstd = 1 / torch.sqrt((centred * centred).mean(-1, keepdim=True) + eps)
        xhat = centred * rstd
        ctx.save_for_backward(xhat, rstd, weight)
        return xhat * weight + bias

    @staticmethod
    def backward(ctx, grad_output):
        xhat, rstd, weight = ctx.saved_tensors
        g = grad_output * weight
        dx = rstd * (g - g.mean(-1, keepdim=True) - xhat * (g * xhat).mean(-1, keepdim=True))
        return dx, (grad_output * xhat).sum(0), grad_output.sum(0), None


CORRECT = {
    "swish": (Swish, lambda: (rand(4, 3),), True),
    "softplus": (Softplus, lambda: (rand(4, 3),), False),  # differs above the threshold: numbers decide
    "linear_gelu": (LinearGELU, lambda: (rand(2, 3), rand(4, 3, seed=1), rand(4, seed=2)), True),
    "layernorm": (LayerNorm, lambda: (rand(4, 3), rand(3, seed=1), rand(3, seed=2), 1e-5), True),
}


@pytest.mark.parametrize("name", list(CORRECT))
def test_correct_functions_pass(name: str) -> None:
    fn_cls, make, provable = CORRECT[name]
    result = assert_gradients_match(fn_cls, *make(), time_budget=PROOF)
    assert result.truth.source == "symbolic_torch.derive"  # the forward went through the rule table
    assert all(result.proved(n) for n in result.proofs) == provable
    assert "gradients match" in str(result)


# -- options --------------------------------------------------------------------
class Scale(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, alpha):
        ctx.alpha = alpha
        return x * alpha

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.alpha, None


class ScaleSquared(Scale):
    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * ctx.alpha ** 2, None


class ExpAndSquare(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.exp(x), x * x

    @staticmethod
    def backward(ctx, grad_exp, grad_square):
        (x,) = ctx.saved_tensors
        return grad_exp * torch.exp(x) + grad_square * 2 * x


class ExpAndSquareDropsOne(ExpAndSquare):
    @staticmethod
    def backward(ctx, grad_exp, grad_square):
        (x,) = ctx.saved_tensors
        return grad_exp * torch.exp(x)  # bug: the second output's adjoint is ignored


def test_non_tensor_arguments_pass_through() -> None:
    assert assert_gradients_match(Scale, rand(4, 3), 2.5, time_budget=PROOF).proved("x")
    text = failure(ScaleSquared, rand(4, 3), 2.5)
    assert re.search(r"derived\s+5\*grad_output\[\d, \d\]/2\n", text)  # 2.5 read exactly
    assert re.search(r"your backward\s+25\*grad_output\[\d, \d\]/4\n", text)


def test_tuple_outputs() -> None:
    assert assert_gradients_match(ExpAndSquare, rand(3), time_budget=PROOF).proved("x")
    text = failure(ExpAndSquareDropsOne, rand(3))
    assert "the gradient of input 'x' is wrong" in text and "grad_square" in text


class SwishRecomputing(Swish):
    """Saves only its input: autograd through this backward is the true second derivative."""


class SwishSavingSigmoid(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        s = torch.sigmoid(x)
        ctx.save_for_backward(x, s)  # an intermediate: constant for double backward
        return x * s

    @staticmethod
    def backward(ctx, grad_output):
        x, s = ctx.saved_tensors
        return grad_output * s * (1 + x * (1 - s))


def test_order_two_checks_the_backward_of_the_backward() -> None:
    x = rand(4, 3)
    assert_gradients_match(SwishRecomputing, x, order=2)
    assert_gradients_match(SwishSavingSigmoid, x)  # first order is right …
    assert gradcheck(SwishSavingSigmoid, x)
    text = failure(SwishSavingSigmoid, x, order=2)  # … its double backward is not
    assert "order=2" in text and "the gradient of input 'x' is wrong" in text


class ExpThroughNumpy(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return torch.exp(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.from_numpy(np.exp(x.numpy()))


class ExpThroughNumpyClipped(ExpThroughNumpy):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.from_numpy(np.exp(np.minimum(x.numpy(), 4.0)))  # bug above 4


def test_untraceable_backward_is_compared_numerically() -> None:
    result = assert_gradients_match(ExpThroughNumpy, rand(4, 3))
    assert "not traceable symbolically" in str(result)
    text = failure(ExpThroughNumpyClipped, rand(4, 3))
    assert "not traceable symbolically" in text
    assert float(re.search(r"x\[\d, \d\] = (-?[\d.]+)", text).group(1)) > 4


class Sine(torch.autograd.Function):
    @staticmethod
    def forward(x):  # the setup_context style
        return torch.sin(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.cos(x)


def test_setup_context_style() -> None:
    assert assert_gradients_match(Sine, rand(5), time_budget=PROOF).proved("x")


class MaskedRelu(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * (x > 0).to(x.dtype)  # the mask has no formula in the rule table

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        grad = grad_output.clone()
        grad[x < 0] = 0
        return grad


def test_forward_with_a_mask_is_traced_instead() -> None:
    result = assert_gradients_match(MaskedRelu, rand(4, 3), time_budget=PROOF)
    assert result.truth.source.startswith("sympy")
    assert "computed without a formula" in result.truth.note
    assert result.proved("x")


def test_readme_shows_the_real_outputs() -> None:
    """The README's side-by-side is what examples/custom_function_check.py prints."""
    from examples.custom_function_check import main
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for text in main().values():
        assert f"```text\n{text.rstrip()}\n```" in readme, \
            "README.md is out of date: paste the output of python -m examples.custom_function_check"


def test_check_gradients_returns_without_raising() -> None:
    result = check_gradients(SquareMissingTwo, rand(2))
    assert not result.ok and result.mismatches[0].name == "x"


# -- the pytest plugin, in a project of its own -----------------------------------
PROJECT = '''
import pytest, torch


class Cube(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, grad_output):
        return {factor} * ctx.saved_tensors[0] ** 2 * grad_output


@pytest.mark.symbolic_gradcheck(Cube, lambda: (torch.randn(3, 2, dtype=torch.float64),))
def test_marker():
    pass


def test_fixture(symbolic_gradcheck):
    symbolic_gradcheck(Cube, torch.randn(3, dtype=torch.float64))
'''


@pytest.mark.parametrize("factor, outcome", [(3, {"passed": 2}), (2, {"failed": 2})])
def test_pytest_plugin_in_another_project(pytester: pytest.Pytester, factor: int, outcome: dict) -> None:
    pytester.makepyfile(test_cube=PROJECT.format(factor=factor))
    result = pytester.runpytest("-p", "no:cacheprovider", "--strict-markers")  # the plugin comes by entry point
    result.assert_outcomes(**outcome)
    if factor == 2:
        result.stdout.fnmatch_lines(["*symbolic gradient check of Cube failed*'x' is wrong*",
                                     "*derived*3*grad_output*"])


def test_default_tolerances_are_the_tables() -> None:
    import inspect

    from symbolic_torch.gradcheck.check import check_gradients
    from symbolic_torch.numeric.tolerances import GRADCHECK
    from symbolic_torch.testing import assert_gradients_match
    for f in (check_gradients, assert_gradients_match):
        params = inspect.signature(f).parameters
        assert (params["atol"].default, params["rtol"].default) == (GRADCHECK.atol, GRADCHECK.rtol)
