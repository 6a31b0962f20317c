"""The coverage guard: every op name a committed report lists as verified must still verify.

``python -m symbolic_torch.coverage --jobs 2 --quiet --check docs/coverage.md`` runs the sweep and
exits 1 naming the op names that the report lists as verified and that no longer verify (or that
the sweep no longer has). Newly verified op names are fine: rerun with ``--out`` to record them.
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

from symbolic_torch.coverage.report import VERIFIED, OpRow

_PER_OP = "## Per op"
_PIPE = re.compile(r"(?<!\\)\|")  # a cell separator (an escaped \| belongs to the cell)


def verified_ops(report: str) -> set[str]:
    """The op names that a coverage report (``markdown``'s text) lists as verified."""
    if _PER_OP not in report:
        raise ValueError(f"not a coverage report: no '{_PER_OP}' section")
    names = set()
    for line in report.split(_PER_OP, 1)[1].splitlines():
        cells = [c.strip() for c in _PIPE.split(line)]
        if len(cells) < 8 or not line.startswith("|") or cells[1] in ("op", "---"):
            continue
        if cells[5] == VERIFIED:
            names.add(cells[1].replace(r"\|", "|"))
    return names


def lost_ops(listed: Iterable[str], table: Sequence[OpRow]) -> dict[str, str]:
    """Op names listed as verified that ``table`` does not verify, each with why."""
    by_op = {row.op: row for row in table}
    lost = {}
    for name in sorted(listed):
        row = by_op.get(name)
        if row is None:
            lost[name] = "not in the sweep"
        elif not row.verified:
            why = "; ".join(f"{k} ×{n}" for k, n in row.reasons()) or "no counted sample"
            lost[name] = f"{row.verified_samples} of {row.counted} samples verified: {why}"
    return lost


def check(report: str, table: Sequence[OpRow], selected: Iterable[str] | None = None) -> tuple[bool, str]:
    """Compare a sweep with a committed report: ``(ok, message)``.

    ``selected`` (the ``--ops`` of a partial sweep) limits the comparison to those op names.
    """
    before = verified_ops(report)
    listed = before if selected is None else before & set(selected)
    lost = lost_ops(listed, table)
    gained = sorted(row.op for row in table if row.verified and row.op not in before)
    lines = []
    if lost:
        lines.append(f"coverage guard: {len(lost)} op name(s) listed as verified no longer verify:")
        lines += [f"  {name}: {why}" for name, why in lost.items()]
    else:
        lines.append(f"coverage guard: all {len(listed)} op names listed as verified still verify")
    if gained:
        lines.append(f"newly verified (rerun with --out to record): {', '.join(gained)}")
    return not lost, "\n".join(lines)
