"""The chain rule over the steps: reverse accumulation with the derived gradient formulas.

``chain(steps, seeds)`` evaluates nothing; the first read of ``adjoints`` or
``contributions`` runs the backward pass once and keeps it. Verification compares the very
tensors the chain added (``contributions``) with autograd, so each gradient formula is
evaluated once per run.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch import progress
from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.step import Step
from symbolic_torch.numeric.evaluate import evaluate_over

Contributions = dict[tuple[str, str], torch.Tensor]


class Chain:
    """ḡ of every tensor of a run, from the derived formulas, evaluated on first use.

    ``contributions[(step, key)]`` is what the gradient formula of operand ``key`` of step
    ``step`` added to that operand's adjoint, seeded with the derived adjoint of the step's
    output; a step that no adjoint reaches adds nothing and has no entry. A formula changed
    after the pass (``step.gradients[key] = …``) makes the next read evaluate again.
    """

    def __init__(self, steps: Sequence[Step], seeds: Mapping[str, torch.Tensor],
                 tied: Sequence[Sequence[str]] = ()) -> None:
        self.steps = list(steps)
        self.seeds = dict(seeds)
        self.tied = [tuple(names) for names in tied]
        self._done: tuple[list[sp.Eq], dict[str, torch.Tensor], Contributions] | None = None

    @property
    def evaluated(self) -> bool:
        """Has the backward pass run for the formulas the steps hold now?"""
        return self._done is not None and _same(self._done[0], self._formulas())

    @property
    def adjoints(self) -> dict[str, torch.Tensor]:
        """ḡ of every tensor the backward pass reaches (tied parameters share their sum)."""
        return self._pass()[1]

    @property
    def contributions(self) -> Contributions:
        """Each step's per-operand contribution, keyed by ``(step name, operand key)``."""
        return self._pass()[2]

    def _formulas(self) -> list[sp.Eq]:
        return [eq for s in self.steps for eq in s.gradients.values()]

    def _pass(self) -> tuple[list[sp.Eq], dict[str, torch.Tensor], Contributions]:
        if not self.evaluated:
            formulas = self._formulas()
            adjoints, contributions = _accumulate(self.steps, self.seeds)
            self._done = (formulas, _tie(adjoints, self.tied), contributions)
        assert self._done is not None
        return self._done


def chain(steps: Sequence[Step], seeds: Mapping[str, torch.Tensor],
          tied: Sequence[Sequence[str]] = ()) -> Chain:
    """The (lazy) backward pass of ``steps`` from the output adjoints ``seeds``; ``tied``
    lists the names under which one parameter appears more than once."""
    return Chain(steps, seeds, tied)


def shared_parameters(module: torch.nn.Module) -> list[tuple[str, ...]]:
    """Names of one parameter used under several names (tied weights: ``lm_head.weight is wte.weight``)."""
    groups: dict[int, list[str]] = {}
    for name, p in module.named_parameters(remove_duplicate=False):
        groups.setdefault(id(p), []).append(name)
    return [tuple(names) for names in groups.values() if len(names) > 1]


def _same(a: list[sp.Eq], b: list[sp.Eq]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b))


def _accumulate(steps: Sequence[Step], seeds: Mapping[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], Contributions]:
    """Reverse accumulation: each step's formulas, fed its output's ḡ, add to its operands' ḡ."""
    adjoints = {k: v.clone() for k, v in seeds.items()}
    contributions: Contributions = {}
    with progress.session(None, len(steps)), progress.stage("evaluating", len(steps)) as bar:
        for step in reversed(steps):
            bar.update()
            if step.output in adjoints:
                _backward(step, adjoints, contributions)
    return adjoints, contributions


def _backward(step: Step, adjoints: dict[str, torch.Tensor], contributions: Contributions) -> None:
    """Add what ``step``'s gradient formulas, fed its output's ḡ, give to its operands' ḡ."""
    env = {o.symbol: o.value for o in step.operands}
    env[S.ADJOINT] = adjoints[step.output]
    for key, eq in step.gradients.items():
        op = step.operand(key)
        indices = tuple(eq.lhs.indices) if isinstance(eq.lhs, sp.Indexed) else ()
        contrib = evaluate_over(eq.rhs, indices, op.shape, env)
        contributions[(step.name, key)] = contrib
        adjoints[op.source] = adjoints[op.source] + contrib if op.source in adjoints else contrib


def _tie(adjoints: dict[str, torch.Tensor], tied: Sequence[Sequence[str]]) -> dict[str, torch.Tensor]:
    """Every name of a tied parameter gets the sum of what each of its uses contributes."""
    for names in tied:
        used = [n for n in names if n in adjoints]
        if used:
            total = sum((adjoints[n] for n in used[1:]), adjoints[used[0]])
            for n in names:
                adjoints[n] = total
    return adjoints
