"""Which dtype torch computed a check's reference in, read from the run's values.

A float64 model may take one step in float32 (Hugging Face's ViT: ``softmax(x, dtype=float32)``
then ``.to(float64)``). torch's result for that step, and autograd's vector–Jacobian product of
it, are then only as exact as float32, so the check uses float32's tolerance and says so.
The dtype comes from the values, never from the op: a step's forward is computed in its
output's dtype; the gradient of an operand in the narrower of the output's and that operand's
dtype (autograd returns an operand's gradient in the operand's dtype). A float64 step reading a
float32 operand keeps float64 for its forward and its other operands; nothing is ever checked
at a wider tolerance than the dtypes it touches.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

import torch

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step


def _eps(dtype: torch.dtype) -> float:
    return torch.finfo(dtype).eps if dtype.is_floating_point else 0.0


def narrowest(dtypes: Iterable[torch.dtype]) -> torch.dtype | None:
    """The least precise floating dtype among ``dtypes`` (None when none is floating)."""
    floats = [t for t in dtypes if t.is_floating_point]
    return max(floats, key=_eps) if floats else None


def forward_dtype(d: "Derivation", step: "Step") -> torch.dtype:
    """The dtype torch computed ``step``'s output in: the output's own."""
    return d.values[step.output].dtype


def gradient_dtype(d: "Derivation", step: "Step", key: str) -> torch.dtype:
    """The dtype of autograd's vector–Jacobian product of ``step`` for operand ``key``: the
    narrower of the step's output dtype and the operand's."""
    out = forward_dtype(d, step)
    return narrowest([out, step.operand(key).value.dtype]) or out


def note(d: "Derivation", step: "Step", dtype: torch.dtype) -> str:
    """"computed by torch in float32: float32 tolerance" when ``dtype`` is narrower than a tensor
    the step touches (a mixed-precision step); "" otherwise."""
    touched = [forward_dtype(d, step)] + [o.value.dtype for o in step.operands]
    return computed_in(dtype) if _wider_exists(dtype, touched) else ""


def computed_in(dtype: torch.dtype) -> str:
    """The note of a check made at ``dtype``'s tolerance because torch computed in it."""
    name = str(dtype).removeprefix("torch.")
    return f"computed by torch in {name}: {name} tolerance"


def _wider_exists(dtype: torch.dtype, dtypes: Iterable[torch.dtype]) -> bool:
    return any(t.is_floating_point and _eps(t) < _eps(dtype) for t in dtypes)


def path_dtype(d: "Derivation", tensor: str) -> tuple[torch.dtype | None, list[str]]:
    """The narrowest dtype autograd computed a gradient in on the way from ``tensor`` (a
    placeholder or parameter name) to the outputs, and the steps that computed in it. A tied
    parameter (one tensor under several names) follows every name it is used under."""
    reached = {tensor}.union(*[names for names in d.chain.tied if tensor in names])
    found: list[tuple[torch.dtype, str]] = []
    for step in d.steps:
        keys = [o.key for o in step.operands if o.differentiable and o.source in reached and o.key in step.gradients]
        if not keys:
            continue
        reached.add(step.output)
        reached.add(step.name)
        found += [(gradient_dtype(d, step, k), step.name) for k in keys]
    low = narrowest(t for t, _ in found)
    if low is None:
        return None, []
    return low, list(dict.fromkeys(name for t, name in found if t == low))
