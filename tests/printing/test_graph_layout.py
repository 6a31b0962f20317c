"""The computation graph's layout and its TikZ: every node placed once, no two boxes of a row
overlapping, a skip connection routed around the nodes it passes, deep graphs cut into columns."""
from __future__ import annotations

import re

import torch

import symbolic_torch as st
from symbolic_torch.printing.graph_layout import Edge, Graph, Node, fitted, layout, model_graph
from symbolic_torch.printing.graph_tikz import graph_tikz, shape_label, tikz_picture


def _chain(n: int, skip_every: int = 0) -> Graph:
    """x → s0 → s1 → … with a residual edge over every ``skip_every`` steps."""
    nodes = [Node("x", "x", "input", "input")] + [Node(f"s{k}", f"layer{k}", "conv", "step") for k in range(n)]
    edges = [Edge("x", "s0", (1, 2))] + [Edge(f"s{k}", f"s{k + 1}", (1, 2)) for k in range(n - 1)]
    if skip_every:
        edges += [Edge(f"s{k}", f"s{k + skip_every}", (1, 2)) for k in range(0, n - skip_every, skip_every)]
    return Graph(tuple(nodes), tuple(edges))


def _no_overlap(lay) -> None:  # type: ignore[no-untyped-def]
    rows: dict[tuple[int, float], list[Node]] = {}
    for n in lay.graph.nodes:
        p = lay.nodes[n.id]
        rows.setdefault((p.column, p.y), []).append(n)
    for nodes in rows.values():
        boxes = sorted((lay.nodes[n.id].x - n.width / 2, lay.nodes[n.id].x + n.width / 2) for n in nodes)
        assert all(a[1] <= b[0] + 1e-9 for a, b in zip(boxes, boxes[1:])), boxes


def test_tiny_graph(tiny: st.Derivation) -> None:
    g = model_graph(tiny)
    assert [n.id for n in g.nodes] == ["x", "conv1", "relu", "pool", "flatten", "fc", "loss", "output0"]
    assert [(e.source, e.target, e.shape) for e in g.edges][:2] == [("x", "conv1", (1, 1, 8, 8)), ("conv1", "relu", (1, 4, 6, 6))]
    lay = fitted(g)
    assert lay.columns == 1 and len({p.y for p in lay.nodes.values()}) == len(g.nodes)  # one node per row
    tikz = tikz_picture(lay)
    assert tikz.count(r"\node[") == 8 and tikz.count(r"\draw[->") == 7
    assert r"{$1{\times}4{\times}6{\times}6$}" in tikz


def test_skip_connection_gets_its_own_lane() -> None:
    g = _chain(6, skip_every=3)
    lay = layout(g, rows=20)
    _no_overlap(lay)
    (edge, pts), = [(e, p) for e, p in lay.routes if (e.source, e.target) == ("s0", "s3")]
    assert len(pts) == 4  # s0, two bends (one per skipped row), s3
    for bend, passed in zip(pts[1:3], ("s1", "s2")):
        node = next(n for n in g.nodes if n.id == passed)
        assert abs(bend.x - lay.nodes[passed].x) >= node.width / 2  # the lane runs beside the node


def test_deep_graph_is_cut_into_columns_with_connectors() -> None:
    g = _chain(70, skip_every=3)
    lay = fitted(g)
    assert 2 <= lay.columns <= 8
    _no_overlap(lay)
    assert max(p.column for p in lay.nodes.values()) == lay.columns - 1
    tikz = tikz_picture(lay)
    connectors = re.findall(r"\(c(\d+)a\)", tikz)
    assert connectors and len(set(connectors)) >= lay.columns - 1
    assert graph_tikz(g).startswith(r"\begin{adjustbox}{max width=\linewidth, max totalheight=0.8\textheight, center}")


def test_shape_label() -> None:
    assert shape_label((2, 3)) == r"$2{\times}3$" and shape_label(()) == "scalar"
