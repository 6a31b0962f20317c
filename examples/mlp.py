"""A two-layer perceptron: linear → tanh → linear, with mean-squared-error loss."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


class MLP(nn.Module):
    """3×4 → linear 8 → tanh → linear 2."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(8, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


def derivation() -> st.Derivation:
    """The derivation of the MLP on a batch of 3, mean squared error against a random target (seed 0), verified."""
    torch.manual_seed(0)
    model = MLP().double()
    x = torch.randn(3, 4, dtype=torch.float64)
    target = torch.randn(3, 2, dtype=torch.float64)
    d = st.derive(model, x, loss=nn.MSELoss(), target=target)
    return d


def main(out_dir: str | Path = "paper_output") -> Path:
    """Derive, verify and write the handout to ``out_dir/mlp.pdf``."""
    d = derivation()
    report = d.verify()
    assert report.ok, report
    print(d.steps[0].at((0, 0)).latex)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return d.to_pdf(Path(out_dir) / "mlp.pdf")


if __name__ == "__main__":
    main()
