"""Time ``symbolic_torch.derive`` against torch.fx, TorchLens and a plain forward+backward pass.

Usage::

    python benchmarks/bench_derive.py                # 3 repeats, writes benchmarks/results.md
    python benchmarks/bench_derive.py --repeats 5 --out /tmp/results.md

Three models, all float64, loss ``CrossEntropyLoss`` with target ``tensor([1])``:
TinyCNN on 1×1×8×8, LeNet-5 on 1×1×32×32, and a narrow AlexNet-shaped model on 1×3×127×127.

Columns, per model (seconds; each one warm-up call, then the median of ``--repeats`` samples;
sub-50 ms calls are looped within a sample):

- ``fwd+bwd``: ``loss(model(x), target)`` and ``torch.autograd.grad`` for x and every parameter;
- ``fx trace``: ``torch.fx.symbolic_trace(model)``;
- ``TorchLens``: ``torchlens.trace(model, x)`` (v2 API; forward only, activations saved, no
  graph rendering);
- ``derive``: ``symbolic_torch.derive(model, x, loss=..., target=..., verify=False)``;
- ``derive+verify``: the same with ``verify=True``;
- ``verified``: ``ok`` and the max abs error of the last verification report;
- ``derive 1st``: the warm-up call of ``derive(verify=False)``, i.e. with sympy's caches cold for
  this model (for the first model it also pays one-off import and rule-table costs).

TorchLens wraps torch's functions on its first call and leaves them wrapped, which slows later
torch calls in the process (LeNet-5 forward+backward ≈1.5× slower when measured). So all TorchLens
timings run after all the others.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import gc
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any, Callable

import torch
from tabulate import tabulate
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # so that `examples` imports when run as `python benchmarks/bench_derive.py`
    sys.path.insert(0, str(ROOT))

import symbolic_torch as st  # noqa: E402
from examples.tiny_cnn import TinyCNN  # noqa: E402


# --------------------------------------------------------------------------------------------- models
def lenet5() -> nn.Module:
    """LeNet-5 for 1×1×32×32: 32 →conv5→ 28 →pool→ 14 →conv5→ 10 →pool→ 5; 16·5·5 = 400 features."""
    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )


class SmallAlexNet(nn.Module):
    """torchvision's AlexNet layer structure with narrow widths, for 1×3×127×127.

    Spatial sizes: 127 →conv11/s4/p2→ 31 →pool3/s2→ 15 →conv5/p2→ 15 →pool→ 7 →conv3/p1 ×3→ 7
    →pool→ 3 →AdaptiveAvgPool2d(pool)→ pool×pool. With the default ``pool=3`` the adaptive pool's
    windows are 1×1 (AlexNet's own 6×6 would upsample 3×3; see ``--alexnet-pool``).
    ReLUs are not in-place (torchvision's are), to keep timings comparable with earlier results;
    ``inplace=True`` derives and verifies as well (capture rewrites in-place ops out of place).
    """

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48, 32, 32), hidden: int = 128,
                 num_classes: int = 10, pool: int = 3) -> None:
        super().__init__()
        c1, c2, c3, c4, c5 = widths
        self.features = nn.Sequential(
            nn.Conv2d(3, c1, kernel_size=11, stride=4, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c1, c2, kernel_size=5, padding=2), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(c2, c3, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c3, c4, kernel_size=3, padding=1), nn.ReLU(),
            nn.Conv2d(c4, c5, kernel_size=3, padding=1), nn.ReLU(),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            nn.Dropout(p=0.5), nn.Linear(c5 * pool * pool, hidden), nn.ReLU(),
            nn.Dropout(p=0.5), nn.Linear(hidden, hidden), nn.ReLU(),
            nn.Linear(hidden, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


def build_models(alexnet_pool: int) -> list[tuple[str, nn.Module, torch.Tensor]]:
    torch.manual_seed(0)
    specs = [
        ("TinyCNN", TinyCNN(), (1, 1, 8, 8)),
        ("LeNet-5", lenet5(), (1, 1, 32, 32)),
        (f"AlexNet-shaped (pool {alexnet_pool})", SmallAlexNet(pool=alexnet_pool), (1, 3, 127, 127)),
    ]
    out = []
    for name, model, shape in specs:
        model = model.double().eval()
        x = torch.randn(*shape, dtype=torch.float64)
        with torch.no_grad():
            y = model(x)  # fails here, not mid-benchmark, if a shape does not work out
        assert y.shape == (1, 10), (name, y.shape)
        out.append((name, model, x))
    return out


# ----------------------------------------------------------------------------------------- timing
def time_it(fn: Callable[[], Any], repeats: int, min_sample: float = 0.05) -> tuple[float, float]:
    """(first call, median over ``repeats`` samples of the time per call), seconds.

    The first call is the warm-up. A call shorter than ``min_sample`` is timed in a loop of k calls
    per sample (k = 1, 2, 5, 10, … as ``timeit`` picks it), so sub-millisecond timings are not
    dominated by timer and scheduling noise.
    """
    gc.collect()
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    number = 1
    if first < min_sample:
        for number in (n * m for m in (1, 10, 100, 1000, 10000) for n in (1, 2, 5)):
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            if time.perf_counter() - t0 >= min_sample:
                break
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        times.append((time.perf_counter() - t0) / number)
    return first, statistics.median(times)


def progress(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def short_error(e: BaseException, limit: int = 120) -> str:
    msg = " ".join(str(e).split())
    text = f"{type(e).__name__}: {msg}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bench_model(name: str, model: nn.Module, x: torch.Tensor, repeats: int) -> dict[str, Any]:
    loss_fn = nn.CrossEntropyLoss()
    target = torch.tensor([1])
    params = [p for p in model.parameters() if p.requires_grad]
    res: dict[str, Any] = {"model": name, "input": "×".join(map(str, x.shape)),
                           "params": sum(p.numel() for p in params)}

    def fwd_bwd() -> None:
        xi = x.clone().requires_grad_(True)
        loss = loss_fn(model(xi), target)
        torch.autograd.grad(loss, [xi, *params])

    def fx_trace() -> None:
        torch.fx.symbolic_trace(model)

    last: dict[str, Any] = {}

    def derive(verify: bool) -> Callable[[], Any]:
        def run() -> None:
            last["d"] = st.derive(model, x, loss=loss_fn, target=target, verify=verify)
        return run

    for key, fn in [("fwd+bwd", fwd_bwd), ("fx trace", fx_trace),
                    ("derive", derive(False)), ("derive+verify", derive(True))]:
        progress(f"  {name}: {key} …")
        try:
            first, med = time_it(fn, repeats)
        except Exception as e:  # noqa: BLE001 - a failing step is a result, not a crash
            traceback.print_exc(file=sys.stderr)
            res[key] = short_error(e)
            continue
        res[key] = med
        if key == "derive":
            res["derive 1st"] = first
        if key == "derive+verify":
            rep = last["d"].report
            res["verified"] = (f"ok ({rep.max_abs_error:.1e})" if rep.ok
                               else f"FAILED {len(rep.failures)} checks ({rep.max_abs_error:.1e})")
        progress(f"  {name}: {key}: median {med:.4f} s (first call {first:.4f} s)")
    return res


def bench_torchlens(name: str, model: nn.Module, x: torch.Tensor, repeats: int, res: dict[str, Any]) -> None:
    progress(f"  {name}: TorchLens …")
    try:
        import torchlens as tl

        # v2 API: tl.trace (log_forward_pass was the pre-2.0 name). Forward pass only; saves every
        # layer's activation (the default), draws nothing, prints nothing (verbose defaults off).
        first, med = time_it(lambda: tl.trace(model, x), repeats)
    except Exception as e:  # noqa: BLE001
        traceback.print_exc(file=sys.stderr)
        res["TorchLens"] = short_error(e)
        return
    res["TorchLens"] = med
    progress(f"  {name}: TorchLens: median {med:.4f} s (first call {first:.4f} s)")


# ---------------------------------------------------------------------------------------- report
LOAD_AT_START = "?"
COLUMNS = ["model", "input", "params", "fwd+bwd", "fx trace", "TorchLens", "derive", "derive+verify",
           "derive 1st", "verified", "derive / fx", "derive / TorchLens", "derive+verify / TorchLens"]


def ratio(a: Any, b: Any) -> str:
    if isinstance(a, float) and isinstance(b, float) and b > 0:
        return f"{a / b:,.0f}×" if a / b >= 100 else f"{a / b:.1f}×"
    return "n/a"


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if v < 10 else f"{v:.1f}"
    return str(v)


def table_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    rows = []
    for r in results:
        r = dict(r)
        r["derive / fx"] = ratio(r.get("derive"), r.get("fx trace"))
        r["derive / TorchLens"] = ratio(r.get("derive"), r.get("TorchLens"))
        r["derive+verify / TorchLens"] = ratio(r.get("derive+verify"), r.get("TorchLens"))
        rows.append([fmt(r.get(c, "n/a")) for c in COLUMNS])
    return rows


def source_revision() -> str:
    """Where symbolic_torch was imported from, and the git commit of that checkout (+ dirty mark)."""
    where = Path(st.__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, check=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where.parent), "status", "--porcelain", "--", "symbolic_torch", "rules"],
                               capture_output=True, text=True, check=True, timeout=10).stdout.strip()
        rev += " (uncommitted changes in symbolic_torch/ or rules/)" if dirty else ""
    except (OSError, subprocess.SubprocessError):
        rev = "not a git checkout"
    return f"{where} @ {rev}"


def environment() -> dict[str, str]:
    try:
        import torchlens as tl
        tl_version = getattr(tl, "__version__", "?")
    except Exception as e:  # noqa: BLE001
        tl_version = f"not importable ({type(e).__name__})"
    import sympy
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    return {
        "date": _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "torch": torch.__version__,
        "sympy": sympy.__version__,
        "torchlens": tl_version,
        "symbolic_torch": f"{st.__version__} from {source_revision()}",
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {os.cpu_count()} logical cores ({usable} usable)",
        "torch threads": str(torch.get_num_threads()),
        "processor": platform.processor() or platform.platform(),
        "load average at start": LOAD_AT_START,
    }


def write_markdown(path: Path, env: dict[str, str], rows: list[list[str]], repeats: int,
                   command: str) -> None:
    lines = [
        "# symbolic_torch.derive benchmark",
        "",
        f"Generated by `{command}`.",
        "",
        *[f"- **{k}**: {v}" for k, v in env.items()],
        f"- **repeats**: {repeats} (after one warm-up call; values are medians, in seconds)",
        "",
        tabulate(rows, headers=COLUMNS, tablefmt="github", disable_numparse=True),
        "",
        "Columns: `fwd+bwd` = plain torch forward, loss and `torch.autograd.grad` for the input and all "
        "parameters; `fx trace` = `torch.fx.symbolic_trace(model)`; `TorchLens` = `torchlens.trace(model, x)` "
        "(forward only, every activation saved, no rendering); `derive` = `symbolic_torch.derive(..., "
        "verify=False)` (capture, lowering, sympy differentiation, delta elimination, and numeric "
        "evaluation of every derived gradient); `derive+verify` = the same plus the check of every "
        "formula against autograd; `derive 1st` = the warm-up call of `derive`, with sympy's caches cold "
        "for that model; `verified` = the report of the last `derive+verify` call (max abs error "
        "over all checks). All models float64, `CrossEntropyLoss`, target `tensor([1])`.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per measurement (median; default 3)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results.md",
                    help="Markdown results file (default benchmarks/results.md)")
    ap.add_argument("--alexnet-pool", type=int, default=3,
                    help="AdaptiveAvgPool2d output size of the AlexNet-shaped model (default 3; AlexNet uses 6)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: on a small shared machine more threads make "
                         "the millisecond timings noisy; 0 keeps torch's default)")
    ap.add_argument("--note", default="", help="a line of text to put in the results file")
    ap.add_argument("--no-torchlens", action="store_true", help="skip the TorchLens column")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        ap.error("--repeats must be at least 1")

    global LOAD_AT_START
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    LOAD_AT_START = " / ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1/5/15 min; other processes on the machine skew timings)"
    t_start = time.perf_counter()
    models = build_models(args.alexnet_pool)
    results = []
    for name, model, x in models:
        progress(f"[{name}] input {tuple(x.shape)}")
        results.append(bench_model(name, model, x, args.repeats))
    # TorchLens last: it leaves torch's functions wrapped after its first call.
    for (name, model, x), res in zip(models, results):
        if args.no_torchlens:
            res["TorchLens"] = "skipped"
        else:
            bench_torchlens(name, model, x, args.repeats, res)

    env = environment()
    rows = table_rows(results)
    print()
    for k, v in env.items():
        print(f"{k}: {v}")
    print(f"repeats: {args.repeats} (medians, seconds)")
    print(tabulate(rows, headers=COLUMNS, disable_numparse=True))
    command = shlex.join(["python", "benchmarks/bench_derive.py", *(argv if argv is not None else sys.argv[1:])])
    if args.note:
        env["note"] = args.note
    write_markdown(args.out, env, rows, args.repeats, command)
    print(f"\nwrote {args.out}  (total {time.perf_counter() - t_start:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
