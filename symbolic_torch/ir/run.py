"""The run record: what the pipeline recorded about one run, beyond its steps and values.

Stages hand it on instead of a string-keyed dict: verification replays the run from it (the
graph, the model, one node at a time), the gradient checker and the OpInfo sweep read it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import torch
import torch.fx as fx


@dataclass(frozen=True, eq=False)
class Run:
    """One run of a captured model.

    ``inputs`` are what the graph ran on (the loss's target last); ``seeds`` map each output node
    to the adjoint the backward pass starts from (float64; 1 for a scalar loss); ``env`` maps
    every node to the value the interpreter computed; ``rng`` maps every node to the CPU
    generator's state just before it ran, ``rng_start`` is the state the run began with;
    ``items`` maps a step that reads one item of a tuple-valued node to ``(that node, item)``;
    ``buffers`` are the graph's buffers as the run found them (running statistics before
    the run moved them).
    """

    gm: fx.GraphModule
    inputs: tuple[Any, ...]
    seeds: Mapping[str, torch.Tensor]
    outputs: tuple[str, ...]
    differentiable: Mapping[str, bool]
    env: Mapping[str, Any]
    rng: Mapping[str, torch.Tensor]
    rng_start: torch.Tensor
    items: Mapping[str, tuple[str, Any]]
    buffers: Mapping[str, torch.Tensor]
    model: Any
    loss: Any = None

    @property
    def placeholders(self) -> list[str]:
        """The graph's input nodes, in the order of ``inputs``."""
        return [n.name for n in self.gm.graph.nodes if n.op == "placeholder"]

    def node(self, name: str) -> fx.Node:
        """The graph's node called ``name``."""
        for n in self.gm.graph.nodes:
            if n.name == name:
                return n
        raise KeyError(f"the graph has no node {name!r}")
