"""Helpers for expansions (``@expansion``): functions traced while fx builds the graph.

An expansion runs with fx Proxies for the module's inputs and the real module for its
parameters. These helpers record a helper function as one node, give nodes readable names
(the step names in the derivation: ``lstm_i_t0``), and read a shape when it is concrete.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.fx


def traced(fn: Any, *args: Any) -> Any:
    """``fn(*args)``, recorded as one ``call_function`` node when an argument is an fx Proxy.

    Each such helper is then one step with its own rule. (``torch.fx.wrap`` would do the
    same, but it patches only functions registered before tracing began, and the rule
    table is imported lazily, during the first trace.)
    """
    proxy = next((a for a in args if isinstance(a, torch.fx.Proxy)), None)
    if proxy is None:
        return fn(*args)
    return proxy.tracer.create_proxy("call_function", fn, args, {})


def named(value: Any, name: str) -> Any:
    """Rename the node behind ``value`` to ``name`` (made unique by fx); values pass through."""
    if isinstance(value, torch.fx.Proxy):
        value.node._rename(name)
    return value


def prefix(module: torch.nn.Module, value: Any) -> str:
    """The module's path in the traced root (``"encoder.rnn"`` → ``"encoder_rnn"``), or its class name."""
    if isinstance(value, torch.fx.Proxy):
        try:
            return value.tracer.path_of_module(module).replace(".", "_") or type(module).__name__.lower()
        except NameError:  # the module is not a submodule of the root
            pass
    return type(module).__name__.lower()


def concrete_shape(value: Any) -> tuple[int, ...] | None:
    """The shape of a tensor, or of a Proxy whose node carries an example value; else None."""
    if isinstance(value, torch.Tensor):
        return tuple(value.shape)
    if isinstance(value, torch.fx.Proxy):
        meta = value.node.meta
        for key in ("example_value", "val", "tensor_meta"):
            ex = meta.get(key)
            if ex is not None and hasattr(ex, "shape"):
                return tuple(int(s) for s in ex.shape)
        run = getattr(value.tracer, "example_value", None)  # symbolic_torch's tracer runs the graph so far
        if run is None:
            return None
        try:
            ex = run(value.node)
        except KeyError:
            return None
        return tuple(int(s) for s in ex.shape) if hasattr(ex, "shape") else None
    return None
