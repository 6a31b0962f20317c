"""OpInfo coverage: one sample checked — derived against autograd — under a time limit.

For every ``op_db`` entry with ``supports_autograd``, each float64 sample is derived
with ``symbolic_torch.derive`` (the sample's tensors that require grad are the inputs;
everything else is closed over) and ``Derivation.gradient_values()`` is compared with
``torch.autograd.grad``, computed here on fresh copies. Run it as::

    python -m symbolic_torch.coverage --out docs/coverage.md --jobs 2
    python -m symbolic_torch.coverage --ops sin add cat --limit-samples 3

Each sample runs under a time limit (``run_sample``); ``sweep`` runs the entries, with
``--jobs N`` in N worker processes (``pool``) that are replaced when one hangs past its limit.
The tolerance is ``numeric.tolerances.OPINFO``, the reference ``numeric.reference.vjp_of``,
and every RNG state set here is put back afterwards (``numeric.rng.rng_state``).
"""
from __future__ import annotations

import signal
import threading
import time
import warnings
from typing import Any, Callable, Iterator, Sequence

import torch

from symbolic_torch.coverage.report import (CAPTURE, ERROR, MISMATCH, SKIPPED, TIMEOUT, UNSUPPORTED, VERIFIED,
                                            SampleResult)
from symbolic_torch.coverage.samples import as_tuple, sample_function, samples, seeded
from symbolic_torch.errors import CaptureError, UnsupportedOpError
from symbolic_torch.frontend.table import tolerance_of
from symbolic_torch.numeric.reference import vjp_of
from symbolic_torch.numeric.rng import rng_state
from symbolic_torch.numeric.tolerances import OPINFO, WITHIN, Tolerance
from symbolic_torch.pipeline import derive

RTOL, ATOL = OPINFO.rtol, OPINFO.atol
MAX_ELEMENTS = 50_000
TIME_LIMIT = 20.0
SEED = 0


class SampleTimeout(Exception):
    """A sample ran past its time limit."""


def autograd_reference(fn: Callable[..., Any], leaves: Sequence[torch.Tensor],
                       grads_out: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``torch.autograd.grad`` of ``fn`` at fresh copies of ``leaves`` (zeros where unused)."""
    return vjp_of(fn, leaves, grads_out)


def compare(got: Sequence[torch.Tensor], ref: Sequence[torch.Tensor],
            tol: Tolerance | None = None) -> tuple[bool, float]:
    """All close (|Δ| ≤ atol + rtol·|ref|, NaN where autograd has NaN), and the max abs error.

    ``tol``: a rule's documented ``Tolerance``, widening atol and rtol to its own where larger.
    """
    atol, rtol = OPINFO if tol is None else tol.widen(OPINFO)
    ok, worst = True, 0.0
    for a, b in zip(got, ref):
        a, b = a.detach().to(torch.float64).reshape(b.shape), b.detach().to(torch.float64)
        ok &= bool(torch.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))
        fin = torch.isfinite(a) & torch.isfinite(b)
        if a.numel():
            worst = max(worst, float(torch.where(fin, (a - b).abs(), 0.0).max()))
    return ok, worst


def _same_run(fn: Callable[..., Any], leaves: Sequence[torch.Tensor], d: Any) -> bool:
    """Does ``fn`` reproduce the derivation's recorded outputs from the same RNG state?"""
    with rng_state(d.run.rng_start), torch.no_grad():
        outs = as_tuple(fn(*[x.detach() for x in leaves]))
    recorded = [d.values[name] for name in d.outputs]
    return all(torch.allclose(a, b, equal_nan=True) for a, b in zip(outs, recorded))


def unsupported_reason(e: Exception) -> str:
    """The target of an ``UnsupportedOpError`` and, where the rule said why, its reason (short)."""
    target = getattr(e, "target", "")
    head = str(e).split(". To support it")[0]
    rest = head.split(f"no rule for target {target}", 1)[-1].strip()
    why = rest[1:-1] if rest.startswith("(") and rest.endswith(")") else ""
    return f"{target} ({why[:80]})" if why else target


def check_sample(op: Any, sample: Any, max_elements: int = MAX_ELEMENTS) -> tuple[str, str, float | None]:
    """Derive one sample and compare with autograd: ``(status, detail, max_error)``."""
    try:
        fn, leaves = sample_function(op, sample)
    except Exception as e:  # torch itself rejects the sample in real float64 (imag, view_as_real, CUDA-only ops)
        return SKIPPED, f"eager torch fails: {type(e).__name__}", None
    size = sum(t.numel() for t in leaves)
    if size > max_elements:
        return SKIPPED, f"{size} elements > {max_elements}", None
    if not leaves:
        return SKIPPED, "no tensor requires grad", None
    gen = torch.Generator().manual_seed(1)
    start = seeded(SEED)  # random ops (dropout) draw the same numbers in every run below
    with rng_state(start), torch.no_grad():
        outs = as_tuple(fn(*leaves))
    if not outs:
        return SKIPPED, "no differentiable output", None
    gs = [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in outs]
    try:
        with rng_state(start):
            d = derive(fn, *[x.detach() for x in leaves], grad_output=gs if len(gs) > 1 else gs[0], verify=False)
    except UnsupportedOpError as e:
        return UNSUPPORTED, unsupported_reason(e), None
    except CaptureError:
        return CAPTURE, "", None
    try:
        with rng_state(d.run.rng_start):  # random ops (dropout) draw what the run drew
            ref = autograd_reference(fn, leaves, gs)
    except RuntimeError as e:  # e.g. as_strided past the storage of the leaf autograd is given
        return SKIPPED, f"torch's autograd fails on the sample: {str(e)[:60]}", None
    if not _same_run(fn, leaves, d):
        # The sample reseeds its own RNG (OpInfo's wrapper_set_seed) where the captured graph
        # cannot: judge on the captured run itself, against autograd on the same draws.
        report = d.verify()  # its output rows compare with the model, which reseeds: not a criterion here
        rows = report.rows + report.step_rows
        within = next((r.note for r in rows if r.note.startswith(WITHIN)), "")
        error = max((r.max_abs_error for r in rows), default=0.0)
        return (VERIFIED, within, error) if all(r.ok for r in rows) else (MISMATCH, "", error)
    values = d.gradient_values()
    got = [values.get(f"t{k}", torch.zeros_like(x)) for k, x in enumerate(leaves)]
    ok, err = compare(got, ref)
    tol = None if ok else tolerance_of(s.op for s in d.steps)
    if tol is not None and compare(got, ref, tol)[0]:  # torch's kernel is known to be less exact here
        return VERIFIED, WITHIN + tol.reason, err
    return (VERIFIED, "", err) if ok else (MISMATCH, "", err)


def _alarm(seconds: float) -> Callable[[], None]:
    """Raise ``SampleTimeout`` after ``seconds`` (main thread only); returns the cancel."""
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        return lambda: None
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def fire(signum: int, frame: Any) -> None:
        raise SampleTimeout()
    old = signal.signal(signal.SIGALRM, fire)
    signal.setitimer(signal.ITIMER_REAL, seconds)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return cancel


def run_sample(op: Any, index: int, sample: Any, time_limit: float = TIME_LIMIT,
               max_elements: int = MAX_ELEMENTS) -> SampleResult:
    """``check_sample`` under a time limit, every exception turned into a result."""
    start = time.perf_counter()
    cancel = _alarm(time_limit)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            status, detail, err = check_sample(op, sample, max_elements)
    except SampleTimeout:
        status, detail, err = TIMEOUT, f"> {time_limit:g} s", None
    except Exception as e:  # any failure is a row of the report, not a crash of the sweep
        status, detail, err = ERROR, f"{type(e).__name__}: {str(e).splitlines()[0][:100] if str(e) else ''}", None
    finally:
        cancel()
    return SampleResult(op.name, op.variant_test_name, index, status, detail, err, time.perf_counter() - start)


def run_entry(op: Any, start: int = 0, limit: int | None = None, time_limit: float = TIME_LIMIT,
              max_elements: int = MAX_ELEMENTS) -> Iterator[SampleResult]:
    """Every sample of one OpInfo entry from ``start`` (the first ``limit`` of them)."""
    todo = samples(op)[: limit if limit is not None else None]
    for k in range(start, len(todo)):
        yield run_sample(op, k, todo[k], time_limit, max_elements)
