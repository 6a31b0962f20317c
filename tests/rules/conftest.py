"""Helpers for the rule agreement tests: derive, verify, and compare with autograd ourselves."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import sympy as sp
import torch
from torch import nn

import symbolic_torch as st

ATOL = 1e-10
NEAR_ZERO = ATOL / 1e-3  # a 0.1 % error in a gradient below this hides under ATOL
ADJOINT_STREAM = 7919  # the backward seed's generator, apart from the inputs' global stream
LEFTOVERS = (sp.KroneckerDelta, sp.Derivative, sp.Subs)


class Wrap(nn.Module):
    """A one-input module whose forward is ``fn(self, x)``; keyword modules become submodules."""

    def __init__(self, fn: Callable[..., Any], **modules: nn.Module) -> None:
        super().__init__()
        for name, m in modules.items():
            self.add_module(name, m)
        self.fn = fn

    def forward(self, x: torch.Tensor) -> Any:
        return self.fn(self, x)


class Wrap2(Wrap):
    """``Wrap`` with two inputs (fx needs a fixed signature)."""

    def forward(self, x: torch.Tensor, y: Any) -> Any:  # type: ignore[override]
        return self.fn(self, x, y)


def rand(*shape: int, positive: bool = False) -> torch.Tensor:
    """A float64 random tensor (positive values in [0.5, 2) when asked)."""
    if positive:
        return torch.rand(shape, dtype=torch.float64) * 1.5 + 0.5
    return torch.randn(shape, dtype=torch.float64)


def assert_closed(d: st.Derivation) -> None:
    """No derived gradient keeps a KroneckerDelta, Derivative or Subs."""
    for step in d.steps:
        for key, eq in step.gradients.items():
            for cls in LEFTOVERS:
                assert not eq.rhs.has(cls), f"{step.name}.{key} keeps {cls.__name__}: {eq.rhs}"


def updated(step: Any, before: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The buffers as ``step``'s update notes compute them: each note's formula evaluated from the
    buffer before the run (the step's own copy, or ``before[buffer]`` where it kept none)."""
    from symbolic_torch.numeric.evaluate import evaluate_over
    out = {}
    for u in step.updates:
        old = u.before if u.before is not None else (before or {})[u.buffer]
        out[u.buffer] = evaluate_over(u.formula, (u.index,), (u.size,), {**u.env, u.symbol: old})
    return out


def reference(model: Any, inputs: tuple[Any, ...], loss: Any, target: Any,
              grad_output: torch.Tensor | None) -> dict[str, torch.Tensor | None]:
    """∂/∂(inputs, params) by torch.autograd, computed here, independently of symbolic_torch."""
    leaves = [x.detach().clone().requires_grad_(True) if x.is_floating_point() else x for x in inputs]
    params = dict(model.named_parameters()) if isinstance(model, nn.Module) else {}
    out = model(*leaves)
    if loss is not None:
        out = loss(out, target)
    wrt = [x for x in leaves if x.is_floating_point()] + list(params.values())
    grads = torch.autograd.grad(out, wrt, None if grad_output is None else grad_output, allow_unused=True)
    names = [f"#{k}" for k, x in enumerate(leaves) if x.is_floating_point()] + list(params)
    return dict(zip(names, grads))


def adjoint(shape: torch.Size | tuple[int, ...], seed: int = 0) -> torch.Tensor:
    """A random backward seed drawn from its own generator.

    Never from the global stream the inputs came from: reseeding that stream would hand back the
    input itself, and for a scale-invariant op (rms_norm, renorm, normalize) ``⟨x, ∂y/∂x⟩ = 0``, so
    the gradient would vanish and any formula would pass.
    """
    gen = torch.Generator().manual_seed(ADJOINT_STREAM + seed)
    return torch.randn(tuple(shape), dtype=torch.float64, generator=gen)


def compare(got: dict[str, torch.Tensor], ref: dict[str, torch.Tensor | None], zero_gradient_ok: str = "") -> None:
    """Every derived gradient within ``ATOL`` of autograd's, and no check blind by construction.

    A reference gradient that is all below ``NEAR_ZERO`` (every tensor's) would let a formula off by
    0.1 % (or by any factor) pass, so it is refused unless the test names why a zero gradient is the
    point there (``zero_gradient_ok="round is piecewise constant"``).
    """
    blind, seen = [], 0
    for name, r in ref.items():
        if name not in got:
            continue
        if r is not None and r.numel():
            seen += 1
            if r.abs().max().item() <= NEAR_ZERO:
                blind.append(name)
        r = torch.zeros_like(got[name]) if r is None else r
        assert got[name].shape == r.shape, f"{name}: derived shape {tuple(got[name].shape)} vs {tuple(r.shape)}"
        err = (got[name] - r).abs().max().item() if r.numel() else 0.0
        assert err <= ATOL, f"{name}: derived vs autograd max abs error {err:.3g}"
    assert not seen or len(blind) < seen or zero_gradient_ok, (
        f"the autograd gradient of {blind} is all below {NEAR_ZERO:g}, so any formula would pass: give an "
        "input that exercises the formula, or pass zero_gradient_ok='why a zero gradient is the point'")


def check(model: Any, *inputs: Any, loss: Any = None, target: Any = None, seed: int = 0,
          zero_gradient_ok: str = "") -> st.Derivation:
    """Derive ``model`` on ``inputs``, verify, and compare its gradients with our own autograd run.

    ``seed`` seeds the model's own randomness and picks the backward seed's stream; see ``compare``
    for ``zero_gradient_ok``.
    """
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model(*inputs) if loss is None else loss(model(*inputs), target)
    # a loss is seeded with 1; anything else (a non-scalar loss too) gets a random adjoint
    grad_output = None if loss is not None and out.dim() == 0 else adjoint(out.shape, seed)
    d = st.derive(model, *inputs, loss=loss, target=target, grad_output=grad_output, verify=False)
    report = d.verify()
    assert report.ok, str(report)
    assert_closed(d)
    got = d.gradient_values()
    ref = reference(model, inputs, loss, target, grad_output)
    float_names = [n for n, x in zip(d.input_names, inputs) if x.is_floating_point()]
    for k, name in enumerate(float_names):
        ref[name] = ref.pop(f"#{k}")
    missing = {n for n in set(ref) - set(got) if ref[n] is not None}  # unused params leave the graph
    assert not missing, f"no derived gradient for {missing}; got {sorted(got)}"
    compare(got, ref, zero_gradient_ok)
    return d


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)
