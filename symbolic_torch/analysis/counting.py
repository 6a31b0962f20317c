"""Operation counts read off a step's forward formula: MACs, other arithmetic, parameters.

The conventions (every rendering states the first two):

- **1 MAC = one multiply–add**: a ``Σ`` whose term multiplies two or more tensor reads
  (``Σ_i W[o,i]·x[n,i]``; a power ``x²`` is ``x·x``) costs one MAC per term and per product of
  the term, for every value of the indices the sum depends on. Conv, linear, matmul/bmm and both
  contractions of attention (``QKᵀ`` and ``softmax·V``) count exactly what fvcore and
  ``torch.utils.flop_counter`` count; the ``Σx²`` of a normalization in training mode counts too.
- **FLOPs = 2 × MACs**, as ``torch.utils.flop_counter.FlopCounterMode`` counts.
- **Other ops** (``step_ops``): every other arithmetic node (an addition, product, division, power,
  function such as ``exp`` or ``tanh``, comparison reading a tensor, window maximum, the additions
  of a plain ``Σ``), counted once per value of the indices it depends on: an expression that does
  not depend on an output index is computed once, not once per output element (the mean of a
  LayerNorm is one sum per row), and a subexpression written twice (softmax's denominator) once.
  Index arithmetic (``x[n, 2i + p]``, ``⌊j/4⌋``) is addressing and costs nothing; a term under an
  ``[Iverson]`` bracket counts only where the bracket holds (a transposed convolution's strides).

Example::

    d = derive(nn.Conv2d(3, 64, 7, 2, 3, bias=False), torch.randn(1, 3, 224, 224), verify=False)
    step_macs(d[0]), step_params(d[0])     # (118013952, 9408)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import sympy as sp

from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax
from symbolic_torch.ir.derivation import Derivation
from symbolic_torch.ir.step import Step

CONVENTION = "1 MAC = one multiply–add; FLOPs = 2 × MACs, as torch.utils.flop_counter counts"

Bounds = tuple[sp.Expr, sp.Expr]


@dataclass(frozen=True)
class Cost:
    """What one formula costs: multiply–adds and the other arithmetic operations."""

    macs: int
    ops: int

    @property
    def flops(self) -> int:
        """2 × MACs (``FlopCounterMode``'s convention)."""
        return 2 * self.macs


def step_cost(step: Step) -> Cost:
    """The MACs and other ops of ``step``'s forward formula over its whole output."""
    scope = {i: (sp.S.Zero, sp.Integer(n - 1)) for i, n in zip(step.out_indices, step.out_shape)}
    counter = _Counter({o.symbol: o.shape for o in step.operands})
    counter.walk(step.forward.rhs, scope)
    return Cost(counter.macs, counter.ops)


def step_macs(step: Step) -> int:
    """Multiply–adds of ``step``'s forward formula (see the module's conventions).

    Example: ``step_macs(derive(nn.Linear(3, 2), torch.randn(4, 3), verify=False)[0])`` is
    24 (4·2·3).
    """
    return step_cost(step).macs


def step_ops(step: Step) -> int:
    """Arithmetic operations of ``step``'s forward formula other than its multiply–adds."""
    return step_cost(step).ops


def parameter_sizes(step: Step) -> dict[str, int]:
    """Element counts of the model parameters ``step`` reads, by parameter name.

    Parameters are those of the captured module (frozen ones included, as torchinfo counts
    them); an operand is one when its source is a parameter's name.
    """
    params = _parameters(step)
    return {o.source: params[o.source] for o in step.operands if o.source in params}


def step_params(step: Step) -> int:
    """Elements of the parameters ``step`` reads (a tied weight counts at each step that reads it;
    ``Summary`` counts each parameter once, at the first step that reads it).

    Example: ``step_params(derive(nn.Linear(3, 2), torch.randn(4, 3), verify=False)[0])`` is
    8 (2·3 + 2).
    """
    return sum(parameter_sizes(step).values())


def _parameters(step: Step) -> Mapping[str, int]:
    d = step.derivation
    if d is None:
        return {}
    gm = getattr(d.run, "gm", None)
    if gm is not None:
        return {n: p.numel() for n, p in gm.named_parameters(remove_duplicate=False)}
    return {n: d.values[n].numel() for n in parameter_names(d) if n in d.values}  # a loaded derivation


def parameter_names(d: Derivation) -> list[str]:
    """Every name of every model parameter, frozen and tied ones included (a loaded derivation
    keeps the list it was saved with)."""
    gm = getattr(d.run, "gm", None)
    if gm is not None:
        return [n for n, _ in gm.named_parameters(remove_duplicate=False)]
    return list(getattr(d.run, "parameters", d.param_names))


def _reads_tensor(e: sp.Basic) -> bool:
    """Does ``e`` read a tensor element or a 0-d tensor (anything but index arithmetic)?"""
    if isinstance(e, sp.Indexed):
        return True
    if isinstance(e, sp.Symbol):
        return not e.is_integer
    return any(_reads_tensor(a) for a in e.args)


def _factor_count(f: sp.Expr) -> int:
    """How many tensor reads a factor multiplies in: ``x²`` is two, anything else one."""
    if isinstance(f, sp.Pow) and f.exp.is_Integer and int(f.exp) >= 2 and _reads_tensor(f.base):
        return int(f.exp)
    return 1


class _Counter:
    """Walks one formula, counting each distinct subexpression once over its index domain."""

    def __init__(self, shapes: Mapping[str, tuple[int, ...]]) -> None:
        self.shapes = shapes
        self.macs = 0
        self.ops = 0
        self.seen: set[tuple] = set()

    def walk(self, e: sp.Basic, scope: dict[sp.Symbol, Bounds]) -> None:
        if not isinstance(e, sp.Basic) or e.is_Atom or isinstance(e, sp.Indexed) or not _reads_tensor(e):
            return
        key = _canonical(e, scope)
        if key in self.seen:
            return
        self.seen.add(key)
        if isinstance(e, sp.Sum):
            self._sum(e, e.function, e.limits, scope)
        elif isinstance(e, (WindowMax, sp.Product)):  # comparisons or products, as Σ has additions
            self._reduce(e, e.args[0], e.limits, scope)
        elif isinstance(e, WindowArgmax):
            return  # only in derived formulas: an indicator, no arithmetic of its own
        else:
            self.ops += _node_ops(e) * domain(e.free_symbols, scope)
            for a in e.args:  # a division x/y is one operation: y's reciprocal is not another
                self.walk(a.base if isinstance(e, sp.Mul) and isinstance(a, sp.Pow) and a.exp == -1 else a, scope)

    def _sum(self, e: sp.Basic, body: sp.Expr, limits: tuple, scope: dict[sp.Symbol, Bounds]) -> None:
        inner = dict(scope)
        for lim in limits:
            inner[lim[0]] = (lim[1], lim[2])
        factors = body.args if isinstance(body, sp.Mul) else (body,)
        brackets = [f.args[0] for f in factors if isinstance(f, Iverson)]
        reads = [f for f in factors if not isinstance(f, Iverson) and _reads_tensor(f)]
        if brackets:  # a scatter written as a gather: only products of elements that exist are made
            brackets += [c for f in reads for c in self._inside(f)]
        loops = body.free_symbols | {lim[0] for lim in limits} | e.free_symbols
        iterations = domain(loops, inner, brackets)
        outer = domain(e.free_symbols, scope)
        products = sum(_factor_count(f) for f in reads) - 1
        if products >= 1:
            self.macs += iterations * products
            scale = [f for f in factors if not isinstance(f, Iverson) and not _reads_tensor(f) and f != -1]
            self.ops += iterations if scale else 0
            for f in reads:
                self.walk(f.base if _factor_count(f) > 1 else f, inner)
        else:
            self.ops += max(iterations - outer, 0)
            self.walk(body, inner)

    def _inside(self, read: sp.Expr) -> list[sp.Basic]:
        """The conditions that the tensor element ``read`` exists (its indices within the shape)."""
        if not isinstance(read, sp.Indexed) or str(read.base.label) not in self.shapes:
            return []
        shape = self.shapes[str(read.base.label)]
        return [c for k, n in zip(read.indices, shape) if not k.is_Integer
                for c in (sp.Ge(k, 0), sp.Le(k, n - 1))]

    def _reduce(self, e: sp.Basic, body: sp.Expr, limits: tuple, scope: dict[sp.Symbol, Bounds]) -> None:
        """A reduction of ``n`` terms: ``n − 1`` operations per value of its free indices."""
        inner = {**scope, **{lim[0]: (lim[1], lim[2]) for lim in limits}}
        loops = body.free_symbols | {lim[0] for lim in limits} | e.free_symbols
        self.ops += max(domain(loops, inner) - domain(e.free_symbols, scope), 0)
        self.walk(body, inner)


def _node_ops(e: sp.Basic) -> int:
    """Arithmetic operations of one node (not of its arguments)."""
    if isinstance(e, sp.Add):
        return len(e.args) - 1
    if isinstance(e, sp.Mul):
        reads = [a for a in e.args if _reads_tensor(a) and not isinstance(a, Iverson)]
        scale = [a for a in e.args if not _reads_tensor(a) and a != -1 and not isinstance(a, Iverson)]
        return max(len(reads) - 1, 0) + (1 if scale else 0)  # constants fold into one; −x into its sum
    if isinstance(e, sp.Pow):
        n = e.exp
        return int(n) - 1 if n.is_Integer and int(n) >= 2 else 1
    if isinstance(e, (sp.Piecewise, sp.Tuple, Iverson)):
        return 0  # selection; its comparisons count as the relations they are
    if isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Rel):
        return 0
    return 1  # a function (exp, tanh, erf, max, …) or a comparison


def _canonical(e: sp.Basic, scope: Mapping[sp.Symbol, Bounds]) -> tuple:
    """``e`` with its index variables renamed by order of appearance (and keyed by their
    ranges): the values it takes over its domain do not depend on the names, so softmax's
    ``exp(x[n, i])`` and its denominator's ``exp(x[n, k])`` are one computation."""
    names: dict[sp.Symbol, sp.Symbol] = {}
    for s in sp.preorder_traversal(e):
        if isinstance(s, sp.Symbol) and s in scope and s not in names:
            names[s] = sp.Symbol(f"_i{len(names)}", integer=True)
    ranges = tuple((str(names[s]), scope[s]) for s in names)
    return (e.xreplace(names), ranges)


def domain(symbols: set[sp.Basic], scope: Mapping[sp.Symbol, Bounds], brackets: Sequence[sp.Basic] = ()) -> int:
    """How many values the index variables among ``symbols`` take together (the ranges in
    ``scope``, inclusive), where every condition of ``brackets`` holds.

    >>> i, j = sp.symbols("i j", integer=True)
    >>> domain({i, j}, {i: (0, 3), j: (0, i)})      # a triangle: 1 + 2 + 3 + 4
    10
    """
    scope = {s: (sp.sympify(lo), sp.sympify(hi)) for s, (lo, hi) in scope.items()}
    want = {s for s in symbols if s in scope}
    conds = [a for c in brackets for a in (c.args if isinstance(c, sp.And) else (c,))]
    tied = {s for s in want if not _numeric(scope[s])} | {s for c in conds for s in c.free_symbols if s in scope}
    tied = _closure(tied, scope)
    count = math.prod(int(scope[s][1]) - int(scope[s][0]) + 1 for s in want - tied)
    for group in _components(tied, scope, conds):
        if count == 0:
            break
        count *= _enumerate(group, scope, [c for c in conds if c.free_symbols & group])
    return max(count, 0)


def _numeric(bounds: Bounds) -> bool:
    return bounds[0].is_Integer and bounds[1].is_Integer


def _closure(symbols: set[sp.Symbol], scope: Mapping[sp.Symbol, Bounds]) -> set[sp.Symbol]:
    """``symbols`` and every index their ranges depend on."""
    out = set(symbols)
    todo = list(symbols)
    while todo:
        for t in _bound_symbols(todo.pop(), scope):
            if t not in out:
                out.add(t)
                todo.append(t)
    return out


def _bound_symbols(s: sp.Symbol, scope: Mapping[sp.Symbol, Bounds]) -> set[sp.Symbol]:
    return {t for t in scope[s][0].free_symbols | scope[s][1].free_symbols if t in scope}


def _components(symbols: set[sp.Symbol], scope: Mapping[sp.Symbol, Bounds],
                conds: list[sp.Basic]) -> list[set[sp.Symbol]]:
    """``symbols`` split into groups that no condition or range ties together (counted apart:
    a transposed convolution's rows and columns are two small grids, not one large one)."""
    groups: list[set[sp.Symbol]] = [{s} for s in symbols]
    links = [{t for t in c.free_symbols if t in symbols} for c in conds]
    links += [{s} | _bound_symbols(s, scope) for s in symbols]
    for link in links:
        hit = [g for g in groups if g & link]
        merged = set().union(*hit) if hit else set()
        groups = [g for g in groups if not g & link] + ([merged] if merged else [])
    return groups


def _enumerate(symbols: set[sp.Symbol], scope: Mapping[sp.Symbol, Bounds], conds: list[sp.Basic]) -> int:
    """Count lattice points with the evaluator: ``Π[cond]`` summed over a box that holds every
    range (a range that depends on another index becomes two more conditions)."""
    from symbolic_torch.numeric.evaluate import evaluate  # the numeric seam
    box: dict[sp.Symbol, tuple[int, int]] = {}
    conds = list(conds)
    while len(box) < len(symbols):
        ready = [s for s in symbols if s not in box and _bound_symbols(s, scope) <= set(box)]
        for s in sorted(ready, key=str):
            lo, hi = scope[s]
            box[s] = (_extreme(lo, box, True), _extreme(hi, box, False))
            if not _numeric(scope[s]):
                conds += [sp.Ge(s, lo), sp.Le(s, hi)]
    term = sp.Mul(*[Iverson(c) for c in conds]) if conds else sp.S.One
    free = [(s, lo, hi) for s, (lo, hi) in box.items()]
    if any(hi < lo for _, lo, hi in free):
        return 0
    return int(round(float(evaluate(term, {}, free).sum())))


def _extreme(bound: sp.Expr, box: Mapping[sp.Symbol, tuple[int, int]], lowest: bool) -> int:
    """The least (``lowest``) or greatest value of ``bound`` over ``box``."""
    from symbolic_torch.numeric.evaluate import evaluate
    if bound.is_Integer:
        return int(bound)
    free = [(s, *box[s]) for s in sorted(bound.free_symbols, key=str) if s in box]
    values = evaluate(bound, {}, free)
    return int((values.min() if lowest else values.max()).item())
