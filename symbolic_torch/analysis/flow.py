"""``gradient_flow``: how the gradient reaches each layer, from the derivation's derived gradients.

Per layer (the module that owns parameters) it reports ‖∂L/∂θ‖, ‖θ‖ and their ratio, with θ
all of the layer's parameters; the gradients are those ``Derivation.gradient_values()`` chains
through the derived formulas. A layer is flagged against the layer nearest the loss (the last
one with parameters), as a gradient shrinks or grows on its way back:

- **vanishing**: its gradient norm is below ``vanishing`` (default 1e-3) × the reference's,
  or zero;
- **exploding**: above ``exploding`` (default 1e3) × the reference's, or ‖∂L/∂θ‖/‖θ‖ above
  ``ratio`` (default 100: a learning rate of 1/100 would move the layer by its own size; a
  linear stack with a large initialization has equally huge gradients at every layer, so only
  this ratio shows it), or not finite.

The advice names the cause the derivation shows: saturating activations (sigmoid, tanh, …) on
the path, depth without normalization or residual connections, or the initialization scale
(std(W)·√fan_in far from the 1 to √2 that Xavier/Kaiming initialization gives).

Example::

    d = derive(deep_sigmoid_mlp, x, loss=nn.CrossEntropyLoss(), target=t, verify=False)
    flow = gradient_flow(d)
    flow.vanishing          # ('layers.0', 'layers.2', …)
    flow.plot("flow.png")   # norms per layer, log scale
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from symbolic_torch.analysis.tables import render
from symbolic_torch.analysis.topology import layers_in_order, residual_adds, saturating_steps, has_normalization
from symbolic_torch.ir.derivation import Derivation

DEEP = 8  # layers with parameters from which depth alone is worth a remark


@dataclass(frozen=True)
class LayerFlow:
    """One layer: its parameters, ‖∂L/∂θ‖, ‖θ‖, their ratio and ``std(W)·√fan_in`` of its weight."""

    name: str
    params: tuple[str, ...]
    grad_norm: float
    param_norm: float
    ratio: float
    init_gain: float | None


@dataclass(frozen=True)
class GradientFlow:
    """Per-layer gradient norms, the layers flagged, the thresholds used and advice."""

    layers: tuple[LayerFlow, ...]
    vanishing: tuple[str, ...]
    exploding: tuple[str, ...]
    thresholds: dict[str, float]
    advice: tuple[str, ...]

    @property
    def reference(self) -> LayerFlow:
        """The layer nearest the loss, against which the others are compared."""
        return self.layers[-1]

    def table(self, fmt: str = "text") -> str:
        """The layers as ``text``, ``markdown``, ``latex`` or ``html``, with thresholds and advice."""
        flags = {**{n: "vanishing" for n in self.vanishing}, **{n: "exploding" for n in self.exploding}}
        rows = [[f.name, f.grad_norm, f.param_norm, f.ratio, f.grad_norm / self.reference.grad_norm
                 if self.reference.grad_norm else math.nan, flags.get(f.name, "")] for f in self.layers]
        notes = [f"thresholds: vanishing below {self.thresholds['vanishing']:g} × and exploding above "
                 f"{self.thresholds['exploding']:g} × the gradient norm of {self.reference.name} (nearest the loss), "
                 f"or exploding where ‖∂L/∂θ‖/‖θ‖ > {self.thresholds['ratio']:g}."]
        return render(["layer", "‖∂L/∂θ‖", "‖θ‖", "ratio", "vs last", "flag"], rows, fmt, notes + list(self.advice))

    def to_markdown(self) -> str:
        """A Markdown table."""
        return self.table("markdown")

    def __str__(self) -> str:
        return self.table("text")

    def plot(self, path: str | Path) -> Path:
        """Bar chart of ‖∂L/∂θ‖ per layer (log scale), flagged layers coloured, the thresholds
        drawn; ‖∂L/∂θ‖/‖θ‖ as a line. Writes ``path`` (any format matplotlib knows)."""
        from symbolic_torch.analysis.plot import plot_flow
        return plot_flow(self, Path(path))


def gradient_flow(d: Derivation, vanishing: float = 1e-3, exploding: float = 1e3, ratio: float = 1e2) -> GradientFlow:
    """The ``GradientFlow`` of ``d`` (which must hold gradient formulas: ``differentiate=True``).

    ``vanishing`` and ``exploding`` are the thresholds relative to the gradient norm of the
    layer nearest the loss, ``ratio`` the one on ‖∂L/∂θ‖/‖θ‖ (see the module).
    """
    grads = d.gradient_values()
    params = dict(d.run.gm.named_parameters(remove_duplicate=False))
    layers = tuple(_layer(name, names, grads, params) for name, names in layers_in_order(d))
    if not layers:
        raise ValueError("gradient_flow needs a model with parameters: this derivation reads none")
    ref = layers[-1].grad_norm
    low = tuple(f.name for f in layers if f.grad_norm == 0 or f.grad_norm < vanishing * ref)
    high = tuple(f.name for f in layers if not math.isfinite(f.grad_norm) or f.grad_norm > exploding * ref
                 or f.ratio > ratio)
    advice = _advice(d, layers, low, high)
    return GradientFlow(layers, low, high, {"vanishing": vanishing, "exploding": exploding, "ratio": ratio}, advice)


def _layer(name: str, names: tuple[str, ...], grads: dict[str, torch.Tensor],
           params: dict[str, torch.nn.Parameter]) -> LayerFlow:
    g = math.sqrt(sum(float(grads[n].double().pow(2).sum()) for n in names if n in grads))
    p = math.sqrt(sum(float(params[n].detach().double().pow(2).sum()) for n in names))
    weights = [params[n] for n in names if params[n].dim() >= 2]
    gain = None
    if weights:
        w = weights[0].detach().double()
        gain = float(w.std()) * math.sqrt(w[0].numel()) if w.numel() > 1 else None
    ratio = g / p if p else (math.inf if g else 0.0)  # a zero-initialised layer with no gradient is not exploding
    return LayerFlow(name, names, g, p, ratio, gain)


def _advice(d: Derivation, layers: tuple[LayerFlow, ...], low: tuple[str, ...], high: tuple[str, ...]) -> tuple[str, ...]:
    """What the derivation shows about why: one line per cause found."""
    if not low and not high:
        return (f"no layer's gradient is below or above the thresholds ({len(layers)} layers).",)
    out = []
    saturating = saturating_steps(d)
    if low and saturating:
        kinds = ", ".join(f"{op} ×{n}" for op, n in saturating.items())
        out.append(f"saturating activations on the path ({kinds}): σ'(x) ≤ 1/4 and tanh'(x) ≤ 1, so each "
                   "one shrinks the gradient; use ReLU, GELU or SiLU, or normalize their inputs.")
    if len(layers) >= DEEP and not has_normalization(d) and not residual_adds(d):
        out.append(f"{len(layers)} layers deep with no normalization and no residual connection: add "
                   "LayerNorm/BatchNorm and skip connections (x + f(x)) so the gradient has a short path.")
    gains = {f.name: f.init_gain for f in layers if f.init_gain is not None}
    big = [n for n in high if gains.get(n, 0) > 2]
    small = [n for n in low if gains.get(n, 1) < 0.5]
    if big:
        out.append(f"initialization too large: std(W)·√fan_in = {gains[big[0]]:.3g} at {big[0]}; Kaiming (√2 "
                   "for ReLU) or Xavier (1 for tanh) initialization keeps it near 1 (torch.nn.init).")
    if small:
        out.append(f"initialization small: std(W)·√fan_in = {gains[small[0]]:.3g} at {small[0]}; each layer "
                   "scales the gradient by about that much; Kaiming/Xavier initialization (torch.nn.init).")
    if not out:
        out.append("no saturating activation, depth or initialization cause found; check the loss scale "
                   "and the learning rate.")
    return tuple(out)
