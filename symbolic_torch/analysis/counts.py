"""Parameters and MACs per step, for the graph export.

Parameters are read from the step's operands: ``params(step)`` counts the elements of the
parameters a step reads (an LSTM's weights count at every time step that reads them);
``total_params()`` counts each parameter of the run once (tied names once). MACs come from the
formula counter ``symbolic_torch.analysis.counting`` (``step_macs``) where that module is
installed; without it they are None ("not counted"), never a guess.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64), verify=False)
>>> Counter(d).total_params()
8
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step


def _macs_counter() -> Callable[["Step"], int] | None:
    try:
        module = importlib.import_module("symbolic_torch.analysis.counting")
    except ImportError:
        return None
    return getattr(module, "step_macs", None)


class Counter:
    """Parameter and MAC counts of the steps of one derivation."""

    def __init__(self, d: "Derivation") -> None:
        self.d = d
        self._tied = {n: names[0] for names in d.chain.tied for n in names}
        self._params = set(d.param_names) | set(self._tied)
        self._step_macs = _macs_counter()

    def params(self, step: "Step") -> int:
        """Elements of the parameters ``step`` reads (each operand once)."""
        return sum(o.value.numel() for o in step.operands if o.source in self._params)

    def total_params(self) -> int:
        """Elements of every parameter of the run, each tensor once (tied names once)."""
        seen = {self._tied.get(n, n) for n in self.d.param_names}
        return sum(self.d.values[n].numel() for n in seen if n in self.d.values)

    def macs(self, step: "Step") -> Any:
        """Multiply–adds of the step's forward formula, or None where no counter is installed."""
        return None if self._step_macs is None else int(self._step_macs(step))

    def flops(self, step: "Step") -> Any:
        """2 × ``macs`` (None likewise)."""
        m = self.macs(step)
        return None if m is None else 2 * m
