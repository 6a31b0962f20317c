"""The derivation as a graph, JSON-ready: ``Derivation.to_json()`` (schema: docs/schema.md).

Nodes are the steps (one per fx node with a formula) and the model's inputs; an edge runs from
the node that produced a tensor to each step that reads it, labelled with the operand and its
shape. Parameters, buffers and constants are not nodes: each step lists the ones it reads. Per
step: op, module path, input and output shapes and dtypes, parameter count, MACs (where
counted: MACs and other ops), measured forward time (``analysis.timing``), memory, the forward and gradient
formulas (LaTeX and ``srepr``) with their verification status.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
>>> g = d.to_json(timing=False)
>>> [n["kind"] for n in g["nodes"]], g["edges"][0]["shape"]
(['input', 'step'], [1, 3])
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from symbolic_torch.analysis.counting import parameter_names
from symbolic_torch.analysis.counts import Counter
from symbolic_torch.io.encode import dtype_name, number, row
from symbolic_torch.io.srepr import dumps
from symbolic_torch.printing.latex import latex

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.operand import Operand
    from symbolic_torch.ir.step import Step

SCHEMA = "symbolic_torch.graph"
VERSION = 1
TIME_NOTE = ("median wall-clock seconds of the node's own forward call on the run's inputs (torch.no_grad, "
             "after one warm-up pass); interpreter overhead and symbolic work not included")
MAC_NOTE = "one multiply–add = 1 MAC; FLOPs = 2 × MACs (as torch.utils.flop_counter counts)"
MEMORY_NOTE = ("bytes: output_bytes = the step's output tensor; grad_bytes = the gradients its backward writes "
               "(one per differentiable operand, as symbolic_torch.summary counts); param_bytes = the parameters "
               "the step reads")


def graph_json(d: "Derivation", timing: bool = True, repeats: int = 5) -> dict[str, Any]:
    """``d`` as graph data (see the module doc and docs/schema.md)."""
    times, timing_doc = _times(d, timing, repeats)
    counter = Counter(d)
    producers = {s.output: s.name for s in d.steps}
    inputs = _input_nodes(d)
    nodes: list[dict[str, Any]] = list(inputs.values())
    edges: list[dict[str, Any]] = []
    for step in d.steps:
        node, step_edges = _step_node(d, step, producers, inputs, counter, times.get(step.name))
        nodes.append(node)
        edges += step_edges
    rep = d.report
    return {
        "schema": SCHEMA, "version": VERSION,
        "model": _model_name(d), "capture_method": d.capture_method, "has_loss": bool(d.has_loss),
        "inputs": [n["id"] for n in inputs.values()], "outputs": list(d.outputs),
        "conventions": {"time": TIME_NOTE, "macs": MAC_NOTE, "memory": MEMORY_NOTE},
        "timing": timing_doc,
        "nodes": nodes, "edges": edges,
        "totals": _totals(d, nodes, counter),
        "verification": None if rep is None else {
            "ok": bool(rep.ok), "max_abs_error": number(rep.max_abs_error),
            "rows": [row(r) for r in rep.all_rows]},
    }


def _model_name(d: "Derivation") -> str | None:
    named = getattr(d.run, "model_name", None)
    if named is not None or d.run.model is None:
        return named
    model = d.run.model
    return getattr(model, "__name__", None) or type(model).__name__


def _times(d: "Derivation", timing: bool, repeats: int) -> tuple[dict[str, float], dict[str, Any]]:
    if not timing:
        return {}, {"measured": False, "reason": "timing=False"}
    if getattr(d.run, "gm", None) is None:
        return {}, {"measured": False, "reason": "a loaded derivation has no graph module to run"}
    from symbolic_torch.analysis.timing import node_times
    return node_times(d.run, repeats), {"measured": True, "repeats": repeats, "what": TIME_NOTE}


def _input_nodes(d: "Derivation") -> dict[str, dict[str, Any]]:
    """The graph's inputs that some step reads, by placeholder name (the loss's target too)."""
    argument = {v: k for k, v in d.inputs.items()}
    read = {o.source for s in d.steps for o in s.operands}
    out = {}
    for name in d.run.placeholders:
        value = d.values.get(name)
        if name not in read or value is None:
            continue
        out[name] = {"id": name, "kind": "input", "argument": argument.get(name, name),
                     "output": {"shape": list(value.shape), "dtype": dtype_name(value.dtype)},
                     "memory": {"output_bytes": value.numel() * value.element_size()}}
    return out


def _role(d: "Derivation", o: "Operand", producers: dict[str, str], inputs: dict[str, Any]) -> str:
    if o.source is None:
        return "constant"
    if o.source in producers:
        return "activation"
    if o.source in inputs:
        return "input"
    if o.source in parameter_names(d):  # frozen ones too, as the params count has them
        return "parameter"
    if o.source in d.run.buffers:
        return "buffer"
    return "constant"


def _operand_doc(o: "Operand", role: str) -> dict[str, Any]:
    return {"key": o.key, "symbol": o.symbol, "source": o.source, "role": role, "shape": list(o.shape),
            "dtype": dtype_name(o.value.dtype), "differentiable": bool(o.differentiable)}


def _step_node(d: "Derivation", step: "Step", producers: dict[str, str], inputs: dict[str, Any],
               counter: Counter, seconds: float | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    roles = [(o, _role(d, o, producers, inputs)) for o in step.operands]
    edges = [{"source": producers.get(o.source, o.source), "target": step.name, "key": o.key,
              "shape": list(o.shape), "dtype": dtype_name(o.value.dtype)}
             for o, role in roles if role in ("activation", "input")]
    out = d.values[step.output]
    params = [o for o, role in roles if role == "parameter"]
    cost = counter.cost(step)
    node = {
        "id": step.name, "kind": "step", "index": step.index, "op": step.op, "op_latex": step.op_latex,
        "target": step.target, "module_path": step.module_path,
        "inputs": [_operand_doc(o, role) for o, role in roles],
        "output": {"shape": list(step.out_shape), "dtype": dtype_name(out.dtype)},
        "param_names": [o.source for o in params], "params": counter.params(step),
        "macs": cost.macs, "flops": cost.flops, "ops": cost.ops, "time_s": seconds,
        "memory": {"output_bytes": out.numel() * out.element_size(),
                   "grad_bytes": sum(o.value.numel() * o.value.element_size() for o in step.operands
                                     if o.differentiable),
                   "param_bytes": sum(o.value.numel() * o.value.element_size() for o in params)},
        "formulas": _formulas(step), "notes": list(step.notes), "status": _status(step),
    }
    return node, edges


def _formula(eq: Any, status: str) -> dict[str, str]:
    return {"latex": latex(eq), "srepr": dumps(eq), "status": status}


def _formulas(step: "Step") -> dict[str, Any]:
    """Forward and gradient formulas; a formula whose status is "failed" disagrees with autograd
    and must not be shown as if it were right."""
    return {"forward": _formula(step.forward, step.forward_status()),
            "gradients": {k: _formula(eq, step.status(k)) for k, eq in step.gradients.items()}}


def _status(step: "Step") -> str:
    """"failed" if any formula of the step failed, "verified" if all were checked, else "unverified"."""
    found = {step.forward_status()} | {step.status(k) for k in step.gradients}
    return "failed" if "failed" in found else "verified" if found == {"verified"} else "unverified"


def _totals(d: "Derivation", nodes: list[dict[str, Any]], counter: Counter) -> dict[str, Any]:
    steps = [n for n in nodes if n["kind"] == "step"]
    macs = [n["macs"] for n in steps]
    times = [n["time_s"] for n in steps]
    return {"steps": len(steps), "params": counter.total_params(),
            "macs": None if any(m is None for m in macs) else sum(macs),
            "flops": None if any(m is None for m in macs) else 2 * sum(macs),
            "time_s": None if any(t is None for t in times) else sum(times),
            "output_bytes": sum(n["memory"]["output_bytes"] for n in steps)}
