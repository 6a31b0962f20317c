"""Agreement tests for rules/elementary.py: each function's derived gradient against torch.autograd.

(Named ``test_agree_*`` so that it runs before ``test_agreement.py``, whose last test checks
that every rule of the table was exercised.)
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch

from conftest import check, rand


def unit(*shape: int) -> torch.Tensor:
    """Values in (−0.9, 0.9): the domain of asin, atanh, erfinv."""
    return torch.rand(shape, dtype=torch.float64) * 1.8 - 0.9


def above_one(*shape: int) -> torch.Tensor:
    return rand(*shape, positive=True) + 1.0


def prob(*shape: int) -> torch.Tensor:
    return torch.rand(shape, dtype=torch.float64) * 0.9 + 0.05


UNARY: list[tuple[str, Callable[..., Any], Callable[..., torch.Tensor]]] = [
    ("sin", torch.sin, rand), ("cos", torch.cos, rand), ("tan", torch.tan, unit),
    ("asin", torch.asin, unit), ("acos", torch.arccos, unit), ("atan", torch.atan, rand),
    ("sinh", torch.sinh, rand), ("cosh", torch.cosh, rand), ("asinh", torch.asinh, rand),
    ("acosh", torch.acosh, above_one), ("atanh", torch.atanh, unit),
    ("erf", torch.erf, rand), ("erfc", torch.special.erfc, rand), ("erfinv", torch.erfinv, unit),
    ("expm1", torch.expm1, rand), ("log1p", torch.log1p, prob), ("log2", torch.log2, prob),
    ("log10", torch.log10, prob), ("exp2", torch.exp2, rand),
    ("reciprocal", torch.reciprocal, above_one), ("square", torch.square, rand),
    ("deg2rad", torch.deg2rad, rand), ("rad2deg", torch.rad2deg, rand),
    ("alias", torch.positive, rand), ("alias", torch.conj, rand), ("alias", torch.resolve_neg, rand),
    ("floor", torch.floor, rand), ("ceil", torch.ceil, rand), ("trunc", torch.trunc, rand),
    ("frac", torch.frac, rand), ("sign", torch.sign, rand), ("sign", torch.sgn, rand),
    ("angle", torch.angle, rand), ("round", torch.round, rand),
    ("round", lambda x: torch.round(x, decimals=2), rand),
    ("logit", torch.logit, prob), ("logit", lambda x: torch.logit(x, eps=0.2), prob),
    ("nan_to_num", torch.nan_to_num, rand), ("sinc", torch.sinc, rand),
    ("ndtr", torch.special.ndtr, rand), ("log_ndtr", torch.special.log_ndtr, lambda *s: rand(*s) * 4),
    ("ndtri", torch.special.ndtri, prob), ("erfcx", torch.special.erfcx, rand),
    ("lgamma", torch.lgamma, above_one), ("digamma", torch.digamma, above_one),
    ("mvlgamma", lambda x: torch.mvlgamma(x, p=3), lambda *s: above_one(*s) + 1),
    ("polygamma", lambda x: torch.polygamma(2, x), above_one),
    ("polygamma", lambda x: x.polygamma(1), above_one),
]


PIECEWISE_CONSTANT = {r: "piecewise constant: its gradient is 0 almost everywhere"
                      for r in ("floor", "ceil", "trunc", "sign", "round")} | {"angle": "the angle of a real is 0 or π"}


@pytest.mark.parametrize("rule, f, make", UNARY, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(UNARY)])
def test_unary(rule: str, f: Callable[..., Any], make: Callable[..., torch.Tensor]) -> None:
    d = check(lambda x: f(x), make(2, 3), zero_gradient_ok=PIECEWISE_CONSTANT.get(rule, ""))
    assert [s.op for s in d.steps] == [rule]


def test_step_functions_have_zero_gradient() -> None:
    d = check(lambda x: torch.floor(x) + torch.round(x) + torch.sign(x), rand(5),
              zero_gradient_ok="the zero gradient of step functions is what is tested")
    steps = [s for s in d.steps if s.op in ("floor", "round", "sign")]
    assert len(steps) == 3 and all(str(eq.rhs) == "0" for s in steps for eq in s.gradients.values())


def test_log_ndtr_far_tail() -> None:
    """Φ keeps its digits in the left tail (sympy's erfc(−x) = 2 − erfc(x) would lose them)."""
    check(lambda x: torch.special.log_ndtr(x), torch.tensor([-8.3, -7.6, 7.4], dtype=torch.float64))


def test_nan_to_num_of_nonfinite_is_unsupported() -> None:
    import symbolic_torch as st
    with pytest.raises(st.UnsupportedOpError, match="NaN"):
        st.derive(lambda x: torch.nan_to_num(x), torch.tensor([1.0, float("nan")], dtype=torch.float64))


def test_vander() -> None:
    d = check(lambda x: torch.linalg.vander(x, N=4), rand(2, 3))
    assert str(d.steps[0].forward.rhs) == "x[i, j]**k"
