"""Σ as contractions: a sum of products of reads is one ``torch.einsum``; guards are masks.

``Σ_{c,p,q} w[o,c,p,q]·x[n,c,s·i+p−1,s·j+q−1]`` is an einsum of ``w`` with a strided view of
``x`` (``compile.reads``). A guard, the ``[cond]`` of a Piecewise with a 0 branch or an
Iverson bracket, is a 0/1 operand of the same einsum, one per conjunct (range and
divisibility conditions are small constants over the index variables they name). A mask may
only multiply finite values (0·NaN is NaN, but a false guard means 0): each run checks that
the factors are finite and otherwise evaluates the body elementwise with ``where``, as the
reference evaluator does. Like the reference, a sum of terms is summed term by term and
factors free of the summation variables are taken out.
"""
from __future__ import annotations

import math
import string
from typing import Callable

import sympy as sp
import torch

from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.numeric.compile.lowering import Lowering, Unsupported, handles
from symbolic_torch.numeric.compile.named import Ctx, Named, Node, Scope, combine, union

Limits = list[tuple[sp.Symbol, int, int]]
Guard = tuple[str, sp.Basic]  # ("piecewise" | "iverson", condition)


def bind(lw: Lowering, body: sp.Basic, limits: sp.Tuple, scope: Scope) -> tuple[sp.Basic, Limits, dict]:
    """``body`` and its integer ``limits``, a variable that shadows one of ``scope`` renamed, and the
    scope inside."""
    out: Limits = []
    for sym, lo, hi in limits:
        if not (lo.is_Integer and hi.is_Integer):
            raise Unsupported("bounds that are not integers")
        if sym in scope:
            fresh = sp.Dummy(str(sym), integer=True)
            body, sym = body.xreplace({sym: fresh}), fresh
        out.append((sym, int(lo), int(hi)))
    return body, out, {**scope, **{s: (lo, hi) for s, lo, hi in out}}


@handles(sp.Sum)
def compile_sum(lw: Lowering, e: sp.Sum, scope: Scope) -> Node:
    """Σ over the limits of the body (0 over an empty range)."""
    body, limits, inner = bind(lw, e.function, e.limits, scope)
    if any(hi < lo for _, lo, hi in limits):
        return lw.constant(sp.S.Zero, scope)
    return _sum_of(lw, body, limits, scope, inner)


def _sum_of(lw: Lowering, f: sp.Basic, limits: Limits, scope: Scope, inner: Scope) -> Node:
    bound = {s for s, _, _ in limits}
    if isinstance(f, sp.Add) and f.free_symbols & bound:
        parts = [_sum_of(lw, t, limits, scope, inner) for t in f.args]
        return Node(lambda ctx: _total([p(ctx) for p in parts]), "Σ terms")
    if isinstance(f, sp.Mul) and not any(isinstance(a, Iverson) for a in f.args):  # [cond] absorbs NaN: keep whole
        outside = [a for a in f.args if not (a.free_symbols & bound)]
        inside = [a for a in f.args if a.free_symbols & bound]
        if outside and inside:
            out, rest = lw.compile(sp.Mul(*outside), scope), _sum_of(lw, sp.Mul(*inside), limits, scope, inner)
            return Node(lambda ctx: combine(torch.mul, out(ctx), rest(ctx)), "factor·Σ")
    return _contraction(lw, f, limits, inner)


def _total(values: list[Named]) -> Named:
    out = values[0]
    for v in values[1:]:
        out = combine(torch.add, out, v)
    return out


def factors(f: sp.Basic) -> tuple[list[sp.Basic], list[Guard]]:
    """``f`` as a product of factors under guards: Piecewise((g, c), (0, True)) guards g by c
    (each conjunct of c apart), an Iverson bracket guards the rest of its product."""
    if isinstance(f, sp.Piecewise) and len(f.args) == 2 and f.args[1].cond == sp.true and f.args[1].expr == 0:
        inner, guards = factors(f.args[0].expr)
        cond = f.args[0].cond
        return inner, [("piecewise", c) for c in (cond.args if isinstance(cond, sp.And) else (cond,))] + guards
    if isinstance(f, sp.Mul):
        out: list[sp.Basic] = []
        guards: list[Guard] = []
        for a in f.args:
            if isinstance(a, Iverson):
                guards.append(("iverson", a.args[0]))
            else:
                sub, more = factors(a)
                out += sub
                guards += more
        return out, guards
    return [f], []


def _contraction(lw: Lowering, f: sp.Basic, limits: Limits, inner: Scope) -> Node:
    parts, guards = factors(f)
    operands = [lw.compile(p, inner) for p in parts]
    groups: dict[frozenset, list[sp.Basic]] = {}  # conjuncts over the same variables: one mask
    for _, cond in guards:
        groups.setdefault(frozenset(lw.symbols(cond)[0]), []).append(cond)
    masks = [lw.compile(sp.And(*conds), inner) for conds in groups.values()]
    generic = lw.compile(f, inner)  # the body elementwise: where a factor is not finite
    plans: dict[tuple, Callable[..., torch.Tensor]] = {}

    def run(ctx: Ctx) -> Named:
        values = [o(ctx) for o in operands]
        if all(v.finite() for v in values):
            return einsum(values + [m(ctx).float() for m in masks], limits, inner, plans)
        return reduce(generic(ctx), limits, inner)
    return Node(run, "einsum")


def einsum(values: list[Named], limits: Limits, inner: Scope, plans: dict | None = None) -> Named:
    """Σ over ``limits`` of the product of ``values`` (one einsum; a variable no value reads scales).

    The contraction order is planned once per operand shapes (opt_einsum, when installed) and
    kept in ``plans``: a program runs the same contraction every time.
    """
    values = _oriented([v.float() for v in values])
    axes = union(*values)
    if len(axes) > len(string.ascii_letters):
        raise Unsupported("more index variables than einsum letters")
    letter = dict(zip(axes, string.ascii_letters))
    bound = {s for s, _, _ in limits}
    out = tuple(a for a in axes if a not in bound)
    spec = ",".join("".join(letter[a] for a in v.axes) for v in values) + "->" + "".join(letter[a] for a in out)
    key = (spec,) + tuple(tuple(v.t.shape) for v in values)
    plan = None if plans is None else plans.get(key)
    if plan is None:
        plan = _plan(spec, [tuple(v.t.shape) for v in values])
        if plans is not None:
            plans[key] = plan
    back = tuple(a for a in out if any(a in v.rev for v in values))  # an output axis read reversed
    return _scaled(Named(plan(*[v.t for v in values]), out, rev=back), limits, axes, inner)


def _oriented(values: list[Named]) -> list[Named]:
    """``values`` with each shared axis running the same way in all of them: a reversed axis (a
    read with a negative stride) stays reversed where the reversed operands are the larger, and
    the smaller operands are flipped instead (Σ_p w[p]·x[c − p] without copying the view of x)."""
    order: dict[sp.Symbol, bool] = {}
    for a in union(*values):
        weight = {True: 0, False: 0}
        for v in values:
            if a in v.axes:
                weight[a in v.rev] += v.t.numel()
        order[a] = weight[True] > weight[False]
    out = []
    for v in values:
        dims = [k for k, a in enumerate(v.axes) if (a in v.rev) != order[a]]
        out.append(Named(v.t.flip(dims) if dims else v.t, v.axes, v.base,
                         tuple(a for a in v.axes if order[a])) if dims or v.rev else v)
    return out


def _plan(spec: str, shapes: list[tuple[int, ...]]) -> Callable[..., torch.Tensor]:
    """The contraction ``spec`` of operands of ``shapes`` as a function of the operands."""
    if len(shapes) > 2:
        try:
            import opt_einsum
        except ImportError:  # torch.einsum contracts left to right
            pass
        else:
            expr = opt_einsum.contract_expression(spec, *shapes, optimize="greedy" if len(shapes) > 6 else "optimal")
            return lambda *ts: expr(*ts, backend="torch")
    return lambda *ts: torch.einsum(spec, *ts)


def reduce(v: Named, limits: Limits, inner: Scope) -> Named:
    """Σ over ``limits`` of ``v`` (computed elementwise over them)."""
    v = v.float()
    bound = {s for s, _, _ in limits}
    dims = [k for k, a in enumerate(v.axes) if a in bound]
    t = v.t.sum(dim=dims) if dims else v.t
    rest = tuple(a for a in v.axes if a not in bound)
    return _scaled(Named(t, rest, rev=tuple(a for a in v.rev if a in rest)), limits, v.axes, inner)


def _scaled(v: Named, limits: Limits, seen: tuple, inner: Scope) -> Named:
    """``v`` times the size of each summation range that no value depends on."""
    scale = math.prod(hi - lo + 1 for s, lo, hi in limits if s not in seen)
    return v if scale == 1 else Named(v.t * scale, v.axes, rev=v.rev)
