"""ATen's normalization forms with tuple outputs (native_layer_norm, native_group_norm,
native_batch_norm, _native_batch_norm_legit, _batch_norm_with_update): what torch.export captures.

The tuple forms return (y, μ, 1/√(σ² + ε)): y is the formula of rules/normalization.py; the saved
statistics are items of their own, written with the same sums (``moments``). Group norm's are
differentiated as written: torch's backward adds their adjoints where both μ's and 1/σ's are given
(a graph that reads only one of them gets none from torch, so the local check of that item alone
disagrees: a quirk of torch's kernel, not of the formula); batch and layer
norm's are outputs torch marks non-differentiable: x is read there as a constant (``frozen``), so
the item's formula holds and passes no gradient, as in torch.
"""
from __future__ import annotations

from typing import Any, Sequence

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names
from symbolic_torch.rules.normalization import (batch_norm_formula, group_norm_formula, layer_norm_formula, moments,
                                                operands, spatial_names)


def statistic(call: Call, x: Operand, pos: Sequence[sp.Expr], reduced: Any, eps: float, item: int) -> sp.Expr:
    """Item 1: μ; item 2: 1/√(σ² + ε), over ``reduced`` with x read at ``pos`` (an empty run: 0)."""
    if call.out_value.numel() == 0:
        return sp.S.Zero
    mu, sigma2 = moments(call, x, reduced, list(pos))
    return mu if item == 1 else 1 / sp.sqrt(sigma2 + call.scalar(eps))


def frozen(call: Call, input: Any) -> Operand:
    """x as a constant of the formula: a statistic torch returns without a gradient."""
    return call.operand(getattr(input, "value", input).detach(), "input", "x")


@rule("native_layer_norm", functions=[torch.native_layer_norm], latex=r"\operatorname{layer\_norm}",
      multi_output=True)
def native_layer_norm(call: Call, input: Any, normalized_shape: Any, weight: Any, bias: Any,
                      eps: float) -> sp.Expr:
    """(y, μ, 1/√(σ² + ε)): y the layer norm; μ[n, 0…] and σ²[n, 0…] over the normalized dims (no gradient)."""
    if call.item in (0, None):
        x, w, b, _, _ = operands(call, input, weight, bias)
        return layer_norm_formula(call, x, normalized_shape, w, b, eps)
    x = frozen(call, input)
    k = len(normalized_shape)
    idx = call.out(*names(x.ndim, spatial_names(k)))
    return statistic(call, x, idx, [(a, x.shape[a], 0) for a in range(x.ndim - k, x.ndim)], eps, call.item)


@rule("native_group_norm", functions=[torch.native_group_norm], latex=r"\operatorname{group\_norm}",
      multi_output=True)
def native_group_norm(call: Call, input: Any, weight: Any, bias: Any, N: int, C: int, HxW: int, group: int,
                      eps: float) -> sp.Expr:
    """(y, μ, 1/√(σ² + ε)): y the group norm; μ[n, g] and σ²[n, g] over group g's channels and positions."""
    x, w, b, _, _ = operands(call, input, weight, bias)
    if call.item in (0, None):
        return group_norm_formula(call, x, group, w, b, eps)
    n, g = call.out("n", "g")
    per = C // group
    pos = [n, g] + [sp.Symbol(s, integer=True) for s in spatial_names(x.ndim - 2)]
    spatial = [(a, x.shape[a], 0) for a in range(2, x.ndim)]
    reduced = spatial if per == 1 else [(1, per, per * g)] + spatial
    return statistic(call, x, pos, reduced, eps, call.item)


def batch_norm_items(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                     training: bool, eps: float) -> sp.Expr:
    """(y, μ_c, 1/√(σ²_c + ε)) of ATen's batch norms: batch statistics in training, else running
    ones (and empty saved statistics); the saved statistics carry no gradient."""
    if call.item in (0, None):
        use_running = not training and running_mean is not None
        x, w, b, mean, var = operands(call, input, weight, bias, running_mean, running_var, use_running)
        return batch_norm_formula(call, x, mean, var, w, b, eps)
    x = frozen(call, input)
    if call.item > 2:
        raise NotImplementedError(f"batch norm item {call.item} (the reserve buffer)")
    if not training or x.ndim < 2:
        call.default_out()
        return sp.S.Zero
    (c,) = call.out("c")
    pos = [sp.Symbol("n", integer=True), c] + [sp.Symbol(s, integer=True) for s in spatial_names(x.ndim - 2)]
    reduced = [(a, x.shape[a], 0) for a in range(x.ndim) if a != 1]
    return statistic(call, x, pos, reduced, eps, call.item)


@rule("native_batch_norm", functions=[torch.native_batch_norm], latex=r"\operatorname{batch\_norm}",
      multi_output=True)
def native_batch_norm(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                      training: bool, momentum: float, eps: float) -> sp.Expr:
    """(y, μ_c, 1/√(σ²_c + ε)): y the batch norm; the saved statistics of the batch (training)."""
    return batch_norm_items(call, input, weight, bias, running_mean, running_var, training, eps)


@rule("native_batch_norm_legit", functions=[torch._native_batch_norm_legit], latex=r"\operatorname{batch\_norm}",
      multi_output=True)
def native_batch_norm_legit(call: Call, input: Any, weight: Any, bias: Any, *args: Any) -> sp.Expr:
    """(y, μ_c, 1/√(σ²_c + ε)), with running statistics (…, running_mean, running_var, training, momentum, eps)
    or without them (…, training, momentum, eps: the no_stats overload)."""
    if isinstance(args[0], bool):
        training, _, eps = args
        return batch_norm_items(call, input, weight, bias, None, None, training, eps)
    running_mean, running_var, training, _, eps = args
    return batch_norm_items(call, input, weight, bias, running_mean, running_var, training, eps)


@rule("native_batch_norm_legit_no_training", functions=[torch._native_batch_norm_legit_no_training],
      latex=r"\operatorname{batch\_norm}", multi_output=True)
def native_batch_norm_legit_no_training(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any,
                                        running_var: Any, momentum: float, eps: float) -> sp.Expr:
    """(y, ∅, ∅): y the batch norm with the running statistics (eval mode, as torch.export writes it)."""
    return batch_norm_items(call, input, weight, bias, running_mean, running_var, False, eps)


@rule("batch_norm_with_update", functions=[torch.ops.aten._batch_norm_with_update],
      latex=r"\operatorname{batch\_norm}", multi_output=True)
def batch_norm_with_update(call: Call, input: Any, weight: Any, bias: Any, running_mean: Any, running_var: Any,
                           momentum: float, eps: float) -> sp.Expr:
    """(y, μ_c, 1/√(σ²_c + ε)): the batch norm in training (the running statistics' update is no part of y)."""
    return batch_norm_items(call, input, weight, bias, running_mean, running_var, True, eps)
