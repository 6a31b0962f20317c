"""A GPT-2-shaped stack of identical transformer blocks, written out (no transformers needed).

Each block is GPT-2's: pre-LayerNorm causal self-attention (one fused q/k/v projection, heads
split by ``view``/``transpose``, ``scaled_dot_product_attention`` with ``is_causal=True``) and a
GELU (tanh) MLP of 4× the width, both with residual connections; the stack ends in a final
LayerNorm. GPT-2 small is ``GPT2Stack(12, width=768, heads=12)`` on ``1×128×768`` embeddings.

    import torch, symbolic_torch as st
    from examples.gpt2_stack import GPT2Stack
    model = GPT2Stack(2, width=8, heads=2).double()
    x = torch.randn(1, 4, 8, dtype=torch.float64)
    d = st.derive(model, x, loss=torch.nn.MSELoss(), target=torch.zeros(1, 4, 8, dtype=torch.float64))

Identical blocks lower to identical formulas, so their gradients are derived once
(``symbolic_torch.autodiff.differentiate``): the second block onwards costs lowering and numbers only.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class GPT2Block(nn.Module):
    """x + attn(ln_1(x)), then + mlp(ln_2(·)): GPT-2's block (dropout left out: eval mode)."""

    def __init__(self, width: int = 768, heads: int = 12) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} is not a multiple of heads {heads}")
        self.heads = heads
        self.ln_1 = nn.LayerNorm(width)
        self.c_attn = nn.Linear(width, 3 * width)
        self.c_proj = nn.Linear(width, width)
        self.ln_2 = nn.LayerNorm(width)
        self.c_fc = nn.Linear(width, 4 * width)
        self.mlp_proj = nn.Linear(4 * width, width)

    def _split(self, t: torch.Tensor) -> torch.Tensor:
        b, n, c = t.shape
        return t.view(b, n, self.heads, c // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        a = F.scaled_dot_product_attention(self._split(q), self._split(k), self._split(v), is_causal=True)
        x = x + self.c_proj(a.transpose(1, 2).reshape(b, n, c))
        return x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT2Stack(nn.Module):
    """``depth`` identical ``GPT2Block``s and a final LayerNorm, on input embeddings (batch, seq, width)."""

    def __init__(self, depth: int, width: int = 768, heads: int = 12) -> None:
        super().__init__()
        self.h = nn.ModuleList(GPT2Block(width, heads) for _ in range(depth))
        self.ln_f = nn.LayerNorm(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.h:
            x = block(x)
        return self.ln_f(x)
