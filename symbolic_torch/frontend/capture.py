"""Capture: model → ``fx.GraphModule``, with the loss appended as its last node.

The passes, in order: trace with torch.fx (``trace``) and rewrite in-place ops (``inplace``);
where fx fails, capture with torch.export instead (``export``); append the loss (``loss``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.fx as fx

from symbolic_torch.errors import CaptureError
from symbolic_torch.frontend.export import export
from symbolic_torch.frontend.inplace import functionalize
from symbolic_torch.frontend.loss import TARGET_NAME, append_loss
from symbolic_torch.frontend.trace import NO_GRAD, trace

__all__ = ["Captured", "capture", "NO_GRAD", "TARGET_NAME"]


@dataclass
class Captured:
    """A captured model: its graph, how it was captured, and its input names."""

    gm: fx.GraphModule
    method: str  # "torch.fx" or "torch.export"
    input_names: list[str]
    has_loss: bool


def capture(model: torch.nn.Module | Callable[..., Any], inputs: tuple[Any, ...],
            loss: torch.nn.Module | Callable[..., Any] | None = None) -> Captured:
    """Trace ``model`` with torch.fx; fall back to torch.export; append ``loss``."""
    try:
        gm = trace(model, inputs)
        method = "torch.fx"
        functionalize(gm, inputs)
    except Exception as fx_error:  # fx raises many types for untraceable code
        gm, method = export(model, inputs, fx_error), "torch.export"
    names = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    if len(names) != len(inputs):
        raise CaptureError(f"the captured graph takes {len(names)} inputs {names}, but {len(inputs)} were given")
    if loss is not None:
        append_loss(gm, loss)
    return Captured(gm, method, names, loss is not None)
