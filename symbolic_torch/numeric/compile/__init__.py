"""Compiled tensor programs for index formulas: the evaluator's fast path.

A derived formula is compiled once (cached by its structure, ranges, shapes and device) into
torch operations on the device of the run's tensors, in float64: a read with affine positions
is a strided view of the zero-padded (for rational positions, dilated) tensor, a read through
an index table a gather, a Σ of a product an einsum (opt_einsum picks the order when
installed), guards 0/1 masks (or ``where`` when a factor is not finite), functions their
torch functions, the window max ``amax``. The formula alone decides the program: nothing
recognises which op a step came from. What the compiler does not translate is evaluated,
per subexpression, by the reference evaluator (``numeric.grid``), and counted in ``stats()``.

    >>> import sympy as sp, torch
    >>> from symbolic_torch.ir import symbols as S
    >>> x, w, (i, p) = S.tensor("x"), S.tensor("w"), S.indices("ip")
    >>> conv = sp.Sum(w[p] * x[2 * i + p - 1], (p, 0, 2))   # stride 2, padding 1
    >>> run(conv, {"x": torch.arange(5.0, dtype=torch.float64), "w": torch.ones(3, dtype=torch.float64)}, [(i, 0, 2)])
    tensor([1., 6., 7.], dtype=torch.float64)
"""
from __future__ import annotations

from symbolic_torch.numeric.compile.program import Program, compile_formula, run, stats

__all__ = ["Program", "compile_formula", "run", "stats"]
