"""max_unpool1d/2d/3d against autograd, duplicate indices included (OpInfo's samples have them).

torch's CPU kernel writes duplicates in parallel, so which one it keeps can differ between runs;
these tests pin one thread so that the run, the reference and the re-run agree.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest
import torch
import torch.nn.functional as F
from conftest import Wrap, check, rand
from torch import nn

import symbolic_torch as st
from symbolic_torch.rules.unpooling import overwritten


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def I(v: Any) -> torch.Tensor:  # noqa: E743
    return torch.tensor(v, dtype=torch.long)


DUPLICATES = [
    ("1d", lambda x: F.max_unpool1d(x, I([[[0, 0, 0, 1, 1, 1, 2, 2, 2, 2]]]), 2, 1, output_size=[11]), (1, 1, 10)),
    ("1d unbatched", lambda x: F.max_unpool1d(x, I([[0, 1], [1, 1]]), 3, 2, 1, output_size=[3]), (2, 2)),
    ("2d", lambda x: F.max_unpool2d(x, I([[[[0, 4], [4, 8]], [[3, 3], [3, 0]]]]), 2, 1), (1, 2, 2, 2)),
    ("3d", lambda x: F.max_unpool3d(x, I([[[[[0, 7], [7, 7]]]]]), 2), (1, 1, 1, 2, 2)),
]


@pytest.mark.parametrize("name, f, shape", DUPLICATES, ids=[n for n, _, _ in DUPLICATES])
def test_duplicate_indices_give_torch_values_and_torch_gradients(name: str, f: Any, shape: tuple[int, ...]) -> None:
    """The value is the kept write's; every element, kept or overwritten, gets ḡ[I[p]] (torch's backward)."""
    d = check(lambda x: f(x), rand(*shape))
    step = d.steps[0]
    assert step.op.startswith("max_unpool")
    assert "D" in {o.symbol for o in step.operands}, step.forward
    assert any("duplicate indices" in n for n in step.notes)


def test_without_duplicates_there_is_no_correction() -> None:
    d = check(lambda x: F.max_unpool2d(x, I([[[[0, 3], [9, 14]]]]), 2), rand(1, 1, 2, 2))
    step = d.steps[0]
    assert str(step.forward.rhs) == "Sum([Eq(I[n, c, p, q], 4*i + j)]*x[n, c, p, q], (p, 0, 1), (q, 0, 1))"
    assert str(step.gradients["input"].rhs) == "Sum([Eq(I[n, c, p, q], 4*i + j)]*ḡ[n, c, i, j], (i, 0, 3), (j, 0, 3))"
    assert not step.notes


def test_unpool_module_after_overlapping_windows() -> None:
    """MaxPool2d's indices with stride < kernel name some cells twice: duplicates, through nn.MaxUnpool2d."""
    x = rand(2, 3, 5, 5)
    with torch.no_grad():
        pooled, idx = F.max_pool2d(x, 3, 1, return_indices=True)
    assert any(len(set(row.tolist())) < len(row) for row in idx.flatten(2).flatten(0, 1))  # there are duplicates
    model = Wrap(lambda m, v: m.unpool(v * 2.0, idx, output_size=x.shape[-2:]), unpool=nn.MaxUnpool2d(3, 1))
    d = check(model, pooled)
    assert any(s.op == "max_unpool2d" and s.notes for s in d.steps)


def test_the_kept_write_is_read_off_the_run() -> None:
    """Whichever duplicate the run kept (it varies between runs of torch's kernel), that one holds."""
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]], dtype=torch.float64)
    idx = I([[0, 0, 0, 1]])
    for kept in range(3):
        out = torch.tensor([[x[0, kept], 4.0]], dtype=torch.float64)
        assert overwritten(x, idx, out, 1).tolist() == [[k != kept for k in range(3)] + [False]]
    with pytest.raises(NotImplementedError, match="does not hold"):
        overwritten(x, idx, torch.tensor([[9.0, 4.0]], dtype=torch.float64), 1)


def test_empty_input() -> None:
    d = st.derive(lambda x: F.max_unpool1d(x, torch.zeros(0, 2, 3, dtype=torch.long), 2), rand(0, 2, 3))
    assert d.verify().ok
    assert d.gradient_values()["x"].shape == (0, 2, 3)
