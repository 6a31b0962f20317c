"""The walkthrough as a document: a LaTeX fragment (``to_latex``) and a PDF (``to_pdf``).

One section for the optimizer (its hyper-parameters), one per iteration — the loss, the
derivation (its formulas in the first, by reference after; its verification every time),
each parameter's update formulas worked out at one element with the values before and
after — and a last one with the loss table and the comparison with torch.optim.
The fragment needs amsmath, amssymb, adjustbox and booktabs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from pylatex import Command, Document, Package
from pylatex.utils import NoEscape

from symbolic_torch.ir.element import fmt
from symbolic_torch.printing.latex import latex as derivation_symbols
from symbolic_torch.printing.pdf import display
from symbolic_torch.printing.tex import compile_tex
from symbolic_torch.printing.text import text
from symbolic_torch.training import formulas as F
from symbolic_torch.training.latex import latex

if TYPE_CHECKING:
    from symbolic_torch.training.update import ParameterUpdate
    from symbolic_torch.training.walkthrough import Iteration, Walkthrough

PACKAGES = ("amsmath", "amssymb", "adjustbox", "booktabs")
SYMBOLS = {"lr": r"\gamma", "momentum": r"\mu", "dampening": r"\tau", "weight_decay": r"\lambda",
           "eps": r"\epsilon", "betas": r"(\beta_1, \beta_2)"}


def table(head: Sequence[str], rows: Sequence[Sequence[str]], spec: str | None = None) -> str:
    """A booktabs table; cells are LaTeX already."""
    lines = [r"\begin{tabular}{" + (spec or "l" * len(head)) + "}", r"\toprule", " & ".join(head) + r" \\",
             r"\midrule", *(" & ".join(r) + r" \\" for r in rows), r"\bottomrule", r"\end{tabular}"]
    return "\n".join(lines)


def _status(w: "Walkthrough", t: int | None = None, name: str | None = None) -> str:
    r = w.report
    if r is None:
        return "not verified"
    rows = [x for x in r.rows if x.iteration == t and x.name.split(":")[0] == name] if name else None
    ok = all(x.ok for x in rows) if rows is not None else (r.iteration_ok(t) if t else r.ok)
    err = max((x.max_abs_error for x in rows), default=0.0) if rows is not None else (
        r.max_error(t) if t else max((x.max_abs_error for x in r.rows), default=0.0))
    return (f"equal to torch.optim (max abs error {err:.1e})" if ok
            else f"FAILED: differs from torch.optim by {err:.1e} -- do not use")


def _optimizer(w: "Walkthrough") -> list[str]:
    out = [rf"\section{{Optimizer: {w.optimizer.label}, {len(w.iterations)} iterations}}"]
    groups: dict[str, list[str]] = {}
    for name, h in w.optimizer.hyper.items():
        shown = ", ".join(f"${SYMBOLS[k]} = {_value(v)}$" if k in SYMBOLS else text(f"{k} = {v}")
                          for k, v in h.items())
        groups.setdefault(shown, []).append(text(name))
    for shown, names in groups.items():
        out.append(rf"\noindent Parameters {', '.join(names)}: {shown}.\par")
    out.append(r"Every update below is a formula evaluated element by element on the derivation's "
               r"gradient $\partial L/\partial\theta^{(t-1)}$; superscripts $(t)$ count torch's steps. "
               r"The same iterations were run by torch.optim on a copy of the model: " + _status(w) + ".")
    return out


def _value(v: Any) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(_value(x) for x in v) + ")"
    return str(v) if isinstance(v, bool) else fmt(float(v))


def _derivation(it: "Iteration") -> list[str]:
    d = it.derivation
    out = [r"\subsection{The derivation at these weights}"]
    if it.t == 1:
        for step in d.steps:
            out.append(display(rf"\text{{{text(step.name)}:}}\quad " + derivation_symbols(step.forward)))
        out.append(r"\noindent The backward formulas are derived from these (see the handout, "
                   r"\texttt{Derivation.to\_pdf}); their values at this iteration give the gradients below.")
    else:
        out.append(r"\noindent The same formulas as in iteration 1, at this iteration's weights.")
    r = d.report
    verdict = ("not verified" if r is None else "every derived gradient agrees with autograd" if r.ok
               else f"{len(r.failures)} check(s) FAILED")
    out.append(rf" Verification: {verdict}" + (f" (max abs error {r.max_abs_error:.1e})." if r else "."))
    return out


def _gradient_formulas(d: Any, name: str) -> list[str]:
    """Where ∂L/∂θ comes from: the derivation's backward formula of every step reading ``name``."""
    out = []
    for step in d.steps:
        for o in step.operands:
            if o.source == name and o.key in step.gradients:
                status = step.status(o.key)
                out.append(rf"\noindent Its gradient, from step {text(step.name)} ({status}):")
                if status != "failed":
                    out.append(display(derivation_symbols(step.gradients[o.key])))
    return out


def _update(w: "Walkthrough", u: "ParameterUpdate", d: Any) -> list[str]:
    out = [rf"\subsection{{Update of {text(u.name)}}}"]
    if u.iteration == 1:
        out += _gradient_formulas(d, u.name)
    out.append(rf"\noindent With $t = {u.iteration}$:")
    out.append(display(r"\begin{aligned}" + r"\\ ".join(latex(e).replace(" = ", " &= ", 1) for e in u.equations)
                       + r"\end{aligned}"))
    out.append(rf"\noindent At element ${_position(u.position)}$:")
    for e in u.worked():
        out.append(display(f"{e.lhs_latex} = {e.numbers_latex} = {fmt(e.value)}"))
    out.append(_before_after(u))
    out.append(rf"\par\medskip\noindent Check: {_status(w, u.iteration, u.name)}.\par")
    return out


def _position(pos: Sequence[int]) -> str:
    return "(" + ", ".join(map(str, pos)) + ")" if pos else r"\text{(scalar)}"


def _before_after(u: "ParameterUpdate") -> str:
    pos = u.position
    at = lambda t: f"${fmt(float(t[pos] if pos else t))}$"  # noqa: E731
    rows = [[rf"$\theta$ ({text(u.name)})", at(u.before), at(u.after)],
            [r"$\partial L/\partial\theta^{(t-1)}$", at(u.gradient), ""]]
    before = u.state_before
    rows += [[text(key), at(before[key]), at(after)] for key, after in u.state_after.items()]
    return table(["quantity", "before", "after"], rows)


def _iteration(w: "Walkthrough", it: "Iteration") -> list[str]:
    out = [rf"\section{{Iteration {it.t}}}", rf"\noindent Loss before the update: $L = {fmt(it.loss)}$"
           + rf" (exactly {it.loss!r}).\par"]
    out += _derivation(it)
    for u in it.updates.values():
        out += _update(w, u, it.derivation)
    return out


def _losses(w: "Walkthrough") -> list[str]:
    ref = {r.iteration: r for r in (w.report.rows if w.report else []) if r.name == "loss"}
    rows = [[str(it.t), f"{it.loss:.12g}", f"{ref[it.t].max_abs_error:.1e}" if it.t in ref else "--",
             ("ok" if ref[it.t].ok else "FAILED") if it.t in ref else "not verified"] for it in w.iterations]
    return [r"\section{Losses}", r"\noindent", table(["iteration", "loss before the update", r"$|\Delta|$ vs torch",
                                                      "status"], rows, "rrrl")]


def walkthrough_latex(w: "Walkthrough") -> str:
    """The walkthrough as a LaTeX fragment (no preamble; needs ``PACKAGES``)."""
    out = _optimizer(w)
    for it in w.iterations:
        out += _iteration(w, it)
    out += _losses(w)
    return "\n".join(out)


def build_document(w: "Walkthrough", title: str) -> Document:
    """The PyLaTeX document around ``walkthrough_latex``."""
    doc = Document(documentclass="article", geometry_options={"margin": "2cm"},
                   document_options=["11pt"], lmodern=True, fontenc="T1")
    for pkg in PACKAGES:
        doc.packages.append(Package(pkg))
    doc.preamble.append(Command("title", text(title)))
    doc.preamble.append(Command("author", "symbolic_torch"))
    doc.preamble.append(Command("date", NoEscape(r"\today")))
    doc.append(NoEscape(r"\maketitle"))
    doc.append(NoEscape(walkthrough_latex(w)))
    return doc


def write_pdf(w: "Walkthrough", path: str | os.PathLike[str], title: str | None = None,
              compile: bool = True) -> Path:
    """Write ``path``'s .tex and compile it to ``path`` (.pdf); returns the PDF (or .tex) path."""
    stem = Path(path).stem
    doc = build_document(w, title or f"Training walkthrough: {stem}")
    return compile_tex(doc.dumps(), path, compile=compile)
