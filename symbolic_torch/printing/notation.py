"""The handout's notation appendix: what every symbol, bracket and abbreviation means.

The list of index names is read from the derivation itself (the index letters its formulas
use), each with what that letter stands for in the rule table's conventions.

>>> index_letters(d)                                           # doctest: +SKIP
['c', 'i', 'j', 'k', 'l', 'n', 'o', 'p', 'q']
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation

MEANINGS = {
    "n": "the sample in the batch",
    "c": "an input channel (or the channel a pooling or normalization works in)",
    "o": "an output channel or output feature",
    "i": "a position of the output (the first such index); inside a sum, a summed position",
    "j": "the next position index (e.g. the column of an image)",
    "k": "a further position index, or a summed one (e.g. the class in a softmax's sum)",
    "l": "a further position index",
    "m": "a further position index",
    "p": "an offset inside a kernel or pooling window (rows)",
    "q": "an offset inside a kernel or pooling window (columns)",
    "r": "an offset inside a kernel or pooling window (a third dim)",
    "h": "a position of the input being differentiated (rows)",
    "w": "a position of the input being differentiated (columns)",
}
GENERIC = "an index; its range is the tensor's shape or is written on its sum"

ITEMS = [
    (r"$x_{n,c,i,j}$", "The element of tensor $x$ at that position; indices count from 0. A read outside a "
                       "tensor's range is 0 (that is how zero padding is written)."),
    (r"$y$, $x$, $w$/$W$, $b$", "Each step's output, its input, weight and bias; each step's operand table "
                                "names the tensor every symbol stands for."),
    (r"$L$", "The loss (or the scalar output) every gradient is of."),
    (r"$\bar{g}_{\ldots}$", r"The adjoint of the step's output: $\bar{g}_{\ldots} = \partial L/\partial y_{\ldots}$, "
                            "one per tensor. The chain rule makes it, running over the steps in reverse; each "
                            "worked backward element says which later step's gradient produced the values it reads."),
    (r"$\frac{\partial L}{\partial x_{\ldots}}$", "The gradient of the loss with respect to one element of "
                                                  "operand $x$ (what this step adds to it)."),
    (r"$\sum_{c=0}^{C-1}$", "A sum over every value of the index, both limits included."),
    (r"$[P]$", r"The Iverson bracket: 1 when the condition $P$ holds, else 0. A guard such as "
               r"$[i - p \geq 0]$ keeps only the terms that exist (inside the tensor, or on the stride)."),
    (r"$s \mid k$", r"$s$ divides $k$ (a strided operation's backward reads only such positions)."),
    (r"$\lfloor a \rfloor$, $\lceil a \rceil$, $a \bmod b$", "Rounding down, rounding up, remainder."),
    (r"$\max_{p,q}$, $[(p, q) = \mathrm{argmax}]$", "The maximum over a window, and 1 at the window's first "
                                                   "largest element (as torch's kernels choose), else 0."),
    (r"$\frac{1}{N}\sum$", "A mean reduction (the default of torch's losses): the sum over the N terms, "
                           "divided by N. It is written even when N = 1."),
    (r"$a + b + c + \cdots + z\ [K\ \text{terms}]$",
     "A long sum in a worked element: its first three terms, the last one and how many terms it has. "
     "The value after the last = is the whole sum's."),
    (r"$1.235 \cdot 10^{6}$", "Numbers are shown to 4 significant digits."),
]


def index_letters(d: "Derivation") -> list[str]:
    """The index symbols the derivation's formulas use (forward and derived), sorted."""
    found: set[str] = set()
    for s in d.steps:
        for eq in (s.forward, *s.gradients.values()):
            found |= {a.name for a in eq.atoms(sp.Symbol) if a.is_integer and a.name.isascii()}
    return sorted(found)


def notation_latex(d: "Derivation") -> str:
    """The appendix body (LaTeX): the index names of this derivation, then the notation."""
    rows = [rf"${n}$ & {MEANINGS.get(n.rstrip(chr(39)), GENERIC)} \\" for n in index_letters(d)]
    out = [r"\subsection*{Index names}",
           "Each formula names the indices of its output first, in the output's order; the letters mean:",
           r"\par\smallskip\noindent\begin{tabular}{@{}lp{0.85\linewidth}@{}}", *rows, r"\end{tabular}",
           r"\subsection*{Symbols}", r"\begin{description}"]
    out += [rf"\item[{{{sym}}}] {what}" for sym, what in ITEMS]
    out.append(r"\end{description}")
    return "\n".join(out)
