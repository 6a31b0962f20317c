"""Upsampling (F.interpolate, nn.Upsample): output positions read input positions by a source map.

Per spatial dim with input size L and output size L′: nearest reads x[⌊i·s⌋] (s = L/L′, or
1/scale_factor when that was given); (bi/tri)linear blends x[i₀] and x[i₁] with weights 1−λ and λ,
where σ(i) = i·(L−1)/(L′−1) (align_corners) or max(0, (i + ½)·s − ½), i₀ = ⌊σ⌋, λ = σ − i₀ and
i₁ = min(i₀ + 1, L − 1). Bicubic blends the 4×4 inputs around (σ_h(i), σ_w(j)) (σ not clamped at 0,
reads clamped to the border) with Keys' cubic convolution weights, A = −0.75; its weights and read
positions depend on the sizes only and are constant tables. Area is adaptive average pooling.
"""
from __future__ import annotations

import itertools
import math
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.pooling import adaptive_avg_formula

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


CUBIC_A = -0.75  # torch's (and Keys') cubic convolution parameter


def cubic_kernel(d: float) -> float:
    """W(d): (A+2)|d|³ − (A+3)|d|² + 1 for |d| ≤ 1, A|d|³ − 5A|d|² + 8A|d| − 4A for 1 < |d| < 2, else 0,
    in the operation order of torch's ``cubic_convolution1/2``."""
    a, d = CUBIC_A, abs(d)
    if d <= 1:
        return ((a + 2) * d - (a + 3)) * d * d + 1
    if d < 2:
        return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a
    return 0.0


def cubic_taps(size: int, out: int, align: bool, scale_factor: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per output index i: the 4 weights W(t + 1), W(t), W(1 − t), W(2 − t) and the 4 read positions
    clamp(i₀ − 1 + a, 0, L − 1), i₀ = ⌊σ(i)⌋, t = σ(i) − i₀, computed as torch's bicubic kernel does
    (double arithmetic; ⌊·⌋ of σ rounded to float, i₀ ≤ L − 1, t clamped to [0, 1])."""
    if align:
        scale = (size - 1) / (out - 1) if out > 1 else 0.0
    else:
        scale = 1.0 / scale_factor if scale_factor else size / out
    weights, sources = [], []
    for i in range(out):
        src = scale * i if align else scale * (i + 0.5) - 0.5
        i0 = min(math.floor(float(torch.tensor(src, dtype=torch.float32))), size - 1)
        t = min(max(src - i0, 0.0), 1.0)
        weights.append([cubic_kernel(t + 1), cubic_kernel(t), cubic_kernel(1 - t), cubic_kernel(2 - t)])
        sources.append([min(max(i0 - 1 + a, 0), size - 1) for a in range(4)])
    return torch.tensor(weights, dtype=torch.float64), torch.tensor(sources)


def bicubic_formula(call: Call, x: Operand, idx: tuple[sp.Symbol, ...], scale_factor: Any, align: bool,
                    recompute: Any) -> sp.Expr:
    """y[n,c,i,j] = Σ_a Σ_b u[i,a]·v[j,b]·x[n,c,s[i,a],r[j,b]]: 4×4 taps, tables of weights and read positions."""
    given = None if scale_factor is None or recompute else (
        scale_factor if isinstance(scale_factor, (tuple, list)) else [scale_factor] * 2)
    taps = [sp.Symbol(v, integer=True) for v in "ab"]
    reads, factor = [], sp.S.One
    for k, (i, t, (ws, ss)) in enumerate(zip(idx[2:], taps, [("u", "s"), ("v", "r")])):
        w, src = cubic_taps(x.shape[2 + k], call.out_shape[2 + k], align, float(given[k]) if given else None)
        factor *= call.operand(w, f"weights{k}", ws)[i, t]
        reads.append(call.operand(src, f"source{k}", ss)[i, t])
    a, b = taps
    call.notes.append(
        r"u_{i,a} = W(a - 1 - t_{i}),\ s_{i,a} = \min(\max(\lfloor\sigma_{i}\rfloor - 1 + a, 0), H - 1),\ "
        r"t_{i} = \sigma_{i} - \lfloor\sigma_{i}\rfloor,\ \sigma_{i} = "
        + (r"i\,\frac{H - 1}{H' - 1}" if align else r"(i + \tfrac{1}{2})\,"
           + (r"\frac{1}{\text{scale}}" if given else r"\frac{H}{H'}") + r" - \tfrac{1}{2}")
        + r";\ v, r\ \text{likewise along } j;\ W(d) = \begin{cases} (A+2)|d|^{3} - (A+3)|d|^{2} + 1 & |d| \le 1 \\ "
        r"A|d|^{3} - 5A|d|^{2} + 8A|d| - 4A & 1 < |d| < 2 \end{cases},\ A = -0.75")
    return call.sum(factor * x[(idx[0], idx[1], *reads)], (a, 4), (b, 4))


def interpolate_formula(call: Call, input: Any, size: Any = None, scale_factor: Any = None,
                        mode: str = "nearest", align_corners: Any = None, recompute_scale_factor: Any = None,
                        antialias: bool = False) -> sp.Expr:
    """Nearest: y[n,c,i,j] = x[n,c,⌊i·s_h⌋,⌊j·s_w⌋]; linear modes: Σ over corners of Π weights · x."""
    if antialias:
        raise NotImplementedError("interpolate with antialias=True")
    nsp = input.ndim - 2
    if nsp < 1:
        raise NotImplementedError("interpolate needs (N, C, …) input")
    if mode == "area":  # torch: adaptive_avg_pool{1,2,3}d to the output size
        return adaptive_avg_formula(call, input, nsp)
    x = call.operand(input, "input", "x")
    idx = call.out(*(["n", "c"] + list(SPATIAL[:nsp])))
    n, c, spatial = idx[0], idx[1], idx[2:]
    s = scales(call, x, scale_factor, recompute_scale_factor)
    if mode in ("nearest", "nearest-exact"):
        args = dict(size=size, scale_factor=scale_factor, mode=mode, recompute_scale_factor=recompute_scale_factor)
        pos = [nearest_source(call, x, i, k, s[k], mode == "nearest-exact", args) for k, i in enumerate(spatial)]
        return x[(n, c, *pos)]
    if mode == "bicubic" and nsp == 2:
        return bicubic_formula(call, x, idx, scale_factor, bool(align_corners), recompute_scale_factor)
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
    """y[n,c,i,j] = x[n,c,⌊i·s_h⌋,⌊j·s_w⌋] (nearest), the blend of the 2ᵈ (linear) or 4×4 (bicubic) nearest inputs, or the window mean (area)."""
    return interpolate_formula(call, input, size, scale_factor, mode, align_corners, recompute_scale_factor,
                               antialias)


@rule("upsample", modules=[nn.Upsample], latex=r"\operatorname{Upsample}")
def upsample_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = x[n,c,⌊i·s_h⌋,⌊j·s_w⌋] (nearest), the blend of the 2ᵈ (linear) or 4×4 (bicubic) nearest inputs, or the window mean (area)."""
    m = call.module
    return interpolate_formula(call, input, m.size, m.scale_factor, m.mode, m.align_corners,
                               m.recompute_scale_factor)
