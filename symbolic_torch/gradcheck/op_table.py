"""The table of ops ``SymbolicTensor`` knows: torch op name → its implementation on sympy elements.

``tensor`` dispatches through it; ``symbolic_ops`` and ``symbolic_shape_ops`` fill it with
``register``; ``symbolic_tensor`` loads them all. An op missing from it raises ``Untraceable``.
"""
from __future__ import annotations

from typing import Any, Callable

Handler = Callable[..., Any]
HANDLERS: dict[str, Handler] = {}


class Untraceable(Exception):
    """The code did something the symbolic tracer cannot follow; the message says what."""


def register(*names: str) -> Callable[[Handler], Handler]:
    """Decorator: ``f`` implements the torch ops ``names`` (function, method and in-place forms)."""
    def put(f: Handler) -> Handler:
        for n in names:
            HANDLERS[n] = f
        return f
    return put


def handler(name: str) -> Handler:
    """The implementation of torch op ``name``: ``add_`` and ``__add__`` find ``add``."""
    for key in (name, name.strip("_"), name.rstrip("_")):
        if key in HANDLERS:
            return HANDLERS[key]
    raise Untraceable(f"torch op {name!r} is not supported by the symbolic tracer")


def knows(name: str) -> bool:
    """Is there an implementation of ``name`` (or of its in-place form's base)?"""
    return name in HANDLERS or name.rstrip("_") in HANDLERS
