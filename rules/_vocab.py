"""Shorthands shared by the rule families (the table's vocabulary)."""
from __future__ import annotations

from typing import Any, Callable, Iterable

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.frontend.registry import Tolerance, rule

IGNORED = ("inplace", "out", "memory_format")
BATCH = "ntsr"


def is_tensor(v: Any) -> bool:
    """Is ``v`` a tensor argument of the node (a ``TensorArg``) or a constant tensor?"""
    return isinstance(v, (TensorArg, torch.Tensor))


def read(call: Call, v: Any, key: str, symbol: str) -> sp.Expr:
    """``v`` at the output's indices: a broadcast tensor element or a number."""
    if is_tensor(v):
        return call.broadcast(call.operand(v, key, symbol))
    return call.scalar(v)


def unary(name: str, f: Callable[..., sp.Expr], *, functions: Iterable[Any] = (),
          methods: Iterable[str] = (), modules: Iterable[type] = (), latex: str | None = None,
          tolerance: Tolerance | None = None) -> None:
    """Register an elementwise rule ``y[i…] = f(x[i…], call, *args, **kwargs)``.

    For a module call, ``f`` reads its hyperparameters from ``call.module``.
    """
    def impl(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
        for k in IGNORED:
            kwargs.pop(k, None)
        x = call.operand(input, "input", "x")
        call.default_out()
        return f(call.broadcast(x), call, *args, **kwargs)
    impl.__doc__ = f.__doc__
    rule(name, functions=functions, methods=methods, modules=modules, latex=latex, tolerance=tolerance)(impl)


def binary(name: str, f: Callable[..., sp.Expr], *, functions: Iterable[Any] = (),
           methods: Iterable[str] = (), latex: str | None = None, reverse: bool = False,
           options: Iterable[str] = ()) -> None:
    """Register a broadcasting elementwise rule ``y[i…] = f(u[…], v[…])``.

    Keyword arguments named in ``options`` (``rounding_mode``) are passed on to ``f``.
    """
    options = tuple(options)

    def impl(call: Call, input: Any, other: Any, *, alpha: Any = 1, **kwargs: Any) -> sp.Expr:
        extra = {k: v for k, v in kwargs.items() if k not in IGNORED and v is not None}
        given = {k: extra.pop(k) for k in options if k in extra}
        if extra:  # an option the formula below does not know
            raise NotImplementedError(f"{name} with {extra}")
        call.default_out()
        a, b = (other, input) if reverse else (input, other)
        u = read(call, a, "input" if not reverse else "other", "u")
        v = read(call, b, "other" if not reverse else "input", "v")
        if alpha != 1:
            v = call.scalar(alpha) * v
        return f(u, v, **given)
    impl.__doc__ = f.__doc__
    rule(name, functions=functions, methods=methods, latex=latex)(impl)


def names(n: int, last: Iterable[str] = (), pool: str = BATCH) -> list[str]:
    """``n`` index names: the batch pool first, then ``last`` for the trailing dims."""
    last = list(last)
    lead = n - len(last)
    if lead < 0:
        return last[-n:] if n else []
    head = [pool[k] if k < len(pool) else f"{pool[0]}{k}" for k in range(lead)]
    return head + last


def dim(d: int, ndim: int) -> int:
    """A possibly negative dim, normalised."""
    return d + ndim if d < 0 else d
