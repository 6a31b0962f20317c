"""A tiny CNN on one 8×8 image: conv → ReLU → max-pool → linear, with cross-entropy loss."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


class TinyCNN(nn.Module):
    """1×1×8×8 → conv 3×3 (4 channels) 6×6 → ReLU → max-pool 2 → 4·3·3 → 10 logits."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(4 * 3 * 3, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.relu(self.conv1(x)))
        x = torch.flatten(x, 1)
        return self.fc(x)


def derivation() -> st.Derivation:
    """The derivation of TinyCNN on one 1×1×8×8 image, cross-entropy with target 1 (seed 0), verified."""
    torch.manual_seed(0)
    model = TinyCNN().double()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    d = st.derive(model, x, loss=nn.CrossEntropyLoss(), target=torch.tensor([1]))
    return d


def main(out_dir: str | Path = "paper_output") -> Path:
    """Derive, verify and write the handout to ``out_dir/tiny_cnn.pdf``."""
    d = derivation()
    report = d.verify()
    assert report.ok, report
    print(d.steps[0].at((0, 0, 4, 4)).latex)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return d.to_pdf(Path(out_dir) / "tiny_cnn.pdf")


if __name__ == "__main__":
    main()
