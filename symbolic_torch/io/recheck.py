"""Verification of a loaded derivation, without the model.

Autograd cannot run again (the model is not saved), but everything it was compared with is:
- ``forward``: each forward formula, re-read from its ``srepr`` and evaluated over every output
  element, against the tensor the run produced (the same check as a live ``verify``);
- buffer updates: the same check as live, from the saved buffers;
- per step and operand: the chain's contribution, recomputed from the loaded formulas, against
  the contribution saved with the derivation, which autograd checked then. The row fails if
  either comparison failed; its errors are the sum of both (a bound on the error against autograd);
- per input and parameter: the chained gradient, recomputed, against the saved one, likewise;
- the model's outputs: the saved rows, as they were.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import torch

from symbolic_torch.frontend.table import tolerance_of
from symbolic_torch.numeric.evaluate import evaluate_over
from symbolic_torch.verify import precision
from symbolic_torch.verify.checks import update_row
from symbolic_torch.verify.compare import compare_within
from symbolic_torch.verify.report import Row, VerificationReport

if TYPE_CHECKING:
    from symbolic_torch.io.loaded import LoadedDerivation
    from symbolic_torch.ir.step import Step

SAVED = "loaded formula against the saved value"


def recheck(d: "LoadedDerivation", atol: float | None = None, rtol: float | None = None) -> VerificationReport:
    """The report of a loaded derivation (see the module doc). ``d`` must hold a saved report
    and its evidence."""
    assert d.saved_report is not None and d.evidence is not None
    saved = {(r.kind, r.name, r.key): r for r in d.saved_report.all_rows}
    report = VerificationReport()
    report.output_rows = [replace(r, note=_join("from the save (the model is not loaded)", r.note))
                          for r in d.saved_report.output_rows]
    for step in d.steps:
        report.step_rows += _step_rows(d, step, saved, atol, rtol)
    tol = tolerance_of(s.op for s in d.steps)
    derived = d.gradient_values()
    for name, ref in d.evidence.gradients.items():
        key = d.inputs.get(name, name)
        got = d.adjoints.get(key, derived.get(name))
        row = compare_within(tol, "tensor", name, "grad", got, ref, d.values[key].dtype, atol, rtol)
        report.rows.append(_with_saved(row, saved.get(("tensor", name, "grad"))))
    return report


def _step_rows(d: "LoadedDerivation", step: "Step", saved: dict[tuple[str, str, str], Row],
               atol: float | None, rtol: float | None) -> list[Row]:
    assert d.evidence is not None
    dtype = precision.forward_dtype(d, step)
    tol = tolerance_of([step.op])
    env = {o.symbol: o.value for o in step.operands}
    forward = evaluate_over(step.forward.rhs, step.out_indices, step.out_shape, env)
    row = compare_within(tol, "step", step.name, "forward", forward, d.values[step.output], dtype, atol, rtol)
    rows = [replace(row, note=_join(precision.note(d, step, dtype), row.note))]
    rows += [update_row(step.name, u, atol, rtol) for u in step.updates if u.checkable]
    for key in step.gradients:
        got = d.chain.contributions.get((step.name, key))
        ref = d.evidence.contributions.get((step.name, key))
        zero = torch.zeros(step.operand(key).shape, dtype=torch.float64)  # no adjoint reaches the step
        got, ref = zero if got is None else got, zero if ref is None else ref
        gdtype = precision.gradient_dtype(d, step, key)
        row = compare_within(tol, "step", step.name, key, got, ref, gdtype, atol, rtol)
        rows.append(_with_saved(row, saved.get(("step", step.name, key))))
    return rows


def _with_saved(row: Row, before: Row | None) -> Row:
    """``row`` (recomputed against saved) combined with the saved row (saved against autograd)."""
    if before is None:
        return replace(row, ok=False, note=_join(SAVED, "no saved comparison with autograd"))
    return replace(row, ok=row.ok and before.ok, nonfinite=row.nonfinite or before.nonfinite,
                   max_abs_error=row.max_abs_error + before.max_abs_error,
                   max_rel_error=row.max_rel_error + before.max_rel_error,
                   note=_join(SAVED + f", which matched autograd to {before.max_abs_error:.3g}",
                              before.note))


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
