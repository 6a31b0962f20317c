"""The IR: a ``Derivation`` is an ordered list of ``Step``s plus the run's values.

Plain data: analyses read it, printers render it. Numbers come from the
run (``values``) and from the derived formulas (``adjoints``), never from
autograd; autograd is only the referee in ``verify``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.ir.operand import Operand

if TYPE_CHECKING:
    from symbolic_torch.printing.worked import Element
    from symbolic_torch.verify.checks import VerificationReport


@dataclass(frozen=True, eq=False)
class Step:
    """One operation of the run, its forward formula and derived gradients.

    ``gradients`` maps torch's name for each differentiable input or parameter
    (``"input"``, ``"weight"``, ``"bias"``, ``"other"``) to ``Eq(∂L/∂x[…], …)``.
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
    notes: tuple[str, ...] = ()
    derivation: "Derivation | None" = field(default=None, repr=False)

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

    def forward_status(self) -> str:
        d = self.derivation
        if d is None or d.report is None:
            return "unverified"
        return d.report.step_status(self.name, "forward")

    def at(self, position: Sequence[int] | int) -> "Element":
        """The forward formula expanded at one output element, with the run's numbers."""
        from symbolic_torch.printing.worked import forward_element
        return forward_element(self, position)

    def grad_at(self, name: str, position: Sequence[int] | int) -> "Element":
        """One element of the gradient of operand ``name``, expanded with numbers."""
        from symbolic_torch.printing.worked import gradient_element
        return gradient_element(self, name, position)

    def env(self) -> dict[str, torch.Tensor]:
        """Values of the formula's symbols: operands, output and (when known) ḡ."""
        from symbolic_torch.ir import symbols as S
        assert self.derivation is not None
        env = {o.symbol: o.value.detach() for o in self.operands}
        adj = self.derivation.adjoints.get(self.output)
        if adj is not None:
            env[S.ADJOINT] = adj
        return env

    def __repr__(self) -> str:
        return f"Step({self.index}: {self.name} = {self.op}, out {list(self.out_shape)})"


class Derivation:
    """The derivation of one run: steps, values, derived adjoints, verification."""

    def __init__(self, steps: list[Step], values: dict[str, torch.Tensor],
                 adjoints: dict[str, torch.Tensor], inputs: dict[str, str], params: list[str],
                 seed: torch.Tensor | None, has_loss: bool, method: str, meta: dict[str, Any]) -> None:
        self.steps = steps
        self.values = values
        self.adjoints = adjoints
        self.inputs = inputs  # the model's argument name → fx placeholder name
        self.input_names = list(inputs)
        self.param_names = params
        self.seed = seed
        self.has_loss = has_loss
        self.capture_method = method
        self.meta = meta
        self.report: "VerificationReport | None" = None

    @property
    def outputs(self) -> list[str]:
        """Tensor ids (fx node names) of the model's outputs, in order."""
        return list(self.meta["outputs"])

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, key: int | str) -> Step:
        """A step by integer index, fx node name or module path (``"features.0"``)."""
        if isinstance(key, int):
            return self.steps[key]
        for s in self.steps:
            if key in (s.name, s.module_path):
                return s
        names = [s.module_path or s.name for s in self.steps]
        raise KeyError(f"no step {key!r}; steps are {names}")

    def gradient_values(self) -> dict[str, torch.Tensor]:
        """∂L/∂t for every model input and parameter, from the derived formulas."""
        out: dict[str, torch.Tensor] = {}
        for name in self.input_names + self.param_names:
            key = self.inputs.get(name, name)
            ref = self.values[key]
            if ref.is_floating_point():
                out[name] = self.adjoints.get(key, torch.zeros(ref.shape, dtype=torch.float64)).to(ref.dtype)
        return out

    def verify(self, atol: float | None = None, rtol: float | None = None) -> "VerificationReport":
        """Compare every derived gradient with torch.autograd on the same values."""
        from symbolic_torch.verify.checks import verify
        self.report = verify(self, atol=atol, rtol=rtol)
        return self.report

    def to_latex(self, **settings: Any) -> str:
        """The whole derivation as a LaTeX fragment (no preamble)."""
        from symbolic_torch.printing.latex import derivation_latex
        return derivation_latex(self, **settings)

    def to_pdf(self, path: str | Any = "paper_output/derivation.pdf", **settings: Any) -> Any:
        """Write ``path`` (.tex beside it) with a section per step; returns the PDF path."""
        from symbolic_torch.printing.pdf import write_pdf
        return write_pdf(self, path, **settings)

    def __repr__(self) -> str:
        return f"Derivation({len(self.steps)} steps, captured with {self.capture_method})"
