"""The coverage guard (``--check docs/coverage.md``) on small synthetic reports: an op name listed as
verified that stops verifying fails the check, by name; newly verified op names do not."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from symbolic_torch.coverage import guard
from symbolic_torch.coverage.report import (CAPTURE, MISMATCH, TIMEOUT, UNSUPPORTED, VERIFIED, SampleResult,
                                            markdown, rows)

sweep = importlib.import_module("symbolic_torch.coverage.sweep")  # the package re-exports its function


def report(*results: SampleResult) -> str:
    return markdown(rows(results), "python -m symbolic_torch.coverage", "test")


BEFORE = report(SampleResult("sin", "", 0, VERIFIED), SampleResult("sin", "", 1, CAPTURE),
                SampleResult("a|b", "", 0, VERIFIED),
                SampleResult("cos", "", 0, VERIFIED), SampleResult("cos", "", 1, MISMATCH, max_error=0.5),
                SampleResult("put", "", 0, UNSUPPORTED, "torch.put"))


def test_verified_ops_reads_the_per_op_table() -> None:
    assert guard.verified_ops(BEFORE) == {"sin", "a|b"}  # partial (cos) and no (put) are not verified


def test_the_committed_report_parses() -> None:
    doc = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"
    text = doc.read_text()
    listed = guard.verified_ops(text)
    assert f"**{len(listed)} of " in text  # the summary's count is the table's
    assert {"add", "cdist", "H"} <= listed and "cholesky" not in listed


def test_not_a_report_is_refused() -> None:
    with pytest.raises(ValueError, match="Per op"):
        guard.verified_ops("# something else\n| sin | 1 | 1 | 1 | verified |  |\n")


def test_a_lost_op_fails_by_name_with_its_reason() -> None:
    now = rows([SampleResult("sin", "", 0, VERIFIED), SampleResult("sin", "", 1, MISMATCH, max_error=0.25),
                SampleResult("a|b", "", 0, VERIFIED)])
    ok, message = guard.check(BEFORE, now)
    assert not ok
    assert "1 op name(s)" in message and "sin: 1 of 2 samples verified: mismatch (max error 0.25) ×1" in message
    assert "a|b:" not in message


def test_an_op_missing_from_the_sweep_is_lost() -> None:
    ok, message = guard.check(BEFORE, rows([SampleResult("sin", "", 0, VERIFIED)]))
    assert not ok and "a|b: not in the sweep" in message


def test_a_timeout_or_all_capture_failures_count_as_lost() -> None:
    now = rows([SampleResult("sin", "", 0, TIMEOUT, "20 s"), SampleResult("a|b", "", 0, CAPTURE)])
    lost = guard.lost_ops({"sin", "a|b"}, now)
    assert lost == {"a|b": "0 of 0 samples verified: CaptureError (not counted) ×1",
                    "sin": "0 of 1 samples verified: timeout (20 s) ×1"}


def test_newly_verified_ops_pass_and_are_named() -> None:
    now = rows([SampleResult(op, "", 0, VERIFIED) for op in ("sin", "a|b", "cos", "put")])
    ok, message = guard.check(BEFORE, now)
    assert ok and "all 2 op names" in message and "newly verified (rerun with --out to record): cos, put" in message


def test_a_partial_sweep_checks_only_its_ops() -> None:
    now = rows([SampleResult("sin", "", 0, VERIFIED)])
    assert guard.check(BEFORE, now, selected=["sin"])[0]
    assert not guard.check(BEFORE, now, selected=["sin", "a|b"])[0]


def test_command_line_exit_status(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    doc = tmp_path / "coverage.md"
    doc.write_text(BEFORE)
    fake = [SampleResult("sin", "", 0, VERIFIED), SampleResult("a|b", "", 0, MISMATCH, max_error=1.0)]
    monkeypatch.setattr(sweep, "sweep", lambda *a, **k: fake)
    assert sweep.main(["--quiet", "--check", str(doc)]) == 1
    assert "a|b: 0 of 1 samples verified: mismatch (max error 1) ×1" in capsys.readouterr().out
    fake[1] = SampleResult("a|b", "", 0, VERIFIED)
    assert sweep.main(["--quiet", "--check", str(doc)]) == 0


def test_command_line_on_a_real_op(tmp_path: Path) -> None:
    doc = tmp_path / "coverage.md"
    doc.write_text(BEFORE)
    assert sweep.main(["--ops", "sin", "--quiet", "--check", str(doc)]) == 0
