"""The OpInfo sweep: PyTorch's own operator samples as the yardstick of the rule table.

``python -m symbolic_torch.coverage --out docs/coverage.md --jobs 2`` runs it. ``samples``
turns an OpInfo sample into a tensor function, ``opinfo`` checks one sample against
autograd, ``sweep`` runs the entries (``pool``: in worker processes), ``report`` tables them.
"""
from __future__ import annotations

from symbolic_torch.coverage.opinfo import (ATOL, MAX_ELEMENTS, RTOL, SEED, TIME_LIMIT, SampleTimeout,
                                            autograd_reference, check_sample, compare, run_entry, run_sample,
                                            unsupported_reason)
from symbolic_torch.coverage.samples import op_callable, op_entries, sample_function, samples
from symbolic_torch.coverage.sweep import main, parser, sweep
from symbolic_torch.frontend.table import tolerance_of

__all__ = ["ATOL", "MAX_ELEMENTS", "RTOL", "SEED", "TIME_LIMIT", "SampleTimeout", "autograd_reference",
           "check_sample", "compare", "main", "op_callable", "op_entries", "parser", "run_entry", "run_sample",
           "sample_function", "samples", "sweep", "tolerance_of", "unsupported_reason"]
