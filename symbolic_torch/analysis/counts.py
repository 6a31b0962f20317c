"""Parameters and MACs per step, for the graph export, as ``analysis.counting`` counts them.

``params(step)`` counts the elements of the model parameters a step reads (frozen ones too, as
torchinfo does; an LSTM's weights count at every time step that reads them); ``total_params()``
counts each parameter of the model once (tied names once). MACs are ``counting.step_macs``: read
off the forward formula, so a loaded derivation (no model, no graph module) counts the same.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64), verify=False)
>>> c = Counter(d)
>>> c.total_params(), c.params(d[0]), c.macs(d[0])
(8, 8, 6)
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from symbolic_torch.analysis.counting import step_macs

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step


def parameter_names(d: "Derivation") -> list[str]:
    """Every name of every model parameter, frozen and tied ones included (a loaded derivation
    keeps the list it was saved with)."""
    gm = getattr(d.run, "gm", None)
    if gm is not None:
        return [n for n, _ in gm.named_parameters(remove_duplicate=False)]
    return list(getattr(d.run, "parameters", d.param_names))


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

    def macs(self, step: "Step") -> int:
        """Multiply–adds of the step's forward formula (1 multiply–add = 1 MAC)."""
        return step_macs(step)

    def flops(self, step: "Step") -> int:
        """2 × ``macs``, as ``torch.utils.flop_counter`` counts."""
        return 2 * self.macs(step)
