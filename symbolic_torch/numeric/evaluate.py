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

Two evaluators sit behind ``evaluate``: the reference grid walk above, and compiled tensor
programs (``numeric.compile``: einsum, strided views, masks). ``SYMBOLIC_TORCH_EVALUATOR``
picks: ``auto`` (the default: compiled where the grid is larger than ``COMPILE_ABOVE``
elements, where compiling pays), ``compiled``, ``reference``, or ``both`` (each formula by
both, raising ``EvaluatorMismatchError`` naming the formula where they differ by more than
``AGREE`` relative to the result's scale: the test mode).
"""
from __future__ import annotations

import logging
import math
import os
from collections import OrderedDict
from typing import Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.errors import EvaluatorMismatchError
from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax
from symbolic_torch.numeric import compile as compiled
from symbolic_torch.numeric.grid import Grid

Free = Sequence[tuple[sp.Symbol, int, int]]
GRID_LIMIT = 1 << 22  # elements per chunk of the broadcast grid
EVALUATORS = ("auto", "compiled", "reference", "both")
COMPILE_ABOVE = 16  # auto: a formula whose largest intermediate is this small is evaluated by the reference
AGREE = 1e-12  # both: the largest difference allowed, relative to |reference| + max |reference|
log = logging.getLogger("symbolic_torch.numeric.compile")


def evaluator() -> str:
    """The evaluator ``SYMBOLIC_TORCH_EVALUATOR`` asks for (``auto`` when unset)."""
    mode = os.environ.get("SYMBOLIC_TORCH_EVALUATOR", "").strip().lower() or "auto"
    if mode not in EVALUATORS:
        raise ValueError(f"SYMBOLIC_TORCH_EVALUATOR={mode!r}: choose one of {', '.join(EVALUATORS)}")
    return mode


def evaluate(expr: sp.Basic, env: Mapping[str, torch.Tensor], free: Free = ()) -> torch.Tensor:
    """Evaluate ``expr`` for every value of the ``free`` indices.

    ``env`` maps tensor base names to tensors. Returns a float64 tensor whose
    shape is the free ranges' sizes (a 0-d tensor when ``free`` is empty), on
    the device of ``env``'s tensors.

    >>> from symbolic_torch.ir import symbols as S
    >>> x, (i, k) = S.tensor("x"), S.indices("ik")
    >>> evaluate(sp.Sum(x[i, k], (k, 0, 2)), {"x": torch.ones(2, 3)}, [(i, 0, 1)])
    tensor([3., 3.], dtype=torch.float64)
    """
    env = {k: v.detach().to(torch.float64) for k, v in env.items()}
    free = list(free)
    if any(hi < lo for _, lo, hi in free):  # an empty output: nothing to evaluate
        device = next((v.device for v in env.values()), None)
        return torch.zeros([max(hi - lo + 1, 0) for _, lo, hi in free], dtype=torch.float64, device=device)
    mode = evaluator()
    if mode == "reference" or (mode == "auto" and _cost(expr, {s: hi - lo + 1 for s, lo, hi in free}) <= COMPILE_ABOVE):
        return reference(expr, env, free)
    got = _compiled(expr, env, free)
    if mode == "both":
        check_agreement(expr, got, reference(expr, env, free), env)
    return got


def _compiled(expr: sp.Basic, env: Mapping[str, torch.Tensor], free: Free) -> torch.Tensor:
    """The compiled program's value; the reference's where the formula cannot be compiled at all."""
    try:
        return compiled.run(expr, env, free)
    except Exception as why:  # noqa: BLE001  (correctness first: the reference says what is wrong, if anything)
        compiled.program.FALLBACKS["whole formula"] += 1
        log.debug("reference evaluator for the whole formula (%s: %s): %s", type(why).__name__, why, expr)
        return reference(expr, env, free)


def check_agreement(expr: sp.Basic, got: torch.Tensor, want: torch.Tensor,
                    env: Mapping[str, torch.Tensor] | None = None) -> None:
    """Raise ``EvaluatorMismatchError`` naming ``expr`` unless ``got`` (compiled) equals ``want``
    (reference): the same NaN and ±inf cells, finite cells within ``AGREE`` of the result's scale
    (|reference| + its largest magnitude + that of the tensors the formula reads: a sum that cancels to
    ~1e-16 may differ in its last digits by summation order).

    >>> check_agreement(sp.Symbol("e"), torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.0 + 1e-15]))
    """
    got, want = got.cpu(), want.cpu()
    if got.shape != want.shape:
        raise EvaluatorMismatchError(f"compiled and reference evaluators disagree on {expr}: shapes "
                                     f"{tuple(got.shape)} and {tuple(want.shape)}")
    bad = (torch.isnan(got) != torch.isnan(want)) | (torch.isinf(want) & (got != want))
    fin = torch.isfinite(want) & torch.isfinite(got)
    read = {str(b.label) for b in expr.atoms(sp.IndexedBase)} | {str(a) for a in expr.free_symbols}
    scale = max([_magnitude(want)] + [_magnitude(v) for k, v in (env or {}).items() if k in read])
    bad |= fin & ((got - want).abs() > AGREE * (want.abs() + scale))
    bad |= torch.isfinite(want) & ~torch.isfinite(got)
    if got.shape != want.shape or bool(bad.any()):
        where = tuple(int(k) for k in bad.nonzero()[0]) if got.shape == want.shape else None
        at = f" at {where}: compiled {got[where].item()!r}, reference {want[where].item()!r}" if where is not None else \
            f": shapes {tuple(got.shape)} and {tuple(want.shape)}"
        raise EvaluatorMismatchError(f"the compiled and reference evaluators disagree on {expr}{at}")


def _magnitude(t: torch.Tensor) -> float:
    """The largest finite |value| of ``t`` (0 if none)."""
    t = t.detach()
    fin = t[torch.isfinite(t)] if t.is_floating_point() else t
    return float(fin.abs().max()) if fin.numel() else 0.0


def reference(expr: sp.Basic, env: Mapping[str, torch.Tensor], free: Free = ()) -> torch.Tensor:
    """``evaluate`` by the reference grid walk (on the CPU; the result on ``env``'s device).
    Large grids are evaluated in chunks along the largest free index."""
    device = next((v.device for v in env.values()), torch.device("cpu"))
    if device.type != "cpu":
        return reference(expr, {k: v.cpu() for k, v in env.items()}, free).to(device)
    free = list(free)
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
