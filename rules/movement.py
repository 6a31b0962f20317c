"""Data movement: ops whose every output element is one input element (or 0).

flip, roll, narrow, select, x[…], diagonal, unfold, gather, take, expand, repeat, stack, …
all say only *where each output element comes from*. The builder ``moved(fn)`` asks
the op itself: it runs ``fn`` on tensors holding their own coordinates (and on tensors
holding their input's number), which gives, per input and per input dim, the
coordinate each output element reads. Each coordinate table is then written as an
affine index expression when one fits (flip: x[4 − i]; narrow: x[i, j + 2]; diagonal:
x[i, i + 1]), else as a read through a constant integer table C (gather: x[C[i, j], j]).
Where an input supplies only part of the output (stack, a scatter's source) a box
condition says which part. The formula is checked against the op's real output: an op
that does arithmetic is refused, not mis-described.
"""
from __future__ import annotations

from typing import Any, Callable, Iterator, Sequence

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.ir.primitives import Iverson

Table = torch.Tensor  # int64, the output's shape; −1 where the input supplies nothing


def data_args(args: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], TensorArg]]:
    """The floating-point tensors among a node's arguments, with where they sit."""
    if isinstance(args, TensorArg):
        if args.value.is_floating_point():
            yield path, args
    elif isinstance(args, (list, tuple)):
        for k, a in enumerate(args):
            yield from data_args(a, path + (k,))
    elif isinstance(args, dict):
        for k, a in args.items():
            yield from data_args(a, path + (k,))


def substitute(args: Any, values: dict[tuple[Any, ...], torch.Tensor], path: tuple[Any, ...] = ()) -> Any:
    """``args`` with the data tensor at each path replaced, every other TensorArg by its value."""
    if path in values:
        return values[path]
    if isinstance(args, TensorArg):
        return args.value
    if isinstance(args, (list, tuple)):
        return type(args)(substitute(a, values, path + (k,)) for k, a in enumerate(args))
    if isinstance(args, dict):
        return {k: substitute(a, values, path + (k,)) for k, a in args.items()}
    return args


def _key(path: tuple[Any, ...]) -> str:
    """torch's name for an operand: ``input``, ``tensors.k`` for list items, a keyword, or ``argk``."""
    if path == (0, 0):
        return "input"
    if path[:2] == (0, 0):
        return "tensors." + ".".join(str(p) for p in path[2:])
    if path[0] == 1:
        return str(path[1])
    return "arg" + ".".join(str(p) for p in path[1:])


OFFSETS = (1.0, 1e6)  # each code is written twice, shifted: a decoded value must agree in both runs


def sources(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any],
            data: Sequence[tuple[tuple[Any, ...], TensorArg]]) -> tuple[list[list[Table]], torch.Tensor]:
    """Per data input m: per dim d of it, the coordinate along d each output element reads (−1:
    none), then the mask of elements it supplies; and the mask of elements no input affects.

    Inputs are replaced by tensors holding codes (their number, or their coordinates along one
    dim) shifted by each of ``OFFSETS``; an element whose decoded code differs between the two
    shifts is computed, not moved, and counts as supplied by no input.
    """
    outs: list[torch.Tensor] = []

    def decode(code: Callable[[int, TensorArg], torch.Tensor]) -> torch.Tensor:
        got = []
        for off in OFFSETS:
            a, k = substitute((args, kwargs), {p: code(m, t) + off for m, (p, t) in enumerate(data)})
            with torch.no_grad():
                outs.append(fn(*a, **k).to(torch.float64))
            got.append(outs[-1] - off)
        return torch.where(got[0] == got[1], got[0].round(), -1.0).long()

    who = decode(lambda m, t: torch.full(t.shape, float(m), dtype=torch.float64))
    rank = max((t.ndim for _, t in data), default=0)
    coords = [decode(lambda m, t, d=d: _coordinate(t, d)) for d in range(rank)]
    constant = torch.stack(outs).eq(outs[0]).all(dim=0)
    tables = []
    for m, (_, t) in enumerate(data):
        mine = who == m
        for d in range(t.ndim):
            mine &= coords[d] >= 0
        tables.append([torch.where(mine, coords[d], -1) for d in range(t.ndim)] + [mine])
    return tables, constant


def _coordinate(t: TensorArg, d: int) -> torch.Tensor:
    """A tensor of ``t``'s shape holding each element's coordinate along dim ``d`` (0 if no such dim)."""
    if d >= t.ndim:
        return torch.zeros(t.shape, dtype=torch.float64)
    shape = [1] * t.ndim
    shape[d] = t.shape[d]
    return torch.arange(t.shape[d], dtype=torch.float64).reshape(shape).expand(t.shape).clone()


def _grid(shape: Sequence[int]) -> list[torch.Tensor]:
    return list(torch.meshgrid(*[torch.arange(n) for n in shape], indexing="ij")) if shape else []


def affine(table: Table, valid: torch.Tensor, idx: Sequence[sp.Symbol], size: int) -> sp.Expr | None:
    """An index expression equal to ``table`` wherever ``valid``, or None.

    ``b + Σ_k a_k·idx_k`` (integers, from differences along each dim), else, when the
    table varies along one output dim k only, ``(idx_k + b) mod size`` or ``⌊idx_k / r⌋``.
    """
    if not bool(valid.any()):
        return None
    grid = _grid(table.shape)
    coef = []
    for k in range(table.ndim):
        pair = valid.narrow(k, 0, table.shape[k] - 1) & valid.narrow(k, 1, table.shape[k] - 1)
        step = table.diff(dim=k)[pair]
        coef.append(int(step[0]) if len(step) else 0)
    ref = tuple(valid.nonzero()[0].tolist())
    b = int(table[ref]) - sum(a * r for a, r in zip(coef, ref))
    candidates = [b + sum((a * i for a, i in zip(coef, idx)), sp.S.Zero)]
    varying = [k for k, a in enumerate(coef) if a != 0 or bool((table.diff(dim=k)[valid.narrow(
        k, 0, table.shape[k] - 1) & valid.narrow(k, 1, table.shape[k] - 1)] != 0).any())]
    if len(varying) == 1:
        k = varying[0]
        first = table[valid][0] if not ref[k] else int(table[ref]) - ref[k]
        candidates += [sp.Mod(idx[k] + int(first), size)] + \
            [sp.floor(idx[k] / r) for r in range(2, table.shape[k] + 1)]
    for e in candidates:
        fit = _value_of(e, idx, grid, table.shape)
        if bool((fit[valid] == table[valid]).all()):
            return e
    return None


def _value_of(e: sp.Expr, idx: Sequence[sp.Symbol], grid: Sequence[torch.Tensor], shape: Sequence[int]) -> torch.Tensor:
    f = sp.lambdify(list(idx), e, modules=[{"floor": torch.floor, "Mod": torch.remainder}, "math"])
    out = f(*[g.double() for g in grid]) if idx else f()
    return torch.as_tensor(out, dtype=torch.float64).expand(*shape).round().long() if shape else \
        torch.as_tensor(out, dtype=torch.float64).round().long()


def box(valid: torch.Tensor, idx: Sequence[sp.Symbol]) -> sp.Basic | None:
    """``valid`` as ``lo_k ≤ idx_k ≤ hi_k`` conditions when it is a box, else None."""
    if not bool(valid.any()):
        return sp.false
    conds = []
    ranges = []
    for k, n in enumerate(valid.shape):
        hit = valid.any(dim=[j for j in range(valid.ndim) if j != k]) if valid.ndim > 1 else valid
        where = hit.nonzero().flatten()
        lo, hi = int(where.min()), int(where.max())
        ranges.append((lo, hi))
        if lo == hi and n > 1:
            conds.append(sp.Eq(idx[k], lo))
        elif lo > 0 or hi < n - 1:
            conds.append(sp.And(idx[k] >= lo, idx[k] <= hi))
    full = torch.ones(valid.shape, dtype=torch.bool)
    for k, (lo, hi) in enumerate(ranges):
        g = _grid(valid.shape)[k]
        full &= (g >= lo) & (g <= hi)
    if not bool((full == valid).all()):
        return None
    return sp.And(*conds) if conds else sp.true


def read(call: Call, m: int, x: Any, tables: list[Table], idx: Sequence[sp.Symbol], many: bool) -> sp.Expr:
    """Input ``x`` read where the tables say, times the condition that it supplies the element."""
    valid = tables[-1]
    if not bool(valid.any()):
        return sp.S.Zero
    where = box(valid, idx)
    at = []
    for d, table in enumerate(tables[:-1]):
        e = affine(table, valid, idx, x.shape[d]) if where is not None else None
        if e is None:
            where = sp.true  # a table read is out of range, hence 0, where the input supplies nothing
            e = call.operand(table, f"index{m}.{d}", f"C{m}_{d}" if m or many else f"C{d}")[tuple(idx)]
        at.append(e)
    value = x[tuple(at)]
    if where is None:  # an affine read of an irregular part: a constant 0/1 mask
        return value * call.operand(valid.double(), f"mask{m}", f"V{m}")[tuple(idx)]
    return value * Iverson(where) if where != sp.true else value


def moved(fn: Callable[..., Any], doc: str) -> Callable[..., sp.Expr]:
    """The formula builder for a data-movement op computed by ``fn`` (a method call by the method)."""
    function = fn

    def impl(call: Call, *args: Any, **kwargs: Any) -> sp.Expr:
        name = call.target[len("Tensor."):] if call.target.startswith("Tensor.") else None
        whole = (lambda x, *a, **k: getattr(x, name)(*a, **k)) if name else function  # x.flip(0) ≠ torch.flip(x, 0)
        item = call.item
        fn = whole if item is None else (lambda *a, **k: whole(*a, **k)[item])  # one item of a tuple-valued op
        data = list(data_args((args, kwargs)))
        many = len(data) > 1
        xs = [call.operand(t, _key(p), f"x{m}" if many else "x") for m, (p, t) in enumerate(data)]
        tables, constant = sources(fn, args, kwargs, data)
        idx = call.default_out()
        rhs = sum((read(call, m, x, tables[m], idx, many) for m, x in enumerate(xs)), sp.S.Zero)
        got, want = call.evaluate(rhs), call.out_value.detach().to(torch.float64)
        rest = torch.where(_same(got, want), 0.0, want - got)
        if bool((rest != 0).any()):  # elements no input affects: filled constants
            if not bool(constant[rest != 0].all()):
                raise NotImplementedError("the op computes, it does not only move data")
            rhs += call.operand(torch.where(constant, rest, 0.0), "fill", "K")[tuple(idx)]
        if not bool(_same(call.evaluate(rhs), call.out_value).all()):
            raise NotImplementedError("the op is not a pure data movement here")
        return rhs
    impl.__doc__ = doc
    return impl


def _same(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    want = want.detach().to(torch.float64)
    return (got == want) | (torch.isnan(got) & torch.isnan(want))
