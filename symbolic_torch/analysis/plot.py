"""matplotlib figures of the analyses (imported only when a plot is asked for)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from symbolic_torch.analysis.flow import GradientFlow

COLOURS = {"vanishing": "tab:blue", "exploding": "tab:red", "": "tab:gray"}


def plot_flow(flow: "GradientFlow", path: Path) -> Path:
    """‖∂L/∂θ‖ per layer as bars (log scale), flagged ones coloured, the two thresholds as lines,
    and ‖∂L/∂θ‖/‖θ‖ as a line; saved to ``path``."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    names = [f.name for f in flow.layers]
    flag = {**{n: "vanishing" for n in flow.vanishing}, **{n: "exploding" for n in flow.exploding}}
    ref = flow.reference.grad_norm
    floor = min([f.grad_norm for f in flow.layers if f.grad_norm > 0] + [ref or 1.0]) / 10
    fig, ax = plt.subplots(figsize=(max(6.0, 0.35 * len(names) + 2), 4))
    ax.bar(range(len(names)), [max(f.grad_norm, floor) for f in flow.layers],
           color=[COLOURS[flag.get(n, "")] for n in names], label="‖∂L/∂θ‖")
    ax.plot(range(len(names)), [f.ratio for f in flow.layers], "k.-", label="‖∂L/∂θ‖ / ‖θ‖")
    for key, style in (("vanishing", ":"), ("exploding", "--")):
        ax.axhline(flow.thresholds[key] * ref, color=COLOURS[key], linestyle=style,
                   label=f"{key}: {flow.thresholds[key]:g} × {flow.reference.name}")
    ax.set_yscale("log")
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7)
    ax.set_xlabel("layer (input → loss)")
    ax.set_ylabel("gradient norm")
    ax.set_title("gradient flow")
    ax.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
