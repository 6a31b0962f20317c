"""The results of ``bench_scale.py``: Markdown tables with ratios, and the two plots."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
from pathlib import Path
from typing import Any

from tabulate import tabulate

TOOLS = ("fwd+bwd", "TorchLens", "derive", "derive+verify")


def _cell(results: list[dict[str, Any]], kind: str, n: int, tool: str) -> dict[str, Any]:
    return next((r for r in results if r["kind"] == kind and r["n"] == n and r["tool"] == tool), {})


def seconds(r: dict[str, Any], which: str = "first") -> float | None:
    """The cell's time (first call, warm call, or for derive the formulas + gradients of that call)."""
    return r.get(which) if isinstance(r.get(which), (int, float)) else None


def _show(r: dict[str, Any], which: str = "first") -> str:
    if "timeout" in r:
        return f"> {r['timeout']:.0f} (stopped)" if which == "first" else "—"
    if "error" in r:
        return "error: " + r["error"][:60]
    v = seconds(r, which)
    return "—" if v is None else (f"{v:.3g}" if v < 10 else f"{v:.0f}")


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "—"


def table(results: list[dict[str, Any]], kind: str, ns: list[int], label: str) -> str:
    """One row per size or depth: first and warm call of each tool, peak RSS, and the ratios."""
    rows = []
    for n in ns:
        c = {t: _cell(results, kind, n, t) for t in TOOLS}
        dv, tl = c["derive+verify"], c["TorchLens"]
        info = c["derive"].get("first_info", {})
        vinfo = dv.get("first_info", {})
        verified = ("ok" if vinfo.get("ok") else "FAILED") + f" ({vinfo['max_abs_error']:.1e})" if vinfo else "—"
        rss = max((r.get("rss_gib", 0) for r in c.values()), default=0)
        rows.append([n, info.get("steps", "—"), _show(c["fwd+bwd"]), _show(tl), _show(tl, "warm"),
                     _show(c["derive"]), _show(c["derive"], "warm"),
                     _fmt(info.get("formulas_s")), _show(dv), _show(dv, "warm"), verified,
                     " / ".join(_fmt_gib(r.get("rss_gib")) for r in (c["derive"], dv)) if rss else "—",
                     _ratio(seconds(dv), seconds(tl)), _ratio(seconds(dv, "warm"), seconds(tl, "warm"))])
    head = [label, "steps", "fwd+bwd", "TorchLens 1st", "TorchLens warm", "derive+grads 1st",
            "derive+grads warm", "of which formulas (1st)", "derive+verify 1st", "derive+verify warm",
            "verified (max abs err)", "peak RSS GiB (derive / +verify)", "verify/TL 1st", "verify/TL warm"]
    return tabulate(rows, headers=head, tablefmt="github")


def _fmt_gib(v: Any) -> str:
    return f"{v:.2f}" if isinstance(v, (int, float)) else "—"


def _fmt(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, (int, float)) else "—"


def growth(results: list[dict[str, Any]], kind: str, ns: list[int], tool: str, which: str) -> str:
    """time(largest) / time(smallest) for ``tool`` (``which`` "formulas": derive's formulas alone)."""
    if len(ns) < 2:
        return "—"
    if which == "formulas":
        f = [_cell(results, kind, n, "derive").get("first_info", {}).get("formulas_s") for n in (ns[-1], ns[0])]
        return _ratio(*f)
    return _ratio(seconds(_cell(results, kind, ns[-1], tool), which), seconds(_cell(results, kind, ns[0], tool), which))


def plot(results: list[dict[str, Any]], kind: str, ns: list[int], path: Path, xlabel: str, title: str) -> None:
    """Time against size or depth, log scale, one line per tool (first call solid, warm dashed)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for tool, color in zip(TOOLS, ("tab:gray", "tab:orange", "tab:blue", "tab:green")):
        for which, style in (("first", "-o"), ("warm", "--^")):
            pts = [(n, seconds(_cell(results, kind, n, tool), which)) for n in ns]
            pts = [(n, v) for n, v in pts if v is not None]
            if pts:
                ax.plot(*zip(*pts), style, color=color, label=f"{tool} ({'first call' if which == 'first' else 'warm'})")
        stopped = [n for n in ns if "timeout" in _cell(results, kind, n, tool)]
        for n in stopped:
            t = _cell(results, kind, n, tool)["timeout"]
            ax.plot([n], [t], "x", color=color, markersize=10)
            ax.annotate("stopped", (n, t), textcoords="offset points", xytext=(4, 4), fontsize=7, color=color)
    formulas = [(n, _cell(results, kind, n, "derive").get("first_info", {}).get("formulas_s")) for n in ns]
    formulas = [(n, v) for n, v in formulas if v is not None]
    if formulas:  # derive(verify=False) alone: the symbolic work, numbers left lazy
        ax.plot(*zip(*formulas), ":s", color="tab:blue", label="derive, formulas only (first call)")
    ax.set_yscale("log")
    ax.set_xticks(ns)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("seconds (one torch thread)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _context() -> str:
    root = Path(__file__).resolve().parents[1]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root).stdout.strip()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{_dt.datetime.now():%Y-%m-%d %H:%M}, commit {commit or '?'}, {platform.python_version()}, "
            f"{os.cpu_count()} cores, load average at the end {load}")


def write_all(results: list[dict[str, Any]], args: Any) -> None:
    """``results_scale.md`` and the plots."""
    parts = [f"# Scale benchmark (`python benchmarks/bench_scale.py {' '.join(args.argv)}`)", "",
             _context(), "", "Seconds; each cell its own process, one torch thread. `1st` is the first call in a "
             "fresh process (sympy derives every formula), `warm` the second call in that process (formulas "
             "cached). `derive+grads` is `derive(verify=False)` plus `gradient_values()`.", ""]
    if args.only in (None, "size"):
        parts += ["## Input size: ResNet-18-shaped (width 64, 1000 classes), 1×3×S×S, float32", "",
                  table(results, "resnet", args.sizes, "S"), "",
                  f"Growth {args.sizes[0]} → {args.sizes[-1]} px (first call / warm): "
                  + "; ".join(f"{t} {growth(results, 'resnet', args.sizes, t, 'first')} / "
                              f"{growth(results, 'resnet', args.sizes, t, 'warm')}" for t in TOOLS)
                  + f"; derive's formulas alone (first call) {growth(results, 'resnet', args.sizes, 'derive', 'formulas')}", ""]
        plot(results, "resnet", args.sizes, args.plots / f"scale_size{args.suffix}.png", "input side S (1×3×S×S)",
             "ResNet-18-shaped: time against input size")
    if args.only in (None, "depth"):
        heads = 12 if args.gpt_width % 12 == 0 else 1
        parts += [f"## Depth: GPT-2-shaped stacks (width {args.gpt_width}, {heads} heads, sequence {args.gpt_seq}), "
                  "float32", "",
                  table(results, "gpt", args.depths, "blocks"), "",
                  f"Growth {args.depths[0]} → {args.depths[-1]} blocks (first call / warm): "
                  + "; ".join(f"{t} {growth(results, 'gpt', args.depths, t, 'first')} / "
                              f"{growth(results, 'gpt', args.depths, t, 'warm')}" for t in TOOLS)
                  + f"; derive's formulas alone (first call) {growth(results, 'gpt', args.depths, 'derive', 'formulas')}", ""]
        plot(results, "gpt", args.depths, args.plots / f"scale_depth{args.suffix}.png", "identical blocks",
             f"GPT-2-shaped stack (width {args.gpt_width}, seq {args.gpt_seq}): time against depth")
    w = next((r for r in results if r["kind"] == "worked"), None)
    if w is not None:
        parts += ["## Worked element: Conv2d(256, 8, 3) with bias, 2,305 terms", ""]
        parts += ([f"`step.at(position)` after one warm-up, 20 fresh positions: median {w['median'] * 1e3:.1f} ms, "
                   f"max {w['max'] * 1e3:.1f} ms; value against the run's output: max relative error "
                   f"{w['max_rel_error_vs_run']:.1e}; LaTeX {w['latex_chars']} characters (truncated sum)."]
                  if "median" in w else [f"failed: {w}"]) + [""]
    args.out.write_text("\n".join(parts))
