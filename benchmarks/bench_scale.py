"""Scale benchmark (issue 10): time against input size, against depth, and one long worked element.

Usage::

    python benchmarks/bench_scale.py            # full: ResNet-18 at 56/112/224 px, GPT-2 stacks of 1/2/4/12
    python benchmarks/bench_scale.py --quick    # short: 56/112 px, depths 1/2 (a few minutes)
    python benchmarks/bench_scale.py --timeout 300 --only size

Every cell (one model, one size or depth, one tool) runs in its own Python process
(``--worker``), with one torch thread, and reports its first call, its warm (second) call
and the process's peak RSS. Ratios are taken between cells of the same run. Tools:

- ``fwd+bwd``: ``loss(model(x), target)`` and ``torch.autograd.grad`` for x and every parameter;
- ``TorchLens``: ``torchlens.trace(model, x)`` (forward only, every activation saved);
- ``derive``: ``symbolic_torch.derive(..., verify=False)`` — capture, lowering and every gradient
  formula derived; numbers stay lazy — then ``gradient_values()`` (every formula evaluated:
  column ``derive+grads``);
- ``derive+verify``: ``derive(...)`` with verification (every forward and gradient formula
  evaluated and compared with autograd).

Models: ResNet-18-shaped (``examples.resnet.ResNet18(width=64, classes=1000)``, eval, float32,
``CrossEntropyLoss``) on 1×3×S×S; GPT-2-small-shaped stacks (``examples.gpt2_stack.GPT2Stack``:
width 768, 12 heads, sequence 128, float32, ``MSELoss`` against a fixed target) of N blocks;
the worked element is ``Conv2d(256, 8, 3)`` with bias (2,304 products + bias = 2,305 terms),
``step.at(position)`` at fresh positions after one warm-up call, its value checked against the
run's output. Writes ``benchmarks/results_scale.md`` (+ ``.json``) and ``docs/scale_size.png``,
``docs/scale_depth.png``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("fwd+bwd", "TorchLens", "derive", "derive+verify")
WORKED_TERMS = 2305


# ------------------------------------------------------------------------------------ the worker
def _build(kind: str, n: int) -> tuple[Any, Any, Any, Any]:
    """(model, x, loss, target) for ``kind`` "resnet" (n = pixels per side) or "gpt" (n = blocks)."""
    import torch
    torch.manual_seed(0)
    if kind == "resnet":
        from examples.resnet import ResNet18
        return (ResNet18(width=64, classes=1000).eval(), torch.randn(1, 3, n, n),
                torch.nn.CrossEntropyLoss(), torch.tensor([1]))
    from examples.gpt2_stack import GPT2Stack
    width, seq = int(os.environ.get("BENCH_GPT_WIDTH", 768)), int(os.environ.get("BENCH_GPT_SEQ", 128))
    heads = 12 if width % 12 == 0 else 1
    return (GPT2Stack(n, width, heads).eval(), torch.randn(1, seq, width), torch.nn.MSELoss(),
            torch.randn(1, seq, width))


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _tool(tool: str, model: Any, x: Any, loss: Any, target: Any) -> Callable[[], dict[str, Any]]:
    """One call of ``tool``, returning what it measured besides its total time."""
    import torch
    import symbolic_torch as st
    if tool == "fwd+bwd":
        params = [p for p in model.parameters() if p.requires_grad]

        def fwd_bwd() -> dict[str, Any]:
            xi = x.clone().requires_grad_(True)
            torch.autograd.grad(loss(model(xi), target), [xi, *params])
            return {}
        return fwd_bwd
    if tool == "TorchLens":
        import torchlens as tl
        return lambda: (tl.trace(model, x), {})[1]

    def derive() -> dict[str, Any]:
        verify = tool == "derive+verify"
        t, d = _timed(lambda: st.derive(model, x, loss=loss, target=target, verify=verify, progress=False))
        if verify:
            return {"steps": len(d.steps), "ok": d.report.ok, "max_abs_error": d.report.max_abs_error,
                    "checks": len(d.report.all_rows)}
        print(json.dumps({"partial": {"steps": len(d.steps), "formulas_s": t}}), flush=True)  # kept on a timeout
        tg, _ = _timed(d.gradient_values)
        return {"steps": len(d.steps), "formulas_s": t, "grads_s": tg}
    return derive


def worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one cell in this process: first call, then (if the first was short enough) a warm call."""
    import torch
    torch.set_num_threads(1)
    if spec["kind"] == "worked":
        return _worked()
    model, x, loss, target = _build(spec["kind"], spec["n"])
    fn = _tool(spec["tool"], model, x, loss, target)
    first, info = _timed(fn)
    out: dict[str, Any] = {"first": first, "first_info": info}
    if first <= spec.get("warm_limit", 60):
        out["warm"], out["warm_info"] = _timed(fn)
    out["rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return out


def _worked(positions: int = 20) -> dict[str, Any]:
    """``step.at`` on a 2,305-term convolution sum: one warm-up, then fresh positions."""
    import statistics
    import torch
    import symbolic_torch as st
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(256, 8, 3, bias=True))
    d = st.derive(model, torch.randn(1, 256, 8, 8), verify=False, progress=False)
    step, run = d.steps[0], d.values[d.steps[0].output]
    step.at((0, 0, 0, 0))
    times, worst = [], 0.0
    for k in range(positions):
        pos = (0, k % 8, (k // 8) % 6, (3 * k) % 6)
        t, e = _timed(lambda: step.at(pos))
        times.append(t)
        assert e.terms == WORKED_TERMS, e.terms
        worst = max(worst, abs(e.value - float(run[pos])) / max(1.0, abs(float(run[pos]))))
    return {"median": statistics.median(times), "max": max(times), "terms": WORKED_TERMS,
            "max_rel_error_vs_run": worst, "latex_chars": len(e.latex)}


# -------------------------------------------------------------------------------- the conductor
def run_cell(spec: dict[str, Any], timeout: float) -> dict[str, Any]:
    """``spec`` in a fresh process (``--worker``); a timeout or a crash is a result, not an error."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", json.dumps(spec)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "SYMBOLIC_TORCH_PROGRESS": "0",
           "BENCH_GPT_WIDTH": str(spec.get("width", 768)), "BENCH_GPT_SEQ": str(spec.get("seq", 128))}
    t0 = time.perf_counter()
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT, env=env)
    except subprocess.TimeoutExpired as stopped:
        return {"timeout": timeout, **_partial(stopped.stdout)}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("{") and '"partial"' not in ln]
    if p.returncode != 0 or not lines:
        return {"error": (p.stderr.strip().splitlines() or ["?"])[-1][:200], "wall": time.perf_counter() - t0}
    return json.loads(lines[-1])


def _partial(out: str | bytes | None) -> dict[str, Any]:
    """What a stopped cell had measured: its last ``partial`` line (derive's formulas), if any."""
    text = out.decode() if isinstance(out, bytes) else (out or "")
    found = [json.loads(ln)["partial"] for ln in text.splitlines() if ln.startswith('{"partial"')]
    return {"first_info": found[-1]} if found else {}


def cells(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every cell of this run, in order (TorchLens last per group: it leaves torch wrapped, but
    each cell has its own process anyway)."""
    specs: list[dict[str, Any]] = []
    if args.only in (None, "size"):
        specs += [{"kind": "resnet", "n": s, "tool": t} for s in args.sizes for t in TOOLS]
    if args.only in (None, "depth"):
        specs += [{"kind": "gpt", "n": n, "tool": t} for n in args.depths for t in TOOLS]
    if args.only in (None, "worked"):
        specs.append({"kind": "worked", "n": 0, "tool": "step.at"})
    for s in specs:
        s.update(warm_limit=args.warm_limit, width=args.gpt_width, seq=args.gpt_seq)
    return specs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="56/112 px and depths 1/2 only")
    p.add_argument("--sizes", type=int, nargs="*", default=None)
    p.add_argument("--depths", type=int, nargs="*", default=None)
    p.add_argument("--only", choices=["size", "depth", "worked"], default=None)
    p.add_argument("--timeout", type=float, default=900.0, help="seconds per cell (its own process)")
    p.add_argument("--warm-limit", type=float, default=60.0, help="no warm call after a first call longer than this")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results_scale.md")
    p.add_argument("--plots", type=Path, default=ROOT / "docs", help="folder for scale_size.png, scale_depth.png")
    p.add_argument("--gpt-width", type=int, default=768, help="the stacks' width (12 heads where it divides)")
    p.add_argument("--gpt-seq", type=int, default=128, help="the stacks' sequence length")
    p.add_argument("--suffix", default="", help="added to the plots' names (scale_size<suffix>.png)")
    p.add_argument("--from-json", type=Path, nargs="*", default=None,
                   help="write the report and plots from these results files (of earlier runs), running nothing")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0
    args.sizes = args.sizes or ([56, 112] if args.quick else [56, 112, 224])
    args.depths = args.depths or ([1, 2] if args.quick else [1, 2, 4, 12])
    from scale_report import write_all  # beside this file
    if args.from_json:
        write_all([r for f in args.from_json for r in json.loads(f.read_text())], args)
        return 0
    results = []
    for spec in cells(args):
        print(f"{spec['kind']} {spec['n']} {spec['tool']} …", file=sys.stderr, flush=True)
        res = run_cell(spec, args.timeout)
        print(f"  {json.dumps(res)}", file=sys.stderr, flush=True)
        results.append({**spec, **res})
        args.out.with_suffix(".json").write_text(json.dumps(results, indent=1))  # partial results survive
    write_all(results, args)
    return 0


if __name__ == "__main__":
    sys.path[:0] = [str(ROOT), str(Path(__file__).resolve().parent)]  # this checkout's symbolic_torch, examples
    raise SystemExit(main())
