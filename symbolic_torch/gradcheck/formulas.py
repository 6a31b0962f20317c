"""Both sides of a gradient check as per-element formulas.

*Derived* (the truth): ``symbolic_torch.derive`` on the Function's forward, its
per-step derived gradients chained into one expression per element
(``scalar_chain``). When the rule table cannot lower the forward (an op with no
rule, a mask computed without a formula), the forward is traced with
``SymbolicTensor``s and sympy differentiates it; when even that fails, there
is no formula and the numbers come from autograd through the forward's ops.

*Yours*: the user's ``backward`` run on ``SymbolicTensor``s — the symbolic
adjoints, and the saved tensors as the forward computed them — when every op
it uses can be traced.

Every formula is checked once against the numbers at the example point before
it is trusted, so a limitation of the tracer shows up as "compared
numerically", never as a false alarm.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import sympy as sp
import torch

from symbolic_torch.gradcheck.custom_function import CustomFunction
from symbolic_torch.pipeline import derive
from symbolic_torch.gradcheck.sampling import Batch, evaluate_at
from symbolic_torch.gradcheck.scalar_chain import check_expanded, element_gradients
from symbolic_torch.gradcheck.symbolic_tensor import SymbolicTensor, constant, objects
from symbolic_torch.numeric.tolerances import FAITHFUL

DERIVE = "symbolic_torch.derive"
TRACED = "sympy, differentiating the traced forward"
AUTOGRAD = "autograd through the forward's own ops"


@dataclass
class Formulas:
    """Per-element formulas of each differentiable input's gradient (None: numbers only)."""

    elements: dict[str, np.ndarray] | None
    source: str
    note: str = ""


def symbols(cf: CustomFunction) -> tuple[dict[str, SymbolicTensor], list[SymbolicTensor]]:
    """One symbol per element of each differentiable input (``x[0, 1]``) and each output adjoint."""
    xs = {n: SymbolicTensor.symbols(n, tuple(cf.args[k].shape)) for k, n in zip(cf.differentiable, cf.diff_names)}
    gs = [SymbolicTensor.symbols(n, s) for n, s in zip(cf.grad_names, cf.out_shapes)]
    return xs, gs


def elements_at(elements: dict[str, np.ndarray], batch: Batch) -> dict[str, torch.Tensor]:
    """Every formula evaluated at every point: ``{name: (M, *shape)}``."""
    m = next(iter(batch.values())).shape[0]
    out = {}
    for name, arr in elements.items():
        vals = torch.zeros((m, *arr.shape), dtype=torch.float64)
        for pos in np.ndindex(*arr.shape):
            vals[(slice(None), *pos)] = evaluate_at(arr[pos], batch)
        out[name] = vals
    return out


def _faithful(elements: dict[str, np.ndarray], example: Batch, numbers: dict[str, torch.Tensor]) -> str:
    """"" if the formulas reproduce ``numbers`` at the example point, else what differs."""
    values = elements_at(elements, example)
    for name, ref in numbers.items():
        got = values[name][0]
        if got.shape != ref.shape or not torch.allclose(got, ref.to(torch.float64), rtol=FAITHFUL.rtol,
                                                        atol=FAITHFUL.atol, equal_nan=True):
            return f"its formula for {name!r} does not reproduce its numbers at the example point"
    return ""


def derived(cf: CustomFunction, grads: Sequence[torch.Tensor], example: Batch) -> Formulas:
    """The true gradient of every differentiable input, as formulas when possible."""
    xs, gs = symbols(cf)
    try:
        d = derive(cf.plain_forward(), *cf.tensor_args(),
                   grad_output=tuple(grads) if len(grads) > 1 else grads[0], verify=True)
        if d.report is not None and not d.report.ok:
            raise ValueError(f"its formulas failed verification against autograd:\n{d.report}")
        seeds = {node: g.data for node, g in zip(d.outputs, gs)}
        elements = element_gradients(d, {n: x.data for n, x in xs.items()}, seeds)
        check_expanded(elements)
        problem = _faithful(elements, example, _reference(cf, grads))
        if problem:
            raise ValueError(problem)
        return Formulas(elements, DERIVE)
    except Exception as e:  # any failure of the rule-table route falls back, saying why
        why = f"symbolic_torch.derive could not give closed formulas ({type(e).__name__}: {_first_line(e)})"
    try:
        out, _ = cf.forward(cf.with_tensors(list(xs.values())))
        outs = cf.outputs(out)
        elements = _differentiate(outs, xs, gs)
        problem = _faithful(elements, example, _reference(cf, grads))
        if problem:
            raise ValueError(problem)
        return Formulas(elements, TRACED, why)
    except Exception as e:
        return Formulas(None, AUTOGRAD, f"{why}; tracing the forward failed too ({_first_line(e)})")


def _reference(cf: CustomFunction, grads: Sequence[torch.Tensor]) -> dict[str, torch.Tensor]:
    return dict(zip(cf.diff_names, cf.autograd_of_forward([cf.args[k] for k in cf.differentiable], grads)))


def _differentiate(outs: Sequence[Any], xs: dict[str, SymbolicTensor], gs: Sequence[SymbolicTensor]) -> dict[str, np.ndarray]:
    """∂L/∂x[e] = Σ_j Σ_q ḡ_j[q] · ∂y_j[q]/∂x[e], by sympy."""
    ys = [(y.reals() if isinstance(y, SymbolicTensor) else constant(y), g.data) for y, g in zip(outs, gs)]
    out = {}
    for name, x in xs.items():
        def grad(pos: tuple[int, ...], x: SymbolicTensor = x) -> sp.Expr:
            var = x.data[pos]
            return sp.Add(*[g[q] * sp.diff(y[q], var) for y, g in ys for q in np.ndindex(*y.shape)
                            if isinstance(y[q], sp.Basic) and y[q].has(var)])
        out[name] = objects(tuple(x.shape), grad)
    return out


def yours(cf: CustomFunction, example: Batch, numbers: dict[str, torch.Tensor]) -> Formulas:
    """The user's backward as formulas, or None with the reason it could not be traced."""
    xs, gs = symbols(cf)
    try:
        _, ctx = cf.forward(cf.with_tensors(list(xs.values())))
        got = cf.backward(ctx, gs)
    except Exception as e:  # an untraceable backward is compared numerically instead
        return Formulas(None, "", f"not traceable symbolically ({_first_line(e)})")
    elements = {}
    for k, name in zip(cf.differentiable, cf.diff_names):
        v = got[k]
        shape = tuple(cf.args[k].shape)
        arr = (np.full(shape, sp.S.Zero, dtype=object) if v is None else
               v.reals() if isinstance(v, SymbolicTensor) else constant(v) if isinstance(v, torch.Tensor) else None)
        if arr is None or arr.shape != shape:
            return Formulas(None, "", f"the gradient for {name!r} does not have its input's shape")
        elements[name] = arr
    problem = _faithful(elements, example, numbers)
    if problem:
        return Formulas(None, "", f"traced, but {problem} (an op the tracer models differently)")
    return Formulas(elements, "your backward, traced symbolically")


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0][:200] if text else type(e).__name__
