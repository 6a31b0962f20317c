"""Lowering: run the graph with real values and map each node to a formula.

``SymbolicInterpreter`` is an ``fx.Interpreter`` that keeps every value
(``garbage_collect_values=False``) and, for each node that computes a tensor
from differentiable tensors, looks the node up in the rule table and records
a ``Lowered`` entry: the rule, its operands and the forward formula.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

import sympy as sp
import torch
import torch.fx as fx

from symbolic_torch import progress
from symbolic_torch.frontend import registry, table
from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.frontend.trace import NO_GRAD
from symbolic_torch.errors import UnsupportedOpError
from symbolic_torch.numeric.rng import rng_state_now


@dataclass
class Lowered:
    """A node mapped to a rule: the raw material of a Step."""

    node: fx.Node
    rule: registry.Rule
    call: Call
    rhs: sp.Expr


def describe_target(node: fx.Node) -> str:
    """A readable name for a node's target (``torch.nn.functional.relu``, ``Conv2d``)."""
    t = node.target
    if node.op == "call_module":
        owner = node.graph.owning_module
        cls = type(owner.get_submodule(str(t))).__name__ if owner is not None else ""
        return f"{t} ({cls})" if cls else str(t)
    if node.op == "call_method":
        return f"Tensor.{t}"
    try:
        return fx.node._get_qualified_name(t)
    except Exception:  # targets fx cannot name (lambdas, partials)
        return getattr(t, "__qualname__", None) or str(t)


def map_tensor_args(node: fx.Node, args: tuple, kwargs: dict,
                    wrap: Callable[[Any, fx.Node | None, int], Any]) -> tuple[tuple, dict]:
    """Replace each tensor in the node's (evaluated) args by ``wrap(value, source_node, slot)``.

    Slots count tensors in (args, kwargs) order, the same on every call.
    """
    counter = [0]
    sources = {}

    def note(a: fx.Node) -> fx.Node:
        sources[len(sources)] = a
        return a
    fx.node.map_arg((node.args, node.kwargs), note)
    flat_nodes = list(sources.values())

    def visit(v: Any) -> Any:
        if isinstance(v, torch.Tensor):
            slot = counter[0]
            counter[0] += 1
            src = flat_nodes[slot] if slot < len(flat_nodes) else None
            return wrap(v, src, slot)
        if isinstance(v, (list, tuple)):
            return type(v)(visit(x) for x in v)
        if isinstance(v, dict):
            return {k: visit(x) for k, x in v.items()}
        return v
    return visit(args), visit(kwargs)


class SymbolicInterpreter(fx.Interpreter):
    """Runs the graph on real values and lowers each node through the rule table."""

    def __init__(self, gm: fx.GraphModule, constant_inputs: set[str] = frozenset()) -> None:
        super().__init__(gm, garbage_collect_values=False)
        self.constant_inputs = set(constant_inputs)
        self.differentiable: dict[str, bool] = {}
        self.values: dict[str, torch.Tensor] = {}
        self.lowered: list[Lowered] = []
        self.rng_states: dict[str, torch.Tensor] = {}
        self.tuples: dict[str, tuple[fx.Node, list[int]]] = {}  # node → (tuple-valued op, its items)
        self.items: dict[str, tuple[str, Any]] = {}  # step → (tuple-valued node, item)
        self.buffers_before: dict[str, dict[str, torch.Tensor]] = {}
        self.start_rng_state = rng_state_now()
        self.on_node: Callable[[], Any] = lambda: None  # called after each node (a progress bar ticks)

    def run_node(self, n: fx.Node) -> Any:
        self.rng_states[n.name] = rng_state_now()  # to replay random ops (dropout)
        if n.op == "call_module":  # running statistics before the module updates them
            m = self.module.get_submodule(str(n.target))
            self.buffers_before[n.name] = {k: b.detach().clone() for k, b in m.named_buffers()}
        result = super().run_node(n)
        if isinstance(result, torch.Tensor):
            self.values[n.name] = result
        if n.op == "placeholder":
            self.differentiable[n.name] = (isinstance(result, torch.Tensor) and result.is_floating_point()
                                           and n.name not in self.constant_inputs)
        elif n.op == "get_attr":
            self._get_attr(n, result)
        elif n.op in ("call_function", "call_method", "call_module"):
            self._lower(n, result)
        self.on_node()
        return result

    def _get_attr(self, n: fx.Node, result: Any) -> None:
        is_param = isinstance(result, torch.nn.Parameter) and result.requires_grad
        self.differentiable[n.name] = bool(is_param and result.is_floating_point())
        if is_param:
            self.values[str(n.target)] = result

    def _source(self, node: fx.Node | None) -> str | None:
        if node is None:
            return None
        if node.op == "get_attr":
            return str(node.target)
        return node.name

    def _tuple_read(self, n: fx.Node) -> tuple[fx.Node, int] | list[int] | None:
        """What ``n`` reads of a tuple-valued op: ``(op, item)`` for one item (``t[k]``, ``t.values``),
        the op's item numbers for a slice (``t[:2]``), None when ``n`` reads no such tuple."""
        if n.op != "call_function" or len(n.args) != 2 or not isinstance(n.args[0], fx.Node):
            return None
        base, key = n.args
        if base.name not in self.tuples:
            return None
        src, items = self.tuples[base.name]
        if n.target is getattr and isinstance(key, str):  # named fields: torch.max(x, 1).values
            fields = getattr(type(self.env[base]), "__match_args__", ())
            if key not in fields:
                return None
            key = fields.index(key)
        elif n.target is not operator.getitem:
            return None
        if isinstance(key, slice):
            return items[key]
        if isinstance(key, int) and -len(items) <= key < len(items):
            return src, items[key]
        return None

    def _lower(self, n: fx.Node, result: Any) -> None:
        """Record ``n`` as a step when it computes a floating tensor from differentiable ones."""
        src, item = n, None
        read = self._tuple_read(n)
        if isinstance(read, list):  # a slice of a tuple: still the same op's items
            self.tuples[n.name] = (self.tuples[n.args[0].name][0], read)
            self.differentiable[n.name] = True
            return
        if read is not None:
            src, item = read  # one item of a tuple-valued op: lowered as that op
        module = self.module.get_submodule(str(src.target)) if src.op == "call_module" else None
        diff_in = self._reads_differentiable(n, src, module)
        if diff_in and item is None and _floating_tuple(result):
            self.tuples[n.name] = (n, list(range(len(result))))  # each item becomes a step where a getitem reads it
            self.differentiable[n.name] = True
            return
        if diff_in and _complex(result):
            raise UnsupportedOpError(n.name, describe_target(src), "complex-valued output: formulas are real")
        floating = isinstance(result, torch.Tensor) and result.is_floating_point()
        self.differentiable[n.name] = bool(diff_in and floating)
        if not (diff_in and floating):
            return
        rule = table.lookup(src.op, src.target, module)
        if rule is None or (item is not None and not rule.multi_output):
            raise UnsupportedOpError(n.name, describe_target(src),
                                     "" if rule is None else f"rule {rule.name!r} has no formula per tuple item")
        self._apply(n, src, item, module, rule, result)

    def _reads_differentiable(self, n: fx.Node, src: fx.Node, module: torch.nn.Module | None) -> bool:
        """Does ``n`` depend differentiably on an input or a parameter?"""
        diff_in = any(self.differentiable.get(a.name, False) for a in n.all_input_nodes)
        if (table.is_constant(src.op, src.target) or (src.target is getattr and src.args[1] == "data")
                or n.meta.get(NO_GRAD)):
            diff_in = False  # x.data and results computed under torch.no_grad() are cut off from the graph
        if module is not None:
            diff_in = diff_in or any(p.requires_grad for p in module.parameters(recurse=True))
        return diff_in

    def _apply(self, n: fx.Node, src: fx.Node, item: Any, module: torch.nn.Module | None,
               rule: registry.Rule, result: Any) -> None:
        """Call ``rule``'s formula builder on the node's arguments and record what it returns."""
        args, kwargs = self.fetch_args_kwargs_from_env(src)

        def wrap(v: torch.Tensor, source: fx.Node | None, slot: int) -> TensorArg:
            diff = source is not None and self.differentiable.get(source.name, False)
            return TensorArg(v, self._source(source) if diff else None, diff, slot)
        targs, tkwargs = map_tensor_args(src, args, kwargs, wrap)
        call = Call(n.name, describe_target(src), module, str(src.target) if module is not None else None, result)
        call.rng_state = self.rng_states[src.name]
        call.item = item
        call.buffers_before = self.buffers_before.get(src.name)
        if item is not None:
            self.items[n.name] = (src.name, item)
        try:
            rhs = rule.impl(call, *targs, **tkwargs)
        except UnsupportedOpError:
            raise
        except NotImplementedError as e:
            raise UnsupportedOpError(n.name, describe_target(src), str(e)) from e
        self.lowered.append(Lowered(n, rule, call, sp.sympify(rhs)))


def _complex(result: Any) -> bool:
    items = result if isinstance(result, (tuple, list)) else (result,)
    return any(isinstance(r, torch.Tensor) and r.is_complex() for r in items)


def _floating_tuple(result: Any) -> bool:
    return isinstance(result, (tuple, list)) and any(
        isinstance(r, torch.Tensor) and r.is_floating_point() for r in result)


def lower(gm: fx.GraphModule, inputs: tuple[Any, ...], constant_inputs: set[str] = frozenset()) -> SymbolicInterpreter:
    """Run ``gm`` on ``inputs`` and lower every differentiable node."""
    interp = SymbolicInterpreter(gm, constant_inputs)
    with torch.no_grad(), progress.stage("lowering", len(gm.graph.nodes), "node") as bar:
        interp.on_node = bar.update
        interp.output = interp.run(*inputs)
    return interp
