"""A perceptron with a custom activation and a loss written as plain Python functions.

``swish`` and ``squared_error`` are ordinary ``def``s: torch.fx traces through them, so each of
their ops is a step, and every document shows their source rendered by latexify-py beside the
formulas derived from it.

    python -m examples.swish_mlp      # writes paper_output/swish_mlp.{tex,md,pdf}
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


def swish(x: torch.Tensor) -> torch.Tensor:
    """x·σ(x) (Ramachandran et al., 2017)."""
    return x * torch.sigmoid(x)


def squared_error(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    return ((y - t) ** 2).sum() / 2


class SwishMLP(nn.Module):
    """2×3 → linear 4 → swish → linear 1."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3, 4)
        self.fc2 = nn.Linear(4, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(swish(self.fc1(x)))


def derivation() -> st.Derivation:
    """The verified derivation (seed 0, float64)."""
    torch.manual_seed(0)
    model = SwishMLP().double()
    x = torch.randn(2, 3, dtype=torch.float64)
    d = st.derive(model, x, loss=squared_error, target=torch.randn(2, 1, dtype=torch.float64))
    report = d.verify()
    assert report.ok, report
    return d


def main(out_dir: str | Path = "paper_output") -> Path:
    """Write the paper LaTeX, the Markdown and the slides to ``out_dir``; returns the slides' PDF."""
    d = derivation()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "swish_mlp.tex").write_text(d.to_latex(style="paper"), encoding="utf-8")
    (out / "swish_mlp.md").write_text(d.to_markdown(), encoding="utf-8")
    return d.to_beamer(out / "swish_mlp_slides.pdf")


if __name__ == "__main__":
    print(main())
