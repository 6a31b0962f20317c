"""The broadcast grid the evaluator walks, and its handler table.

Each index variable owns one axis of a grid; every value computed on a grid is a
float64 (or bool) tensor with one axis per grid axis, of size 1 where the value does
not depend on that index. A *handler* computes one sympy class on a grid: it gets the
expression and the grid, and evaluates subexpressions with ``grid.eval``::

    register(MyStep, elementwise(torch.floor))          # f(args…) elementwise
    register(MyMax, lambda e, g: torch.maximum(g.eval(e.args[0]), g.eval(e.args[1])))

The table is filled when ``symbolic_torch.numeric`` loads (see its ``__init__``), so an
expression evaluates the same whatever else was imported.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import sympy as sp
import torch

Handler = Callable[[sp.Basic, "Grid"], torch.Tensor]
_HANDLERS: dict[type, Handler] = {}


@dataclass
class Grid:
    """Index variables bound to axes, the tensors formulas read, and caches.

    ``env`` maps tensor base names to float64 tensors. ``memo``, when given, holds values
    of subexpressions already known on this grid (read before any handler, and filled as
    the walk goes): the scalar unknowns of a batch of points, then each subexpression once.
    """

    env: Mapping[str, torch.Tensor]
    axes: dict[sp.Symbol, int] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    values: dict[sp.Symbol, torch.Tensor] = field(default_factory=dict)
    cache: dict[tuple, torch.Tensor] = field(default_factory=dict)  # shared by the grids bind() makes
    memo: dict[sp.Basic, torch.Tensor] | None = None

    @property
    def ndim(self) -> int:
        """The number of axes (bound index variables)."""
        return len(self.sizes)

    def bind(self, sym: sp.Symbol, lo: int, hi: int) -> Grid:
        """A grid with one more axis, on which ``sym`` runs over ``lo … hi``."""
        memo = dict(self.memo) if self.memo is not None else None  # values known here hold there too
        grid = Grid(self.env, dict(self.axes), list(self.sizes), dict(self.values), self.cache, memo)
        axis = grid.ndim
        grid.axes[sym] = axis
        grid.sizes.append(hi - lo + 1)
        shape = [1] * (axis + 1)
        shape[axis] = hi - lo + 1
        grid.values[sym] = torch.arange(lo, hi + 1, dtype=torch.float64).reshape(shape)
        return grid

    def scalar(self, value: float | bool) -> torch.Tensor:
        """A constant with this grid's rank."""
        dtype = torch.bool if isinstance(value, bool) else torch.float64
        return torch.tensor(value, dtype=dtype).reshape([1] * self.ndim)

    def lift(self, t: torch.Tensor) -> torch.Tensor:
        """Pad ``t`` with trailing unit axes up to this grid's rank."""
        return t.reshape(list(t.shape) + [1] * (self.ndim - t.dim()))

    def eval(self, e: sp.Basic) -> torch.Tensor:
        """``e`` on this grid: a tensor of this grid's rank (broadcastable to ``sizes``)."""
        if self.memo is not None and e in self.memo:
            return self.lift(self.memo[e])
        out = _handler(e)(e, self)
        if self.memo is not None:
            self.memo[e] = out
        return out


def _handler(e: sp.Basic) -> Handler:
    found = _HANDLERS.get(type(e))
    if found is not None:
        return found
    for cls in type(e).__mro__:
        if cls in _HANDLERS:
            return _HANDLERS[cls]
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        return _number
    raise TypeError(f"cannot evaluate {type(e).__name__}: {e} (teach it with symbolic_torch.numeric.register)")


def _number(e: sp.Basic, g: Grid) -> torch.Tensor:
    return g.scalar(float(e))


def register(cls: type, handler: Handler) -> None:
    """Teach the evaluator the sympy class ``cls`` (subclasses included, unless they have their own)."""
    _HANDLERS[cls] = handler


def elementwise(fn: Callable[..., torch.Tensor]) -> Handler:
    """The handler that applies ``fn`` to the float64 values of the expression's arguments."""
    return lambda e, g: fn(*[g.eval(a).to(torch.float64) for a in e.args])
