"""The smallest CNN worth working by hand: every tensor fits on a blackboard."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


class TeachingCNN(nn.Module):
    """1×1×4×4 → conv 2×2 → 3×3 → ReLU → max-pool 2, stride 1 → 2×2 → flatten 4 → linear 2."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 1, kernel_size=2)
        self.relu = nn.ReLU()
        self.pool = nn.MaxPool2d(kernel_size=2, stride=1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.relu(self.conv(x)))))


def derivation() -> st.Derivation:
    """The derivation of TeachingCNN on one 1×1×4×4 image, cross-entropy with target 1 (seed 0), verified."""
    torch.manual_seed(0)
    model = TeachingCNN().double()
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    d = st.derive(model, x, loss=nn.CrossEntropyLoss(), target=torch.tensor([1]))
    return d


def main(out_dir: str | Path = "paper_output") -> Path:
    """Derive, verify and write the handout to ``out_dir/teaching_cnn.pdf``."""
    d = derivation()
    report = d.verify()
    assert report.ok, report
    print(d.steps[0].at((0, 0, 1, 1)).latex)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return d.to_pdf(Path(out_dir) / "teaching_cnn.pdf")


def walkthrough(out_dir: str | Path = "paper_output", steps: int = 3, lr: float = 0.5) -> Path:
    """Three SGD iterations on the same input, each derived, updated by its formula and checked
    against torch.optim.SGD; the walkthrough goes to ``out_dir/teaching_cnn_train.pdf``."""
    torch.manual_seed(0)
    model = TeachingCNN().double()
    x = torch.randn(1, 1, 4, 4, dtype=torch.float64)
    w = st.train_steps(model, x, target=torch.tensor([1]), loss=nn.CrossEntropyLoss(),
                       optimizer="sgd", lr=lr, steps=steps, strict=True)
    print("losses:", ", ".join(f"{v:.6f}" for v in w.losses))
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return w.to_pdf(Path(out_dir) / "teaching_cnn_train.pdf")


if __name__ == "__main__":
    main()
    walkthrough()
