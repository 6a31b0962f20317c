"""The OpInfo coverage table: per-sample results gathered into one row per op name.

``rows(results)`` aggregates ``SampleResult``s; ``markdown(rows, ...)`` writes
``docs/coverage.md``. An op name is verified only when every sample that could be
captured matched autograd; samples fx/export could not capture (and samples skipped
for size) are listed but left out of the denominator.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

VERIFIED = "verified"
MISMATCH = "mismatch"
UNSUPPORTED = "unsupported"
CAPTURE = "capture"
ERROR = "error"
TIMEOUT = "timeout"
SKIPPED = "skipped"
NOT_COUNTED = (CAPTURE, SKIPPED)  # listed, but not in the denominator


@dataclass(frozen=True)
class SampleResult:
    """What happened to one float64 sample of one OpInfo entry."""

    op: str
    variant: str
    index: int
    status: str
    detail: str = ""
    max_error: float | None = None
    seconds: float = 0.0


@dataclass
class OpRow:
    """One op name (all its OpInfo variants together)."""

    op: str
    results: list[SampleResult] = field(default_factory=list)

    @property
    def tried(self) -> int:
        return len(self.results)

    @property
    def counted(self) -> int:
        """Samples in the denominator: everything but capture failures and size skips."""
        return sum(r.status not in NOT_COUNTED for r in self.results)

    @property
    def verified_samples(self) -> int:
        return sum(r.status == VERIFIED for r in self.results)

    @property
    def verified(self) -> bool:
        return self.counted > 0 and self.verified_samples == self.counted

    @property
    def seconds(self) -> float:
        return sum(r.seconds for r in self.results)

    def reasons(self) -> list[tuple[str, int]]:
        """The distinct reasons for samples that did not verify, with their counts."""
        counts: Counter[str] = Counter()
        worst: dict[str, float] = {}
        for r in self.results:
            if r.status == VERIFIED:
                continue
            key = reason(r)
            counts[key] += 1
            if r.max_error is not None:
                worst[key] = max(worst.get(key, 0.0), r.max_error)
        out = []
        for key, n in counts.most_common():
            out.append((f"{key} (max error {worst[key]:.3g})" if key in worst else key, n))
        return out


    def notes(self) -> list[tuple[str, int]]:
        """What verified samples noted (a rule's documented tolerance), with their counts."""
        return Counter(r.detail for r in self.results if r.status == VERIFIED and r.detail).most_common()


def reason(r: SampleResult) -> str:
    """A short reason for a sample that did not verify (samples sharing it are grouped)."""
    if r.status == MISMATCH:
        return f"mismatch{': ' + r.detail if r.detail else ''}"
    if r.status == UNSUPPORTED:
        return f"unsupported {r.detail}"
    if r.status == CAPTURE:
        return "CaptureError (not counted)"
    if r.status == SKIPPED:
        return f"skipped: {r.detail} (not counted)"
    if r.status == TIMEOUT:
        return f"timeout ({r.detail})"
    return r.detail or r.status


def rows(results: Iterable[SampleResult]) -> list[OpRow]:
    """One row per op name, sorted by name."""
    by_op: dict[str, OpRow] = {}
    for r in results:
        by_op.setdefault(r.op, OpRow(r.op)).results.append(r)
    return [by_op[k] for k in sorted(by_op)]


def _cell(text: str) -> str:
    return text.replace("|", r"\|").replace("\n", " ")


def summary(table: Sequence[OpRow]) -> str:
    """``N of M op names fully verified`` with the sample counts."""
    n = sum(r.verified for r in table)
    samples = sum(r.tried for r in table)
    good = sum(r.verified_samples for r in table)
    return (f"**{n} of {len(table)} op names fully verified**; {good} of {samples} samples verified "
            f"({sum(r.counted for r in table)} counted)")


KINDS = {UNSUPPORTED: "no rule (UnsupportedOpError)", MISMATCH: "derived ≠ autograd", ERROR: "other exception",
         TIMEOUT: "per-sample time limit", CAPTURE: "fx/export cannot capture (not counted)",
         SKIPPED: "skipped (not counted)"}


def _why(table: Sequence[OpRow]) -> list[str]:
    """Why the op names that are not verified fail: by kind, then the commonest unsupported targets."""
    kinds: dict[str, list[str]] = {}
    targets: Counter[str] = Counter()
    for row in table:
        if row.verified:
            continue
        for kind in sorted({r.status for r in row.results if r.status != VERIFIED}):
            kinds.setdefault(kind, []).append(row.op)
        targets.update({r.detail.split(" (")[0] for r in row.results if r.status == UNSUPPORTED})
    lines = ["## Why the others are not verified", "", "| kind | op names | among them |", "|---|---|---|"]
    for kind, ops in sorted(kinds.items(), key=lambda kv: -len(kv[1])):
        lines.append(f"| {KINDS.get(kind, kind)} | {len(ops)} | {_cell(', '.join(ops[:8]))}{', …' if len(ops) > 8 else ''} |")
    lines += ["", "Unsupported targets, by the number of op names they block:", "",
              "| target | op names |", "|---|---|"]
    lines += [f"| {_cell(t)} | {n} |" for t, n in sorted(targets.items(), key=lambda kv: (-kv[1], kv[0]))[:30]]
    return lines


def markdown(table: Sequence[OpRow], command: str, settings: str, slowest: int = 15) -> str:
    """The coverage report: summary, why the rest fail, the slowest ops, one row per op name."""
    lines = ["# OpInfo coverage", "",
             "Every `op_db` entry of `torch.testing._internal.common_methods_invocations` with",
             "`supports_autograd`, on its float64 sample inputs: `symbolic_torch.derive` (with a random",
             "`grad_output`) against `torch.autograd.grad` computed by the coverage tool itself.",
             "An op name is verified only when every sample that could be captured matched;",
             "capture failures and size-skipped samples are listed but not counted.", "",
             f"Generated by `{command}` ({settings}).", "", summary(table), ""]
    lines += _why(table)
    lines += ["", "## Slowest ops", "", "| op | seconds | samples |", "|---|---|---|"]
    for row in sorted(table, key=lambda r: -r.seconds)[:slowest]:
        lines.append(f"| {_cell(row.op)} | {row.seconds:.1f} | {row.tried} |")
    lines += ["", "## Per op", "", "| op | samples | counted | verified | status | reasons |",
              "|---|---|---|---|---|---|"]
    for row in table:
        status = "verified" if row.verified else ("—" if row.counted == 0 else "partial" if row.verified_samples else "no")
        why = "; ".join(f"{k} ×{n}" for k, n in row.reasons() + row.notes())
        lines.append(f"| {_cell(row.op)} | {row.tried} | {row.counted} | {row.verified_samples} | {status} | "
                     f"{_cell(why)} |")
    return "\n".join(lines) + "\n"
