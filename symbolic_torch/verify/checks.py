"""Verification: every derived formula against torch.autograd on the same values.

Three kinds of check, all from the formulas (never from autograd's numbers):
- ``forward``: each step's forward formula, evaluated over every output element,
  against the tensor the run produced;
- per step and operand: what the chain added to the operand's adjoint with that step's
  gradient formula (seeded with the derived adjoint of the step's output), against
  autograd's vector–Jacobian product of that node alone with the same seed;
- per model input and parameter: the gradient chained through all formulas
  (``Derivation.gradient_values``) against ``torch.autograd.grad`` of the model.

The reference is the model itself, run again, not only the graph captured from it: the
model's outputs are compared with the run's (``output`` rows), so that a capture that
computes something else (an in-place write through a view, say) cannot pass.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch

from symbolic_torch.frontend.table import tolerance_of
from symbolic_torch.numeric.evaluate import evaluate_over
from symbolic_torch.verify.compare import compare, compare_within
from symbolic_torch.verify.replay import Grads, graph_gradients, model_replay, node_vjp
from symbolic_torch.verify.report import Row, VerificationReport

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step
    from symbolic_torch.ir.update import BufferUpdate


def verify(d: "Derivation", atol: float | None = None, rtol: float | None = None) -> VerificationReport:
    """Check every formula of ``d`` against autograd (see module doc), also when called under no_grad."""
    with torch.enable_grad():
        return _verify(d, atol, rtol)


def _verify(d: "Derivation", atol: float | None, rtol: float | None) -> VerificationReport:
    reference = graph_gradients(d)
    model = model_replay(d)
    report = VerificationReport()
    if model is not None:
        report.output_rows = [compare("output", name, "forward", d.values[name], got, d.values[name].dtype,
                                      atol, rtol) for name, got in model.outputs.items()]
        if all(r.ok for r in report.output_rows):  # else the output rows already fail, and say why
            reference = {**reference, **model.grads}
    for step in d.steps:
        report.step_rows += _step_rows(d, step, atol, rtol)
    report.rows = _tensor_rows(d, reference, atol, rtol)
    return report


def _step_rows(d: "Derivation", step: "Step", atol: float | None, rtol: float | None) -> list[Row]:
    """The forward formula's row, and one per gradient formula: the chain's contribution
    against autograd's vector–Jacobian product of the node, seeded alike."""
    dtype = d.values[step.output].dtype
    tol = tolerance_of([step.op])
    env = {o.symbol: o.value for o in step.operands}
    forward = evaluate_over(step.forward.rhs, step.out_indices, step.out_shape, env)
    rows = [compare_within(tol, "step", step.name, "forward", forward, d.values[step.output], dtype, atol, rtol)]
    rows += [update_row(step.name, u, atol, rtol) for u in step.updates if u.checkable]
    if not step.gradients:
        return rows
    seed = d.adjoints.get(step.output)
    if seed is None:  # no adjoint reaches the step: it contributes nothing, autograd's seed is zero
        seed = torch.zeros(step.out_shape, dtype=torch.float64)
    local = node_vjp(d.run, step, seed)
    for key in step.gradients:
        got = d.chain.contributions.get((step.name, key))
        if got is None:
            got = torch.zeros(step.operand(key).shape, dtype=torch.float64)
        rows.append(compare_within(tol, "step", step.name, key, got, local.get(key), dtype, atol, rtol))
    return rows


def update_row(step: str, u: "BufferUpdate", atol: float | None = None, rtol: float | None = None) -> Row:
    """A buffer update (running statistics): its formula from the buffer before the run, against
    the buffer the run left."""
    assert u.before is not None
    got = evaluate_over(u.formula, (u.index,), (u.size,), {**u.env, u.symbol: u.before})
    return compare("step", step, u.key, got, u.after, u.after.dtype, atol, rtol)


def _tensor_rows(d: "Derivation", reference: Grads, atol: float | None, rtol: float | None) -> list[Row]:
    """Per model input and parameter: the chained gradient against autograd's."""
    derived = d.gradient_values()
    tol = tolerance_of(s.op for s in d.steps)
    rows = []
    for name in derived:
        key = d.inputs.get(name, name)
        rows.append(compare_within(tol, "tensor", name, "grad", d.adjoints.get(key, derived[name]),
                                   reference.get(key), d.values[key].dtype, atol, rtol))
    return rows
