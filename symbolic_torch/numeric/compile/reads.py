"""Tensor reads ``x[…]`` as views: affine positions → padding + dilation + one strided view.

A read whose every position is affine in the index variables, ``x[n, c, s·i + d·p − pad]``,
is one ``as_strided`` view of ``x`` after zero padding (reads outside are 0, as in
``numeric.padding``): each variable's stride is Σ (coefficient × the axis's stride), the
padding covers every position the ranges reach. A rational position such as
``(i − p + 1)/2`` reads a *dilated* copy (D − 1 zeros between elements, so a non-integer
position reads 0) at the integer position ``i − p + 1``. A negative stride is a flipped view.
Any other read (through an index table: ``x[n, t[n]]``) is a gather at computed positions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.numeric.compile.named import Ctx, Named, Node, Scope, combine
from symbolic_torch.numeric.padding import gather

Affine = tuple[dict[sp.Symbol, sp.Rational], sp.Rational]
PAD_SLACK = 1 << 20  # padding beyond 4× the tensor (and this many elements) reads through a gather instead


def affine(pos: sp.Expr, scope: Scope) -> Affine | None:
    """``pos`` as (coefficient of each index variable, constant), all rational; None if it is not."""
    if not pos.free_symbols <= set(scope) or pos.has(sp.Indexed):
        return None
    coeffs: dict[sp.Symbol, sp.Rational] = {}
    const = sp.S.Zero
    for term, c in sp.expand(pos).as_coefficients_dict().items():
        if not c.is_Rational:
            return None
        if term == 1:
            const += c
        elif term in scope:
            coeffs[term] = coeffs.get(term, sp.S.Zero) + c
        else:
            return None
    return {s: c for s, c in coeffs.items() if c != 0}, const


@dataclass(frozen=True)
class View:
    """How to read an affine index expression as one strided view (all numbers fixed at compile time)."""

    name: str
    dilation: tuple[int, ...]
    pad: tuple[tuple[int, int], ...]
    sizes: tuple[int, ...]
    strides: tuple[int, ...]
    offset: int
    flips: tuple[int, ...]
    axes: tuple[sp.Symbol, ...]

    def __call__(self, ctx: Ctx) -> Named:
        src = ctx.env[self.name]
        t = src.contiguous()
        if any(d > 1 for d in self.dilation):
            z = t.new_zeros([(n - 1) * d + 1 for n, d in zip(t.shape, self.dilation)])
            z[tuple(slice(None, None, d) for d in self.dilation)] = t
            t = z
        if any(lo or hi for lo, hi in self.pad):
            t = F.pad(t, [p for lr in reversed(self.pad) for p in lr])
        v = t.as_strided(self.sizes, self.strides, t.storage_offset() + self.offset)
        return Named(v, self.axes, base=src, rev=tuple(self.axes[k] for k in self.flips))


def plan_view(name: str, shape: Sequence[int], positions: Sequence[Affine], scope: Scope) -> View | None:
    """The view that reads ``name`` (of ``shape``) at affine ``positions``; None where the padding
    it needs would dwarf the tensor (a gather is cheaper)."""
    dil = [math.lcm(*(int(c.q) for c in [*coef.values(), const])) for coef, const in positions]
    coefs = [{s: int(c * d) for s, c in coef.items()} for (coef, _), d in zip(positions, dil)]
    consts = [int(const * d) for (_, const), d in zip(positions, dil)]
    axes = tuple(dict.fromkeys(s for coef in coefs for s in coef))
    pad, padded = [], []
    for n, d, coef, c in zip(shape, dil, coefs, consts):
        lo = c + sum(a * scope[s][0 if a > 0 else 1] for s, a in coef.items())
        hi = c + sum(a * scope[s][1 if a > 0 else 0] for s, a in coef.items())
        size = (n - 1) * d + 1
        pad.append((max(0, -lo), max(0, hi - (size - 1))))
        padded.append(size + pad[-1][0] + pad[-1][1])
    if math.prod(padded) > 4 * math.prod(shape) + PAD_SLACK:
        return None
    step = [math.prod(padded[k + 1:]) for k in range(len(padded))]
    total = {s: sum(coef.get(s, 0) * st for coef, st in zip(coefs, step)) for s in axes}
    offset = sum((c + p[0]) * st for c, p, st in zip(consts, pad, step))
    offset += sum(total[s] * scope[s][0 if total[s] >= 0 else 1] for s in axes)
    return View(name, tuple(dil), tuple(pad), tuple(scope[s][1] - scope[s][0] + 1 for s in axes),
                tuple(abs(total[s]) for s in axes), offset, tuple(k for k, s in enumerate(axes) if total[s] < 0), axes)


def compile_read(e: sp.Indexed, scope: Scope, shape: Sequence[int],
                 sub: Callable[[sp.Basic], Node]) -> Node:
    """The node reading ``e``: a strided view where every position is affine, else a gather
    (positions compiled with ``sub``)."""
    name = e.base.label.name
    if len(shape) != len(e.indices):
        raise ValueError(f"{e}: tensor has {len(shape)} dims, formula uses {len(e.indices)}")
    if math.prod(shape) == 0:  # every read of an empty tensor is outside it
        axes = tuple(dict.fromkeys(s for p in e.indices for s in sorted(p.free_symbols, key=str) if s in scope))
        sizes = [scope[s][1] - scope[s][0] + 1 for s in axes]
        return Node(lambda ctx: Named(ctx.env[name].new_zeros(sizes), axes), "empty read")
    positions = [affine(p, scope) for p in e.indices]
    if all(p is not None for p in positions):
        view = plan_view(name, shape, positions, scope)  # type: ignore[arg-type]
        if view is not None:
            return Node(view, "view")
    parts = [sub(p) for p in e.indices]

    def read(ctx: Ctx) -> Named:
        return combine(lambda *pos: gather(ctx.env[name], [p.to(torch.float64) for p in pos]), *[n(ctx) for n in parts])
    return Node(read, "gather")
