"""In-place rewriting runs the model to look for shared memory only where a view could share it."""
from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from examples.resnet import BasicBlock
from symbolic_torch.frontend import inplace
from symbolic_torch.frontend.trace import trace


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    count: list[int] = []
    real = inplace._run_for_storage

    def counted(*args: Any) -> Any:
        count.append(1)
        return real(*args)
    monkeypatch.setattr(inplace, "_run_for_storage", counted)
    return count


def test_relu_inplace_after_layers_and_sums_needs_no_run(runs: list[int]) -> None:
    block = BasicBlock(2, 2, 1).double().eval()  # ReLU(inplace=True) on BN outputs and on out + identity
    x = torch.randn(1, 2, 5, 5, dtype=torch.float64)
    gm = trace(block, (x,))
    inplace.functionalize(gm, (x,))
    assert runs == []
    with torch.no_grad():
        torch.testing.assert_close(gm(x), block(x), rtol=0, atol=0)


class _ViewThenInplace(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 4)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lin(x)
        v = y.view(-1)  # shares y's memory: relu_ of y changes v too
        return self.act(y).sum() + v.sum()


def test_a_view_of_the_overwritten_tensor_is_still_found(runs: list[int]) -> None:
    m = _ViewThenInplace().double()
    x = torch.randn(2, 4, dtype=torch.float64)
    gm = trace(m, (x,))
    with pytest.raises(inplace.Aliased):
        inplace.functionalize(gm, (x,))
    assert runs == [1]
