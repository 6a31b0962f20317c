"""In-place rewriting: ``x.add_(y)``, ``x += y``, ``ReLU(inplace=True)`` become out-of-place ops.

An in-place op overwrites the tensor an earlier step produced, so that step's recorded output
would be wrong; the rewrite makes later readers read the new value instead.
"""
from __future__ import annotations

import copy
import operator
from typing import Any, Callable

import torch
import torch.fx as fx

from symbolic_torch.frontend.registry import FunctionTable, unwrapped_id
from symbolic_torch.numeric.rng import rng_state


_INPLACE_FUNCTIONS = FunctionTable({operator.iadd: operator.add, operator.isub: operator.sub,
                                    operator.imul: operator.mul, operator.itruediv: operator.truediv,
                                    torch.zero_: torch.zeros_like})  # torch.zero_ has no torch.zero


_FUNCTION_SPACES = (torch, torch.nn.functional, torch.special)
# In-place methods with no out-of-place method of the same name: the function that computes the same.
_INPLACE_METHODS = {"zero_": torch.zeros_like, "fill_": torch.full_like}


def functionalize(gm: fx.GraphModule, inputs: tuple[Any, ...] = ()) -> None:
    """Rewrite in-place ops (``ReLU(inplace=True)``, ``x.add_(y)``, ``x += y``, ``torch.relu_(x)``)
    as out-of-place ones whose result later steps read instead of the tensor they overwrote.

    An in-place op overwrites the tensor an earlier step produced, so that step's recorded
    output would be wrong. When the overwritten tensor shares memory with another one that is
    read later (a view such as ``x[0]`` or ``x.view(-1)``, or the tensor a view was taken of),
    rewiring one node is not enough: ``Aliased`` is raised and the caller captures with
    torch.export, whose functionalization rewrites views into scatters.
    """
    mutating = [node for node in gm.graph.nodes if _make_out_of_place(gm, node)]
    gm.recompile()
    if not mutating:
        return
    alone = all(_alone(gm, node, mutating) for node in mutating)  # then nothing can share memory with
    values = {} if alone else _run_for_storage(gm, inputs)  # what they overwrite: no run of the model
    order = {node: k for k, node in enumerate(gm.graph.nodes)}
    if not alone:
        _refuse_shared(mutating, values, order)
    for node in mutating:  # later readers of the overwritten tensor read the new value
        target = node.args[0] if node.args else None
        if isinstance(target, fx.Node) and (alone or isinstance(values.get(target), torch.Tensor)):
            for user in list(target.users):
                if order[user] > order[node]:
                    user.replace_input_with(target, node)
    gm.recompile()


def _refuse_shared(mutating: list[fx.Node], values: dict[fx.Node, Any], order: dict[fx.Node, int]) -> None:
    """Raise ``Aliased`` where an in-place op overwrites memory another tensor read later shares."""
    for node in mutating:
        target = node.args[0] if node.args else None
        if not isinstance(target, fx.Node) or not isinstance(values.get(target), torch.Tensor):
            continue  # ``n += 1`` on a Python number
        storage = _storage(values[target])
        for other, value in values.items():
            if other in (target, node) or other in mutating or not isinstance(value, torch.Tensor):
                continue
            read_later = any(order[u] > order[node] for u in other.users)
            if read_later and _storage(value) == storage:
                raise Aliased(f"{node.name} overwrites {target.name}, which shares memory with {other.name}")


# Ops whose result is always a new tensor (never a view or the input itself).
_FRESH_MODULES = (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d, torch.nn.Linear,
                  torch.nn.modules.batchnorm._BatchNorm, torch.nn.LayerNorm, torch.nn.GroupNorm)
_FRESH_ARITHMETIC = (operator.add, operator.sub, operator.mul, operator.truediv)


def _fresh_tensor(gm: fx.GraphModule, node: Any, mutating: list[fx.Node], depth: int = 0) -> bool:
    """Is ``node`` surely a new tensor: a layer's output, an in-place op made out of place, or
    arithmetic on such a tensor (which could otherwise be a Python number)?"""
    if not isinstance(node, fx.Node) or depth > 8:
        return False
    if node.op == "call_module":
        return node in mutating or isinstance(gm.get_submodule(str(node.target)), _FRESH_MODULES)
    if node.op == "call_function" and node.target in _FRESH_ARITHMETIC:
        return any(_fresh_tensor(gm, a, mutating, depth + 1) for a in node.args)
    return False


def _alone(gm: fx.GraphModule, node: fx.Node, mutating: list[fx.Node]) -> bool:
    """Can no other tensor share the memory that in-place ``node`` overwrites? True when its
    target is a new tensor and every other reader of it makes a new tensor too (no view)."""
    target = node.args[0] if node.args else None
    return (isinstance(target, fx.Node) and _fresh_tensor(gm, target, mutating)
            and all(u in mutating or _fresh_tensor(gm, u, mutating) for u in target.users))


class Aliased(Exception):
    """An in-place op overwrites memory that another tensor of the graph shares."""


def _storage(t: torch.Tensor) -> int:
    return t.untyped_storage().data_ptr() if t.numel() else id(t)


def _make_out_of_place(gm: fx.GraphModule, node: fx.Node) -> bool:
    """Retarget ``node`` to its out-of-place twin; True when it was in place."""
    if node.op == "call_module":
        module = gm.get_submodule(str(node.target))
        if getattr(module, "inplace", False) is True:
            twin = copy.copy(module)
            twin.inplace = False
            _set_submodule(gm, str(node.target), twin)
            return True
    elif node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload):
        name = node.target._schema.name.split("::")[-1]  # aten::add_ (torch.export's graphs)
        if not name.endswith("_") or name.startswith("_"):
            return False  # e.g. _native_batch_norm_legit: mutates running statistics, computes as a rule says
        packet = getattr(torch.ops.aten, name[:-1], None)
        plain = getattr(packet, node.target._overloadname, None) if packet is not None else None
        if plain is None:
            raise Aliased(f"{node.target} has no out-of-place form")
        node.target = plain
        return True
    elif node.op == "call_function":
        plain = _INPLACE_FUNCTIONS.get(node.target) or _plain_function(node.target)
        if plain is not None:
            node.target = plain
        if node.kwargs.get("inplace") is True:
            node.kwargs = {**node.kwargs, "inplace": False}
            return True
        return plain is not None
    elif node.op == "call_method" and str(node.target).endswith("_") and not str(node.target).startswith("_"):
        name = str(node.target)
        if hasattr(torch.Tensor, name[:-1]):
            node.target = name[:-1]
            return True
        if name in _INPLACE_METHODS:
            node.op, node.target = "call_function", _INPLACE_METHODS[name]
            return True
    return False


def _plain_function(target: Any) -> Callable[..., Any] | None:
    """``torch.relu_`` → ``torch.relu``: the out-of-place function of an in-place one."""
    name = getattr(target, "__name__", "")
    if not name.endswith("_") or name.startswith("_"):
        return None
    for space in _FUNCTION_SPACES:
        if unwrapped_id(getattr(space, name, None)) == unwrapped_id(target):  # TorchLens may wrap either
            plain = getattr(space, name[:-1], None)
            if plain is not None:
                return plain
    return None


def _run_for_storage(gm: fx.GraphModule, inputs: tuple[Any, ...]) -> dict[fx.Node, Any]:
    """Every node's value on copies of the inputs and modules, to see which share memory."""
    values: dict[fx.Node, Any] = {}
    nodes = {n.name: n for n in gm.graph.nodes}

    class _Record(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            values[nodes[n.name]] = result = super().run_node(n)
            return result

    try:
        copies = [x.detach().clone() if isinstance(x, torch.Tensor) else x for x in inputs]
        with torch.no_grad(), rng_state():
            _Record(copy.deepcopy(gm)).run(*copies)
    except Exception as error:
        raise Aliased(f"the graph could not be run to look for shared memory: {error}") from error
    return values


def _set_submodule(gm: fx.GraphModule, path: str, module: torch.nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)
