"""The walk from a formula to a program: one node per subexpression, chosen by its sympy class.

Each handler translates the *formula*, never the op a step came from: a read becomes a view,
a Σ an einsum, a condition a ``where`` mask, a function its torch function. A subexpression
that reads no tensor (index arithmetic, a range or divisibility guard) is computed once, when
compiling, by the reference evaluator. A class without a handler here is evaluated by the
reference grid evaluator over the variables it depends on, and recorded as a fallback.
"""
from __future__ import annotations

import logging
import math
from collections import Counter
from typing import Callable, Mapping

import sympy as sp
import torch

from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax
from symbolic_torch.numeric.compile.named import Ctx, Named, Node, Scope, combine, reference
from symbolic_torch.numeric.compile.reads import compile_read
from symbolic_torch.numeric.functions import _ELEMENTWISE
from symbolic_torch.numeric.grid import _HANDLERS

log = logging.getLogger("symbolic_torch.numeric.compile")
Handler = Callable[["Lowering", sp.Basic, Scope], Node]
CONST_LIMIT = 1 << 22  # a constant (a guard over index ranges) larger than this is computed per run
FALLBACKS: Counter[str] = Counter()  # sympy class → how many subexpressions fell back to the reference


class Unsupported(Exception):
    """A formula's shape this compiler does not translate (the subexpression falls back)."""


class Lowering:
    """Compiles the subexpressions of one formula for tensors of ``shapes`` on ``device``."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]], device: torch.device) -> None:
        self.shapes = dict(shapes)
        self.device = device
        self.nodes: dict[tuple, Node] = {}
        self.fallbacks: list[str] = []
        self._symbols: dict[sp.Basic, tuple[frozenset, bool]] = {}
        self.peak = 0  # the most elements one view or window of the program holds (chunking decides on it)

    def holds(self, axes: object, scope: Scope) -> None:
        """Note that the program materialises a tensor over ``axes`` (variables of ``scope``)."""
        self.peak = max(self.peak, math.prod(scope[a][1] - scope[a][0] + 1 for a in axes))  # type: ignore[attr-defined]

    def compile(self, e: sp.Basic, scope: Scope) -> Node:
        """The node computing ``e`` over the variables of ``scope`` it depends on (shared when repeated)."""
        key = (e, tuple((s, scope[s]) for s in self.free_in(e, scope)))
        found = self.nodes.get(key)
        if found is None:
            found = self.nodes[key] = self._compile(e, scope)
        return found

    def _compile(self, e: sp.Basic, scope: Scope) -> Node:
        if not self.reads(e, scope):
            return self.constant(e, scope)
        handler = _handler(type(e))
        if handler is None:
            return self.fallback(e, scope)
        try:
            return handler(self, e, scope)
        except Unsupported as why:
            return self.fallback(e, scope, str(why))

    def symbols(self, e: sp.Basic) -> tuple[frozenset, bool]:
        """The free symbols of ``e`` and whether it reads a tensor element (memoised: sympy's
        ``free_symbols`` of a Sum rebuilds the Sum)."""
        found = self._symbols.get(e)
        if found is None:
            found = self._symbols[e] = _symbols(e, self.symbols)
        return found

    def free_in(self, e: sp.Basic, scope: Scope) -> tuple[sp.Symbol, ...]:
        """The variables of ``scope`` that ``e`` depends on, in a fixed order."""
        return tuple(sorted((s for s in self.symbols(e)[0] if s in scope), key=_order))

    def reads(self, e: sp.Basic, scope: Scope) -> bool:
        """Whether ``e`` reads a tensor of the run (an element, or a 0-d tensor by its symbol)."""
        syms, indexed = self.symbols(e)
        return indexed or any(s not in scope and s.name in self.shapes for s in syms)

    def constant(self, e: sp.Basic, scope: Scope) -> Node:
        """``e``, which reads no tensor, computed now by the reference evaluator (per run if large);
        kept across formulas (the same guards recur in every layer)."""
        axes = self.free_in(e, scope)
        if math.prod(scope[s][1] - scope[s][0] + 1 for s in axes) > CONST_LIMIT:
            return Node(lambda ctx: reference(e, {}, axes, scope, self.device), "index formula")
        key = (e, tuple((s, scope[s]) for s in axes), self.device)
        value = _CONSTANTS.get(key)
        if value is None:
            value = _CONSTANTS[key] = reference(e, {}, axes, scope, self.device)
            if len(_CONSTANTS) > 4096:
                _CONSTANTS.pop(next(iter(_CONSTANTS)))
        return Node(lambda ctx: value, "constant")

    def fallback(self, e: sp.Basic, scope: Scope, why: str = "") -> Node:
        """``e`` by the reference evaluator at run time, recorded (debug log, ``FALLBACKS``)."""
        name = type(e).__name__
        self.fallbacks.append(name)
        FALLBACKS[name] += 1
        log.debug("reference evaluator for %s%s: %s", name, f" ({why})" if why else "", e)
        axes = self.free_in(e, scope)
        return Node(lambda ctx: reference(e, ctx.env, axes, scope, self.device), "reference")

    def map(self, fn: Callable[..., torch.Tensor], args: tuple[sp.Basic, ...], scope: Scope,
            what: str = "", as_float: bool = False) -> Node:
        """The node applying ``fn`` to the values of ``args``, broadcast by name."""
        parts = [self.compile(a, scope) for a in args]
        if as_float:
            return Node(lambda ctx: combine(fn, *[p(ctx).float() for p in parts]), what)
        return Node(lambda ctx: combine(fn, *[p(ctx) for p in parts]), what)


_TABLE: dict[type, Handler] = {}
_CONSTANTS: dict[tuple, Named] = {}


def _order(s: sp.Symbol) -> tuple:
    return (s.name, getattr(s, "dummy_index", 0) or 0)


def _symbols(e: sp.Basic, sub: Callable[[sp.Basic], tuple[frozenset, bool]]) -> tuple[frozenset, bool]:
    """``e``'s free symbols and whether it holds an ``Indexed``, from those of its parts."""
    if isinstance(e, sp.Symbol):
        return frozenset((e,)), False
    if isinstance(e, sp.Indexed):
        return frozenset().union(*[sub(a)[0] for a in e.indices]), True
    if isinstance(e, sp.IndexedBase) or not e.args:
        return frozenset(), False
    parts = [sub(a) for a in e.args if isinstance(a, sp.Basic)]
    syms = frozenset().union(*[s for s, _ in parts])
    indexed = any(r for _, r in parts)
    if isinstance(e, (sp.Sum, sp.Product, WindowMax, WindowArgmax)):
        bound = {lim[0] for lim in e.limits}
        bounds = frozenset().union(*[sub(lim[1])[0] | sub(lim[2])[0] for lim in e.limits])
        syms = (frozenset().union(*[sub(a)[0] for a in e.args if not isinstance(a, sp.Tuple)]) - bound) | bounds
        if isinstance(e, WindowArgmax):
            syms |= sub(e.position)[0]
    return syms, indexed


def handles(*classes: type) -> Callable[[Handler], Handler]:
    """Register a handler for ``classes`` (decorator)."""
    def put(fn: Handler) -> Handler:
        for cls in classes:
            _TABLE[cls] = fn
        return fn
    return put


def _handler(cls: type) -> Handler | None:
    """Ours where the reference evaluator would use the handler of the same class, else None: a class
    registered with the reference evaluator (``numeric.register``) is evaluated the reference's way."""
    for c in cls.__mro__:
        if c in _HANDLERS:
            return _TABLE.get(c)
    return None


def _fold(op: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Handler:
    def run(lw: Lowering, e: sp.Basic, scope: Scope) -> Node:
        def fold(*ts: torch.Tensor) -> torch.Tensor:
            out = ts[0]
            for t in ts[1:]:
                out = op(out, t)
            return out
        return lw.map(fold, e.args, scope, type(e).__name__)
    return run


def _elementwise(fn: Callable[..., torch.Tensor]) -> Handler:
    return lambda lw, e, scope: lw.map(fn, e.args, scope, type(e).__name__, as_float=True)


for _cls, _op in [(sp.StrictLessThan, torch.lt), (sp.LessThan, torch.le), (sp.StrictGreaterThan, torch.gt),
                  (sp.GreaterThan, torch.ge), (sp.Equality, torch.eq), (sp.Unequality, torch.ne),
                  (sp.And, torch.logical_and), (sp.Or, torch.logical_or), (sp.Xor, torch.logical_xor),
                  (sp.Max, torch.maximum), (sp.Min, torch.minimum), (sp.Mod, torch.remainder)]:
    _TABLE[_cls] = _fold(_op)
for _cls, _fn in _ELEMENTWISE.items():
    _TABLE[_cls] = _elementwise(_fn)
_TABLE[sp.Not] = lambda lw, e, scope: lw.map(torch.logical_not, e.args, scope, "Not")
_TABLE[Iverson] = lambda lw, e, scope: lw.map(lambda c: c.to(torch.float64), e.args, scope, "Iverson")
_TABLE[sp.KroneckerDelta] = lambda lw, e, scope: lw.map(lambda a, b: (a == b).to(torch.float64), e.args, scope, "δ")
_TABLE[sp.UnevaluatedExpr] = lambda lw, e, scope: lw.compile(e.args[0], scope)
_TABLE[sp.Heaviside] = lambda lw, e, scope: lw.map(
    lambda x: torch.heaviside(x, x.new_tensor(float(e.args[1]) if len(e.args) > 1 else 0.5)),
    e.args[:1], scope, "Heaviside", as_float=True)
_TABLE[sp.polygamma] = lambda lw, e, scope: lw.map(
    lambda x: torch.polygamma(int(e.args[0]), x), e.args[1:], scope, "polygamma", as_float=True)


@handles(sp.Symbol)
def _symbol(lw: Lowering, e: sp.Symbol, scope: Scope) -> Node:
    name = str(e)  # a 0-d tensor (an index variable of the scope reads no tensor: a constant)
    return Node(lambda ctx: Named(ctx.env[name].reshape(()), ()), name)


@handles(sp.Indexed)
def _indexed(lw: Lowering, e: sp.Indexed, scope: Scope) -> Node:
    name = str(e.base.label)
    if name not in lw.shapes:
        raise KeyError(name)
    node = compile_read(e, scope, lw.shapes[name], lambda p: lw.compile(p, scope))
    lw.holds(lw.free_in(e, scope), scope)
    return node


@handles(sp.Add)
def _add(lw: Lowering, e: sp.Add, scope: Scope) -> Node:
    # as the reference: rational coefficients over one denominator keep index arithmetic exact
    coeffs = [a.as_coeff_Mul() for a in e.args]
    denom = math.lcm(*[int(c.q) if c.is_Rational else 1 for c, _ in coeffs])
    if denom == 1:
        return _fold(torch.add)(lw, e, scope)
    parts = [(int(c * denom), lw.compile(r, scope)) if c.is_Rational else (denom, lw.compile(a, scope))
             for (c, r), a in zip(coeffs, e.args)]

    def run(ctx: Ctx) -> Named:
        out = Named(torch.zeros((), dtype=torch.float64, device=lw.device), ())
        for k, p in parts:
            out = combine(lambda a, b: a + b * k, out, p(ctx))
        return Named(out.t / denom, out.axes)
    return Node(run, "Add")


@handles(sp.Mul)
def _mul(lw: Lowering, e: sp.Mul, scope: Scope) -> Node:
    c, rest = e.as_coeff_Mul()
    if c.is_Rational and c.q != 1:  # (p·x)/q is exact where the result is an integer; x·(p/q) is not
        return lw.map(lambda t: t * int(c.p) / int(c.q), (rest,), scope, "Mul")
    gates = [lw.compile(a.args[0], scope) for a in e.args if isinstance(a, Iverson)]
    factors = [a for a in e.args if not isinstance(a, Iverson)]
    prod = _fold(torch.mul)(lw, sp.Mul(*factors, evaluate=False), scope) if len(factors) > 1 else \
        lw.compile(factors[0] if factors else sp.S.One, scope)
    if not gates:
        return prod

    def gate(cond: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        # a false [cond] absorbs NaN ([x not NaN]·x is 0 where x is NaN), not ±inf: 0·inf = NaN
        off = torch.where(torch.isinf(out), torch.full((), math.nan, dtype=out.dtype, device=out.device), 0.0)
        return torch.where(cond, out, off.to(out.dtype))

    def run(ctx: Ctx) -> Named:
        out = prod(ctx)
        for g in gates:
            out = combine(gate, g(ctx), out)
        return out
    return Node(run, "Mul")


@handles(sp.Pow)
def _pow(lw: Lowering, e: sp.Pow, scope: Scope) -> Node:
    base, ex = e.args
    if ex == sp.S.Half:
        return lw.map(torch.sqrt, (base,), scope, "sqrt")
    if ex.is_Integer:
        return lw.map(lambda b: b ** int(ex), (base,), scope, "Pow")
    return lw.map(lambda b, x: b ** x, (base, ex), scope, "Pow")


@handles(sp.Piecewise)
def _piecewise(lw: Lowering, e: sp.Piecewise, scope: Scope) -> Node:
    """The first branch whose condition holds; where none does, NaN (as the reference)."""
    branches = [(lw.compile(v, scope), None if c == sp.true else lw.compile(c, scope)) for v, c in e.args]

    def run(ctx: Ctx) -> Named:
        out = Named(torch.tensor(math.nan, dtype=torch.float64, device=lw.device), ())
        for value, cond in reversed(branches):
            out = value(ctx) if cond is None else combine(torch.where, cond(ctx), value(ctx), out)
        return out
    return Node(run, "Piecewise")


def _late() -> None:
    """The handlers that live in their own modules (they import this one)."""
    from symbolic_torch.numeric.compile import contract, windows  # noqa: F401


_late()
