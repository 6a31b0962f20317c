"""The tests' own referee: torch.optim run here, independently of symbolic_torch.training.reference,
so a bug there cannot hide one in the formulas."""
from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn


def torch_losses_and_params(model: nn.Module, inputs: tuple[torch.Tensor, ...], target: Any,
                            loss: Callable[..., torch.Tensor], make_opt: Callable[..., torch.optim.Optimizer],
                            steps: int) -> tuple[list[float], list[dict[str, torch.Tensor]]]:
    """Plain torch training: the loss before each step and the parameters after it."""
    twin = copy.deepcopy(model)
    opt = make_opt(twin.parameters())
    losses, params = [], []
    for _ in range(steps):
        opt.zero_grad()
        value = loss(twin(*inputs), target)
        value.backward()
        opt.step()
        losses.append(float(value.detach()))
        params.append({n: p.detach().clone() for n, p in twin.named_parameters()})
    return losses, params
