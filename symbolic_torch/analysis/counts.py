"""Parameters and MACs per step, for the graph export, as ``analysis.counting`` counts them.

``params(step)`` counts the elements of the model parameters a step reads (frozen ones too, as
torchinfo does; an LSTM's weights count at every time step that reads them); ``total_params()``
counts each parameter of the model once (tied names once). MACs are ``counting.step_cost``'s: read
off the forward formula, so a loaded derivation (no model, no graph module) counts the same.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64), verify=False)
>>> c = Counter(d)
>>> c.total_params(), c.params(d[0]), c.cost(d[0]).macs
(8, 8, 6)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from symbolic_torch.analysis.counting import Cost, parameter_names, step_cost

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step


class Counter:
    """Parameter and MAC counts of the steps of one derivation."""

    def __init__(self, d: "Derivation") -> None:
        self.d = d
        self.names = parameter_names(d)
        self._known = set(self.names)
        self._first = {n: names[0] for names in d.chain.tied for n in names}

    def params(self, step: "Step") -> int:
        """Elements of the parameters ``step`` reads (each operand once)."""
        return sum(o.value.numel() for o in step.operands if o.source in self._known)

    def total_params(self) -> int:
        """Elements of every parameter of the model, each tensor once (tied names once)."""
        seen = {self._first.get(n, n) for n in self.names}
        return sum(self.d.values[n].numel() for n in seen if n in self.d.values)

    def cost(self, step: "Step") -> Cost:
        """MACs (1 multiply–add = 1 MAC), FLOPs (2 × MACs) and other ops of the step's forward formula."""
        return step_cost(step)
