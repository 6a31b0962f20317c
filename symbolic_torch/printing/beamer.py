"""Slides: ``Derivation.to_beamer(path)`` writes a Beamer deck and compiles it with latexmk.

A title frame, then one frame per step: the step's forward formula, its derived gradients and one
worked element with the run's numbers. Long right-hand sides are broken into rows first; what
is still too wide, or a frame too full, is scaled to fit (adjustbox ``max width``/``max
totalheight``), so every step is one frame whatever the model (LSTM gates, attention, convolution).
The template is Jinja2 with LaTeX-friendly delimiters (``\\VAR{…}``, ``\\BLOCK{…}``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2

from symbolic_torch.printing.breaking import glyphs, rows
from symbolic_torch.printing.latex import latex, status_text
from symbolic_torch.printing.tex import compile_tex
from symbolic_torch.printing.markdown import aligned, element_pairs
from symbolic_torch.printing.python_source import step_source
from symbolic_torch.printing.text import text

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step

WIDTH = 64  # glyphs per formula row on a 16:9 frame at \small

_ENV = jinja2.Environment(block_start_string=r"\BLOCK{", block_end_string="}", variable_start_string=r"\VAR{",
                          variable_end_string="}", comment_start_string=r"\#{", comment_end_string="}",
                          trim_blocks=True, lstrip_blocks=True, autoescape=False)
_DECK = _ENV.from_string(r"""\documentclass[aspectratio=169,11pt]{beamer}
\usepackage{amsmath}
\usepackage{amssymb}
\usepackage{adjustbox}
\usefonttheme[onlymath]{serif}
\setbeamertemplate{navigation symbols}{}
\title{\VAR{title}}
\subtitle{\VAR{subtitle}}
\author{symbolic\_torch}
\date{\today}
\begin{document}
\begin{frame}
\titlepage
\end{frame}
\BLOCK{for f in frames}
\begin{frame}{\VAR{f.title}}
\begin{adjustbox}{max width=\textwidth, max totalheight=0.8\textheight, keepaspectratio}
\begin{minipage}{\textwidth}
\small \VAR{f.caption}\par
\BLOCK{for label, math in f.blocks}
\medskip\textbf{\VAR{label}}\par
\begin{adjustbox}{max width=\linewidth}$\displaystyle \VAR{math}$\end{adjustbox}\par
\BLOCK{endfor}
\end{minipage}
\end{adjustbox}
\end{frame}
\BLOCK{endfor}
\end{document}
""")


def beamer_source(d: "Derivation", title: str = "Derivation") -> str:
    """The deck's LaTeX (a title frame and one frame per step)."""
    r = d.report
    verdict = ("not verified" if r is None else "every gradient verified against torch.autograd" if r.ok
               else f"{len(r.failures)} check(s) FAILED")
    seen: set[Any] = set()
    frames = [_frame(s, seen) for s in d.steps]
    return _DECK.render(title=text(title), subtitle=text(f"{len(d.steps)} steps, captured with {d.capture_method}; "
                                                          f"{verdict}"), frames=frames)


def _frame(step: "Step", seen: set[Any]) -> dict[str, Any]:
    shape = "\\times".join(map(str, step.out_shape)) or "1"
    caption = text(f"from {step.target}") + rf"; output ${shape}$"
    blocks: list[tuple[str, str]] = []
    found = step_source(step, seen)
    if found is not None:
        fn, shown = found
        if shown.ok:
            blocks.append((text(f"Python ({fn.qualname}), by latexify-py"), shown.latex))
        else:
            caption += r"\\ " + text(shown.note())
    forward = step.forward_status()
    if forward == "failed":
        caption += r"\\ \textbf{forward formula: FAILED verification}"
    else:
        blocks.append((f"Forward ({status_text(forward)})",
                       aligned([(latex(step.forward.lhs), latex(step.forward.rhs))], False, WIDTH)))
    shown_grads = [(latex(eq.lhs), latex(eq.rhs)) for k, eq in step.gradients.items() if step.status(k) != "failed"]
    failed = [k for k in step.gradients if step.status(k) == "failed"]
    if shown_grads:
        states = {step.status(k) for k in step.gradients if k not in failed}
        blocks.append((f"Backward, derived ({status_text(states.pop()) if len(states) == 1 else 'see report'})",
                       aligned(shown_grads, False, WIDTH)))
    if failed:
        caption += r"\\ " + text(f"gradient(s) of {', '.join(failed)}: FAILED verification, not shown")
    if forward != "failed":
        e = step.at(tuple(n // 2 for n in step.out_shape))
        pairs = element_pairs(e)
        if max(glyphs(r) for r in rows(e.numbers_latex, WIDTH)) > 2 * WIDTH:  # no place to break it
            pairs = [pairs[0], pairs[2]]
            caption += r"\\ " + text(f"worked element {e.position}: its {e.terms} numbers are too long for a slide")
        blocks.append((text(f"Worked element {e.position}"), aligned(pairs, False, WIDTH)))
    return {"title": text(f"{step.index}. {step.name} ({step.op})"), "caption": caption, "blocks": blocks}


def write_beamer(d: "Derivation", path: str | os.PathLike[str] = "paper_output/slides.pdf", title: str | None = None,
                 compile: bool = True) -> Path:
    """Write ``path``'s ``.tex`` and compile it to ``path`` (a .pdf); returns the PDF path (the
    ``.tex`` with ``compile=False``).

    >>> d.to_beamer("paper_output/mlp_slides.pdf")  # doctest: +SKIP
    PosixPath('paper_output/mlp_slides.pdf')
    """
    pdf = Path(path).with_suffix(".pdf")
    return compile_tex(beamer_source(d, title or f"Derivation: {pdf.stem}"), pdf, compile=compile)
