"""A tensor of sympy expressions, for tracing code that torch.fx cannot lower.

``SymbolicTensor`` holds one sympy expression per element (a numpy object
array) and answers torch's ``__torch_function__`` protocol, so ordinary torch
code — ``torch.where``, masks, ``clamp``, ``F.softplus``, in-place edits,
indexing — runs on it and leaves behind, per element, the formula it computed.
The gradient checker uses it to read a user's ``backward`` as formulas: boolean
masks become ``Piecewise`` conditions instead of the constants a numeric trace
would freeze. An op it does not know raises ``Untraceable`` naming it.

This module is the door: it loads the op table once (``symbolic_ops``,
``symbolic_shape_ops``) and offers the class with it (defined in ``tensor``).

>>> import torch, sympy as sp
>>> x = SymbolicTensor.symbols("x", (2,))
>>> torch.where(x > 0, 2 * x, x).data[0]
Piecewise((2*x[0], x[0] > 0), (x[0], True))
"""
from __future__ import annotations

from symbolic_torch.gradcheck import symbolic_ops, symbolic_shape_ops  # noqa: F401  (fill the op table)
from symbolic_torch.gradcheck.op_table import HANDLERS, Untraceable
from symbolic_torch.gradcheck.tensor import SymbolicTensor, as_real, call, constant, number, objects

__all__ = ["HANDLERS", "SymbolicTensor", "Untraceable", "as_real", "call", "constant", "number", "objects"]
