"""The optimizers' update rules as sympy formulas, in index form, as torch computes them.

Each rule returns the equations of one iteration for one parameter, in the order torch
applies them (``_single_tensor_sgd``, ``_single_tensor_adam``): each left side is a new
state tensor, each right side reads the parameter θ⁽ᵗ⁻¹⁾, its derived gradient
∂L/∂θ⁽ᵗ⁻¹⁾, earlier state, and the hyper-parameters as symbols (γ learning rate, μ momentum,
τ dampening, λ weight decay, β₁, β₂, ε, and the step count t). The equations are what
``update.apply`` evaluates to produce the new parameter; nothing is computed beside them.

SGD (torch's convention: the first step fills the buffer with the gradient, undamped)::

    g⁽ᵗ⁾ = ∂L/∂θ⁽ᵗ⁻¹⁾ + λ θ⁽ᵗ⁻¹⁾                  (weight decay)
    b⁽ᵗ⁾ = μ b⁽ᵗ⁻¹⁾ + (1 − τ) g⁽ᵗ⁾   (b⁽¹⁾ = g⁽¹⁾)
    θ⁽ᵗ⁾ = θ⁽ᵗ⁻¹⁾ − γ (g⁽ᵗ⁾ + μ b⁽ᵗ⁾)   Nesterov;   θ⁽ᵗ⁾ = θ⁽ᵗ⁻¹⁾ − γ b⁽ᵗ⁾ otherwise

Adam / AdamW (ε added after dividing √v by √(1 − β₂ᵗ), as torch does)::

    m⁽ᵗ⁾ = β₁ m⁽ᵗ⁻¹⁾ + (1 − β₁) g⁽ᵗ⁾,   v⁽ᵗ⁾ = β₂ v⁽ᵗ⁻¹⁾ + (1 − β₂) (g⁽ᵗ⁾)²
    θ⁽ᵗ⁾ = θ⁽ᵗ⁻¹⁾ (1 − γλ) − γ/(1 − β₁ᵗ) · m⁽ᵗ⁾ / (√v⁽ᵗ⁾ / √(1 − β₂ᵗ) + ε)   (AdamW: decoupled λ)
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import sympy as sp

from symbolic_torch.ir import symbols as S

# Base names of the tensors the formulas read and write (printed by training.latex).
THETA, THETA_NEW, GRAD, G = "θ_prev", "θ", S.GRAD_PREFIX + "θ_prev", "g"
STATE = {"momentum_buffer": "b", "exp_avg": "m", "exp_avg_sq": "v", "max_exp_avg_sq": "vmax"}
PREV = "_prev"
# Hyper-parameter symbols, named as torch's documentation names them.
HYPER = {"lr": sp.Symbol("gamma", positive=True), "momentum": sp.Symbol("mu", nonnegative=True),
         "dampening": sp.Symbol("tau", nonnegative=True), "weight_decay": sp.Symbol("lambda", nonnegative=True),
         "beta1": sp.Symbol("beta1", positive=True), "beta2": sp.Symbol("beta2", positive=True),
         "eps": sp.Symbol("epsilon", positive=True)}
T = sp.Symbol("t", positive=True, integer=True)

Rule = Callable[[Mapping[str, Any], int, tuple[sp.Symbol, ...]], list[sp.Eq]]


def _add(*terms: sp.Expr) -> sp.Expr:
    """A sum kept in the order torch computes it (printed with ``order="none"``)."""
    return sp.Add(*terms, evaluate=False)


def element(name: str, idx: Sequence[sp.Symbol]) -> sp.Expr:
    """Element ``idx`` of tensor ``name`` (the tensor itself, a symbol, when 0-d)."""
    return S.tensor(name)[tuple(idx)] if idx else sp.Symbol(name, real=True)


def _gradient(h: Mapping[str, Any], idx: tuple[sp.Symbol, ...], coupled: bool) -> tuple[list[sp.Eq], sp.Expr]:
    """The gradient the rule uses, ``g⁽ᵗ⁾``: negated to maximize, plus λθ for coupled weight
    decay. When it is the derived gradient itself no equation is needed."""
    grad = -element(GRAD, idx) if h.get("maximize") else element(GRAD, idx)
    if coupled and h.get("weight_decay", 0) != 0:
        grad = _add(grad, HYPER["weight_decay"] * element(THETA, idx))
    if grad == element(GRAD, idx):
        return [], grad
    return [sp.Eq(element(G, idx), grad, evaluate=False)], element(G, idx)


def sgd(h: Mapping[str, Any], t: int, idx: tuple[sp.Symbol, ...]) -> list[sp.Eq]:
    """torch.optim.SGD's step ``t`` (1-based) for one parameter."""
    eqs, g = _gradient(h, idx, coupled=True)
    theta, lr, mu = element(THETA, idx), HYPER["lr"], HYPER["momentum"]
    direction = g
    if h.get("momentum", 0) != 0:
        b, b_prev = element(STATE["momentum_buffer"], idx), element(STATE["momentum_buffer"] + PREV, idx)
        rhs = g if t == 1 else _add(mu * b_prev, _add(1, -HYPER["dampening"]) * g)
        eqs.append(sp.Eq(b, rhs, evaluate=False))
        direction = _add(g, mu * b) if h.get("nesterov") else b
    eqs.append(sp.Eq(element(THETA_NEW, idx), _add(theta, -lr * direction), evaluate=False))
    return eqs


def adam(h: Mapping[str, Any], t: int, idx: tuple[sp.Symbol, ...], decoupled: bool = False) -> list[sp.Eq]:
    """torch.optim.Adam's step ``t`` for one parameter (``decoupled``: AdamW's weight decay)."""
    eqs, g = _gradient(h, idx, coupled=not decoupled)
    b1, b2, eps, lr = HYPER["beta1"], HYPER["beta2"], HYPER["eps"], HYPER["lr"]
    m, v = element(STATE["exp_avg"], idx), element(STATE["exp_avg_sq"], idx)
    eqs.append(sp.Eq(m, _add(b1 * element(STATE["exp_avg"] + PREV, idx), _add(1, -b1) * g), evaluate=False))
    eqs.append(sp.Eq(v, _add(b2 * element(STATE["exp_avg_sq"] + PREV, idx), sp.Mul(_add(1, -b2), g**2, evaluate=False)), evaluate=False))
    second = v
    if h.get("amsgrad"):
        second = element(STATE["max_exp_avg_sq"], idx)
        eqs.append(sp.Eq(second, sp.Max(element(STATE["max_exp_avg_sq"] + PREV, idx), v), evaluate=False))
    theta = element(THETA, idx)
    if decoupled and h.get("weight_decay", 0) != 0:
        theta = theta * _add(1, -lr * HYPER["weight_decay"])
    denominator = _add(sp.sqrt(second) / sp.sqrt(_add(1, -b2**T)), eps)
    step = sp.Mul(lr / _add(1, -b1**T), m / denominator, evaluate=False)
    eqs.append(sp.Eq(element(THETA_NEW, idx), _add(theta, -step), evaluate=False))
    return eqs


def adamw(h: Mapping[str, Any], t: int, idx: tuple[sp.Symbol, ...]) -> list[sp.Eq]:
    """torch.optim.AdamW's step ``t``: Adam with decoupled weight decay θ(1 − γλ)."""
    return adam(h, t, idx, decoupled=True)


RULES: dict[str, Rule] = {"sgd": sgd, "adam": adam, "adamw": adamw}


def formulas(kind: str, h: Mapping[str, Any], t: int, idx: tuple[sp.Symbol, ...]) -> list[sp.Eq]:
    """The update equations of ``kind`` at step ``t`` (Adam with ``decoupled_weight_decay``
    is AdamW's rule)."""
    if kind == "adam" and h.get("decoupled_weight_decay"):
        return RULES["adamw"](h, t, idx)
    return RULES[kind](h, t, idx)


def values(h: Mapping[str, Any], t: int) -> dict[str, float]:
    """The numbers behind the symbols: ``{"gamma": 0.1, "beta1": 0.9, …, "t": 2}``."""
    out = {str(HYPER[k]): float(v) for k, v in h.items() if k in HYPER}
    if "betas" in h:
        out[str(HYPER["beta1"])], out[str(HYPER["beta2"])] = (float(b) for b in h["betas"])
    out[str(T)] = float(t)
    return out


def state_names(eqs: Sequence[sp.Eq]) -> list[str]:
    """The optimizer state each equation writes that torch keeps (``exp_avg``, …), in order."""
    by_base = {v: k for k, v in STATE.items()}
    return [by_base[n] for n in (_base(e.lhs) for e in eqs) if n in by_base]


def _base(e: sp.Expr) -> str:
    return str(e.base.label) if isinstance(e, sp.Indexed) else str(e)
