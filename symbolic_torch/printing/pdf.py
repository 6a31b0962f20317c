"""PDF handout: a PyLaTeX document compiled with latexmk.

One section per step: operands, forward formula, derived backward formulas
(with their verification status), a worked forward element and a worked
backward element with the run's numbers. The ``.tex`` is always written
(atomically); the PDF appears only when latexmk succeeds, never half-written.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from pylatex import Command, Document, Package, Section, Subsection, Tabular
from pylatex.utils import NoEscape, bold

from symbolic_torch.errors import SymbolicTorchError
from symbolic_torch.printing.latex import latex, status_text
from symbolic_torch.printing.text import text

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation, Step


class RenderError(SymbolicTorchError):
    """The PDF could not be produced (the .tex was written; the message says where)."""


def default_position(shape: Sequence[int]) -> tuple[int, ...]:
    """The middle element of a tensor: a representative worked example."""
    return tuple(n // 2 for n in shape)


def display(math: str) -> NoEscape:
    """Display math scaled down to the line width when it is too wide."""
    return NoEscape(r"\par\noindent\begin{adjustbox}{max width=\linewidth}$\displaystyle " + math
                    + r"$\end{adjustbox}\par\medskip")


def element_math(e: Any) -> str:
    return (r"\begin{aligned}" + e.lhs_latex + " &= " + e.formula_latex + r"\\ &= " + e.numbers_latex
            + r"\\ &= " + _num(e.value) + r"\end{aligned}")


def _num(v: float) -> str:
    from symbolic_torch.printing.worked import fmt
    return fmt(v)


def build_document(d: "Derivation", title: str = "Derivation",
                   positions: Mapping[str, Sequence[int]] | None = None) -> Document:
    """The PyLaTeX document for ``d`` (not compiled)."""
    doc = Document(documentclass="article", geometry_options={"margin": "2cm"},
                   document_options=["11pt"], lmodern=True, fontenc="T1")
    for pkg in ("amsmath", "amssymb", "adjustbox", "booktabs"):
        doc.packages.append(Package(pkg))
    doc.preamble.append(Command("title", text(title)))
    doc.preamble.append(Command("author", "symbolic_torch"))
    doc.preamble.append(Command("date", NoEscape(r"\today")))
    doc.append(NoEscape(r"\maketitle"))
    _summary(doc, d)
    _costs(doc, d)
    for step in d.steps:
        _step_section(doc, step, (positions or {}).get(step.name))
    _verification(doc, d)
    return doc


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
    shown = ", ".join(_num(v) for v in flat[:limit])
    more = rf", \ldots\ ({len(flat)}\ \text{{values}})" if len(flat) > limit else ""
    return rf"\left[{shown}{more}\right]"


def _step_section(doc: Document, step: "Step", position: Sequence[int] | None) -> None:
    with doc.create(Section(text(f"{step.name} ({step.op})"))):
        doc.append(text(f"Target: {step.target}. Output shape {tuple(step.out_shape)}."))
        doc.append(NoEscape(r"\par\medskip"))
        with doc.create(Tabular("lll", booktabs=True)) as t:
            t.add_row(("symbol", "tensor", "shape"))
            t.add_hline()
            for o in step.operands:
                t.add_row((NoEscape(f"${latex(o.base)}$"), text(f"{o.key} = {o.source or 'constant'}"),
                           "x".join(map(str, o.shape)) or "scalar"))
        with doc.create(Subsection("Forward", numbering=False)):
            doc.append(display(latex(step.forward)))
        with doc.create(Subsection("Backward (derived)", numbering=False)):
            if not step.gradients:
                doc.append("No differentiable inputs.")
            for key, eq in step.gradients.items():
                status = step.status(key)
                doc.append(bold(text(f"{key}: {status_text(status)}"), escape=False))
                if status != "failed":
                    doc.append(display(latex(eq)))
        if step.notes:
            with doc.create(Subsection("Also computed (not differentiated)", numbering=False)):
                for note in step.notes:
                    doc.append(display(note))
        _worked(doc, step, position)


def _worked(doc: Document, step: "Step", position: Sequence[int] | None) -> None:
    pos = tuple(position) if position is not None else default_position(step.out_shape)
    with doc.create(Subsection("Worked example", numbering=False)):
        e = step.at(pos)
        doc.append(f"Forward, output element {pos}:")
        doc.append(display(element_math(e)))
        if step.gradients:
            key = "weight" if "weight" in step.gradients else next(iter(step.gradients))
            if step.status(key) == "failed":
                return
            shape = step.operand(key).shape
            g = step.grad_at(key, default_position(shape))
            doc.append(text(f"Backward, gradient of {key} at {g.position}:"))
            doc.append(display(element_math(g)))


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
              positions: Mapping[str, Sequence[int]] | None = None, compile: bool = True) -> Path:
    """Write ``path``'s .tex and compile it to ``path`` (a .pdf). Returns the PDF path."""
    pdf = Path(path).with_suffix(".pdf")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tex = pdf.with_suffix(".tex")
    doc = build_document(d, title or f"Derivation: {pdf.stem}", positions)
    _atomic_write(tex, doc.dumps())
    if not compile:
        return tex
    latexmk = shutil.which("latexmk")
    if latexmk is None or shutil.which("pdflatex") is None:
        raise RenderError(f"wrote {tex}, but latexmk/pdflatex are not installed; install TeX "
                          "(Debian: apt-get install texlive-latex-base texlive-latex-recommended "
                          "texlive-latex-extra latexmk) or compile the .tex yourself")
    with tempfile.TemporaryDirectory() as work:
        src = Path(work) / tex.name
        shutil.copyfile(tex, src)
        proc = subprocess.run([latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", src.name],
                              cwd=work, capture_output=True, text=True, timeout=600)
        built = src.with_suffix(".pdf")
        if proc.returncode != 0 or not built.exists():
            log = src.with_suffix(".log")
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else proc.stdout[-3000:]
            raise RenderError(f"wrote {tex}, but latexmk failed:\n{tail}")
        tmp = pdf.with_name(f".{pdf.name}.partial")
        shutil.copyfile(built, tmp)
        os.replace(tmp, pdf)
    return pdf


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
