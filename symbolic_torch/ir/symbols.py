"""Symbols of the index notation: index variables, tensor bases, adjoints.

Every tensor in a formula is a real ``IndexedBase``; every index is an integer
``Symbol``. Ranges of indices are kept outside sympy, as ``{symbol: (lo, hi)}``
(inclusive), because sympy's ``Idx`` ranges interfere with delta evaluation.
"""
from __future__ import annotations

from typing import Iterable

import sympy as sp

ADJOINT = "ḡ"  # the adjoint of a step's output: ḡ[i] = ∂L/∂y[i]
GRAD_PREFIX = "∂L/∂"

Ranges = dict[sp.Symbol, tuple[int, int]]


def index(name: str) -> sp.Symbol:
    """An integer index variable named ``name``."""
    return sp.Symbol(name, integer=True)


def indices(names: Iterable[str]) -> tuple[sp.Symbol, ...]:
    """Index variables for each of ``names``."""
    return tuple(index(n) for n in names)


def tensor(name: str) -> sp.IndexedBase:
    """A real-valued tensor base named ``name``."""
    return sp.IndexedBase(name, real=True)


def adjoint() -> sp.IndexedBase:
    """The adjoint base ḡ of a step's output."""
    return tensor(ADJOINT)


def gradient_of(symbol: str) -> sp.IndexedBase:
    """The base ``∂L/∂symbol`` used on the left of a gradient formula."""
    return tensor(GRAD_PREFIX + symbol)


def base_name(expr: sp.Indexed | sp.IndexedBase) -> str:
    """The name of a tensor base (or of the base of an indexed element)."""
    base = expr.base if isinstance(expr, sp.Indexed) else expr
    return str(base.label)


def fresh_name(preferred: str, taken: set[str]) -> str:
    """``preferred``, primed until it is not in ``taken``."""
    name = preferred
    while name in taken:
        name += "'"
    return name
