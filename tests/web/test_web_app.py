"""The served app through Flask's test client: elements on demand, training, and bad requests."""
from __future__ import annotations

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.cli import build_parser, main
from symbolic_torch.web.app import create_app


@pytest.fixture(scope="module")
def client(tiny: st.Derivation):
    return create_app(tiny).test_client()


def test_page_and_view(client, tiny: st.Derivation) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    text = r.get_data(as_text=True)
    assert '"mode":"server"' in text and 'id="train-form"' in text and text.count("<math") > 10
    view = client.get("/api/view").get_json()
    assert [s["name"] for s in view["steps"]] == [s.name for s in tiny.steps] and view["elements"] == {}


def test_element_and_gradient_are_the_derivations(client, tiny: st.Derivation) -> None:
    body = client.get("/api/element?step=conv1&position=0,2,4,1").get_json()
    e = tiny["conv1"].at((0, 2, 4, 1))
    assert (body["latex"], body["value"], body["terms"]) == (e.latex, e.value, e.terms)
    body = client.get("/api/gradient?step=fc&name=weight&position=7,20").get_json()
    g = tiny["fc"].grad_at("weight", (7, 20))
    assert (body["latex"], body["value"], body["terms"]) == (g.latex, g.value, g.terms)
    assert body["value"] == pytest.approx(float(tiny.gradient_values()["fc.weight"][7, 20]))
    assert client.get("/api/element?step=loss&position=").get_json()["value"] == pytest.approx(float(tiny.values["loss"]))


def test_slice(client, tiny: st.Derivation) -> None:
    body = client.get("/api/slice?step=conv1&tensor=forward&lead=0,3").get_json()
    assert body["rows"][5][0] == pytest.approx(float(tiny.values["conv1"][0, 3, 5, 0]), rel=1e-3)


BAD = [  # (url, status, words the message must contain)
    ("/api/element?step=nope&position=0", 404, ["no step 'nope'", "conv1"]),
    ("/api/element?step=conv1&position=0,0,1", 400, ["3 indices", "0..0, 0..3, 0..5, 0..5"]),
    ("/api/element?step=conv1&position=0,9,1,1", 400, ["out of range", "0..3"]),
    ("/api/element?step=conv1&position=a,b", 400, ["comma-separated integers"]),
    ("/api/element?step=conv1", 400, ["position"]),
    ("/api/element?position=0", 400, ["step"]),
    ("/api/gradient?step=conv1&position=0,0,1,1", 400, ["name"]),
    ("/api/gradient?step=conv1&name=gamma&position=0", 404, ["gamma"]),
    ("/api/gradient?step=loss&name=target&position=0", 404, ["not differentiable", "input"]),
    ("/api/gradient?step=fc&name=weight&position=10,0", 400, ["0..9, 0..35"]),
    ("/api/slice?step=conv1&tensor=forward&lead=0,4", 400, ["0..0, 0..3"]),
    ("/api/slice?step=conv1&tensor=zzz", 404, ["forward", "weight"]),
    ("/api/view?iteration=1", 404, ["no training iterations"]),
    ("/api/train?steps=many", 400, ["steps", "1..50"]),
    ("/api/train?steps=0", 400, ["1..50"]),
    ("/api/train?steps=1000", 400, ["1..50"]),
    ("/api/train?lr=-1", 400, ["lr", "0 < lr"]),
    ("/api/train?lr=nan", 400, ["lr"]),
    ("/api/train?lr=fast", 400, ["not a number"]),
    ("/api/train?optimizer=lbfgs", 400, ["sgd", "adam"]),
    ("/nowhere", 404, ["Not Found"]),
]


@pytest.mark.parametrize("url,status,words", BAD, ids=[u for u, _, _ in BAD])
def test_bad_requests_name_what_is_valid(client, url: str, status: int, words: list[str]) -> None:
    r = client.get(url)
    assert r.status_code == status and r.is_json
    assert all(w in r.get_json()["error"] for w in words), r.get_json()


def test_derivation_json_follows_the_graph_schema(client, tiny: st.Derivation) -> None:
    import json
    from pathlib import Path
    jsonschema = pytest.importorskip("jsonschema")
    r = client.get("/api/derivation")
    assert r.status_code == 200
    body = r.get_json()
    schema = json.loads((Path(__file__).resolve().parents[2] / "docs" / "graph.schema.json").read_text())
    jsonschema.validate(body, schema)
    assert [n["id"] for n in body["nodes"] if n["kind"] == "step"] == [s.name for s in tiny.steps]
    assert body["verification"]["ok"] is True


def test_training_moves_the_loss_and_keeps_each_iteration(mlp: st.Derivation) -> None:
    client = create_app(lambda: mlp).test_client()  # a factory works as well as a derivation
    weight = mlp["fc1"].operand("weight").value.clone()
    body = client.get("/api/train?steps=3&lr=0.5&optimizer=sgd").get_json()
    losses = body["losses"]
    assert len(losses) == 3 and losses[0] == pytest.approx(float(mlp.values["loss"]))
    assert losses[0] > losses[1] > losses[2]
    assert [h["iteration"] for h in body["history"]] == [1, 2, 3]
    more = client.get("/api/train?steps=2&lr=0.5").get_json()  # continues from the trained weights
    assert more["losses"][0] < losses[2] and len(more["history"]) == 5
    assert torch.equal(mlp["fc1"].operand("weight").value, weight)  # the served derivation is untouched
    first = client.get("/api/element?step=fc2&position=0,1&iteration=1").get_json()
    assert first["value"] == pytest.approx(mlp["fc2"].at((0, 1)).value)
    last = client.get("/api/element?step=fc2&position=0,1&iteration=5").get_json()
    assert last["value"] != pytest.approx(first["value"])
    assert last["value"] == pytest.approx(last["expected"])  # iteration 5's formula meets its own run
    view = client.get("/api/view?iteration=2").get_json()
    assert view["loss"] == pytest.approx(losses[1], rel=1e-3) and view["verification"]["ok"]
    assert client.get("/api/view?iteration=6").status_code == 400


def test_training_needs_a_loss() -> None:
    d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
    r = create_app(d).test_client().get("/api/train?steps=1")
    assert r.status_code == 409 and "--loss" in r.get_json()["error"]


def test_serve_command(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import flask
    ran = {}
    monkeypatch.setattr(flask.Flask, "run", lambda self, **kw: ran.update(kw, app=self))
    args = ["serve", "examples/tiny_cnn.py:TinyCNN", "--input-shape", "1,1,8,8", "--loss", "cross_entropy",
            "--target", "1", "--port", "8765", "--no-verify"]
    assert build_parser().parse_args(args).host == "127.0.0.1"
    assert main(args) == 0
    assert ran["host"] == "127.0.0.1" and ran["port"] == 8765
    body = ran["app"].test_client().get("/api/element?step=conv1&position=0,0,1,1").get_json()
    assert body["terms"] == 10 and "serving examples/tiny_cnn.py:TinyCNN (6 steps)" in capsys.readouterr().out


def test_a_failed_formula_is_not_served() -> None:
    """A gradient that failed verification gets a 409, not its worked element."""
    import torch
    import symbolic_torch as st
    from symbolic_torch.web.app import create_app
    torch.manual_seed(0)
    d = st.derive(torch.nn.Linear(3, 2).double(), torch.randn(4, 3, dtype=torch.float64))
    step = d[0]
    eq = step.gradients["weight"]
    step.gradients["weight"] = type(eq)(eq.lhs, 1.001 * eq.rhs, evaluate=False)  # a wrong formula
    assert not d.verify().ok and step.status("weight") == "failed"
    client = create_app(d).test_client()
    r = client.get(f"/api/gradient?step={step.name}&name=weight&position=0,0")
    assert r.status_code == 409 and "FAILED" in r.get_json()["error"]
    assert client.get(f"/api/gradient?step={step.name}&name=bias&position=0").status_code == 200
