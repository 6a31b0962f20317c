"""Verification: every derived formula against torch.autograd on the same values.

Three kinds of check, all from the formulas (never from autograd's numbers):
- ``forward``: each step's forward formula, evaluated over every output element,
  against the tensor the run produced;
- per step and operand: what the chain added to the operand's adjoint with that step's
  gradient formula (seeded with the derived adjoint of the step's output), against
  autograd's vector–Jacobian product of that node alone with the same seed;
- per model input and parameter: the gradient chained through all formulas
  (``Derivation.gradient_values``) against ``torch.autograd.grad`` of the model.

Each check uses the tolerance of the dtype torch computed its reference in (``precision``): a
float32 step inside a float64 model is checked at float32's, and its row says so; a gradient
chained through such a step is held to float64's first and to the narrowest dtype on its path
only if it needs it, with a note naming the steps.

The reference is the model itself, run again, not only the graph captured from it: the
model's outputs are compared with the run's (``output`` rows), so that a capture that
computes something else (an in-place write through a view, say) cannot pass.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from symbolic_torch import progress
from symbolic_torch.frontend.table import tolerance_of
from symbolic_torch.numeric.evaluate import evaluate_over
from symbolic_torch.verify import precision
from symbolic_torch.verify.compare import compare, compare_within
from symbolic_torch.verify.replay import Grads, graph_gradients, model_replay, node_vjp
from symbolic_torch.verify.report import Row, VerificationReport

if TYPE_CHECKING:
    from typing import Callable

    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step
    from symbolic_torch.ir.update import BufferUpdate


def verify(d: "Derivation", atol: float | None = None, rtol: float | None = None) -> VerificationReport:
    """Check every formula of ``d`` against autograd (see module doc), also when called under no_grad."""
    with torch.enable_grad(), progress.session(None, len(d.steps)):
        return _verify(d, atol, rtol)


def _verify(d: "Derivation", atol: float | None, rtol: float | None) -> VerificationReport:
    model = model_replay(d)
    report = VerificationReport()
    if model is not None:
        report.output_rows = [compare("output", name, "forward", d.values[name], got, d.values[name].dtype,
                                      atol, rtol) for name, got in model.outputs.items()]
    faithful = model is not None and all(r.ok for r in report.output_rows)  # else those rows fail, and say why
    if faithful and model.complete:  # the model's own gradients cover every tensor: one backward pass
        reference = dict(model.grads)
    else:
        reference = {**graph_gradients(d), **(model.grads if faithful else {})}
    d.chain.adjoints  # the backward pass first (its own bar), then the checks step by step
    with progress.stage("verifying", len(d.steps)) as bar:
        for step in d.steps:
            report.step_rows += _step_rows(d, step, atol, rtol)
            bar.update()
    report.rows = _tensor_rows(d, reference, atol, rtol)
    return report


def _step_rows(d: "Derivation", step: "Step", atol: float | None, rtol: float | None) -> list[Row]:
    """The forward formula's row, and one per gradient formula: the chain's contribution
    against autograd's vector–Jacobian product of the node, seeded alike. Each at the tolerance
    of the dtype torch computed it in."""
    dtype = precision.forward_dtype(d, step)
    tol = tolerance_of([step.op])
    env = {o.symbol: o.value for o in step.operands}
    forward = evaluate_over(step.forward.rhs, step.out_indices, step.out_shape, env)
    row = compare_within(tol, "step", step.name, "forward", forward, d.values[step.output], dtype, atol, rtol)
    rows = [_noted(row, precision.note(d, step, dtype), atol, rtol)]
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
        gdtype = precision.gradient_dtype(d, step, key)
        row = compare_within(tol, "step", step.name, key, got, local.get(key), gdtype, atol, rtol)
        rows.append(_noted(row, precision.note(d, step, gdtype), atol, rtol))
    return rows


def _noted(row: Row, note: str, atol: float | None, rtol: float | None) -> Row:
    """``row`` with ``note`` added (unless the caller chose the tolerance itself)."""
    if not note or atol is not None or rtol is not None:
        return row
    return replace(row, note="; ".join(n for n in (note, row.note) if n))


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
        got, ref, dtype = d.adjoints.get(key, derived[name]), reference.get(key), d.values[key].dtype
        row = compare_within(tol, "tensor", name, "grad", got, ref, dtype, atol, rtol)
        if not row.ok and atol is None and rtol is None:
            row = _through_narrower(d, key, row, lambda t: compare_within(tol, "tensor", name, "grad", got, ref, t))
        rows.append(row)
    return rows


def _through_narrower(d: "Derivation", key: str, row: Row, check: "Callable[[torch.dtype], Row]") -> Row:
    """A gradient that torch chained through a step computed in a narrower dtype can only be as exact
    as that dtype: checked again at its tolerance, the note naming the steps. Else ``row``."""
    low, steps = precision.path_dtype(d, key)
    if low is None or precision.narrowest([low, d.values[key].dtype]) != low or low == d.values[key].dtype:
        return row
    wide = check(low)
    if not wide.ok:
        return row
    shown = ", ".join(steps[:3]) + (", …" if len(steps) > 3 else "")
    name = str(low).removeprefix("torch.")
    return _noted(wide, f"its gradient passes through steps computed by torch in {name} ({shown}): "
                        f"{name} tolerance", None, None)
