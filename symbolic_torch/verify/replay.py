"""The run replayed under autograd: the captured graph, the model itself, one node alone.

Each replay starts from the run's RNG state (the same dropout masks) and leaves the CPU
generator and the modules' buffers (running statistics) as it found them. Every gradient
comes from ``numeric.reference.vjp``.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

import torch
import torch.fx as fx

from symbolic_torch.frontend.lower import map_tensor_args
from symbolic_torch.ir.run import Run
from symbolic_torch.numeric.reference import leaves as fresh_leaves
from symbolic_torch.numeric.reference import vjp
from symbolic_torch.numeric.rng import rng_state

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.step import Step

Grads = dict[str, "torch.Tensor | None"]


@dataclass(frozen=True)
class ModelReplay:
    """The model's own outputs (by output node) and gradients (by placeholder or parameter name).
    ``complete``: autograd differentiated the model for every input and parameter the captured
    graph has, so the graph need not be differentiated again as well."""

    outputs: dict[str, torch.Tensor]
    grads: Grads
    complete: bool = False


def _copy(self: torch.Tensor, src: Any, non_blocking: bool = False) -> torch.Tensor:
    """``aten.copy`` as autograd can differentiate it (torch has no derivative for the functional
    copy that torch.export writes for ``x.copy_(src)``): src broadcast to self's shape and dtype."""
    return torch.zeros_like(self) + torch.as_tensor(src).to(self.dtype)


_DIFFERENTIABLE = {torch.ops.aten.copy.default: _copy}


class _Recorder(fx.Interpreter):
    """Runs the graph with autograd on and keeps every tensor it computes."""

    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm, garbage_collect_values=False)
        self.record: dict[str, torch.Tensor] = {}

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        return super().call_function(_DIFFERENTIABLE.get(target, target), args, kwargs)

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            self.record[n.name] = out
        return out


@contextmanager
def _buffers_kept(module: torch.nn.Module | None, start: Mapping[str, torch.Tensor] | None = None) -> Iterator[None]:
    """Inside, ``module``'s buffers are ``start`` (as they are when None); afterwards as before."""
    saved = {k: b.detach().clone() for k, b in module.named_buffers()} if module is not None else {}
    try:
        if module is not None and start is not None:
            _load(module, start)
        yield
    finally:
        if module is not None:
            _load(module, saved)


def _load(module: torch.nn.Module, buffers: Mapping[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for k, b in module.named_buffers():
            if k in buffers:
                b.copy_(buffers[k])


def _fresh_inputs(run: Run) -> tuple[list[Any], dict[str, torch.Tensor]]:
    """The run's inputs again, the differentiable ones as new leaves (by placeholder name)."""
    leaves: dict[str, torch.Tensor] = {}
    args: list[Any] = []
    for name, x in zip(run.placeholders, run.inputs):
        if isinstance(x, torch.Tensor) and run.differentiable.get(name, False):
            x = fresh_leaves([x])[0]
            leaves[name] = x
        args.append(x)
    return args, leaves


def graph_gradients(d: "Derivation") -> Grads:
    """autograd's gradient of the captured graph, seeded like the run, for every differentiable
    input (by placeholder name) and parameter; None where nothing reaches it."""
    run = d.run
    args, leaves = _fresh_inputs(run)
    params = {n: p for n, p in run.gm.named_parameters() if n in d.param_names}
    rec = _Recorder(run.gm)
    wrt = {**leaves, **params}
    with _buffers_kept(run.gm, run.buffers):  # restored after the backward: it may read them
        with rng_state(run.rng_start), torch.enable_grad():
            rec.run(*args)  # the same random draws as the run
        outs = [rec.record[o] for o in run.outputs]
        got = vjp(outs, list(wrt.values()), [run.seeds[o] for o in run.outputs], zeros=False)
    return dict(zip(wrt, got))


def model_replay(d: "Derivation") -> ModelReplay | None:
    """The model itself (and loss) run again on the inputs: its outputs and its gradients (seeded
    like the run). None when the model's outputs cannot be paired with the graph's."""
    run = d.run
    if run.model is None:
        return None
    args, leaves = _fresh_inputs(run)
    mod = run.model if isinstance(run.model, torch.nn.Module) else None
    by_id = {id(p) for p in (mod.parameters() if mod is not None else ())}
    params = {n: p for n, p in run.gm.named_parameters() if n in d.param_names and id(p) in by_id}
    wrt = {**leaves, **params}
    with _buffers_kept(mod):
        with rng_state(run.rng_start), torch.enable_grad():
            out = run.model(*args[: len(args) - (run.loss is not None)])
            if run.loss is not None:
                out = run.loss(out, args[-1])
        outs = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
        if len(outs) != len(run.outputs) or any(tuple(t.shape) != tuple(d.values[n].shape)
                                                for t, n in zip(outs, run.outputs)):
            return None
        try:
            grads = vjp(outs, list(wrt.values()), [run.seeds[n] for n in run.outputs], zeros=False)
            complete = len(params) == len(d.param_names)
        except RuntimeError:  # autograd refuses the model itself (an in-place op on a saved tensor)
            grads, complete = [None] * len(wrt), False  # the captured graph's autograd stays the reference
    return ModelReplay({n: t.detach() for n, t in zip(run.outputs, outs)},
                       {k: g for k, g in zip(wrt, grads) if g is not None}, complete)


def node_vjp(run: Run, step: "Step", seed: torch.Tensor) -> Grads:
    """autograd's vector–Jacobian product of ``step``'s node alone, on the run's values, seeded
    with ``seed`` (the adjoint of the step's output): per operand key."""
    producer, item = run.items.get(step.name, (step.name, None))
    node = run.node(producer)
    by_slot = {o.slot: o for o in step.operands if o.differentiable}
    leaves: dict[str, torch.Tensor] = {}

    def fetch(a: fx.Node) -> Any:
        return run.env[a.name]

    def wrap(v: torch.Tensor, src: Any, slot: int) -> torch.Tensor:
        if slot in by_slot:
            leaves[by_slot[slot].key] = fresh_leaves([v])[0]
            return leaves[by_slot[slot].key].clone()
        return v.detach()
    args, kwargs = fx.node.map_arg(node.args, fetch), fx.node.map_arg(node.kwargs, fetch)
    targs, tkwargs = map_tensor_args(node, args, kwargs, wrap)
    module = run.gm.get_submodule(str(node.target)) if node.op == "call_module" else None
    with _buffers_kept(run.gm):
        with rng_state(run.rng[node.name]), torch.enable_grad():
            out = _call(node, module, targs, tkwargs, by_slot, leaves)
            out = out if item is None else out[item]
        keys = list(leaves)
        return dict(zip(keys, vjp([out], [leaves[k] for k in keys], [seed], zeros=False)))


def _call(node: fx.Node, module: torch.nn.Module | None, targs: Any, tkwargs: Any,
          by_slot: dict, leaves: dict[str, torch.Tensor]) -> Any:
    """The node's operation on ``targs``; a module's parameters replaced by fresh leaves."""
    if module is not None:
        over = {}
        for slot, o in by_slot.items():
            if isinstance(slot, tuple):
                leaves[o.key] = fresh_leaves([o.value])[0]
                over[slot[1]] = leaves[o.key]
        return torch.func.functional_call(module, over, tuple(targs), dict(tkwargs))
    if node.op == "call_method":
        return getattr(targs[0], str(node.target))(*targs[1:], **tkwargs)
    return _DIFFERENTIABLE.get(node.target, node.target)(*targs, **tkwargs)
