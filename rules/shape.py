"""Shape ops: pure index maps (reshape as ravel/unravel digits, permutations, concatenation)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import sympy as sp
import torch
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

POOL = "ijklmuvw"


def _strides(shape: Sequence[int]) -> list[int]:
    return [math.prod(shape[k + 1:]) for k in range(len(shape))]


def reshape_formula(call: Call, input: Any) -> sp.Expr:
    """y[j…] = x[unravel(ravel(j))]: dims shared at both ends keep their index."""
    x = call.operand(input, "input", "x")
    a, b = list(x.shape), list(call.out_shape)
    idx = call.out(*[POOL[k] if k < len(POOL) else f"i{k}" for k in range(len(b))])
    pre = 0
    while pre < min(len(a), len(b)) and a[pre] == b[pre]:
        pre += 1
    post = 0
    while post < min(len(a), len(b)) - pre and a[-1 - post] == b[-1 - post]:
        post += 1
    mid_a, mid_b = a[pre:len(a) - post], b[pre:len(b) - post]
    idx_mid = idx[pre:len(b) - post]
    flat = sum((j * s for j, s, n in zip(idx_mid, _strides(mid_b), mid_b) if n != 1), sp.S.Zero)
    digits = []
    for k, (n, s) in enumerate(zip(mid_a, _strides(mid_a))):
        if n == 1:
            digits.append(sp.S.Zero)
            continue
        d = sp.floor(flat / s) if s != 1 else flat
        digits.append(d if k == 0 else sp.Mod(d, n))
    read = list(idx[:pre]) + digits + list(idx[len(b) - post:])
    return x[tuple(read)] if read else x[()]


@rule("reshape", functions=[torch.reshape, torch.flatten, torch.unflatten, torch.squeeze, torch.unsqueeze],
      methods=["view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "view_as", "reshape_as"],
      modules=[nn.Flatten, nn.Unflatten], latex=r"\operatorname{reshape}")
def reshape(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[j…] = x[unravel(ravel(j))]  (view, reshape, flatten, squeeze, unsqueeze)."""
    return reshape_formula(call, input)


@rule("permute", functions=[torch.permute, torch.transpose, torch.t, torch.swapaxes],
      methods=["permute", "transpose", "t", "swapaxes"], latex=r"\operatorname{permute}")
def permute(call: Call, input: Any, *dims: Any, **kwargs: Any) -> sp.Expr:
    """y[i_{π(0)}, …] = x[i_0, …]: the output's k-th index reads the input's dim π(k)."""
    x = call.operand(input, "input", "x")
    nd = x.ndim
    if nd == 0:  # transpose(x, 0, -1) of a number
        return permuted(call, x, [])
    if "dims" in kwargs:
        dims = (kwargs["dims"],)
    if "dim0" in kwargs:
        dims = (kwargs["dim0"], kwargs["dim1"])
    if call.target.endswith(".t") or call.target == "Tensor.t" or (not dims and nd == 2):
        perm = [1, 0] if nd == 2 else list(range(nd))
    elif len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        perm = [norm_dim(d, nd) for d in dims[0]]
    elif "permute" in call.target:
        perm = [norm_dim(d, nd) for d in dims]
    else:  # transpose(d0, d1)
        d0, d1 = norm_dim(dims[0], nd), norm_dim(dims[1], nd)
        perm = list(range(nd))
        perm[d0], perm[d1] = perm[d1], perm[d0]
    return permuted(call, x, perm)


def permuted(call: Call, x: Any, perm: Sequence[int]) -> sp.Expr:
    """``x`` read so that output dim k is input dim ``perm[k]``."""
    idx = call.out(*[POOL[k] for k in range(x.ndim)])
    read: list[Any] = [None] * x.ndim
    for k, p in enumerate(perm):
        read[p] = idx[k]
    return x[tuple(read)] if read else x[()]


@rule("transpose_attr", functions=[getattr], latex=r"\operatorname{permute}")
def transpose_attr(call: Call, input: Any, name: str) -> sp.Expr:
    """y = x.T (all dims reversed) or x.mT (last two swapped); H, mH are the same for real x, and
    x.real is x itself."""
    if name not in ("T", "mT", "H", "mH", "real"):
        raise NotImplementedError(f"tensor attribute {name!r}")
    x = call.operand(input, "input", "x")
    perm = (list(range(x.ndim))[::-1] if name in ("T", "H") else list(range(x.ndim)) if name == "real"
            else [*range(x.ndim - 2), x.ndim - 1, x.ndim - 2])
    return permuted(call, x, perm)


@rule("cat", functions=[torch.cat, torch.concat], latex=r"\operatorname{cat}")
def cat(call: Call, tensors: Any, dim: int = 0) -> sp.Expr:
    """y[…, k, …] = x_m[…, k − o_m, …] for the block m with o_m ≤ k < o_m + n_m."""
    ops = [call.operand(t, f"tensors.{m}", f"x{m}") for m, t in enumerate(tensors)
           if tuple(t.shape) != (0,)]
    nd = len(call.out_shape)
    d = norm_dim(dim, nd)
    idx = call.out(*[POOL[k] for k in range(nd)])
    pieces, offset = [], 0
    for m, op in enumerate(ops):
        read = list(idx)
        read[d] = idx[d] - offset
        offset += op.shape[d]
        pieces.append((op[tuple(read)], idx[d] < offset if m < len(ops) - 1 else True))
    if not pieces:  # every block is empty
        return sp.S.Zero
    return sp.Piecewise(*pieces) if len(pieces) > 1 else pieces[0][0]
