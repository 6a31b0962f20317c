"""The self-contained HTML view: what the file holds, checked against the derivation itself."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.web import graph as graph_module
from symbolic_torch.web.elements import element_key, plan
from symbolic_torch.web.mathml import plain_text, to_mathml
from symbolic_torch.web.payload import view_payload
from symbolic_torch.web.tensors import MAX_SIDE, heatmap, number


def page_data(path: Path) -> dict:
    text = path.read_text()
    m = re.search(r'<script type="application/json" id="derivation-data">(.*?)</script>', text, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_mathml_golden() -> None:
    assert to_mathml(r"\frac{a}{b}") == ('<math display="inline"><mrow><mfrac><mrow><mi>a</mi></mrow>'
                                         '<mrow><mi>b</mi></mrow></mfrac></mrow></math>')
    assert to_mathml(r"x_{1} \leq 2", display=True) == (
        '<math display="block"><mrow><msub><mi>x</mi><mrow><mn>1</mn></mrow></msub><mo>≤</mo><mn>2</mn></mrow></math>')
    assert to_mathml("a < b") == '<math display="inline"><mrow><mi>a</mi><mo>&lt;</mo><mi>b</mi></mrow></math>'
    assert to_mathml(r"\frac{").startswith('<code class="tex-fallback">')


def test_page_is_self_contained(tiny_page: Path) -> None:
    text = tiny_page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "@import" not in text and "url(http" not in text
    assert text.count("<script") == 2 and "<link rel=\"icon\" href=\"data:,\">" in text
    assert text.count("<math") > 20  # the MathML is in the file, not fetched


def test_graph_links_every_step(tiny: st.Derivation, tiny_page: Path) -> None:
    text = html.unescape(tiny_page.read_text())  # dot writes "-" in ids as &#45;
    for s in tiny.steps:
        assert f'href="#{s.name}"' in text
        assert f'id="node-{s.name}"' in text
    assert "conv 1×4×6×6" in text  # op and shape on the node


def test_layered_graph_without_dot(tiny: st.Derivation, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_dot(nodes: object) -> str:
        raise RuntimeError("dot is not installed")
    monkeypatch.setattr(graph_module, "_dot_svg", no_dot)
    svg = graph_module.graph_svg(tiny)
    assert svg.startswith("<svg") and svg.count("<rect") == len(tiny.steps) + 1
    assert all(f'href="#{s.name}"' in svg for s in tiny.steps)
    assert svg.count("<path") == sum(len(n.reads) for n in graph_module.graph_nodes(tiny))


def test_precomputed_elements_are_the_derivations(tiny: st.Derivation, tiny_page: Path) -> None:
    data = page_data(tiny_page)
    conv = tiny["conv1"]
    rec = data["elements"][element_key("conv1", "forward", (0, 0, 3, 3))]  # the middle of the first grid
    e = conv.at((0, 0, 3, 3))
    assert rec["value"] == e.value and rec["terms"] == e.terms == 10 and rec["latex"] == e.latex
    assert rec["value"] == pytest.approx(float(tiny.values["conv1"][0, 0, 3, 3]), abs=1e-12)
    g = conv.grad_at("weight", (0, 0, 1, 1))
    rec = data["elements"][element_key("conv1", "weight", (0, 0, 1, 1))]
    assert rec["value"] == g.value and rec["terms"] == g.terms and rec["status"] == "verified"
    assert "∂" in plain_text(rec["mathml"][0]) and plain_text(rec["mathml"][2]) == f"={number(g.value):g}".replace("-", "−")
    assert len(data["elements"]) == 60


def test_heat_maps_hold_the_run_and_the_gradients(tiny: st.Derivation, tiny_page: Path) -> None:
    steps = {s["name"]: s for s in page_data(tiny_page)["steps"]}
    conv = steps["conv1"]
    out = tiny.values["conv1"]
    assert conv["tensor"]["shape"] == [1, 4, 6, 6] and conv["tensor"]["lead_shape"] == [1, 4]
    assert conv["tensor"]["slices"]["0,2"][3][4] == number(float(out[0, 2, 3, 4]))
    weight = next(g for g in conv["gradients"] if g["key"] == "weight")
    contrib = tiny.chain.contributions[("conv1", "weight")]
    assert weight["tensor"]["slices"]["3,0"][2][1] == number(float(contrib[3, 0, 2, 1]))
    assert contrib[3, 0, 2, 1] == pytest.approx(tiny["conv1"].grad_at("weight", (3, 0, 2, 1)).value)
    assert steps["loss"]["tensor"]["slices"][""] == [[number(float(tiny.values["loss"]))]]


def test_heatmap_caps_and_non_finite_values() -> None:
    t = torch.zeros(3, 40, 50, dtype=torch.float64)
    t[0, 0, 0], t[0, 0, 1] = float("nan"), -float("inf")
    h = heatmap(t, max_values=MAX_SIDE * MAX_SIDE * 2)
    assert (h["shown_rows"], h["shown_cols"], sorted(h["slices"]), h["complete"]) == (32, 32, ["0", "1"], False)
    assert h["slices"]["0"][0][:3] == ["NaN", "-Infinity", 0.0]
    assert heatmap(torch.tensor([1.0, 2.0]))["slices"] == {"": [[1.0, 2.0]]}


def test_plan_shares_the_budget_fairly(tiny: st.Derivation) -> None:
    drawn = [(s.name, k) for s in tiny.steps for k in ["forward", *s.gradients]]
    small = plan(tiny, len(drawn))
    assert {(n, k) for n, k, _ in small} == set(drawn)  # one each: every tensor's middle element
    def grid(shape: tuple[int, ...]) -> int:  # the first grid drawn: the last two dims, capped
        return min(shape[-1], MAX_SIDE) * (min(shape[-2], MAX_SIDE) if len(shape) > 1 else 1) if shape else 1
    need = sum(grid(s.out_shape) + sum(grid(o.shape) for o in s.operands if o.key in s.gradients) for s in tiny.steps)
    assert need == 654 and len(plan(tiny, 10_000)) == need  # above the need: every cell of every first grid
    fair = plan(tiny, 100)
    assert len(fair) == 100 and sum(1 for n, k, _ in fair if (n, k) == ("conv1", "bias")) == 4  # small ones fill up


def test_a_failed_gradient_is_not_shown(tiny: st.Derivation, monkeypatch: pytest.MonkeyPatch) -> None:
    from symbolic_torch.ir.step import Step
    real = Step.status
    monkeypatch.setattr(Step, "status", lambda self, key: "failed" if (self.name, key) == ("fc", "weight") else real(self, key))
    data = view_payload(tiny, budget=200)
    fc = next(s for s in data["steps"] if s["name"] == "fc")
    weight = next(g for g in fc["gradients"] if g["key"] == "weight")
    assert weight["mathml"] is None and weight["tensor"] is None and weight["status"] == "failed"
    assert not [k for k in data["elements"] if k.startswith("fc|weight|")]
