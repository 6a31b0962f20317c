"""Activation functions, elementwise: the ReLU family, smooth activations, the clipping and
shrinking family, CELU/SELU, GLU, PReLU, RReLU in eval mode.

The math of the activations the gradient checker also traces (relu, leaky_relu, elu, sigmoid,
silu, softplus, gelu, logsigmoid, hardtanh) lives in ``symbolic_torch.ir.elementwise``; an entry
here reads its hyperparameters (from the call or the module) and applies it. Piecewise forms pick
torch's value and slope at each kink: hardtanh/relu6 pass the gradient strictly inside (lo, hi),
threshold and the shrinks strictly past their threshold.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import Tolerance, rule
from symbolic_torch.ir import elementwise as ew

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules._vocab import unary

SELU_ALPHA = sp.Float("1.6732632423543772848170429916717", 30)
SELU_SCALE = sp.Float("1.0507009873554804934193349852946", 30)


def _option(c: Call, attr: str, given: Any) -> Any:
    """A hyperparameter: the module's attribute for a module call, else the value given."""
    return getattr(c.module, attr) if c.module is not None else given


def relu(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = max(0, x) (written piecewise so that y'(0) = 0, as torch)."""
    return ew.relu(x)


def leaky_relu(x: sp.Expr, c: Call, negative_slope: float = 0.01, *a: Any, **k: Any) -> sp.Expr:
    """y = x if x > 0 else slope·x."""
    return ew.leaky_relu(x, c.scalar(_option(c, "negative_slope", negative_slope)))


def gelu(x: sp.Expr, c: Call, approximate: str = "none", *a: Any, **k: Any) -> sp.Expr:
    """y = x·Φ(x) = x/2·(1 + erf(x/√2)); tanh form: x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return ew.gelu(x, _option(c, "approximate", k.get("approximate", approximate)))


def softplus(x: sp.Expr, c: Call, beta: float = 1.0, threshold: float = 20.0, *a: Any, **k: Any) -> sp.Expr:
    """y = log(1 + e^{βx}) / β, and y = x where βx > threshold (torch's linear tail)."""
    return ew.softplus(x, c.scalar(_option(c, "beta", beta)), c.scalar(_option(c, "threshold", threshold)))


def elu(x: sp.Expr, c: Call, alpha: float = 1.0, *a: Any, **k: Any) -> sp.Expr:
    """y = x if x > 0 else α·(e^x − 1)."""
    return ew.elu(x, c.scalar(_option(c, "alpha", alpha)))


def hardtanh(x: sp.Expr, c: Call, min_val: float = -1.0, max_val: float = 1.0, *a: Any, **k: Any) -> sp.Expr:
    """y = lo for x ≤ lo, hi for x ≥ hi, else x."""
    return ew.hardtanh(x, c.scalar(_option(c, "min_val", min_val)), c.scalar(_option(c, "max_val", max_val)))


unary("relu", relu, functions=[F.relu, torch.relu], methods=["relu", "relu_"], modules=[nn.ReLU],
      latex=r"\operatorname{ReLU}")
unary("leaky_relu", leaky_relu, functions=[F.leaky_relu], modules=[nn.LeakyReLU], latex=r"\operatorname{LeakyReLU}")
unary("sigmoid", lambda x, c, *a, **k: ew.sigmoid(x), functions=[torch.sigmoid, F.sigmoid], methods=["sigmoid"],
      modules=[nn.Sigmoid], latex=r"\sigma")
unary("tanh", lambda x, c, *a, **k: sp.tanh(x), functions=[torch.tanh, F.tanh], methods=["tanh"],
      modules=[nn.Tanh], latex=r"\tanh")
unary("gelu", gelu, functions=[F.gelu], modules=[nn.GELU], latex=r"\operatorname{GELU}")
unary("silu", lambda x, c, *a, **k: ew.silu(x), functions=[F.silu], modules=[nn.SiLU], latex=r"\operatorname{SiLU}")
unary("softplus", softplus, functions=[F.softplus], modules=[nn.Softplus], latex=r"\operatorname{softplus}")
unary("elu", elu, functions=[F.elu], modules=[nn.ELU], latex=r"\operatorname{ELU}")
unary("logsigmoid", lambda x, c, *a, **k: ew.logsigmoid(x), functions=[F.logsigmoid], modules=[nn.LogSigmoid],
      latex=r"\log\sigma")
unary("hardtanh", hardtanh, functions=[F.hardtanh, torch._C._nn.hardtanh], modules=[nn.Hardtanh],
      latex=r"\operatorname{hardtanh}")
unary("relu6", lambda x, c, *a, **k: ew.hardtanh(x, sp.S.Zero, sp.Integer(6)), functions=[F.relu6, torch._C._nn.relu6],
      modules=[nn.ReLU6], latex=r"\operatorname{ReLU6}")


def hardswish(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = x·relu6(x + 3)/6: 0 up to −3, x from 3 on (torch's slopes at −3 and 3 are 0 and 1)."""
    return sp.Piecewise((0, x <= -3), (x * (x + 3) / 6, x < 3), (x, True))


def hardsigmoid(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = relu6(x + 3)/6: 0 up to −3, 1 from 3 on (slope 0 at ±3, as torch).

    torch's backward kernel multiplies by 1/6 rounded to float32 even for float64, so its
    gradient differs from this exact one by about 3e-8 relative: the rule's tolerance (rtol
    2⁻²⁴, float32's rounding) lets verification pass that, and only that, saying why.
    """
    return sp.Piecewise((0, x <= -3), (1, x >= 3), (x / 6 + sp.Rational(1, 2), True))


def mish(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = x·tanh(softplus(x)) = x·tanh(log(1 + e^x))."""
    return x * sp.tanh(sp.log(1 + sp.exp(x)))


def softsign(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = x / (1 + |x|)."""
    return x / (1 + sp.Abs(x))


unary("hardswish", hardswish, functions=[F.hardswish], modules=[nn.Hardswish], latex=r"\operatorname{Hardswish}")
unary("hardsigmoid", hardsigmoid, functions=[F.hardsigmoid], modules=[nn.Hardsigmoid],
      latex=r"\operatorname{Hardsigmoid}",
      tolerance=Tolerance("torch's backward multiplies by 1/6 rounded to float32 (hardsigmoid_backward)",
                          rtol=2.0 ** -24))
unary("mish", mish, functions=[F.mish], modules=[nn.Mish], latex=r"\operatorname{Mish}")
unary("softsign", softsign, functions=[F.softsign], modules=[nn.Softsign], latex=r"\operatorname{Softsign}")


def threshold(x: sp.Expr, c: Call, threshold: float = 0.0, value: float = 0.0, *a: Any, **k: Any) -> sp.Expr:
    """y = x where x > θ, else the value v."""
    theta, value = _option(c, "threshold", threshold), _option(c, "value", value)
    return sp.Piecewise((x, x > c.scalar(theta)), (c.scalar(value), True))


def hardshrink(x: sp.Expr, c: Call, lambd: float = 0.5, *a: Any, **k: Any) -> sp.Expr:
    """y = x where |x| > λ, else 0."""
    lam = c.scalar(_option(c, "lambd", lambd))
    return sp.Piecewise((x, (x > lam) | (x < -lam)), (0, True))


def softshrink(x: sp.Expr, c: Call, lambd: float = 0.5, *a: Any, **k: Any) -> sp.Expr:
    """y = x − λ past λ, x + λ below −λ, else 0."""
    lam = c.scalar(_option(c, "lambd", lambd))
    return sp.Piecewise((x - lam, x > lam), (x + lam, x < -lam), (0, True))


def celu(x: sp.Expr, c: Call, alpha: float = 1.0, *a: Any, **k: Any) -> sp.Expr:
    """y = x for x > 0, α(e^{x/α} − 1) otherwise."""
    al = c.scalar(_option(c, "alpha", alpha))
    return sp.Piecewise((x, x > 0), (al * (sp.exp(x / al) - 1), True))


def selu(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = s·x for x > 0, s·α(eˣ − 1) otherwise (s, α: the SELU constants)."""
    return SELU_SCALE * ew.elu(x, SELU_ALPHA)


def rrelu(x: sp.Expr, c: Call, lower: float = 1 / 8, upper: float = 1 / 3, training: bool = False,
          *a: Any, **k: Any) -> sp.Expr:
    """Eval mode: y = x for x ≥ 0, x·(l + u)/2 otherwise (training draws a slope per element)."""
    if c.module is not None:
        lower, upper, training = c.module.lower, c.module.upper, c.module.training
    if training:
        raise NotImplementedError("rrelu in training mode (its random slopes are not exposed)")
    return sp.Piecewise((x, x >= 0), (x * c.scalar((lower + upper) / 2), True))


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


@rule("prelu", functions=[F.prelu], modules=[nn.PReLU], latex=r"\operatorname{PReLU}")
def prelu(call: Call, input: Any, weight: Any = None) -> sp.Expr:
    """y[n,c,…] = x if x > 0 else a[c]·x (one slope per channel, dim 1; or one shared slope).

    As torch.prelu: a one-element weight (0-d or (1,)) is shared by every element, of an input
    of any rank; otherwise the input has ≥ 2 dims and the weight one slope per channel (dim 1).
    """
    x = call.operand(input, "input", "x")
    a = call.param("weight", "a") if call.module is not None else call.operand(weight, "weight", "a")
    idx = call.out(*(["n", "c"] + list("ijl")[: x.ndim - 2])) if 2 <= x.ndim <= 5 else call.default_out()
    if a.ndim == 0:
        slope = a[()]
    elif a.shape[0] == 1:
        slope = a[0]
    else:
        slope = a[idx[1]]
    v = x[idx] if idx else x[()]
    return ew.leaky_relu(v, slope)


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
    return x[tuple(idx)] * ew.sigmoid(x[tuple(gate)])
