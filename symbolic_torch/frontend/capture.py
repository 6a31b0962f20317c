"""Capture: model → ``fx.GraphModule``, with the loss appended as its last node."""
from __future__ import annotations

import copy
import inspect
import operator
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import torch
import torch.fx as fx

from symbolic_torch.errors import CaptureError
from symbolic_torch.frontend import registry
from symbolic_torch.frontend.registry import expansion_for

LOSS_PATH = "loss"
NO_GRAD = "symbolic_torch_no_grad"  # node.meta key: computed under torch.no_grad() in the model
TARGET_NAME = "target"


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
        gm = _trace(model, inputs)
        method = "torch.fx"
        _functionalize(gm, inputs)
    except Exception as fx_error:  # fx raises many types for untraceable code
        gm, method = _export(model, inputs, fx_error), "torch.export"
    names = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    if len(names) != len(inputs):
        raise CaptureError(f"the captured graph takes {len(names)} inputs {names}, but {len(inputs)} were given")
    if loss is not None:
        _append_loss(gm, loss)
    return Captured(gm, method, names, loss is not None)


class _Tracer(fx.Tracer):
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
        return node

    def call_module(self, m: torch.nn.Module, forward: Callable[..., Any], args: tuple[Any, ...],
                    kwargs: dict[str, Any]) -> Any:
        if self._running:  # example_value runs a sandbox module for real: fx's patch must not trace it
            return forward(*args, **kwargs)
        fn = expansion_for(m)
        if fn is not None:
            return fn(m, *args, **kwargs)
        return super().call_module(m, forward, args, kwargs)

    def is_leaf_module(self, m: torch.nn.Module, module_qualified_name: str) -> bool:
        """A torch.nn module is one step only where a rule describes it (``nn.Conv2d``); a
        composite one with no rule (``nn.Transformer``, ``nn.Softmax2d``) is traced into its ops."""
        if isinstance(m, torch.nn.Sequential) or not m.__module__.startswith("torch.nn"):
            return False
        return registry.lookup("call_module", module_qualified_name, m) is not None

    def example_value(self, node: fx.Node) -> Any:
        """Run the graph traced so far, up to ``node``, on copies of the inputs and modules.

        Copies, and the RNG state restored after, so that nothing the real run will
        see (inputs, parameters, running statistics, random draws) is touched.
        """
        saved = torch.random.get_rng_state()
        try:
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
        finally:
            torch.random.set_rng_state(saved)

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


def example_value(proxy: fx.Proxy) -> Any:
    """The value ``proxy`` takes on the example inputs, for expansions that need concrete sizes."""
    tracer = proxy.tracer
    if not isinstance(tracer, _Tracer):
        raise TypeError("example_value works while symbolic_torch traces a model")
    return tracer.example_value(proxy.node)


def _trace(model: torch.nn.Module | Callable[..., Any], inputs: tuple[Any, ...] = ()) -> fx.GraphModule:
    registry._load()  # rule files may fx.wrap functions: load them before the first trace
    if isinstance(model, torch.nn.Module) and expansion_for(model) is not None:
        return _trace_expanded_root(model, inputs)
    tracer = _Tracer(inputs)
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
    tracer = _Tracer(inputs)
    graph = tracer.trace(holder)
    for node in graph.nodes:
        if node.op in ("get_attr", "call_module"):
            target = str(node.target)
            if target == "model" or not target.startswith("model."):
                raise CaptureError(f"the expansion of {type(model).__name__} left the module call {target!r}")
            node.target = target[len("model."):]
    return fx.GraphModule(model, graph, type(model).__name__)


def _export(model: Any, inputs: tuple[Any, ...], fx_error: Exception) -> fx.GraphModule:
    module = model if isinstance(model, torch.nn.Module) else _Wrap(model)
    try:
        with warnings.catch_warnings():  # torch's own deprecation chatter (pytree specs), not the user's:
            warnings.simplefilter("ignore", FutureWarning)  # the model's code warns again when it runs
            program = torch.export.export(module, tuple(inputs))
            gm = program.module()
            _strip_export_plumbing(gm)
            try:
                _functionalize(gm, inputs)
            except _Aliased:  # a write through a view: torch's functionalization turns it into scatters
                gm = program.run_decompositions({}).module()
                _strip_export_plumbing(gm)
                _functionalize(gm, inputs)
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


_INPLACE_FUNCTIONS = {operator.iadd: operator.add, operator.isub: operator.sub,
                      operator.imul: operator.mul, operator.itruediv: operator.truediv,
                      torch.zero_: torch.zeros_like}  # torch.zero_ has no torch.zero


_FUNCTION_SPACES = (torch, torch.nn.functional, torch.special)
# In-place methods with no out-of-place method of the same name: the function that computes the same.
_INPLACE_METHODS = {"zero_": torch.zeros_like, "fill_": torch.full_like}


def _functionalize(gm: fx.GraphModule, inputs: tuple[Any, ...] = ()) -> None:
    """Rewrite in-place ops (``ReLU(inplace=True)``, ``x.add_(y)``, ``x += y``, ``torch.relu_(x)``)
    as out-of-place ones whose result later steps read instead of the tensor they overwrote.

    An in-place op overwrites the tensor an earlier step produced, so that step's recorded
    output would be wrong. When the overwritten tensor shares memory with another one that is
    read later (a view such as ``x[0]`` or ``x.view(-1)``, or the tensor a view was taken of),
    rewiring one node is not enough: ``_Aliased`` is raised and the caller captures with
    torch.export, whose functionalization rewrites views into scatters.
    """
    mutating = [node for node in gm.graph.nodes if _make_out_of_place(gm, node)]
    gm.recompile()
    if not mutating:
        return
    values = _run_for_storage(gm, inputs)
    order = {node: k for k, node in enumerate(gm.graph.nodes)}
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
                raise _Aliased(f"{node.name} overwrites {target.name}, which shares memory with {other.name}")
    for node in mutating:  # later readers of the overwritten tensor read the new value
        target = node.args[0]
        if isinstance(target, fx.Node) and isinstance(values.get(target), torch.Tensor):
            for user in list(target.users):
                if order[user] > order[node]:
                    user.replace_input_with(target, node)
    gm.recompile()


class _Aliased(Exception):
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
            raise _Aliased(f"{node.target} has no out-of-place form")
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
        if getattr(space, name, None) is target:
            plain = getattr(space, name[:-1], None)
            if plain is not None:
                return plain
    return None


def _run_for_storage(gm: fx.GraphModule, inputs: tuple[Any, ...]) -> dict[fx.Node, Any]:
    """Every node's value on copies of the inputs and modules, to see which share memory."""
    saved = torch.random.get_rng_state()
    values: dict[fx.Node, Any] = {}

    nodes = {n.name: n for n in gm.graph.nodes}

    class _Record(fx.Interpreter):
        def run_node(self, n: fx.Node) -> Any:
            values[nodes[n.name]] = result = super().run_node(n)
            return result

    try:
        copies = [x.detach().clone() if isinstance(x, torch.Tensor) else x for x in inputs]
        with torch.no_grad():
            _Record(copy.deepcopy(gm)).run(*copies)
    except Exception as error:
        raise _Aliased(f"the graph could not be run to look for shared memory: {error}") from error
    finally:
        torch.random.set_rng_state(saved)
    return values


def _set_submodule(gm: fx.GraphModule, path: str, module: torch.nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(gm.get_submodule(parent) if parent else gm, name, module)


def _append_loss(gm: fx.GraphModule, loss: Any) -> None:
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
        if isinstance(loss, torch.nn.Module) and registry.lookup("call_module", LOSS_PATH, loss) is not None:
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
    registry._load()
    try:
        root = loss if isinstance(loss, torch.nn.Module) else _LossFn(loss)
        lgraph = _Tracer().trace(root)
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
