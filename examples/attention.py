"""A two-head self-attention block, written out: projections, scaled scores, softmax, mixing.

x (1×3×4: one sequence of 3 tokens of width 4) → q, k, v = x W_q, x W_k, x W_v, split into 2
heads of width 2 → softmax(q kᵀ / √2) v → heads joined → output projection → + x (residual).
Mean-squared error against a fixed target.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

import symbolic_torch as st


class SelfAttention(nn.Module):
    """Multi-head self-attention with a residual connection (d_model 4, 2 heads)."""

    def __init__(self, d_model: int = 4, heads: int = 2) -> None:
        super().__init__()
        self.heads, self.width = heads, d_model // heads
        self.q = nn.Linear(d_model, d_model, bias=False)
        self.k = nn.Linear(d_model, d_model, bias=False)
        self.v = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        n, s, _ = t.shape
        return t.reshape(n, s, self.heads, self.width).transpose(1, 2)  # (n, heads, s, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.width)
        mixed = torch.softmax(scores, dim=-1) @ v
        n, _, s, _ = mixed.shape
        return x + self.out(mixed.transpose(1, 2).reshape(n, s, self.heads * self.width))


def derivation() -> "st.Derivation":
    """The verified float64 derivation on a fixed input, with a mean-squared-error loss."""
    torch.manual_seed(0)
    model = SelfAttention().double()
    x = torch.randn(1, 3, 4, dtype=torch.float64)
    target = torch.randn(1, 3, 4, dtype=torch.float64)
    return st.derive(model, x, loss=nn.MSELoss(), target=target)


def main(out_dir: str | Path = "paper_output") -> Path:
    """Derive, verify and write the handout to ``out_dir/attention.pdf``."""
    d = derivation()
    report = d.verify()
    assert report.ok, report
    print(f"{len(d.steps)} steps; {report.max_abs_error:.2e} max abs error against autograd")
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    return d.to_pdf(Path(out_dir) / "attention.pdf")


if __name__ == "__main__":
    main()
