"""The computation graph as a TikZ picture: boxes for steps, shapes on the edges.

Coordinates come from ``graph_layout``; this module only writes them out. An edge that leaves
one column for the next is cut there and joined by a pair of numbered connectors (the
flow-chart convention), so a deep model reads as side-by-side columns. The picture is scaled
to fit ``max width`` × ``max height`` of the page, never enlarged. Needs only ``tikz`` (pgf ships
with texlive-latex-base) and ``adjustbox``.

>>> print(graph_tikz(model_graph(d)))                      # doctest: +SKIP
\\begin{adjustbox}{max width=\\linewidth, max totalheight=0.8\\textheight}
\\begin{tikzpicture}[...]
"""
from __future__ import annotations

from symbolic_torch.printing.graph_layout import Graph, Layout, Node, Point, fitted
from symbolic_torch.printing.text import text

STYLES = {"step": "draw, rounded corners=2pt, fill=blue!6", "input": "draw, fill=green!10",
          "output": "draw, double, fill=orange!12"}
CONNECTOR = 0.75  # cm between a column's last row and the connector below it (and above the first)
PACKAGES = ("tikz", "adjustbox")


def _c(p: Point) -> str:
    return f"({p.x:.3f},{p.y:.3f})"


def shape_label(shape: tuple[int, ...]) -> str:
    """An edge's label: ``(1, 4, 6, 6)`` → ``$1{\\times}4{\\times}6{\\times}6$``."""
    return "$" + r"{\times}".join(map(str, shape)) + "$" if shape else "scalar"


def _node(n: Node, p: Point, k: int) -> str:
    sub = rf"\\{{\scriptsize\itshape {text(n.subtitle)}}}" if n.subtitle else ""
    return rf"\node[{STYLES[n.kind]}, align=center] (n{k}) at {_c(p)} {{\textbf{{{text(n.title)}}}{sub}}};"


def _path(coords: list[str], label: str | None) -> str:
    """``\\draw`` through ``coords``, the shape ``label`` beside the first segment."""
    tag = rf" node[right, font=\tiny, inner sep=1pt] {{{label}}}" if label else ""
    return rf"\draw[->, rounded corners=3pt] {coords[0]} --{tag} " + " -- ".join(coords[1:]) + ";"


def _connector(name: str, x: float, y: float, k: int) -> str:
    return rf"\node[circle, draw, inner sep=1pt, font=\tiny] ({name}) at ({x:.3f},{y:.3f}) {{{k}}};"


def _edge(ends: tuple[str, str], pts: tuple[Point, ...], label: str, counter: list[int]) -> list[str]:
    """The edge's path; cut where it changes column, the two ends joined by numbered connectors."""
    lines: list[str] = []
    coords, tag = [ends[0]], label
    for a, b in zip(pts, pts[1:]):
        if a.column != b.column:
            counter[0] += 1
            k = counter[0]
            lines += [_connector(f"c{k}a", a.x, a.y - CONNECTOR, k), _connector(f"c{k}b", b.x, b.y + CONNECTOR, k)]
            lines.append(_path(coords + [f"(c{k}a)"], tag))
            coords, tag = [f"(c{k}b)"], None
        if b is not pts[-1]:
            coords.append(_c(b))
    lines.append(_path(coords + [ends[1]], tag))
    return lines


def tikz_picture(lay: Layout) -> str:
    """The ``tikzpicture`` of a placed graph (no scaling)."""
    index = {n.id: k for k, n in enumerate(lay.graph.nodes)}
    lines = [r"\begin{tikzpicture}[>=stealth, font=\footnotesize, inner sep=2.5pt]"]
    lines += [_node(n, lay.nodes[n.id], index[n.id]) for n in lay.graph.nodes]
    counter, labelled = [0], set()
    for edge, pts in lay.routes:  # a tensor read by several steps has one shape: label it once
        ends = (f"(n{index[edge.source]})", f"(n{index[edge.target]})")
        lines += _edge(ends, pts, "" if edge.source in labelled else shape_label(edge.shape), counter)
        labelled.add(edge.source)
    lines.append(r"\end{tikzpicture}")
    return "\n".join(lines)


def graph_tikz(g: Graph, max_height: str = r"0.8\textheight") -> str:
    """``g`` laid out to fit the page and drawn, scaled down to the line width and ``max_height``."""
    lay = fitted(g)
    return (rf"\begin{{adjustbox}}{{max width=\linewidth, max totalheight={max_height}, center}}" + "\n"
            + tikz_picture(lay) + "\n" + r"\end{adjustbox}")
