"""Upsampling (F.interpolate, nn.Upsample): output positions read input positions by a source map.

Per spatial dim with input size L and output size L′: nearest reads x[⌊i·s⌋] (s = L/L′, or
1/scale_factor when that was given); (bi/tri)linear blends x[i₀] and x[i₁] with weights 1−λ and λ,
where σ(i) = i·(L−1)/(L′−1) (align_corners) or max(0, (i + ½)·s − ½), i₀ = ⌊σ⌋, λ = σ − i₀ and
i₁ = min(i₀ + 1, L − 1).
"""
from __future__ import annotations

import itertools
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.call import Call, Operand
from symbolic_torch.registry import rule

SPATIAL = "ijl"
LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def scales(call: Call, x: Operand, scale_factor: Any, recompute: Any) -> list[sp.Expr]:
    """Per spatial dim, the step s that torch's kernels use: 1/scale_factor when given, else L/L′."""
    nsp = x.ndim - 2
    outs = call.out_shape[2:]
    if scale_factor is not None and not recompute:
        given = scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor] * nsp
        return [1 / sp.nsimplify(float(f)) for f in given]
    return [sp.Rational(x.shape[2 + k], outs[k]) for k in range(nsp)]


def torch_sources(x: Operand, args: dict[str, Any], dim: int) -> list[int]:
    """The input index torch's nearest kernel reads for each output index along spatial ``dim``."""
    shape = [1] * x.ndim
    shape[2 + dim] = x.shape[2 + dim]
    coords = torch.arange(x.shape[2 + dim], dtype=torch.float64).reshape(shape)
    coords = coords.expand(1, 1, *x.shape[2:]).contiguous()
    out = F.interpolate(coords, **args)
    pick = [0] * out.dim()
    pick[2 + dim] = slice(None)
    return [int(v) for v in out[tuple(pick)].tolist()]


def nearest_source(call: Call, x: Operand, i: sp.Symbol, dim: int, s: sp.Expr, exact: bool,
                   args: dict[str, Any]) -> sp.Expr:
    """⌊i·s⌋ (nearest-exact: ⌊(i + ½)·s⌋), clamped to L − 1, if it is what torch reads; else a table."""
    size = x.shape[2 + dim]
    src = sp.floor((i + sp.Rational(1, 2)) * s) if exact else sp.floor(i * s)
    table = torch_sources(x, args, dim)
    closed = [min(int(src.subs(i, k)), size - 1) for k in range(len(table))]
    if closed == table:
        return src if max(int(src.subs(i, k)) for k in range(len(table))) <= size - 1 else sp.Min(src, size - 1)
    t = call.operand(torch.tensor(table), f"source{dim}", f"s{dim}")  # torch's float rounding: its own table
    return t[i]


def linear_weights(i: sp.Symbol, size: int, out: int, s: sp.Expr, align: bool) -> list[tuple[sp.Expr, sp.Expr]]:
    """[(i₀, 1 − λ), (i₁, λ)] for output index ``i`` along one dim."""
    if align:
        src = i * sp.Rational(size - 1, out - 1) if out > 1 else sp.S.Zero
    else:
        src = (i + sp.Rational(1, 2)) * s - sp.Rational(1, 2)
        if s < 1:  # upsampling: the first positions would fall below 0
            src = sp.Max(0, src)
    lo = sp.floor(src)
    lam = src - lo
    # each weight stays one factor (unexpanded), so the derived gradient keeps one term per corner
    return [(lo, sp.UnevaluatedExpr(1 - lam)), (sp.Min(lo + 1, size - 1), sp.UnevaluatedExpr(lam))]


def interpolate_formula(call: Call, input: Any, size: Any = None, scale_factor: Any = None,
                        mode: str = "nearest", align_corners: Any = None, recompute_scale_factor: Any = None,
                        antialias: bool = False) -> sp.Expr:
    """Nearest: y[n,c,i,j] = x[n,c,⌊i·s_h⌋,⌊j·s_w⌋]; linear modes: Σ over corners of Π weights · x."""
    if antialias:
        raise NotImplementedError("interpolate with antialias=True")
    x = call.operand(input, "input", "x")
    nsp = x.ndim - 2
    if nsp < 1:
        raise NotImplementedError("interpolate needs (N, C, …) input")
    idx = call.out(*(["n", "c"] + list(SPATIAL[:nsp])))
    n, c, spatial = idx[0], idx[1], idx[2:]
    s = scales(call, x, scale_factor, recompute_scale_factor)
    if mode in ("nearest", "nearest-exact"):
        args = dict(size=size, scale_factor=scale_factor, mode=mode, recompute_scale_factor=recompute_scale_factor)
        pos = [nearest_source(call, x, i, k, s[k], mode == "nearest-exact", args) for k, i in enumerate(spatial)]
        return x[(n, c, *pos)]
    if LINEAR.get(mode) != nsp:
        raise NotImplementedError(f"interpolate mode {mode!r} on a {nsp}-d input")
    per_dim = [linear_weights(i, x.shape[2 + k], call.out_shape[2 + k], s[k], bool(align_corners))
               for k, i in enumerate(spatial)]
    terms = []
    for corner in itertools.product(*per_dim):
        weight = sp.Mul(*[w for _, w in corner])
        terms.append(weight * x[(n, c, *[p for p, _ in corner])])
    return sp.Add(*terms)


@rule("interpolate", functions=[F.interpolate, F.upsample], latex=r"\operatorname{interpolate}")
def interpolate_function(call: Call, input: Any, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                         align_corners: Any = None, recompute_scale_factor: Any = None,
                         antialias: bool = False) -> sp.Expr:
    """y[n,c,i,j] = x[n,c,⌊i·s_h⌋,⌊j·s_w⌋] (nearest) or the blend of the 2ᵈ nearest inputs (linear modes)."""
    return interpolate_formula(call, input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                               antialias)


@rule("upsample", modules=[nn.Upsample], latex=r"\operatorname{Upsample}")
def upsample_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = x[n,c,⌊i·s_h⌋,⌊j·s_w⌋] (nearest) or the blend of the 2ᵈ nearest inputs (linear modes)."""
    m = call.module
    return interpolate_formula(call, input, m.size, m.scale_factor, m.mode, m.align_corners,
                               m.recompute_scale_factor)
