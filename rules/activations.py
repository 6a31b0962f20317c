"""Activation functions, elementwise. Piecewise forms pick torch's value at the kink."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

from symbolic_torch.call import Call

from ._vocab import unary


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
