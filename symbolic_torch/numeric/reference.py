"""The autograd reference: the one place that asks ``torch.autograd`` for a vector–Jacobian product.

Verification, the gradient checker and the OpInfo sweep all compare derived gradients with
``vjp`` (or ``vjp_of``), so "what autograd says" means the same everywhere: outputs that do not
require grad are left out, an input that no output reaches gets zeros, not None.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import torch


def vjp(outputs: Sequence[torch.Tensor], wrt: Sequence[torch.Tensor], seeds: Sequence[torch.Tensor],
        create_graph: bool = False, zeros: bool = True) -> list[torch.Tensor | None]:
    """Σ_j seed_j · ∂output_j/∂w for every ``w`` in ``wrt`` (``torch.autograd.grad``).

    Each seed is cast to its output's dtype and shape. Outputs that do not require grad
    contribute nothing; an unreached ``w`` gets zeros (None when ``zeros=False``).
    """
    pairs = [(o, g.to(o.dtype).reshape(o.shape)) for o, g in zip(outputs, seeds)
             if isinstance(o, torch.Tensor) and o.requires_grad]
    wrt = list(wrt)
    if pairs and wrt:
        with torch.enable_grad():
            got = list(torch.autograd.grad([o for o, _ in pairs], wrt, [g for _, g in pairs],
                                           allow_unused=True, create_graph=create_graph))
    else:
        got = [None] * len(wrt)
    if zeros:
        return [torch.zeros_like(w) if g is None else g for w, g in zip(wrt, got)]
    return got


def leaves(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Fresh leaves that require grad, with the values of ``tensors`` (their graphs left alone)."""
    return [t.detach().clone().requires_grad_(True) for t in tensors]


def vjp_of(fn: Callable[..., Any], inputs: Sequence[torch.Tensor], seeds: Sequence[torch.Tensor],
           create_graph: bool = False) -> list[torch.Tensor]:
    """``vjp`` of ``fn(*inputs)`` (a tensor or a tuple of them) at fresh copies of ``inputs``."""
    xs = leaves(inputs)
    with torch.enable_grad():
        out = fn(*xs)
    outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)
    return vjp(outs, xs, seeds, create_graph=create_graph)  # type: ignore[return-value]
