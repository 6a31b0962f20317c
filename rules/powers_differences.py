"""Matrix powers (linalg.matrix_power), finite-difference gradients (torch.gradient), and zero_.

A^n for n ≥ 2 is written out as the product chain Σ_{k₁…k_{n−1}} A[i, k₁]·A[k₁, k₂]·…·A[k_{n−1}, j];
its evaluation visits m^{n−1} terms per element, so large powers of large matrices are refused
(as are negative powers of matrices larger than 1×1: they need the inverse). torch.gradient's
estimate along a dim is a linear combination of at most three reads of the input: central
differences inside (for coordinates, the second-order formula with unequal steps h_l, h_r),
one-sided first- or second-order differences at the two ends.
"""
from __future__ import annotations

import numbers
from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand, TensorArg
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules._vocab import names


@rule("matrix_power", functions=[torch.linalg.matrix_power, torch.matrix_power], methods=["matrix_power"],
      latex=r"A^{n}")
def matrix_power(call: Call, input: Any, n: int) -> sp.Expr:
    """y[…, i, j] = [i = j] (n = 0); Σ_{k₁…k_{n−1}} A[…, i, k₁]·A[…, k₁, k₂]·…·A[…, k_{n−1}, j] (n ≥ 1);
    a 1×1 A: y = A[…, 0, 0]^n for any integer n."""
    a = call.operand(input, "input", "A")
    idx = call.out(*names(a.ndim, ["i", "j"], pool="bcde"))
    batch, i, j = idx[:-2], idx[-2], idx[-1]
    m = a.shape[-1]
    if call.out_value.numel() == 0:
        return sp.S.Zero
    if n == 0:
        return Iverson(sp.Eq(i, j))
    if m == 1:  # a scalar: its inverse is 1/a
        return a[batch + (0, 0)] ** n
    if n < 0:
        raise NotImplementedError(f"matrix_power with n = {n} < 0 needs the inverse of a {m}×{m} matrix, "
                                  "which has no index formula here")
    if m ** (n - 1) > call.max_terms:
        raise NotImplementedError(f"matrix_power(n = {n}) of a {m}×{m} matrix: the product chain sums "
                                  f"m^(n−1) = {m ** (n - 1)} terms per element, too many to evaluate")
    ks = [sp.Symbol(f"k{t}", integer=True) for t in range(1, n)]
    chain = [i] + ks + [j]
    body = sp.Mul(*[a[batch + (chain[t], chain[t + 1])] for t in range(n)])
    return call.sum(body, *[(k, m) for k in ks]) if ks else body


def _spacing_of(spacing: Any, k: int) -> Any:
    """The spacing of the k-th differentiated dim: a number, or a coordinate tensor."""
    if spacing is None:
        return 1.0
    if isinstance(spacing, (list, tuple)):
        return spacing[k] if len(spacing) > 1 else spacing[0]
    return spacing


@rule("gradient", functions=[torch.gradient], latex=r"\nabla", multi_output=True)
def gradient(call: Call, input: Any, *, spacing: Any = None, dim: Any = None, edge_order: int = 1) -> sp.Expr:
    """y_k[…i…] along dim d_k: (f[i+1] − f[i−1])/2h inside (coordinates c: (h_l²·f[i+1] − h_r²·f[i−1]
    + (h_r² − h_l²)·f[i])/(h_l·h_r·(h_l + h_r))), one-sided differences of edge_order 1 or 2 at the ends."""
    f = call.operand(input, "input", "f")
    dims = list(range(f.ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    k = call.item or 0
    d = norm_dim(dims[k], f.ndim)
    step = _spacing_of(spacing, k)
    idx = call.default_out()
    i, n = idx[d], f.shape[d]

    def at(pos: Any) -> sp.Expr:
        return f[idx[:d] + (pos,) + idx[d + 1:]]
    if isinstance(step, (TensorArg, torch.Tensor)):
        c = call.operand(step, f"spacing.{k}", "c")
        if c.ndim == 0:  # a 0-d tensor is a step, not coordinates
            return _uniform(at, i, n, c[()], edge_order)
        return _coordinates(at, c, i, n, edge_order)
    if not isinstance(step, numbers.Real):
        raise NotImplementedError(f"gradient with spacing {step!r}")
    return _uniform(at, i, n, call.scalar(step), edge_order)


def _uniform(at: Any, i: sp.Symbol, n: int, h: sp.Expr, edge_order: int) -> sp.Expr:
    if edge_order == 1:
        first, last = (at(1) - at(0)) / h, (at(n - 1) - at(n - 2)) / h
    else:
        first = (-3 * at(0) + 4 * at(1) - at(2)) / (2 * h)
        last = (3 * at(n - 1) - 4 * at(n - 2) + at(n - 3)) / (2 * h)
    return sp.Piecewise((first, sp.Eq(i, 0)), (last, sp.Eq(i, n - 1)), ((at(i + 1) - at(i - 1)) / (2 * h), True))


def _coordinates(at: Any, c: Operand, i: sp.Symbol, n: int, edge_order: int) -> sp.Expr:
    hl, hr = c[i] - c[i - 1], c[i + 1] - c[i]
    inside = (hl ** 2 * at(i + 1) - hr ** 2 * at(i - 1) + (hr ** 2 - hl ** 2) * at(i)) / (hl * hr * (hl + hr))
    if edge_order == 1:
        first = (at(1) - at(0)) / (c[1] - c[0])
        last = (at(n - 1) - at(n - 2)) / (c[n - 1] - c[n - 2])
    else:
        a1, a2 = c[1] - c[0], c[2] - c[1]
        first = (-(2 * a1 + a2) / (a1 * (a1 + a2)) * at(0) + (a1 + a2) / (a1 * a2) * at(1)
                 - a1 / (a2 * (a1 + a2)) * at(2))
        b1, b2 = c[n - 2] - c[n - 3], c[n - 1] - c[n - 2]
        last = (b2 / (b1 * (b1 + b2)) * at(n - 3) - (b1 + b2) / (b1 * b2) * at(n - 2)
                + (2 * b2 + b1) / (b2 * (b1 + b2)) * at(n - 1))
    return sp.Piecewise((first, sp.Eq(i, 0)), (last, sp.Eq(i, n - 1)), (inside, True))


@rule("zero_", functions=[torch.zero_], methods=["zero_", "zero"], latex="0")  # aten.zero after export
def zero_(call: Call, input: Any) -> sp.Expr:
    """y[i…] = 0 (x overwritten in place: no gradient reaches it)."""
    call.default_out()
    return sp.S.Zero
