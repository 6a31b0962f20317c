"""F.pad edge cases from OpInfo: negative circular pads (torch crops, then wraps within what is left) and
empty inputs (an empty batch padded into a non-empty output of the fill value)."""
from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from conftest import check, rand
from torch import nn

import symbolic_torch as st

CIRCULAR = [(-1, 1), (1, -2), (2, -1), (-1, 3), (-1, -1), (-1, 1, -2, 1), (1, -1, 0, 2, -1, 1)]


@pytest.mark.parametrize("pad", CIRCULAR, ids=[str(p) for p in CIRCULAR])
def test_circular_with_negative_pads_wraps_within_the_cropped_input(pad: tuple[int, ...]) -> None:
    shape = (1, 3, 4, 5, 6)[: 2 + len(pad) // 2]
    d = check(lambda x: F.pad(x, pad, mode="circular"), rand(*shape))
    assert d.steps[0].op == "pad"


def test_circular_module_with_a_negative_pad() -> None:
    check(nn.CircularPad1d((2, -1)), rand(2, 3, 5))


def test_circular_wraps_to_the_first_kept_cell() -> None:
    """(-1, 1) on [0, 1, 2, 3, 4]: the right pad repeats 1, the first cell kept, not the cropped 0."""
    x = torch.arange(5.0, dtype=torch.float64).reshape(1, 1, 5)
    d = check(lambda v: F.pad(v, (-1, 1), mode="circular"), x)
    assert str(d.steps[0].forward.rhs) == "x[n, c, Mod(i, 4) + 1]"


def test_circular_pad_wrapping_more_than_once_is_refused() -> None:
    """(-2, 3) on 4 cells keeps 2 and pads 3: torch copies overlapping slices (or refuses, by layout)."""
    with pytest.raises(st.UnsupportedOpError, match="wraps more than once"):
        st.derive(lambda x: F.pad(x, (-2, 3), mode="circular"), rand(1, 3, 4))


EMPTY: list[tuple[Any, ...]] = [((1, 1, 1, 1, 1, 1), "constant", 2.0), ((1, 2), "constant", 1.0), ((1, 2), "reflect"),
                                ((0, 2, 0, 1), "replicate"), ((0, 2, 0, 1), "circular")]


@pytest.mark.parametrize("args", EMPTY, ids=[f"{a[1]}{a[0]}" for a in EMPTY])
def test_empty_input(args: tuple[Any, ...]) -> None:
    """An empty batch; padding it along the batch dim too gives a non-empty output of the value."""
    shape = (0, 3, 3) if len(args[0]) != 4 else (0, 3, 3, 3)
    d = check(lambda x: F.pad(x, *args), rand(*shape))
    assert d.gradient_values()["x"].shape == shape
