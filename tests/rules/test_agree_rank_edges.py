"""Agreement tests for the rank and argument edge cases OpInfo samples reach (float64 vs autograd).

PReLU with a 0-d weight and inputs of rank 0-3.
"""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from conftest import Wrap2, check, rand


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
