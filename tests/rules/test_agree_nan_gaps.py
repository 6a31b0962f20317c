"""Known gaps of the last closing note, checked: NaN cells reaching nansum/nanmean from an earlier
step, and what is left (a NaN adjoint at a NaN cell). Empty max pooling: tests/rules/test_agree_empty.py."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import symbolic_torch as st
from conftest import check


def _with_negatives() -> torch.Tensor:
    return torch.tensor([[1.5, -1.0, 2.0, 0.7], [-0.5, 3.0, 1.2, 0.9]], dtype=torch.float64)


@pytest.mark.parametrize("f", [torch.nansum, torch.nanmean], ids=["nansum", "nanmean"])
def test_nan_cells_made_by_an_earlier_step(f: Callable[..., Any]) -> None:
    """log(x < 0) is NaN: the mask comes from the run's values of the step, not from the model's input."""
    d = check(lambda x: torch.sin(f(torch.log(x) + x * x, 1)), _with_negatives())
    assert [s.op for s in d.steps][-2] == f.__name__


@pytest.mark.xfail(strict=True, reason="a NaN adjoint at a NaN cell: torch's backward multiplies by 0 "
                   "(NaN), the derivation's false [m = 0] absorbs it (0); numeric/algebra.py's gate")
def test_a_nan_adjoint_at_a_nan_cell() -> None:
    x = torch.tensor([[1.0, float("nan"), 2.0], [3.0, 4.0, -1.0]], dtype=torch.float64)
    g = torch.ones(2, 3, dtype=torch.float64)
    d = st.derive(lambda t: torch.nansum(t, -1, keepdim=True) * t, x, grad_output=g)
    leaf = x.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(torch.nansum(leaf, -1, keepdim=True) * leaf, leaf, g)
    torch.testing.assert_close(d.gradient_values()["t"], ref, rtol=0, atol=1e-12, equal_nan=True)
