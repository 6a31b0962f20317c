"""Markdown with math GitHub renders: ``Derivation.to_markdown()`` and ``Step.to_markdown()``.

Display math is a ``$$`` block on lines of its own holding one ``aligned`` (long right-hand sides
broken across rows, as in the paper style); inline math is ``$…$`` with no space inside its
dollars. Only what GitHub's MathJax reads is written: no ``\\label``/``\\notag``, no macros of
packages it lacks, and ``<``/``>`` as ``\\lt``/``\\gt`` (a raw ``<`` can start an HTML tag).
``github_math_problems`` lists whatever in a Markdown text would not render.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Iterable

from tabulate import tabulate

from symbolic_torch.ir.element import fmt
from symbolic_torch.printing.breaking import WIDTH, rows
from symbolic_torch.printing.latex import latex
from symbolic_torch.printing.python_source import step_source

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.element import Element
    from symbolic_torch.ir.step import Step

STATUS = {"verified": "verified against autograd", "failed": "**FAILED** verification (not shown)",
          "unverified": "not verified"}
# Not in GitHub's MathJax (or not meaningful in a Markdown page)
FORBIDDEN = (r"\label", r"\notag", r"\nonumber", r"\tag", r"\newcommand", r"\providecommand", r"\ensuremath",
             r"\operatorname*", r"\DeclareMathOperator", r"\resizebox", r"\begin{adjustbox}", r"\hbox",
             r"\par", r"\noindent", r"\paragraph", r"\begin{align}", r"\begin{equation}", r"\unihex",
             r"\mathclap", r"\coloneqq", r"\textsc")


def mathjax(tex: str) -> str:
    """``tex`` made safe for MathJax inside Markdown or HTML: ``<`` → ``\\lt``, ``>`` → ``\\gt``."""
    return re.sub(r"\s*<\s*", r" \\lt ", re.sub(r"\s*>\s*", r" \\gt ", tex)).strip()


def aligned(pairs: Iterable[tuple[str, str]], for_mathjax: bool = True, width: int = WIDTH) -> str:
    """``lhs = rhs`` pairs as one ``aligned``; a long right-hand side continues on further rows
    of about ``width`` glyphs (``for_mathjax=False``: plain LaTeX, ``<`` kept).

    >>> aligned([("y", "a + b")])
    '\\\\begin{aligned} y &= a + b \\\\end{aligned}'
    """
    out = []
    for lhs, rhs in pairs:
        body = rows(rhs, width)
        out.append(f"{lhs} &= {body[0]}")
        out += [rf"&\quad {r}" for r in body[1:]]
    return r"\begin{aligned} " + r" \\ ".join(mathjax(r) if for_mathjax else r for r in out) + r" \end{aligned}"


def display(tex: str) -> str:
    """A ``$$`` block (blank lines around it, none inside)."""
    return "\n$$\n" + re.sub(r"\n\s*\n", "\n", tex) + "\n$$\n"


def element_pairs(e: "Element") -> list[tuple[str, str]]:
    """A worked element as rows: the formula at the position, its numbers, its value."""
    return [(e.lhs_latex, e.formula_latex), ("", e.numbers_latex), ("", fmt(e.value))]


def step_markdown(step: "Step", worked: bool = True, level: int = 3, seen: set[Any] | None = None) -> str:
    """One step: heading, operands table, forward, derived backward, a worked element."""
    shape = "×".join(map(str, step.out_shape)) or "scalar"
    out = [f"{'#' * level} Step {step.index}: `{step.name}` ({step.op})", "",
           f"Output shape {shape}; from `{step.target}`"
           + (f" (module `{step.module_path}`)" if step.module_path else "") + ".", ""]
    out += _source(step, seen)
    table = [(f"${mathjax(latex(o.base))}$", f"`{o.key}` = `{o.source or 'constant'}`",
              "×".join(map(str, o.shape)) or "scalar") for o in step.operands]
    out += [tabulate(table, headers=["symbol", "tensor", "shape"], tablefmt="github"), ""]
    fstatus = step.forward_status()
    out.append(f"**Forward** ({STATUS[fstatus]})")
    if fstatus != "failed":
        out.append(display(aligned([(latex(step.forward.lhs), latex(step.forward.rhs))])))
    shown = [(latex(eq.lhs), latex(eq.rhs)) for k, eq in step.gradients.items() if step.status(k) != "failed"]
    if step.gradients:
        states = ", ".join(f"`{k}` {STATUS[step.status(k)]}" for k in step.gradients)
        out.append(f"**Backward**, derived by sympy: {states}")
        if shown:
            out.append(display(aligned(shown)))
    for note in step.notes:
        out.append(display(mathjax(note)))
    if worked and fstatus != "failed":
        e = step.at(tuple(n // 2 for n in step.out_shape))
        out.append(f"**Worked element** {e.position}:")
        out.append(display(aligned(element_pairs(e))))
    return "\n".join(out).rstrip() + "\n"


def _source(step: "Step", seen: set[Any] | None) -> list[str]:
    found = step_source(step, seen)
    if found is None:
        return []
    fn, shown = found
    where = f"`{fn.qualname}` ({fn.filename.rsplit('/', 1)[-1]}, line {fn.line})"
    if not shown.ok:
        return [f"Written in Python as {where}; {shown.note()}.", ""]
    return [f"Written in Python as {where}, rendered by latexify-py:", display(mathjax(shown.latex))]


def derivation_markdown(d: "Derivation", worked: bool = True, title: str | None = None) -> str:
    """The whole derivation: a summary, every step, the verification table.

    >>> print(d.to_markdown())  # doctest: +SKIP
    # Derivation of MLP
    ...
    """
    name = title or f"Derivation of {_model_name(d)}"
    inputs = ", ".join(f"`{n}` ({'×'.join(map(str, d.values[d.inputs[n]].shape)) or 'scalar'})" for n in d.input_names)
    out = [f"# {name}", "", f"{len(d.steps)} steps, captured with {d.capture_method}; inputs {inputs}. "
           r"$\bar{g}$ is the adjoint $\partial L/\partial y$ of a step's output $y$, and $[c]$ is 1 where "
           "the condition $c$ holds, else 0.", ""]
    seen: set[Any] = set()
    out += [step_markdown(s, worked, 2, seen) for s in d.steps]
    out += [verification_markdown(d)]
    return "\n".join(out)


def verification_markdown(d: "Derivation") -> str:
    """The verification report as a GitHub table."""
    r = d.report
    if r is None:
        return "## Verification\n\nNot verified against autograd (`derive(..., verify=False)`).\n"
    head = "Every check agrees with torch.autograd." if r.ok else f"{len(r.failures)} check(s) **FAILED**."
    table = [(f"`{row.name}`", row.key, "×".join(map(str, row.shape)) or "scalar", f"{row.max_abs_error:.2e}",
              f"{row.max_rel_error:.2e}", ("ok" if row.ok else "FAILED") + (" (NaN/Inf)" if row.nonfinite else ""))
             for row in r.rows]
    return (f"## Verification\n\n{head}\n\n"
            + tabulate(table, headers=["tensor", "of", "shape", "max abs error", "max rel error", "status"],
                       tablefmt="github") + "\n")


def _model_name(d: "Derivation") -> str:
    m = d.run.model
    return type(m).__name__ if hasattr(m, "forward") else getattr(m, "__name__", "the model")


def math_segments(markdown: str) -> list[tuple[str, str]]:
    """Every math segment of ``markdown``: ``("display", tex)`` and ``("inline", tex)``."""
    out: list[tuple[str, str]] = []
    rest = re.sub(r"(?:^|\n)\$\$\n(.*?)\n\$\$(?=\n|$)", lambda m: out.append(("display", m.group(1))) or "\n",
                  markdown, flags=re.S)
    rest = re.sub(r"`[^`\n]*`", "", rest)  # code spans hold no math
    out += [("inline", m.group(1)) for m in re.finditer(r"(?<![\\$])\$([^$\n]+?)\$(?!\$)", rest)]
    return out


def github_math_problems(markdown: str) -> list[str]:
    """What in ``markdown`` GitHub would not render as math (empty when all is well)."""
    problems = []
    if markdown.count("$$") % 2:
        problems.append("an unclosed $$ block")
    for kind, tex in math_segments(markdown):
        short = tex[:60]
        problems += [f"{kind} math uses {f}: {short}" for f in FORBIDDEN
                     if re.search(re.escape(f) + ("(?![a-zA-Z])" if f[-1].isalpha() else ""), tex)]
        if re.search(r"(?<!\\)[<>]", tex):
            problems.append(f"{kind} math has a raw < or >: {short}")
        if re.search(r"\n\s*\n", tex):
            problems.append(f"{kind} math has a blank line: {short}")
        if kind == "inline" and (tex != tex.strip() or r"\\" in tex):
            problems.append(f"inline math with space inside its $ or a line break: {short}")
        if _unbalanced(tex):
            problems.append(f"{kind} math has unbalanced braces: {short}")
    return problems


def _unbalanced(tex: str) -> bool:
    depth = 0
    for ch in re.sub(r"\\[{}]", "", tex):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return True
    return depth != 0
