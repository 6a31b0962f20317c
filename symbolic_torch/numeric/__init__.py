"""Numbers: the one evaluator of index formulas, the autograd reference, RNG state.

Loading this package fills the evaluator's handler table (algebra, reductions, functions),
so a formula evaluates the same whatever else was imported. New sympy classes are taught
with ``register(cls, handler)``; ``elementwise(fn)`` makes the handler of an elementwise one.
The grid walk is the reference; ``numeric.compile`` compiles formulas into torch programs
(einsum, strided views, masks) behind the same entry points (``numeric.evaluate``).
"""
from __future__ import annotations

from symbolic_torch.numeric import algebra, functions, reductions  # noqa: F401  (they register their handlers)
from symbolic_torch.numeric.grid import Grid, Handler, elementwise, register

__all__ = ["Grid", "Handler", "elementwise", "register"]
