"""The OpInfo sweep: every selected entry's samples checked, in this process or in a pool of
workers, gathered into the coverage report. ``python -m symbolic_torch.coverage`` runs ``main``."""
from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from pathlib import Path
from typing import Sequence

import torch

from symbolic_torch.coverage import guard
from symbolic_torch.coverage.opinfo import MAX_ELEMENTS, TIME_LIMIT, run_entry, run_sample
from symbolic_torch.coverage.pool import Work, pool_sweep
from symbolic_torch.coverage.report import ERROR, SampleResult, markdown, rows, summary
from symbolic_torch.coverage.samples import op_entries, samples

WORK = Work(op_entries, samples, run_sample)  # what each worker of the pool runs


def sweep(names: Sequence[str] | None = None, limit: int | None = None, time_limit: float = TIME_LIMIT,
          jobs: int = 1, max_elements: int = MAX_ELEMENTS, progress: bool = False) -> list[SampleResult]:
    """Run every selected entry: in this process (``jobs`` ≤ 1) or in a pool of workers."""
    torch.set_num_threads(1)
    if jobs > 1:
        return pool_sweep(WORK, names, limit, time_limit, jobs, max_elements, progress)
    results = []
    for _, op in op_entries(names):
        try:
            for r in run_entry(op, 0, limit, time_limit, max_elements):
                results.append(r)
        except Exception as e:  # sample generation itself failed
            results.append(SampleResult(op.name, op.variant_test_name, -1, ERROR, f"samples: {type(e).__name__}: {e}"))
        if progress:
            print(f"{op.name} {op.variant_test_name}".strip(), file=sys.stderr, flush=True)
    return results


def parser() -> argparse.ArgumentParser:
    """The command line of ``python -m symbolic_torch.coverage``."""
    p = argparse.ArgumentParser(prog="python -m symbolic_torch.coverage", description="OpInfo coverage: PyTorch's own operator samples as the yardstick of the rule table.")
    p.add_argument("--ops", nargs="+", metavar="NAME", help="OpInfo names to run (default: all)")
    p.add_argument("--limit-samples", type=int, default=None, metavar="N", help="first N samples per entry")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown report here (e.g. docs/coverage.md)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: in this process)")
    p.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="seconds per sample")
    p.add_argument("--max-elements", type=int, default=MAX_ELEMENTS, help="skip larger samples")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument("--check", type=Path, default=None, metavar="REPORT",
                   help="exit 1 naming every op name REPORT (e.g. docs/coverage.md) lists as verified that no "
                        "longer verifies")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep, print the summary, write the report; exit 0 (1 when ``--check`` finds a loss)."""
    args = parser().parse_args(argv)
    baseline = args.check.read_text() if args.check is not None else None  # before --out may rewrite it
    if baseline is not None:
        guard.verified_ops(baseline)  # not a report: say so before minutes of sweeping
    t0 = time.perf_counter()
    results = sweep(args.ops, args.limit_samples, args.time_limit, args.jobs, args.max_elements, not args.quiet)
    table = rows(results)
    print(summary(table))
    if args.out is not None:
        command = "python -m symbolic_torch.coverage " + shlex.join(sys.argv[1:] if argv is None else list(argv))
        settings = (f"torch {torch.__version__}, per-sample limit {args.time_limit:g} s, samples over "
                    f"{args.max_elements} elements skipped, {args.jobs} job(s), "
                    f"{math.ceil(time.perf_counter() - t0)} s wall")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(markdown(table, command, settings))
    if baseline is not None:
        ok, message = guard.check(baseline, table, args.ops)
        print(message)
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
