"""Format-1 data (docs/format.md) back into a ``LoadedDerivation``."""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Any, Mapping

import torch

from symbolic_torch.autodiff.chain import chain
from symbolic_torch.errors import FormatError
from symbolic_torch.io.encode import FORMAT, KIND
from symbolic_torch.io.loaded import Evidence, LoadedDerivation, SavedRun
from symbolic_torch.io.srepr import loads
from symbolic_torch.io.tensors import fetch
from symbolic_torch.ir.operand import Operand
from symbolic_torch.ir.step import Step
from symbolic_torch.ir.update import BufferUpdate
from symbolic_torch.verify.report import Row, VerificationReport

Tensors = Mapping[str, torch.Tensor]


def decode(doc: Mapping[str, Any], tensors: Tensors, source: Path | None = None) -> LoadedDerivation:
    """The derivation ``doc`` describes, its tensors read from ``tensors``."""
    _check_header(doc, source)
    values = {k: _need(tensors, key, f"value {k!r}") for k, key in doc["values"].items()}
    steps = [_step(s, tensors) for s in doc["steps"]]
    seeds = {k: _need(tensors, key, f"seed of {k!r}") for k, key in doc["seeds"].items()}
    run = SavedRun(tuple(values.get(p) for p in doc["placeholders"]), seeds, tuple(doc["outputs"]),
                   dict(doc["differentiable"]),
                   {k: _need(tensors, key, f"buffer {k!r}") for k, key in doc["buffers"].items()},
                   list(doc["placeholders"]), values, doc.get("model"), doc.get("loss"), list(doc["parameters"]))
    d = LoadedDerivation(steps, values, chain(steps, seeds, doc["tied"]), dict(doc["inputs"]),
                         list(doc["param_names"]), fetch(tensors, doc["seed"], "the seed"),
                         bool(doc["has_loss"]), doc["capture_method"], run)  # type: ignore[arg-type]
    d.source = source
    d.versions = dict(doc.get("versions", {}))
    d.saved_report = report(doc["report"]) if doc.get("report") is not None else None
    d.report = d.saved_report
    d.evidence = _evidence(doc["evidence"], tensors) if doc.get("evidence") is not None else None
    return d


def _check_header(doc: Mapping[str, Any], source: Path | None) -> None:
    where = f" ({source})" if source else ""
    if doc.get("kind") != KIND:
        raise FormatError(f"not a saved derivation{where}: kind is {doc.get('kind')!r}, expected {KIND!r}")
    if doc.get("format") != FORMAT:
        raise FormatError(f"derivation file{where} has format {doc.get('format')!r}; this version of "
                          f"symbolic_torch reads format {FORMAT}")


def _need(tensors: Tensors, key: str, what: str) -> torch.Tensor:
    t = fetch(tensors, key, what)
    assert t is not None
    return t


def _step(s: Mapping[str, Any], tensors: Tensors) -> Step:
    what = f"step {s['name']!r}"
    operands = tuple(Operand(o["key"], o["symbol"], o["source"], tuple(o["shape"]), bool(o["differentiable"]),
                             ast.literal_eval(o["slot"]), _need(tensors, o["value"], f"{what} operand {o['key']!r}"))
                     for o in s["operands"])
    updates = tuple(_update(u, tensors, what) for u in s["updates"])
    return Step(s["index"], s["name"], s["target"], s["module_path"], s["op"], s["op_latex"], s["output"],
                tuple(s["out_shape"]), tuple(loads(i) for i in s["out_indices"]), loads(s["forward"]),
                operands, {k: loads(v) for k, v in s["gradients"].items()}, bool(s["seeded"]),
                tuple(s["remarks"]), updates)


def _update(u: Mapping[str, Any], tensors: Tensors, what: str) -> BufferUpdate:
    what = f"{what} update of {u['buffer']!r}"
    return BufferUpdate(u["buffer"], u["symbol"], loads(u["index"]), u["size"], loads(u["factor"]),
                        loads(u["scale"]), loads(u["statistic"]),
                        {k: _need(tensors, key, what) for k, key in u["env"].items()},
                        _need(tensors, u["after"], what), fetch(tensors, u["before"], what))


def _float(x: float | str) -> float:
    return float(x)  # "NaN", "Infinity", "-Infinity" read back as floats


def report(doc: Mapping[str, Any]) -> VerificationReport:
    """A ``VerificationReport`` from its JSON rows."""
    def rows(name: str) -> list[Row]:
        return [Row(r["kind"], r["name"], r["key"], tuple(r["shape"]), _float(r["max_abs_error"]),
                    _float(r["max_rel_error"]), bool(r["ok"]), bool(r["nonfinite"]), r["note"])
                for r in doc.get(name, [])]
    return VerificationReport(rows("rows"), rows("step_rows"), rows("output_rows"))


def _evidence(doc: Mapping[str, Any], tensors: Tensors) -> Evidence:
    contributions = {(c["step"], c["key"]): _need(tensors, c["tensor"], f"contribution {c['step']}.{c['key']}")
                     for c in doc["contributions"]}
    grads = {k: _need(tensors, key, f"gradient of {k!r}") for k, key in doc["gradients"].items()}
    return Evidence(contributions, grads)
