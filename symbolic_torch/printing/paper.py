"""LaTeX for papers: ``Derivation.to_latex(style="paper")``.

The fragment is meant to be ``\\input`` into your own document; it needs only

.. code-block:: latex

    \\documentclass{article}
    \\usepackage{amsmath}
    \\usepackage{amssymb}

(``PREAMBLE``). Each step is a ``\\paragraph`` and one numbered ``align`` (forward, then every
derived gradient, labelled ``eq:st:<step>:<key>``); long right-hand sides are broken across rows
(``breaking``). With ``macros=True`` the formulas use ``\\stadj`` (the adjoint ḡ), ``\\stgrad{x}``
(∂L/∂x) and ``\\stiv{c}`` (Iverson bracket), defined by ``MACROS``; the fragment
``\\providecommand``s them, so it compiles with or without your own definitions.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp

from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.element import fmt
from symbolic_torch.printing.breaking import align_rows
from symbolic_torch.printing.latex import SymbolicLatexPrinter
from symbolic_torch.printing.python_source import step_source
from symbolic_torch.printing.text import text

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.element import Element
    from symbolic_torch.ir.step import Step

PREAMBLE = "\\usepackage{amsmath}\n\\usepackage{amssymb}\n"
MACROS = ("\\providecommand{\\stadj}{\\bar{g}}\n"
          "\\providecommand{\\stgrad}[1]{\\frac{\\partial L}{\\partial #1}}\n"
          "\\providecommand{\\stiv}[1]{\\left[#1\\right]}\n")
STATUS = {"verified": "verified against autograd", "failed": "FAILED verification",
          "unverified": "not verified"}


class PaperLatexPrinter(SymbolicLatexPrinter):
    """Our printer, optionally writing the notation through ``MACROS``."""

    _default_settings = {**SymbolicLatexPrinter._default_settings, "macros": False}

    def _label(self, name: str) -> str:
        if self._settings["macros"]:
            if name == S.ADJOINT:
                return r"\stadj"
            if name.startswith(S.GRAD_PREFIX):
                return rf"\stgrad{{{self._label(name[len(S.GRAD_PREFIX):])}}}"
        return super()._label(name)

    def _print_Indexed(self, expr: sp.Indexed) -> str:
        name = str(expr.base.label)
        if self._settings["macros"] and name.startswith(S.GRAD_PREFIX):
            idx = ",".join(self._print(i) for i in expr.indices)
            return rf"\stgrad{{{self._label(name[len(S.GRAD_PREFIX):])}_{{{idx}}}}}"
        return super()._print_Indexed(expr)

    def _print_Piecewise(self, expr: sp.Piecewise) -> str:
        out = super()._print_Piecewise(expr)
        if self._settings["macros"] and out.startswith(r"\left[") and out.endswith(r"\right]"):
            return r"\stiv{" + out[len(r"\left["):-len(r"\right]")] + "}"
        return out


def paper_latex(d: "Derivation", macros: bool = False, worked: bool = False, label_prefix: str = "st") -> str:
    """The derivation as a fragment of ``\\paragraph``s and ``align``s (see the module docstring).

    ``worked`` adds each step's middle output element with the run's numbers.

    >>> print(paper_latex(d))  # doctest: +SKIP
    \\paragraph{Step 0: fc1 (linear).} ...
    """
    out = [f"% symbolic_torch: {len(d.steps)} steps; needs only \\usepackage{{amsmath}} and \\usepackage{{amssymb}}"]
    if macros:
        out.append(MACROS.rstrip())
    seen: set[Any] = set()
    for step in d.steps:
        out.append(step_paper_latex(step, macros, worked, label_prefix, seen))
    out.append(_verification(d))
    return "\n".join(out) + "\n"


def step_paper_latex(step: "Step", macros: bool = False, worked: bool = False, label_prefix: str = "st",
                     seen: set[Any] | None = None) -> str:
    """One step: a heading, its source function (latexify-py), one ``align`` of its formulas."""
    printer = PaperLatexPrinter({"macros": macros})
    shape = r"\times".join(map(str, step.out_shape)) or "1"
    lines = [rf"\paragraph{{Step {step.index}: {text(step.name)} ({text(step.op)}).}}",
             rf"Output shape ${shape}$." + _failed_sentence(step)]
    lines += _source(step, seen)
    rows = []
    if step.forward_status() != "failed":
        rows.append(align_rows(printer.doprint(step.forward.lhs), printer.doprint(step.forward.rhs),
                               label=f"eq:{label_prefix}:{step.name}:forward"))
    for key, eq in step.gradients.items():
        if step.status(key) != "failed":
            rows.append(align_rows(printer.doprint(eq.lhs), printer.doprint(eq.rhs),
                                   label=f"eq:{label_prefix}:{step.name}:{key}"))
    if rows:
        lines.append("\\begin{align}\n" + "\\\\\n".join(rows) + "\n\\end{align}")
    for note in step.notes:
        lines.append("\\begin{align*}\n" + align_rows("", note, numbered=False).replace(" &= ", " & ", 1) + "\n\\end{align*}")
    if worked and step.forward_status() != "failed":
        lines.append(element_align(step.at(tuple(n // 2 for n in step.out_shape))))
    return "\n".join(lines)


def element_align(e: "Element") -> str:
    """A worked element as ``align*`` rows: the formula at the position, the numbers, the value."""
    first = align_rows(e.lhs_latex, e.formula_latex, numbered=False)
    numbers = align_rows("", e.numbers_latex, numbered=False)
    return ("\\begin{align*}\n" + first + "\\\\\n" + numbers + "\\\\\n" + rf" &= {fmt(e.value)}\notag"
            + "\n\\end{align*}")


def _failed_sentence(step: "Step") -> str:
    failed = [k for k in ("forward", *step.gradients) if step.status(k) == "failed"]
    if not failed:
        keys = list(step.gradients)
        status = {step.status(k) for k in keys} or {step.forward_status()}
        return f" Its formulas are {STATUS[status.pop()]}." if len(status) == 1 else ""
    return " " + text(f"The formula(s) for {', '.join(failed)} FAILED verification and are not shown.")


def _source(step: "Step", seen: set[Any] | None) -> list[str]:
    """The user's Python function behind the step, rendered once per document by latexify-py."""
    found = step_source(step, seen)
    if found is None:
        return []
    fn, shown = found
    where = text(f"{fn.qualname} ({fn.filename.rsplit('/', 1)[-1]}, line {fn.line})")
    if not shown.ok:
        return [rf"Written in Python as {where}; " + text(shown.note()) + "."]
    lhs, eq, rhs = shown.latex.partition(" = ")
    if not eq or r"\begin{array}" in shown.latex:  # latexify's multi-line form sets its own rows
        return [rf"Written in Python as {where}, which latexify-py renders as",
                "\\begin{equation*}\n" + shown.latex + "\n\\end{equation*}"]
    return [rf"Written in Python as {where}, which latexify-py renders as",
            "\\begin{align*}\n" + align_rows(lhs, rhs, numbered=False) + "\n\\end{align*}"]


def _verification(d: "Derivation") -> str:
    r = d.report
    if r is None:
        return r"\noindent Not verified against autograd."
    if r.ok:
        return (rf"\noindent All {len(r.all_rows)} checks agree with torch.autograd "
                rf"(largest absolute error ${fmt(r.max_abs_error)}$).")
    return rf"\noindent {len(r.failures)} of {len(r.all_rows)} checks FAILED against torch.autograd."
