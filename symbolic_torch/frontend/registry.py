"""The rule table's machinery: the ``@rule`` decorator, lookup and validation.

A rule maps torch targets (call_function targets, method names, module
classes) to a function that returns the op's forward formula in index form.
The table itself lives in ``rules/`` (shipped as ``symbolic_torch.rules``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterable, TypeVar

import torch

from symbolic_torch.errors import SymbolicTorchError
from symbolic_torch.numeric.tolerances import MAX_TOLERANCE, WITHIN, Tolerance  # noqa: F401  (rules declare Tolerance here)


@dataclass(frozen=True)
class Rule:
    """One entry of the rule table."""

    name: str
    impl: Callable[..., Any]
    latex: str
    functions: tuple[Callable[..., Any], ...] = ()
    methods: tuple[str, ...] = ()
    modules: tuple[type, ...] = ()
    doc: str = ""
    multi_output: bool = False  # the op returns a tuple; the builder reads ``call.item``
    tolerance: Tolerance | None = None  # torch's kernel is known to be less exact than the formula


class RuleTableError(SymbolicTorchError):
    """A rule-table entry is malformed; the message names the entry."""


def unwrapped_id(fn: Any) -> int:
    """The identity of the function ``fn`` stands for, seen through wrappers.

    Libraries that trace models (TorchLens) or add behaviour replace ``torch.relu`` by a wrapper
    made with ``functools.wraps``: the chain of ``__wrapped__`` leads back to the original.
    TorchLens deletes ``__wrapped__`` from its wrappers of C builtins (TorchScript follows it) and
    keeps the original's ``id`` as ``__tl_original_id__`` instead. Either way a wrapper and
    its original get the same identity, whichever of the two the rules or the graph hold.
    """
    seen: set[int] = set()
    while id(fn) not in seen:
        seen.add(id(fn))
        original = _attribute(fn, "__tl_original_id__")
        if isinstance(original, int) and not isinstance(original, bool):
            return original
        inner = _attribute(fn, "__wrapped__")
        if inner is None:
            break
        fn = inner
    return id(fn)


def qualified_name(fn: Any) -> str | None:
    """``"torch.relu"``, ``"torch.nn.functional.relu"``: where the (unwrapped) function says it lives.

    ``functools.wraps`` copies ``__module__`` and ``__name__``, so a wrapper keeps its
    original's name even where it keeps no link to the original itself.
    """
    for _ in range(64):  # a __wrapped__ chain is short; a cycle must not hang the lookup
        inner = _attribute(fn, "__wrapped__")
        if inner is None:
            break
        fn = inner
    module, name = _attribute(fn, "__module__"), _attribute(fn, "__name__")
    return f"{module}.{name}" if isinstance(module, str) and isinstance(name, str) else None


def _attribute(obj: Any, name: str) -> Any:
    try:
        return getattr(obj, name, None)
    except Exception:  # a proxy or descriptor that raises on attribute access
        return None


V = TypeVar("V")
_AMBIGUOUS: Any = object()


class FunctionTable(Generic[V]):
    """A dict from functions to values whose keys see through wrappers.

    A key is found by its identity after unwrapping (``unwrapped_id``); failing that, by its
    qualified name, unless two entries with different values share that name. So a rule
    registered for ``torch.relu`` matches TorchLens' wrapper of it and the other way round,
    whether the wrapping happened before the rules loaded or after.
    """

    def __init__(self, entries: dict[Any, V] | None = None) -> None:
        self._by_id: dict[int, tuple[Any, V]] = {}  # the function is kept so that its id stays its own
        self._by_name: dict[str, V] = {}
        for fn, value in (entries or {}).items():
            self[fn] = value

    def __setitem__(self, fn: Any, value: V) -> None:
        self._by_id[unwrapped_id(fn)] = (fn, value)
        name = qualified_name(fn)
        if name is not None:
            known = self._by_name.get(name, value)
            self._by_name[name] = value if known is value else _AMBIGUOUS

    def get(self, fn: Any, default: V | None = None) -> V | None:
        """The value of ``fn`` (or of the function it wraps or that wraps it), else ``default``."""
        hit = self.identical(fn)
        if hit is not None:
            return hit
        name = qualified_name(fn)
        value = self._by_name.get(name, _AMBIGUOUS) if name is not None else _AMBIGUOUS
        return default if value is _AMBIGUOUS else value

    def identical(self, fn: Any) -> V | None:
        """The value of ``fn`` or of a wrapper of it, found by identity only (never by name)."""
        hit = self._by_id.get(unwrapped_id(fn))
        return None if hit is None else hit[1]

    def __contains__(self, fn: Any) -> bool:
        return self.get(fn, _AMBIGUOUS) is not _AMBIGUOUS

    def __getitem__(self, fn: Any) -> V:
        value = self.get(fn, _AMBIGUOUS)
        if value is _AMBIGUOUS:
            raise KeyError(fn)
        return value

    def __len__(self) -> int:
        return len(self._by_id)


RULES: dict[str, Rule] = {}
BY_FUNCTION: FunctionTable[Rule] = FunctionTable()
BY_METHOD: dict[str, Rule] = {}
BY_MODULE: dict[type, Rule] = {}
EXPANSIONS: dict[type, Callable[..., Any]] = {}
CONSTANT_FUNCTIONS: FunctionTable[bool] = FunctionTable()
CONSTANT_METHODS: set[str] = set()


def constant(*, functions: Iterable[Any] = (), methods: Iterable[str] = ()) -> None:
    """Declare targets whose output does not depend differentiably on their inputs.

    ``torch.ones_like(x)``, ``x.detach()``, ``x.new_zeros(…)``: their outputs are
    constants of the derivation (no step, no gradient), like torch's ``detach``.
    """
    for f in functions:
        CONSTANT_FUNCTIONS[f] = True
    CONSTANT_METHODS.update(methods)


def expansion(*modules: type) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn(module, *inputs)`` as what capture traces instead of calling ``module``.

    For composite layers (LSTM cells, attention): ``fn`` is written in ops the table
    already has, so each gate or projection becomes its own step. Parameters read as
    ``module.weight_ih`` keep their qualified names.
    """
    def register(fn: Callable[..., Any]) -> Callable[..., Any]:
        for m in modules:
            if m in EXPANSIONS:
                raise RuleTableError(f"expansion for {m.__name__} registered twice")
            EXPANSIONS[m] = fn
        return fn
    return register


def rule(name: str, *, functions: Iterable[Any] = (), methods: Iterable[str] = (),
         modules: Iterable[type] = (), latex: str | None = None, multi_output: bool = False,
         tolerance: Tolerance | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register the decorated formula builder as rule ``name``.

    The builder is called as ``impl(call, *args, **kwargs)`` with the node's
    arguments (tensors wrapped as ``TensorArg``; a module call passes its
    inputs and exposes the module as ``call.module``) and returns the rhs.
    ``tolerance``: torch's kernel is known to compute the op less exactly (see ``Tolerance``).
    """
    def register(impl: Callable[..., Any]) -> Callable[..., Any]:
        entry = Rule(name, impl, latex or rf"\operatorname{{{name}}}", tuple(functions),
                     tuple(methods), tuple(modules), inspect.getdoc(impl) or "", multi_output, tolerance)
        _validate(entry)
        RULES[name] = entry
        for f in entry.functions:
            BY_FUNCTION[f] = entry
        for m in entry.methods:
            BY_METHOD[m] = entry
        for c in entry.modules:
            BY_MODULE[c] = entry
        return impl
    return register


def _validate(entry: Rule) -> None:
    where = f"rule {entry.name!r}"
    if entry.name in RULES:
        raise RuleTableError(f"{where}: registered twice")
    if not (entry.functions or entry.methods or entry.modules):
        raise RuleTableError(f"{where}: matches no target (give functions=, methods= or modules=)")
    if not callable(entry.impl):
        raise RuleTableError(f"{where}: formula builder is not callable")
    tol = entry.tolerance
    if tol is not None and not (isinstance(tol, Tolerance) and tol.valid()):
        raise RuleTableError(f"{where}: a tolerance is a Tolerance with a reason and atol, rtol in [0, {MAX_TOLERANCE:g}]")
    for m in entry.modules:
        if not (isinstance(m, type) and issubclass(m, torch.nn.Module)):
            raise RuleTableError(f"{where}: {m!r} is not an nn.Module class")
    for f in entry.functions:
        owner = BY_FUNCTION.identical(f)
        if owner is not None:
            raise RuleTableError(f"{where}: target {f!r} already belongs to rule {owner.name!r}")
    for m in entry.methods:
        if not isinstance(m, str):
            raise RuleTableError(f"{where}: method names are strings, got {m!r}")
        if m in BY_METHOD:
            raise RuleTableError(f"{where}: method {m!r} already belongs to rule {BY_METHOD[m].name!r}")
