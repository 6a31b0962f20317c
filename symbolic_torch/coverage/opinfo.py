"""OpInfo coverage: PyTorch's own operator samples as the yardstick of the rule table.

For every ``op_db`` entry with ``supports_autograd``, each float64 sample is derived
with ``symbolic_torch.derive`` (the sample's tensors that require grad are the inputs;
everything else is closed over) and ``Derivation.gradient_values()`` is compared with
``torch.autograd.grad``, computed here on fresh copies. Run it as::

    python -m symbolic_torch.coverage --out docs/coverage.md --jobs 2
    python -m symbolic_torch.coverage --ops sin add cat --limit-samples 3

Each sample runs under a time limit; with ``--jobs N`` samples run in N worker
processes that are replaced when one hangs past its limit.
"""
from __future__ import annotations

import argparse
import math
import shlex
import signal
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import torch

from symbolic_torch.coverage.report import (CAPTURE, ERROR, MISMATCH, SKIPPED, TIMEOUT, UNSUPPORTED, VERIFIED,
                              SampleResult, markdown, rows, summary)
from symbolic_torch.frontend.registry import WITHIN, tolerance_of

RTOL, ATOL = 1e-9, 1e-10
MAX_ELEMENTS = 50_000
TIME_LIMIT = 20.0
SEED = 0


class SampleTimeout(Exception):
    """A sample ran past its time limit."""


@dataclass(frozen=True)
class _Leaf:
    """Where the k-th derive input sits in a sample's (input, args, kwargs)."""

    k: int


def op_entries(names: Sequence[str] | None = None) -> list[tuple[int, Any]]:
    """``(index in op_db, OpInfo)`` for every entry with autograd support (optionally by name)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db
    wanted = set(names) if names else None
    return [(k, op) for k, op in enumerate(op_db)
            if op.supports_autograd and (wanted is None or op.name in wanted)]


def samples(op: Any) -> list[Any]:
    """The entry's float64 samples, the same on every call (seeded)."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(op.sample_inputs("cpu", torch.float64, requires_grad=True))


def _template(value: Any, leaves: list[torch.Tensor], seen: dict[int, int]) -> Any:
    """``value`` with every tensor that requires grad replaced by a ``_Leaf``."""
    if isinstance(value, torch.Tensor):
        if not (value.requires_grad and value.is_floating_point()):
            return value
        if id(value) not in seen:
            seen[id(value)] = len(leaves)
            leaves.append(value)
        return _Leaf(seen[id(value)])
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size) and type(value) in (list, tuple):
        return type(value)(_template(v, leaves, seen) for v in value)
    if isinstance(value, dict):
        return {k: _template(v, leaves, seen) for k, v in value.items()}
    return value


def _fill(template: Any, xs: Sequence[Any]) -> Any:
    if isinstance(template, _Leaf):
        return xs[template.k]
    if isinstance(template, (list, tuple)) and type(template) in (list, tuple):
        return type(template)(_fill(v, xs) for v in template)
    if isinstance(template, dict):
        return {k: _fill(v, xs) for k, v in template.items()}
    return template


def op_callable(op: Any) -> Callable[..., Any]:
    """``op.op``, with Tensor slots such as ``Tensor.__getitem__`` called as methods (``x[i]``).

    A slot wrapper rejects fx's Proxy as ``self``; called through the object, fx records
    the operation as user code writes it (``operator.getitem``, a reflected ``+``).
    """
    f = op.op
    owner = getattr(f, "__objclass__", None)
    if type(f).__name__ in ("wrapper_descriptor", "method_descriptor") and owner is not None \
            and issubclass(torch.Tensor, owner):
        name = f.__name__
        return lambda x, *args, **kwargs: getattr(x, name)(*args, **kwargs)
    return f


def sample_function(op: Any, sample: Any) -> tuple[Callable[..., Any], list[torch.Tensor]]:
    """``(fn, leaves)``: ``fn(*leaves)`` runs the sample; other arguments are closed over.

    ``fn`` has one named parameter per leaf (fx needs a fixed signature). Tuple
    outputs are unpacked to their differentiable tensors (``out[i]`` nodes).
    """
    leaves: list[torch.Tensor] = []
    tpl = _template((sample.input, tuple(sample.args), dict(sample.kwargs)), leaves, {})
    process = sample.output_process_fn_grad
    call = op_callable(op)

    def body(*xs: Any) -> Any:
        inp, args, kwargs = _fill(tpl, xs)
        return process(call(inp, *args, **kwargs))
    with torch.no_grad():
        probe = body(*leaves)
    if isinstance(probe, torch.Tensor):
        keep = None
    elif isinstance(probe, (tuple, list)):
        keep = [i for i, t in enumerate(probe) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    else:
        raise TypeError(f"output is a {type(probe).__name__}")

    def run(*xs: Any) -> Any:
        out = body(*xs)
        return out if keep is None else tuple(out[i] for i in keep)
    params = ", ".join(f"t{k}" for k in range(len(leaves)))
    scope: dict[str, Any] = {"run": run}
    exec(f"def fn({params}):\n    return run({params})\n", scope)  # noqa: S102  (a fixed signature)
    return scope["fn"], leaves


def _as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    return (out,) if isinstance(out, torch.Tensor) else tuple(out)


def autograd_reference(fn: Callable[..., Any], leaves: Sequence[torch.Tensor],
                       grads_out: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """``torch.autograd.grad`` of ``fn`` at fresh copies of ``leaves`` (zeros where unused)."""
    xs = [x.detach().clone().requires_grad_(True) for x in leaves]
    outs = _as_tuple(fn(*xs))
    pairs = [(o, g) for o, g in zip(outs, grads_out) if o.requires_grad]
    if not pairs:
        return [torch.zeros_like(x) for x in xs]
    got = torch.autograd.grad([o for o, _ in pairs], xs, [g for _, g in pairs], allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(xs, got)]


def compare(got: Sequence[torch.Tensor], ref: Sequence[torch.Tensor], tol: Any = None) -> tuple[bool, float]:
    """All close (|Δ| ≤ atol + rtol·|ref|, NaN where autograd has NaN), and the max abs error.

    ``tol``: a rule's documented ``Tolerance``, widening atol and rtol to its own where larger.
    """
    atol, rtol = (ATOL, RTOL) if tol is None else (max(ATOL, tol.atol), max(RTOL, tol.rtol))
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
    torch.random.set_rng_state(d.run.rng_start)
    with torch.no_grad():
        outs = _as_tuple(fn(*[x.detach() for x in leaves]))
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
    import symbolic_torch as st
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
    torch.manual_seed(SEED)  # random ops (dropout) draw the same numbers in every run below
    with torch.no_grad():
        outs = _as_tuple(fn(*leaves))
    if not outs:
        return SKIPPED, "no differentiable output", None
    gs = [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in outs]
    torch.manual_seed(SEED)
    try:
        d = st.derive(fn, *[x.detach() for x in leaves], grad_output=gs if len(gs) > 1 else gs[0], verify=False)
    except st.UnsupportedOpError as e:
        return UNSUPPORTED, unsupported_reason(e), None
    except st.CaptureError:
        return CAPTURE, "", None
    torch.random.set_rng_state(d.run.rng_start)  # random ops (dropout) draw what the run drew
    try:
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
    import threading
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


def sweep(names: Sequence[str] | None = None, limit: int | None = None, time_limit: float = TIME_LIMIT,
          jobs: int = 1, max_elements: int = MAX_ELEMENTS, progress: bool = False) -> list[SampleResult]:
    """Run every selected entry: in this process (``jobs`` ≤ 1) or in a pool of workers."""
    torch.set_num_threads(1)
    if jobs > 1:
        from symbolic_torch.coverage.pool import pool_sweep
        return pool_sweep(names, limit, time_limit, jobs, max_elements, progress)
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
    p = argparse.ArgumentParser(prog="python -m symbolic_torch.coverage", description=__doc__.split("\n\n")[0])
    p.add_argument("--ops", nargs="+", metavar="NAME", help="OpInfo names to run (default: all)")
    p.add_argument("--limit-samples", type=int, default=None, metavar="N", help="first N samples per entry")
    p.add_argument("--out", type=Path, default=None, help="write the Markdown report here (e.g. docs/coverage.md)")
    p.add_argument("--jobs", type=int, default=1, help="worker processes (default 1: in this process)")
    p.add_argument("--time-limit", type=float, default=TIME_LIMIT, help="seconds per sample")
    p.add_argument("--max-elements", type=int, default=MAX_ELEMENTS, help="skip larger samples")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sweep, print the summary, write the report; exit 0."""
    args = parser().parse_args(argv)
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
