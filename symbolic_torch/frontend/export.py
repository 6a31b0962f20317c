"""The torch.export fallback: capture a model fx cannot trace (a branch on a shape)."""
from __future__ import annotations

import inspect
import warnings
from typing import Any, Callable

import torch
import torch.fx as fx

from symbolic_torch.errors import CaptureError
from symbolic_torch.frontend.inplace import Aliased, functionalize


def export(model: Any, inputs: tuple[Any, ...], fx_error: Exception) -> fx.GraphModule:
    """``model`` captured by torch.export, in-place ops rewritten; the error names both failures."""
    module = model if isinstance(model, torch.nn.Module) else _Wrap(model)
    try:
        with warnings.catch_warnings():  # torch's own deprecation chatter (pytree specs), not the user's:
            warnings.simplefilter("ignore", FutureWarning)  # the model's code warns again when it runs
            program = torch.export.export(module, tuple(inputs))
            gm = program.module()
            _strip_export_plumbing(gm)
            try:
                functionalize(gm, inputs)
            except Aliased:  # a write through a view: torch's functionalization turns it into scatters
                gm = program.run_decompositions({}).module()
                _strip_export_plumbing(gm)
                functionalize(gm, inputs)
    except Exception as export_error:
        raise CaptureError(
            f"torch.fx.symbolic_trace failed: {type(fx_error).__name__}: {fx_error}\n"
            f"fallback torch.export.export failed too: {type(export_error).__name__}: {export_error}"
        ) from export_error
    return gm


class _Wrap(torch.nn.Module):
    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn
        self.__signature__ = inspect.signature(fn)

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)


def _strip_export_plumbing(gm: fx.GraphModule) -> None:
    """Drop export's guard calls, which compute nothing of the model's."""
    for node in list(gm.graph.nodes):
        if node.op == "call_module" and str(node.target).startswith("_guards"):
            gm.graph.erase_node(node)
    gm.graph.eliminate_dead_code()
    gm.recompile()
