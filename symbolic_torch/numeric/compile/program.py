"""Compiled programs: one per formula, free ranges, tensor shapes and device, cached.

``run(expr, env, free)`` is the compiled counterpart of the reference ``evaluate``: the same
arguments, the same float64 result. The first call with a formula's structure compiles it
(``compile.lowering``); later calls with the same structure and shapes only run torch ops.
"""
from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.numeric.compile.lowering import FALLBACKS, Lowering
from symbolic_torch.numeric.compile.named import Ctx, Node, align

log = logging.getLogger("symbolic_torch.numeric.compile")
Free = Sequence[tuple[sp.Symbol, int, int]]
CACHE_SIZE = 1024
PEAK_LIMIT = 1 << 26  # elements (512 MiB of float64) one view may hold before a program runs in pieces
_CACHE: "OrderedDict[tuple, Program]" = OrderedDict()
STATS: Counter[str] = Counter()  # compiled, cache hits, runs


@dataclass(frozen=True)
class Program:
    """A formula compiled for fixed free ranges and tensor shapes: ``program(env)`` is its value,
    a float64 tensor with one axis per free range. ``fallbacks`` names the subexpressions left
    to the reference evaluator."""

    root: Node
    free: tuple[tuple[sp.Symbol, int, int], ...]
    fallbacks: tuple[str, ...]
    peak: int = 0  # the most elements one view or window holds

    def __call__(self, env: Mapping[str, torch.Tensor]) -> torch.Tensor:
        STATS["runs"] += 1
        value = self.root(Ctx(env))
        axes = [s for s, _, _ in self.free]
        t = align(value, axes).expand([hi - lo + 1 for _, lo, hi in self.free])
        return t.to(torch.float64).clone()  # never an alias of a tensor of env


def compile_formula(expr: sp.Basic, free: Free, shapes: Mapping[str, tuple[int, ...]],
                    device: torch.device | str = "cpu") -> Program:
    """``expr`` over the ``free`` ranges, compiled for tensors of ``shapes`` on ``device`` (cached).

    >>> from symbolic_torch.ir import symbols as S
    >>> x, (i, k) = S.tensor("x"), S.indices("ik")
    >>> p = compile_formula(sp.Sum(x[i, k], (k, 0, 2)), [(i, 0, 1)], {"x": (2, 3)})
    >>> p({"x": torch.ones(2, 3, dtype=torch.float64)})
    tensor([3., 3.], dtype=torch.float64)
    """
    free = tuple((s, int(lo), int(hi)) for s, lo, hi in free)
    device = torch.device(device)
    key = (expr, free, tuple(sorted((k, tuple(v)) for k, v in shapes.items())), device)
    hit = _CACHE.get(key)
    if hit is not None:
        STATS["cache hits"] += 1
        _CACHE.move_to_end(key)
        return hit
    lw = Lowering(shapes, device)
    if len({s for s, _, _ in free}) != len(free):
        raise ValueError(f"a free index twice in {free}")
    root = lw.compile(expr, {s: (lo, hi) for s, lo, hi in free})
    program = Program(root, free, tuple(lw.fallbacks), lw.peak)
    STATS["compiled"] += 1
    _CACHE[key] = program
    if len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return program


def run(expr: sp.Basic, env: Mapping[str, torch.Tensor], free: Free) -> torch.Tensor:
    """``expr`` for every value of the ``free`` indices, by its compiled program (env: float64 tensors).

    A program whose views would hold more than ``PEAK_LIMIT`` elements runs in pieces along its
    largest free range (each piece its own cached program), so memory stays bounded.
    """
    device = next((v.device for v in env.values()), torch.device("cpu"))
    shapes = {k: tuple(v.shape) for k, v in env.items()}
    program = compile_formula(expr, free, shapes, device)
    free = list(program.free)
    if program.peak > PEAK_LIMIT and free:
        k = max(range(len(free)), key=lambda m: free[m][2] - free[m][1])
        sym, lo, hi = free[k]
        if hi > lo:
            mid = (lo + hi) // 2
            parts = [free[:k] + [(sym, a, b)] + free[k + 1:] for a, b in ((lo, mid), (mid + 1, hi))]
            if compile_formula(expr, parts[0], shapes, device).peak < program.peak:  # pieces that help
                return torch.cat([run(expr, env, part) for part in parts], dim=k)
    return program(env)


def stats() -> dict[str, dict[str, int]]:
    """How many programs were compiled and run, and which sympy classes fell back to the reference."""
    return {"programs": dict(STATS), "fallbacks": dict(FALLBACKS)}
