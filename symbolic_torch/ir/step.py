"""``Step``: one operation of the run, its forward formula and its derived gradients."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.operand import Operand
from symbolic_torch.ir.update import BufferUpdate

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.element import Element


@dataclass(frozen=True, eq=False)
class Step:
    """One operation of the run, its forward formula and derived gradients.

    ``gradients`` maps torch's name for each differentiable input or parameter
    (``"input"``, ``"weight"``, ``"bias"``, ``"other"``) to ``Eq(∂L/∂x[…], …)``.
    ``derivation`` is the derivation the step belongs to (a ``Derivation`` sets it on
    the copies of the steps it holds).
    """

    index: int
    name: str
    target: str
    module_path: str | None
    op: str
    op_latex: str
    output: str
    out_shape: tuple[int, ...]
    out_indices: tuple[sp.Symbol, ...]
    forward: sp.Eq
    operands: tuple[Operand, ...]
    gradients: Mapping[str, sp.Eq]
    seeded: bool = False  # the scalar loss: its adjoint is 1
    remarks: tuple[str, ...] = ()  # the rule's remarks (LaTeX math), e.g. how duplicate indices are treated
    updates: tuple[BufferUpdate, ...] = ()  # buffers the op moves beside its formula (running statistics)
    derivation: "Derivation | None" = field(default=None, repr=False, compare=False)

    def operand(self, key: str) -> Operand:
        """The operand torch calls ``key`` (or whose formula symbol is ``key``)."""
        for o in self.operands:
            if key in (o.key, o.symbol):
                return o
        raise KeyError(f"step {self.name!r} has no operand {key!r}; it has {[o.key for o in self.operands]}")

    def status(self, key: str) -> str:
        """``"verified"``, ``"failed"`` or ``"unverified"`` for gradient ``key``."""
        d = self.derivation
        if d is None or d.report is None:
            return "unverified"
        return d.report.step_status(self.name, key)

    @property
    def notes(self) -> tuple[str, ...]:
        """What is shown beside the step's formulas (LaTeX math): the rule's remarks, then each
        buffer update (``μ_c ← 0.9 μ_c + 0.1 · …  = [values]``), marked when it failed verification."""
        from symbolic_torch.printing.latex import update_latex
        return self.remarks + tuple(update_latex(u, self.status(u.key)) for u in self.updates)

    def forward_status(self) -> str:
        """``"verified"``, ``"failed"`` or ``"unverified"`` for the forward formula."""
        return self.status("forward")

    def at(self, position: Sequence[int] | int) -> "Element":
        """The forward formula expanded at one output element, with the run's numbers."""
        from symbolic_torch.printing.worked import forward_element
        return forward_element(self, position)

    def grad_at(self, name: str, position: Sequence[int] | int) -> "Element":
        """One element of the gradient of operand ``name``, expanded with numbers."""
        from symbolic_torch.printing.worked import gradient_element
        return gradient_element(self, name, position)

    @property
    def value(self) -> torch.Tensor | None:
        """The tensor the run computed for this step (its activation), e.g. ``d["features.3"].value``.

        None for a step that belongs to no derivation."""
        d = self.derivation
        return None if d is None else d.values.get(self.output)

    @property
    def grad(self) -> torch.Tensor | None:
        """ḡ = ∂L/∂y of the step's output, from the derived formulas (float64; the chain is
        evaluated on first use). None where no adjoint reaches the step (a branch the loss does
        not read) or for a step that belongs to no derivation."""
        d = self.derivation
        return None if d is None else d.adjoints.get(self.output)

    def env(self, adjoint: bool = True) -> dict[str, torch.Tensor]:
        """Values of the formula's symbols: operands and (with ``adjoint``) ḡ — zero where no
        adjoint reaches the step (the loss does not depend on its output), so that its gradient
        elements read 0 as autograd's would.

        Asking for ḡ evaluates the derivation's chain if nothing has yet.
        """
        env = {o.symbol: o.value.detach() for o in self.operands}
        if adjoint and self.derivation is not None:
            adj = self.derivation.adjoints.get(self.output)
            env[S.ADJOINT] = torch.zeros(self.out_shape, dtype=torch.float64) if adj is None else adj
        return env

    def __repr__(self) -> str:
        return f"Step({self.index}: {self.name} = {self.op}, out {list(self.out_shape)})"
