"""Activation functions, elementwise. Piecewise forms pick torch's value at the kink."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import Tolerance, rule

from symbolic_torch.rules._vocab import unary


def relu(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = max(0, x) (written piecewise so that y'(0) = 0, as torch)."""
    return sp.Piecewise((x, x > 0), (0, True))


def leaky_relu(x: sp.Expr, c: Call, negative_slope: float = 0.01, *a: Any, **k: Any) -> sp.Expr:
    """y = x if x > 0 else slope·x."""
    slope = c.module.negative_slope if c.module is not None else negative_slope
    return sp.Piecewise((x, x > 0), (c.scalar(slope) * x, True))


def sigmoid(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = 1 / (1 + e^{−x})."""
    return 1 / (1 + sp.exp(-x))


def gelu(x: sp.Expr, c: Call, approximate: str = "none", *a: Any, **k: Any) -> sp.Expr:
    """y = x·Φ(x) = x/2·(1 + erf(x/√2)); tanh form: x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    mode = c.module.approximate if c.module is not None else k.get("approximate", approximate)
    if mode == "tanh":
        return x / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + sp.Float("0.044715") * x ** 3)))
    return x / 2 * (1 + sp.erf(x / sp.sqrt(2)))


def silu(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = x·σ(x) = x / (1 + e^{−x})."""
    return x / (1 + sp.exp(-x))


def softplus(x: sp.Expr, c: Call, beta: float = 1.0, threshold: float = 20.0, *a: Any, **k: Any) -> sp.Expr:
    """y = log(1 + e^{βx}) / β, and y = x where βx > threshold (torch's linear tail)."""
    if c.module is not None:
        beta, threshold = c.module.beta, c.module.threshold
    b = c.scalar(beta)
    return sp.Piecewise((x, b * x > c.scalar(threshold)), (sp.log(1 + sp.exp(b * x)) / b, True))


unary("relu", relu, functions=[F.relu, torch.relu], methods=["relu", "relu_"], modules=[nn.ReLU],
      latex=r"\operatorname{ReLU}")
unary("leaky_relu", leaky_relu, functions=[F.leaky_relu], modules=[nn.LeakyReLU], latex=r"\operatorname{LeakyReLU}")
unary("sigmoid", sigmoid, functions=[torch.sigmoid, F.sigmoid], methods=["sigmoid"], modules=[nn.Sigmoid],
      latex=r"\sigma")
unary("tanh", lambda x, c, *a, **k: sp.tanh(x), functions=[torch.tanh, F.tanh], methods=["tanh"],
      modules=[nn.Tanh], latex=r"\tanh")
unary("gelu", gelu, functions=[F.gelu], modules=[nn.GELU], latex=r"\operatorname{GELU}")
unary("silu", silu, functions=[F.silu], modules=[nn.SiLU], latex=r"\operatorname{SiLU}")
unary("softplus", softplus, functions=[F.softplus], modules=[nn.Softplus], latex=r"\operatorname{softplus}")


def elu(x: sp.Expr, c: Call, alpha: float = 1.0, *a: Any, **k: Any) -> sp.Expr:
    """y = x if x > 0 else α·(e^x − 1)."""
    alpha = c.module.alpha if c.module is not None else alpha
    return sp.Piecewise((x, x > 0), (c.scalar(alpha) * (sp.exp(x) - 1), True))


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


def logsigmoid(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = log σ(x) = −log(1 + e^{−x})."""
    return -sp.log(1 + sp.exp(-x))


unary("elu", elu, functions=[F.elu], modules=[nn.ELU], latex=r"\operatorname{ELU}")
unary("hardswish", hardswish, functions=[F.hardswish], modules=[nn.Hardswish], latex=r"\operatorname{Hardswish}")
unary("hardsigmoid", hardsigmoid, functions=[F.hardsigmoid], modules=[nn.Hardsigmoid],
      latex=r"\operatorname{Hardsigmoid}",
      tolerance=Tolerance("torch's backward multiplies by 1/6 rounded to float32 (hardsigmoid_backward)",
                          rtol=2.0 ** -24))
unary("mish", mish, functions=[F.mish], modules=[nn.Mish], latex=r"\operatorname{Mish}")
unary("softsign", softsign, functions=[F.softsign], modules=[nn.Softsign], latex=r"\operatorname{Softsign}")
unary("logsigmoid", logsigmoid, functions=[F.logsigmoid], modules=[nn.LogSigmoid], latex=r"\log\sigma")


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
    return sp.Piecewise((v, v > 0), (slope * v, True))
