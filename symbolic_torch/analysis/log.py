"""The activation log: every step's value and output gradient at a glance.

``Derivation.log()`` gives one ``LogRow`` per step: fx name, module path, op, shape, dtype,
statistics of the value the run computed (min, max, mean, population std) and of the derived
adjoint ḡ = ∂L/∂y (L2 norm, max |ḡ|; None where no adjoint reaches the step). The tensors
themselves are ``d[key].value`` and ``d[key].grad``.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64))
>>> d.log().rows[0].shape
(1, 2)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import torch
from tabulate import tabulate

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step


@dataclass(frozen=True)
class LogRow:
    """One step of the log. Statistics are of the value as float64 (NaN for an empty tensor)."""

    index: int
    name: str
    module_path: str | None
    op: str
    shape: tuple[int, ...]
    dtype: str
    min: float
    max: float
    mean: float
    std: float
    grad_norm: float | None
    grad_max: float | None


@dataclass(frozen=True)
class ActivationLog:
    """The rows of ``Derivation.log()``, in step order; renders as text or Markdown."""

    rows: tuple[LogRow, ...]

    HEADERS = ("#", "step", "module", "op", "shape", "dtype", "min", "max", "mean", "std", "‖ḡ‖₂", "max abs ḡ")

    def __iter__(self) -> Iterator[LogRow]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: int | str) -> LogRow:
        """A row by position, fx name or module path."""
        if isinstance(key, int):
            return self.rows[key]
        for r in self.rows:
            if key in (r.name, r.module_path):
                return r
        raise KeyError(f"no step {key!r} in the log")

    def _body(self) -> list[list[object]]:
        def g(x: float | None) -> str:
            return "—" if x is None else f"{x:.4g}"
        return [[r.index, r.name, r.module_path or "", r.op, "×".join(map(str, r.shape)) or "scalar", r.dtype,
                 g(r.min), g(r.max), g(r.mean), g(r.std), g(r.grad_norm), g(r.grad_max)] for r in self.rows]

    def table(self, fmt: str = "simple") -> str:
        """The log as a ``tabulate`` table in format ``fmt`` ("simple", "github", "latex", …)."""
        return tabulate(self._body(), headers=self.HEADERS, tablefmt=fmt, disable_numparse=True)

    def to_markdown(self) -> str:
        """The log as a GitHub Markdown table."""
        return self.table("github")

    def __str__(self) -> str:
        return self.table()


def _stats(t: torch.Tensor) -> tuple[float, float, float, float]:
    x = (t.detach().abs() if t.is_complex() else t.detach()).to(torch.float64)
    if x.numel() == 0:
        nan = float("nan")
        return nan, nan, nan, nan
    return float(x.min()), float(x.max()), float(x.mean()), float(x.std(correction=0))


def log_row(step: "Step") -> LogRow:
    """The log's row for ``step`` (evaluates the derivation's chain on first use)."""
    value = step.value
    assert value is not None, f"step {step.name!r} belongs to no derivation"
    grad = step.grad
    gnorm = None if grad is None else float(torch.linalg.vector_norm(grad.to(torch.float64)))
    gmax = None if grad is None or grad.numel() == 0 else float(grad.abs().max())
    return LogRow(step.index, step.name, step.module_path, step.op, tuple(value.shape),
                  str(value.dtype).removeprefix("torch."), *_stats(value), gnorm, gmax)


def activation_log(d: "Derivation") -> ActivationLog:
    """One ``LogRow`` per step of ``d``."""
    return ActivationLog(tuple(log_row(s) for s in d.steps))
