"""Ops whose outputs are constants of the derivation: shapes of inputs, not their values."""
from __future__ import annotations

import torch

from symbolic_torch.frontend.registry import constant

# y = ones/zeros/full/random of x's shape, or x cut off from the graph (detach)
constant(functions=[torch.ones_like, torch.zeros_like, torch.full_like, torch.empty_like, torch.rand_like,
                    torch.randn_like, torch.randint_like, torch.detach, torch.zeros, torch.ones, torch.full,
                    torch.arange, torch.eye, torch.rand, torch.randn, torch.empty, torch.tensor],
         methods=["detach", "new_zeros", "new_ones", "new_full", "new_empty", "new_tensor", "size", "dim",
                  "numel", "argmax", "argmin", "argsort", "sign"])
