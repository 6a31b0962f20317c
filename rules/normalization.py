"""Normalization layers: batch, layer, group and instance norm (dropout is in random_ops.py).

Statistics are written inline as sums, so sympy differentiates through them:
μ = (1/M) Σ x and σ² = (1/M) Σ x² − μ² (the biased variance, as torch normalizes with).
BatchNorm's running-statistics update is no part of the gradient graph: it is recorded as a
note (its own formula, with the values it produced), not in the step's formula.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import BufferUpdate, Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names

SPATIAL = "ijl"
Reduced = Sequence[tuple[int, int, sp.Expr]]  # (axis, how many, first position) per reduced axis


def sample(x: Operand, idx: Sequence[sp.Symbol], reduced: Reduced, tag: str) -> tuple[sp.Expr, list]:
    """``x`` read with each reduced axis replaced by a summation index (``c`` → ``c1``), and its limits.

    Not primes: the delta pass primes names to make them fresh, and a primed summation index
    inside a sum could then capture a renamed outer index.
    """
    pos = list(idx)
    limits = []
    for axis, size, first in reduced:
        s = sp.Symbol(f"{idx[axis]}{tag}", integer=True)
        pos[axis] = first + s
        limits.append((s, size))
    return x[tuple(pos)], limits


def moments(call: Call, x: Operand, reduced: Reduced,
            idx: Sequence[sp.Expr] | None = None) -> tuple[sp.Expr, sp.Expr]:
    """μ = (1/M) Σ x and σ² = (1/M) Σ x² − μ² over the reduced axes, as sums.

    σ² is torch's biased variance written without a sum inside a sum: the two-pass form
    (1/M) Σ (x − μ)² nests μ's sum in every term, which makes the derived gradient about
    three times slower to build and evaluate and its worked examples too long to typeset.
    The price: cancellation where |μ| ≫ σ (|μ|/σ ≈ 10³ costs about 1e-10 relative).
    """
    idx = call.out_indices if idx is None else idx
    count = math.prod(size for _, size, _ in reduced)
    x1, lim1 = sample(x, idx, reduced, "1")
    mean = call.sum(x1, *lim1) / count
    var = call.sum(x1 ** 2, *lim1) / count - mean ** 2
    return mean, var


def affine(call: Call, xhat: sp.Expr, weight: Operand | None, bias: Operand | None,
           at: Sequence[sp.Symbol]) -> sp.Expr:
    """γ·x̂ + β, with γ and β read at ``at`` (either may be absent)."""
    at = tuple(at)
    out = xhat * weight[at] if weight is not None else xhat
    return out + bias[at] if bias is not None else out


def module_operands(call: Call, input: Any) -> tuple[Operand, Operand | None, Operand | None]:
    """x and the module's γ (``weight``) and β (``bias``), either of which may be absent."""
    x = call.operand(input, "input", "x")
    return x, call.param("weight", "gamma"), call.param("bias", "beta")


def standardize(call: Call, x: Operand, mu: sp.Expr, sigma2: sp.Expr, eps: float) -> sp.Expr:
    """x̂ = (x − μ)/√(σ² + ε) at the output's indices."""
    return (x[call.out_indices] - mu) / sp.sqrt(sigma2 + call.scalar(eps))


def spatial_names(k: int) -> list[str]:
    """Index names of ``k`` trailing (normalized or spatial) dims: i, j, l; i0, i1, … past three."""
    return list(SPATIAL[:k]) if k <= len(SPATIAL) else [f"i{a}" for a in range(k)]


def channel_layout(call: Call, x: Operand, batched: bool = True) -> tuple[sp.Symbol, ...]:
    """Output indices (n, c, i, j, l) for an (N, C, *) input, (c, i, …) when unbatched."""
    lead = ["n", "c"] if batched else ["c"]
    return call.out(*(lead + spatial_names(x.ndim - len(lead))))


# ---------------------------------------------------------------- batch norm
def batch_norm_formula(call: Call, x: Operand, mean: Operand | None, var: Operand | None,
                       weight: Operand | None, bias: Operand | None, eps: float) -> sp.Expr:
    """y = (x − μ_c)/√(σ²_c + ε)·γ_c + β_c: batch statistics when ``mean`` is None, else running ones.

    An empty input is torch's own case: no statistics, y = x (·γ_c + β_c), and a 1-d input,
    which torch takes only when it is empty (it has no channel dim), is returned as it is.
    """
    if x.ndim < 2:
        return x[call.default_out()]
    idx = channel_layout(call, x)
    if x.value.numel() == 0:
        return affine(call, x[idx], weight, bias, (idx[1],))
    c = idx[1]
    if mean is None:
        reduced = [(a, x.shape[a], 0) for a in range(x.ndim) if a != 1]
        mu, sigma2 = moments(call, x, reduced)
    else:
        mu, sigma2 = mean[c], var[c]
    return affine(call, standardize(call, x, mu, sigma2, eps), weight, bias, (c,))


def batch_statistics(call: Call, x: Operand, channel: int | None) -> tuple[sp.Symbol, sp.Expr, sp.Expr, tuple]:
    """The channel index, μ_B and σ²_B as ``running_update`` describes them, and the scales that
    turn them into what torch adds to the running mean and the running (unbiased) variance."""
    idx = call.out_indices
    if channel is None:
        c = idx[1]
        reduced = [(a, x.shape[a], 0) for a in range(x.ndim) if a != 1]
        count = math.prod(size for _, size, _ in reduced)
        mu, sigma2 = moments(call, x, reduced)
        scales: tuple = (sp.S.One, sp.Rational(count, max(count - 1, 1)))
    else:
        c = idx[channel]
        reduced = [(a, x.shape[a], 0) for a in range(channel + 1, x.ndim)]
        count = math.prod(size for _, size, _ in reduced)
        pos = list(idx)
        batch = x.shape[0] if channel else 1
        if batch > 1:
            pos[0] = sp.Symbol(f"{idx[0]}1", integer=True)
        elif channel:
            pos[0] = sp.S.Zero
        mu, sigma2 = moments(call, x, reduced, pos)
        if batch > 1:
            mu, sigma2 = call.sum(mu, (pos[0], batch)), call.sum(sigma2, (pos[0], batch))
        scales = (sp.Rational(1, batch), sp.Rational(count, max(count - 1, 1) * batch))
    return c, mu, sigma2, scales


def running_update(call: Call, x: Operand, momentum: float | None, tracked: int,
                   before: dict[str, torch.Tensor] | None, after: dict[str, torch.Tensor],
                   channel: int | None = None) -> None:
    """Note the running-statistics update μ̂ ← (1−m)·μ̂ + m·μ_B, σ̂² ← (1−m)·σ̂² + m·M/(M−1)·σ²_B.

    BatchNorm (``channel`` None): μ_B and σ²_B over every dim but the channel dim 1.
    InstanceNorm (``channel`` the channel axis, 0 when unbatched): torch updates per sample and
    keeps the mean over the batch, μ_B = (1/N) Σ_n μ_{n,c} and σ²_B·M/(M−1) = (1/N) Σ_n M/(M−1)·σ²_{n,c},
    statistics over the M spatial positions.
    The batch statistics come from the formula; each update is recorded on the call
    (``call.updates``) with the buffers before and after the run, and verification checks it
    where the buffers before the run are known (``before``).
    """
    c, mu, sigma2, scales = batch_statistics(call, x, channel)
    factor = call.scalar(momentum) if momentum is not None else sp.Rational(1, max(tracked, 1))
    stats = {"running_mean": ("mu", scales[0], mu), "running_var": ("var", scales[1], sigma2)}
    channels = x.shape[channel if channel is not None else 1]
    for buffer, (symbol, scale, batch_stat) in stats.items():
        if buffer not in after:  # F.instance_norm may be given one of the two
            continue
        old = None if before is None else before.get(buffer)  # a function call's buffers before it are not kept
        call.updates.append(BufferUpdate(buffer, symbol, c, channels, factor, scale, batch_stat,
                                         {x.symbol: x.value}, after[buffer].detach().clone(), old))


@rule("batch_norm", modules=[nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d], latex=r"\operatorname{BatchNorm}")
def batch_norm_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = (x[n,c,i,j] − μ_c)/√(σ²_c + ε)·γ_c + β_c, batch statistics in train mode."""
    m = call.module
    x, weight, bias = module_operands(call, input)
    batch_stats = m.training or m.running_mean is None
    mean = None if batch_stats else call.param("running_mean", "mu")
    var = None if batch_stats else call.param("running_var", "var")
    rhs = batch_norm_formula(call, x, mean, var, weight, bias, m.eps)
    if m.training and m.running_mean is not None and x.value.numel():  # an empty batch leaves them as they are
        after = {k: getattr(m, k).detach().clone() for k in ("running_mean", "running_var")}
        before = getattr(call, "buffers_before", None)  # the buffers before the run, where lowering kept them
        running_update(call, x, m.momentum, int(m.num_batches_tracked), before, after)
    return rhs


@rule("batch_norm_fn", functions=[F.batch_norm], latex=r"\operatorname{batch\_norm}")
def batch_norm_function(call: Call, input: Any, running_mean: Any, running_var: Any, weight: Any = None,
                        bias: Any = None, training: bool = False, momentum: float = 0.1,
                        eps: float = 1e-5) -> sp.Expr:
    """y[n,c,i,j] = (x[n,c,i,j] − μ_c)/√(σ²_c + ε)·γ_c + β_c."""
    return batch_norm_args(call, input, running_mean, running_var, weight, bias, training, eps)


@rule("batch_norm_aten", functions=[torch.batch_norm], latex=r"\operatorname{batch\_norm}")
def batch_norm_aten(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                    training: bool, momentum: float, eps: float, cudnn_enabled: bool = False) -> sp.Expr:
    """y[n,c,i,j] = (x[n,c,i,j] − μ_c)/√(σ²_c + ε)·γ_c + β_c (ATen's argument order, from torch.export)."""
    return batch_norm_args(call, input, running_mean, running_var, weight, bias, training, eps)


def batch_norm_args(call: Call, input: Any, running_mean: Any, running_var: Any, weight: Any, bias: Any,
                    training: bool, eps: float) -> sp.Expr:
    use_running = not training and running_mean is not None
    x, w, b, mean, var = operands(call, input, weight, bias, running_mean, running_var, use_running)
    return batch_norm_formula(call, x, mean, var, w, b, eps)


Maybe = Optional[Operand]


def operands(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any = None, running_var: Any = None,
             use_running: bool = False) -> tuple[Operand, Maybe, Maybe, Maybe, Maybe]:
    """x, γ, β and, when the formula uses them, the running statistics of a functional norm call."""
    x = call.operand(input, "input", "x")
    w = call.operand(weight, "weight", "gamma") if weight is not None else None
    b = call.operand(bias, "bias", "beta") if bias is not None else None
    mean = call.operand(running_mean, "running_mean", "mu") if use_running else None
    var = call.operand(running_var, "running_var", "var") if use_running else None
    return x, w, b, mean, var


# ---------------------------------------------------------------- layer, group, instance norm
def layer_norm_formula(call: Call, x: Operand, shape: Sequence[int], weight: Operand | None,
                       bias: Operand | None, eps: float) -> sp.Expr:
    """y = (x − μ)/√(σ² + ε)·γ + β, statistics over the last len(shape) dims."""
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    k = len(shape)
    idx = call.out(*names(x.ndim, spatial_names(k)))
    reduced = [(a, x.shape[a], 0) for a in range(x.ndim - k, x.ndim)]
    mu, sigma2 = moments(call, x, reduced)
    return affine(call, standardize(call, x, mu, sigma2, eps), weight, bias, idx[x.ndim - k:])


def group_norm_formula(call: Call, x: Operand, groups: int, weight: Operand | None, bias: Operand | None,
                       eps: float) -> sp.Expr:
    """y = (x − μ_{n,g})/√(σ²_{n,g} + ε)·γ_c + β_c over the channels of c's group g = ⌊c/(C/G)⌋."""
    idx = channel_layout(call, x)
    c, channels = idx[1], x.shape[1]
    per = channels // groups
    spatial = [(a, x.shape[a], 0) for a in range(2, x.ndim)]
    if per == 1:
        reduced = spatial
    else:
        first = sp.S.Zero if groups == 1 else per * sp.floor(c / per)
        reduced = [(1, per, first)] + spatial  # channels first + c1, c1 < C/G
    mu, sigma2 = moments(call, x, reduced)
    return affine(call, standardize(call, x, mu, sigma2, eps), weight, bias, (c,))


def affine_norm_rules(name: str, module: type, function: Any, setting: str, formula: Any,
                      latex: tuple[str, str], doc: str) -> None:
    """Register ``name`` (the module) and ``{name}_fn`` (the function) for ``formula(call, x, setting, γ, β, ε)``.

    ``setting`` (``normalized_shape``, ``num_groups``) and ε are the module's attributes or the
    function's arguments, in torch's order: input, setting, weight, bias, eps (ATen's cudnn flag after).
    """
    def module_impl(call: Call, input: Any) -> sp.Expr:
        m = call.module
        x, w, b = module_operands(call, input)
        return formula(call, x, getattr(m, setting), w, b, m.eps)

    def function_impl(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
        a = {**dict(zip((setting, "weight", "bias", "eps"), args)), **kwargs}
        x, w, b, _, _ = operands(call, input, a.get("weight"), a.get("bias"))
        return formula(call, x, a[setting], w, b, a.get("eps", 1e-5))

    module_impl.__doc__ = function_impl.__doc__ = doc
    rule(name, modules=[module], latex=latex[0])(module_impl)
    rule(f"{name}_fn", functions=[function], latex=latex[1])(function_impl)


affine_norm_rules("layer_norm", nn.LayerNorm, F.layer_norm, "normalized_shape", layer_norm_formula,
                  (r"\operatorname{LayerNorm}", r"\operatorname{layer\_norm}"),
                  "y[n,i] = (x[n,i] − μ_n)/√(σ²_n + ε)·γ_i + β_i, μ and σ² over the normalized dims.")
affine_norm_rules("group_norm", nn.GroupNorm, F.group_norm, "num_groups", group_norm_formula,
                  (r"\operatorname{GroupNorm}", r"\operatorname{group\_norm}"),
                  "y[n,c,i,j] = (x[n,c,i,j] − μ_{n,g})/√(σ²_{n,g} + ε)·γ_c + β_c, g = ⌊c/(C/G)⌋.")


@rule("instance_norm_fn", functions=[F.instance_norm], latex=r"\operatorname{instance\_norm}")
def instance_norm_function(call: Call, input: Any, running_mean: Any = None, running_var: Any = None,
                           weight: Any = None, bias: Any = None, use_input_stats: bool = True,
                           momentum: float = 0.1, eps: float = 1e-5) -> sp.Expr:
    """y[n,c,i,j] = (x[n,c,i,j] − μ_{n,c})/√(σ²_{n,c} + ε)·γ_c + β_c over the spatial dims."""
    return instance_norm_args(call, input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)


@rule("instance_norm_aten", functions=[torch.instance_norm], latex=r"\operatorname{instance\_norm}")
def instance_norm_aten(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                       use_input_stats: bool, momentum: float, eps: float, cudnn_enabled: bool = False) -> sp.Expr:
    """y[n,c,i,j] = (x[n,c,i,j] − μ_{n,c})/√(σ²_{n,c} + ε)·γ_c + β_c (ATen's argument order)."""
    return instance_norm_args(call, input, weight, bias, running_mean, running_var, use_input_stats, momentum, eps)


def instance_norm_args(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                       use_input_stats: bool, momentum: float, eps: float) -> sp.Expr:
    """Input statistics (updating running ones where given: a note, their values as the run left them) or running ones."""
    x, w, b, mean, var = operands(call, input, weight, bias, running_mean, running_var, not use_input_stats)
    rhs = instance_norm_formula(call, x, x.ndim - 2, mean, var, w, b, eps)
    given = {k: getattr(v, "value", v).detach().clone() for k, v in
             (("running_mean", running_mean), ("running_var", running_var)) if v is not None}
    if use_input_stats and given and x.value.numel():
        running_update(call, x, momentum, 0, None, given, channel=1)
    return rhs


def instance_norm_formula(call: Call, x: Operand, spatial: int, mean: Operand | None, var: Operand | None,
                          weight: Operand | None, bias: Operand | None, eps: float) -> sp.Expr:
    """y = (x − μ)/√(σ² + ε)·γ_c + β_c, statistics per (n, c) over the spatial dims unless given."""
    idx = channel_layout(call, x, batched=x.ndim == spatial + 2)
    c = idx[-spatial - 1]
    if mean is not None:
        mu, sigma2 = mean[c], var[c]
    else:
        mu, sigma2 = moments(call, x, [(a, x.shape[a], 0) for a in range(x.ndim - spatial, x.ndim)])
    return affine(call, standardize(call, x, mu, sigma2, eps), weight, bias, (c,))


@rule("instance_norm", modules=[nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d],
      latex=r"\operatorname{InstanceNorm}")
def instance_norm_module(call: Call, input: Any) -> sp.Expr:
    """y[n,c,i,j] = (x[n,c,i,j] − μ_{n,c})/√(σ²_{n,c} + ε)·γ_c + β_c over the spatial dims."""
    m = call.module
    x = call.operand(input, "input", "x")
    w, b = call.param("weight", "gamma"), call.param("bias", "beta")
    spatial = m._get_no_batch_dim() - 1  # 1, 2 or 3
    running = m.track_running_stats and not m.training  # eval mode: the running statistics
    mean = call.param("running_mean", "mu") if running else None
    var = call.param("running_var", "var") if running else None
    rhs = instance_norm_formula(call, x, spatial, mean, var, w, b, m.eps)
    if m.training and m.track_running_stats and x.value.numel():
        after = {k: getattr(m, k).detach().clone() for k in ("running_mean", "running_var")}
        momentum = m.momentum if m.momentum is not None else 0.0  # as _InstanceNorm passes it
        running_update(call, x, momentum, 0, call.buffers_before, after, channel=x.ndim - spatial - 1)
    return rhs
