"""Pooling beyond max/avg against autograd: adaptive max pooling, max pooling's (values, indices),
lp_pool, local_response_norm, fold (col2im), embedding_bag."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from conftest import Wrap, check, rand
from torch import nn

import symbolic_torch as st


def exported(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` behind a shape test, which fx cannot trace: derive falls back to torch.export (ATen ops)."""
    def g(x: torch.Tensor) -> Any:
        if x.shape[0] > 1:
            return f(x)
        return x.sum()
    return g


# ---------------------------------------------------------------- adaptive max pooling
ADAPTIVE_MAX = [
    ("1d-uneven", lambda x: F.adaptive_max_pool1d(x, 3), (2, 3, 7)),
    ("1d-unbatched-overlap", lambda x: F.adaptive_max_pool1d(x, 5), (3, 7)),
    ("1d-grow", lambda x: F.adaptive_max_pool1d(x, 6), (1, 2, 4)),
    ("2d-mixed", lambda x: F.adaptive_max_pool2d(x, (3, 2)), (2, 2, 7, 4)),
    ("2d-none", lambda x: F.adaptive_max_pool2d(x, (None, 4)), (2, 5, 6)),
    ("2d-global", lambda x: F.adaptive_max_pool2d(x, 1), (2, 3, 4, 5)),
    ("3d", lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), (1, 2, 5, 4, 3)),
    ("3d-unbatched", lambda x: F.adaptive_max_pool3d(x, 2), (2, 3, 4, 5)),
    ("2d-indices", lambda x: F.adaptive_max_pool2d(x, (3, 2), return_indices=True)[0], (2, 2, 7, 4)),
    ("1d-indices-both", lambda x: (lambda v, i: v * 2 + i.double())(*F.adaptive_max_pool1d(x, 4, True)), (2, 3, 9)),
]


@pytest.mark.parametrize("name, f, shape", ADAPTIVE_MAX, ids=[n for n, _, _ in ADAPTIVE_MAX])
def test_adaptive_max_pool(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(f, rand(*shape))


@pytest.mark.parametrize("m, shape", [
    (nn.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (nn.AdaptiveMaxPool2d((3, None)), (2, 3, 5, 7)),
    (nn.AdaptiveMaxPool3d((2, 1, 3)), (3, 5, 4, 4)),
], ids=["1d", "2d", "3d-unbatched"])
def test_adaptive_max_pool_modules(m: nn.Module, shape: tuple[int, ...]) -> None:
    check(m, rand(*shape))


def test_adaptive_max_pool_module_with_indices() -> None:
    model = Wrap(lambda m, x: m.p(x)[0] * 2, p=nn.AdaptiveMaxPool2d((3, 4), return_indices=True))
    d = check(model, rand(2, 3, 5, 7))
    assert d.steps[0].op.startswith("adaptive_max_pool")


def test_adaptive_max_pool_ties_take_the_first() -> None:
    x = torch.tensor([[[1.0, 3.0, 3.0, 0.0, 2.0, 2.0, 2.0]]], dtype=torch.float64)
    check(lambda v: F.adaptive_max_pool1d(v, 3), x)


def test_adaptive_max_pool_latex() -> None:
    d = check(lambda x: F.adaptive_max_pool2d(x, 2), rand(1, 4, 6))
    assert st.latex(d[0].forward) == r"y_{c,i,j} = \max_{p,q} \left(x_{c,2 i + p,3 j + q}\right)"
    d = check(lambda x: F.adaptive_max_pool1d(x, 3), rand(2, 2, 7))
    assert str(d[0].forward.rhs) == "max_{p}(x[n, c, p + floor(7*i/3)])"
    guard = d[0].forward.rhs.guard  # windows of 3 and 2 cells: p < ⌈7(i+1)/3⌉ − ⌊7i/3⌋
    assert str(guard) == "p + floor(7*i/3) <= ceiling(7*i/3 + 7/3) - 1"


@pytest.mark.parametrize("f, shape", [
    (lambda x: F.adaptive_max_pool1d(x, 3), (2, 3, 7)),
    (lambda x: F.adaptive_max_pool2d(x, (3, 2)), (2, 2, 7, 4)),
    (lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), (2, 2, 5, 4, 3)),
    (lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[0], (2, 2, 7, 6)),
    (lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True)[0], (2, 2, 7)),
    (lambda x: F.max_pool3d(x, 2, return_indices=True)[0], (2, 2, 4, 4, 5)),
], ids=["adaptive1d", "adaptive2d", "adaptive3d", "max2d", "max1d", "max3d"])
def test_aten_overloads(f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    """aten.adaptive_max_pool2d, aten.max_pool2d_with_indices, …: (values, indices) ATen ops."""
    d = check(exported(f), rand(*shape))
    assert d.capture_method == "torch.export"


# ---------------------------------------------------------------- max pooling's indices
MAX_WITH_INDICES = [
    ("1d", lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True)[0], (2, 3, 8)),
    ("1d-ceil-unbatched", lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True)[0], (2, 7)),
    ("2d", lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[0], (2, 2, 7, 6)),
    ("2d-dilated", lambda x: F.max_pool2d(x, 2, 1, 0, 2, return_indices=True)[0], (3, 6, 5)),
    ("3d", lambda x: F.max_pool3d(x, 2, return_indices=True)[0], (1, 2, 4, 4, 5)),
    ("2d-with-indices-fn", lambda x: F.max_pool2d_with_indices(x, 2)[0], (2, 2, 4, 4)),
    ("indices-used", lambda x: (lambda v, i: v + i.double())(*F.max_pool2d(x, 2, return_indices=True)), (2, 4, 4)),
]


@pytest.mark.parametrize("name, f, shape", MAX_WITH_INDICES, ids=[n for n, _, _ in MAX_WITH_INDICES])
def test_max_pool_return_indices(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(f, rand(*shape))


def test_max_pool_module_return_indices_then_unpool() -> None:
    model = Wrap(lambda m, x: m.unpool(*m.pool(x)), pool=nn.MaxPool2d(2, return_indices=True),
                 unpool=nn.MaxUnpool2d(2))
    d = check(model, rand(2, 3, 4, 6))
    assert [s.op[:8] for s in d.steps] == ["max_pool", "max_unpo"]
