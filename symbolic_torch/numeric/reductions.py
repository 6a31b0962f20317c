"""Handlers for reductions over bound variables: Σ, Π, the window max and its argmax.

Each binds its variables as new grid axes, evaluates the body there and reduces those axes.
"""
from __future__ import annotations

import math

import sympy as sp
import torch

from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax
from symbolic_torch.numeric.grid import Grid, register

Limits = list[tuple[sp.Symbol, int, int]]


def _sum(e: sp.Sum, g: Grid) -> torch.Tensor:
    key = _cache_key(e, g)
    if key in g.cache:  # the same Σ (a mean, a variance) read several times in one formula
        return g.cache[key]
    out = _sum_of(e.function, [(sym, int(lo), int(hi)) for sym, lo, hi in e.limits], g)
    g.cache[key] = out
    return out


def _sum_of(f: sp.Expr, limits: Limits, g: Grid) -> torch.Tensor:
    """Σ over ``limits`` of ``f``: a sum of terms term by term, and factors that do not depend on
    the summation indices taken out (Σ_n a[n]·x[k] = x[k]·Σ_n a[n]), so that a batch norm's
    input gradient costs the batch plus the output, not their product."""
    if any(hi < lo for _, lo, hi in limits):
        return g.scalar(0.0)
    bound = {sym for sym, _, _ in limits}
    if isinstance(f, sp.Add) and f.free_symbols & bound:
        out = g.scalar(0.0)
        for term in f.args:
            out = out + _sum_of(term, limits, g)
        return out
    if isinstance(f, sp.Mul) and not any(isinstance(a, Iverson) for a in f.args):  # [cond] absorbs NaN: keep whole
        outside = [a for a in f.args if not (a.free_symbols & bound)]
        inside = [a for a in f.args if a.free_symbols & bound]
        if outside and inside:
            return g.eval(sp.Mul(*outside)) * _sum_of(sp.Mul(*inside), limits, g)
    inner = g
    for sym, lo, hi in limits:
        inner = inner.bind(sym, lo, hi)
    body = inner.lift(inner.eval(f).to(torch.float64))
    dims = list(range(g.ndim, inner.ndim))
    scale = math.prod(inner.sizes[d] for d in dims if body.shape[d] == 1)
    return body.sum(dim=dims) * scale if dims else body


def _cache_key(e: sp.Basic, g: Grid) -> tuple:
    """``e`` and where its free indices sit on the grid (axis, first value, size)."""
    used = sorted((s for s in e.free_symbols if s in g.axes), key=str)
    return (e, g.ndim, tuple((s, g.axes[s], float(g.values[s].reshape(-1)[0]), g.sizes[g.axes[s]]) for s in used))


def _product(e: sp.Product, g: Grid) -> torch.Tensor:
    """Π over the limits, whose bounds may depend on the grid's indices (Π_{j<k}: a cumprod's)."""
    inner, bounds = g, []
    for sym, lo, hi in e.limits:
        lo_t, hi_t = inner.eval(lo), inner.eval(hi)
        a, b = int(lo_t.min()), int(hi_t.max())
        if b < a:  # empty everywhere
            return g.scalar(1.0)
        inner = inner.bind(sym, a, b)
        bounds.append((sym, lo_t, hi_t))
    body = inner.lift(inner.eval(e.function).to(torch.float64))
    for sym, lo_t, hi_t in bounds:  # outside its own bounds a factor is 1
        v = inner.lift(inner.values[sym])
        body = torch.where((v >= inner.lift(lo_t)) & (v <= inner.lift(hi_t)), body, torch.ones((), dtype=body.dtype))
    window = torch.broadcast_shapes(body.shape, tuple([1] * g.ndim + inner.sizes[g.ndim:]))[g.ndim:]
    body = body.expand(list(body.shape[: g.ndim]) + list(window))
    for d in reversed(range(g.ndim, inner.ndim)):
        body = body.prod(dim=d)
    return body


def _window(e: WindowMax | WindowArgmax, g: Grid) -> torch.Tensor:
    """The body over the window's cells, padding cells −∞, the cells flattened into one last axis."""
    inner = g
    for sym, lo, hi in e.limits:
        inner = inner.bind(sym, int(lo), int(hi))
    body = inner.lift(inner.eval(e.body).to(torch.float64))
    if e.guard != sp.true:
        body = torch.where(inner.lift(inner.eval(e.guard)), body, -torch.inf)
    shape = torch.broadcast_shapes(body.shape, tuple(inner.sizes))
    body = body.expand(list(body.shape[: g.ndim]) + list(shape[g.ndim:]))
    return body.reshape(list(body.shape[: g.ndim]) + [math.prod(body.shape[g.ndim:])])  # sizes explicit: empty works


def _window_max(e: WindowMax, g: Grid) -> torch.Tensor:
    cells = _window(e, g)
    if cells.shape[-1] == 0:  # a window without cells: the max of nothing, −∞ like a padding cell
        return torch.full(cells.shape[:-1], -torch.inf, dtype=torch.float64)
    return cells.max(dim=-1).values


def _window_argmax(e: WindowArgmax, g: Grid) -> torch.Tensor:
    cells = _window(e, g)
    if cells.shape[-1] == 0:  # no cell to be the argmax
        return torch.zeros(cells.shape[:-1], dtype=torch.float64)
    nan_first = torch.where(torch.isnan(cells), torch.inf, cells)  # torch picks a NaN when present
    best = nan_first.argmax(dim=-1).to(torch.float64)
    chosen = g.scalar(0.0)
    stride = 1
    for (sym, lo, hi), pos in reversed(list(zip(e.limits, e.position))):
        chosen = chosen + (g.eval(pos) - int(lo)) * stride
        stride *= int(hi) - int(lo) + 1
    return (chosen == best).to(torch.float64)


register(sp.Sum, _sum)
register(sp.Product, _product)
register(WindowMax, _window_max)
register(WindowArgmax, _window_argmax)
