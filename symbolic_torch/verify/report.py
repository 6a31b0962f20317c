"""The verification report: one ``Row`` per comparison, and the ``VerificationReport`` that holds them."""
from __future__ import annotations

from dataclasses import dataclass, field

from tabulate import tabulate


@dataclass(frozen=True)
class Row:
    """One comparison: ``kind`` is "tensor" (end to end) or "step" (one formula)."""

    kind: str
    name: str
    key: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    ok: bool
    nonfinite: bool = False
    note: str = ""


@dataclass
class VerificationReport:
    """Result of ``Derivation.verify``: ``.ok``, ``.max_abs_error`` and the rows."""

    rows: list[Row] = field(default_factory=list)
    step_rows: list[Row] = field(default_factory=list)
    output_rows: list[Row] = field(default_factory=list)  # the run's outputs against the model's

    @property
    def all_rows(self) -> list[Row]:
        """Every row: end-to-end, per step, outputs."""
        return self.rows + self.step_rows + self.output_rows

    @property
    def ok(self) -> bool:
        """Did every check pass?"""
        return all(r.ok for r in self.all_rows)

    @property
    def max_abs_error(self) -> float:
        """The largest absolute error of any row."""
        errs = [r.max_abs_error for r in self.all_rows]
        return max(errs) if errs else 0.0

    @property
    def failures(self) -> list[Row]:
        """The rows that failed."""
        return [r for r in self.all_rows if not r.ok]

    def step_status(self, step: str, key: str) -> str:
        """``"verified"``, ``"failed"`` or ``"unverified"`` for formula ``key`` (or "forward") of ``step``."""
        for r in self.step_rows:
            if r.name == step and r.key == key:
                return "verified" if r.ok else "failed"
        return "unverified"

    def table(self, rows: list[Row] | None = None) -> str:
        """``rows`` (the end-to-end ones by default) as a text table."""
        rows = self.rows if rows is None else rows
        body = [[r.name if r.kind == "tensor" else f"{r.name}: {r.key}", "×".join(map(str, r.shape)) or "scalar",
                 f"{r.max_abs_error:.3g}", f"{r.max_rel_error:.3g}",
                 ("ok" if r.ok else "FAILED") + (" (NaN/Inf)" if r.nonfinite else ""), r.note] for r in rows]
        return tabulate(body, headers=["tensor", "shape", "max abs err", "max rel err", "status", "note"])

    def __str__(self) -> str:
        head = "verification: " + ("all derived gradients agree with autograd" if self.ok
                                   else f"{len(self.failures)} check(s) FAILED")
        parts = [head, self.table()]
        bad_outputs = [r for r in self.output_rows if not r.ok]
        if bad_outputs:
            parts += ["the captured graph's outputs differ from the model's:", self.table(bad_outputs)]
        bad_steps = [r for r in self.step_rows if not r.ok]
        if bad_steps:
            parts += ["failed step formulas:", self.table(bad_steps)]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"VerificationReport(ok={self.ok}, max_abs_error={self.max_abs_error:.3g}, rows={len(self.rows)})"
