"""Tracing: model → ``fx.Graph`` with torch.fx, expanding composite modules that have an expansion.

The tracer can also run the graph traced so far on copies of the example inputs
(``Tracer.example_value``), for an expansion that needs a concrete size; an expansion reaches it
through the proxy it is given (``proxy.tracer.example_value(proxy.node)``).
"""
from __future__ import annotations

import copy
import inspect
import operator
from typing import Any, Callable

import torch
import torch.fx as fx

from symbolic_torch.errors import CaptureError
from symbolic_torch.frontend import table
from symbolic_torch.frontend.provenance import calling_function
from symbolic_torch.ir.provenance import PYTHON_FUNCTION
from symbolic_torch.numeric.rng import rng_state

NO_GRAD = "symbolic_torch_no_grad"  # node.meta key: computed under torch.no_grad() in the model


class Tracer(fx.Tracer):
    """fx's tracer, expanding composite modules that have a registered expansion.

    It can also tell an expansion the value a proxy takes on the example inputs
    (``example_value``), e.g. the sequence length an RNN is unrolled over.
    """

    def __init__(self, inputs: tuple[Any, ...] = ()) -> None:
        super().__init__()
        self._inputs = tuple(inputs)
        self._values: dict[fx.Node, Any] = {}
        self._sandbox: torch.nn.Module | None = None
        self._running = False

    def trace(self, root: Any, concrete_args: dict[str, Any] | None = None) -> fx.Graph:
        with torch.enable_grad():  # so that a no_grad block of the model is seen as one (derive may run under no_grad)
            return super().trace(root, concrete_args)

    def create_node(self, kind: str, target: Any, args: Any, kwargs: Any, name: str | None = None,
                    type_expr: Any | None = None) -> fx.Node:
        node = super().create_node(kind, target, args, kwargs, name, type_expr)
        if not torch.is_grad_enabled():  # traced inside ``with torch.no_grad():``: its result is a constant
            node.meta[NO_GRAD] = True
        if kind != "placeholder":
            fn = calling_function()
            if fn is not None:  # written in a plain Python function of the user's (a custom activation)
                node.meta[PYTHON_FUNCTION] = fn
        return node

    def call_module(self, m: torch.nn.Module, forward: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        if self._running:  # example_value runs a sandbox module for real: fx's patch must not trace it
            return forward(*args, **kwargs)
        fn = table.expansion_for(m)
        if fn is not None:
            return fn(m, *args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        """A torch.nn module is one step only where a rule describes it (``nn.Conv2d``); a
        composite one with no rule (``nn.Transformer``, ``nn.Softmax2d``) is traced into its ops."""
        if isinstance(m, torch.nn.Sequential) or not m.__module__.startswith("torch.nn"):
            return False
        return table.lookup("call_module", module_qualified_name, m) is not None

    def example_value(self, node: fx.Node) -> Any:
        """Run the graph traced so far, up to ``node``, on copies of the inputs and modules.

        Copies, and the RNG state restored after, so that nothing the real run will
        see (inputs, parameters, running statistics, random draws) is touched.
        """
        with rng_state():
            if self._sandbox is None:
                self._sandbox = copy.deepcopy(self.root)
            placeholders = iter(self._inputs)
            for n in self.graph.nodes:
                if n.op == "placeholder":
                    x = next(placeholders, None)
                    self._values.setdefault(n, x.detach().clone() if isinstance(x, torch.Tensor) else x)
                elif n not in self._values:
                    self._values[n] = self._run(n)
                if n is node:
                    return self._values[n]
        raise KeyError(f"{node} is not in the traced graph")

    def _run(self, n: fx.Node) -> Any:
        args, kwargs = fx.node.map_arg((n.args, n.kwargs), lambda a: self._values[a])
        root = self._sandbox
        assert root is not None
        with torch.no_grad():
            if n.op == "get_attr":
                path, _, attr = str(n.target).rpartition(".")
                owner = root.get_submodule(path) if path else root
                for table in (owner._parameters, owner._buffers, owner.__dict__):
                    if attr in table:
                        return table[attr]
                raise AttributeError(n.target)
            if n.op == "call_function":
                return n.target(*args, **kwargs)
            if n.op == "call_method":
                return getattr(args[0], str(n.target))(*args[1:], **kwargs)
            if n.op == "call_module":
                self._running = True
                try:
                    return root.get_submodule(str(n.target))(*args, **kwargs)
                finally:
                    self._running = False
        raise KeyError(n.op)


def trace(model: torch.nn.Module | Callable[..., Any], inputs: tuple[Any, ...] = ()) -> fx.GraphModule:
    """``model`` traced by torch.fx into a GraphModule; arguments past ``inputs`` keep their defaults."""
    if isinstance(model, torch.nn.Module) and table.expansion_for(model) is not None:
        return _trace_expanded_root(model, inputs)
    tracer = Tracer(inputs)
    defaults = _defaults_not_given(model, len(inputs))
    graph = tracer.trace(model, concrete_args=defaults or None)  # constants of a function land on tracer.root
    if defaults:
        _drop_default_placeholders(graph, len(inputs))
    name = type(model).__name__ if isinstance(model, torch.nn.Module) else getattr(model, "__name__", "fn")
    return fx.GraphModule(tracer.root, graph, name)


def _defaults_not_given(model: Any, given: int) -> dict[str, Any]:
    """The model's arguments past the inputs given, at their defaults (``offsets=None``), for fx
    to specialise on rather than make inputs of."""
    fn = model.forward if isinstance(model, torch.nn.Module) else model
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return {}
    if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params):
        return {}
    rest = params[given:]
    if any(p.default is inspect.Parameter.empty for p in rest):
        return {}  # a required argument missing: let the count check say so
    return {p.name: p.default for p in rest}


def _drop_default_placeholders(graph: fx.Graph, given: int) -> None:
    """Remove the placeholders (and fx's guards on them) that ``concrete_args`` specialised."""
    guards = {getattr(fx._symbolic_trace, "_assert_is_none", None), torch._assert}

    def erase_guard(node: fx.Node) -> None:  # ``_assert_is_none(p)`` or ``torch._assert(p == 2.0)``
        for user in list(node.users):
            if user.op == "call_function" and (user.target in guards or user.target is operator.eq):
                erase_guard(user)
        if node.op != "placeholder" and not node.users and (node.target in guards or node.target is operator.eq):
            graph.erase_node(node)

    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    for node in placeholders[given:]:
        erase_guard(node)
        if not node.users:
            graph.erase_node(node)


def _trace_expanded_root(model: torch.nn.Module, inputs: tuple[Any, ...]) -> fx.GraphModule:
    """Trace a model that is itself an expanded module (``nn.LSTM(3, 4)`` handed over alone).

    Expansions apply where a module is called, so the model is called from a holder whose
    forward takes the model's own argument names; the holder's prefix is then taken off the
    graph's targets, so that parameters keep the model's names (``weight_ih_l0``).
    """
    try:
        names = [p.name for p in inspect.signature(model.forward).parameters.values()
                 if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][: len(inputs)]
    except (TypeError, ValueError):
        names = []
    if len(names) != len(inputs) or not all(n.isidentifier() for n in names):
        names = [f"input_{k}" for k in range(len(inputs))]
    scope: dict[str, Any] = {}
    exec(f"def forward(self, {', '.join(names)}):\n    return self.model({', '.join(names)})", scope)
    holder = type("_Holder", (torch.nn.Module,), {"forward": scope["forward"]})()
    holder.model = model
    tracer = Tracer(inputs)
    graph = tracer.trace(holder)
    for node in graph.nodes:
        if node.op in ("get_attr", "call_module"):
            target = str(node.target)
            if target == "model" or not target.startswith("model."):
                raise CaptureError(f"the expansion of {type(model).__name__} left the module call {target!r}")
            node.target = target[len("model."):]
    return fx.GraphModule(model, graph, type(model).__name__)
