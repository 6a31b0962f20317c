"""The computation graph as inline SVG: one node per input and step (op and shape), an edge
per operand read; a click on a node opens its step (each node links to ``#<step>``).

Laid out by Graphviz ``dot`` when it is installed; otherwise by a small layered layout of our
own (rank = longest path from an input), so the page never depends on it.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation

__all__ = ["Node", "graph_nodes", "graph_svg"]

COLORS = {"verified": "#e3f4e1", "failed": "#fbd5d5", "unverified": "#eef0f4", "input": "#fff4d6"}


@dataclass(frozen=True)
class Node:
    """A node of the drawn graph: ``name`` (the link target), its label lines and what it reads."""

    name: str
    title: str
    detail: str
    status: str
    reads: tuple[str, ...]


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "scalar"


def graph_nodes(d: "Derivation") -> list[Node]:
    """The inputs and steps of ``d`` in run order, with the tensors each step reads."""
    nodes = [Node(ph, arg, f"input {_shape(tuple(d.values[ph].shape))}", "input", ())
             for arg, ph in d.inputs.items()]
    known = {n.name: n.name for n in nodes}  # tensor → the node that made it
    for s in d.steps:
        status = "failed" if any(s.status(k) == "failed" for k in ("forward", *s.gradients)) else s.forward_status()
        reads = tuple(dict.fromkeys(known[o.source] for o in s.operands if o.source in known))
        nodes.append(Node(s.name, s.module_path or s.name, f"{s.op} {_shape(s.out_shape)}", status, reads))
        known[s.output] = s.name
    return nodes


def graph_svg(d: "Derivation") -> str:
    """``d``'s graph as an ``<svg>`` element (no XML prolog), nodes linking to ``#<step>``."""
    nodes = graph_nodes(d)
    try:
        return _dot_svg(nodes)
    except Exception:  # noqa: BLE001 — dot missing or failing: draw it ourselves
        return _layered_svg(nodes)


def _dot_svg(nodes: list[Node]) -> str:
    import graphviz
    g = graphviz.Digraph("derivation", graph_attr={"rankdir": "TB", "nodesep": "0.25", "ranksep": "0.3",
                                                   "bgcolor": "transparent"},
                         node_attr={"shape": "box", "style": "rounded,filled", "fontname": "Helvetica",
                                    "fontsize": "10", "height": "0.3", "margin": "0.08,0.03"},
                         edge_attr={"arrowsize": "0.5", "color": "#7a869a"})
    for n in nodes:
        g.node(n.name, label=f"{n.title}\n{n.detail}", fillcolor=COLORS[n.status], URL=f"#{n.name}",
               id=f"node-{n.name}", tooltip=f"{n.name}: {n.detail}")
        for r in n.reads:
            g.edge(r, n.name)
    svg = g.pipe(format="svg", encoding="utf-8")
    svg = svg[svg.index("<svg"):]
    return re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)


def _ranks(nodes: list[Node]) -> dict[str, int]:
    rank: dict[str, int] = {}
    for n in nodes:  # run order is a topological order
        rank[n.name] = 1 + max((rank[r] for r in n.reads), default=-1)
    return rank


def _layered_svg(nodes: list[Node], w: int = 150, h: int = 34, gap_x: int = 16, gap_y: int = 26) -> str:
    rank = _ranks(nodes)
    column: dict[int, int] = {}
    pos: dict[str, tuple[int, int]] = {}
    for n in nodes:
        c = column.get(rank[n.name], 0)
        column[rank[n.name]] = c + 1
        pos[n.name] = (8 + c * (w + gap_x), 8 + rank[n.name] * (h + gap_y))
    width = 16 + max(column.values(), default=1) * (w + gap_x)
    height = 16 + (max(rank.values(), default=0) + 1) * (h + gap_y)
    parts = [f'<svg width="{width}pt" height="{height}pt" viewBox="0 0 {width} {height}" '
             'xmlns="http://www.w3.org/2000/svg">']
    for n in nodes:
        x, y = pos[n.name]
        for r in n.reads:
            rx, ry = pos[r]
            parts.append(f'<path d="M{rx + w // 2},{ry + h} C{rx + w // 2},{ry + h + gap_y} {x + w // 2},'
                         f'{y - gap_y} {x + w // 2},{y}" fill="none" stroke="#7a869a"/>')
    for n in nodes:
        x, y = pos[n.name]
        parts.append(f'<a href="#{html.escape(n.name)}"><g id="node-{html.escape(n.name)}" class="node">'
                     f'<title>{html.escape(n.name)}: {html.escape(n.detail)}</title>'
                     f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{COLORS[n.status]}" stroke="#555"/>'
                     f'<text x="{x + w // 2}" y="{y + 14}" text-anchor="middle" font-size="10">{html.escape(n.title)}</text>'
                     f'<text x="{x + w // 2}" y="{y + 27}" text-anchor="middle" font-size="10">{html.escape(n.detail)}</text>'
                     '</g></a>')
    parts.append("</svg>")
    return "".join(parts)
