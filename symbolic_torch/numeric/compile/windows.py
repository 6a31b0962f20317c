"""The window max and its argmax indicator: the body over the window's cells, reduced.

The body is computed over the window variables (a strided view where it is a plain read),
padding cells (guard false) are −∞, and the window axes are reduced with ``amax`` or, for
the argmax indicator, flattened in the order of the limits for ``argmax`` (first maximum,
a NaN first: torch's selection) and compared with the flattened position.
"""
from __future__ import annotations

import math

import sympy as sp
import torch

from symbolic_torch.ir.primitives import WindowArgmax, WindowMax
from symbolic_torch.numeric.compile.contract import bind
from symbolic_torch.numeric.compile.lowering import Lowering, handles
from symbolic_torch.numeric.compile.named import Ctx, Named, Node, Scope, align, combine


def _cells(lw: Lowering, e: WindowMax | WindowArgmax, scope: Scope):  # noqa: ANN202
    """The window's limits, the scope inside, and a function giving the guarded body per run."""
    body, limits, inner = bind(lw, sp.Tuple(e.body, e.guard), e.limits, scope)
    lw.holds(set(lw.free_in(body, inner)) | {s for s, _, _ in limits}, inner)
    value, guard = lw.compile(body[0], inner), None if body[1] == sp.true else lw.compile(body[1], inner)

    def cells(ctx: Ctx) -> Named:
        v = value(ctx).float()
        if guard is None:
            return Named(v.forward(), v.axes)
        ninf = torch.tensor(-math.inf, dtype=torch.float64, device=v.t.device)
        return combine(lambda g, x: torch.where(g, x, ninf), guard(ctx), v)
    return limits, inner, cells


@handles(WindowMax)
def _window_max(lw: Lowering, e: WindowMax, scope: Scope) -> Node:
    limits, inner, cells = _cells(lw, e, scope)
    bound = [s for s, _, _ in limits]
    empty = any(hi < lo for _, lo, hi in limits)

    def run(ctx: Ctx) -> Named:
        v = cells(ctx)
        dims = [k for k, a in enumerate(v.axes) if a in bound]
        rest = tuple(a for a in v.axes if a not in bound)
        if empty:  # the max of no cell: −∞, like a padding cell
            return Named(torch.full([inner[a][1] - inner[a][0] + 1 for a in rest], -math.inf,
                                    dtype=torch.float64, device=v.t.device), rest)
        return Named(v.t.amax(dim=dims) if dims else v.t, rest)
    return Node(run, "WindowMax")


@handles(WindowArgmax)
def _window_argmax(lw: Lowering, e: WindowArgmax, scope: Scope) -> Node:
    limits, inner, cells = _cells(lw, e, scope)
    bound = [s for s, _, _ in limits]
    sizes = [hi - lo + 1 for _, lo, hi in limits]
    chosen = sp.S.Zero
    stride = 1
    for (lo, hi), pos in reversed(list(zip([(lo, hi) for _, lo, hi in limits], e.position))):
        chosen += (pos - lo) * stride
        stride *= hi - lo + 1
    where = lw.compile(chosen, scope)

    def run(ctx: Ctx) -> Named:
        v = cells(ctx)
        rest = tuple(a for a in v.axes if a not in bound)
        lead = [inner[a][1] - inner[a][0] + 1 for a in rest]
        if math.prod(sizes) == 0:  # no cell to be the argmax
            return Named(torch.zeros(lead, dtype=torch.float64, device=v.t.device), rest)
        flat = align(v, rest + tuple(bound)).expand(lead + sizes).reshape(lead + [-1])
        if bool(torch.isnan(v.t).any()):  # torch selects a NaN cell: NaN ranks first
            flat = torch.where(torch.isnan(flat), torch.inf, flat)
        best = flat.argmax(dim=-1).to(torch.float64)
        return combine(lambda a, b: (a == b).to(torch.float64), where(ctx), Named(best, rest))
    return Node(run, "WindowArgmax")
