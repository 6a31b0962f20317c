"""The compiled evaluator (numeric.compile) against the reference grid evaluator and torch.

Hand-picked formulas of the shapes derived gradients take (strided, dilated and padded reads,
divisibility guards, gathers, window max, NaN/Inf under guards), each run by both evaluators
and, where torch has the op, checked against torch itself; then the sweep of every rule's
agreement test with ``SYMBOLIC_TORCH_EVALUATOR=both`` (slow).
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

import symbolic_torch as st
import symbolic_torch.numeric.compile as C
import symbolic_torch.numeric.evaluate as E
from symbolic_torch.errors import EvaluatorMismatchError
from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax

x, w, g, t, y = (S.tensor(s) for s in ("x", "w", "ḡ", "t", "y"))
n, o, c, i, j, k, p, q = S.indices("nocijkpq")
ROOT = Path(__file__).resolve().parents[2]


def rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(seed + sum(shape)))


def both(expr: sp.Basic, env: dict, free: list) -> torch.Tensor:
    """The compiled value of ``expr``, after checking it equals the reference's (NaN for NaN)."""
    got = C.run(expr, env, free)
    E.check_agreement(expr, got, E.reference(expr, env, free))
    return got


def conv_forward(stride: int, dil: int, pad: int, K: int, C_: int) -> sp.Basic:
    return sp.Sum(w[o, c, p, q] * x[n, c, stride * i + dil * p - pad, stride * j + dil * q - pad],
                  (c, 0, C_ - 1), (p, 0, K - 1), (q, 0, K - 1))


@pytest.mark.parametrize("stride,dil,pad", [(1, 1, 1), (2, 1, 3), (2, 2, 2), (3, 1, 0)])
def test_convolution_forward_is_torch_conv(stride: int, dil: int, pad: int) -> None:
    X, W = rand(2, 3, 9, 8), rand(4, 3, 3, 3)
    want = F.conv2d(X, W, stride=stride, padding=pad, dilation=dil)
    free = [(n, 0, 1), (o, 0, 3), (i, 0, want.shape[2] - 1), (j, 0, want.shape[3] - 1)]
    got = both(conv_forward(stride, dil, pad, 3, 3), {"x": X, "w": W}, free)
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride,pad", [(1, 1), (2, 1), (2, 3)])
def test_convolution_gradients_of_a_derived_step_agree_with_autograd(stride: int, pad: int) -> None:
    """The derived input gradient (Piecewise with range and stride-divisibility guards over a
    read at (i − p + pad)/stride) and the weight gradient, compiled, equal autograd."""
    X, W = rand(1, 2, 7, 7).requires_grad_(), rand(3, 2, 3, 3).requires_grad_()
    conv = torch.nn.Conv2d(2, 3, 3, stride, pad, bias=False).double()
    conv.weight.data = W.detach().clone()
    d = st.derive(conv, X.detach(), verify=False)
    step = d.steps[0]
    out = F.conv2d(X, W, stride=stride, padding=pad)
    G = rand(*out.shape, seed=1)
    gx, gw = torch.autograd.grad(out, [X, W], G)
    env = {"x": X.detach(), "w": W.detach(), S.ADJOINT: G}
    for key, want in [("input", gx), ("weight", gw)]:
        eq = step.gradients[key]
        got = both(eq.rhs, env, [(s, 0, m - 1) for s, m in zip(eq.lhs.indices, want.shape)])
        assert torch.allclose(got, want, rtol=1e-11, atol=1e-12), key
    assert "Mod" in str(step.gradients["input"].rhs) or stride == 1


def test_grouped_convolution_reads_through_floor_and_mod() -> None:
    conv = torch.nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2).double()
    X = rand(2, 4, 9, 9)
    d = st.derive(conv, X, verify=False)
    step = d.steps[0]
    env = {op.symbol: op.value.detach() for op in step.operands}
    got = both(step.forward.rhs, env, [(s, 0, m - 1) for s, m in zip(step.out_indices, step.out_shape)])
    assert torch.allclose(got, conv(X).detach(), rtol=1e-12, atol=1e-12)


def test_guards_keep_nan_and_inf_out_where_the_formula_says_zero() -> None:
    """0·NaN stays 0 where a guard is false: a mask is never multiplied into a NaN."""
    G = rand(1, 1, 4)
    G[0, 0, 3] = math.nan  # read only where the guard i − p ≤ 2 is false
    W = rand(1, 1, 2)
    body = sp.Piecewise((w[o, c, p] * g[n, o, i - p], (i - p >= 0) & (i - p <= 2)), (0, True))
    expr = sp.Sum(body, (o, 0, 0), (p, 0, 1))
    got = both(expr, {"w": W, "ḡ": G}, [(n, 0, 0), (c, 0, 0), (i, 0, 3)])
    assert torch.isfinite(got).all()
    relu = sp.Piecewise((g[i], x[i] > 0), (0, True))
    X = torch.tensor([1.0, -1.0, math.nan, 2.0], dtype=torch.float64)
    Gv = torch.tensor([math.inf, math.nan, 3.0, -math.inf], dtype=torch.float64)
    got = both(relu, {"x": X, "ḡ": Gv}, [(i, 0, 3)])
    assert got[1] == 0 and got[2] == 0 and got[0] == math.inf and got[3] == -math.inf
    # an Iverson bracket absorbs NaN but not ±inf (0·inf is NaN), inside a sum and out
    V = torch.tensor([math.nan, math.inf, 1.0], dtype=torch.float64)
    gate = Iverson(sp.Ne(i, 0)) * x[i]
    got = both(sp.Sum(Iverson(sp.Ne(i, 1)) * x[i], (i, 0, 2)), {"x": V}, [])
    assert math.isnan(got)  # the NaN cell is not gated off
    got = both(gate, {"x": V}, [(i, 0, 2)])
    assert got[0] == 0 and got[1] == math.inf


def test_gather_through_an_index_table() -> None:
    """x[n, t[n]] (cross-entropy's pick) and an embedding's table read E[t[k], j]."""
    X, T = rand(4, 5), torch.tensor([4, 0, 2, 2])
    got = both(x[n, t[n]], {"x": X, "t": T}, [(n, 0, 3)])
    assert torch.equal(got, X[torch.arange(4), T])
    lse = sp.Sum(sp.log(sp.Sum(sp.exp(x[n, k]), (k, 0, 4))) - x[n, t[n]], (n, 0, 3))
    got = both(lse, {"x": X, "t": T}, [])
    assert torch.allclose(got, F.cross_entropy(X, T, reduction="sum"), rtol=1e-13)
    emb = rand(6, 3)
    got = both(y[t[k], j], {"y": emb, "t": torch.tensor([5, 1, 1])}, [(k, 0, 2), (j, 0, 2)])
    assert torch.equal(got, emb[[5, 1, 1]])
    assert both(y[t[k] + 4, j], {"y": emb, "t": torch.tensor([1, 3, 0])}, [(k, 0, 2), (j, 0, 2)])[1].eq(0).all()


def test_window_max_and_its_argmax_with_padding_ties_and_nan() -> None:
    X = rand(1, 2, 7, 7)
    X[0, 0, 2, 2] = X[0, 0, 2, 3]  # a tie: the first cell is the argmax
    X[0, 1, 4, 4] = math.nan
    inside = (2 * i + p - 1 >= 0) & (2 * i + p - 1 <= 6) & (2 * j + q - 1 >= 0) & (2 * j + q - 1 <= 6)
    mx = WindowMax(x[n, c, 2 * i + p - 1, 2 * j + q - 1], sp.Tuple(p, 0, 2), sp.Tuple(q, 0, 2), inside)
    free = [(n, 0, 0), (c, 0, 1), (i, 0, 3), (j, 0, 3)]
    got = both(mx, {"x": X}, free)
    want = F.max_pool2d(X, 3, 2, 1)
    assert torch.equal(torch.isnan(got), torch.isnan(want))
    assert torch.equal(got.nan_to_num(), want.nan_to_num())
    arg = mx.fdiff()
    pos = arg.position
    ind = both(arg, {"x": X}, free + [(pos[0], 0, 2), (pos[1], 0, 2)])
    assert torch.equal(ind.sum(dim=(-1, -2)), torch.ones(1, 2, 4, 4, dtype=torch.float64))
    assert both(WindowMax(x[n, c, i, j + p], sp.Tuple(p, 0, -1)), {"x": X}, free).eq(-math.inf).all()


def test_rational_reads_land_on_integers_only() -> None:
    """x[(i − p)/3]: a dilated read, 0 where (i − p) is not a multiple of 3."""
    X = rand(4)
    got = both(sp.Sum(x[(i - p) / 3] * w[p], (p, 0, 1)), {"x": X, "w": rand(2)}, [(i, 0, 9)])
    assert got.shape == (10,)
    assert both(x[(i + 1) / 3], {"x": X}, [(i, 0, 9)]).tolist() == [0, 0, X[1], 0, 0, X[2], 0, 0, X[3], 0]


def test_shadowing_nested_sums_and_flipped_reads() -> None:
    X = rand(3, 4)
    expr = x[i, 0] + sp.Sum(x[i, i], (i, 0, 2)) + sp.Sum(x[2 - i, 3 - j] * sp.Sum(x[k, j], (k, 0, 2)), (j, 0, 3))
    both(expr, {"x": X}, [(i, 0, 2)])
    bn = (x[n, c] - sp.Sum(x[k, c], (k, 0, 2)) / 3) / sp.sqrt(sp.Sum((x[k, c] - sp.Sum(x[q, c], (q, 0, 2)) / 3) ** 2, (k, 0, 2)) / 3 + 1e-5)
    got = both(bn, {"x": X}, [(n, 0, 2), (c, 0, 3)])
    assert torch.allclose(got, F.batch_norm(X, None, None, training=True), rtol=1e-12, atol=1e-12)


def test_unknown_classes_fall_back_to_the_reference_and_are_counted() -> None:
    before = C.stats()["fallbacks"].get("Product", 0)
    expr = sp.Product(x[i] + k, (k, 1, 3)) * x[i]
    got = both(expr, {"x": rand(5)}, [(i, 0, 4)])
    X = rand(5)
    assert torch.allclose(got, (X + 1) * (X + 2) * (X + 3) * X)
    assert C.stats()["fallbacks"]["Product"] > before


def test_each_formula_compiles_once() -> None:
    expr = sp.Sum(x[i, k] * w[k, j] * sp.exp(-x[i, k]), (k, 0, 6))
    free = [(i, 0, 3), (j, 0, 2)]
    C.run(expr, {"x": rand(4, 7), "w": rand(7, 3)}, free)
    compiled = C.stats()["programs"]["compiled"]
    out = C.run(expr, {"x": rand(4, 7, seed=5), "w": rand(7, 3, seed=5)}, free)
    assert C.stats()["programs"]["compiled"] == compiled
    X, W = rand(4, 7, seed=5), rand(7, 3, seed=5)
    assert torch.allclose(out, (X * torch.exp(-X)) @ W, rtol=1e-13)


def test_no_torch_convolution_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    """The program translates the formula: a convolution step never runs torch's convolution."""
    def refuse(*a: object, **kw: object) -> None:
        raise AssertionError("the compiled evaluator called a torch convolution")
    X, W = rand(1, 2, 6, 6), rand(3, 2, 3, 3)
    want = F.conv2d(X, W, stride=2, padding=1)  # torch's answer, computed before the ban
    monkeypatch.setattr(torch, "conv2d", refuse)
    for name in ("conv2d", "conv_transpose2d", "max_pool2d", "unfold"):
        monkeypatch.setattr(F, name, refuse)
    got = C.run(conv_forward(2, 1, 1, 3, 2), {"x": X, "w": W}, [(n, 0, 0), (o, 0, 2), (i, 0, 2), (j, 0, 2)])
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)  # the same numbers, reached without it


def test_the_switch_picks_and_both_names_a_disagreeing_formula(monkeypatch: pytest.MonkeyPatch) -> None:
    expr = sp.Sum(x[i, k], (k, 0, 99))
    env, free = {"x": rand(100, 100)}, [(i, 0, 99)]
    monkeypatch.setenv("SYMBOLIC_TORCH_EVALUATOR", "both")
    assert torch.allclose(E.evaluate(expr, env, free), env["x"].sum(1))
    monkeypatch.setattr(C, "run", lambda e, v, f: torch.zeros(100, dtype=torch.float64))
    with pytest.raises(EvaluatorMismatchError, match=r"Sum\(x\[i, k\]"):
        E.evaluate(expr, env, free)
    monkeypatch.setenv("SYMBOLIC_TORCH_EVALUATOR", "reference")
    assert torch.allclose(E.evaluate(expr, env, free), env["x"].sum(1))
    monkeypatch.setenv("SYMBOLIC_TORCH_EVALUATOR", "fast")
    with pytest.raises(ValueError, match="auto, compiled, reference, both"):
        E.evaluate(expr, env, free)


@pytest.mark.slow
def test_every_rule_agreement_test_passes_with_both_evaluators() -> None:
    """tests/rules under SYMBOLIC_TORCH_EVALUATOR=both: every formula a rule test evaluates is
    computed by both evaluators, and a difference beyond 1e-12 fails the test naming it."""
    env = {**os.environ, "SYMBOLIC_TORCH_EVALUATOR": "both"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "tests/rules"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=7200)
    assert done.returncode == 0, done.stdout[-4000:]


def test_large_programs_run_in_pieces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Past ``PEAK_LIMIT`` elements in one view, a program runs along its largest free range in
    pieces, with the same result."""
    X, W = rand(1, 2, 9, 9), rand(3, 2, 3, 3)
    expr, free = conv_forward(1, 1, 1, 3, 2), [(n, 0, 0), (o, 0, 2), (i, 0, 8), (j, 0, 8)]
    whole = C.run(expr, {"x": X, "w": W}, free)
    monkeypatch.setattr(C.program, "PEAK_LIMIT", 50)
    calls = []
    real = C.program.Program.__call__
    monkeypatch.setattr(C.program.Program, "__call__", lambda self, env: calls.append(self.free) or real(self, env))
    pieces = C.run(expr, {"x": X, "w": W}, free)
    assert len(calls) > 2 and torch.allclose(pieces, whole, rtol=0, atol=1e-14)
    assert torch.allclose(whole, F.conv2d(X, W, padding=1), rtol=1e-12, atol=1e-12)
