"""Numeric evaluation of index-form formulas over whole index ranges.

``evaluate(expr, env, free)`` returns a tensor with one axis per free index.
Each index variable owns one axis of a broadcast grid; a ``Sum`` adds axes
for its variables and reduces them. Tensor elements read at positions outside
their shape (or at non-integer positions) are 0: that is the zero padding of
convolutions, and it never matters elsewhere because range conditions guard
such reads. Values are float64 torch tensors; nothing goes through sympy's
slow numeric paths, so cost follows the grid size, not the formula's length.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax

Free = Sequence[tuple[sp.Symbol, int, int]]
GRID_LIMIT = 1 << 22  # elements per chunk of the broadcast grid


@dataclass
class _Grid:
    env: Mapping[str, torch.Tensor]
    axes: dict[sp.Symbol, int] = field(default_factory=dict)
    sizes: list[int] = field(default_factory=list)
    values: dict[sp.Symbol, torch.Tensor] = field(default_factory=dict)
    cache: dict[tuple, torch.Tensor] = field(default_factory=dict)  # shared by the grids bind() makes

    @property
    def ndim(self) -> int:
        return len(self.sizes)

    def bind(self, sym: sp.Symbol, lo: int, hi: int) -> "_Grid":
        grid = _Grid(self.env, dict(self.axes), list(self.sizes), dict(self.values), self.cache)
        axis = grid.ndim
        grid.axes[sym] = axis
        grid.sizes.append(hi - lo + 1)
        shape = [1] * (axis + 1)
        shape[axis] = hi - lo + 1
        grid.values[sym] = torch.arange(lo, hi + 1, dtype=torch.float64).reshape(shape)
        return grid

    def scalar(self, value: float | bool) -> torch.Tensor:
        dtype = torch.bool if isinstance(value, bool) else torch.float64
        return torch.tensor(value, dtype=dtype).reshape([1] * self.ndim)

    def lift(self, t: torch.Tensor) -> torch.Tensor:
        """Pad ``t`` with trailing unit axes up to this grid's rank."""
        return t.reshape(list(t.shape) + [1] * (self.ndim - t.dim()))


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
    cost = _cost(expr, {sym: hi - lo + 1 for sym, lo, hi in free})
    if cost > GRID_LIMIT and free:
        k = max(range(len(free)), key=lambda j: free[j][2] - free[j][1])
        sym, lo, hi = free[k]
        parts = max(2, math.ceil(cost / GRID_LIMIT))
        step = max(1, math.ceil((hi - lo + 1) / parts))
        if step < hi - lo + 1:
            chunks = [
                evaluate(expr, env, free[:k] + [(sym, s, min(hi, s + step - 1))] + free[k + 1:])
                for s in range(lo, hi + 1, step)
            ]
            return torch.cat(chunks, dim=k)
    grid = _Grid(env)
    for sym, lo, hi in free:
        grid = grid.bind(sym, lo, hi)
    out = _ev(expr, grid)
    return out.to(torch.float64).expand(grid.sizes).clone()


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


def _ev(e: sp.Basic, g: _Grid) -> torch.Tensor:
    handler = _HANDLERS.get(type(e))
    if handler is not None:
        return handler(e, g)
    for cls in type(e).__mro__:
        if cls in _HANDLERS:
            return _HANDLERS[cls](e, g)
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        return g.scalar(float(e))
    raise TypeError(f"cannot evaluate {type(e).__name__}: {e}")


def _symbol(e: sp.Symbol, g: _Grid) -> torch.Tensor:
    if e in g.values:
        return g.lift(g.values[e])
    if str(e) in g.env:  # a 0-d tensor
        return g.scalar(0.0) + g.env[str(e)].reshape(())
    raise KeyError(f"index {e} has no range here")


def _indexed(e: sp.Indexed, g: _Grid) -> torch.Tensor:
    t = g.env[str(e.base.label)]
    if t.dim() != len(e.indices):
        raise ValueError(f"{e}: tensor has {t.dim()} dims, formula uses {len(e.indices)}")
    if t.dim() == 0:
        return g.scalar(0.0) + t
    pos = torch.broadcast_tensors(*[_ev(i, g).to(torch.float64) for i in e.indices])
    if t.numel() == 0:  # an empty tensor: every read is outside it, hence 0
        return torch.zeros(pos[0].shape, dtype=torch.float64)
    valid = torch.ones(pos[0].shape, dtype=torch.bool)
    flat = torch.zeros(pos[0].shape, dtype=torch.long)
    for p, size, stride in zip(pos, t.shape, t.stride()):
        r = torch.round(p)
        valid &= (r == p) & (r >= 0) & (r < size)
        flat += torch.where(valid, r, 0).long() * stride
    vals = t.as_strided((t.numel(),), (1,)) if t.is_contiguous() else t.contiguous().view(-1)
    vals = vals[torch.where(valid, flat, 0)] if t.is_contiguous() else vals[torch.where(valid, _cflat(pos, t, valid), 0)]
    return torch.where(valid, vals, torch.zeros((), dtype=vals.dtype)).to(torch.float64)


def _cflat(pos: Sequence[torch.Tensor], t: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    flat = torch.zeros(valid.shape, dtype=torch.long)
    stride = 1
    for p, size in reversed(list(zip(pos, t.shape))):
        flat += torch.where(valid, torch.round(p), 0).long() * stride
        stride *= size
    return flat


def _add(e: sp.Add, g: _Grid) -> torch.Tensor:
    # Rational coefficients share one denominator so that index arithmetic such as
    # a/3 − k/3 + 1/3 stays exact: Σ (D·cᵢ)·tᵢ is an exact integer sum, divided once by D.
    denom = math.lcm(*[int(a.as_coeff_Mul()[0].q) if a.as_coeff_Mul()[0].is_Rational else 1 for a in e.args])
    if denom == 1:
        out = _ev(e.args[0], g)
        for a in e.args[1:]:
            out = out + _ev(a, g)
        return out
    out = g.scalar(0.0)
    for a in e.args:
        c, rest = a.as_coeff_Mul()
        out = out + (_ev(rest, g) * int(c * denom) if c.is_Rational else _ev(a, g) * denom)
    return out / denom


def _mul(e: sp.Mul, g: _Grid) -> torch.Tensor:
    c, rest = e.as_coeff_Mul()
    if c.is_Rational and c.q != 1:  # (p·x)/q is exact where the result is an integer; x·(p/q) is not
        return _ev(rest, g) * int(c.p) / int(c.q)
    gates = [a for a in e.args if isinstance(a, Iverson)]
    factors = [a for a in e.args if not isinstance(a, Iverson)]
    out = _ev(factors[0], g) if factors else g.scalar(1.0)
    for a in factors[1:]:
        out = out * _ev(a, g)
    for a in gates:  # a false [cond] absorbs NaN ([x not NaN]·x is 0 where x is NaN), not ±inf: 0·inf = NaN
        off = torch.where(torch.isinf(out), torch.full((), math.nan, dtype=out.dtype), 0.0)
        out = torch.where(_ev(a.args[0], g), out, off.to(out.dtype))
    return out


def _pow(e: sp.Pow, g: _Grid) -> torch.Tensor:
    base, ex = e.args
    b = _ev(base, g)
    if ex == sp.S.Half:
        return torch.sqrt(b)
    if ex.is_Integer:
        return b ** int(ex)
    return b ** _ev(ex, g)


def _sum(e: sp.Sum, g: _Grid) -> torch.Tensor:
    key = _cache_key(e, g)
    if key in g.cache:  # the same Σ (a mean, a variance) read several times in one formula
        return g.cache[key]
    limits = [(sym, int(lo), int(hi)) for sym, lo, hi in e.limits]
    out = _sum_of(e.function, limits, g)
    g.cache[key] = out
    return out


def _sum_of(f: sp.Expr, limits: list[tuple[sp.Symbol, int, int]], g: _Grid) -> torch.Tensor:
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
            return _ev(sp.Mul(*outside), g) * _sum_of(sp.Mul(*inside), limits, g)
    inner = g
    for sym, lo, hi in limits:
        inner = inner.bind(sym, lo, hi)
    body = _ev(f, inner).to(torch.float64)
    body = inner.lift(body)
    dims = list(range(g.ndim, inner.ndim))
    scale = math.prod(inner.sizes[d] for d in dims if body.shape[d] == 1)
    return body.sum(dim=dims) * scale if dims else body


def _cache_key(e: sp.Basic, g: _Grid) -> tuple:
    """``e`` and where its free indices sit on the grid (axis, first value, size)."""
    used = sorted((s for s in e.free_symbols if s in g.axes), key=str)
    return (e, g.ndim, tuple((s, g.axes[s], float(g.values[s].reshape(-1)[0]), g.sizes[g.axes[s]]) for s in used))


def _window(e: WindowMax | WindowArgmax, g: _Grid) -> tuple[torch.Tensor, list[int], _Grid]:
    inner = g
    for sym, lo, hi in e.limits:
        inner = inner.bind(sym, int(lo), int(hi))
    body = inner.lift(_ev(e.body, inner).to(torch.float64))
    if e.guard != sp.true:  # padding cells are −∞
        body = torch.where(inner.lift(_ev(e.guard, inner)), body, -torch.inf)
    shape = torch.broadcast_shapes(body.shape, tuple(inner.sizes))
    body = body.expand(list(body.shape[: g.ndim]) + list(shape[g.ndim:]))
    return body, list(range(g.ndim, inner.ndim)), inner


def _cells(body: torch.Tensor, g: _Grid) -> torch.Tensor:
    """``body`` with its window axes (those past ``g``'s) flattened into one (sizes explicit: empty works)."""
    return body.reshape(list(body.shape[: g.ndim]) + [math.prod(body.shape[g.ndim:])])


def _window_max(e: WindowMax, g: _Grid) -> torch.Tensor:
    body, dims, _ = _window(e, g)
    flat = _cells(body, g)
    if flat.shape[-1] == 0:  # a window without cells: the max of nothing, −∞ like a padding cell
        return torch.full(flat.shape[:-1], -torch.inf, dtype=torch.float64)
    return flat.max(dim=-1).values


def _window_argmax(e: WindowArgmax, g: _Grid) -> torch.Tensor:
    body, dims, inner = _window(e, g)
    flat = _cells(body, g)
    if flat.shape[-1] == 0:  # no cell to be the argmax
        return torch.zeros(flat.shape[:-1], dtype=torch.float64)
    nan_first = torch.where(torch.isnan(flat), torch.inf, flat)  # torch picks a NaN when present
    best = nan_first.argmax(dim=-1).to(torch.float64)
    chosen = g.scalar(0.0)
    stride = 1
    for (sym, lo, hi), pos in reversed(list(zip(e.limits, e.position))):
        chosen = chosen + (_ev(pos, g) - int(lo)) * stride
        stride *= int(hi) - int(lo) + 1
    return (chosen == best).to(torch.float64)


def _piecewise(e: sp.Piecewise, g: _Grid) -> torch.Tensor:
    out = g.scalar(0.0)
    for value, cond in reversed(e.args):
        if cond == sp.true:
            out = _ev(value, g) + 0 * out
        else:
            c = _ev(cond, g)
            out = torch.where(c, _ev(value, g), out)
    return out


def _rel(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[sp.Basic, _Grid], torch.Tensor]:
    return lambda e, g: op(_ev(e.lhs, g), _ev(e.rhs, g))


def _logic(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[sp.Basic, _Grid], torch.Tensor]:
    def run(e: sp.Basic, g: _Grid) -> torch.Tensor:
        out = _ev(e.args[0], g)
        for a in e.args[1:]:
            out = op(out, _ev(a, g))
        return out
    return run


def _unary(fn: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[sp.Basic, _Grid], torch.Tensor]:
    return lambda e, g: fn(_ev(e.args[0], g).to(torch.float64))


def _heaviside(e: sp.Heaviside, g: _Grid) -> torch.Tensor:
    x = _ev(e.args[0], g)
    at0 = float(e.args[1]) if len(e.args) > 1 else 0.5
    return torch.heaviside(x, torch.tensor(at0, dtype=torch.float64))


def _besseli(e: sp.Basic, g: _Grid, scaled: bool = False) -> torch.Tensor:
    """I_ν(x) for an integer order ν ≥ 0 (``scaled``: e^{−|x|}·I_ν(x)): torch.special's orders 0 and 1, then
    I_{n+1} = I_{n−1} − 2n/x·I_n (0 at x = 0), the orders the derivatives of i0, i1 (i0e, i1e) read."""
    nu, x = e.args
    if not (nu.is_Integer and int(nu) >= 0):
        raise TypeError(f"cannot evaluate {e}: only integer orders ν ≥ 0")
    x = _ev(x, g).to(torch.float64)
    lo, hi = (torch.special.i0e(x), torch.special.i1e(x)) if scaled else (torch.special.i0(x), torch.special.i1(x))
    if int(nu) == 0:
        return lo
    for n in range(1, int(nu)):
        lo, hi = hi, torch.where(x == 0, torch.zeros((), dtype=x.dtype), lo - 2 * n / x * hi)
    return hi


def _minmax(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[[sp.Basic, _Grid], torch.Tensor]:
    return _logic(op)


_HANDLERS: dict[type, Callable[[sp.Basic, _Grid], torch.Tensor]] = {
    sp.Symbol: _symbol,
    sp.Dummy: _symbol,
    sp.Indexed: _indexed,
    sp.Add: _add,
    sp.Mul: _mul,
    sp.Pow: _pow,
    sp.Sum: _sum,
    WindowMax: _window_max,
    WindowArgmax: _window_argmax,
    Iverson: lambda e, g: _ev(e.args[0], g).to(torch.float64),
    sp.Piecewise: _piecewise,
    sp.StrictLessThan: _rel(torch.lt),
    sp.LessThan: _rel(torch.le),
    sp.StrictGreaterThan: _rel(torch.gt),
    sp.GreaterThan: _rel(torch.ge),
    sp.Equality: _rel(torch.eq),
    sp.Unequality: _rel(torch.ne),
    sp.And: _logic(torch.logical_and),
    sp.Or: _logic(torch.logical_or),
    sp.Not: lambda e, g: torch.logical_not(_ev(e.args[0], g)),
    sp.logic.boolalg.BooleanTrue: lambda e, g: g.scalar(True),
    sp.logic.boolalg.BooleanFalse: lambda e, g: g.scalar(False),
    sp.exp: _unary(torch.exp),
    sp.log: _unary(torch.log),
    sp.Abs: _unary(torch.abs),
    sp.sign: _unary(torch.sign),
    sp.erf: _unary(torch.erf),
    sp.tanh: _unary(torch.tanh),
    sp.sinh: _unary(torch.sinh),
    sp.cosh: _unary(torch.cosh),
    sp.sin: _unary(torch.sin),
    sp.cos: _unary(torch.cos),
    sp.tan: _unary(torch.tan),
    sp.atan: _unary(torch.atan),
    sp.asin: _unary(torch.asin),
    sp.acos: _unary(torch.acos),
    sp.floor: _unary(torch.floor),
    sp.ceiling: _unary(torch.ceil),
    sp.Heaviside: _heaviside,
    sp.besseli: _besseli,
    sp.Max: _minmax(torch.maximum),
    sp.Min: _minmax(torch.minimum),
    sp.Mod: lambda e, g: torch.remainder(_ev(e.args[0], g), _ev(e.args[1], g)),
    sp.KroneckerDelta: lambda e, g: (_ev(e.args[0], g) == _ev(e.args[1], g)).to(torch.float64),
    sp.UnevaluatedExpr: lambda e, g: _ev(e.args[0], g),
    sp.Float: lambda e, g: g.scalar(float(e)),
    sp.Integer: lambda e, g: g.scalar(float(e)),
    sp.Rational: lambda e, g: g.scalar(float(e)),
}


def register(cls: type, handler: Callable[[sp.Basic, _Grid], torch.Tensor]) -> None:
    """Teach the evaluator a new sympy class (used by rules that add primitives)."""
    _HANDLERS[cls] = handler


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
