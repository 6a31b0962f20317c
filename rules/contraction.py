"""Tensor contractions: einsum (its equation parsed into index form) and the products built on it.

``contract(call, [(x, "ij"), (w, "jk")], "ik")`` is y[i, k] = Σ_j x[i, j]·w[j, k]: each label
is an index named by its letter, labels missing from the output are summed, and a size-1 dim
read against a larger one is broadcast (read at 0). mv, dot, inner, outer, addmm, addmv,
addr, baddbmm, addbmm, tensordot, vecdot, multi_dot, bilinear are one contraction each.
"""
from __future__ import annotations

import string
from typing import Any, Sequence

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules.linalg import matmul

Labelled = tuple[Operand, str]


def contract(call: Call, terms: Sequence[Labelled], out: str) -> sp.Expr:
    """y[out] = Σ_{labels not in out} Π_m x_m[labels_m] (size-1 dims broadcast)."""
    sizes: dict[str, int] = {}
    for x, labels in terms:
        for c, n in zip(labels, x.shape):
            sizes[c] = max(sizes.get(c, 1), n) if n != 0 else 0
    idx = dict(zip(out, call.out(*out))) if out else {}
    summed = sorted({c for _, labels in terms for c in labels} - set(out))
    idx.update({c: sp.Symbol(c, integer=True) for c in summed})
    body = sp.S.One
    for x, labels in terms:
        read = tuple(sp.S.Zero if n == 1 and sizes[c] != 1 else idx[c] for c, n in zip(labels, x.shape))
        body *= x[read] if read else x[()]
    return call.sum(body, *[(idx[c], sizes[c]) for c in summed]) if summed else body


def parse(equation: str, ranks: Sequence[int]) -> tuple[list[str], str]:
    """Operand labels and output labels of an einsum equation, "..." expanded to fresh letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    parts = lhs.split(",")
    used = set(eq) - set(".,->")
    fresh = [c for c in string.ascii_letters if c not in used]
    widest = max((r - len(p.replace("...", "")) for p, r in zip(parts, ranks) if "..." in p), default=0)
    ell = "".join(fresh[:widest])
    labels = [p.replace("...", ell[widest - (r - len(p.replace("...", ""))):]) for p, r in zip(parts, ranks)]
    if arrow:
        out = rhs.replace("...", ell)
    else:  # implicit output: the ellipsis dims, then labels used once, in order
        counts = "".join(p.replace("...", "") for p in parts)
        out = ell + "".join(sorted(c for c in set(counts) if counts.count(c) == 1))
    return labels, out


@rule("einsum", functions=[torch.einsum, torch.functional.einsum], latex=r"\operatorname{einsum}")
def einsum(call: Call, equation: Any, *operands: Any) -> sp.Expr:
    """The equation read as index notation: "ij,jk->ik" is y[i, k] = Σ_j x0[i, j]·x1[j, k]."""
    if not isinstance(equation, str):
        equation, operands = _sublists(equation, operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    xs = [call.operand(t, f"operands.{m}", f"x{m}") for m, t in enumerate(operands)]
    labels, out = parse(equation, [x.ndim for x in xs])
    return contract(call, list(zip(xs, labels)), out)


def _sublists(first: Any, rest: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]]:
    """einsum(x, [0, 1], y, [1, 2], [0, 2]) → ("ab,bc->ac", (x, y))."""
    items = (first,) + tuple(rest)
    ops, subs = items[0::2], items[1::2]
    letter = lambda k: "..." if k is Ellipsis else string.ascii_letters[k]  # noqa: E731
    out = "->" + "".join(letter(k) for k in items[-1]) if len(items) % 2 else ""
    ops = ops[: len(subs)]
    return ",".join("".join(letter(k) for k in s) for s in subs) + out, tuple(ops)


def _plus(call: Call, input: Any, product: sp.Expr, beta: Any, alpha: Any) -> sp.Expr:
    """β·M (broadcast to the output) + α·product; β = 0 drops M, as torch does."""
    m = call.operand(input, "input", "M")
    return (0 if beta == 0 else call.scalar(beta) * call.broadcast(m)) + call.scalar(alpha) * product


@rule("mv", functions=[torch.mv], methods=["mv"], latex=r"\cdot")
def mv(call: Call, input: Any, vec: Any) -> sp.Expr:
    """y[i] = Σ_j A[i, j]·x[j]."""
    return contract(call, [(call.operand(input, "input", "A"), "ij"), (call.operand(vec, "vec", "x"), "j")], "i")


@rule("dot", functions=[torch.dot, torch.vdot], methods=["dot", "vdot"], latex=r"\cdot")
def dot(call: Call, input: Any, other: Any) -> sp.Expr:
    """y = Σ_i u[i]·v[i] (real: vdot is dot)."""
    return contract(call, [(call.operand(input, "input", "u"), "i"), (call.operand(other, "other", "v"), "i")], "")


@rule("inner", functions=[torch.inner], methods=["inner"], latex=r"\cdot")
def inner(call: Call, input: Any, other: Any) -> sp.Expr:
    """y[a…, b…] = Σ_k u[a…, k]·v[b…, k] (a number times a tensor when either is 0-d)."""
    u, v = call.operand(input, "input", "u"), call.operand(other, "other", "v")
    if u.ndim == 0 or v.ndim == 0:
        out = "abcdefgh"[: max(u.ndim, v.ndim)]
        return contract(call, [(u, out[: u.ndim]), (v, out[: v.ndim])], out)
    a, b = "abcdefg"[: u.ndim - 1], "pqrstuv"[: v.ndim - 1]
    return contract(call, [(u, a + "k"), (v, b + "k")], a + b)


@rule("outer", functions=[torch.outer, torch.ger], methods=["outer", "ger"], latex=r"\otimes")
def outer(call: Call, input: Any, vec2: Any) -> sp.Expr:
    """y[i, j] = u[i]·v[j]."""
    return contract(call, [(call.operand(input, "input", "u"), "i"), (call.operand(vec2, "vec2", "v"), "j")], "ij")


def _addmm_like(name: str, fn: Any, product: str, keys: tuple[str, str], doc: str) -> None:
    """y = β·M + α·contract(A, B) for addmm, addmv, addr, baddbmm, addbmm."""
    left, right, out = product.replace("->", ",").split(",")

    def impl(call: Call, input: Any, a: Any, b: Any, *, beta: Any = 1, alpha: Any = 1, **kw: Any) -> sp.Expr:
        A, B = call.operand(a, keys[0], "A"), call.operand(b, keys[1], "B")
        return _plus(call, input, contract(call, [(A, left), (B, right)], out), beta, alpha)
    impl.__doc__ = doc
    rule(name, functions=[fn], methods=[name], latex=rf"\operatorname{{{name}}}")(impl)


_addmm_like("addmm", torch.addmm, "ik,kj->ij", ("mat1", "mat2"), "y[i, j] = β·M[i, j] + α·Σ_k A[i, k]·B[k, j].")
_addmm_like("addmv", torch.addmv, "ij,j->i", ("mat", "vec"), "y[i] = β·M[i] + α·Σ_j A[i, j]·x[j].")
_addmm_like("addr", torch.addr, "i,j->ij", ("vec1", "vec2"), "y[i, j] = β·M[i, j] + α·u[i]·v[j].")
_addmm_like("baddbmm", torch.baddbmm, "bik,bkj->bij", ("batch1", "batch2"),
            "y[b, i, j] = β·M[b, i, j] + α·Σ_k A[b, i, k]·B[b, k, j].")
_addmm_like("addbmm", torch.addbmm, "bik,bkj->ij", ("batch1", "batch2"),
            "y[i, j] = β·M[i, j] + α·Σ_{b,k} A[b, i, k]·B[b, k, j].")


@rule("tensordot", functions=[torch.tensordot, torch.functional.tensordot], latex=r"\operatorname{tensordot}")
def tensordot(call: Call, a: Any, b: Any, dims: Any = 2, out: Any = None) -> sp.Expr:
    """y[free_a…, free_b…] = Σ_{paired dims} a[…]·b[…]."""
    x, y = call.operand(a, "a", "a"), call.operand(b, "b", "b")
    if isinstance(dims, int):
        da, db = list(range(x.ndim - dims, x.ndim)), list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da, db = [norm_dim(d, x.ndim) for d in da], [norm_dim(d, y.ndim) for d in db]
    la, lb = list(string.ascii_lowercase[: x.ndim]), list(string.ascii_lowercase[x.ndim: x.ndim + y.ndim])
    for p, q in zip(da, db):
        lb[q] = la[p]
    free = [c for k, c in enumerate(la) if k not in da] + [c for k, c in enumerate(lb) if k not in db]
    return contract(call, [(x, "".join(la)), (y, "".join(lb))], "".join(free))


@rule("vecdot", functions=[torch.linalg.vecdot], latex=r"\cdot")
def vecdot(call: Call, x: Any, y: Any, *, dim: int = -1) -> sp.Expr:
    """y[…] = Σ_k u[…, k, …]·v[…, k, …] along dim (broadcast)."""
    u, v = call.operand(x, "x", "u"), call.operand(y, "y", "v")
    n = max(u.ndim, v.ndim)
    d = norm_dim(dim, n)
    labels = "abcdefgh"[:n].replace("abcdefgh"[d], "k")
    return contract(call, [(u, labels[n - u.ndim:]), (v, labels[n - v.ndim:])], labels.replace("k", ""))


@rule("multi_dot", functions=[torch.linalg.multi_dot], latex=r"\prod")
def multi_dot(call: Call, tensors: Any, *, out: Any = None) -> sp.Expr:
    """y = A_0 A_1 ⋯ A_m, a chain of contractions (a 1-d first or last factor is a vector)."""
    xs = [call.operand(t, f"tensors.{m}", f"A{m}") for m, t in enumerate(tensors)]
    chain = "abcdefghijklmnopqrstuvwxyz"
    terms = []
    for m, x in enumerate(xs):
        labels = chain[m: m + 2]
        terms.append((x, labels[1] if x.ndim == 1 and m == 0 else labels[0] if x.ndim == 1 else labels))
    out = ("" if xs[0].ndim == 1 else chain[0]) + ("" if xs[-1].ndim == 1 else chain[len(xs)])
    return contract(call, terms, out)


@rule("__rmatmul__", methods=["__rmatmul__"], latex="@")
def rmatmul(call: Call, input: Any, other: Any) -> sp.Expr:
    """y = other @ x (x.__rmatmul__(other))."""
    return matmul(call, other, input)


@rule("bilinear", functions=[F.bilinear], latex=r"\operatorname{bilinear}")
def bilinear(call: Call, input1: Any, input2: Any, weight: Any, bias: Any = None) -> sp.Expr:
    """y[n…, o] = Σ_{i,j} u[n…, i]·W[o, i, j]·v[n…, j] + b[o]."""
    u, v = call.operand(input1, "input1", "u"), call.operand(input2, "input2", "v")
    w = call.operand(weight, "weight", "W")
    lead = "abcdefg"[: u.ndim - 1]
    y = contract(call, [(u, lead + "i"), (w, "oij"), (v, lead + "j")], lead + "o")
    return y + (call.operand(bias, "bias", "b")[call.out_indices[-1]] if bias is not None else 0)


@rule("kron", functions=[torch.kron], methods=["kron"], latex=r"\otimes")
def kron(call: Call, input: Any, other: Any) -> sp.Expr:
    """y[…, r, …] = a[…, ⌊r/q⌋, …]·b[…, r mod q, …], q the size of b's dim."""
    a, b = call.operand(input, "input", "a"), call.operand(other, "other", "b")
    n = len(call.out_shape)
    idx = call.out(*"ijklmnop"[:n])
    qa, qb = (1,) * (n - a.ndim) + a.shape, (1,) * (n - b.ndim) + b.shape
    ra = [sp.floor(i / q) if q != 1 else i for i, q in zip(idx, qb)]
    rb = [sp.Mod(i, q) if q != 1 else sp.S.Zero for i, q in zip(idx, qb)]
    ra = [sp.S.Zero if p == 1 else r for r, p in zip(ra, qa)]
    return a[tuple(ra[n - a.ndim:])] * b[tuple(rb[n - b.ndim:])]
