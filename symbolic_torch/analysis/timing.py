"""Per-node forward time: each fx node's own torch call, measured on the run's inputs.

What it measures: the wall-clock time (``time.perf_counter``) of one node's forward call —
the torch kernel(s) behind a ``call_module``/``call_function``/``call_method`` node — on the
very inputs of the run, under ``torch.no_grad`` (no autograd bookkeeping), the CUDA device
synchronized before and after where the tensors live on one. The graph is run ``repeats + 1``
times; the first pass warms up (allocations, lazy initialisation) and is dropped; each node's
time is the median of the rest. Python overhead of the interpreter between nodes is not
counted; the symbolic work (formulas) is not timed at all. The CPU generator and the graph's
buffers (running statistics) are put back as they were.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.ones(1, 3, dtype=torch.float64), verify=False)
>>> t = node_times(d.run, repeats=3)
>>> list(t), t["linear"] > 0
(['linear'], True)
"""
from __future__ import annotations

import statistics
import time
from typing import Any

import torch
import torch.fx as fx

from symbolic_torch.numeric.rng import rng_state

TIMED = ("call_module", "call_function", "call_method")


class _Timer(fx.Interpreter):
    """Runs the graph and records how long each call node took."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm, garbage_collect_values=True)
        self.times: dict[str, list[float]] = {}

    def run_node(self, n: fx.Node) -> Any:
        if n.op not in TIMED:
            return super().run_node(n)
        _sync()
        start = time.perf_counter()
        out = super().run_node(n)
        _sync()
        self.times.setdefault(n.name, []).append(time.perf_counter() - start)
        return out


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def node_times(run: Any, repeats: int = 5) -> dict[str, float]:
    """Median forward time in seconds of each call node of ``run.gm`` (see the module doc)."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, not {repeats}")
    gm: fx.GraphModule = run.gm
    timer = _Timer(gm)
    saved = {k: b.detach().clone() for k, b in gm.named_buffers()}
    try:
        with torch.no_grad(), rng_state(run.rng_start):
            for k in range(repeats + 1):
                if k == 1:
                    timer.times.clear()  # the warm-up pass does not count
                timer.run(*run.inputs)
    finally:
        with torch.no_grad():
            for k, b in gm.named_buffers():
                b.copy_(saved[k])
    return {name: statistics.median(ts) for name, ts in timer.times.items()}
