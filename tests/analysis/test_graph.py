"""Derivation.to_json (docs/schema.md, docs/graph.schema.json), to_dot and to_svg."""
from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import sympy as sp
import torch

import symbolic_torch as st
from symbolic_torch.analysis.counting import step_macs, step_params
from symbolic_torch.io.srepr import loads

from conftest import MODELS

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "graph.schema.json").read_text())


@pytest.fixture(scope="module")
def graphs(zoo: dict) -> dict[str, dict]:
    return {name: zoo[name][1].to_json(repeats=2) for name in MODELS}


@pytest.mark.parametrize("name", MODELS)
def test_graph_is_valid_strict_json_under_the_schema(graphs: dict, name: str) -> None:
    g = json.loads(json.dumps(graphs[name], allow_nan=False))
    jsonschema.Draft202012Validator(SCHEMA).validate(g)
    broken = json.loads(json.dumps(g))
    broken["nodes"][-1]["output"]["shape"] = "1x2"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(SCHEMA).validate(broken)


@pytest.mark.parametrize("name", MODELS)
def test_nodes_and_edges_match_the_run(zoo: dict, graphs: dict, name: str) -> None:
    d, g = zoo[name][1], graphs[name]
    steps = {n["id"]: n for n in g["nodes"] if n["kind"] == "step"}
    assert list(steps) == [s.name for s in d.steps]
    for s in d.steps:
        n = steps[s.name]
        assert n["output"]["shape"] == list(s.value.shape) and n["output"]["dtype"] == str(s.value.dtype)[6:]
        assert n["memory"]["output_bytes"] == s.value.numel() * s.value.element_size()
        assert [i["shape"] for i in n["inputs"]] == [list(o.shape) for o in s.operands]
        assert loads(n["formulas"]["forward"]["srepr"]) == s.forward
        assert {k: f["status"] for k, f in n["formulas"]["gradients"].items()} == {k: s.status(k) for k in s.gradients}
        assert n["status"] == "verified"
    shapes = {n["id"]: n["output"]["shape"] for n in g["nodes"]}
    for e in g["edges"]:
        assert e["source"] in shapes and e["target"] in steps
        assert e["shape"] == shapes[e["source"]] or name == "pool"  # the edge carries the reader's view
    reads = sum(1 for s in d.steps for o in s.operands if o.source in shapes)
    assert len(g["edges"]) == reads


@pytest.mark.parametrize("name", MODELS)
def test_parameter_counts_equal_the_models(zoo: dict, graphs: dict, name: str) -> None:
    model, g = zoo[name][0], graphs[name]
    assert g["totals"]["params"] == sum(p.numel() for p in model.parameters())
    for n in (n for n in g["nodes"] if n["kind"] == "step" and n["module_path"]):
        module = dict(model.named_modules()).get(n["module_path"])
        if module is not None and n["op"] != "recurrent":
            assert n["params"] == sum(p.numel() for p in module.parameters(recurse=False))
    for s in zoo[name][1].steps:
        assert steps_of(g)[s.name]["params"] == step_params(s) and steps_of(g)[s.name]["macs"] == step_macs(s)


def steps_of(g: dict) -> dict[str, dict]:
    return {n["id"]: n for n in g["nodes"] if n["kind"] == "step"}


def test_tiny_cnn_figures(graphs: dict) -> None:
    steps = {n["id"]: n for n in graphs["tiny_cnn"]["nodes"]}
    assert steps["conv1"]["params"] == 4 * 1 * 3 * 3 + 4 and steps["fc"]["params"] == 36 * 10 + 10
    assert steps["conv1"]["param_names"] == ["conv1.weight", "conv1.bias"]
    assert (steps["conv1"]["macs"], steps["fc"]["macs"], steps["relu"]["macs"]) == (4 * 6 * 6 * 9, 36 * 10, 0)
    assert steps["conv1"]["flops"] == 2 * 4 * 6 * 6 * 9
    assert graphs["tiny_cnn"]["totals"]["macs"] == sum(n["macs"] for n in steps.values() if n["kind"] == "step")
    assert steps["x"]["kind"] == "input" and steps["x"]["output"]["shape"] == [1, 1, 8, 8]
    assert steps["conv1"]["memory"] == {"output_bytes": 4 * 36 * 8, "grad_bytes": 4 * 36 * 8, "param_bytes": 40 * 8}


def test_every_step_is_timed_and_timing_leaves_the_run_alone(zoo: dict, graphs: dict) -> None:
    model, d = zoo["bn"]
    assert graphs["bn"]["timing"]["measured"] and graphs["bn"]["timing"]["repeats"] == 2
    assert all(n["time_s"] > 0 for n in graphs["bn"]["nodes"] if n["kind"] == "step")
    before = {k: b.clone() for k, b in d.run.gm.named_buffers()}
    rng = torch.random.get_rng_state()
    d.to_json(repeats=1)
    assert all(torch.equal(before[k], b) for k, b in d.run.gm.named_buffers())
    assert torch.equal(rng, torch.random.get_rng_state())


def test_a_loaded_derivation_exports_the_same_graph_untimed(zoo: dict, graphs: dict, tmp_path: Path) -> None:
    d = zoo["tiny_cnn"][1]
    g = st.load(d.save(tmp_path / "t")).to_json()
    assert g["timing"] == {"measured": False, "reason": "a loaded derivation has no graph module to run"}
    strip = lambda nodes: [{k: v for k, v in n.items() if k != "time_s"} for n in nodes]  # noqa: E731
    assert strip(g["nodes"]) == strip(graphs["tiny_cnn"]["nodes"]) and g["edges"] == graphs["tiny_cnn"]["edges"]


def test_dot_source_golden() -> None:
    torch.manual_seed(0)
    d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
    assert d.to_dot().source == (
        "digraph Linear {\n\tgraph [rankdir=TB]\n\tnode [fontname=Helvetica fontsize=10]\n"
        "\tedge [fontname=Helvetica fontsize=9]\n"
        "\tinput_1 [label=\"input\n1×3 float64\" fillcolor=\"#e3f2fd\" shape=ellipse style=filled]\n"
        "\tlinear [label=\"linear\nlinear_fn\n1×2\n8 params\" color=\"#2e7d32\" peripheries=2 shape=box style=rounded]\n"
        "\tinput_1 -> linear [label=\"1×3\"]\n}\n")


def test_svg_names_every_node_and_edge_shape(zoo: dict, tmp_path: Path) -> None:
    d = zoo["lstm"][1]
    svg = d.to_svg(tmp_path / "lstm.svg").read_text()
    assert svg.lstrip().startswith("<?xml") and "</svg>" in svg
    for s in d.steps:
        assert f"<title>{s.name}</title>" in svg
    assert "2×2×3" in svg and "16 params" not in svg  # gate steps read 3·16 + 4·16 + 16 + 16 weights
    assert "144 params" in svg
