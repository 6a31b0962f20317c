"""``summary``: parameters, MACs, FLOPs and memory of every step, read off the derivation.

What torchinfo and fvcore print, computed from the formulas the derivation shows, so that the
numbers agree with them: MACs from each forward formula (``counting``), shapes and bytes from
the run. It needs formulas and shapes only: it never evaluates a gradient.

Example::

    s = summary(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), torch.randn(1, 3, 224, 224))
    s.total_params, s.total_macs        # (9408, 118013952)
    print(s)                            # a terminal table; s.to_markdown(), s.to_latex()
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from symbolic_torch.analysis.counting import CONVENTION, parameter_names, parameter_sizes, step_cost
from symbolic_torch.analysis.tables import TableViews, render, shape_text
from symbolic_torch.ir.derivation import Derivation
from symbolic_torch.ir.step import Step

MEMORY_NOTE = ("activation bytes: the step's output; grad bytes: the gradients its backward writes "
               "(one per differentiable operand); parameters counted at the first step that reads them")
OPS_NOTE = "other ops: additions, divisions, functions and comparisons outside multiply–adds"


@dataclass(frozen=True)
class SummaryRow:
    """One step: its output, the parameters it reads first, its operation counts and memory."""

    name: str
    op: str
    output_shape: tuple[int, ...]
    params: int
    macs: int
    flops: int
    ops: int
    activation_bytes: int
    grad_bytes: int


@dataclass(frozen=True)
class Summary(TableViews):
    """Per-step rows and model totals (see ``counting`` for the conventions)."""

    rows: tuple[SummaryRow, ...]
    total_params: int
    trainable_params: int

    @property
    def total_macs(self) -> int:
        """Multiply–adds of the whole forward pass."""
        return sum(r.macs for r in self.rows)

    @property
    def total_flops(self) -> int:
        """2 × ``total_macs``."""
        return sum(r.flops for r in self.rows)

    @property
    def total_ops(self) -> int:
        """Arithmetic operations besides the multiply–adds."""
        return sum(r.ops for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Bytes of every step's output (what a backward pass keeps, at most)."""
        return sum(r.activation_bytes for r in self.rows)

    @property
    def grad_bytes(self) -> int:
        """Bytes of every gradient the backward pass writes."""
        return sum(r.grad_bytes for r in self.rows)

    def table(self, fmt: str = "text", notes: bool = True) -> str:
        """The rows and a total line as ``text``, ``markdown``, ``latex`` or ``html``, with the
        conventions below (unless ``notes`` is False: then ``notes()`` gives them apart)."""
        head = ["layer", "op", "output", "params", "MACs", "FLOPs", "other ops", "act. bytes", "grad bytes"]
        body = [[r.name, r.op, shape_text(r.output_shape), r.params, r.macs, r.flops, r.ops,
                 r.activation_bytes, r.grad_bytes] for r in self.rows]
        body.append(["total", "", "", self.total_params, self.total_macs, self.total_flops, self.total_ops,
                     self.activation_bytes, self.grad_bytes])
        return render(head, body, fmt, self.notes() if notes else ())

    def notes(self) -> list[str]:
        """The conventions every rendering states (and the trainable count, where some are frozen)."""
        notes = [CONVENTION + ".", OPS_NOTE + ".", MEMORY_NOTE + "."]
        if self.trainable_params != self.total_params:
            notes.append(f"trainable parameters: {self.trainable_params:,} of {self.total_params:,}.")
        return notes


def summary(model: Derivation | torch.nn.Module | Callable[..., Any], *inputs: torch.Tensor,
            **derive_kwargs: Any) -> Summary:
    """The ``Summary`` of a derivation, or of ``model`` run on ``inputs``.

    A model is derived with ``differentiate=False, verify=False`` (forward formulas only: a
    full-size AlexNet at 224×224 takes seconds) unless ``derive_kwargs`` say otherwise;
    ``loss=`` and ``target=`` add the loss step. No gradient is evaluated either way.
    """
    if isinstance(model, Derivation):
        if inputs or derive_kwargs:
            raise TypeError("summary(derivation) takes no inputs: the derivation holds its run")
        return summarize(model)
    from symbolic_torch.pipeline import derive
    derive_kwargs.setdefault("verify", False)
    derive_kwargs.setdefault("differentiate", False)
    return summarize(derive(model, *inputs, **derive_kwargs))


def summarize(d: Derivation) -> Summary:
    """The ``Summary`` of ``d``'s steps (each parameter counted at the first step that reads it)."""
    seen: set[str] = set()
    names: set[str] = set()
    rows = []
    for step in d.steps:
        sizes = parameter_sizes(step)
        name = step.module_path or step.name
        name = name if name not in names else f"{name} ({step.name})"  # a module called twice
        rows.append(_row(step, d, name, sum(n for p, n in sizes.items() if p not in seen)))
        seen |= set(sizes)
        names.add(name)
    return Summary(tuple(rows), *_totals(d))


def _totals(d: Derivation) -> tuple[int, int]:
    """All parameter elements and the trainable ones, each tensor once (tied names once). A loaded
    derivation (no graph module) counts the names it was saved with; trainable = differentiated."""
    gm = getattr(d.run, "gm", None)
    if gm is not None:
        params = dict(gm.named_parameters())  # tied parameters once
        return (sum(p.numel() for p in params.values()),
                sum(p.numel() for p in params.values() if p.requires_grad))
    first = {n: names[0] for names in d.chain.tied for n in names}
    def once(names: list[str]) -> int:
        return sum(d.values[n].numel() for n in {first.get(n, n) for n in names} if n in d.values)
    return once(parameter_names(d)), once(list(d.param_names))


def _row(step: Step, d: Derivation, name: str, params: int) -> SummaryRow:
    cost = step_cost(step)
    out = d.values.get(step.output)
    itemsize = out.element_size() if isinstance(out, torch.Tensor) else 8
    grads = sum(o.value.numel() * o.value.element_size() for o in step.operands if o.differentiable)
    return SummaryRow(name, step.op, tuple(step.out_shape), params, cost.macs,
                      cost.flops, cost.ops, math.prod(step.out_shape) * itemsize, grads)
