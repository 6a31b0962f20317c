"""Zero padding: one rule for reading an element, used by the evaluator, the scalar chain and the printer."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
import torch

from symbolic_torch.gradcheck.scalar_chain import instantiate
from symbolic_torch.numeric.evaluate import evaluate
from symbolic_torch.numeric.padding import contains, element, gather
from symbolic_torch.printing.worked import numeric

X = torch.arange(1.0, 7.0, dtype=torch.float64).reshape(2, 3)
POSITIONS = [(0, 0), (1, 2), (-1, 0), (2, 0), (0, 3), (0.5, 1), (1, 1.0)]
WANT = [1.0, 6.0, 0.0, 0.0, 0.0, 0.0, 5.0]


def test_contains_is_integral_and_in_range() -> None:
    assert [bool(contains(X.shape, p)) for p in POSITIONS] == [w != 0 for w in WANT]


def test_element_reads_or_gives_the_outside_value() -> None:
    assert [float(element(X, p)) for p in POSITIONS] == WANT
    assert element(X, (5, 5), outside=sp.S.Zero) is sp.S.Zero
    with pytest.raises(ValueError):
        element(X, (0,))


def test_gather_is_element_at_every_position() -> None:
    rows = torch.tensor([p[0] for p in POSITIONS], dtype=torch.float64)
    cols = torch.tensor([p[1] for p in POSITIONS], dtype=torch.float64)
    assert gather(X, [rows, cols]).tolist() == WANT
    assert gather(X.T.contiguous().T, [rows, cols]).tolist() == WANT  # a non-contiguous tensor reads the same
    assert gather(torch.zeros(2, 0), [rows, cols]).tolist() == [0.0] * len(WANT)


def test_the_evaluator_the_scalar_chain_and_the_printer_agree() -> None:
    x = sp.IndexedBase("x")
    i, j = sp.symbols("i j", integer=True)
    read = x[i - 1, 2 * j - 1]
    full = evaluate(read, {"x": X}, [(i, 0, 3), (j, 0, 2)])
    objs = np.array([[sp.Symbol(f"x{a}{b}") for b in range(3)] for a in range(2)], dtype=object)
    values = {sp.Symbol(f"x{a}{b}"): float(X[a, b]) for a in range(2) for b in range(3)}
    for a in range(4):
        for b in range(3):
            chained = instantiate(read, {i: a, j: b}, {"x": objs})
            assert float(sp.sympify(chained).xreplace(values)) == float(full[a, b])
            printed, _ = numeric(read.xreplace({i: a, j: b}), {"x": X})
            assert float(printed) == float(full[a, b])
