"""The OpInfo coverage tool: a fixed subset verifies in-process; the full sweep is opt-in."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import torch

pytest.importorskip("expecttest")  # op_db needs it (the [dev] extra)

from symbolic_torch import coverage  # noqa: E402
from symbolic_torch.coverage.report import (CAPTURE, MISMATCH, UNSUPPORTED, VERIFIED, SampleResult,  # noqa: E402
                                            markdown, rows, summary)

SUBSET = ["add", "mul", "sub", "sin", "exp", "abs", "sum", "mean", "cat", "reshape", "permute",
          "nn.functional.relu", "softmax", "matmul", "nn.functional.linear"]


def test_subset_verifies_in_process() -> None:
    start = time.perf_counter()
    results = coverage.sweep(SUBSET, limit=4, time_limit=20)
    table = rows(results)
    assert [r.op for r in table] == sorted(SUBSET)
    bad = {r.op: r.reasons() for r in table if not r.verified}
    assert not bad, bad
    assert time.perf_counter() - start < 60


FULL = pytest.mark.skipif(os.environ.get("SYMBOLIC_TORCH_FULL_COVERAGE") != "1",
                          reason="slow (spawns workers that import op_db): set SYMBOLIC_TORCH_FULL_COVERAGE=1")


@pytest.mark.slow
@FULL
def test_worker_pool_gives_the_same_rows() -> None:
    results = coverage.sweep(["sin", "cat"], limit=3, jobs=2)
    table = rows(results)
    assert [(r.op, r.tried, r.verified) for r in table] == [("cat", 3, True), ("sin", 1, True)]


def test_tensors_inside_lists_become_inputs() -> None:
    (_, op), = [e for e in coverage.op_entries(["cat"]) if e[1].variant_test_name == ""]
    sample = coverage.samples(op)[0]
    fn, leaves = coverage.sample_function(op, sample)
    assert len(leaves) == len(sample.input) and all(isinstance(t, torch.Tensor) for t in leaves)
    assert fn(*leaves).shape == op.op(sample.input, *sample.args, **sample.kwargs).shape


def test_compare_tolerates_rounding_and_flags_errors() -> None:
    ref = [torch.tensor([1.0, float("nan"), 1e6], dtype=torch.float64)]
    ok, err = coverage.compare([ref[0] * (1 + 1e-12)], ref)
    assert ok and err < 1e-5
    ok, err = coverage.compare([ref[0] + 1e-3], ref)
    assert not ok and err == pytest.approx(1e-3)


def test_a_rule_tolerance_verifies_the_sample_and_the_report_says_why() -> None:
    """hardsigmoid: torch's backward uses float32(1/6); the sample verifies, noting the rule's tolerance."""
    ((_, op),) = coverage.op_entries(["nn.functional.hardsigmoid"])
    results = [coverage.run_sample(op, k, s) for k, s in enumerate(coverage.samples(op))]
    assert all(r.status == VERIFIED for r in results)
    noted = [r for r in results if r.detail]
    assert noted and all(r.detail.startswith("within the rule's tolerance: hardsigmoid: ") for r in noted)
    assert noted[0].max_error > coverage.ATOL  # the gap the tolerance passes is real
    ref, tol = [torch.tensor([6.0, 1.0], dtype=torch.float64)], coverage.tolerance_of(["hardsigmoid"])
    assert not coverage.compare([ref[0] * (1 + 3e-8)], ref)[0]
    assert coverage.compare([ref[0] * (1 + 3e-8)], ref, tol)[0]
    assert not coverage.compare([ref[0] * (1 + 1e-6)], ref, tol)[0]
    text = markdown(rows(results), "python -m symbolic_torch.coverage", "test")
    assert "| verified | within the rule's tolerance: hardsigmoid: " in text


def test_report_counts_and_reasons() -> None:
    results = [SampleResult("a", "", 0, VERIFIED), SampleResult("a", "", 1, CAPTURE),
               SampleResult("b", "", 0, VERIFIED), SampleResult("b", "", 1, MISMATCH, max_error=0.5),
               SampleResult("c", "", 0, UNSUPPORTED, "torch.foo"), SampleResult("c", "", 1, UNSUPPORTED, "torch.foo")]
    table = rows(results)
    assert [(r.op, r.tried, r.counted, r.verified) for r in table] == \
        [("a", 2, 1, True), ("b", 2, 2, False), ("c", 2, 2, False)]
    assert table[1].reasons() == [("mismatch (max error 0.5)", 1)]
    assert table[2].reasons() == [("unsupported torch.foo", 2)]
    assert summary(table).startswith("**1 of 3 op names fully verified**")
    text = markdown(table, "python -m symbolic_torch.coverage", "test")
    assert "| c | 2 | 2 | 0 | no | unsupported torch.foo ×2 |" in text


def test_command_line_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "coverage.md"
    assert coverage.main(["--ops", "sin", "--out", str(out), "--quiet"]) == 0
    text = out.read_text()
    assert "**1 of 1 op names fully verified**" in text and "--ops sin" in text


@pytest.mark.slow
@FULL
def test_full_sweep_keeps_its_count() -> None:
    """Every op name that docs/coverage.md lists as verified still verifies."""
    import re
    doc = Path(__file__).resolve().parents[2] / "docs" / "coverage.md"
    listed = re.findall(r"^\| (\S+) \| \d+ \| \d+ \| \d+ \| verified \|", doc.read_text(), flags=re.M)
    table = rows(coverage.sweep(listed, jobs=max(1, (os.cpu_count() or 2))))
    lost = {r.op: r.reasons() for r in table if not r.verified}
    assert not lost, lost


def test_unsupported_reason_keeps_the_rule_s_explanation() -> None:
    from symbolic_torch.errors import UnsupportedOpError
    assert coverage.unsupported_reason(UnsupportedOpError("n", "torch.put", "it computes")) == "torch.put (it computes)"
    assert coverage.unsupported_reason(UnsupportedOpError("n", "torch.svd")) == "torch.svd"


def test_samples_torch_rejects_in_float64_are_skipped() -> None:
    """imag has no real float64 sample: skipped and not counted, not an error."""
    (row,) = rows(coverage.sweep(["imag"], limit=1))
    assert row.counted == 0 and row.results[0].status == "skipped"


def test_the_sweep_leaves_the_rng_where_it_was() -> None:
    """Samples are drawn seeded and dropout is replayed, but the caller's generator is untouched."""
    ((_, op),) = [e for e in coverage.op_entries(["nn.functional.dropout"]) if e[1].variant_test_name == ""]
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    first = coverage.samples(op)[:2]
    results = [coverage.run_sample(op, k, s) for k, s in enumerate(first)]
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(r.status == VERIFIED for r in results), results
    again = coverage.samples(op)[:2]  # the same samples on every call
    assert all(torch.equal(a.input, b.input) for a, b in zip(first, again))


def test_tolerance_and_reference_are_the_numeric_ones() -> None:
    from symbolic_torch.numeric.tolerances import OPINFO
    assert (coverage.ATOL, coverage.RTOL) == (OPINFO.atol, OPINFO.rtol)
    x = torch.tensor([0.5, -2.0], dtype=torch.float64)
    (g,) = coverage.autograd_reference(lambda t: t ** 3, [x], [torch.ones(2, dtype=torch.float64)])
    assert torch.allclose(g, 3 * x ** 2) and not x.requires_grad
    (unused,) = coverage.autograd_reference(lambda t: torch.ones(2, dtype=torch.float64, requires_grad=True), [x],
                                            [torch.ones(2, dtype=torch.float64)])
    assert torch.equal(unused, torch.zeros(2, dtype=torch.float64))
