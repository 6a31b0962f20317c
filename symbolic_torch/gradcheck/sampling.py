"""Where to compare two gradients numerically: random points at several scales,
plus points on both sides of every branch condition.

A *point* gives a value to every differentiable input and every output adjoint;
a ``Batch`` holds M points as ``{name: tensor of shape (M, *shape)}``. Branch
coverage: for each function ``h`` whose sign picks a branch (see
``equivalence.branch_points``), if no point of the batch has ``h > 0`` (or
``h < 0``), one element of the example point is swept over a wide grid and a
point with the missing sign is added. So the region ``x < −3`` of a Huber
loss is sampled even when every example value lies in ``[−3, 3]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import sympy as sp
import torch

from symbolic_torch.gradcheck.equivalence import element_symbols
from symbolic_torch.numeric.evaluate import evaluate_points

SCALES = (1.0, 0.3, 3.0, 10.0, 30.0)
Batch = dict[str, torch.Tensor]
_GRID = torch.cat([-torch.logspace(-2, 3, 51, dtype=torch.float64), torch.zeros(1, dtype=torch.float64),
                   torch.logspace(-2, 3, 51, dtype=torch.float64), torch.linspace(-5, 5, 21, dtype=torch.float64)])


def locate(atom: sp.Basic) -> tuple[str, tuple[int, ...]]:
    """``x[0, 1]`` → ("x", (0, 1)); a plain symbol ``s`` → ("s", ())."""
    if isinstance(atom, sp.Indexed):
        return str(atom.base.label), tuple(int(i) for i in atom.indices)
    return str(atom), ()


def size(batch: Batch) -> int:
    return next(iter(batch.values())).shape[0] if batch else 0


def evaluate_at(expr: sp.Basic, batch: Batch) -> torch.Tensor:
    """``expr`` at every point of ``batch``: a float64 tensor of shape (M,).

    The package's one evaluator, vectorised over the points (each distinct subexpression once);
    a ``DiracDelta`` is 0, its value almost everywhere.
    """
    expr = sp.sympify(expr)
    known: dict[sp.Basic, torch.Tensor] = {d: torch.zeros(()) for d in expr.atoms(sp.DiracDelta)}
    for atom in element_symbols(expr):
        name, pos = locate(atom)
        if name in batch:
            known[atom] = batch[name][(slice(None), *pos)]
    m = size(batch)
    return evaluate_points(expr, {k: v.expand(m) for k, v in known.items()}, m)


def concat(*batches: Batch) -> Batch:
    batches = tuple(b for b in batches if b)
    if not batches:
        return {}
    return {k: torch.cat([b[k] for b in batches]) for k in batches[0]}


def take(batch: Batch, rows: torch.Tensor | list[int]) -> Batch:
    return {k: v[rows] for k, v in batch.items()}


@dataclass
class Space:
    """The variables: the example point, which inputs look positive-only (a domain hint),
    and which names are output adjoints (drawn at scale 1, swept last)."""

    example: dict[str, torch.Tensor]
    positive: set[str]
    adjoints: set[str]

    def first(self) -> Batch:
        return {k: v.unsqueeze(0) for k, v in self.example.items()}

    def random(self, n: int, gen: torch.Generator) -> Batch:
        """``n`` points, inputs normal at scales 1, 0.3, 3, 10, 30 in turn (adjoints at 1); positive-only
        inputs stay positive in every other point (so a log or sqrt still has values in its domain)."""
        scale = torch.tensor([SCALES[k % len(SCALES)] for k in range(n)], dtype=torch.float64)
        out = {}
        for name, t in self.example.items():
            draws = torch.randn((n, *t.shape), generator=gen, dtype=torch.float64)
            if name not in self.adjoints:
                draws = draws * scale.reshape(n, *([1] * t.dim()))
            if name in self.positive:
                draws[::2] = draws[::2].abs()
            out[name] = draws
        return out

    def sweep(self, atom: sp.Basic) -> Batch:
        """The example point repeated, with the element ``atom`` running over a wide grid."""
        name, pos = locate(atom)
        out = {k: v.unsqueeze(0).repeat(len(_GRID), *([1] * v.dim())) for k, v in self.example.items()}
        out[name][(slice(None), *pos)] = _GRID
        return out


def _inside(values: torch.Tensor, sign: int) -> torch.Tensor:
    return (values * sign > 0) & torch.isfinite(values)


def cover(conditions: Iterable[sp.Expr], batch: Batch, space: Space, limit: int = 200) -> Batch:
    """Points to add so that each condition function takes both signs somewhere in the batch."""
    added: list[Batch] = []
    current = batch
    for h in sorted(set(conditions), key=sp.default_sort_key)[:limit]:
        values = evaluate_at(h, current)
        missing = [s for s in (1, -1) if not bool(_inside(values, s).any())]
        if not missing:
            continue
        found = _search(h, space, missing)
        if found:
            added.append(found)
            current = concat(current, found)
    return concat(*added)


def _search(h: sp.Expr, space: Space, missing: list[int]) -> Batch:
    """Sweep h's input elements (adjoints last) until each missing sign is found."""
    atoms = sorted(element_symbols(h), key=lambda a: (locate(a)[0] in space.adjoints, sp.default_sort_key(a)))
    picks: list[Batch] = []
    for atom in atoms[:4]:
        if locate(atom)[0] not in space.example:
            continue
        grid = space.sweep(atom)
        values = evaluate_at(h, grid)
        for sign in list(missing):
            rows = torch.nonzero(_inside(values, sign)).flatten()
            if len(rows):
                key = grid[locate(atom)[0]][(rows, *locate(atom)[1])].abs()
                row = rows[torch.argsort(key)[len(rows) // 4]]  # well inside the region, not at its edge
                picks.append(take(grid, [int(row)]))
                missing.remove(sign)
        if not missing:
            break
    return concat(*picks)
