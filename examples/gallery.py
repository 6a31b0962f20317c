"""The gallery: every teaching example as a PDF handout and a Beamer deck, plus the teaching CNN's
three SGD iterations as a training walkthrough, all written to one folder.

    python -m examples.gallery                 # writes paper_output/ (about 3 minutes on 2 cores)
    python -m examples.gallery --out /tmp/g --only mlp tiny_cnn

Each derivation is verified against autograd before anything is written (a failed check stops
the build, naming the example), and the walkthrough against torch.optim.SGD.
"""
from __future__ import annotations

import argparse
import importlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

# name → what the example shows (the order of the gallery)
EXAMPLES = {
    "tiny_cnn": "conv 3×3 → ReLU → max-pool → linear, cross-entropy",
    "mlp": "linear → tanh → linear, mean squared error",
    "teaching_cnn": "a 4×4 image: conv 2×2 → ReLU → max-pool → linear, cross-entropy (and 3 SGD iterations)",
    "lstm_cell": "one LSTM cell step (its gates, each a formula) → linear, cross-entropy",
    "attention": "two-head self-attention softmax(q kᵀ/√2) v with a residual, mean squared error",
}


@dataclass(frozen=True)
class Entry:
    """One example's documents: the handout, the slides and (teaching CNN) the walkthrough."""

    name: str
    steps: int
    handout: Path
    slides: Path
    walkthrough: Path | None
    seconds: float


def build_one(name: str, out: Path) -> Entry:
    """Derive ``examples.<name>``, check it, and write ``<name>.pdf`` and ``<name>_slides.pdf``."""
    start = time.perf_counter()
    module = importlib.import_module(f"examples.{name}")
    d = module.derivation()
    report = d.report if d.report is not None else d.verify()
    if not report.ok:
        raise RuntimeError(f"examples.{name}: verification failed, nothing written\n{report}")
    handout = d.to_pdf(out / f"{name}.pdf", title=f"{name}: {EXAMPLES[name]}")
    slides = d.to_beamer(out / f"{name}_slides.pdf", title=name.replace("_", " "))
    walk = module.walkthrough(out) if hasattr(module, "walkthrough") else None
    return Entry(name, len(d.steps), Path(handout), Path(slides), Path(walk) if walk else None,
                 time.perf_counter() - start)


def build(out: str | Path = "paper_output", only: Sequence[str] | None = None) -> list[Entry]:
    """Build the gallery into ``out``; ``only`` picks examples by name (default: all, in order)."""
    names = list(only) if only else list(EXAMPLES)
    unknown = [n for n in names if n not in EXAMPLES]
    if unknown:
        raise ValueError(f"no gallery example {unknown}; the gallery has {list(EXAMPLES)}")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    return [build_one(n, folder) for n in names]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.gallery", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="paper_output", help="output folder (default: paper_output/)")
    p.add_argument("--only", nargs="+", choices=list(EXAMPLES), help="build only these examples")
    args = p.parse_args(argv)
    for e in build(args.out, args.only):
        extra = f", {e.walkthrough.name}" if e.walkthrough else ""
        print(f"{e.name:<13} {e.steps:>3} steps  {e.handout.name}, {e.slides.name}{extra}  ({e.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
