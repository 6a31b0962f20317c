"""PDF handout: a PyLaTeX document compiled with latexmk.

The first page: the run, the computation graph (TikZ, shapes on the edges) and the model
summary table. Then one section per step (``step_section``: what the op does, forward and
output-size formulas, derived gradients, worked forward and backward elements with their
adjoints traced, the verification line), the verification table, and a notation appendix.
The ``.tex`` is always written (atomically); the PDF appears only when latexmk succeeds,
never half-written.

>>> d.to_pdf("paper_output/tiny_cnn.pdf", positions={"conv1": (0, 0, 4, 4)})   # doctest: +SKIP
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from pylatex import Command, Document, Package, Section, Tabular
from pylatex.utils import NoEscape

from symbolic_torch.ir.element import fmt
from symbolic_torch.printing import graph_tikz, model_table
from symbolic_torch.printing.graph_layout import model_graph
from symbolic_torch.printing.notation import notation_latex
from symbolic_torch.printing.step_section import display, element_math, step_section
from symbolic_torch.printing.tex import RenderError, compile_tex
from symbolic_torch.printing.text import text
from symbolic_torch.printing.worked_choice import middle as default_position
from symbolic_torch.printing.worked_choice import spec_for

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation

__all__ = ["RenderError", "build_document", "write_pdf", "display", "element_math", "default_position"]

Positions = Mapping[str, Any] | Sequence[int] | None


def build_document(d: "Derivation", title: str = "Derivation", positions: Positions = None) -> Document:
    """The PyLaTeX document for ``d`` (not compiled). ``positions``: the worked elements, a dict
    by step name or module path (an output position, or ``{"forward": …, "weight": …}``), or one
    output position for every step it fits; by default, elements that matter (``worked_choice``)."""
    doc = Document(documentclass="article", geometry_options={"margin": "2cm"},
                   document_options=["11pt"], lmodern=True, fontenc="T1")
    packages = ("amsmath", "amssymb", "adjustbox", "booktabs", *graph_tikz.PACKAGES, *model_table.PACKAGES)
    for pkg in dict.fromkeys(packages):
        doc.packages.append(Package(pkg))
    doc.preamble.append(Command("title", text(title)))
    doc.preamble.append(Command("author", "symbolic_torch"))
    doc.preamble.append(Command("date", NoEscape(r"\today")))
    doc.append(NoEscape(r"\maketitle"))
    _summary(doc, d)
    _model(doc, d)
    _costs(doc, d)
    for step in d.steps:
        step_section(doc, step, spec_for(step, positions))
    _verification(doc, d)
    doc.append(NoEscape(r"\appendix\section{Notation}" + "\n" + notation_latex(d)))
    return doc


def _model(doc: "Document", d: "Derivation") -> None:
    """The computation graph (scaled to the page) and the model summary table."""
    doc.append(NoEscape(r"\par\medskip\noindent\textbf{The computation graph} (tensor shapes on the edges):"
                        r"\par\smallskip" + "\n" + graph_tikz.graph_tikz(model_graph(d), r"0.62\textheight")))
    doc.append(NoEscape(r"\par\medskip\noindent\textbf{The model}, one row per step (parameters: elements of the "
                        r"model's parameters the step reads):" + "\n" + model_table.summary_table(d)))


def _summary(doc: Document, d: "Derivation") -> None:
    with doc.create(Section("The run", numbering=False)):
        doc.append(f"Captured with {d.capture_method}; {len(d.steps)} steps. ")
        ins = ", ".join(f"{n} ({'x'.join(map(str, d.values[d.inputs[n]].shape))})" for n in d.input_names)
        doc.append(text(f"Inputs: {ins}. "))
        if d.has_loss:
            doc.append("The last step is the loss L; every gradient is of L. ")
        elif any(s.seeded for s in d.steps):
            doc.append("The model returns a scalar L (adjoint 1, as .backward()); every gradient is of L. ")
        else:
            doc.append(NoEscape(r"No loss: the output's adjoint $\bar{g}$ is a given (or seeded random) "
                                r"tensor, so each gradient is a vector--Jacobian product. "))
            if d.seed is not None:
                doc.append(NoEscape(r"Its values: $\bar{g} = " + _tensor_math(d.seed) + "$. "))
        doc.append(NoEscape(r"In every step, $\bar{g}_{\ldots} = \partial L/\partial y_{\ldots}$ is the adjoint of "
                            r"that step's output $y$, and $[\,\cdot\,]$ is 1 when its condition holds, else 0. "
                            r"Backward formulas are derived by sympy from the forward formula and checked "
                            r"numerically against torch.autograd."))


def _costs(doc: Document, d: "Derivation") -> None:
    """Parameters, MACs, FLOPs and memory per step (``symbolic_torch.summary``), scaled to the page."""
    from symbolic_torch.analysis.summary import summarize  # a consumer of the IR, above the printers
    from symbolic_torch.analysis.tables import notes_text
    s = summarize(d)
    with doc.create(Section("Cost of the forward pass", numbering=False)):
        doc.append(NoEscape("\\begin{adjustbox}{max width=\\textwidth, max totalheight=0.8\\textheight}\n"
                            + s.table("latex", notes=False) + "\n\\end{adjustbox}"))
        doc.append(NoEscape(notes_text(s.notes(), "latex")))


def _tensor_math(t: Any, limit: int = 8) -> str:
    """A tensor's values as a LaTeX list, the first ``limit`` of them and the count."""
    flat = t.detach().reshape(-1).tolist()
    shown = ", ".join(fmt(v) for v in flat[:limit])
    more = rf", \ldots\ ({len(flat)}\ \text{{values}})" if len(flat) > limit else ""
    return rf"\left[{shown}{more}\right]"


def _verification(doc: Document, d: "Derivation") -> None:
    with doc.create(Section("Verification against torch.autograd", numbering=False)):
        r = d.report
        if r is None:
            doc.append("Not verified (derive was called with verify=False).")
            return
        doc.append("All derived gradients agree with autograd. " if r.ok else
                   f"{len(r.failures)} check(s) FAILED: the formulas concerned are not shown as right. ")
        with doc.create(Tabular("lllll", booktabs=True)) as t:
            t.add_row(("tensor", "shape", "max abs error", "max rel error", "status"))
            t.add_hline()
            for row in r.rows:
                t.add_row((text(row.name), "x".join(map(str, row.shape)) or "scalar", f"{row.max_abs_error:.2e}",
                           f"{row.max_rel_error:.2e}", ("ok" if row.ok else "FAILED")
                           + (" (NaN/Inf)" if row.nonfinite else "")))


def write_pdf(d: "Derivation", path: str | os.PathLike[str], title: str | None = None,
              positions: Positions = None, compile: bool = True) -> Path:
    """Write ``path``'s .tex and compile it to ``path`` (a .pdf). Returns the PDF path (the .tex's
    with ``compile=False``). ``positions`` chooses the worked elements (see ``build_document``)."""
    pdf = Path(path).with_suffix(".pdf")
    doc = build_document(d, title or f"Derivation: {pdf.stem}", positions)
    return compile_tex(doc.dumps(), pdf, compile=compile)
