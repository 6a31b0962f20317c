"""Agreement tests for rules/arithmetic.py: broadcasting functions of two or three operands."""
from __future__ import annotations

import operator
from typing import Any, Callable

import pytest
import torch

from conftest import check, rand


def pos(*shape: int) -> torch.Tensor:
    return rand(*shape, positive=True)


def away(*shape: int) -> torch.Tensor:
    """Nonzero values, |x| in [0.5, 2): divisors for fmod and remainder."""
    return pos(*shape) * torch.where(torch.rand(shape) < 0.5, -1.0, 1.0).double()


def mask(*shape: int) -> torch.Tensor:
    """A fixed boolean mask (the same on every call, so every run of a model sees it)."""
    return torch.rand(shape, generator=torch.Generator().manual_seed(sum(shape))) < 0.5


BINARY: list[tuple[str, Callable[..., Any], Callable[[], tuple[torch.Tensor, ...]]]] = [
    ("maximum", torch.maximum, lambda: (rand(2, 3), rand(3))),
    ("minimum", torch.minimum, lambda: (rand(2, 1), rand(2, 3))),
    ("maximum", torch.maximum, lambda: (torch.tensor([1.0, 2.0], dtype=torch.float64),
                                        torch.tensor([1.0, 0.0], dtype=torch.float64))),  # a tie: ½ each
    ("fmax", torch.fmax, lambda: (rand(2, 3), rand(2, 3))),
    ("fmin", torch.fmin, lambda: (rand(2, 3), rand(3))),
    ("atan2", torch.atan2, lambda: (rand(2, 3), rand(2, 3))),
    ("hypot", torch.hypot, lambda: (rand(2, 3), rand(3))),
    ("logaddexp", torch.logaddexp, lambda: (rand(2, 3), rand(2, 3))),
    ("logaddexp2", torch.logaddexp2, lambda: (rand(2, 3), rand(2, 1))),
    ("copysign", torch.copysign, lambda: (rand(2, 3), rand(2, 3))),
    ("fmod", torch.fmod, lambda: (rand(2, 3) * 3, away(2, 3))),
    ("remainder", torch.remainder, lambda: (rand(2, 3) * 3, away(3))),
    ("remainder", operator.mod, lambda: (rand(2, 3) * 3, away(3))),
    ("__rmod__", torch.Tensor.__rmod__, lambda: (away(2, 3), rand(2, 3) * 3)),
    ("float_power", torch.float_power, lambda: (pos(2, 3), rand(2, 3))),
    ("ldexp", torch.ldexp, lambda: (rand(2, 3), rand(2, 3))),
    ("__rsub__", torch.Tensor.__rsub__, lambda: (rand(2, 3), rand(3))),
    ("__rdiv__", torch.Tensor.__rdiv__, lambda: (pos(2, 3), rand(3))),
    ("__rpow__", torch.Tensor.__rpow__, lambda: (rand(2, 3), pos(3))),
    ("xlogy", torch.xlogy, lambda: (rand(2, 3), pos(2, 3))),
    ("xlogy", torch.xlogy, lambda: (torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64),
                                    torch.tensor([-1.0, 2.0, 3.0], dtype=torch.float64))),  # 0·log(v ≤ 0) = 0
    ("xlog1py", torch.special.xlog1py, lambda: (rand(2, 3), pos(2, 3))),
    ("clamp", lambda x, lo: torch.clamp(x, lo, lo + 0.5), lambda: (rand(2, 3), rand(3))),
    ("clamp", lambda x, hi: torch.clamp(x, max=hi), lambda: (rand(2, 3), rand(2, 3))),
    ("clamp_min", torch.clamp_min, lambda: (rand(2, 3), rand(3))),
    ("clamp_max", torch.clamp_max, lambda: (rand(2, 3), rand(2, 3))),
    ("masked_fill", lambda x, v: x.masked_fill(mask(2, 3), v), lambda: (rand(2, 3), rand())),
    ("lerp", lambda s, e: torch.lerp(s, e, 0.3), lambda: (rand(2, 3), rand(3))),
]


@pytest.mark.parametrize("rule, f, make", BINARY, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(BINARY)])
def test_binary(rule: str, f: Callable[..., Any], make: Callable[[], tuple[torch.Tensor, ...]]) -> None:
    d = check(lambda x, y: f(x, y), *make())
    assert d.steps[-1].op == rule


@pytest.mark.parametrize("f", [
    lambda x: torch.clamp(x, -0.5, 0.5), lambda x: torch.clip(x, min=-0.2), lambda x: x.clamp(max=0.1),
    lambda x: torch.clamp(x, 0.5, -0.5),  # lo > hi: y = hi everywhere, no gradient
    lambda x: torch.maximum(x, torch.tensor(0.0, dtype=torch.float64)),
    lambda x: torch.remainder(x, 0.7), lambda x: torch.float_power(x.abs() + 1, 2.5),
    lambda x: torch.xlogy(2.0, x.abs() + 1),
], ids=["clamp-scalars", "clip-min", "clamp-max-method", "clamp-empty-range", "maximum-0d", "remainder-scalar",
        "float_power-scalar", "xlogy-scalar-left"])
def test_with_numbers(f: Callable[..., Any], request: pytest.FixtureRequest) -> None:
    empty = request.node.callspec.id == "clamp-empty-range"
    check(f, rand(3, 4), zero_gradient_ok="lo > hi: the output is hi everywhere" if empty else "")


def test_clamp_tensor_bounds_cross() -> None:
    """Per element lo > hi gives hi, whose gradient gets ḡ there; x gets none."""
    lo = torch.tensor([0.0, 1.0, -1.0], dtype=torch.float64)
    hi = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    check(lambda x, a, b: torch.clamp(x, a, b), torch.tensor([0.5, 0.5, 2.0], dtype=torch.float64), lo, hi)


@pytest.mark.parametrize("f, shapes", [
    (lambda x, y: torch.where(mask(2, 3), x, y), [(2, 3), (3,)]),
    (lambda x, y: torch.where(mask(3), x, 0.5 * y), [(2, 1), (2, 3)]),
    (lambda x, y, w: torch.lerp(x, y, w), [(2, 3), (3,), (2, 1)]),
    (lambda x, u, v: torch.addcmul(x, u, v, value=0.5), [(2, 3), (2, 1), (3,)]),
    (lambda x, u, v: torch.addcdiv(x, u, v.abs() + 1, value=2), [(2, 3), (2, 3), (3,)]),
    (lambda x, u, v: x.addcmul(u, v), [(3,), (2, 3), (2, 3)]),
], ids=["where", "where-broadcast", "lerp-tensor-weight", "addcmul", "addcdiv", "addcmul-method"])
def test_ternary(f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    check(f, *[rand(*s) for s in shapes])


@pytest.mark.parametrize("f", [
    lambda x, y: torch.div(x, y, rounding_mode="trunc"), lambda x, y: x.div(y, rounding_mode="floor"),
], ids=["div-trunc", "div-floor"])
def test_rounded_division_has_zero_gradient(f: Callable[..., Any]) -> None:
    d = check(f, rand(2, 3), away(3), zero_gradient_ok="rounded division is piecewise constant")
    assert all(str(eq.rhs) == "0" for s in d.steps if s.op == "div" for eq in s.gradients.values())
