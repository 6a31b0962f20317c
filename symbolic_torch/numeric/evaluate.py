"""The evaluator's entry points: an index formula's numbers, over index ranges or at sample points.

This is the seam between formulas and numbers. ``evaluate`` walks a formula on a broadcast
grid (``numeric.grid``; handlers in ``numeric.algebra``, ``numeric.reductions``,
``numeric.functions``), exactly and element by element, as float64 torch tensors: cost follows
the grid size, not the formula's length, and nothing goes through sympy's slow numeric paths.
A compiled tensor program for a formula plugs in here, behind the same three signatures:

- ``evaluate(expr, env, free)``: ``expr`` for every value of the free indices;
- ``evaluate_over(expr, indices, shape, env)``: an index formula over its whole left side, cached;
- ``evaluate_points(expr, known, count)``: a scalar formula at ``count`` points, given the values
  of its unknowns at each point (the gradient checker's samples).

Reads outside a tensor are 0 (``numeric.padding``); a ``Piecewise`` none of whose conditions
holds is NaN, as in sympy.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from typing import Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax
from symbolic_torch.numeric.grid import Grid

Free = Sequence[tuple[sp.Symbol, int, int]]
GRID_LIMIT = 1 << 22  # elements per chunk of the broadcast grid


def evaluate(expr: sp.Basic, env: Mapping[str, torch.Tensor], free: Free = ()) -> torch.Tensor:
    """Evaluate ``expr`` for every value of the ``free`` indices.

    ``env`` maps tensor base names to tensors. Returns a float64 tensor whose
    shape is the free ranges' sizes (a 0-d tensor when ``free`` is empty).
    Large grids are evaluated in chunks along the largest free index.
    """
    env = {k: v.detach().to(torch.float64) for k, v in env.items()}
    free = list(free)
    if any(hi < lo for _, lo, hi in free):  # an empty output: nothing to evaluate
        return torch.zeros([max(hi - lo + 1, 0) for _, lo, hi in free], dtype=torch.float64)
    chunks = _chunks(expr, free)
    if chunks:
        axis, parts = chunks
        return torch.cat([evaluate(expr, env, part) for part in parts], dim=axis)
    grid = Grid(env)
    for sym, lo, hi in free:
        grid = grid.bind(sym, lo, hi)
    return grid.eval(expr).to(torch.float64).expand(grid.sizes).clone()


def _chunks(expr: sp.Basic, free: list[tuple[sp.Symbol, int, int]]) -> tuple[int, list[list]] | None:
    """Where the grid of ``expr`` over ``free`` outgrows ``GRID_LIMIT``: the axis of the largest
    free range and the free ranges of the pieces it is cut into; None where one grid will do."""
    cost = _cost(expr, {sym: hi - lo + 1 for sym, lo, hi in free})
    if cost <= GRID_LIMIT or not free:
        return None
    k = max(range(len(free)), key=lambda j: free[j][2] - free[j][1])
    sym, lo, hi = free[k]
    step = max(1, math.ceil((hi - lo + 1) / max(2, math.ceil(cost / GRID_LIMIT))))
    if step >= hi - lo + 1:
        return None
    return k, [free[:k] + [(sym, s, min(hi, s + step - 1))] + free[k + 1:] for s in range(lo, hi + 1, step)]


_POINT = sp.Dummy("point", integer=True)


def evaluate_points(expr: sp.Basic, known: Mapping[sp.Basic, torch.Tensor], count: int) -> torch.Tensor:
    """``expr`` at ``count`` points: a float64 tensor of shape (count,).

    ``known`` gives the value at every point (a tensor of shape (count,)) of each scalar unknown
    of ``expr``, e.g. ``x[0, 1]`` or a 0-d tensor's symbol. Each distinct subexpression is
    computed once, vectorised over the points.
    """
    if count == 0:
        return torch.zeros(0, dtype=torch.float64)
    grid = Grid({}).bind(_POINT, 0, count - 1)
    grid.memo = {atom: v.to(torch.float64).reshape(count) for atom, v in known.items()}
    return grid.eval(expr).to(torch.float64).expand(grid.sizes).clone()


def _cost(e: sp.Basic, scope: dict[sp.Symbol, int]) -> int:
    """The largest tensor evaluating ``e`` builds, with broadcasting: a term spans only the
    indices it reads (as ``_sum_of`` splits sums), so Σ_n a[n]·x[k] costs n + k, not n·k."""
    here = math.prod(scope[s] for s in e.free_symbols if s in scope)
    if isinstance(e, (sp.Sum, WindowMax, WindowArgmax)):
        limits = [(l[0], int(l[2]) - int(l[1]) + 1) for l in e.limits if l[1].is_Integer and l[2].is_Integer]
        body = e.function if isinstance(e, sp.Sum) else e.args[0]
        return max(here, _cost_sum(body, dict(limits), scope))
    return max([here] + [_cost(a, scope) for a in e.args if isinstance(a, sp.Expr)])


def _cost_sum(f: sp.Basic, own: dict[sp.Symbol, int], scope: dict[sp.Symbol, int]) -> int:
    bound = set(own)
    if isinstance(f, sp.Add) and f.free_symbols & bound:
        return max(_cost_sum(t, own, scope) for t in f.args)
    if isinstance(f, sp.Mul) and not any(isinstance(a, Iverson) for a in f.args):
        outside = [a for a in f.args if not (a.free_symbols & bound)]
        inside = [a for a in f.args if a.free_symbols & bound]
        if outside and inside:
            return max(max(_cost(a, scope) for a in outside), _cost_sum(sp.Mul(*inside), own, scope))
    inner = {**scope, **own}
    return max(math.prod(inner[s] for s in f.free_symbols if s in inner), _cost(f, inner))


_OVER_CACHE: "OrderedDict[tuple, tuple[tuple[torch.Tensor, ...], torch.Tensor]]" = OrderedDict()
_OVER_CACHE_SIZE = 64


def evaluate_over(expr: sp.Basic, indices: Sequence[sp.Symbol], shape: Sequence[int],
                  env: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``expr`` at every element of a tensor of ``shape`` whose element is ``indices``: the
    right side of an index formula (``y[n, o] = …``, ``∂L/∂x[i, j] = …``) over its whole left side.

    Returns a float64 tensor of ``shape`` (0-d for a scalar). The last results are cached by
    formula, shape and the identity of the tensors in ``env`` (a tensor changed in place is
    a new value), so the chain rule and verification evaluate a formula once between them.
    Do not modify the returned tensor.
    """
    shape = tuple(int(n) for n in shape)
    indices = tuple(indices)[: len(shape)] if shape else ()
    names = sorted(env)
    key = (expr, indices, shape, tuple((k, id(env[k]), env[k]._version) for k in names))
    hit = _OVER_CACHE.get(key)
    if hit is not None:
        _OVER_CACHE.move_to_end(key)
        return hit[1]
    free = [(i, 0, n - 1) for i, n in zip(indices, shape)]
    out = evaluate(expr, env, free).reshape(shape)
    _OVER_CACHE[key] = (tuple(env[k] for k in names), out)  # the tensors kept alive: ids stay theirs
    if len(_OVER_CACHE) > _OVER_CACHE_SIZE:
        _OVER_CACHE.popitem(last=False)
    return out
