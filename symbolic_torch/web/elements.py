"""Worked elements for the page: one record per element, and which ones a file precomputes.

A record carries the package's LaTeX (``latex``: ``lhs = formula = numbers = value``), the exact
``value``, the term count and the same lines as MathML for the page. The static file holds
the records its budget allows (``plan``); the served app computes any record on demand.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64), verify=False)
>>> r = element_record(worked(d, d.steps[0].name, "forward", (0, 1)))
>>> r["terms"], r["latex"].startswith("y_{0,1} =")
(4, True)
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from symbolic_torch.ir.element import Element, fmt
from symbolic_torch.web.mathml import to_mathml
from symbolic_torch.web.tensors import MAX_SIDE

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation, Step

__all__ = ["element_key", "element_record", "exact", "worked", "tensors_of", "plan", "first_positions"]


def element_key(step: str, kind: str, position: Sequence[int]) -> str:
    """``"conv1|forward|0,0,1,1"``: how the page looks a record up."""
    return f"{step}|{kind}|{','.join(map(str, position))}"


def exact(v: float) -> float | str:
    """A value for JSON at full precision (NaN and ±∞ as strings JavaScript's ``Number()`` reads)."""
    if math.isnan(v):
        return "NaN"
    return ("Infinity" if v > 0 else "-Infinity") if math.isinf(v) else v


def worked(d: "Derivation", step: str, kind: str, position: Sequence[int]) -> Element:
    """The worked element: ``kind`` ``"forward"`` (``step.at``) or an operand key (``step.grad_at``).

    Raises KeyError for an unknown step or operand and IndexError for a position out of range,
    each naming what is valid.
    """
    s = d[step]
    return s.at(tuple(position)) if kind == "forward" else s.grad_at(kind, tuple(position))


def element_record(e: Element) -> dict[str, Any]:
    """``{"latex", "value", "terms"}`` plus the position, status and MathML lines of ``e``."""
    return {"step": e.step, "kind": e.kind, "position": list(e.position), "latex": e.latex,
            "value": exact(e.value), "terms": e.terms, "status": e.status,
            "expected": None if e.expected is None else exact(e.expected),
            "mathml": [to_mathml(f"{e.lhs_latex} = {e.formula_latex}", True),
                       to_mathml(f"= {e.numbers_latex}", True), to_mathml(f"= {fmt(e.value)}", True)]}


def tensors_of(step: "Step") -> list[tuple[str, tuple[int, ...]]]:
    """The tensors the page draws for ``step``: its output (``"forward"``) and each gradient
    that is not known to be wrong, with their shapes."""
    out = [("forward", tuple(step.out_shape))]
    out += [(k, tuple(step.operand(k).shape)) for k in step.gradients if step.status(k) != "failed"]
    return out


def first_positions(shape: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Positions of the first grid the page shows for ``shape``: the middle one first, then the
    rest row by row (leading indices 0)."""
    shape = tuple(shape)
    lead = (0,) * max(len(shape) - 2, 0)
    grid = [range(min(n, MAX_SIDE)) for n in shape[len(lead):]]
    middle = lead + tuple(len(r) // 2 for r in grid)
    yield middle
    for cell in itertools.product(*grid):
        if lead + cell != middle:
            yield lead + cell


def plan(d: "Derivation", budget: int) -> list[tuple[str, str, tuple[int, ...]]]:
    """Which elements a file precomputes: at most ``budget``, shared fairly between the
    tensors drawn (each gets its middle element first; a tensor smaller than its share
    leaves the rest to the others)."""
    wanted = [(s.name, kind, shape) for s in d.steps for kind, shape in tensors_of(s)]
    sizes = [min(math.prod(min(n, MAX_SIDE) for n in shape[-2:]) if shape else 1, 10**9)
             for _, _, shape in wanted]
    share = dict.fromkeys(range(len(wanted)), 0)
    left, open_ = budget, sorted(range(len(wanted)), key=lambda i: sizes[i])
    while open_ and left > 0:
        each = max(1, left // len(open_))
        for i in list(open_):
            take = min(each, sizes[i] - share[i], left)
            share[i] += take
            left -= take
            if share[i] >= sizes[i] or left == 0:
                open_.remove(i)
    return [(name, kind, pos) for i, (name, kind, shape) in enumerate(wanted)
            for pos in itertools.islice(first_positions(shape), share[i])]
