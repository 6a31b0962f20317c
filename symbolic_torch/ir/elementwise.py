"""Elementwise math, written once: activations, selections and clamps on sympy expressions.

The rule table (``rules/activations.py``) and the gradient checker's symbolic tensors
(``gradcheck/symbolic_ops.py``) both build their formulas from these functions, so a
formula here is what every part of the package means by that op. Each takes sympy
expressions; parameters (slopes, bounds, β) are sympy numbers the caller made from its
own values. Where torch's kernel picks a value or a slope at a kink, the piecewise form
picks the same one, so sympy's derivative is torch's gradient there too.

>>> import sympy as sp
>>> x = sp.Symbol("x")
>>> relu(x)
Piecewise((x, x > 0), (0, True))
"""
from __future__ import annotations

import sympy as sp

GELU_TANH_COEFF = sp.Float("0.044715")  # the cubic term of GELU's tanh approximation


def relu(x: sp.Expr) -> sp.Expr:
    """y = max(0, x), piecewise so that y'(0) = 0 as torch."""
    return sp.Piecewise((x, x > 0), (0, True))


def leaky_relu(x: sp.Expr, slope: sp.Expr) -> sp.Expr:
    """y = x if x > 0 else slope·x."""
    return sp.Piecewise((x, x > 0), (slope * x, True))


def elu(x: sp.Expr, alpha: sp.Expr) -> sp.Expr:
    """y = x if x > 0 else α·(eˣ − 1)."""
    return sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True))


def sigmoid(x: sp.Expr) -> sp.Expr:
    """y = σ(x) = 1 / (1 + e^{−x})."""
    return 1 / (1 + sp.exp(-x))


def silu(x: sp.Expr) -> sp.Expr:
    """y = x·σ(x) = x / (1 + e^{−x})."""
    return x / (1 + sp.exp(-x))


def logsigmoid(x: sp.Expr) -> sp.Expr:
    """y = log σ(x) = −log(1 + e^{−x})."""
    return -sp.log(1 + sp.exp(-x))


def softplus(x: sp.Expr, beta: sp.Expr, threshold: sp.Expr) -> sp.Expr:
    """y = log(1 + e^{βx}) / β, and y = x where βx > threshold (torch's linear tail)."""
    return sp.Piecewise((x, beta * x > threshold), (sp.log(1 + sp.exp(beta * x)) / beta, True))


def gelu(x: sp.Expr, approximate: str = "none") -> sp.Expr:
    """y = x·Φ(x) = x/2·(1 + erf(x/√2)); ``approximate="tanh"``: x/2·(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    if approximate == "tanh":
        return x / 2 * (1 + sp.tanh(sp.sqrt(2 / sp.pi) * (x + GELU_TANH_COEFF * x ** 3)))
    return x / 2 * (1 + sp.erf(x / sp.sqrt(2)))


def maximum(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    """y = the larger of u and v; a tie splits the gradient (½ each), as torch's kernel."""
    return sp.Piecewise((u, u > v), (v, u < v), ((u + v) / 2, True))


def minimum(u: sp.Expr, v: sp.Expr) -> sp.Expr:
    """y = the smaller of u and v; a tie splits the gradient (½ each), as torch's kernel."""
    return sp.Piecewise((u, u < v), (v, u > v), ((u + v) / 2, True))


def clamp(x: sp.Expr, lo: sp.Expr | None = None, hi: sp.Expr | None = None) -> sp.Expr:
    """``x`` limited to [lo, hi] as ``torch.clamp``: the gradient passes at the bounds (lo ≤ x ≤ hi).

    A missing bound does not limit; where lo > hi the result is hi, as torch.
    """
    pieces = []
    if lo is not None and hi is not None:
        pieces.append((hi, lo > hi))
    if lo is not None:
        pieces.append((lo, x < lo))
    if hi is not None:
        pieces.append((hi, x > hi))
    return sp.Piecewise(*pieces, (x, True)) if pieces else x


def hardtanh(x: sp.Expr, lo: sp.Expr, hi: sp.Expr) -> sp.Expr:
    """y = lo for x ≤ lo, hi for x ≥ hi, else x: the gradient passes strictly inside (lo, hi),
    as torch's ``hardtanh_backward`` (unlike ``clamp``). ``relu6`` is ``hardtanh(x, 0, 6)``."""
    return sp.Piecewise((lo, x <= lo), (hi, x >= hi), (x, True))
