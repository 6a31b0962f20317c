"""A ``Derivation`` as plain data: a JSON-ready dict (formulas as ``srepr``) and its tensors.

The layout is documented in docs/format.md (format 1); ``decode`` reads it back.
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import sympy as sp
import torch

from symbolic_torch.io.srepr import dumps
from symbolic_torch.io.tensors import TensorStore

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.operand import Operand
    from symbolic_torch.ir.step import Step
    from symbolic_torch.ir.update import BufferUpdate
    from symbolic_torch.verify.report import Row, VerificationReport

FORMAT = 1
KIND = "symbolic_torch.derivation"


def dtype_name(dtype: torch.dtype) -> str:
    """``torch.float64`` → ``"float64"``."""
    return str(dtype).removeprefix("torch.")


def number(x: float) -> float | str:
    """A float for strict JSON: NaN and ±∞ as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return float(x)


def encode(d: "Derivation", evidence: bool = True) -> tuple[dict[str, Any], TensorStore]:
    """``d`` as a format-1 dict and the store of the tensors it refers to. With ``evidence`` (and a
    verified ``d``) the chain's per-step contributions and the end-to-end gradients that were
    compared with autograd are kept too, so that the loaded derivation can re-check itself."""
    import symbolic_torch
    store = TensorStore()
    values = {k: store.add(v) for k, v in d.values.items() if isinstance(v, torch.Tensor)}
    run = d.run
    doc: dict[str, Any] = {
        "format": FORMAT, "kind": KIND,
        "versions": {"symbolic_torch": symbolic_torch.__version__, "torch": torch.__version__,
                     "sympy": sp.__version__},
        "model": _name(run.model), "loss": _name(run.loss) if run.loss is not None else None,
        "capture_method": d.capture_method, "has_loss": bool(d.has_loss),
        "inputs": dict(d.inputs), "placeholders": list(run.placeholders),
        "param_names": list(d.param_names), "parameters": _parameters(run), "outputs": list(d.outputs),
        "values": values,
        "seed": store.add_optional(d.seed),
        "seeds": {k: store.add(v) for k, v in run.seeds.items()},
        "tied": [list(names) for names in d.chain.tied],
        "differentiable": {k: bool(v) for k, v in run.differentiable.items()},
        "buffers": {k: store.add(v) for k, v in run.buffers.items()},
        "steps": [_step(s, d, store) for s in d.steps],
        "report": _report(d.report) if d.report is not None else None,
        "evidence": _evidence(d, store) if evidence and d.report is not None else None,
    }
    return doc, store


def _parameters(run: Any) -> list[str]:
    """Every name of every model parameter (frozen and tied ones too), for parameter counts."""
    if run.gm is None:
        return list(run.parameters)
    return [n for n, _ in run.gm.named_parameters(remove_duplicate=False)]


def _name(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__


def _step(s: "Step", d: "Derivation", store: TensorStore) -> dict[str, Any]:
    return {
        "index": s.index, "name": s.name, "target": s.target, "module_path": s.module_path,
        "op": s.op, "op_latex": s.op_latex, "output": s.output, "out_shape": list(s.out_shape),
        "dtype": dtype_name(d.values[s.output].dtype) if s.output in d.values else None,
        "out_indices": [dumps(i) for i in s.out_indices], "forward": dumps(s.forward),
        "operands": [_operand(o, d, store) for o in s.operands],
        "gradients": {k: dumps(eq) for k, eq in s.gradients.items()},
        "seeded": bool(s.seeded), "remarks": list(s.remarks),
        "updates": [_update(u, store) for u in s.updates],
    }


def _operand(o: "Operand", d: "Derivation", store: TensorStore) -> dict[str, Any]:
    src = d.values.get(o.source) if o.source is not None else None
    same = isinstance(src, torch.Tensor) and src.dtype == o.value.dtype and src.shape == o.value.shape \
        and torch.equal(src, o.value)
    return {"key": o.key, "symbol": o.symbol, "source": o.source, "shape": list(o.shape),
            "dtype": dtype_name(o.value.dtype), "differentiable": bool(o.differentiable),
            "slot": repr(o.slot), "value": store.add(src if same else o.value)}


def _update(u: "BufferUpdate", store: TensorStore) -> dict[str, Any]:
    return {"buffer": u.buffer, "symbol": u.symbol, "index": dumps(u.index), "size": u.size,
            "factor": dumps(sp.sympify(u.factor)), "scale": dumps(sp.sympify(u.scale)),
            "statistic": dumps(u.statistic), "env": {k: store.add(v) for k, v in u.env.items()},
            "after": store.add(u.after), "before": store.add_optional(u.before)}


def row(r: "Row") -> dict[str, Any]:
    """One verification row as JSON (errors as strict-JSON numbers)."""
    return {"kind": r.kind, "name": r.name, "key": r.key, "shape": list(r.shape),
            "max_abs_error": number(r.max_abs_error), "max_rel_error": number(r.max_rel_error),
            "ok": bool(r.ok), "nonfinite": bool(r.nonfinite), "note": r.note}


def _report(rep: "VerificationReport") -> dict[str, Any]:
    return {"rows": [row(r) for r in rep.rows], "step_rows": [row(r) for r in rep.step_rows],
            "output_rows": [row(r) for r in rep.output_rows]}


def _evidence(d: "Derivation", store: TensorStore) -> dict[str, Any]:
    contributions = [{"step": s, "key": k, "tensor": store.add(t)} for (s, k), t in d.chain.contributions.items()]
    grads = {}
    for name in d.gradient_values():
        key = d.inputs.get(name, name)
        if key in d.adjoints:
            grads[name] = store.add(d.adjoints[key])
    return {"contributions": contributions, "gradients": grads}
