"""Agreement tests: every rule's derived gradients against torch.autograd.

Each case derives a small model or function with ``symbolic_torch.derive``,
asserts the verification report is ok, that no derived gradient keeps a
KroneckerDelta/Derivative/Subs, and that ``gradient_values()`` equals the
gradients this test computes itself with ``torch.autograd.grad`` (atol 1e-10).
"""
from __future__ import annotations

import operator
from typing import Any, Callable

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from conftest import Wrap, Wrap2, check, rand

pytestmark = pytest.mark.filterwarnings("ignore:Using a target size:UserWarning",
                                        "ignore:Using padding='same':UserWarning")

Case = tuple[Any, ...]  # (id, model factory, inputs factory[, pytest mark])


def cases(*rows: Case) -> Any:
    """``pytest.param(model_factory, inputs_factory, id=...)`` for each row (a 4th item is a mark)."""
    return pytest.mark.parametrize("make_model, make_inputs",
                                   [pytest.param(*row[1:3], id=row[0], marks=row[3:]) for row in rows])


def run(make_model: Callable[[], Any], make_inputs: Callable[[], tuple[Any, ...]], **kw: Any) -> Any:
    """Check the model; a single layer is checked twice, as the root (fx traces through its forward
    to the functional rule) and inside ``nn.Sequential`` (a call_module node: the module rule)."""
    torch.manual_seed(0)
    model = make_model()
    if not isinstance(model, nn.Module):
        return check(model, *make_inputs(), **kw)
    model = model.double().eval()
    if not isinstance(model, (nn.Sequential, Wrap)):
        torch.manual_seed(1)
        d = check(nn.Sequential(model), *make_inputs(), **kw)
        assert d.steps[0].module_path == "0", d.steps
    torch.manual_seed(0)
    return check(model, *make_inputs(), **kw)


def fn(f: Callable[..., Any]) -> Callable[[], Callable[..., Any]]:
    """A factory for a plain tensor function (so the table reads uniformly)."""
    return lambda: f


# --- linear algebra -------------------------------------------------------------------------------

@cases(
    ("linear-2d", lambda: nn.Linear(3, 2), lambda: (rand(4, 3),)),
    ("linear-1d", lambda: nn.Linear(3, 2), lambda: (rand(3),)),
    ("linear-3d", lambda: nn.Linear(3, 2), lambda: (rand(2, 4, 3),)),
    ("linear-nobias-2d", lambda: nn.Linear(3, 2, bias=False), lambda: (rand(4, 3),)),
    ("linear-nobias-1d", lambda: nn.Linear(4, 3, bias=False), lambda: (rand(4),)),
    ("F.linear-2d", fn(lambda x, w, b: F.linear(x, w, b)), lambda: (rand(4, 3), rand(2, 3), rand(2))),
    ("F.linear-1d", fn(lambda x, w, b: F.linear(x, w, b)), lambda: (rand(3), rand(2, 3), rand(2))),
    ("F.linear-3d", fn(lambda x, w, b: F.linear(x, w, b)), lambda: (rand(2, 2, 3), rand(4, 3), rand(4))),
    ("F.linear-nobias", fn(lambda x, w: F.linear(x, w)), lambda: (rand(4, 3), rand(2, 3))),
    ("mlp", lambda: nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)), lambda: (rand(5, 3),)),
)
def test_linear(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)), ((2, 2, 3), (3, 4)),
                 ((2, 3), (2, 3, 4)), ((2, 1, 2, 3), (3, 3, 4)), ((3,), (2, 3, 4)), ((2, 3, 4), (4,)),
                 ((1, 2, 3), (2, 3, 2))]


@pytest.mark.parametrize("f", [torch.matmul, operator.matmul, lambda a, b: a.matmul(b)],
                         ids=["torch.matmul", "@", "method"])
@pytest.mark.parametrize("sa, sb", MATMUL_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matmul(f: Any, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    run(fn(lambda a, b: f(a, b)), lambda: (rand(*sa), rand(*sb)))


@cases(
    ("mm", fn(lambda a, b: torch.mm(a, b)), lambda: (rand(2, 3), rand(3, 4))),
    ("mm-method", fn(lambda a, b: a.mm(b)), lambda: (rand(2, 3), rand(3, 4))),
    ("bmm", fn(lambda a, b: torch.bmm(a, b)), lambda: (rand(2, 2, 3), rand(2, 3, 4))),
    ("bmm-method", fn(lambda a, b: a.bmm(b)), lambda: (rand(2, 2, 3), rand(2, 3, 4))),
    ("matmul-param", lambda: Wrap(lambda m, x: x @ m.lin.weight.t(), lin=nn.Linear(3, 2)),
     lambda: (rand(4, 3),)),
)
def test_mm_bmm(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- convolution ----------------------------------------------------------------------------------

CONV_KW = [dict(), dict(stride=2), dict(padding=1), dict(padding="same"), dict(padding="valid"),
           dict(dilation=2), dict(stride=2, padding=1, dilation=2), dict(groups=2), dict(bias=False),
           dict(padding="same", dilation=2), dict(stride=2, groups=2, bias=False)]


def kw_id(kw: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in kw.items()) or "default"


@pytest.mark.parametrize("kw", CONV_KW, ids=kw_id)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_conv2d(kw: dict[str, Any], batched: bool) -> None:
    shape = (2, 2, 5, 6) if batched else (2, 5, 6)
    run(lambda: nn.Conv2d(2, 4, 3, **kw), lambda: (rand(*shape),))


@pytest.mark.parametrize("kw", CONV_KW, ids=kw_id)
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
def test_conv1d(kw: dict[str, Any], batched: bool) -> None:
    shape = (2, 2, 7) if batched else (2, 7)
    run(lambda: nn.Conv1d(2, 4, 3, **kw), lambda: (rand(*shape),))


@cases(
    ("Conv3d", lambda: nn.Conv3d(2, 2, 2, padding=1, stride=2), lambda: (rand(1, 2, 3, 3, 3),)),
    ("conv2d-kernel-2x3", lambda: nn.Conv2d(1, 2, (2, 3), stride=(1, 2), padding=(1, 0)), lambda: (rand(1, 1, 4, 5),)),
    ("F.conv2d", fn(lambda x, w, b: F.conv2d(x, w, b)), lambda: (rand(1, 2, 4, 4), rand(3, 2, 2, 2), rand(3))),
    ("F.conv2d-nobias-stride", fn(lambda x, w: F.conv2d(x, w, stride=2, padding=1)),
     lambda: (rand(2, 2, 5, 5), rand(3, 2, 3, 3))),
    ("F.conv2d-groups-dil", fn(lambda x, w: F.conv2d(x, w, None, 1, 1, 2, 2)),
     lambda: (rand(1, 4, 5, 5), rand(2, 2, 3, 3))),
    ("F.conv1d", fn(lambda x, w, b: F.conv1d(x, w, b, padding="same")), lambda: (rand(2, 2, 6), rand(3, 2, 4), rand(3))),
    ("cnn", lambda: nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Conv2d(2, 2, 3, stride=2)),
     lambda: (rand(1, 1, 6, 6),)),
)
def test_conv_misc(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- elementwise arithmetic -----------------------------------------------------------------------

BINARY_SHAPES = [((2, 3), (2, 3)), ((2, 3), (3,)), ((3,), (2, 3)), ((2, 1, 3), (4, 1)), ((2, 3), (1, 1)),
                 ((2, 3), ())]
POSITIVE = {"div", "pow"}


OPERATORS = [("add", operator.add), ("sub", operator.sub), ("mul", operator.mul), ("div", operator.truediv),
             ("pow", operator.pow)]
SPELLINGS = [("torch.add", torch.add), ("torch.sub", torch.sub), ("torch.mul", torch.mul), ("torch.div", torch.div),
             ("torch.pow", torch.pow), ("method.add", lambda a, b: a.add(b)), ("method.sub", lambda a, b: a.sub(b)),
             ("method.mul", lambda a, b: a.mul(b)), ("method.div", lambda a, b: a.div(b)),
             ("method.pow", lambda a, b: a.pow(b))]


# every operator with every broadcast; the other spellings of each (same rule) with two of them
@pytest.mark.parametrize("name, f, sa, sb", [
    pytest.param(n, f, sa, sb, id=f"{n}-{'x'.join(map(str, sa))}-{'x'.join(map(str, sb)) or 'scalar'}")
    for n, f in OPERATORS for sa, sb in BINARY_SHAPES] + [
    pytest.param(n, f, sa, sb, id=f"{n}-{'x'.join(map(str, sa))}-{'x'.join(map(str, sb))}")
    for n, f in SPELLINGS for sa, sb in BINARY_SHAPES[1:4:2]])
def test_binary_broadcast(name: str, f: Any, sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    pos = name.split(".")[-1] in POSITIVE
    run(fn(lambda a, b: f(a, b)), lambda: (rand(*sa, positive=pos), rand(*sb, positive=pos)))


@cases(
    ("x+2.5", fn(lambda x: x + 2.5), lambda: (rand(2, 3),)),
    ("2.5+x", fn(lambda x: 2.5 + x), lambda: (rand(2, 3),)),
    ("x-2", fn(lambda x: x - 2), lambda: (rand(2, 3),)),
    ("2-x", fn(lambda x: 2 - x), lambda: (rand(2, 3),)),
    ("x*3", fn(lambda x: x * 3), lambda: (rand(2, 3),)),
    ("0.5*x", fn(lambda x: 0.5 * x), lambda: (rand(2, 3),)),
    ("x/4", fn(lambda x: x / 4), lambda: (rand(2, 3),)),
    ("3/x", fn(lambda x: 3 / x), lambda: (rand(2, 3, positive=True),)),
    ("x**2", fn(lambda x: x ** 2), lambda: (rand(2, 3),)),
    ("x**3", fn(lambda x: x ** 3), lambda: (rand(2, 3),)),
    ("x**0.5", fn(lambda x: x ** 0.5), lambda: (rand(2, 3, positive=True),)),
    ("x**-1.5", fn(lambda x: x ** -1.5), lambda: (rand(2, 3, positive=True),)),
    ("2**x", fn(lambda x: 2 ** x), lambda: (rand(2, 3),)),
    ("torch.pow(x,2)", fn(lambda x: torch.pow(x, 2)), lambda: (rand(2, 3),)),
    ("x.pow(3)", fn(lambda x: x.pow(3)), lambda: (rand(2, 3),)),
    ("add-alpha", fn(lambda a, b: torch.add(a, b, alpha=2)), lambda: (rand(2, 3), rand(3))),
    ("sub-alpha", fn(lambda a, b: torch.sub(a, b, alpha=0.5)), lambda: (rand(2, 3), rand(2, 1))),
    ("method-add-alpha", fn(lambda a, b: a.add(b, alpha=-3)), lambda: (rand(2, 3), rand(2, 3))),
    ("rsub", fn(lambda a, b: torch.rsub(a, b)), lambda: (rand(2, 3), rand(3))),
    ("rsub-scalar", fn(lambda a: torch.rsub(a, 2.0)), lambda: (rand(2, 3),)),
    ("add-scalar-alpha", fn(lambda a: torch.add(a, 2.0, alpha=3)), lambda: (rand(2, 3),)),
    ("same-operand", fn(lambda a: a * a + a / (a * a + 1)), lambda: (rand(2, 3),)),
    ("param-add", lambda: Wrap(lambda m, x: m.lin(x) * m.lin.bias, lin=nn.Linear(3, 2)), lambda: (rand(4, 3),)),
)
def test_binary_scalar(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


@cases(
    ("neg", fn(lambda x: -x), lambda: (rand(2, 3),)),
    ("torch.neg", fn(lambda x: torch.neg(x)), lambda: (rand(2, 3),)),
    ("exp", fn(lambda x: torch.exp(x)), lambda: (rand(2, 3),)),
    ("exp-method", fn(lambda x: x.exp()), lambda: (rand(4),)),
    ("log", fn(lambda x: torch.log(x)), lambda: (rand(2, 3, positive=True),)),
    ("log-method", fn(lambda x: x.log()), lambda: (rand(2, 2, 2, positive=True),)),
    ("sqrt", fn(lambda x: torch.sqrt(x)), lambda: (rand(2, 3, positive=True),)),
    ("sqrt-method", fn(lambda x: x.sqrt()), lambda: (rand(5, positive=True),)),
    ("abs", fn(lambda x: torch.abs(x)), lambda: (rand(2, 3),)),
    ("abs-builtin", fn(lambda x: abs(x)), lambda: (rand(2, 3),)),
    ("abs-method", fn(lambda x: x.abs()), lambda: (rand(2, 3),)),
    ("rsqrt", fn(lambda x: torch.rsqrt(x)), lambda: (rand(2, 3, positive=True),)),
    ("rsqrt-method", fn(lambda x: x.rsqrt()), lambda: (rand(3, positive=True),)),
    ("scalar-0d", fn(lambda x: torch.exp(x) * 2), lambda: (rand(),)),
    ("chain", fn(lambda x: torch.sqrt(torch.exp(-x).abs() + 1).log()), lambda: (rand(2, 3),)),
    ("clone", fn(lambda x: x.clone() * 2), lambda: (rand(2, 3),)),
    ("identity", lambda: nn.Identity(), lambda: (rand(2, 3),)),
)
def test_unary(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- activations ----------------------------------------------------------------------------------

@cases(
    ("ReLU", lambda: nn.ReLU(), lambda: (rand(3, 4),)),
    ("F.relu", fn(lambda x: F.relu(x)), lambda: (rand(3, 4),)),
    ("torch.relu", fn(lambda x: torch.relu(x)), lambda: (rand(2, 2, 3),)),
    ("relu-method", fn(lambda x: x.relu()), lambda: (rand(5),)),
    ("relu-at-zero", fn(lambda x: F.relu(x)), lambda: (torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64),)),
    ("LeakyReLU", lambda: nn.LeakyReLU(), lambda: (rand(3, 4),)),
    ("LeakyReLU-0.2", lambda: nn.LeakyReLU(0.2), lambda: (rand(3, 4),)),
    ("F.leaky_relu", fn(lambda x: F.leaky_relu(x, 0.3)), lambda: (rand(3, 4),)),
    ("F.leaky_relu-kw", fn(lambda x: F.leaky_relu(x, negative_slope=0.1)), lambda: (rand(3, 4),)),
    ("F.leaky_relu-default", fn(lambda x: F.leaky_relu(x)), lambda: (rand(3, 4),)),
    ("Sigmoid", lambda: nn.Sigmoid(), lambda: (rand(3, 4),)),
    ("torch.sigmoid", fn(lambda x: torch.sigmoid(x)), lambda: (rand(3, 4),)),
    ("sigmoid-method", fn(lambda x: x.sigmoid()), lambda: (rand(3, 4),)),
    ("Tanh", lambda: nn.Tanh(), lambda: (rand(3, 4),)),
    ("torch.tanh", fn(lambda x: torch.tanh(x)), lambda: (rand(3, 4),)),
    ("tanh-method", fn(lambda x: x.tanh()), lambda: (rand(3, 4),)),
    ("GELU", lambda: nn.GELU(), lambda: (rand(3, 4),)),
    ("GELU-tanh", lambda: nn.GELU(approximate="tanh"), lambda: (rand(3, 4),)),
    ("F.gelu", fn(lambda x: F.gelu(x)), lambda: (rand(3, 4),)),
    ("F.gelu-tanh", fn(lambda x: F.gelu(x, approximate="tanh")), lambda: (rand(3, 4),)),
    ("SiLU", lambda: nn.SiLU(), lambda: (rand(3, 4),)),
    ("F.silu", fn(lambda x: F.silu(x)), lambda: (rand(3, 4),)),
    ("Softplus", lambda: nn.Softplus(), lambda: (rand(3, 4),)),
    ("Softplus-beta2-thr1", lambda: nn.Softplus(beta=2.0, threshold=1.0), lambda: (rand(3, 4),)),
    ("Softplus-beta0.5", lambda: nn.Softplus(beta=0.5), lambda: (rand(3, 4) * 3,)),
    ("F.softplus", fn(lambda x: F.softplus(x)), lambda: (rand(3, 4),)),
    ("F.softplus-args", fn(lambda x: F.softplus(x, 2.0, 1.0)), lambda: (rand(3, 4),)),
    ("F.softplus-kw", fn(lambda x: F.softplus(x, beta=3, threshold=2)), lambda: (rand(3, 4),)),
    ("mlp-gelu", lambda: nn.Sequential(nn.Linear(3, 4), nn.GELU(), nn.Linear(4, 2), nn.Softplus()),
     lambda: (rand(2, 3),)),
)
def test_activations(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- softmax --------------------------------------------------------------------------------------

@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("form", ["module", "F", "method", "torch"])
@pytest.mark.parametrize("log", [False, True], ids=["softmax", "log_softmax"])
def test_softmax(dim: int, form: str, log: bool) -> None:
    name = "log_softmax" if log else "softmax"
    make = {
        "module": lambda: (nn.LogSoftmax if log else nn.Softmax)(dim=dim),
        "F": fn(lambda x: getattr(F, name)(x, dim=dim)),
        "method": fn(lambda x: getattr(x, name)(dim)),
        "torch": fn(lambda x: getattr(torch, name)(x, dim)),
    }[form]
    run(make, lambda: (rand(2, 3, 4),))


@cases(
    ("softmax-2d", fn(lambda x: F.softmax(x, 1)), lambda: (rand(3, 4),)),
    ("softmax-1d", fn(lambda x: F.softmax(x, 0)), lambda: (rand(5),)),
    ("Softmax-dtype", fn(lambda x: F.softmax(x, dim=0, dtype=torch.float64)), lambda: (rand(3, 2),)),
    ("log_softmax-1d", fn(lambda x: x.log_softmax(-1)), lambda: (rand(5),)),
    ("softmax-then-linear", lambda: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 2)),
     lambda: (rand(2, 3),)),
)
def test_softmax_misc(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- pooling --------------------------------------------------------------------------------------

@cases(
    ("MaxPool2d-k2", lambda: nn.MaxPool2d(2), lambda: (rand(1, 2, 4, 6),)),
    ("MaxPool2d-k3-s1", lambda: nn.MaxPool2d(3, stride=1), lambda: (rand(1, 2, 5, 5),)),
    ("MaxPool2d-k3-s2", lambda: nn.MaxPool2d(3, stride=2), lambda: (rand(2, 1, 7, 7),)),
    ("MaxPool2d-k2-s1", lambda: nn.MaxPool2d(2, stride=1), lambda: (rand(1, 1, 4, 5),)),
    ("MaxPool2d-pad1", lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: (rand(1, 2, 5, 6),)),
    ("MaxPool2d-pad1-k2", lambda: nn.MaxPool2d(2, padding=1), lambda: (rand(1, 1, 5, 5),)),
    ("MaxPool2d-dil2", lambda: nn.MaxPool2d(2, stride=1, dilation=2), lambda: (rand(1, 1, 5, 6),)),
    ("MaxPool2d-dil2-pad1", lambda: nn.MaxPool2d(3, stride=2, padding=1, dilation=2), lambda: (rand(1, 1, 7, 7),)),
    ("MaxPool2d-unbatched", lambda: nn.MaxPool2d(2), lambda: (rand(2, 4, 4),)),
    ("MaxPool2d-ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), lambda: (rand(1, 1, 5, 5),)),
    ("MaxPool2d-rect", lambda: nn.MaxPool2d((2, 3), stride=(1, 2)), lambda: (rand(1, 1, 4, 7),)),
    ("F.max_pool2d", fn(lambda x: F.max_pool2d(x, 2)), lambda: (rand(1, 2, 4, 4),)),
    ("F.max_pool2d-args", fn(lambda x: F.max_pool2d(x, 3, 2, 1)), lambda: (rand(2, 1, 5, 5),)),
    ("F.max_pool2d-kw", fn(lambda x: F.max_pool2d(x, kernel_size=2, stride=1, dilation=2)),
     lambda: (rand(1, 1, 5, 5),)),
    ("MaxPool1d", lambda: nn.MaxPool1d(2), lambda: (rand(2, 3, 6),)),
    ("MaxPool1d-k3-s1-pad1", lambda: nn.MaxPool1d(3, stride=1, padding=1), lambda: (rand(1, 2, 5),)),
    ("MaxPool1d-unbatched", lambda: nn.MaxPool1d(2), lambda: (rand(3, 6),)),
    ("F.max_pool1d", fn(lambda x: F.max_pool1d(x, 2, 1)), lambda: (rand(1, 2, 5),)),
    ("MaxPool3d", lambda: nn.MaxPool3d(2, padding=1), lambda: (rand(1, 1, 2, 3, 3),)),
    ("max_pool-ties", fn(lambda x: F.max_pool2d(x, 2, 1)),
     lambda: (torch.tensor([[[[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]]]], dtype=torch.float64),)),
)
def test_max_pool(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


@cases(
    ("AvgPool2d-k2", lambda: nn.AvgPool2d(2), lambda: (rand(1, 2, 4, 6),)),
    ("AvgPool2d-k3-s1", lambda: nn.AvgPool2d(3, stride=1), lambda: (rand(1, 1, 5, 5),)),
    ("AvgPool2d-pad1", lambda: nn.AvgPool2d(3, stride=2, padding=1), lambda: (rand(1, 2, 5, 6),)),
    ("AvgPool2d-pad1-nocount", lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
     lambda: (rand(1, 2, 5, 6),)),
    ("AvgPool2d-pad1-k2-nocount", lambda: nn.AvgPool2d(2, padding=1, count_include_pad=False),
     lambda: (rand(1, 1, 5, 5),)),
    ("AvgPool2d-ceil", lambda: nn.AvgPool2d(2, ceil_mode=True), lambda: (rand(1, 1, 5, 5),)),
    ("AvgPool2d-ceil-pad", lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True),
     lambda: (rand(1, 1, 6, 6),)),
    ("AvgPool2d-ceil-pad-nocount", lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True,
                                                        count_include_pad=False), lambda: (rand(1, 1, 6, 6),)),
    ("AvgPool2d-divisor", lambda: nn.AvgPool2d(2, divisor_override=3), lambda: (rand(1, 1, 4, 4),)),
    ("AvgPool2d-unbatched", lambda: nn.AvgPool2d(2), lambda: (rand(2, 4, 4),)),
    ("F.avg_pool2d", fn(lambda x: F.avg_pool2d(x, 2)), lambda: (rand(1, 2, 4, 4),)),
    ("F.avg_pool2d-pad", fn(lambda x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)), lambda: (rand(1, 1, 5, 5),)),
    ("AvgPool1d", lambda: nn.AvgPool1d(2), lambda: (rand(1, 2, 6),)),
    ("AvgPool1d-pad", lambda: nn.AvgPool1d(3, 2, 1), lambda: (rand(1, 2, 6),)),
    ("AvgPool3d-nocount", lambda: nn.AvgPool3d(2, padding=1, count_include_pad=False), lambda: (rand(1, 1, 2, 3, 3),)),
)
def test_avg_pool(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


@cases(
    ("Adaptive-4x6-2x3", lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: (rand(1, 2, 4, 6),)),
    ("Adaptive-5x7-2x3", lambda: nn.AdaptiveAvgPool2d((2, 3)), lambda: (rand(1, 2, 5, 7),)),
    ("Adaptive-5x5-3", lambda: nn.AdaptiveAvgPool2d(3), lambda: (rand(2, 1, 5, 5),)),
    ("Adaptive-to-1", lambda: nn.AdaptiveAvgPool2d(1), lambda: (rand(1, 2, 3, 4),)),
    ("Adaptive-upsample", lambda: nn.AdaptiveAvgPool2d((4, 3)), lambda: (rand(1, 1, 3, 2),)),
    ("Adaptive-unbatched", lambda: nn.AdaptiveAvgPool2d((2, 2)), lambda: (rand(2, 5, 4),)),
    ("Adaptive-None", lambda: nn.AdaptiveAvgPool2d((None, 2)), lambda: (rand(1, 1, 3, 5),)),
    ("F.adaptive_avg_pool2d", fn(lambda x: F.adaptive_avg_pool2d(x, (2, 3))), lambda: (rand(1, 2, 5, 7),)),
    ("F.adaptive_avg_pool2d-int", fn(lambda x: F.adaptive_avg_pool2d(x, 2)), lambda: (rand(1, 2, 5, 7),)),
    ("AdaptiveAvgPool1d", lambda: nn.AdaptiveAvgPool1d(3), lambda: (rand(1, 2, 7),)),
    ("F.adaptive_avg_pool1d", fn(lambda x: F.adaptive_avg_pool1d(x, 2)), lambda: (rand(2, 5),)),
    ("AdaptiveAvgPool3d", lambda: nn.AdaptiveAvgPool3d((1, 2, 2)), lambda: (rand(1, 1, 2, 3, 4),)),
)
def test_adaptive_avg_pool(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- shape ops ------------------------------------------------------------------------------------

@cases(
    ("torch.flatten", fn(lambda x: torch.flatten(x)), lambda: (rand(2, 3, 4),)),
    ("torch.flatten-1", fn(lambda x: torch.flatten(x, 1)), lambda: (rand(2, 3, 4),)),
    ("torch.flatten-0-1", fn(lambda x: torch.flatten(x, 0, 1)), lambda: (rand(2, 3, 4),)),
    ("flatten-method", fn(lambda x: x.flatten(1)), lambda: (rand(2, 3, 2, 2),)),
    ("flatten-method-1-2", fn(lambda x: x.flatten(1, 2)), lambda: (rand(2, 3, 2, 2),)),
    ("flatten-method-neg", fn(lambda x: x.flatten(-2, -1)), lambda: (rand(2, 3, 2, 2),)),
    ("nn.Flatten", lambda: nn.Flatten(), lambda: (rand(2, 3, 4),)),
    ("nn.Flatten-0", lambda: nn.Flatten(0), lambda: (rand(2, 3, 4),)),
    ("nn.Flatten-1-2", lambda: nn.Flatten(1, 2), lambda: (rand(2, 3, 2, 2),)),
    ("nn.Unflatten", lambda: nn.Unflatten(1, (2, 3)), lambda: (rand(2, 6),)),
    ("unflatten-method", fn(lambda x: x.unflatten(-1, (2, 2))), lambda: (rand(3, 4),)),
    ("torch.unflatten", fn(lambda x: torch.unflatten(x, 0, (2, 3))), lambda: (rand(6, 2),)),
    ("view-2x6-3x4", fn(lambda x: x.view(3, 4)), lambda: (rand(2, 6),)),
    ("view-4x6-2x3x4", fn(lambda x: x.view(2, 3, 4)), lambda: (rand(4, 6),)),
    ("view-2x3x4-4x6", fn(lambda x: x.view(4, 6)), lambda: (rand(2, 3, 4),)),
    ("view-neg1", fn(lambda x: x.view(-1)), lambda: (rand(2, 3),)),
    ("view-tuple", fn(lambda x: x.view((6, 2))), lambda: (rand(3, 4),)),
    ("reshape-2x6-3x4", fn(lambda x: x.reshape(3, 4)), lambda: (rand(2, 6),)),
    ("reshape-4x6-2x3x4", fn(lambda x: x.reshape(2, 3, 4)), lambda: (rand(4, 6),)),
    ("torch.reshape", fn(lambda x: torch.reshape(x, (3, 2, 2))), lambda: (rand(2, 6),)),
    ("reshape-middle", fn(lambda x: x.reshape(2, 6, 2)), lambda: (rand(2, 3, 4, 1),)),
    ("reshape-keep-ends", fn(lambda x: x.reshape(2, 3, 4, 5)), lambda: (rand(2, 12, 5),)),
    ("reshape-with-ones", fn(lambda x: x.reshape(1, 6, 1, 2)), lambda: (rand(3, 4),)),
    ("reshape-to-scalar", fn(lambda x: x.reshape(())), lambda: (rand(1, 1),)),
    ("view_as", fn(lambda x, y: x.view_as(y) * y), lambda: (rand(2, 6), rand(3, 4))),
    ("reshape_as", fn(lambda x, y: x.reshape_as(y) + y), lambda: (rand(4, 3), rand(2, 6))),
    ("unsqueeze-0", fn(lambda x: x.unsqueeze(0)), lambda: (rand(2, 3),)),
    ("unsqueeze-1", fn(lambda x: torch.unsqueeze(x, 1)), lambda: (rand(2, 3),)),
    ("unsqueeze-neg", fn(lambda x: x.unsqueeze(-1)), lambda: (rand(2, 3),)),
    ("squeeze", fn(lambda x: x.squeeze()), lambda: (rand(2, 1, 3, 1),)),
    ("squeeze-dim", fn(lambda x: x.squeeze(1)), lambda: (rand(2, 1, 3),)),
    ("torch.squeeze-dim", fn(lambda x: torch.squeeze(x, -1)), lambda: (rand(2, 3, 1),)),
    ("squeeze-broadcast", fn(lambda x, y: x.unsqueeze(1) * y), lambda: (rand(2, 3), rand(4, 3))),
)
def test_reshape(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


@cases(
    ("permute", fn(lambda x: x.permute(2, 0, 1)), lambda: (rand(2, 3, 4),)),
    ("permute-tuple", fn(lambda x: x.permute((1, 2, 0))), lambda: (rand(2, 3, 4),)),
    ("torch.permute", fn(lambda x: torch.permute(x, (2, 1, 0))), lambda: (rand(2, 3, 4),)),
    ("permute-neg", fn(lambda x: x.permute(0, -1, 1)), lambda: (rand(2, 3, 4),)),
    ("transpose", fn(lambda x: x.transpose(0, 1)), lambda: (rand(2, 3),)),
    ("transpose-3d", fn(lambda x: x.transpose(0, 2)), lambda: (rand(2, 3, 4),)),
    ("transpose-neg", fn(lambda x: x.transpose(-1, -2)), lambda: (rand(2, 3, 4),)),
    ("torch.transpose", fn(lambda x: torch.transpose(x, 1, 2)), lambda: (rand(2, 3, 4),)),
    ("t", fn(lambda x: x.t()), lambda: (rand(2, 3),)),
    ("t-1d", fn(lambda x: x.t()), lambda: (rand(3),)),
    ("torch.t", fn(lambda x: torch.t(x)), lambda: (rand(2, 3),)),
    ("T-matmul", fn(lambda x, w: x @ w.t()), lambda: (rand(2, 3), rand(4, 3))),
    ("swapaxes", fn(lambda x: torch.swapaxes(x, 0, 1)), lambda: (rand(2, 3),)),
    ("attr-T", fn(lambda x: x.T * 2), lambda: (rand(2, 3),)),
    ("attr-mT", fn(lambda x: x.mT @ x), lambda: (rand(2, 3, 4),)),
    ("attr-H", fn(lambda x: x.H + 1), lambda: (rand(3, 2),)),
)
def test_permute(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


@cases(
    ("cat-0-two", fn(lambda a, b: torch.cat([a, b])), lambda: (rand(2, 3), rand(1, 3))),
    ("cat-1-two", fn(lambda a, b: torch.cat([a, b], dim=1)), lambda: (rand(2, 3), rand(2, 2))),
    ("cat-0-three", fn(lambda a, b, c: torch.cat((a, b, c), 0)), lambda: (rand(1, 2), rand(2, 2), rand(3, 2))),
    ("cat-1-three", fn(lambda a, b, c: torch.cat([a, b, c], 1)), lambda: (rand(2, 1), rand(2, 3), rand(2, 2))),
    ("cat-neg", fn(lambda a, b: torch.cat([a, b], -1)), lambda: (rand(2, 2, 3), rand(2, 2, 1))),
    ("cat-same", fn(lambda a: torch.cat([a, a * 2], 0)), lambda: (rand(2, 3),)),
    ("torch.concat", fn(lambda a, b: torch.concat([a, b], 1)), lambda: (rand(2, 3), rand(2, 2))),
    ("cat-1d", fn(lambda a, b: torch.cat([a, b])), lambda: (rand(3), rand(2))),
    ("cat-constant", fn(lambda a: torch.cat([a, torch.ones(2, 2, dtype=torch.float64)], 1)), lambda: (rand(2, 3),)),
)
def test_cat(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- reductions -----------------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["sum", "mean"])
@pytest.mark.parametrize("args", [(), (0,), (1,), (-1,), ((0, 2),), ((-1, 0),), (1, True), ((0, 1), True),
                                  (-2, True), ((0, 1, 2),)], ids=lambda a: repr(a))
@pytest.mark.parametrize("form", ["torch", "method"])
def test_reductions(op: str, args: tuple[Any, ...], form: str) -> None:
    f = (lambda x: getattr(torch, op)(x, *args)) if form == "torch" else (lambda x: getattr(x, op)(*args))
    run(fn(f), lambda: (rand(2, 3, 4),))


@cases(
    ("sum-kw", fn(lambda x: x.sum(dim=1, keepdim=True)), lambda: (rand(2, 3),)),
    ("mean-kw", fn(lambda x: torch.mean(x, dim=(0,), keepdim=False)), lambda: (rand(2, 3),)),
    ("sum-1d", fn(lambda x: x.sum()), lambda: (rand(4),)),
    ("mean-1d-dim", fn(lambda x: x.mean(0)), lambda: (rand(4),)),
    ("sum-0d", fn(lambda x: x.sum()), lambda: (rand(),)),
)
def test_reductions_misc(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- dropout --------------------------------------------------------------------------------------

@cases(
    ("Dropout-eval", lambda: nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2)), lambda: (rand(2, 3),)),
    ("Dropout-1d", lambda: nn.Dropout(0.3), lambda: (rand(5),)),
    ("Dropout2d-eval", lambda: nn.Dropout2d(0.5), lambda: (rand(1, 2, 3, 3),)),
    ("F.dropout-eval", fn(lambda x: F.dropout(x, 0.5, False)), lambda: (rand(2, 3),)),
    ("F.dropout-kw", fn(lambda x: F.dropout(x, p=0.2, training=False)), lambda: (rand(2, 3),)),
)
def test_dropout(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- losses ---------------------------------------------------------------------------------------

def labels(*shape: int, classes: int = 4) -> torch.Tensor:
    return torch.randint(0, classes, shape)


def probs(*shape: int) -> torch.Tensor:
    return torch.softmax(torch.randn(shape, dtype=torch.float64), dim=-1)


def weights(n: int = 4) -> torch.Tensor:
    return torch.rand(n, dtype=torch.float64) + 0.5


WEIGHT4 = torch.tensor([0.5, 2.0, 1.0, 1.5], dtype=torch.float64)  # torch has no gradient for loss weights
WEIGHT2 = torch.tensor([0.7, 1.3], dtype=torch.float64)

LOSSES = [
    ("MSELoss-mean", lambda: nn.MSELoss(), lambda: rand(5, 4)),
    ("MSELoss-sum", lambda: nn.MSELoss(reduction="sum"), lambda: rand(5, 4)),
    ("MSELoss-none", lambda: nn.MSELoss(reduction="none"), lambda: rand(5, 4)),
    ("MSELoss-broadcast-target", lambda: nn.MSELoss(), lambda: rand(4)),
    ("F.mse_loss", lambda: F.mse_loss, lambda: rand(5, 4)),
    ("CE-mean", lambda: nn.CrossEntropyLoss(), lambda: labels(5)),
    ("CE-sum", lambda: nn.CrossEntropyLoss(reduction="sum"), lambda: labels(5)),
    ("CE-none", lambda: nn.CrossEntropyLoss(reduction="none"), lambda: labels(5)),
    ("CE-weight-mean", lambda: nn.CrossEntropyLoss(weight=weights()), lambda: labels(5)),
    ("CE-weight-sum", lambda: nn.CrossEntropyLoss(weight=weights(), reduction="sum"), lambda: labels(5)),
    ("CE-weight-none", lambda: nn.CrossEntropyLoss(weight=weights(), reduction="none"), lambda: labels(5)),
    ("CE-probs-mean", lambda: nn.CrossEntropyLoss(), lambda: probs(5, 4)),
    ("CE-probs-sum", lambda: nn.CrossEntropyLoss(reduction="sum"), lambda: probs(5, 4)),
    ("CE-probs-none", lambda: nn.CrossEntropyLoss(reduction="none"), lambda: probs(5, 4)),
    ("F.cross_entropy", lambda: F.cross_entropy, lambda: labels(5)),
    ("NLL-mean", lambda: nn.NLLLoss(), lambda: labels(5)),
    ("NLL-sum", lambda: nn.NLLLoss(reduction="sum"), lambda: labels(5)),
    ("NLL-none", lambda: nn.NLLLoss(reduction="none"), lambda: labels(5)),
    ("NLL-weight-mean", lambda: nn.NLLLoss(weight=weights()), lambda: labels(5)),
    ("NLL-weight-sum", lambda: nn.NLLLoss(weight=weights(), reduction="sum"), lambda: labels(5)),
    ("F.nll_loss", lambda: F.nll_loss, lambda: labels(5)),
    ("BCE-mean", lambda: nn.BCEWithLogitsLoss(), lambda: torch.rand(5, 4, dtype=torch.float64)),
    ("BCE-sum", lambda: nn.BCEWithLogitsLoss(reduction="sum"), lambda: torch.rand(5, 4, dtype=torch.float64)),
    ("BCE-none", lambda: nn.BCEWithLogitsLoss(reduction="none"), lambda: torch.rand(5, 4, dtype=torch.float64)),
    ("BCE-weight", lambda: nn.BCEWithLogitsLoss(weight=weights()), lambda: torch.rand(5, 4, dtype=torch.float64)),
    ("BCE-pos_weight", lambda: nn.BCEWithLogitsLoss(pos_weight=weights()), lambda: torch.rand(5, 4, dtype=torch.float64)),
    ("BCE-both-sum", lambda: nn.BCEWithLogitsLoss(weight=weights(), pos_weight=weights(), reduction="sum"),
     lambda: torch.randint(0, 2, (5, 4)).double()),
    ("F.bce_with_logits", lambda: F.binary_cross_entropy_with_logits, lambda: torch.rand(5, 4, dtype=torch.float64)),
]


def as_double(m: Any) -> Any:
    return m.double() if isinstance(m, nn.Module) else m


@pytest.mark.parametrize("make_loss, make_target", [pytest.param(m, t, id=n) for n, m, t in LOSSES])
def test_loss_argument(make_loss: Any, make_target: Any) -> None:
    """The loss given to ``derive(loss=..., target=...)``, after a Linear (log_softmax before NLL)."""
    torch.manual_seed(0)
    loss = as_double(make_loss())
    nll = loss is F.nll_loss or isinstance(loss, nn.NLLLoss)
    model = (nn.Sequential(nn.Linear(3, 4), nn.LogSoftmax(dim=1)) if nll else nn.Linear(3, 4)).double()
    target = make_target()
    d = check(model, rand(5, 3), loss=loss, target=target)
    assert d.has_loss


@pytest.mark.parametrize("make_loss, make_target", [pytest.param(m, t, id=n) for n, m, t in LOSSES])
def test_loss_inside(make_loss: Any, make_target: Any) -> None:
    """The same losses called inside the model (module or function), the target an input."""
    torch.manual_seed(0)
    loss = as_double(make_loss())
    nll = loss is F.nll_loss or isinstance(loss, nn.NLLLoss)
    pre = (lambda z: F.log_softmax(z, 1)) if nll else (lambda z: z)
    if isinstance(loss, nn.Module):
        model = Wrap2(lambda m, x, t: m.loss(pre(m.lin(x)), t), lin=nn.Linear(3, 4), loss=loss)
    else:
        model = Wrap2(lambda m, x, t: loss(pre(m.lin(x)), t), lin=nn.Linear(3, 4))
    check(model.double(), rand(5, 3), make_target())


@cases(
    ("CE-unbatched", fn(lambda x, t: F.cross_entropy(x, t)), lambda: (rand(4), torch.tensor(2))),
    ("CE-unbatched-weight", fn(lambda x, t: F.cross_entropy(x, t, WEIGHT4)), lambda: (rand(4), torch.tensor(1))),
    ("CE-unbatched-probs", fn(lambda x, t: F.cross_entropy(x, t)), lambda: (rand(4), probs(4))),
    ("CE-logits-and-probs-both-inputs", fn(lambda x, t: F.cross_entropy(x, t, reduction="sum")),
     lambda: (rand(3, 4), probs(3, 4))),
    ("NLL-unbatched", fn(lambda x, t: F.nll_loss(F.log_softmax(x, 0), t)), lambda: (rand(4), torch.tensor(3))),
    ("MSE-both-inputs", fn(lambda x, t: F.mse_loss(x, t)), lambda: (rand(3, 2), rand(3, 2))),
    ("MSE-0d", fn(lambda x, t: F.mse_loss(x, t, reduction="sum")), lambda: (rand(), rand())),
    ("BCE-both-inputs", fn(lambda x, t: F.binary_cross_entropy_with_logits(x, t)),
     lambda: (rand(3, 2), torch.rand(3, 2, dtype=torch.float64))),
    ("MSE-target-broadcast-col", fn(lambda x, t: F.mse_loss(x, t)), lambda: (rand(5, 4), rand(5, 1))),
    ("MSE-target-broadcast-row-sum", fn(lambda x, t: F.mse_loss(x, t, reduction="sum")), lambda: (rand(5, 4), rand(1, 4))),
    ("MSE-input-broadcast", fn(lambda x, t: F.mse_loss(x, t)), lambda: (rand(4), rand(5, 4))),
    ("BCE-weight-col", fn(lambda x, t: F.binary_cross_entropy_with_logits(x, t, WEIGHT2.reshape(2, 1))),
     lambda: (rand(2, 3), torch.rand(2, 3, dtype=torch.float64))),
    ("CE-probs-weight", fn(lambda x, t: F.cross_entropy(x, t, WEIGHT4)), lambda: (rand(5, 4), probs(5, 4))),
    ("CE-probs-weight-sum", fn(lambda x, t: F.cross_entropy(x, t, WEIGHT4, reduction="sum")),
     lambda: (rand(5, 4), probs(5, 4))),
    ("BCE-weight-const", fn(lambda x, t: F.binary_cross_entropy_with_logits(x, t, WEIGHT2, pos_weight=WEIGHT2 * 2)),
     lambda: (rand(3, 2), torch.rand(3, 2, dtype=torch.float64))),
)
def test_loss_misc(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- formula shapes -------------------------------------------------------------------------------

def test_linear_formulas_are_closed_sums() -> None:
    """Linear's derived gradients are the textbook sums, with no delta left."""
    torch.manual_seed(0)
    d = check(nn.Linear(3, 2).double(), rand(4, 3))
    (step,) = d.steps
    assert step.op == "linear_fn"  # a root module is traced through: F.linear
    got = {k: str(eq.rhs) for k, eq in step.gradients.items()}
    assert got == {"input": "Sum(W[o, i]*ḡ[n, o], (o, 0, 1))",
                   "weight": "Sum(x[n, i]*ḡ[n, o], (n, 0, 3))",
                   "bias": "Sum(ḡ[n, o], (n, 0, 3))"}
    assert str(step.forward) == "Eq(y[n, o], b[o] + Sum(W[o, i]*x[n, i], (i, 0, 2)))"


def test_mse_gradient_is_the_residual() -> None:
    """∂/∂x of mean (x − t)² over 8 elements is (x − t)/4, elementwise."""
    torch.manual_seed(0)
    d = check(nn.Sequential(nn.Linear(3, 2)).double(), rand(4, 3), loss=nn.MSELoss(), target=rand(4, 2))
    step = d.steps[-1]
    assert step.op == "mse_loss" and step.seeded
    eq = step.gradients["input"]
    n, i = eq.lhs.indices
    x, t = (sp.IndexedBase(s, real=True) for s in "xt")
    assert sp.simplify(eq.rhs - (x[n, i] - t[n, i]) / 4) == 0


def test_strided_conv_input_gradient_is_a_transposed_conv() -> None:
    """Stride 2: ∂L/∂x keeps the divisibility conditions Mod(i − p, 2) = 0, and no delta."""
    torch.manual_seed(0)
    d = check(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2)).double(), rand(1, 1, 5, 5))
    text = str(d.steps[0].gradients["input"].rhs)
    assert "Eq(Mod(i - p, 2), 0)" in text and "Eq(Mod(j - q, 2), 0)" in text
    assert "ḡ[n, o, i/2 - p/2, j/2 - q/2]" in text
    assert str(d.steps[0].gradients["weight"].rhs) == \
        "Sum(x[n, c, 2*i + p, 2*j + q]*ḡ[n, o, i, j], (n, 0, 0), (i, 0, 1), (j, 0, 1))"

