"""Max unpooling: each input element written to the output position its index names.

y[n, c, o] = Σ_p (x[n, c, p] − D[n, c, p])·[I[n, c, p] = o], o the output position flattened
over the spatial dims (as torch numbers it), 0 where no index points.

Duplicate indices: when several input elements of a plane name the same output position,
torch's forward keeps one of the writes (which one is not fixed: the CPU kernel writes in
parallel, and repeated runs differ; the rule reads the kept one off the run's output), but
its backward sends
ḡ[I[p]] to *every* input element, the overwritten ones too. That is not the derivative of
the forward, whose overwritten elements have no influence. The formula reproduces both
numbers: D is the run's values of the overwritten elements (0 elsewhere), a constant, so an
overwritten element adds x − D = 0 to the output while its derivative is ḡ[I[p]], what torch
computes (as gaussian_nll_loss's limited variance, a straight-through term). The step
carries a note saying so.
"""
from __future__ import annotations

import math
from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.ir.primitives import Iverson
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules.convolution import OUT

INPUT = "pqr"  # input spatial positions, summed over


def overwritten(x: torch.Tensor, indices: torch.Tensor, out: torch.Tensor, nsp: int) -> torch.Tensor:
    """The mask of input elements whose write the run's output does not hold (duplicate indices).

    Per plane and output position, the first element (in the plane's order) whose value is the
    output's value holds it (equal values are the same output either way); every other element
    sent there was overwritten.
    """
    if x.numel() == 0:
        return torch.zeros(x.shape, dtype=torch.bool)
    plane = math.prod(x.shape[x.dim() - nsp:])
    xs = x.reshape(-1, plane).to(torch.float64)
    at = indices.reshape(-1, plane).long()
    ys = out.reshape(xs.shape[0], -1).to(torch.float64).gather(1, at)
    match = (xs == ys) | (torch.isnan(xs) & torch.isnan(ys))
    if not _each_target_held(match, at, out):
        raise NotImplementedError("the output does not hold the input's values at the indices")
    pos = torch.arange(plane).expand_as(at)
    first = torch.full((xs.shape[0], out.numel() // xs.shape[0]), plane, dtype=torch.long)
    first = first.scatter_reduce(1, at, torch.where(match, pos, plane), "amin")
    return (first.gather(1, at) != pos).reshape(x.shape)


def _each_target_held(match: torch.Tensor, at: torch.Tensor, out: torch.Tensor) -> bool:
    """Does every output position some element is sent to hold one of those elements' values?"""
    sent = torch.zeros((at.shape[0], out.numel() // at.shape[0]), dtype=torch.long).scatter_add(1, at, torch.ones_like(at))
    held = torch.zeros_like(sent).scatter_add(1, at, match.long())
    return bool(((sent == 0) | (held > 0)).all())


def max_unpool_formula(call: Call, nsp: int, input: Any, indices: Any) -> sp.Expr:
    """y[n, c, o] = Σ_p (x[n, c, p] − D[n, c, p])·[I[n, c, p] = o]; D: the overwritten values (see the module)."""
    x = call.operand(input, "input", "x")
    index = indices.value if isinstance(indices, TensorArg) else indices
    lost = overwritten(x.value.detach(), index, call.out_value.detach(), nsp)
    lead_n = x.ndim - nsp
    idx = call.out(*(list("nc")[2 - lead_n:] + list(OUT[:nsp])))
    outs, sizes = idx[lead_n:], call.out_shape[lead_n:]
    ps = [sp.Symbol(INPUT[k], integer=True) for k in range(nsp)]
    at = tuple(list(idx[:lead_n]) + ps)
    flat = sum((o * math.prod(sizes[k + 1:]) for k, o in enumerate(outs)), sp.S.Zero)  # o as torch numbers it
    value = x[at]
    if bool(lost.any()):
        held = call.operand(torch.where(lost, x.value.detach(), 0.0), "overwritten", "D")
        value = value - held[at]
        call.notes.append(r"\text{duplicate indices: } D = x \text{ where another write overwrote it (0 elsewhere), "
                          r"a constant: the value is torch's, the derivative } \bar g[I] \text{ for every element, "
                          r"as torch's backward gives}")
    table = call.operand(index.detach().clone(), "indices", "I")
    return call.sum(value * Iverson(sp.Eq(table[at], flat)), *zip(ps, x.shape[lead_n:]))


def _register(nsp: int, fn: Any, module: type) -> None:
    def impl(call: Call, input: Any, indices: Any, *args: Any, **kwargs: Any) -> sp.Expr:
        return max_unpool_formula(call, nsp, input, indices)  # sizes and strides: the output's shape has them
    impl.__doc__ = max_unpool_formula.__doc__
    rule(f"max_unpool{nsp}d", functions=[fn], modules=[module], latex=rf"\operatorname{{maxunpool{nsp}d}}")(impl)


for _k, (_f, _m) in enumerate([(F.max_unpool1d, nn.MaxUnpool1d), (F.max_unpool2d, nn.MaxUnpool2d),
                                (F.max_unpool3d, nn.MaxUnpool3d)]):
    _register(_k + 1, _f, _m)
