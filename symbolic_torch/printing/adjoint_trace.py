"""Where the adjoint values in a worked backward element come from.

A gradient formula reads ḡ, the adjoint of the step's output. The chain rule made each ḡ
element from the gradients of the steps that read that output (or from the seed, for the
loss). ``traced_reads`` finds the ḡ elements a worked element writes out and, for each,
the steps whose gradient produced it, with the values each one added:
``ḡ[0,0,4,4] = 0.0312 from ∂L/∂x of relu``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

import sympy as sp
import torch

from symbolic_torch.autodiff.substitution import bound_replace
from symbolic_torch.ir import symbols as S
from symbolic_torch.numeric.evaluate import evaluate
from symbolic_torch.printing.worked import flat_sum, shown_terms

if TYPE_CHECKING:
    from symbolic_torch.ir.step import Step

Position = tuple[int, ...]


@dataclass(frozen=True)
class Source:
    """What one step's gradient (of its operand ``key``, symbol ``symbol``) added to an adjoint
    element; ``step`` is ``None`` for the seed the backward pass starts from."""

    step: str | None
    key: str
    symbol: str
    value: float


@dataclass(frozen=True)
class TracedAdjoint:
    """One ḡ element of a step's output, its value and the contributions that sum to it."""

    position: Position
    value: float
    sources: tuple[Source, ...]


def _reads(e: sp.Basic, env: Mapping[str, torch.Tensor], out: list[Position]) -> None:
    """ḡ elements of ``e`` in the order a worked element writes them (shown sum terms only)."""
    if isinstance(e, sp.Sum):
        limits, body = flat_sum(e)
        syms = [l[0] for l in limits]
        for p in shown_terms(limits, body, env)[0]:
            _reads(bound_replace(body, dict(zip(syms, map(sp.Integer, p)))), env, out)
    elif isinstance(e, sp.Indexed) and str(e.base.label) == S.ADJOINT:
        if all(i.is_Integer for i in e.indices):
            out.append(tuple(int(i) for i in e.indices))
    elif isinstance(e, sp.Symbol) and e.name == S.ADJOINT:
        out.append(())
    elif isinstance(e, sp.Piecewise):
        for value, cond in e.args:
            if cond == sp.true or bool(evaluate(cond, env)):
                _reads(value, env, out)
                break
    else:
        for a in e.args:
            _reads(a, env, out)


def adjoint_reads(step: "Step", key: str, position: Position, limit: int = 4) -> list[Position]:
    """The distinct in-range ḡ elements the worked gradient element of ``key`` at ``position`` shows."""
    eq = step.gradients[key]
    idx = eq.lhs.indices if isinstance(eq.lhs, sp.Indexed) else ()
    rhs = bound_replace(eq.rhs, dict(zip(idx, map(sp.Integer, position))))
    found: list[Position] = []
    _reads(rhs, step.env(), found)
    inside = [p for p in dict.fromkeys(found) if len(p) == len(step.out_shape)
              and all(0 <= i < n for i, n in zip(p, step.out_shape))]
    return inside[:limit]


def trace(step: "Step", position: Position) -> TracedAdjoint:
    """ḡ of ``step``'s output at ``position`` and what each consumer's gradient added to it."""
    d = step.derivation
    assert d is not None, "a step traces its adjoints through its derivation"
    sources = []
    seed = d.run.seeds.get(step.output)
    if seed is not None:
        sources.append(Source(None, "seed", "", float(seed.reshape(step.out_shape)[position])))
    for later in d.steps[step.index + 1:]:
        for o in later.operands:
            contrib = d.chain.contributions.get((later.name, o.key))
            if o.source == step.output and contrib is not None:
                sources.append(Source(later.name, o.key, o.symbol, float(contrib[position]) + 0.0))  # no -0
    adj = d.adjoints.get(step.output)
    value = float(adj[position]) + 0.0 if adj is not None else 0.0
    return TracedAdjoint(position, value, tuple(sources))
