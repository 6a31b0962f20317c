"""One step of the PDF handout: what the op does, its formulas, sizes, worked elements, checks.

``step_section(doc, step, spec)`` appends the step's section to a PyLaTeX document:
a sentence on the op; its operands; the forward formula (a mean loss with its 1/N); the
output-size formula with numbers; each derived gradient with its verification status; a worked
forward element and a worked backward element, the backward one's ḡ values traced to the step
whose gradient produced them; and the step's verification line.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from pylatex import Document, Section, Subsection, Tabular
from pylatex.utils import NoEscape

from symbolic_torch.ir.element import fmt
from symbolic_torch.printing.adjoint_trace import adjoint_reads, trace
from symbolic_torch.printing.formulas import forward_element, forward_latex
from symbolic_torch.printing.latex import label_latex, latex, status_text
from symbolic_torch.printing.line_breaks import break_rows
from symbolic_torch.printing.sentences import sentence
from symbolic_torch.printing.sizes import size_lines
from symbolic_torch.printing.text import text
from symbolic_torch.printing.worked_choice import PositionSpec, choose

if TYPE_CHECKING:
    from symbolic_torch.ir.step import Step


def display(math: str) -> NoEscape:
    """Display math scaled down to the line width when it is too wide."""
    return NoEscape(r"\par\noindent\begin{adjustbox}{max width=\linewidth}$\displaystyle " + math
                    + r"$\end{adjustbox}\par\medskip")


def element_math(e: Any) -> str:
    """A worked element as aligned lines: formula, numbers (broken into rows when long), value."""
    formula = r"\\ &\quad ".join(break_rows(e.formula_latex))
    numbers = r"\\ &\quad ".join(break_rows(e.numbers_latex))
    return (r"\begin{aligned}" + e.lhs_latex + " &= " + formula + r"\\ &= " + numbers
            + r"\\ &= " + fmt(e.value) + r"\end{aligned}")


def _position(pos: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, pos)) + ")"


def _element(pos: Sequence[int]) -> str:
    return f"output element {_position(pos)}" if len(pos) else "the output (a scalar)"


def step_section(doc: Document, step: "Step", spec: PositionSpec | None = None) -> None:
    """Append ``step``'s section to ``doc``; ``spec`` chooses its worked elements."""
    with doc.create(Section(text(f"{step.name} ({step.op})"))):
        doc.append(NoEscape(r"\emph{" + text(sentence(step)) + "}"))
        doc.append(NoEscape(r"\par\smallskip"))
        doc.append(NoEscape(r"\noindent " + text(f"Target: {step.target}. Output shape {tuple(step.out_shape)}.")))
        doc.append(NoEscape(r"\par\medskip"))
        _operands(doc, step)
        with doc.create(Subsection("Forward", numbering=False)):
            doc.append(display(forward_latex(step)))
        lines = size_lines(step)
        if lines:
            with doc.create(Subsection("Output size", numbering=False)):
                for line in lines:
                    doc.append(display(line))
        _backward(doc, step)
        if step.notes:
            with doc.create(Subsection("Also computed (not differentiated)", numbering=False)):
                for note in step.notes:
                    doc.append(display(note))
        _worked(doc, step, spec)
        doc.append(NoEscape(r"\par\noindent\textbf{Verification.} " + verification_line(step)))


def _operands(doc: Document, step: "Step") -> None:
    with doc.create(Tabular("lll", booktabs=True)) as t:
        t.add_row(("symbol", "tensor", "shape"))
        t.add_hline()
        for o in step.operands:
            t.add_row((NoEscape(f"${latex(o.base)}$"), text(f"{o.key} = {o.source or 'constant'}"),
                       "x".join(map(str, o.shape)) or "scalar"))


def _backward(doc: Document, step: "Step") -> None:
    with doc.create(Subsection("Backward (derived)", numbering=False)):
        if not step.gradients:
            doc.append("No differentiable inputs.")
        for key, eq in step.gradients.items():
            status = step.status(key)
            doc.append(NoEscape(r"\noindent\textbf{" + text(f"{key}: ") + status_text(status) + "}"))
            if status != "failed":
                doc.append(display(latex(eq)))


def _worked(doc: Document, step: "Step", spec: PositionSpec | None) -> None:
    choice = choose(step, spec)
    with doc.create(Subsection("Worked example", numbering=False)):
        doc.append(NoEscape(r"\noindent " + text(f"Forward, {_element(choice.forward)}:")))
        doc.append(display(element_math(forward_element(step, choice.forward))))
        if choice.key is None or choice.backward is None:
            return
        g = step.grad_at(choice.key, choice.backward)
        doc.append(NoEscape(r"\noindent " + text(f"Backward, gradient of {choice.key} at {_position(g.position)}:")))
        doc.append(display(element_math(g)))
        doc.append(NoEscape(adjoint_paragraph(step, choice.key, choice.backward)))


def adjoint_paragraph(step: "Step", key: str, position: tuple[int, ...]) -> str:
    """LaTeX saying where the ḡ values of a worked gradient element come from."""
    if step.seeded:
        return (r"\par\noindent Here $\bar{g} = \partial L/\partial L = 1$: this step is the loss itself, "
                r"where the backward pass starts.\par\medskip")
    reads = adjoint_reads(step, key, position)
    if not reads:
        return r"\par\noindent This element reads no $\bar{g}$ value.\par\medskip"
    lines = [trace_latex(step, p) for p in reads]
    return (r"\par\noindent Where the $\bar{g}$ values come from:\par\smallskip"
            + r"\par ".join(rf"\noindent\hspace*{{1em}}{l}" for l in lines) + r"\par\medskip")


def trace_latex(step: "Step", position: tuple[int, ...]) -> str:
    """``ḡ_{0,2,0,0} = 0.1247 from ∂L/∂x of relu`` (a sum of contributions when several steps read it)."""
    t = trace(step, position)
    idx = ",".join(map(str, position))
    head = rf"$\bar{{g}}_{{{idx}}} = {fmt(t.value)}$" if idx else rf"$\bar{{g}} = {fmt(t.value)}$"
    parts = [_source(s) for s in t.sources]
    if len(parts) == 1:
        return head + " from " + parts[0]
    if not parts:
        return head + r" (no later step reads this output)"
    return head + " = " + " + ".join(rf"${fmt(s.value, paren=True)}$ ({p})" for s, p in zip(t.sources, parts))


def _source(s: Any) -> str:
    if s.step is None:
        return "the seed of the backward pass (the output's given adjoint)"
    return rf"$\partial L/\partial {label_latex(s.symbol)}$ of {text(s.step)}"


def verification_line(step: "Step") -> str:
    """The step's checks against autograd: forward and each gradient, their max abs error."""
    d = step.derivation
    if d is None or d.report is None:
        return "not verified (derive was called with verify=False)."
    rows = [r for r in d.report.step_rows if r.name == step.name]
    if not rows:
        return "no check ran for this step."
    said = [f"{'forward' if r.key == 'forward' else 'gradient of ' + r.key}: max abs error {r.max_abs_error:.2g} "
            f"({'ok' if r.ok else 'FAILED'})" for r in rows]
    ok = all(r.ok for r in rows)
    return text("; ".join(said) + (". All agree with torch.autograd." if ok else ". Not all agree with torch.autograd."))
