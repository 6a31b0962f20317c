"""The numeric evaluator: index-form formulas over whole index ranges, as float64 tensors."""
from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

import symbolic_torch.numeric.evaluate as E
from symbolic_torch.ir import symbols as S
from symbolic_torch.numeric.evaluate import evaluate
from symbolic_torch.numeric.grid import Grid
from symbolic_torch.ir.primitives import WindowArgmax, WindowMax

x, y, t = S.tensor("x"), S.tensor("y"), S.tensor("t")
i, j, k, n, p, q = S.indices("ijknpq")


def rand(*shape: int) -> torch.Tensor:
    return torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(sum(shape)))


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b.to(torch.float64), rtol=0, atol=1e-12)


# --- shapes, sums ---------------------------------------------------------------------------------

def test_free_indices_give_the_axes() -> None:
    X = rand(2, 3)
    assert same(evaluate(x[i, j], {"x": X}, [(i, 0, 1), (j, 0, 2)]), X)
    assert same(evaluate(x[i, j], {"x": X}, [(j, 0, 2), (i, 0, 1)]), X.T)
    assert same(evaluate(x[i, j], {"x": X}, [(i, 1, 1), (j, 1, 2)]), X[1:, 1:])


def test_constant_is_broadcast_over_the_grid() -> None:
    out = evaluate(sp.Integer(3), {}, [(i, 0, 1), (j, 0, 2)])
    assert same(out, torch.full((2, 3), 3.0))
    assert same(evaluate(sp.pi, {}), torch.tensor(torch.pi, dtype=torch.float64))


def test_sum_reduces_its_variable() -> None:
    X, Y = rand(2, 3), rand(3, 4)
    assert same(evaluate(sp.Sum(x[i, k] * y[k, j], (k, 0, 2)), {"x": X, "y": Y}, [(i, 0, 1), (j, 0, 3)]), X @ Y)
    assert same(evaluate(sp.Sum(x[i, j], (i, 0, 1), (j, 0, 2)), {"x": X}), X.sum())


def test_sum_of_a_body_without_its_variable_scales() -> None:
    X = rand(3)
    assert same(evaluate(sp.Sum(x[i], (k, 0, 4)), {"x": X}, [(i, 0, 2)]), 5 * X)
    assert same(evaluate(sp.Sum(sp.Integer(2), (k, 0, 4), (j, 1, 3)), {}), torch.tensor(30.0))


def test_nested_sums_and_shadowing() -> None:
    X = rand(3, 4)
    nested = sp.Sum(x[i, j] * sp.Sum(x[k, j], (k, 0, 2)), (j, 0, 3))
    assert same(evaluate(nested, {"x": X}, [(i, 0, 2)]), (X * X.sum(0)).sum(1))
    shadow = x[i, 0] + sp.Sum(x[i, i], (i, 0, 2))  # the Sum's i is its own
    assert same(evaluate(shadow, {"x": X}, [(i, 0, 2)]), X[:, 0] + torch.diagonal(X[:, :3]).sum())


def test_empty_sum_is_zero() -> None:
    assert same(evaluate(sp.Sum(x[k], (k, 3, 2)), {"x": rand(4)}, [(i, 0, 1)]), torch.zeros(2))


# --- reads ----------------------------------------------------------------------------------------

def test_out_of_range_reads_are_zero_padding() -> None:
    X = rand(4)
    assert same(evaluate(x[i - 1], {"x": X}, [(i, 0, 5)]), F.pad(X, (1, 1)))
    X2 = rand(3, 3)
    assert same(evaluate(x[i - 1, j + 1], {"x": X2}, [(i, 0, 4), (j, -2, 2)]), F.pad(X2, (1, 1, 1, 1)))


def test_non_integer_reads_are_zero() -> None:
    X = rand(3)
    out = evaluate(x[i / 2], {"x": X}, [(i, 0, 5)])
    assert same(out, torch.stack([X[0], 0 * X[0], X[1], 0 * X[0], X[2], 0 * X[0]]))


def test_reads_of_non_contiguous_and_offset_tensors() -> None:
    X = rand(3, 4)
    assert same(evaluate(x[i, j], {"x": X.T}, [(i, 0, 3), (j, 0, 2)]), X.T)
    assert same(evaluate(x[i, j], {"x": X[1:]}, [(i, 0, 1), (j, 0, 3)]), X[1:])
    assert same(evaluate(x[i, j], {"x": X[:, ::2]}, [(i, 0, 2), (j, 0, 1)]), X[:, ::2])
    row = rand(4)
    assert same(evaluate(x[i, j], {"x": row.expand(3, 4)}, [(i, 0, 2), (j, 0, 3)]), row.expand(3, 4))


def test_nested_indexed_reads_gather() -> None:
    X, T = rand(3, 5), torch.tensor([4, 0, 2])
    assert same(evaluate(x[n, t[n]], {"x": X, "t": T}, [(n, 0, 2)]), X[torch.arange(3), T])
    T_out = torch.tensor([4, 7, -1])  # positions outside x read 0
    zero = torch.zeros((), dtype=torch.float64)
    assert same(evaluate(x[n, t[n]], {"x": X, "t": T_out}, [(n, 0, 2)]), torch.stack([X[0, 4], zero, zero]))


def test_zero_dim_tensors_via_symbol_and_empty_index() -> None:
    s = sp.Symbol("s", real=True)
    X, sv = rand(3), torch.tensor(2.5, dtype=torch.float64)
    assert same(evaluate(s * x[i], {"x": X, "s": sv}, [(i, 0, 2)]), 2.5 * X)
    assert same(evaluate(s, {"s": sv}), sv)
    assert same(evaluate(s + 1, {"s": sv}, [(i, 0, 1)]), torch.full((2,), 3.5))


def test_wrong_rank_and_unknown_index_are_errors() -> None:
    with pytest.raises(ValueError, match="dims"):
        evaluate(x[i], {"x": rand(2, 2)}, [(i, 0, 1)])
    with pytest.raises(KeyError, match="no range"):
        evaluate(x[j], {"x": rand(2)}, [(i, 0, 1)])


# --- functions, conditions, index arithmetic ------------------------------------------------------

def test_piecewise_takes_the_first_true_branch() -> None:
    X = rand(6)
    relu = sp.Piecewise((x[i], x[i] > 0), (0, True))
    assert same(evaluate(relu, {"x": X}, [(i, 0, 5)]), torch.relu(X))
    steps = sp.Piecewise((1, i < 2), (2, i < 4), (3, True))
    assert same(evaluate(steps, {}, [(i, 0, 5)]), torch.tensor([1.0, 1, 2, 2, 3, 3]))
    both = sp.Piecewise((x[i], sp.And(i >= 1, sp.Or(sp.Eq(i, 2), sp.Ne(i, 3)))), (0, True))
    assert same(evaluate(both, {"x": X}, [(i, 0, 5)]), X * torch.tensor([0.0, 1, 1, 0, 1, 1]))


def test_piecewise_ignores_invalid_values_in_untaken_branches() -> None:
    X = rand(4)
    safe_log = sp.Piecewise((sp.log(x[i]), x[i] > 0), (0, True))
    assert same(evaluate(safe_log, {"x": X}, [(i, 0, 3)]), torch.where(X > 0, X.abs().log(), 0.0))


def test_mod_and_floor_follow_python_semantics() -> None:
    ks = torch.arange(-4, 8, dtype=torch.float64)
    assert same(evaluate(sp.Mod(k, 3), {}, [(k, -4, 7)]), torch.remainder(ks, 3))
    assert same(evaluate(sp.floor(k / 2), {}, [(k, -4, 7)]), torch.div(ks, 2, rounding_mode="floor"))
    assert same(evaluate(sp.ceiling(k / 3), {}, [(k, -4, 7)]), torch.ceil(ks / 3))
    X = rand(2, 2, 3)  # a reshape read: y[k] = x[⌊k/6⌋, ⌊k/3⌋ mod 2, k mod 3]
    read = x[sp.floor(k / 6), sp.Mod(sp.floor(k / 3), 2), sp.Mod(k, 3)]
    assert same(evaluate(read, {"x": X}, [(k, 0, 11)]), X.reshape(12))


def test_floor_of_an_exact_multiple_is_exact() -> None:
    """Regression: floor(k/49) as floor(k·fl(1/49)) gave 0 at k = 49 (fixed in 4e05f24)."""
    ks = torch.arange(0, 200, dtype=torch.float64)
    for d in (3, 7, 49, 98, 103):
        assert same(evaluate(sp.floor(k / d), {}, [(k, 0, 199)]), torch.div(ks, d, rounding_mode="floor")), d


def test_rational_positions_that_are_integers_read() -> None:
    """Regression: a/3 − k/3 + 1/3 summed in floating point missed integers (fixed in 4e05f24)."""
    X = torch.arange(1.0, 11.0, dtype=torch.float64)
    got = evaluate(x[p / 3 - k / 3 + sp.Rational(1, 3)], {"x": X}, [(p, 0, 8), (k, 0, 3)])
    numer = torch.arange(9.0)[:, None] - torch.arange(4.0)[None, :] + 1
    ref = torch.where((numer % 3 == 0) & (numer >= 0), X[(numer / 3).clamp(min=0).round().long()], 0.0)
    assert same(got, ref)


def test_elementwise_functions() -> None:
    X = rand(5)
    cases = [(sp.exp(x[i]), X.exp()), (sp.tanh(x[i]), X.tanh()), (sp.Abs(x[i]), X.abs()),
             (sp.sign(x[i]), X.sign()), (x[i] ** 2, X ** 2), (1 / (1 + sp.exp(-x[i])), torch.sigmoid(X)),
             (sp.sqrt(sp.Abs(x[i])), X.abs().sqrt()), (sp.Max(x[i], 0), X.clamp(min=0)),
             (sp.Heaviside(x[i]), torch.heaviside(X, torch.tensor(0.5, dtype=torch.float64))),
             (sp.KroneckerDelta(i, 2), torch.tensor([0.0, 0, 1, 0, 0]))]
    for expr, ref in cases:
        assert same(evaluate(expr, {"x": X}, [(i, 0, 4)]), ref), expr


def test_unknown_class_names_itself() -> None:
    with pytest.raises(TypeError, match="cannot evaluate"):
        evaluate(sp.gamma(x[i]), {"x": rand(2)}, [(i, 0, 1)])


# --- window primitives ----------------------------------------------------------------------------

def test_window_max_is_max_pool() -> None:
    X = rand(2, 7)
    pooled = WindowMax(x[n, 2 * i + p], sp.Tuple(p, 0, 2))
    assert same(evaluate(pooled, {"x": X}, [(n, 0, 1), (i, 0, 2)]), F.max_pool1d(X[None], 3, 2)[0])
    X2 = rand(1, 4, 6)
    pooled2 = WindowMax(x[n, 2 * i + p, 2 * j + q], sp.Tuple(p, 0, 1), sp.Tuple(q, 0, 1))
    assert same(evaluate(pooled2, {"x": X2}, [(n, 0, 0), (i, 0, 1), (j, 0, 2)]), F.max_pool2d(X2, 2))


def argmax_of(body_window: WindowMax) -> WindowArgmax:
    """∂ max / ∂ body: the first-argmax indicator, as sympy's ``fdiff`` builds it."""
    got = body_window.fdiff()
    assert isinstance(got, WindowArgmax)
    return got


def test_window_argmax_marks_the_first_max_on_ties() -> None:
    X = torch.tensor([[1.0, 3.0, 3.0, 0.0, 2.0, 2.0]], dtype=torch.float64)
    ind = argmax_of(WindowMax(x[n, 3 * i + p], sp.Tuple(p, 0, 2)))
    out = evaluate(ind, {"x": X}, [(n, 0, 0), (i, 0, 1), (p, 0, 2)])
    assert same(out, torch.tensor([[[0.0, 1, 0], [0, 1, 0]]]))
    _, idx = F.max_pool1d(X[None], 3, 3, return_indices=True)  # torch picks the same elements
    assert idx.flatten().tolist() == [1, 4]


def test_window_argmax_2d_matches_max_pool_indices() -> None:
    X = torch.tensor([[[5.0, 5.0, 1.0, 2.0], [5.0, 0.0, 2.0, 2.0]]], dtype=torch.float64)
    ind = argmax_of(WindowMax(x[n, 2 * i + p, 2 * j + q], sp.Tuple(p, 0, 1), sp.Tuple(q, 0, 1)))
    out = evaluate(ind, {"x": X}, [(n, 0, 0), (i, 0, 0), (j, 0, 1), (p, 0, 1), (q, 0, 1)])
    assert out[0, 0, 0].tolist() == [[1.0, 0.0], [0.0, 0.0]]
    assert out[0, 0, 1].tolist() == [[0.0, 1.0], [0.0, 0.0]]
    _, idx = F.max_pool2d(X[None], 2, return_indices=True)
    assert idx.flatten().tolist() == [0, 3]


def test_window_max_guard_makes_padding_minus_infinity() -> None:
    X = -rand(2, 7).abs() - 0.5  # all negative: a zero padding cell would win
    inside = sp.And(2 * i + p - 1 >= 0, 2 * i + p - 1 <= 6)
    pooled = WindowMax(x[n, 2 * i + p - 1], sp.Tuple(p, 0, 2), inside)
    assert same(evaluate(pooled, {"x": X}, [(n, 0, 1), (i, 0, 3)]), F.max_pool1d(X[None], 3, 2, padding=1)[0])


@pytest.mark.parametrize("sign", [1, -1], ids=["mixed", "negative"])
def test_window_argmax_gives_max_pool_gradient(sign: int) -> None:
    X = rand(1, 8).round(decimals=0)  # rounded: ties happen
    X = X if sign == 1 else -X.abs() - 1
    G = rand(1, 4)
    g = S.adjoint()
    inside = sp.And(2 * i + p - 1 >= 0, 2 * i + p - 1 <= 7)  # kernel 3, stride 2, padding 1
    ind = argmax_of(WindowMax(x[n, 2 * i + p - 1], sp.Tuple(p, 0, 2), inside))
    in_window = sp.And(k + 1 - 2 * i >= 0, k + 1 - 2 * i <= 2)
    grad = sp.Sum(sp.Piecewise((g[n, i] * ind.xreplace({p: k + 1 - 2 * i}), in_window), (0, True)), (i, 0, 3))
    got = evaluate(grad, {"x": X, S.ADJOINT: G}, [(n, 0, 0), (k, 0, 7)])
    leaf = X.clone().requires_grad_(True)
    (ref,) = torch.autograd.grad(F.max_pool1d(leaf[None], 3, 2, padding=1)[0], leaf, G)
    assert same(got, ref)


# --- empty outputs, empty tensors, empty windows ---------------------------------------------------

EMPTY_CASES = [
    x[n, i] * 2,
    sp.Sum(x[n, k], (k, 0, 3)),
    WindowMax(x[n, 2 * i + p], sp.Tuple(p, 0, 1)),
    WindowMax(x[n, 2 * i + p - 1], sp.Tuple(p, 0, 2), sp.And(2 * i + p - 1 >= 0, 2 * i + p - 1 <= 3)),
]


@pytest.mark.parametrize("expr", EMPTY_CASES + [argmax_of(EMPTY_CASES[2])], ids=["read", "sum", "max", "guard", "argmax"])
def test_an_empty_output_evaluates_to_an_empty_tensor(expr: sp.Expr) -> None:
    """A free range without values (a batch of 0) gives a tensor with a 0-size axis, not an error."""
    free = [(n, 0, -1), (i, 0, 1)] + ([(p, 0, 1)] if isinstance(expr, WindowArgmax) else [])
    got = evaluate(expr, {"x": rand(0, 4)}, free)
    assert got.shape == (0, 2) + ((2,) if isinstance(expr, WindowArgmax) else ())
    assert got.dtype == torch.float64


def test_window_handlers_on_a_grid_with_an_empty_axis() -> None:
    """The handlers themselves (under a Sum or a gradient, not only at the top) reshape 0 elements."""
    grid = Grid({"x": rand(0, 4)}).bind(n, 0, -1).bind(i, 0, 1)
    pooled = WindowMax(x[n, 2 * i + p], sp.Tuple(p, 0, 1))
    assert grid.eval(pooled).shape == (0, 2)
    assert grid.bind(p, 0, 1).eval(argmax_of(pooled)).numel() == 0


def test_a_window_without_cells_is_minus_infinity_and_has_no_argmax() -> None:
    pooled = WindowMax(x[i + p], sp.Tuple(p, 0, -1))
    assert evaluate(pooled, {"x": rand(3)}, [(i, 0, 2)]).tolist() == [-math.inf] * 3
    assert evaluate(argmax_of(pooled), {"x": rand(3)}, [(i, 0, 2), (p, 0, 0)]).tolist() == [[0.0]] * 3


def test_reads_of_an_empty_tensor_are_zero() -> None:
    """Padding an empty tensor: every read falls outside it."""
    assert same(evaluate(x[i, j - 1], {"x": torch.zeros(2, 0)}, [(i, 0, 1), (j, 0, 1)]), torch.zeros(2, 2))


# --- chunking -------------------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1, 7, 64])
def test_chunked_grids_give_the_same_result(monkeypatch: pytest.MonkeyPatch, limit: int) -> None:
    X, Y = rand(5, 6), rand(6, 7)
    cases = [
        (sp.Sum(x[i, k] * y[k, j], (k, 0, 5)), [(i, 0, 4), (j, 0, 6)]),
        (x[i - 1, j] + y[j, i], [(i, 0, 5), (j, 1, 4)]),
        (WindowMax(x[i, j + p], sp.Tuple(p, 0, 1)), [(i, 0, 4), (j, 0, 4)]),
        (argmax_of(WindowMax(x[i, 2 * j + q], sp.Tuple(q, 0, 1))), [(i, 0, 4), (j, 0, 2), (q, 0, 1)]),
        (sp.Sum(x[i, k], (k, 0, 5)), [(i, 2, 4)]),
    ]
    env = {"x": X, "y": Y}
    whole = [evaluate(e, env, free) for e, free in cases]
    calls = []
    real = E.evaluate

    def counting(*a, **kw):  # noqa: ANN002, ANN003
        calls.append(1)
        return real(*a, **kw)
    monkeypatch.setattr(E, "GRID_LIMIT", limit)
    monkeypatch.setattr(E, "evaluate", counting)
    monkeypatch.setenv("SYMBOLIC_TORCH_EVALUATOR", "reference")  # the reference's grid is what is chunked
    for (e, free), ref in zip(cases, whole):
        calls.clear()
        got = real(e, env, free)
        assert same(got, ref), e
        if math.prod(hi - lo + 1 for _, lo, hi in free) > limit:
            assert calls, "the grid was not chunked"


def test_factors_outside_a_sum_cost_their_own_size_not_the_product() -> None:
    """Σ_n (x[n] − Σ_m x[m]/N)·t[k]: t[k] leaves the sum and the mean is computed once, so a
    batch norm's input gradient over 2×16×32×32 elements evaluates in well under a second."""
    N, K = 20000, 30000
    mean = sp.Sum(x[p], (p, 0, N - 1)) / N
    expr = sp.Sum((x[n] - mean) ** 2 * t[k] + x[n] * t[k], (n, 0, N - 1))
    assert E._cost(expr, {k: K}) <= 2 * (N + K)
    xs, ts = rand(N), rand(K)
    got = evaluate(expr, {"x": xs, "t": ts}, [(k, 0, K - 1)])
    want = (((xs - xs.mean()) ** 2).sum() + xs.sum()) * ts
    assert torch.allclose(got, want, rtol=1e-12, atol=1e-9)


def test_a_false_condition_inside_a_sum_still_absorbs_nan() -> None:
    from symbolic_torch.ir.primitives import Iverson
    xs = torch.tensor([1.0, float("nan"), 2.0], dtype=torch.float64)
    m = torch.isnan(xs).double()
    expr = sp.Sum(Iverson(sp.Eq(y[n], 0)) * x[n] * t[k], (n, 0, 2))
    got = evaluate(expr, {"x": xs, "y": m, "t": torch.ones(2, dtype=torch.float64)}, [(k, 0, 1)])
    assert same(got, torch.full((2,), 3.0))
