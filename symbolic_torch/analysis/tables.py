"""Tables of the analyses in four formats (terminal, Markdown, LaTeX, HTML), each with its note.

One place renders every table (tabulate does the layout), so the summary and the comparison
read alike and state their conventions the same way.
"""
from __future__ import annotations

import html
from typing import Any, Sequence

from tabulate import tabulate

FORMATS = {"text": "simple", "markdown": "github", "latex": "latex_booktabs", "html": "html"}


def render(headers: Sequence[str], rows: Sequence[Sequence[Any]], fmt: str, notes: Sequence[str] = ()) -> str:
    """``rows`` under ``headers`` as ``fmt`` (``text``, ``markdown``, ``latex`` or ``html``), integers
    with thousands separators, followed by ``notes`` (plain text; escaped for LaTeX and HTML).

    >>> print(render(["layer", "MACs"], [["fc", 1200]], "markdown", ["1 MAC = one multiply–add"]))
    | layer   |   MACs |
    |---------|--------|
    | fc      |  1,200 |
    <BLANKLINE>
    1 MAC = one multiply–add
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown table format {fmt!r}; use one of {sorted(FORMATS)}")
    body = tabulate([[_cell(c) for c in r] for r in rows], headers=list(headers), tablefmt=FORMATS[fmt],
                    colalign=[_align(rows, k) for k in range(len(headers))], disable_numparse=True)
    if fmt == "latex":  # tabulate escaped the ASCII specials; the rest is ours
        body = "".join(_LATEX.get(c, c) if ord(c) > 127 else c for c in body)
    return body + notes_text(notes, fmt) if notes else body


def notes_text(notes: Sequence[str], fmt: str) -> str:
    """The notes under a table in ``fmt``: a footnote-size paragraph in LaTeX, ``<p><small>`` in HTML."""
    if fmt == "latex":
        return "\n\\par\\smallskip{\\footnotesize " + " ".join(latex_text(n) for n in notes) + "}\n"
    if fmt == "html":
        return "\n" + "".join(f"<p><small>{html.escape(n)}</small></p>" for n in notes)
    return "\n\n" + "\n".join(notes)


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "×": r"$\times$", "–": "--", "²": r"$^2$", "≥": r"$\geq$", "≤": r"$\leq$", "Σ": r"$\Sigma$",
          "‖": r"$\|$", "∂": r"$\partial$", "θ": r"$\theta$", "σ": r"$\sigma$", "√": r"$\surd$",
          "′": "'", "→": r"$\to$"}


def latex_text(s: str) -> str:
    r"""Plain text as LaTeX text: special characters escaped, ``×`` and ``Σ`` as math.

    >>> latex_text("FLOPs = 2 × MACs; ln_1")
    'FLOPs = 2 $\\times$ MACs; ln\\_1'
    """
    return "".join(_LATEX.get(c, c) for c in s)


def _cell(v: Any) -> str:
    if isinstance(v, bool) or v is None:
        return "" if v is None else str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def _align(rows: Sequence[Sequence[Any]], k: int) -> str:
    numeric = all(isinstance(r[k], (int, float)) and not isinstance(r[k], bool) for r in rows if r[k] is not None)
    return "right" if rows and numeric else "left"


def shape_text(shape: Sequence[int]) -> str:
    """``(1, 64, 112, 112)`` → ``1×64×112×112`` (a scalar: ``scalar``)."""
    return "×".join(str(n) for n in shape) if shape else "scalar"


class TableViews:
    """``to_markdown``, ``to_latex``, ``to_html`` and ``str`` of anything with ``table(fmt)``."""

    def table(self, fmt: str = "text") -> str:  # pragma: no cover - each view defines it
        raise NotImplementedError

    def to_markdown(self) -> str:
        """A GitHub-flavoured Markdown table."""
        return self.table("markdown")

    def to_latex(self) -> str:
        """A booktabs ``tabular`` (and the conventions below it), e.g. for a handout."""
        return self.table("latex")

    def to_html(self) -> str:
        """An HTML ``<table>``."""
        return self.table("html")

    def __str__(self) -> str:
        return self.table("text")
