"""Agreement tests for the rank and argument edge cases OpInfo samples reach (float64 vs autograd).

PReLU with a 0-d weight and inputs of rank 0-6; pooling and convolutions with one-element
padding/stride tuples (torch repeats them over every dim), pooling with an empty stride and on
unbatched inputs; batch_norm on empty inputs (a 1-d one included) and on inputs past 5-d;
layer_norm/group_norm functions with keyword arguments.
"""
from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from torch import nn

import symbolic_torch as st
from conftest import Wrap, Wrap2, check, rand


def kinked(*shape: int) -> torch.Tensor:
    """Random values with one exact zero and one negative value (PReLU's kink and slope)."""
    x = rand(*shape) * 3
    if x.numel() >= 2:
        x.view(-1)[0], x.view(-1)[1] = 0.0, -0.5
    return x


# --- prelu: torch.prelu shares a one-element weight (0-d or (1,)) over inputs of any rank -----------

@pytest.mark.parametrize("x_shape, w_shape", [
    ((), ()), ((), (1,)), ((5,), ()), ((5,), (1,)), ((4, 3), ()), ((4, 3), (1,)), ((4, 3), (3,)),
    ((2, 3, 4), ()), ((2, 3, 4), (3,)), ((1, 2, 2, 2, 2, 2), (2,)),
], ids=str)
def test_prelu_weight_and_input_ranks(x_shape: tuple[int, ...], w_shape: tuple[int, ...]) -> None:
    w = rand(*w_shape) if w_shape else torch.tensor(0.3, dtype=torch.float64)
    check(Wrap2(lambda s, x, a: F.prelu(x, a)), kinked(*x_shape), w)


# --- pooling: torch expands one-element tuples over every spatial dim; stride () means the kernel ---

POOL_ARGS = [
    # (kernel, stride, padding): the OpInfo avg_pool2d samples that took (1,) for two dims
    ((3, 3), (1, 1), (1,)),
    ((2, 2), (), (0,)),
    ((4, 4), (2, 2), (2,)),
    ((3, 3), (2,), 1),
    (3, [], (1,)),
]


@pytest.mark.parametrize("kernel, stride, padding", POOL_ARGS, ids=str)
@pytest.mark.parametrize("shape", [(1, 2, 6, 6), (2, 6, 5)], ids=["batched", "unbatched"])
def test_avg_pool2d_short_tuples(shape: tuple[int, ...], kernel: Any, stride: Any, padding: Any) -> None:
    check(Wrap(lambda s, x: F.avg_pool2d(x, kernel, stride, padding, True, False)), rand(*shape))


@pytest.mark.parametrize("count_include_pad, ceil_mode", [(True, False), (False, True)])
@pytest.mark.parametrize("shape", [(2, 7), (1, 2, 7)], ids=["unbatched", "batched"])
def test_avg_pool1d(shape: tuple[int, ...], count_include_pad: bool, ceil_mode: bool) -> None:
    check(Wrap(lambda s, x: F.avg_pool1d(x, (3,), (2,), (1,), ceil_mode, count_include_pad)), rand(*shape))


@pytest.mark.parametrize("shape", [(2, 4, 4, 3), (1, 2, 4, 4, 3)], ids=["unbatched", "batched"])
def test_avg_pool3d_short_tuples(shape: tuple[int, ...]) -> None:
    check(Wrap(lambda s, x: F.avg_pool3d(x, (2, 2, 2), (), (1,), False, False, 3)), rand(*shape))


@pytest.mark.parametrize("nsp, fn", [
    (2, lambda x: F.max_pool2d(x, (3, 3), (), (1,))),
    (2, lambda x: F.max_pool2d(x, 2, (1,), 0, (2,))),
    (1, lambda x: F.max_pool1d(x, (3,), [], (1,), ceil_mode=True)),
    (3, lambda x: F.max_pool3d(x, (2,), (1,), 0)),
], ids=["2d-pad1", "2d-dil1", "1d-ceil", "3d-k1tuple"])
@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_max_pool_short_tuples(nsp: int, fn: Any, batched: bool) -> None:
    shape = (1,) * batched + (2,) + (5,) * nsp
    x = torch.randperm(torch.Size(shape).numel()).double().reshape(shape)  # distinct: no ties at the max
    check(Wrap(lambda s, t: fn(t)), x)


@pytest.mark.parametrize("f", [F.adaptive_avg_pool1d, F.adaptive_avg_pool2d, F.adaptive_avg_pool3d],
                         ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_adaptive_avg_pool_unbatched(f: Any, batched: bool) -> None:
    nsp = {F.adaptive_avg_pool1d: 1, F.adaptive_avg_pool2d: 2, F.adaptive_avg_pool3d: 3}[f]
    x = rand(*((1,) * batched + (2,) + (5,) * nsp))
    check(Wrap(lambda s, t: f(t, (3,) * nsp)), x)


@pytest.mark.parametrize("transposed", [False, True], ids=["conv2d", "conv_transpose2d"])
def test_conv2d_short_tuples(transposed: bool) -> None:
    """Convolutions share ``tup``: stride (2,), padding (1,) mean (2, 2), (1, 1)."""
    if transposed:
        model = Wrap(lambda s, x: F.conv_transpose2d(x, s.c.weight, s.c.bias, (2,), (1,)),
                     c=torch.nn.ConvTranspose2d(2, 3, 3).double())
    else:
        model = Wrap(lambda s, x: F.conv2d(x, s.c.weight, s.c.bias, (2,), (1,), (1,)),
                     c=torch.nn.Conv2d(2, 3, 3).double())
    check(model, rand(1, 2, 5, 4))


# --- batch_norm: an empty input (1-d (0,) included) is returned as it is ----------------------------

@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0), (0, 2, 3)], ids=str)
def test_batch_norm_empty(shape: tuple[int, ...], training: bool) -> None:
    c = shape[1] if len(shape) > 1 else 0
    mean, var = torch.zeros(c, dtype=torch.float64), torch.ones(c, dtype=torch.float64)
    check(Wrap(lambda s, x: F.batch_norm(x, mean, var, None, None, training)), rand(*shape))


def test_batch_norm_empty_affine() -> None:
    model = Wrap(lambda s, x: F.batch_norm(x, None, None, s.n.weight, s.n.bias, True), n=nn.BatchNorm1d(3).double())
    check(model, rand(0, 3), zero_gradient_ok="an empty batch: the parameters' sums run over no sample")


@pytest.mark.parametrize("train", [True, False])
def test_batch_norm_module_empty_batch(train: bool) -> None:
    m = nn.BatchNorm1d(3).double().train(train)
    d = check(nn.Sequential(m), rand(0, 3), zero_gradient_ok="an empty batch: the parameters' sums run over no sample")
    assert not d.steps[0].notes  # torch leaves the running statistics as they are: no update shown


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_6d(training: bool) -> None:
    torch.manual_seed(2)
    mean, var = rand(2), rand(2, positive=True)
    check(Wrap(lambda s, x: F.batch_norm(x, mean, var, s.n.weight, s.n.bias, training),
               n=nn.BatchNorm1d(2).double()), rand(2, 2, 2, 1, 2, 2))


# --- layer_norm / group_norm functions: torch's arguments by position or by name ---------------------

@pytest.mark.parametrize("f", [
    lambda s, x: F.layer_norm(x, [3], s.n.weight, s.n.bias, 1e-3),
    lambda s, x: F.layer_norm(x, normalized_shape=[3], weight=s.n.weight, eps=1e-3),
    lambda s, x: F.layer_norm(x, (2, 3), bias=s.m.bias),
    lambda s, x: F.group_norm(x, 1, s.g.weight, s.g.bias, 1e-3),
    lambda s, x: F.group_norm(x, num_groups=2, weight=s.g.weight, eps=1e-2),  # bias alone: torch's backward fails
], ids=["ln-positional", "ln-keywords", "ln-2d-bias", "gn-positional", "gn-keywords"])
def test_norm_function_arguments(f: Any) -> None:
    model = Wrap(f, n=nn.LayerNorm(3).double(), m=nn.LayerNorm([2, 3]).double(), g=nn.GroupNorm(2, 2).double())
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(0.5, 1.5)
    check(model, rand(2, 2, 3))


def test_conv_module_padding_mode_not_covered() -> None:
    with pytest.raises(st.UnsupportedOpError, match="padding_mode='reflect'"):
        st.derive(nn.Sequential(nn.Conv1d(2, 2, 3, padding=1, padding_mode="reflect").double()), rand(1, 2, 5))
