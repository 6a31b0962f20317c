"""Test helpers: prove a custom ``torch.autograd.Function``'s backward right.

>>> import torch
>>> class Square(torch.autograd.Function):
...     @staticmethod
...     def forward(ctx, x):
...         ctx.save_for_backward(x)
...         return x * x
...     @staticmethod
...     def backward(ctx, grad_output):
...         (x,) = ctx.saved_tensors
...         return 2 * x * grad_output
>>> assert_gradients_match(Square, torch.randn(3, 2, dtype=torch.float64)).ok
True

``torch.autograd.gradcheck`` compares finite differences at the one point it
is given. This derives the true gradient from the Function's ``forward`` with
symbolic_torch, reads the user's ``backward`` as a formula by running it on
symbolic tensors, proves the two equal with sympy when it can, and compares
the user's real backward with the derived gradient at many points in float64
— among them points on both sides of every branch condition (``Piecewise``,
``Abs``, ``relu``, ``where``, ``clamp`` …) of either formula. A failure names
the input whose gradient is wrong and shows both formulas, their simplified
difference and a point where they differ. See ``symbolic_torch.gradcheck.check`` for the steps.
"""
from __future__ import annotations

from typing import Any

from symbolic_torch.gradcheck.check import check_gradients
from symbolic_torch.gradcheck.result import GradientCheck
from symbolic_torch.numeric.tolerances import GRADCHECK

__all__ = ["assert_gradients_match", "check_gradients", "GradientCheck"]


def assert_gradients_match(fn_cls: type, *inputs: Any, order: int = 1, atol: float = GRADCHECK.atol,
                           rtol: float = GRADCHECK.rtol, time_budget: float = 10.0, n_points: int = 24,
                           seed: int = 0) -> GradientCheck:
    """Raise ``AssertionError`` unless ``fn_cls.backward`` computes the gradient of ``fn_cls.forward``.

    ``inputs`` are the arguments of ``fn_cls.apply``: tensors (floating-point ones
    are differentiated, in float64) and any other values, passed through as they
    are (``assert_gradients_match(Scale, x, 2.0)``). Outputs may be tuples; inputs
    may broadcast against each other.

    - ``order=2`` also checks the backward of the backward (double backward).
    - ``atol``, ``rtol``: the numeric comparison's tolerance,
      ``|yours − derived| ≤ atol + rtol·|derived|``.
    - ``time_budget``: seconds for the symbolic proofs; what is not proved by then
      is decided by the numbers alone.
    - ``n_points``: random points on top of the example point and the branch points.
    - ``seed``: of the random points and adjoints (the check is deterministic).

    Returns the ``GradientCheck`` (``str()`` of it summarises what was proved).
    """
    __tracebackhide__ = True  # pytest shows the message at the caller's line, not this frame
    result = check_gradients(fn_cls, *inputs, order=order, atol=atol, rtol=rtol, time_budget=time_budget,
                             n_points=n_points, seed=seed)
    if not result.ok:
        raise AssertionError(str(result))
    return result
