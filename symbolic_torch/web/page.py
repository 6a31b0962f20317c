"""The view as one self-contained HTML file: Jinja2 template, CSS, script, graph and data all
inline, so it opens offline and asks no other host for anything.

>>> import torch, symbolic_torch as st, tempfile, pathlib
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
>>> out = write_html(d, pathlib.Path(tempfile.mkdtemp()) / "linear.html", elements=8)
>>> "<math" in out.read_text() and "cdn" not in out.read_text()
True
"""
from __future__ import annotations

import json
import os
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from symbolic_torch.web.graph import graph_svg
from symbolic_torch.web.payload import view_payload

if TYPE_CHECKING:
    import jinja2

    from symbolic_torch.ir.derivation import Derivation

__all__ = ["DEFAULT_ELEMENTS", "render_html", "page_html", "write_html"]

DEFAULT_ELEMENTS = 400  # worked elements a file precomputes (about 2 MB of MathML for a ResNet-18)


@lru_cache(maxsize=1)
def _environment() -> "jinja2.Environment":
    import jinja2
    return jinja2.Environment(loader=jinja2.PackageLoader("symbolic_torch.web", "templates"),
                              autoescape=jinja2.select_autoescape(["html", "j2"]))


def _asset(name: str) -> str:
    return resources.files("symbolic_torch.web").joinpath("static", name).read_text(encoding="utf-8")


def _script_json(data: Any) -> str:
    """JSON that is safe inside ``<script>``: ``</`` cannot close the element."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def render_html(payload: dict[str, Any], graph: str) -> str:
    """The page for a view ``payload`` and the graph's ``<svg>``."""
    return _environment().get_template("view.html.j2").render(
        title=payload["title"], css=_asset("view.css"), js=_asset("view.js"), graph=graph,
        data=_script_json(payload), server=payload["mode"] == "server")


def page_html(d: "Derivation", elements: int = DEFAULT_ELEMENTS, max_values: int = 4096,
              title: str = "Derivation", mode: str = "static") -> str:
    """The whole page for ``d`` as a string (``mode="server"``: the app's page, elements on demand)."""
    return render_html(view_payload(d, elements, max_values, title, mode), graph_svg(d))


def write_html(d: "Derivation", path: str | os.PathLike[str] = "paper_output/derivation.html",
               elements: int = DEFAULT_ELEMENTS, max_values: int = 4096, title: str | None = None) -> Path:
    """Write ``d``'s view to ``path`` (atomically) and return the path.

    ``elements`` worked elements are precomputed (every tensor's middle element first, then the
    first grid of each, shared fairly); ``max_values`` caps the numbers stored per tensor.
    """
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = page_html(d, elements, max_values, title or f"Derivation: {out.stem}")
    tmp = out.with_name(f".{out.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)
    return out
