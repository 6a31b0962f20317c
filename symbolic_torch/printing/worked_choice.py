"""Which elements a handout works out for a step: chosen by the user, or ones that matter.

The default forward element is the output element with the largest |ḡ| (the one the loss is
most sensitive to); the default backward element is the element of the shown gradient (the
weight's when the step has one, else the input's) whose value is largest in magnitude, so the
backward example is not trivially zero. Ties go to the first element in row-major order, so
the choice is deterministic. Without any adjoint (nothing reaches the step) it is the middle.

>>> choose(d["conv1"])                                         # doctest: +SKIP
WorkedChoice(forward=(0, 2, 3, 1), key='weight', backward=(2, 0, 1, 2))
>>> choose(d["conv1"], {"forward": (0, 0, 4, 4), "input": (0, 0, 3, 3)})   # doctest: +SKIP
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import torch

if TYPE_CHECKING:
    from symbolic_torch.ir.step import Step

Position = tuple[int, ...]
PositionSpec = Sequence[int] | Mapping[str, Sequence[int]]


@dataclass(frozen=True)
class WorkedChoice:
    """The forward element's output position; the operand ``key`` whose gradient is worked and
    that gradient's element (``None`` when the step has no gradient to show)."""

    forward: Position
    key: str | None
    backward: Position | None


def middle(shape: Sequence[int]) -> Position:
    """The middle element of a tensor."""
    return tuple(n // 2 for n in shape)


def largest(values: torch.Tensor | None, shape: Sequence[int]) -> Position:
    """The first element of largest magnitude of ``values`` (NaN counts as 0); the middle when
    there are no values or all are 0."""
    if values is None or values.numel() == 0 or tuple(values.shape) != tuple(shape):
        return middle(shape)
    mag = torch.nan_to_num(values.detach().to(torch.float64).abs(), nan=0.0, posinf=1e308)
    flat = mag.reshape(-1)
    if float(flat.max()) == 0.0:
        return middle(shape)
    k = int(torch.argmax(flat))  # torch returns the first maximal index
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(k), tuple(shape)))


def gradient_key(step: "Step", prefer: str | None = None) -> str | None:
    """The gradient the handout works out: ``prefer``, else the weight's, else the input's, else the
    first; never one that failed verification."""
    keys = [k for k in step.gradients if step.status(k) != "failed"]
    for k in (prefer, "weight", "input"):
        if k in keys:
            return k
    return keys[0] if keys else None


def spec_for(step: "Step", positions: Any) -> PositionSpec | None:
    """The user's choice for ``step`` out of ``to_pdf``'s ``positions=``: a dict by step name or
    module path, or one position for every step whose output it fits."""
    if positions is None:
        return None
    if isinstance(positions, Mapping):
        for name in (step.name, step.module_path):
            if name is not None and name in positions:
                return positions[name]
        return None
    pos = tuple(int(p) for p in positions)
    fits = len(pos) == len(step.out_shape) and all(0 <= p < n for p, n in zip(pos, step.out_shape))
    return pos if fits else None


def choose(step: "Step", spec: PositionSpec | None = None) -> WorkedChoice:
    """The worked elements of ``step``: ``spec`` is an output position, or a dict with
    ``"forward"`` and/or an operand key (``"weight"``) mapped to that gradient's position."""
    chosen: Mapping[str, Sequence[int]] = spec if isinstance(spec, Mapping) else (
        {"forward": spec} if spec is not None else {})
    d = step.derivation
    keys = [k for k in chosen if k != "forward"]
    if keys and keys[0] not in step.gradients:
        raise KeyError(f"positions for step {step.name!r}: it has no gradient {keys[0]!r}; "
                       f"it has {list(step.gradients)} (and 'forward' for the output element)")
    key = gradient_key(step, keys[0] if keys else None)
    if "forward" in chosen:
        fwd = tuple(int(p) for p in chosen["forward"])
    else:
        fwd = largest(d.adjoints.get(step.output) if d is not None else None, step.out_shape)
    if key is None:
        return WorkedChoice(fwd, None, None)
    if key in chosen:
        return WorkedChoice(fwd, key, tuple(int(p) for p in chosen[key]))
    contrib = d.chain.contributions.get((step.name, key)) if d is not None else None
    return WorkedChoice(fwd, key, largest(contrib, step.operand(key).shape))
