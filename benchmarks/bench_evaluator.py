"""Time ``derive`` on ResNet-18 (examples/resnet.py) with the reference and the compiled evaluator.

Usage::

    python benchmarks/bench_evaluator.py                       # 64 and 224 px, both evaluators
    python benchmarks/bench_evaluator.py --px 224 --width 4 --evaluators compiled

Each configuration runs in its own process (one torch thread, float32 model, eval mode,
cross-entropy, target 1), ``derive(verify=False)`` then ``derive(verify=True)`` on a fresh
model. Printed per row: wall and CPU seconds of the whole call, and the CPU seconds spent in
``numeric.evaluate`` (the seam both evaluators sit behind). CPU time is the figure to compare
on a shared machine: wall time there measures the neighbours too.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def measure(px: int, width: int, verify: bool) -> dict[str, float]:
    """One derive of ResNet-18 at 1×3×px×px in this process: wall, CPU, and CPU inside evaluate."""
    sys.path.insert(0, str(ROOT))
    import torch

    import symbolic_torch as st
    import symbolic_torch.numeric.evaluate as E
    from examples.resnet import ResNet18
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model, x = ResNet18(width=width).eval(), torch.randn(1, 3, px, px)
    spent = [0.0]
    real = E.evaluate

    def timed(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        start = time.process_time()
        try:
            return real(*args, **kwargs)
        finally:
            spent[0] += time.process_time() - start
    E.evaluate = timed
    wall, cpu = time.perf_counter(), time.process_time()
    st.derive(model, x, loss=torch.nn.CrossEntropyLoss(), target=torch.tensor([1]), verify=verify)
    return {"wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu, "evaluate_cpu": spent[0]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--px", type=int, nargs="+", default=[64, 224])
    ap.add_argument("--width", type=int, default=4, help="ResNet18(width=…): 4 is the example's, 64 torchvision's")
    ap.add_argument("--evaluators", nargs="+", default=["reference", "auto"])
    ap.add_argument("--one", help=argparse.SUPPRESS)  # px,width,verify: measure in this process
    args = ap.parse_args()
    if args.one:
        px, width, verify = args.one.split(",")
        print(json.dumps(measure(int(px), int(width), verify == "1")))
        return
    print("| evaluator | input | verify | wall s | CPU s | evaluate CPU s |\n|---|---|---|---|---|---|")
    for ev in args.evaluators:
        for px in args.px:
            for verify in (0, 1):
                env = {**os.environ, "SYMBOLIC_TORCH_EVALUATOR": ev}
                out = subprocess.run([sys.executable, __file__, "--one", f"{px},{args.width},{verify}"], env=env,
                                     capture_output=True, text=True, check=True)
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(f"| {ev} | 1×3×{px}×{px} | {bool(verify)} | {r['wall']:.2f} | {r['cpu']:.2f} | {r['evaluate_cpu']:.2f} |",
                      flush=True)


if __name__ == "__main__":
    main()
