"""More activations: the clipping and shrinking family, CELU/SELU, GLU, RReLU in eval mode.

Kinks follow torch's backward: hardtanh/relu6 pass the gradient strictly inside (lo, hi),
threshold and the shrinks strictly past their threshold.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules._vocab import unary

SELU_ALPHA = sp.Float("1.6732632423543772848170429916717", 30)
SELU_SCALE = sp.Float("1.0507009873554804934193349852946", 30)


def _hardtanh(x: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    return sp.Piecewise((lo, x <= lo), (hi, x >= hi), (x, True))


def hardtanh(x: sp.Expr, c: Call, min_val: float = -1.0, max_val: float = 1.0, *a: Any, **k: Any) -> sp.Expr:
    """y = lo for x ≤ lo, hi for x ≥ hi, else x."""
    if c.module is not None:
        min_val, max_val = c.module.min_val, c.module.max_val
    return _hardtanh(x, c.scalar(min_val), c.scalar(max_val))


def threshold(x: sp.Expr, c: Call, threshold: float = 0.0, value: float = 0.0, *a: Any, **k: Any) -> sp.Expr:
    """y = x where x > θ, else the value v."""
    if c.module is not None:
        threshold, value = c.module.threshold, c.module.value
    return sp.Piecewise((x, x > c.scalar(threshold)), (c.scalar(value), True))


def hardshrink(x: sp.Expr, c: Call, lambd: float = 0.5, *a: Any, **k: Any) -> sp.Expr:
    """y = x where |x| > λ, else 0."""
    lam = c.scalar(c.module.lambd if c.module is not None else lambd)
    return sp.Piecewise((x, (x > lam) | (x < -lam)), (0, True))


def softshrink(x: sp.Expr, c: Call, lambd: float = 0.5, *a: Any, **k: Any) -> sp.Expr:
    """y = x − λ past λ, x + λ below −λ, else 0."""
    lam = c.scalar(c.module.lambd if c.module is not None else lambd)
    return sp.Piecewise((x - lam, x > lam), (x + lam, x < -lam), (0, True))


def celu(x: sp.Expr, c: Call, alpha: float = 1.0, *a: Any, **k: Any) -> sp.Expr:
    """y = x for x > 0, α(e^{x/α} − 1) otherwise."""
    al = c.scalar(c.module.alpha if c.module is not None else alpha)
    return sp.Piecewise((x, x > 0), (al * (sp.exp(x / al) - 1), True))


def selu(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = s·x for x > 0, s·α(eˣ − 1) otherwise (s, α: the SELU constants)."""
    return SELU_SCALE * sp.Piecewise((x, x > 0), (SELU_ALPHA * (sp.exp(x) - 1), True))


def rrelu(x: sp.Expr, c: Call, lower: float = 1 / 8, upper: float = 1 / 3, training: bool = False,
          *a: Any, **k: Any) -> sp.Expr:
    """Eval mode: y = x for x ≥ 0, x·(l + u)/2 otherwise (training draws a slope per element)."""
    if c.module is not None:
        lower, upper, training = c.module.lower, c.module.upper, c.module.training
    if training:
        raise NotImplementedError("rrelu in training mode (its random slopes are not exposed)")
    return sp.Piecewise((x, x >= 0), (x * c.scalar((lower + upper) / 2), True))


unary("hardtanh", hardtanh, functions=[F.hardtanh, torch._C._nn.hardtanh], modules=[nn.Hardtanh],
      latex=r"\operatorname{hardtanh}")
unary("relu6", lambda x, c, *a, **k: _hardtanh(x, sp.S.Zero, sp.Integer(6)), functions=[F.relu6, torch._C._nn.relu6],
      modules=[nn.ReLU6], latex=r"\operatorname{ReLU6}")
unary("threshold", threshold, functions=[F.threshold, F._threshold, torch.threshold], modules=[nn.Threshold],
      latex=r"\operatorname{threshold}")
unary("hardshrink", hardshrink, functions=[F.hardshrink, torch.hardshrink], methods=["hardshrink"],
      modules=[nn.Hardshrink], latex=r"\operatorname{hardshrink}")
unary("softshrink", softshrink, functions=[F.softshrink, torch._C._nn.softshrink], modules=[nn.Softshrink],
      latex=r"\operatorname{softshrink}")
unary("tanhshrink", lambda x, c, *a, **k: x - sp.tanh(x), functions=[F.tanhshrink], modules=[nn.Tanhshrink],
      latex=r"\operatorname{tanhshrink}")
unary("celu", celu, functions=[F.celu, torch.celu], modules=[nn.CELU], latex=r"\operatorname{CELU}")
unary("selu", selu, functions=[F.selu, torch.selu], modules=[nn.SELU], latex=r"\operatorname{SELU}")
unary("rrelu", rrelu, functions=[F.rrelu, torch.rrelu], modules=[nn.RReLU], latex=r"\operatorname{RReLU}")


@rule("glu", functions=[F.glu, torch._C._nn.glu], modules=[nn.GLU], latex=r"\operatorname{GLU}")
def glu(call: Call, input: Any, dim: int = -1) -> sp.Expr:
    """y[…i…] = x[…i…]·σ(x[…i + n/2…]) along dim (first half gated by the second)."""
    if call.module is not None:
        dim = call.module.dim
    x = call.operand(input, "input", "x")
    idx = list(call.default_out())
    d = norm_dim(dim, x.ndim)
    gate = list(idx)
    gate[d] = idx[d] + x.shape[d] // 2
    return x[tuple(idx)] / (1 + sp.exp(-x[tuple(gate)]))
