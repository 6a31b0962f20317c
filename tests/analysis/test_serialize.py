"""Derivation.save / symbolic_torch.load: formulas, values and the report survive; a loaded
derivation substitutes, chains, renders and re-checks like the original."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import jsonschema
import pytest
import sympy as sp
import torch
from referencing import Registry, Resource

import symbolic_torch as st
from symbolic_torch.io.archive import JSON_NAME
from symbolic_torch.io.loaded import LoadedDerivation

from conftest import MODELS

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _saved(zoo: dict, name: str, tmp_path: Path, **kw: object) -> tuple[st.Derivation, LoadedDerivation, Path]:
    d = zoo[name][1]
    path = d.save(tmp_path / (f"{name}.zip" if name in ("tiny_cnn", "lstm") else name), **kw)
    return d, st.load(path), path


def _positions(shape: tuple[int, ...]) -> list[tuple[int, ...]]:
    return [tuple(0 for _ in shape), tuple(n - 1 for n in shape)]


@pytest.mark.parametrize("name", MODELS)
def test_formulas_operands_and_values_round_trip(zoo: dict, name: str, tmp_path: Path) -> None:
    d, e, _ = _saved(zoo, name, tmp_path)
    assert isinstance(e, LoadedDerivation) and len(e) == len(d)
    for a, b in zip(d.steps, e.steps):
        assert (b.name, b.op, b.module_path, b.out_shape, b.remarks) == (a.name, a.op, a.module_path, a.out_shape, a.remarks)
        assert sp.srepr(b.forward) == sp.srepr(a.forward) and b.out_indices == a.out_indices
        assert {k: sp.srepr(v) for k, v in b.gradients.items()} == {k: sp.srepr(v) for k, v in a.gradients.items()}
        for oa, ob in zip(a.operands, b.operands):
            assert (ob.key, ob.symbol, ob.source, ob.shape, ob.differentiable, ob.slot) == \
                (oa.key, oa.symbol, oa.source, oa.shape, oa.differentiable, oa.slot)
            assert ob.value.dtype == oa.value.dtype and torch.equal(ob.value, oa.value.detach())
        assert torch.equal(b.value, a.value.detach()) and b.value.dtype == a.value.dtype
    assert e.inputs == d.inputs and e.param_names == d.param_names and e.outputs == d.outputs


@pytest.mark.parametrize("name", MODELS)
def test_loaded_substitutes_and_chains_like_the_original(zoo: dict, name: str, tmp_path: Path) -> None:
    d, e, _ = _saved(zoo, name, tmp_path)
    for a, b in zip(d.steps, e.steps):
        for pos in _positions(a.out_shape):
            assert b.at(pos) == a.at(pos)
        for key in a.gradients:
            pos = _positions(a.operand(key).shape)[-1]
            assert b.grad_at(key, pos) == a.grad_at(key, pos)
    ga, gb = d.gradient_values(), e.gradient_values()
    assert ga.keys() == gb.keys() and all(torch.equal(ga[k], gb[k]) for k in ga)
    assert d.adjoints.keys() == e.adjoints.keys() and all(torch.equal(d.adjoints[k], e.adjoints[k]) for k in d.adjoints)
    assert e.to_latex() == d.to_latex()


@pytest.mark.parametrize("name", MODELS)
def test_loaded_verify_rechecks_every_row(zoo: dict, name: str, tmp_path: Path) -> None:
    d, e, _ = _saved(zoo, name, tmp_path)
    assert e.report is not None and e.report.all_rows == d.report.all_rows  # the saved report, as it was
    rep = e.verify()
    assert rep.ok
    keys = lambda r: [(x.kind, x.name, x.key) for x in r]  # noqa: E731
    assert keys(rep.step_rows) == keys(d.report.step_rows) and keys(rep.rows) == keys(d.report.rows)


def test_buffer_updates_round_trip(zoo: dict, tmp_path: Path) -> None:
    d, e, _ = _saved(zoo, "bn", tmp_path)
    (ua,), (ub,) = d["bn"].updates[:1], e["bn"].updates[:1]
    assert ub.formula == ua.formula and torch.equal(ub.after, ua.after) and torch.equal(ub.before, ua.before)
    assert e["bn"].notes == d["bn"].notes


def test_a_changed_value_or_formula_fails_the_recheck(zoo: dict, tmp_path: Path) -> None:
    _, e, path = _saved(zoo, "tiny_cnn", tmp_path)
    e.values["conv1"].add_(1e-3)  # conv1's output no longer matches its formula, nor relu's input its output
    assert [(r.name, r.key) for r in e.verify().failures] == [("conv1", "forward"), ("relu", "forward")]
    f = st.load(path)
    f["fc"].gradients["weight"] = sp.Eq(f["fc"].gradients["weight"].lhs, 2 * f["fc"].gradients["weight"].rhs)
    failed = {(r.name, r.key) for r in f.verify().failures}
    assert ("fc", "weight") in failed and ("fc.weight", "grad") in failed


def test_verify_without_evidence_names_the_live_model(zoo: dict, tmp_path: Path) -> None:
    _, e, _ = _saved(zoo, "mlp", tmp_path, evidence=False)
    assert e.report is not None and e.report.ok  # the saved report is still there
    with pytest.raises(st.LiveModelError, match="needs the live model"):
        e.verify()
    with pytest.raises(st.LiveModelError, match="no graph module"):
        e.run.node("x")
    unverified = st.derive(torch.nn.Linear(2, 1).double(), torch.ones(1, 2, dtype=torch.float64), verify=False)
    with pytest.raises(st.LiveModelError, match="saved unverified"):
        st.load(unverified.save(tmp_path / "u")).verify()


def test_files_follow_the_documented_format(zoo: dict, tmp_path: Path) -> None:
    schema = json.loads((DOCS / "format.schema.json").read_text())
    graph = json.loads((DOCS / "graph.schema.json").read_text())
    registry = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in (schema, graph)])
    for name in MODELS:
        _, _, path = _saved(zoo, name, tmp_path)
        text = zipfile.ZipFile(path).read(JSON_NAME) if path.suffix == ".zip" else (path / JSON_NAME).read_bytes()
        doc = json.loads(text)
        jsonschema.Draft202012Validator(schema, registry=registry).validate(doc)
        assert doc["format"] == 1
    doc["steps"][0]["operands"][0]["value"] = 3  # a tensor reference must be a key
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema, registry=registry).validate(doc)


def test_every_tensor_is_stored_once(zoo: dict, tmp_path: Path) -> None:
    _, _, path = _saved(zoo, "lstm", tmp_path)
    doc = json.loads(zipfile.ZipFile(path).read(JSON_NAME))
    operand_refs = {o["value"] for s in doc["steps"] for o in s["operands"] if o["source"] == "lstm.weight_ih_l0"}
    assert len(operand_refs) == 1 and operand_refs == {doc["values"]["lstm.weight_ih_l0"]}


def test_bad_files_raise_format_errors(zoo: dict, tmp_path: Path) -> None:
    _, _, path = _saved(zoo, "mlp", tmp_path)
    doc = json.loads((path / JSON_NAME).read_text())
    for change, match in [({"format": 2}, "format 2"), ({"kind": "other"}, "not a saved derivation")]:
        (path / JSON_NAME).write_text(json.dumps({**doc, **change}))
        with pytest.raises(st.FormatError, match=match):
            st.load(path)
    doc["steps"][0]["forward"] = "__import__('os').system('true')"
    (path / JSON_NAME).write_text(json.dumps(doc))
    with pytest.raises(st.FormatError, match="not allowed"):
        st.load(path)
    (tmp_path / "junk.zip").write_bytes(b"not a zip")
    with pytest.raises(st.FormatError, match="neither a folder nor a zip"):
        st.load(tmp_path / "junk.zip")
    with pytest.raises(st.FormatError, match="no derivation.json"):
        st.load(tmp_path)


@pytest.mark.pdf
def test_a_loaded_derivation_writes_its_handout(zoo: dict, tmp_path: Path) -> None:
    _, e, _ = _saved(zoo, "tiny_cnn", tmp_path)
    pdf = e.to_pdf(tmp_path / "loaded.pdf")
    assert Path(pdf).stat().st_size > 10_000
