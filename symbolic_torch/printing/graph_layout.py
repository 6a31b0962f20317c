"""A layered top-down layout of a derivation's computation graph (no drawing, just coordinates).

Nodes are the model's inputs, its steps and its outputs; edges carry the tensor's shape. The
layout is Sugiyama's in small: longest-path layers, a dummy point per layer an edge skips (so a
residual connection gets its own lane instead of running through the nodes it passes),
barycentre ordering, and x positions pulled under their predecessors. A deep graph is cut into
side-by-side columns of ``rows`` layers; an edge that leaves a column continues at the top of the
next. Printers (TikZ in ``graph_tikz``, later slides) draw from ``Layout``.

>>> lay = layout(model_graph(d), rows=12)                  # doctest: +SKIP
>>> lay.nodes["conv1"].column, lay.columns                # doctest: +SKIP
(0, 1)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation

CHAR_CM, PAD_CM, DUMMY_CM, GAP_CM = 0.13, 0.45, 0.25, 0.35


@dataclass(frozen=True)
class Node:
    """A box of the graph: ``kind`` is "input", "step" or "output"."""

    id: str
    title: str
    subtitle: str
    kind: str

    @property
    def width(self) -> float:
        """Its estimated width in cm (footnote-size text)."""
        return CHAR_CM * max(len(self.title), 0.8 * len(self.subtitle)) + PAD_CM


@dataclass(frozen=True)
class Edge:
    """A tensor flowing from ``source`` to ``target``, labelled with its shape."""

    source: str
    target: str
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Graph:
    """Nodes in topological order (the run's order) and the edges between them."""

    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


@dataclass(frozen=True)
class Point:
    """A placed point: coordinates in cm (y grows upwards) and the column it belongs to."""

    x: float
    y: float
    column: int


@dataclass(frozen=True)
class Layout:
    """``nodes`` by id with their points; ``routes``: each edge's points, source to target."""

    graph: Graph
    nodes: dict[str, Point]
    routes: tuple[tuple[Edge, tuple[Point, ...]], ...]
    columns: int
    width: float
    height: float


def model_graph(d: "Derivation") -> Graph:
    """Inputs, steps and outputs of ``d``, with an edge per tensor a step reads (parameters and
    constants are the steps' own business: the summary table lists them)."""
    nodes = [Node(ph, name, "input", "input") for name, ph in d.inputs.items()]
    known = {n.id for n in nodes}
    edges = []
    for s in d.steps:
        nodes.append(Node(s.name, s.module_path or s.name, s.op, "step"))
        for o in s.operands:
            if o.source in known and o.source not in d.param_names:
                edges.append(Edge(o.source, s.name, tuple(o.shape)))
        known.add(s.output)
    for k, out in enumerate(d.outputs):
        if out in known:
            node = Node(f"output{k}", "L" if d.has_loss else "output", "loss" if d.has_loss else "output", "output")
            nodes.append(node)
            edges.append(Edge(out, node.id, tuple(d.values[out].shape) if out in d.values else ()))
    ids = {s.name: s.output for s in d.steps}
    by_output = {v: k for k, v in ids.items()}  # a step's output tensor → the step's node
    edges = [Edge(by_output.get(e.source, e.source), e.target, e.shape) for e in edges]
    return Graph(tuple(nodes), tuple(edges))


def _layers(g: Graph) -> dict[str, int]:
    """Longest-path layering; the nodes come in topological order (the run's order)."""
    layer: dict[str, int] = {}
    preds: dict[str, list[str]] = {n.id: [] for n in g.nodes}
    for e in g.edges:
        preds[e.target].append(e.source)
    for n in g.nodes:
        layer[n.id] = 1 + max((layer[p] for p in preds[n.id]), default=-1)
    return layer


def _chains(g: Graph, layer: dict[str, int]) -> list[list[str]]:
    """Each edge as the ids it passes, one per layer (dummy ids ``~k`` for the skipped layers)."""
    chains = []
    for k, e in enumerate(g.edges):
        span = range(layer[e.source] + 1, layer[e.target])
        chains.append([e.source] + [f"~{k}.{l}" for l in span] + [e.target])
        for l in span:
            layer[f"~{k}.{l}"] = l
    return chains


def _order(ids: Sequence[str], layer: dict[str, int], chains: list[list[str]]) -> list[list[str]]:
    """Ids per layer, ordered by the barycentre of their predecessors (two top-down sweeps)."""
    rows: list[list[str]] = [[] for _ in range(max(layer.values()) + 1)]
    for i in ids:
        rows[layer[i]].append(i)
    preds: dict[str, list[str]] = {}
    for c in chains:
        for a, b in zip(c, c[1:]):
            preds.setdefault(b, []).append(a)
    for _ in range(2):
        for l in range(1, len(rows)):
            pos = {i: k for k, i in enumerate(rows[l - 1])}
            here = {i: k for k, i in enumerate(rows[l])}
            rows[l].sort(key=lambda i: (sum(pos[p] for p in preds.get(i, [])) / len(preds[i])
                                        if preds.get(i) else here[i], here[i]))
    return rows


def _x(rows: list[list[str]], width: dict[str, float], chains: list[list[str]]) -> dict[str, float]:
    """x under the predecessors' mean, pushed apart to the widths, each row re-centred."""
    preds: dict[str, list[str]] = {}
    for c in chains:
        for a, b in zip(c, c[1:]):
            preds.setdefault(b, []).append(a)
    x: dict[str, float] = {}
    for row in rows:
        want = [sum(x[p] for p in preds[i]) / len(preds[i]) if preds.get(i) else 0.0 for i in row]
        got = list(want)
        for k in range(1, len(row)):
            least = got[k - 1] + (width[row[k - 1]] + width[row[k]]) / 2 + GAP_CM
            got[k] = max(got[k], least)
        shift = sum(w - g for w, g in zip(want, got)) / max(len(row), 1)
        x.update({i: g + shift for i, g in zip(row, got)})
    return x


def layout(g: Graph, rows: int = 18, row_height: float = 1.2, column_gap: float = 1.2) -> Layout:
    """Place ``g``: layers top-down, at most ``rows`` layers per column, columns left to right."""
    layer = _layers(g)
    chains = _chains(g, layer)
    width = {i: DUMMY_CM for i in layer} | {n.id: n.width for n in g.nodes}
    ordered = _order([n.id for n in g.nodes] + [i for c in chains for i in c[1:-1]], layer, chains)
    x = _x(ordered, width, chains)
    ncol = (len(ordered) + rows - 1) // rows
    offsets, left = [], 0.0
    for c in range(ncol):
        ids = [i for row in ordered[c * rows:(c + 1) * rows] for i in row]
        lo = min(x[i] - width[i] / 2 for i in ids)
        hi = max(x[i] + width[i] / 2 for i in ids)
        offsets.append(left - lo)
        left += hi - lo + column_gap
    pts = {i: Point(x[i] + offsets[layer[i] // rows], -(layer[i] % rows) * row_height, layer[i] // rows)
           for i in layer}
    routes = tuple((e, tuple(pts[i] for i in c)) for e, c in zip(g.edges, chains))
    height = (min(rows, len(ordered)) - 1) * row_height
    return Layout(g, {n.id: pts[n.id] for n in g.nodes}, routes, ncol, left - column_gap, height)


def fitted(g: Graph, page: tuple[float, float] = (17.0, 22.0), most: int = 8) -> Layout:
    """The layout of ``g`` whose column count lets it be drawn largest on a ``page`` (cm)."""
    best, best_scale = None, -1.0
    layers = max(_layers(g).values(), default=0) + 1
    for ncol in range(1, most + 1):
        rows = max(1, -(-layers // ncol))
        lay = layout(g, rows=rows)
        scale = min(page[0] / max(lay.width + 1.0, 1e-9), page[1] / max(lay.height + 1.5, 1e-9), 1.0)
        if scale > best_scale + 1e-9:
            best, best_scale = lay, scale
        if lay.columns < ncol:
            break
    assert best is not None
    return best
