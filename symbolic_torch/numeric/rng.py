"""RNG state: run something under a saved generator state and always put the current one back."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch


def rng_state_now() -> torch.Tensor:
    """The CPU generator's state now (to replay what runs next: a dropout mask, a ``normal_``)."""
    return torch.random.get_rng_state()


@contextmanager
def rng_state(state: torch.Tensor | None = None) -> Iterator[None]:
    """Inside the block the CPU generator is at ``state`` (as it is when None); afterwards it is
    where it was before the block, also when the block raises.

    >>> s = rng_state_now(); a = torch.rand(2)
    >>> with rng_state(s):
    ...     b = torch.rand(2)      # the same draw as ``a``
    """
    saved = torch.random.get_rng_state()
    try:
        if state is not None:
            torch.random.set_rng_state(state)
        yield
    finally:
        torch.random.set_rng_state(saved)
