"""The analysis views on small models: summary, gradient flow and two comparisons.

Image models on 1×3×32×32: an MLP, a small CNN and a small ViT-style model (patch embedding,
one pre-norm transformer block, mean pooling, head). Sequence models on one sequence of 6 steps:
an RNN, an LSTM and a GRU. ``main`` writes the tables (Markdown) and the gradient-flow plot.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


class MLP(nn.Module):
    """Flatten → 64 → ReLU → 10."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(3 * 32 * 32, 64)
        self.fc2 = nn.Linear(64, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class SmallCNN(nn.Module):
    """Two conv–ReLU–pool stages, then a linear head."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 16, 3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        return self.fc(x.flatten(1))


class SmallViT(nn.Module):
    """8×8 patches → 32-d tokens (+ position), one pre-norm block (2-head attention, MLP), mean, head."""

    def __init__(self, dim: int = 32, patch: int = 8) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.randn(1, (32 // patch) ** 2, dim) * 0.02)
        self.norm1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, 2, batch_first=True)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))
        self.head = nn.Linear(dim, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.embed(x).flatten(2).transpose(1, 2) + self.pos
        h = self.norm1(t)
        t = t + self.attn(h, h, h, need_weights=False)[0]
        t = t + self.mlp(self.norm2(t))
        return self.head(t.mean(1))


def image_models() -> dict[str, nn.Module]:
    """The three image models, float64, seeded."""
    torch.manual_seed(0)
    return {"MLP": MLP().double(), "CNN": SmallCNN().double(), "ViT": SmallViT().double()}


def sequence_models() -> dict[str, nn.Module]:
    """RNN, LSTM and GRU, 4 features → 8 hidden, float64, seeded."""
    torch.manual_seed(0)
    return {"RNN": nn.RNN(4, 8).double(), "LSTM": nn.LSTM(4, 8).double(), "GRU": nn.GRU(4, 8).double()}


def main(out_dir: str | Path = "paper_output") -> dict[str, Path]:
    """Write ``summary_cnn.md``, ``compare_images.md``, ``compare_sequences.md``, ``flow.md`` and
    ``flow.png`` to ``out_dir``; returns their paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    image = torch.randn(1, 3, 32, 32, dtype=torch.float64)
    sequence = torch.randn(6, 1, 4, dtype=torch.float64)
    models = image_models()
    paths = {"summary": out / "summary_cnn.md", "images": out / "compare_images.md",
             "sequences": out / "compare_sequences.md", "flow": out / "flow.md"}
    paths["summary"].write_text(st.summary(models["CNN"], image).to_markdown() + "\n")
    paths["images"].write_text(st.compare(models, image).to_markdown() + "\n")
    paths["sequences"].write_text(st.compare(sequence_models(), sequence).to_markdown() + "\n")
    d = st.derive(models["CNN"], image, loss=nn.CrossEntropyLoss(), target=torch.tensor([3]))
    assert d.report is not None and d.report.ok, d.report  # the norms shown are of verified gradients
    flow = st.gradient_flow(d)
    paths["flow"].write_text(flow.to_markdown() + "\n")
    paths["plot"] = flow.plot(out / "flow.png")
    return paths


if __name__ == "__main__":
    for name, path in main().items():
        print(f"{name}: {path}")
