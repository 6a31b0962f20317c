"""The rule table, loaded: lookups of the rule, expansion or constant-ness of a target.

Importing this module imports ``symbolic_torch.rules`` (each family registers itself with the
decorators of ``registry``), so a lookup never depends on what happened to be imported first.
The registry itself (the decorators and the tables they fill) imports no rule: rules import it.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

import symbolic_torch.rules  # noqa: F401  (registers every family)
from symbolic_torch.frontend.registry import (BY_FUNCTION, BY_METHOD, BY_MODULE, CONSTANT_FUNCTIONS,
                                              CONSTANT_METHODS, EXPANSIONS, RULES, Rule, Tolerance)


def is_constant(op: str, target: Any) -> bool:
    """Is this node's output a constant (see ``constant``)?"""
    if op == "call_method":
        return target in CONSTANT_METHODS
    if op == "call_function":
        if isinstance(target, torch._ops.OpOverload):  # aten.zeros_like.default → torch.zeros_like
            name = target._opname
            return name in CONSTANT_METHODS or any(
                getattr(space, name, None) in CONSTANT_FUNCTIONS for space in (torch, torch.nn.functional))
        return target in CONSTANT_FUNCTIONS  # sees through wrappers (TorchLens, functools.wraps)
    return False


def expansion_for(module: torch.nn.Module) -> Callable[..., Any] | None:
    """The expansion registered for ``module``'s class (or a base class), if any."""
    for cls in type(module).__mro__:
        if cls in EXPANSIONS:
            return EXPANSIONS[cls]
    return None


def tolerance_of(names: Iterable[str]) -> Tolerance | None:
    """The widest tolerance among the named rules, their reasons joined; None when none has one."""
    tols = [(n, RULES[n].tolerance) for n in dict.fromkeys(names) if n in RULES and RULES[n].tolerance is not None]
    if not tols:
        return None
    return Tolerance("; ".join(f"{n}: {t.reason}" for n, t in tols),
                     max(t.atol for _, t in tols), max(t.rtol for _, t in tols))


def lookup(op: str, target: Any, module: torch.nn.Module | None = None) -> Rule | None:
    """The rule for an fx node (``op`` is the fx opcode), or None."""
    if op == "call_module" and module is not None:
        for cls in type(module).__mro__:
            if cls in BY_MODULE:
                return BY_MODULE[cls]
        return None
    if op == "call_method":
        return BY_METHOD.get(target)
    if isinstance(target, torch._ops.OpOverload):
        return _aten(target)
    return BY_FUNCTION.get(target)  # by identity through wrappers, else by qualified name


def _aten(target: torch._ops.OpOverload) -> Rule | None:
    """An ATen overload (from torch.export) → the rule of the torch function of that name.

    ``aten.relu.default`` → ``torch.relu``, ``aten.linear.default`` → ``F.linear``,
    ``aten.view.default`` → the ``view`` method; their signatures agree positionally.
    """
    name = target._opname
    for space in (torch, torch.nn.functional, torch._C._nn):
        fn = getattr(space, name, None)
        found = BY_FUNCTION.get(fn) if fn is not None else None
        if found is not None:
            return found
    return BY_METHOD.get(name)
