"""Every handler belongs to the evaluator: a formula evaluates the same whatever was imported."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import sympy as sp
import torch

from symbolic_torch.ir.functions import Floor
from symbolic_torch.numeric import Grid, elementwise, register
from symbolic_torch.numeric.evaluate import evaluate

_FRESH = textwrap.dedent('''
    import sys
    import sympy as sp
    import torch
    from symbolic_torch.ir.functions import Ceiling, Entr, ExpShift, Floor, Ndtr, Round, ScaledBesselI, Sign, Trunc
    from symbolic_torch.numeric.evaluate import evaluate

    x, y, k = sp.Symbol("x"), sp.Symbol("y"), sp.Symbol("k", integer=True)
    X, Y = torch.tensor(-1.5, dtype=torch.float64), torch.tensor(0.25, dtype=torch.float64)
    env = {"x": X, "y": Y}
    cases = [
        (sp.erfc(x), torch.erfc(X)), (sp.erfinv(y), torch.erfinv(Y)), (sp.loggamma(y), torch.lgamma(Y)),
        (sp.asinh(x), torch.asinh(X)), (sp.acosh(2 - x), torch.acosh(2 - X)), (sp.atanh(y), torch.atanh(Y)),
        (sp.atan2(x, y), torch.atan2(X, Y)), (sp.polygamma(1, y), torch.polygamma(1, Y)),
        (sp.besseli(2, x), torch.special.i0(X) - 2 / X * torch.special.i1(X)),
        (Floor(x), torch.floor(X)), (Ceiling(x), torch.ceil(X)), (Sign(x), torch.sign(X)),
        (Trunc(x), torch.trunc(X)), (Round(x + 2), torch.round(X + 2)),
        (Ndtr(x), torch.special.ndtr(X)), (ExpShift(x, y), torch.exp(X - Y)),
        (sp.Product(x + k, (k, 1, 3)), (X + 1) * (X + 2) * (X + 3)),
        (Entr(y), torch.special.entr(Y)), (ScaledBesselI(1, x), torch.special.i1e(X)),
    ]
    for expr, want in cases:
        got = evaluate(expr, env)
        assert torch.allclose(got, want.to(torch.float64), rtol=1e-12, atol=1e-12), (expr, got, want)
    assert not any(m.startswith("symbolic_torch.rules") for m in sys.modules), "the rules were imported"
    print("ok", len(cases))
''')


def test_every_function_evaluates_without_the_rules_imported() -> None:
    """In a fresh interpreter that never imports the rule table, the notation and the special
    functions the rules write evaluate to torch's values."""
    done = subprocess.run([sys.executable, "-c", _FRESH], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "19"]


class _Cube(sp.Function):
    """x³, a class the evaluator does not know until registered."""


class _Twice(sp.Function):
    """2·(argument), evaluated through the grid's public ``eval``."""


def test_registering_a_class_teaches_the_evaluator() -> None:
    x = sp.Symbol("x")
    X = torch.tensor(1.5, dtype=torch.float64)
    try:
        evaluate(_Cube(x), {"x": X})
    except TypeError as err:
        assert "_Cube" in str(err)
    else:
        raise AssertionError("an unknown class evaluated")
    register(_Cube, elementwise(lambda v: v ** 3))
    register(_Twice, lambda e, g: 2 * g.eval(e.args[0]))
    assert float(evaluate(_Twice(_Cube(x) + 1), {"x": X})) == 2 * (1.5 ** 3 + 1)


def test_a_subclass_uses_its_parents_handler() -> None:
    """Floor is sympy's floor with ∂ = 0; it evaluates through floor's handler."""
    i = sp.Symbol("i", integer=True)
    got = evaluate(Floor(i / sp.Integer(2)), {}, [(i, -3, 3)])
    assert got.tolist() == [-2.0, -1.0, -1.0, 0.0, 0.0, 1.0, 1.0]


def test_a_grid_memo_is_read_before_the_handlers() -> None:
    """Values given for subexpressions (a batch of points) are used as they are."""
    x = sp.IndexedBase("x")
    p = sp.Symbol("p", integer=True)
    grid = Grid({}).bind(p, 0, 2)
    grid.memo = {x[0]: torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)}
    assert grid.eval(2 * x[0] + 1).tolist() == [3.0, 5.0, 7.0]
