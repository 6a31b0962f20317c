"""Empty tensors (a batch of 0, a dim of 0) through rules whose formulas evaluate windows, reads and pads."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch.nn.functional as F
from conftest import check, rand

EMPTY: list[tuple[str, Callable[..., Any], tuple[int, ...]]] = [
    ("max_pool2d", lambda x: F.max_pool2d(x, 2), (0, 1, 4, 4)),
    ("max_pool1d padded", lambda x: F.max_pool1d(x, 3, 2, padding=1), (0, 2, 5)),
    ("max_pool3d", lambda x: F.max_pool3d(x, 2), (0, 1, 2, 2, 2)),
]


@pytest.mark.parametrize("name, f, shape", EMPTY, ids=[n for n, _, _ in EMPTY])
def test_empty_input(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    d = check(lambda x: f(x), rand(*shape))
    assert d.gradient_values()["x"].shape == shape
