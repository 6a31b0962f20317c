"""One LSTM cell step and a linear read-out: the gates of an LSTM, each a formula.

(h₀, c₀) = 0 → LSTMCell(3 → 4) on a batch of 2 → h₁ → linear 2 → cross-entropy. The cell is an
*expansion*: one step per projection, gate (σ, tanh) and state update, all derived and verified.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


class LSTMCellModel(nn.Module):
    """2×3 → LSTMCell(3, 4) from zero state → h (2×4) → linear 2."""

    def __init__(self) -> None:
        super().__init__()
        self.cell = nn.LSTMCell(3, 4)
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _c = self.cell(x)
        return self.head(h)


def derivation() -> "st.Derivation":
    """The verified float64 derivation of the model on a fixed input, with a cross-entropy loss."""
    torch.manual_seed(0)
    model = LSTMCellModel().double()
    x = torch.randn(2, 3, dtype=torch.float64)
    return st.derive(model, x, loss=nn.CrossEntropyLoss(), target=torch.tensor([1, 0]))


def main(out_dir: str | Path = "paper_output") -> Path:
    """Derive, verify and write the handout to ``out_dir/lstm_cell.pdf``."""
    d = derivation()
    report = d.verify()
    assert report.ok, report
    print(f"{len(d.steps)} steps; {report.max_abs_error:.2e} max abs error against autograd")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return d.to_pdf(Path(out_dir) / "lstm_cell.pdf")


if __name__ == "__main__":
    main()
