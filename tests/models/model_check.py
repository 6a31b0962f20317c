"""Shared by the model tests and ``scripts/models_tried.py``: a model case and its end-to-end check.

A ``Case`` builds a model, its inputs, a loss and a target (all float64, tiny, seeded). ``check``
derives it, asserts that verification passes, and compares ``gradient_values()`` with
``torch.autograd.grad`` of the same loss, for the inputs and every parameter — at float64's
verification tolerance, refusing a reference gradient that is zero (it would prove nothing).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

import torch

import symbolic_torch as st
from symbolic_torch.numeric.tolerances import for_dtype


@dataclass(frozen=True)
class Case:
    """A named model from a library: ``build()`` → (model, inputs, loss, target)."""

    name: str
    library: str
    build: Callable[[], tuple[torch.nn.Module, tuple[torch.Tensor, ...], Any, Any]]


def derive(case: Case) -> tuple[st.Derivation, float]:
    """The case derived without verification, and the seconds it took."""
    model, inputs, loss, target = case.build()
    start = time.perf_counter()
    d = st.derive(model, *inputs, loss=loss, target=target, verify=False)
    return d, time.perf_counter() - start


def reference(case: Case) -> dict[str, torch.Tensor]:
    """autograd's ∂L/∂t for every floating-point input (by argument position ``input<k>``) and parameter."""
    model, inputs, loss, target = case.build()
    leaves = [x.detach().clone().requires_grad_(x.is_floating_point()) for x in inputs]
    params = {n: p for n, p in model.named_parameters() if p.requires_grad}
    torch.manual_seed(0)
    out = loss(model(*leaves), target)
    wrt = [x for x in leaves if x.requires_grad] + list(params.values())
    grads = torch.autograd.grad(out, wrt, allow_unused=True)
    names = [f"input{k}" for k, x in enumerate(leaves) if x.requires_grad] + list(params)
    return {n: (g if g is not None else torch.zeros_like(w)) for n, g, w in zip(names, grads, wrt)}


def check(case: Case) -> st.Derivation:
    """Derive ``case``; assert verification passes and gradient_values() equals autograd."""
    d, _ = derive(case)
    report = d.verify()
    assert report.ok, f"{case.name}: {report}"
    got = d.gradient_values()
    ref = reference(case)
    float_inputs = [n for n in d.input_names if d.values[d.inputs.get(n, n)].is_floating_point()]
    renamed = dict(zip([k for k in ref if k.startswith("input")], float_inputs))
    tol = for_dtype(torch.float64)
    nonzero = 0
    for name, r in ref.items():
        g = got[renamed.get(name, name)]
        scale = r.abs().max().item() if r.numel() else 0.0
        nonzero += scale > tol.atol
        err = (g - r).abs().max().item() if r.numel() else 0.0
        assert err <= tol.atol + tol.rtol * scale, f"{case.name}: ∂L/∂{name} differs from autograd by {err:.3g}"
    assert nonzero >= len(ref) // 2, f"{case.name}: most reference gradients are zero; the check would prove little"
    return d
