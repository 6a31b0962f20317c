"""ir/elementwise: each formula is torch's op, value and gradient, kinks included."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.ir import elementwise as ew

X, U, V = sp.symbols("x u v", real=True)
POINTS = [-25.0, -3.0, -1.0, -0.5, -1e-3, 0.0, 1e-3, 0.3, 0.7, 1.0, 2.5, 6.0, 7.0, 25.0]

UNARY: list[tuple[str, sp.Expr, Callable[[torch.Tensor], torch.Tensor]]] = [
    ("relu", ew.relu(X), F.relu),
    ("leaky_relu", ew.leaky_relu(X, sp.Rational(1, 5)), lambda t: F.leaky_relu(t, 0.2)),
    ("elu", ew.elu(X, sp.Rational(1, 2)), lambda t: F.elu(t, 0.5)),
    ("sigmoid", ew.sigmoid(X), torch.sigmoid),
    ("silu", ew.silu(X), F.silu),
    ("logsigmoid", ew.logsigmoid(X), F.logsigmoid),
    ("softplus", ew.softplus(X, sp.Integer(1), sp.Integer(20)), F.softplus),
    ("softplus_beta", ew.softplus(X, sp.Integer(2), sp.Integer(3)), lambda t: F.softplus(t, 2.0, 3.0)),
    ("gelu", ew.gelu(X), F.gelu),
    ("gelu_tanh", ew.gelu(X, "tanh"), lambda t: F.gelu(t, approximate="tanh")),
    ("clamp", ew.clamp(X, sp.Rational(-1, 2), sp.Integer(1)), lambda t: torch.clamp(t, -0.5, 1.0)),
    ("clamp_min", ew.clamp(X, sp.Rational(-1, 2)), lambda t: torch.clamp(t, min=-0.5)),
    ("clamp_max", ew.clamp(X, hi=sp.Integer(1)), lambda t: torch.clamp(t, max=1.0)),
    ("hardtanh", ew.hardtanh(X, sp.Rational(-1, 2), sp.Integer(1)), lambda t: F.hardtanh(t, -0.5, 1.0)),
    ("relu6", ew.hardtanh(X, sp.S.Zero, sp.Integer(6)), F.relu6),
]


def _value_and_slope(expr: sp.Expr, syms: tuple[sp.Symbol, ...], at: tuple[float, ...]) -> list[float]:
    env = dict(zip(syms, at))
    out = [float(expr.subs(env))]
    for s in syms:  # the derivative of the branch the point lies in (sympy's Piecewise derivative)
        out.append(float(sp.diff(expr, s).subs(env)))
    return out


def _torch_value_and_slope(f: Callable[..., torch.Tensor], at: tuple[float, ...]) -> list[float]:
    xs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in at]
    y = f(*xs)
    grads = torch.autograd.grad(y, xs, allow_unused=True)
    return [float(y.detach())] + [0.0 if g is None else float(g) for g in grads]


@pytest.mark.parametrize("name, expr, f", UNARY, ids=[n for n, _, _ in UNARY])
def test_unary_value_and_gradient_are_torchs(name: str, expr: sp.Expr, f: Callable[[torch.Tensor], torch.Tensor]) -> None:
    points = POINTS + ([-0.5, 1.0] if name.startswith(("clamp", "hardtanh")) else [])
    for p in points:
        assert _value_and_slope(expr, (X,), (p,)) == pytest.approx(_torch_value_and_slope(f, (p,)), rel=1e-12,
                                                                 abs=1e-12), (name, p)


@pytest.mark.parametrize("name, expr, f", [("maximum", ew.maximum(U, V), torch.maximum),
                                           ("minimum", ew.minimum(U, V), torch.minimum)])
def test_binary_selections_split_a_tie(name: str, expr: sp.Expr, f: Callable[..., torch.Tensor]) -> None:
    for at in [(1.0, 2.0), (2.0, 1.0), (1.5, 1.5), (-3.0, 0.0)]:
        assert _value_and_slope(expr, (U, V), at) == pytest.approx(_torch_value_and_slope(f, at)), (name, at)
    assert sp.diff(expr, U).subs({U: 1, V: 1}) == sp.Rational(1, 2)


def test_clamp_and_hardtanh_differ_only_at_the_bounds() -> None:
    """clamp passes the gradient at a bound, hardtanh does not: torch's two conventions."""
    assert sp.diff(ew.clamp(X, -1, 1), X).subs(X, 1) == 1
    assert sp.diff(ew.hardtanh(X, -1, 1), X).subs(X, 1) == 0
    assert ew.clamp(X, U, V).subs({U: 2, V: 1, X: 0}) == 1  # lo > hi gives hi, as torch.clamp
    assert ew.clamp(X) == X


def test_the_formulas_are_the_ones_the_printers_expect() -> None:
    assert ew.relu(X) == sp.Piecewise((X, X > 0), (0, True))
    assert ew.silu(X) == X * ew.sigmoid(X) == X / (1 + sp.exp(-X))
    assert ew.gelu(X) == X / 2 * (1 + sp.erf(X / sp.sqrt(2)))
