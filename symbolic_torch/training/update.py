"""``ParameterUpdate``: one parameter's optimizer step, its equations evaluated to the new values.

``apply`` builds the tensors the equations read (the parameter θ⁽ᵗ⁻¹⁾, its derived gradient,
the optimizer state before the step, each hyper-parameter as a 0-d tensor), then evaluates
the equations in order with the one evaluator (``numeric.evaluate_over``), each result
entering the environment under its left side's name. The new parameter is the last one.

>>> u = apply("fc.weight", "sgd", {"lr": 0.1}, 1, w, grad_w, {}, (0, 1))
>>> u.after                 # w − 0.1·grad_w, evaluated from the formula
>>> u.worked()[-1].latex    # θ⁽ᵗ⁾_{0,1} = θ⁽ᵗ⁻¹⁾_{0,1} − γ ∂L/∂θ⁽ᵗ⁻¹⁾_{0,1} = 0.31 − 0.1 × 0.2 = 0.29
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.element import Element
from symbolic_torch.numeric.evaluate import evaluate_over
from symbolic_torch.printing.worked import numeric
from symbolic_torch.training import formulas as F

INDEX_NAMES = ("i", "j", "k", "l", "p", "q", "r", "s")


@dataclass(frozen=True, eq=False)
class ParameterUpdate:
    """Parameter ``name``'s update at iteration ``iteration`` (1-based, torch's step count).

    ``equations`` are the update's formulas in index form over ``indices``; ``hyper`` the
    hyper-parameters' values by symbol name; ``env`` every tensor the equations read or
    wrote, by base name (``θ_prev``, ``∂L/∂θ_prev``, ``m_prev``, ``m``, …, ``θ``);
    ``position`` the element shown worked out.
    """

    name: str
    iteration: int
    kind: str
    equations: tuple[sp.Eq, ...]
    indices: tuple[sp.Symbol, ...]
    hyper: Mapping[str, float]
    env: Mapping[str, torch.Tensor] = field(repr=False)
    position: tuple[int, ...] = ()

    @property
    def before(self) -> torch.Tensor:
        """θ⁽ᵗ⁻¹⁾: the parameter before the step."""
        return self.env[F.THETA]

    @property
    def after(self) -> torch.Tensor:
        """θ⁽ᵗ⁾: the parameter after the step (evaluated from ``equations``)."""
        return self.env[F.THETA_NEW]

    @property
    def gradient(self) -> torch.Tensor:
        """∂L/∂θ⁽ᵗ⁻¹⁾, the derivation's derived gradient."""
        return self.env[F.GRAD]

    @property
    def state_before(self) -> dict[str, torch.Tensor]:
        """The optimizer state before the step, by torch's state key (``exp_avg``, …)."""
        return {k: self.env[F.STATE[k] + F.PREV] for k in F.state_names(self.equations)
                if F.STATE[k] + F.PREV in self.env}

    @property
    def state_after(self) -> dict[str, torch.Tensor]:
        """The optimizer state after the step, by torch's state key."""
        return {k: self.env[F.STATE[k]] for k in F.state_names(self.equations)}

    def worked(self, position: Sequence[int] | None = None) -> list[Element]:
        """Each equation at ``position`` (default: ``self.position``): formula, numbers, value."""
        from symbolic_torch.training.latex import latex
        pos = tuple(self.position if position is None else position)
        subs = dict(zip(self.indices, map(sp.Integer, pos)))
        out = []
        for eq in self.equations:
            lhs, rhs = eq.lhs.xreplace(subs), eq.rhs.xreplace(subs)
            value = float(self.env[_base(eq.lhs)][pos]) if pos else float(self.env[_base(eq.lhs)])
            text, terms = numeric(rhs, self.env)
            out.append(Element(self.name, _base(eq.lhs), pos, value, terms, latex(lhs), latex(rhs), text))
        return out


def _base(e: sp.Expr) -> str:
    return str(e.base.label) if isinstance(e, sp.Indexed) else str(e)


def indices_for(shape: Sequence[int]) -> tuple[sp.Symbol, ...]:
    """Index variables for a parameter of ``shape`` (``i, j, k, l, …``)."""
    if len(shape) > len(INDEX_NAMES):
        raise ValueError(f"a parameter of {len(shape)} dimensions: at most {len(INDEX_NAMES)} are supported")
    return S.indices(INDEX_NAMES[: len(shape)])


def apply(name: str, kind: str, hyper: Mapping[str, Any], t: int, param: torch.Tensor,
          gradient: torch.Tensor, state: Mapping[str, torch.Tensor], position: Sequence[int]) -> ParameterUpdate:
    """Step ``t`` of optimizer ``kind`` on parameter ``name``: the equations, evaluated.

    ``state`` is the optimizer state before the step by torch's key (empty at t = 1: buffers
    start as torch starts them, moments at zero). The equations come from ``formulas.RULES``.
    """
    shape = tuple(param.shape)
    idx = indices_for(shape)
    eqs = F.formulas(kind, hyper, t, idx)
    numbers = F.values(hyper, t)
    env: dict[str, torch.Tensor] = {k: torch.tensor(v, dtype=torch.float64) for k, v in numbers.items()}
    env[F.THETA] = param.detach().to(torch.float64).clone()
    env[F.GRAD] = gradient.detach().to(torch.float64).clone()
    for key in F.state_names(eqs):
        env[F.STATE[key] + F.PREV] = (state[key].detach().to(torch.float64).clone() if key in state
                                      else torch.zeros(shape, dtype=torch.float64))
    for eq in eqs:
        env[_base(eq.lhs)] = evaluate_over(eq.rhs, idx, shape, env).clone()
    return ParameterUpdate(name, t, kind, tuple(eqs), idx, numbers, env, tuple(position))
