"""Discrete calculus along a dim: differences (diff), the trapezoid rule and its running sum,
and the triangular masks tril/triu."""
from __future__ import annotations

from math import comb
from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules.norms import broadcast_read

POOL = "ijklmuvw"


def _at(x: Operand, idx: list[sp.Expr], d: int, pos: sp.Expr) -> sp.Expr:
    read = list(idx)
    read[d] = pos
    return x[tuple(read)]


@rule("diff", functions=[torch.diff], methods=["diff"], latex=r"\Delta")
def diff(call: Call, input: Any, n: int = 1, dim: int = -1, prepend: Any = None, append: Any = None) -> sp.Expr:
    """y[…i…] = Σ_{k=0}^{n} (−1)^{n−k} C(n, k)·z[…i+k…], z = cat(prepend, x, append) along dim.

    z is read as Σ_b block_b[…pos − offset_b…]: a block read outside its own range is 0.
    """
    parts = [(prepend, "prepend", "p"), (input, "input", "x"), (append, "append", "a")]
    ops = [(call.operand(t, key, sym) if t is not None else None) for t, key, sym in parts]
    x = ops[1]
    idx = list(call.out(*[POOL[k] for k in range(x.ndim)]))
    if n == 0 or call.out_value.numel() == 0:
        return x[tuple(idx)] if n == 0 else sp.S.Zero
    d = norm_dim(dim, x.ndim)
    blocks, offset = [], 0
    for op in ops:
        if op is not None:
            blocks.append((op, offset))
            offset += op.shape[d]

    def z(pos: sp.Expr) -> sp.Expr:
        return sum((_at(op, idx, d, pos - off) for op, off in blocks), sp.S.Zero)
    return sum(((-1) ** (n - k) * comb(n, k) * z(idx[d] + k) for k in range(n + 1)), sp.S.Zero)


def _spacing(call: Call, yo: Operand, x: Any, dx: Any, d: int) -> Any:
    """``step(idx, i)``: x[i+1] − x[i] (x 1-d, or broadcast against y), or the constant dx."""
    xo = call.operand(x, "x", "x") if x is not None else None

    def step(idx: list[sp.Expr], i: sp.Expr) -> sp.Expr:
        if xo is None:
            return call.scalar(dx if dx is not None else 1)
        if xo.ndim == 1:
            return xo[i + 1] - xo[i]
        shape = torch.broadcast_shapes(xo.shape, yo.shape)
        hi, lo = list(idx), list(idx)
        hi[d], lo[d] = i + 1, i
        return broadcast_read([xo], shape, hi)[0] - broadcast_read([xo], shape, lo)[0]
    return step


def _panel(yo: Operand, idx: list[sp.Expr], d: int, i: sp.Expr) -> sp.Expr:
    return (_at(yo, idx, d, i + 1) + _at(yo, idx, d, i)) / 2


@rule("trapezoid", functions=[torch.trapezoid, torch.trapz], latex=r"\int")
def trapezoid(call: Call, y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> sp.Expr:
    """y[…] = Σ_i (x[i+1] − x[i])·(y[…i+1…] + y[…i…])/2 (or dx for the spacing)."""
    if x is not None and not hasattr(x, "value"):  # trapz(y, dx, dim) positionally
        x, dx = None, x
    yo = call.operand(y, "y", "y")
    d = norm_dim(dim, yo.ndim)
    step = _spacing(call, yo, x, dx, d)
    out = list(call.out(*[POOL[k] for k in range(yo.ndim - 1)]))
    i = sp.Symbol("i'", integer=True)
    idx = out[:d] + [i] + out[d:]
    return call.sum(step(idx, i) * _panel(yo, idx, d, i), (i, yo.shape[d] - 1))


@rule("cumulative_trapezoid", functions=[torch.cumulative_trapezoid], latex=r"\int")
def cumulative_trapezoid(call: Call, y: Any, x: Any = None, *, dx: Any = None, dim: int = -1) -> sp.Expr:
    """y[…k…] = Σ_{i ≤ k} (x[i+1] − x[i])·(y[…i+1…] + y[…i…])/2."""
    yo = call.operand(y, "y", "y")
    d = norm_dim(dim, yo.ndim)
    step = _spacing(call, yo, x, dx, d)
    out = list(call.out(*[POOL[k] for k in range(yo.ndim)]))
    i = sp.Symbol("i'", integer=True)
    idx = list(out)
    idx[d] = i
    return call.sum(Iverson(i <= out[d]) * step(idx, i) * _panel(yo, idx, d, i), (i, yo.shape[d] - 1))


def _triangle(lower: bool) -> Any:
    def impl(call: Call, input: Any, diagonal: int = 0) -> sp.Expr:
        x = call.operand(input, "input", "x")
        idx = call.default_out()
        r, c = idx[-2], idx[-1]
        keep = (c - r <= diagonal) if lower else (c - r >= diagonal)
        return sp.Piecewise((x[idx], keep), (0, True))
    impl.__doc__ = f"y[…, r, c] = x[…, r, c] where c − r {'≤' if lower else '≥'} k, else 0."
    return impl


rule("tril", functions=[torch.tril], methods=["tril"], latex=r"\operatorname{tril}")(_triangle(True))
rule("triu", functions=[torch.triu], methods=["triu"], latex=r"\operatorname{triu}")(_triangle(False))
