"""The derivation's graph drawn with Graphviz: ``Derivation.to_dot()`` / ``to_svg(path)``.

Drawn from ``to_json``'s nodes and edges (untimed), so picture and data agree: a box per step
(fx name, op, module path, output shape, parameter count), an ellipse per model input (by its argument name), an edge
per tensor read, labelled with its shape. A step whose formula failed verification is red;
the model's outputs have a double border.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
>>> "1×3" in d.to_dot().source
True
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import graphviz

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation

COLORS = {"verified": "#2e7d32", "failed": "#c62828", "unverified": "#616161"}


def shape_text(shape: list[int]) -> str:
    """``[1, 4, 6, 6]`` → ``"1×4×6×6"`` (``"scalar"`` for ``[]``)."""
    return "×".join(map(str, shape)) or "scalar"


def _label(node: dict[str, Any]) -> str:
    if node["kind"] == "input":
        return f"{node['argument']}\n{shape_text(node['output']['shape'])} {node['output']['dtype']}"
    lines = [node["id"], node["op"] + (f"  ({node['module_path']})" if node["module_path"] else ""),
             shape_text(node["output"]["shape"])]
    if node["params"]:
        lines.append(f"{node['params']:,} params")
    if node["status"] == "failed":
        lines.append("FAILED verification")
    return "\n".join(lines)


def graph_dot(d: "Derivation", graph: dict[str, Any] | None = None) -> graphviz.Digraph:
    """A ``graphviz.Digraph`` of ``d`` (from ``graph``, its ``to_json`` data, if given)."""
    from symbolic_torch.analysis.graph import graph_json
    g = graph_json(d, timing=False) if graph is None else graph
    dot = graphviz.Digraph(name=g.get("model") or "derivation", graph_attr={"rankdir": "TB"},
                           node_attr={"fontname": "Helvetica", "fontsize": "10"},
                           edge_attr={"fontname": "Helvetica", "fontsize": "9"})
    outputs = set(g["outputs"])
    for node in g["nodes"]:
        if node["kind"] == "input":
            dot.node(node["id"], _label(node), shape="ellipse", style="filled", fillcolor="#e3f2fd")
            continue
        dot.node(node["id"], _label(node), shape="box", style="rounded",
                 color=COLORS[node["status"]], peripheries="2" if node["id"] in outputs else "1")
    for e in g["edges"]:
        dot.edge(e["source"], e["target"], label=shape_text(e["shape"]))
    return dot


def write_svg(d: "Derivation", path: str | os.PathLike[str] = "paper_output/graph.svg") -> Path:
    """Render ``d``'s graph with ``dot`` to the SVG file ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(graph_dot(d).pipe(format="svg"))
    return path
