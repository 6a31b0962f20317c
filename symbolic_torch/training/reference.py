"""The referee: the same iterations run by torch itself (a deep copy, the real torch.optim class).

Each iteration: ``zero_grad``, forward, loss, ``backward``, ``step`` — with the random state
each iteration's derivation saw, so train-mode dropout draws the same mask.
"""
from __future__ import annotations

import copy
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence

import torch

from symbolic_torch.training.optimizer import OptimizerSpec


@dataclass(frozen=True)
class ReferenceStep:
    """What torch computed at one iteration: the loss before the step, then each trained
    parameter and its optimizer state (by torch's key) after it."""

    loss: float
    params: dict[str, torch.Tensor] = field(repr=False)
    state: dict[str, dict[str, torch.Tensor]] = field(repr=False)


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's global RNG forked and seeded for the block (the caller's state comes back after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def torch_run(model: torch.nn.Module, inputs: Sequence[torch.Tensor], target: Any,
              loss: Callable[..., torch.Tensor], spec: OptimizerSpec, steps: int,
              seeds: Sequence[int]) -> list[ReferenceStep]:
    """``steps`` iterations of ``spec``'s torch optimizer on a deep copy of ``model``."""
    twin = copy.deepcopy(model)
    named = dict(twin.named_parameters())
    opt = spec.build({n: named[n] for n in spec.hyper})
    out = []
    for k in range(steps):
        opt.zero_grad(set_to_none=True)
        with seeded(seeds[k]):
            value = loss(twin(*inputs), target)
        value.backward()
        opt.step()
        by_id = {id(p): n for n, p in named.items()}
        state = {by_id[id(p)]: {key: v.detach().clone() for key, v in s.items() if isinstance(v, torch.Tensor)}
                 for p, s in opt.state.items()}
        out.append(ReferenceStep(float(value.detach()), {n: named[n].detach().clone() for n in spec.hyper}, state))
    return out
