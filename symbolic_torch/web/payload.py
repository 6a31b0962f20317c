"""The page's data: a Derivation as the JSON the view script draws (formulas as MathML,
tensors as heat maps, verification, worked elements).

The same record serves the file (``to_html``, elements precomputed within a budget) and the
app (``/api/view``, elements on demand). It is a view model, not an exchange format: the
derivation's exchange format is ``Derivation.to_json()``.
"""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from symbolic_torch.printing.latex import latex
from symbolic_torch.web.elements import element_key, element_record, plan, worked
from symbolic_torch.web.mathml import to_mathml
from symbolic_torch.web.tensors import heatmap, number

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation, Step

__all__ = ["view_payload", "step_record", "tensor_of"]


def _shape(shape: Any) -> list[int]:
    return [int(n) for n in shape]


def tensor_of(d: "Derivation", step: "Step", kind: str) -> Any:
    """The values drawn for ``kind`` of ``step``: its output, or what its gradient formula for
    operand ``kind`` contributes (``None`` where no adjoint reaches the step)."""
    if kind == "forward":
        return d.values[step.output]
    return d.chain.contributions.get((step.name, kind))


def step_record(d: "Derivation", step: "Step", max_values: int) -> dict[str, Any]:
    """One step for the page: names, formulas (MathML), operands, notes and heat maps."""
    grads = []
    for key, eq in step.gradients.items():
        status = step.status(key)
        values = tensor_of(d, step, key) if status != "failed" else None
        grads.append({"key": key, "status": status, "shape": _shape(step.operand(key).shape),
                      "mathml": None if status == "failed" else to_mathml(latex(eq), True),
                      "tensor": None if values is None else heatmap(values, max_values)})
    return {"index": step.index, "name": step.name, "module_path": step.module_path, "op": step.op,
            "target": str(step.target), "shape": _shape(step.out_shape), "status": step.forward_status(),
            "forward": to_mathml(latex(step.forward), True),
            "operands": [{"key": o.key, "symbol": to_mathml(latex(o.base)), "source": o.source or "constant",
                          "shape": _shape(o.shape), "differentiable": o.key in step.gradients}
                         for o in step.operands],
            "gradients": grads, "notes": [to_mathml(n, True) for n in step.notes],
            "tensor": heatmap(tensor_of(d, step, "forward"), max_values)}


def _verification(d: "Derivation") -> dict[str, Any] | None:
    r = d.report
    if r is None:
        return None
    rows = [{"name": row.name if row.kind == "tensor" else f"{row.name}: {row.key}",
             "shape": _shape(row.shape), "abs": number(row.max_abs_error), "rel": number(row.max_rel_error),
             "ok": row.ok, "note": row.note} for row in r.rows]
    return {"ok": r.ok, "failures": len(r.failures), "rows": rows}


def _loss(d: "Derivation") -> float | str | None:
    if not d.outputs:
        return None
    out = d.values.get(d.outputs[0])
    return number(float(out)) if out is not None and out.numel() == 1 else None


def view_payload(d: "Derivation", budget: int = 0, max_values: int = 4096, title: str = "Derivation",
                 mode: str = "static") -> dict[str, Any]:
    """The page's data for ``d``; ``budget`` worked elements are precomputed (``plan``)."""
    start = time.perf_counter()
    steps = [step_record(d, s, max_values) for s in d.steps]
    elements = {}
    for name, kind, pos in plan(d, budget) if budget > 0 else []:
        elements[element_key(name, kind, pos)] = element_record(worked(d, name, kind, pos))
    inputs = [{"name": n, "shape": _shape(d.values[ph].shape)} for n, ph in d.inputs.items()]
    return {"title": title, "mode": mode, "capture": d.capture_method, "inputs": inputs,
            "has_loss": d.has_loss, "loss": _loss(d), "steps": steps, "elements": elements,
            "verification": _verification(d), "build_seconds": round(time.perf_counter() - start, 3)}
