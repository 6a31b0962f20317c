"""The rule table's machinery: the ``@rule`` decorator, lookup and validation.

A rule maps torch targets (call_function targets, method names, module
classes) to a function that returns the op's forward formula in index form.
The table itself lives in ``rules/`` (shipped as ``symbolic_torch.rules``).
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Iterable

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


RULES: dict[str, Rule] = {}
BY_FUNCTION: dict[Any, Rule] = {}
BY_METHOD: dict[str, Rule] = {}
BY_MODULE: dict[type, Rule] = {}
EXPANSIONS: dict[type, Callable[..., Any]] = {}
CONSTANT_FUNCTIONS: set[Any] = set()
CONSTANT_METHODS: set[str] = set()


def constant(*, functions: Iterable[Any] = (), methods: Iterable[str] = ()) -> None:
    """Declare targets whose output does not depend differentiably on their inputs.

    ``torch.ones_like(x)``, ``x.detach()``, ``x.new_zeros(…)``: their outputs are
    constants of the derivation (no step, no gradient), like torch's ``detach``.
    """
    CONSTANT_FUNCTIONS.update(functions)
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
        if f in BY_FUNCTION:
            raise RuleTableError(f"{where}: target {f!r} already belongs to rule {BY_FUNCTION[f].name!r}")
    for m in entry.methods:
        if not isinstance(m, str):
            raise RuleTableError(f"{where}: method names are strings, got {m!r}")
        if m in BY_METHOD:
            raise RuleTableError(f"{where}: method {m!r} already belongs to rule {BY_METHOD[m].name!r}")
