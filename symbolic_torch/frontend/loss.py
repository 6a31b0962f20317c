"""The loss pass: append ``loss(output, target)`` to the captured graph as its last node(s).

A loss with a rule of its own (``nn.MSELoss``) is one node; any other loss is traced and its ops
are added to the model's graph, each a step.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
import torch.fx as fx

from symbolic_torch.errors import CaptureError
from symbolic_torch.frontend import table
from symbolic_torch.frontend.trace import Tracer

LOSS_PATH = "loss"
TARGET_NAME = "target"


def append_loss(gm: fx.GraphModule, loss: Any) -> None:
    """Add a ``target`` placeholder and the loss of the graph's output and it, as the new output."""
    graph = gm.graph
    output = next(n for n in graph.nodes if n.op == "output")
    (result,) = output.args
    while isinstance(result, (tuple, list)) and len(result) == 1:  # torch.export returns (out,)
        result = result[0]
    if not isinstance(result, fx.Node):
        raise CaptureError("a loss needs a model that returns a single tensor")
    last_placeholder = [n for n in graph.nodes if n.op == "placeholder"][-1]
    with graph.inserting_after(last_placeholder):
        target = graph.placeholder(TARGET_NAME)
    with graph.inserting_before(output):
        if isinstance(loss, torch.nn.Module) and table.lookup("call_module", LOSS_PATH, loss) is not None:
            gm.add_submodule(LOSS_PATH, loss)
            node = graph.call_module(LOSS_PATH, (result, target))
        else:
            node = _inline_loss(gm, loss, result, target)
    output.args = (node,)
    gm.recompile()


def _inline_loss(gm: fx.GraphModule, loss: Any, result: fx.Node, target: fx.Node) -> fx.Node:
    """A loss with no rule of its own (``lambda y, t: F.cross_entropy(y.view(-1, V), t.view(-1))``,
    a custom loss module) traced and its nodes added to the model's graph, so each op is a step.
    A loss fx cannot trace stays one node (its rule, if any, decides)."""
    try:
        root = loss if isinstance(loss, torch.nn.Module) else _LossFn(loss)
        lgraph = Tracer().trace(root)
    except Exception:
        return gm.graph.call_function(loss, (result, target))
    placeholders = [n for n in lgraph.nodes if n.op == "placeholder"]
    if len(placeholders) != 2:
        return gm.graph.call_function(loss, (result, target))
    env: dict[fx.Node, Any] = dict(zip(placeholders, (result, target)))
    out: Any = None
    for n in lgraph.nodes:
        if n.op == "placeholder":
            continue
        if n.op == "output":
            out = fx.node.map_arg(n.args[0], lambda a: env[a])
            break
        if n.op in ("get_attr", "call_module"):  # the loss's own tensors and modules, under loss.*
            path = f"{LOSS_PATH}.{n.target}"
            if n.op == "call_module":
                _add_path(gm, path, root.get_submodule(str(n.target)))
            else:
                _add_path(gm, path, _attr(root, str(n.target)))
            env[n] = gm.graph.create_node(n.op, path, fx.node.map_arg(n.args, lambda a: env[a]),
                                          fx.node.map_arg(n.kwargs, lambda a: env[a]), n.name)
        else:
            env[n] = gm.graph.node_copy(n, lambda a: env[a])
    if not isinstance(out, fx.Node):
        raise CaptureError("the loss must return one tensor")
    return out


class _LossFn(torch.nn.Module):
    """A loss function as a module fx can trace: forward(output, target)."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, output: Any, target: Any) -> Any:
        return self.fn(output, target)


def _attr(root: torch.nn.Module, path: str) -> Any:
    owner_path, _, name = path.rpartition(".")
    owner = root.get_submodule(owner_path) if owner_path else root
    return getattr(owner, name)


def _add_path(gm: fx.GraphModule, path: str, value: Any) -> None:
    """Set ``gm.<path>`` (dotted), creating empty modules on the way."""
    *owners, name = path.split(".")
    here: torch.nn.Module = gm
    for o in owners:
        if not hasattr(here, o):
            here.add_module(o, torch.nn.Module())
        here = getattr(here, o)
    if isinstance(value, torch.nn.Module):
        here.add_module(name, value)
    elif isinstance(value, torch.nn.Parameter):
        here.register_parameter(name, value)
    elif isinstance(value, torch.Tensor):
        here.register_buffer(name, value)
    else:
        setattr(here, name, value)
