"""``compare``: several models side by side on the same input, from their derivations.

Per model: parameters, MACs, FLOPs, activation memory (from ``summary``), the wall-clock time
``derive`` took, its steps and its distinct formulas: how many forward formulas differ in
structure (formulas equal up to the names of tensors and indices and the numbers in them are
one structure: every ``Linear`` is one, whatever its sizes).

Example::

    c = compare({"MLP": mlp, "CNN": cnn, "ViT": vit}, torch.randn(1, 3, 32, 32))
    print(c.to_markdown())      # also to_latex(), to_html(), str(c)
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

import torch

from symbolic_torch.analysis.counting import CONVENTION
from symbolic_torch.analysis.summary import summarize
from symbolic_torch.analysis.tables import TableViews, render
from symbolic_torch.ir.derivation import Derivation
from symbolic_torch.ir.step import Step

_NUMBER = re.compile(r"(Integer|Rational|Float|NegativeOne|One|Zero|Half)\([^()]*\)")
_NAME = re.compile(r"(Symbol|Dummy)\('([^']*)'")


@dataclass(frozen=True)
class ComparisonRow:
    """One model's figures."""

    name: str
    params: int
    macs: int
    flops: int
    activation_bytes: int
    derive_seconds: float
    steps: int
    distinct_formulas: int


@dataclass(frozen=True)
class Comparison(TableViews):
    """Models side by side (rows in the order given); ``derivations`` keeps each derivation."""

    rows: tuple[ComparisonRow, ...]
    derivations: Mapping[str, Derivation]
    settings: str

    def __getitem__(self, name: str) -> ComparisonRow:
        for r in self.rows:
            if r.name == name:
                return r
        raise KeyError(f"no model {name!r}; the models are {[r.name for r in self.rows]}")

    def table(self, fmt: str = "text") -> str:
        """The comparison as ``text``, ``markdown``, ``latex`` or ``html``, conventions below."""
        head = ["model", "params", "MACs", "FLOPs", "act. bytes", "derive s", "steps", "distinct formulas"]
        body = [[r.name, r.params, r.macs, r.flops, r.activation_bytes, round(r.derive_seconds, 2), r.steps,
                 r.distinct_formulas] for r in self.rows]
        notes = [CONVENTION + ".",
                 f"derive s: wall-clock seconds of derive({self.settings}) on this machine; distinct formulas: "
                 "forward formulas that differ other than in tensor and index names and numbers."]
        return render(head, body, fmt, notes)


def compare(models: Mapping[str, Any], *inputs: torch.Tensor, **derive_kwargs: Any) -> Comparison:
    """Derive each of ``models`` on ``inputs`` (``derive_kwargs`` go to ``derive``; ``verify``
    defaults to False) and tabulate them."""
    from symbolic_torch.pipeline import derive
    derive_kwargs.setdefault("verify", False)
    rows, derivations = [], {}
    for name, model in models.items():
        start = time.perf_counter()
        d = derive(model, *inputs, **derive_kwargs)
        seconds = time.perf_counter() - start
        s = summarize(d)
        rows.append(ComparisonRow(name, s.total_params, s.total_macs, s.total_flops, s.activation_bytes,
                                  seconds, len(d.steps), distinct_formulas(d)))
        derivations[name] = d
    settings = ", ".join(f"{k}={v!r}" for k, v in derive_kwargs.items() if k in ("verify", "differentiate"))
    return Comparison(tuple(rows), derivations, settings)


def formula_structure(step: Step) -> str:
    """``step``'s forward formula with tensor and index names numbered by first appearance and
    numbers blanked (its ``srepr``, so rewritten): equal for two ``Linear`` steps of any sizes,
    different for a linear and a conv step."""
    import sympy as sp
    text = _NUMBER.sub("N", sp.srepr(step.forward))
    names: dict[str, str] = {}

    def rename(m: re.Match[str]) -> str:
        names.setdefault(m.group(2), f"s{len(names)}")
        return f"{m.group(1)}('{names[m.group(2)]}'"
    return _NAME.sub(rename, text)


def distinct_formulas(d: Derivation) -> int:
    """How many forward formula structures ``d``'s steps hold (see ``formula_structure``)."""
    return len({formula_structure(s) for s in d.steps})
