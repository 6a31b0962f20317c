"""The handout's model summary table: one row per step (op, output shape, parameter count).

``summary_rows`` is the data, ``summary_table`` its LaTeX (a ``longtable``, so a deep model's
table runs on over pages with its header repeated). Both are one function each so the columns
can be swapped for a fuller summary (MACs, FLOPs, memory) without touching the handout.

>>> [r.params for r in summary_rows(d)]                       # doctest: +SKIP
[40, 0, 0, 0, 370, 0]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from symbolic_torch.printing.text import text

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation

PACKAGES = ("longtable", "booktabs")


@dataclass(frozen=True)
class SummaryRow:
    """A step of the summary: its index, name (module path when it has one), op, output shape,
    and the number of parameter elements it reads (``parameters`` names them)."""

    index: int
    name: str
    op: str
    shape: tuple[int, ...]
    params: int
    parameters: tuple[str, ...]


def summary_rows(d: "Derivation") -> list[SummaryRow]:
    """One row per step of ``d``; parameters are the operands that are the model's parameters."""
    rows = []
    for s in d.steps:
        ps = [o for o in s.operands if o.source in d.param_names]
        rows.append(SummaryRow(s.index, s.module_path or s.name, s.op, tuple(s.out_shape),
                               sum(math.prod(o.shape) for o in ps), tuple(str(o.source) for o in ps)))
    return rows


def total_params(d: "Derivation") -> int:
    """Parameter elements the run reads, each parameter counted once (a shared one is read twice)."""
    sizes = {o.source: math.prod(o.shape) for s in d.steps for o in s.operands if o.source in d.param_names}
    return sum(sizes.values())


def _shape(shape: tuple[int, ...]) -> str:
    return "$" + r" \times ".join(map(str, shape)) + "$" if shape else "scalar"


def _count(n: int) -> str:
    return f"{n:,}".replace(",", r"\,") if n else "--"


def summary_table(d: "Derivation") -> str:
    """The summary as a LaTeX ``longtable`` with a total row."""
    rows = summary_rows(d)
    head = r"\# & step & op & output shape & parameters \\ \midrule"
    lines = [r"\begin{longtable}{rllrr}", r"\toprule", head, r"\endfirsthead", r"\toprule", head, r"\endhead",
             r"\bottomrule", r"\endfoot"]
    for r in rows:
        lines.append(rf"{r.index} & {text(r.name)} & {text(r.op)} & {_shape(r.shape)} & {_count(r.params)} \\")
    lines += [r"\midrule", rf"& \multicolumn{{3}}{{l}}{{total ({len(rows)} steps)}} & {_count(total_params(d))} \\",
              r"\end{longtable}"]
    return "\n".join(lines)
