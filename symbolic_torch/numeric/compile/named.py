"""Values of a compiled program: tensors whose axes are named by index variables.

A ``Named`` holds one axis per index variable it depends on, each at its full range, in any
order; two of them combine by aligning their axes (a permutation, then unit axes where one
does not depend on a variable), so broadcasting follows the names, not the positions::

    a = Named(torch.ones(2, 3), (i, j)); b = Named(torch.ones(3), (j,))
    binary(torch.add, a, b).axes == (i, j)

A ``Node`` is one step of a program: it computes a ``Named`` from the run's ``Ctx`` once per
run (a subexpression read twice, a mean in a variance, is computed once).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.numeric.grid import Grid

Scope = Mapping[sp.Symbol, tuple[int, int]]  # index variable → its range lo … hi


@dataclass(frozen=True)
class Named:
    """A tensor with one axis per index variable in ``axes`` (``t.shape[k]`` is ``axes[k]``'s range).

    ``base``, where given, is a tensor every element of ``t`` comes from (or is a padding 0):
    finiteness is checked on it rather than on a large strided view.
    """

    t: torch.Tensor
    axes: tuple[sp.Symbol, ...]
    base: torch.Tensor | None = None
    rev: tuple[sp.Symbol, ...] = ()  # axes stored last value first (a strided read with a negative step)

    def finite(self) -> bool:
        """Whether every value is finite (bool values always are)."""
        src = self.t if self.base is None else self.base
        return src.dtype == torch.bool or bool(torch.isfinite(src).all())

    def float(self) -> Named:
        """The same values as float64 (conditions become 0/1)."""
        return self if self.t.dtype == torch.float64 else Named(self.t.to(torch.float64), self.axes, None, self.rev)

    def forward(self) -> torch.Tensor:
        """``t`` with every axis running first value first (reversed axes flipped: a copy)."""
        return self.t.flip([self.axes.index(a) for a in self.rev]) if self.rev else self.t


@dataclass
class Ctx:
    """One run of a program: the tensors it reads (float64, by name) and the values computed so far."""

    env: Mapping[str, torch.Tensor]
    memo: dict[int, Named] = field(default_factory=dict)


@dataclass(eq=False)
class Node:
    """A compiled subexpression: ``fn(ctx)`` once per run, then its memo."""

    fn: Callable[[Ctx], Named]
    what: str = ""

    def __call__(self, ctx: Ctx) -> Named:
        hit = ctx.memo.get(id(self))
        if hit is None:
            hit = ctx.memo[id(self)] = self.fn(ctx)
        return hit


MEMO_SIZE = 1 << 16  # entries kept by each memo below before it starts over
_UNIONS: dict[tuple, tuple[sp.Symbol, ...]] = {}
_ALIGNS: dict[tuple, tuple[list[int] | None, list[int]]] = {}  # (axes, to) → permutation, where unit axes go


def union(*values: Named) -> tuple[sp.Symbol, ...]:
    """The axes of all ``values``, first appearance first."""
    key = tuple(v.axes for v in values)
    found = _UNIONS.get(key)  # programs combine the same axes every run: sympy's == is slow
    if found is None:
        out: list[sp.Symbol] = []
        for v in values:
            out.extend(a for a in v.axes if a not in out)
        if len(_UNIONS) > MEMO_SIZE:
            _UNIONS.clear()
        found = _UNIONS[key] = tuple(out)
    return found


def align(v: Named, axes: Sequence[sp.Symbol]) -> torch.Tensor:
    """``v.t`` with its axes permuted into the order of ``axes`` and unit axes where ``v`` lacks one."""
    axes = tuple(axes)
    if v.axes == axes:
        return v.forward()
    key = (v.axes, axes)
    plan = _ALIGNS.get(key)
    if plan is None:
        present = [a for a in axes if a in v.axes]
        perm = [v.axes.index(a) for a in present]
        if len(_ALIGNS) > MEMO_SIZE:
            _ALIGNS.clear()
        plan = _ALIGNS[key] = (perm if perm != list(range(len(perm))) else None,
                               [present.index(a) if a in v.axes else -1 for a in axes])
    t = v.forward()
    t = t.permute(plan[0]) if plan[0] is not None else t
    return t.reshape([t.shape[k] if k >= 0 else 1 for k in plan[1]])


def combine(op: Callable[..., torch.Tensor], *values: Named) -> Named:
    """``op`` applied to ``values`` broadcast by name."""
    axes = union(*values)
    return Named(op(*[align(v, axes) for v in values]), axes)


def expand(v: Named, axes: Sequence[sp.Symbol], scope: Scope) -> torch.Tensor:
    """``v`` over all of ``axes`` (a view: broadcast where ``v`` does not depend on one)."""
    return align(v, axes).expand([scope[a][1] - scope[a][0] + 1 for a in axes])


def reference(e: sp.Basic, env: Mapping[str, torch.Tensor], axes: Sequence[sp.Symbol], scope: Scope,
              device: torch.device | None = None) -> Named:
    """``e`` over ``axes`` by the reference grid evaluator (on the CPU), as a ``Named`` on ``device``."""
    cpu = {k: v.cpu() for k, v in env.items()}
    grid = Grid(cpu)
    for s in axes:
        grid = grid.bind(s, *scope[s])
    t = grid.eval(e)
    t = (t if t.dtype == torch.bool else t.to(torch.float64)).expand(grid.sizes).contiguous()
    return Named(t if device is None else t.to(device), tuple(axes))
