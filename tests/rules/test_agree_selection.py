"""Agreement tests for selections by value (rules/selection.py, max/min along a dim, aminmax),
discrete calculus and triangles (rules/calculus.py), and distances (rules/distances.py)."""
from __future__ import annotations

import math
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

from conftest import check, rand

ONE: list[tuple[str, Callable[..., Any], tuple[int, ...]]] = [
    ("sort", lambda x: torch.sort(x, 1, descending=True)[0], (3, 4)), ("msort", torch.msort, (3, 4)),
    ("topk", lambda x: torch.topk(x, 2)[0], (3, 4)), ("kthvalue", lambda x: torch.kthvalue(x, 2, 0)[0], (3, 4)),
    ("cummax", lambda x: torch.cummax(x, 1)[0], (3, 4)), ("cummin", lambda x: torch.cummin(x, 0)[0], (3, 4)),
    ("median", lambda x: torch.median(x), (3, 4)), ("median", lambda x: x.median(1)[0], (3, 4)),
    ("nanmedian", lambda x: torch.nanmedian(x, 0, True)[0], (3, 4)),
    ("max", lambda x: torch.max(x, 1)[0], (3, 4)), ("min", lambda x: x.min(0, keepdim=True)[0], (3, 4)),
    ("aminmax", lambda x: torch.aminmax(x, dim=1)[0] + torch.aminmax(x, dim=1)[1], (3, 4)),
    ("var_mean", lambda x: torch.var_mean(x, 1)[0] * torch.var_mean(x, 1)[1], (3, 4)),
    ("std_mean", lambda x: torch.std_mean(x, (0, 1), correction=0)[0] + torch.std_mean(x)[1], (3, 4)),
    ("sum_to_size", lambda x: x.sum_to_size(1, 4), (2, 3, 4)),
    ("diff", lambda x: torch.diff(x, 2, 1), (3, 5)),
    ("trapezoid", lambda x: torch.trapezoid(x, dx=0.5), (3, 4)), ("trapezoid", lambda x: torch.trapz(x, dim=0), (3, 4)),
    ("cumulative_trapezoid", lambda x: torch.cumulative_trapezoid(x, dim=1), (3, 4)),
    ("tril", lambda x: torch.tril(x, 1), (3, 4)), ("triu", lambda x: x.triu(-1), (2, 3, 4)),
    ("pdist", lambda x: F.pdist(x, 3), (4, 3)), ("normalize", lambda x: F.normalize(x, 1.5, 0), (3, 4)),
    ("normalize", lambda x: F.normalize(x * 1e-14), (3, 4)),  # ‖x‖ < ε: divided by ε, gradient 1/ε
    ("renorm", lambda x: torch.renorm(x, 2, 0, 1.0), (3, 4)),
]


@pytest.mark.parametrize("rule, f, shape", ONE, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(ONE)])
def test_one_input(rule: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    d = check(lambda x: f(x), rand(*shape))
    assert rule in [s.op for s in d.steps]


def test_mode_of_tied_values() -> None:
    """Ties in the input itself (rounding inside the model would make every gradient zero)."""
    x = torch.tensor([[1.0, 2.0, 1.0, 3.0], [2.0, 2.0, 0.5, 0.5], [4.0, 1.5, 1.5, 4.0]], dtype=torch.float64)
    d = check(lambda t: torch.mode(t, 1, keepdim=True)[0], x)
    assert "mode" in [s.op for s in d.steps]


TWO: list[tuple[str, Callable[..., Any], list[tuple[int, ...]]]] = [
    ("diff", lambda x, p: torch.diff(x, 3, 0, prepend=p, append=p * 2), [(4, 2), (1, 2)]),
    ("trapezoid", lambda y, x: torch.trapezoid(y, x), [(3, 4), (4,)]),
    ("cumulative_trapezoid", lambda y, x: torch.cumulative_trapezoid(y, x, dim=0), [(3, 4), (3, 1)]),
    ("cdist", lambda a, b: torch.cdist(a, b), [(2, 3, 4), (1, 5, 4)]),
    ("cdist", lambda a, b: torch.cdist(a, b, p=math.inf), [(3, 4), (2, 4)]),
    ("pairwise_distance", lambda a, b: F.pairwise_distance(a, b, 3.0, keepdim=True), [(3, 4), (4,)]),
    ("cosine_similarity", lambda a, b: F.cosine_similarity(a, b, dim=-1), [(2, 1, 3), (1, 4, 3)]),
    ("cross", lambda a, b: torch.cross(a, b, dim=1), [(2, 3), (1, 3)]),
    ("cross", lambda a, b: torch.linalg.cross(a, b), [(4, 3), (4, 3)]),
]


@pytest.mark.parametrize("rule, f, shapes", TWO, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(TWO)])
def test_two_inputs(rule: str, f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    d = check(f, *[rand(*s) for s in shapes])
    assert rule in [s.op for s in d.steps]


def test_sort_reads_through_the_run_indices() -> None:
    d = check(lambda x: torch.sort(x)[0], rand(4))
    assert str(d.steps[0].forward.rhs) == "x[I[i]]"
    assert not d.steps[0].operand("indices").differentiable


def test_diff_of_a_concatenation_reads_blocks_out_of_range_as_zero() -> None:
    d = check(lambda x, p: torch.diff(x, 1, 0, prepend=p), rand(3), rand(1))
    assert str(d.steps[0].forward.rhs) == "p[i + 1] - p[i] - x[i - 1] + x[i]"
