"""Pooling beyond max/avg against autograd: adaptive max pooling, max pooling's (values, indices),
lp_pool, local_response_norm, fold (col2im), embedding_bag."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from conftest import Wrap, check, rand
from torch import nn

import symbolic_torch as st


def exported(f: Callable[..., Any]) -> Callable[..., Any]:
    """``f`` behind a shape test, which fx cannot trace: derive falls back to torch.export (ATen ops)."""
    def g(x: torch.Tensor) -> Any:
        if x.shape[0] > 1:
            return f(x)
        return x.sum()
    return g


# ---------------------------------------------------------------- adaptive max pooling
ADAPTIVE_MAX = [
    ("1d-uneven", lambda x: F.adaptive_max_pool1d(x, 3), (2, 3, 7)),
    ("1d-unbatched-overlap", lambda x: F.adaptive_max_pool1d(x, 5), (3, 7)),
    ("1d-grow", lambda x: F.adaptive_max_pool1d(x, 6), (1, 2, 4)),
    ("2d-mixed", lambda x: F.adaptive_max_pool2d(x, (3, 2)), (2, 2, 7, 4)),
    ("2d-none", lambda x: F.adaptive_max_pool2d(x, (None, 4)), (2, 5, 6)),
    ("2d-global", lambda x: F.adaptive_max_pool2d(x, 1), (2, 3, 4, 5)),
    ("3d", lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), (1, 2, 5, 4, 3)),
    ("3d-unbatched", lambda x: F.adaptive_max_pool3d(x, 2), (2, 3, 4, 5)),
    ("2d-indices", lambda x: F.adaptive_max_pool2d(x, (3, 2), return_indices=True)[0], (2, 2, 7, 4)),
    ("1d-indices-both", lambda x: (lambda v, i: v * 2 + i.double())(*F.adaptive_max_pool1d(x, 4, True)), (2, 3, 9)),
]


@pytest.mark.parametrize("name, f, shape", ADAPTIVE_MAX, ids=[n for n, _, _ in ADAPTIVE_MAX])
def test_adaptive_max_pool(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(f, rand(*shape))


@pytest.mark.parametrize("m, shape", [
    (nn.AdaptiveMaxPool1d(4), (2, 3, 9)),
    (nn.AdaptiveMaxPool2d((3, None)), (2, 3, 5, 7)),
    (nn.AdaptiveMaxPool3d((2, 1, 3)), (3, 5, 4, 4)),
], ids=["1d", "2d", "3d-unbatched"])
def test_adaptive_max_pool_modules(m: nn.Module, shape: tuple[int, ...]) -> None:
    check(m, rand(*shape))


def test_adaptive_max_pool_module_with_indices() -> None:
    model = Wrap(lambda m, x: m.p(x)[0] * 2, p=nn.AdaptiveMaxPool2d((3, 4), return_indices=True))
    d = check(model, rand(2, 3, 5, 7))
    assert d.steps[0].op.startswith("adaptive_max_pool")


def test_adaptive_max_pool_ties_take_the_first() -> None:
    x = torch.tensor([[[1.0, 3.0, 3.0, 0.0, 2.0, 2.0, 2.0]]], dtype=torch.float64)
    check(lambda v: F.adaptive_max_pool1d(v, 3), x)


def test_adaptive_max_pool_latex() -> None:
    d = check(lambda x: F.adaptive_max_pool2d(x, 2), rand(1, 4, 6))
    assert st.latex(d[0].forward) == r"y_{c,i,j} = \max_{p,q} \left(x_{c,2 i + p,3 j + q}\right)"
    d = check(lambda x: F.adaptive_max_pool1d(x, 3), rand(2, 2, 7))
    assert str(d[0].forward.rhs) == "max_{p}(x[n, c, p + floor(7*i/3)])"
    guard = d[0].forward.rhs.guard  # windows of 3 and 2 cells: p < ⌈7(i+1)/3⌉ − ⌊7i/3⌋
    assert str(guard) == "p + floor(7*i/3) <= ceiling(7*i/3 + 7/3) - 1"


@pytest.mark.parametrize("f, shape", [
    (lambda x: F.adaptive_max_pool1d(x, 3), (2, 3, 7)),
    (lambda x: F.adaptive_max_pool2d(x, (3, 2)), (2, 2, 7, 4)),
    (lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)), (2, 2, 5, 4, 3)),
    (lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[0], (2, 2, 7, 6)),
    (lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True)[0], (2, 2, 7)),
    (lambda x: F.max_pool3d(x, 2, return_indices=True)[0], (2, 2, 4, 4, 5)),
], ids=["adaptive1d", "adaptive2d", "adaptive3d", "max2d", "max1d", "max3d"])
def test_aten_overloads(f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    """aten.adaptive_max_pool2d, aten.max_pool2d_with_indices, …: (values, indices) ATen ops."""
    d = check(exported(f), rand(*shape))
    assert d.capture_method == "torch.export"


# ---------------------------------------------------------------- max pooling's indices
MAX_WITH_INDICES = [
    ("1d", lambda x: F.max_pool1d(x, 3, 2, 1, return_indices=True)[0], (2, 3, 8)),
    ("1d-ceil-unbatched", lambda x: F.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True)[0], (2, 7)),
    ("2d", lambda x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[0], (2, 2, 7, 6)),
    ("2d-dilated", lambda x: F.max_pool2d(x, 2, 1, 0, 2, return_indices=True)[0], (3, 6, 5)),
    ("3d", lambda x: F.max_pool3d(x, 2, return_indices=True)[0], (1, 2, 4, 4, 5)),
    ("2d-with-indices-fn", lambda x: F.max_pool2d_with_indices(x, 2)[0], (2, 2, 4, 4)),
    ("indices-used", lambda x: (lambda v, i: v + i.double())(*F.max_pool2d(x, 2, return_indices=True)), (2, 4, 4)),
]


@pytest.mark.parametrize("name, f, shape", MAX_WITH_INDICES, ids=[n for n, _, _ in MAX_WITH_INDICES])
def test_max_pool_return_indices(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(f, rand(*shape))


def test_max_pool_module_return_indices_then_unpool() -> None:
    model = Wrap(lambda m, x: m.unpool(*m.pool(x)), pool=nn.MaxPool2d(2, return_indices=True),
                 unpool=nn.MaxUnpool2d(2))
    d = check(model, rand(2, 3, 4, 6))
    assert [s.op[:8] for s in d.steps] == ["max_pool", "max_unpo"]


# ---------------------------------------------------------------- lp_pool
def _with_zero_window(shape: tuple[int, ...]) -> torch.Tensor:
    x = rand(*shape, positive=True)
    x[..., :2] = 0.0  # the first window of the last dim holds only zeros
    return x


LP_POOL = [
    ("1d-p2", lambda x: F.lp_pool1d(x, 2, 3), rand(2, 3, 9)),
    ("1d-p3-ceil", lambda x: F.lp_pool1d(x, 3, 3, 2, ceil_mode=True), rand(2, 3, 8, positive=True)),
    ("1d-p1-negative", lambda x: F.lp_pool1d(x, 1, 2), rand(3, 8)),
    ("1d-p1-zero-sum", lambda x: F.lp_pool1d(x, 1, 2), torch.tensor([[1.0, -1.0, 2.0, 0.5]], dtype=torch.float64)),
    ("2d-p2", lambda x: F.lp_pool2d(x, 2, 2), rand(2, 3, 4, 6)),
    ("2d-p1.5-stride", lambda x: F.lp_pool2d(x, 1.5, (2, 3), stride=(1, 2)), rand(2, 5, 7, positive=True)),
    ("2d-p2-zero-window", lambda x: F.lp_pool2d(x, 2, 2), _with_zero_window((1, 2, 4, 4))),
    ("2d-p4-ceil", lambda x: F.lp_pool2d(x, 4, 3, 2, ceil_mode=True), rand(1, 2, 6, 5)),
    ("2d-inf", lambda x: F.lp_pool2d(x, float("inf"), 2), rand(2, 4, 4)),
    ("1d-minus-inf", lambda x: F.lp_pool1d(x, -float("inf"), 2), rand(2, 6)),
    ("3d-p2", lambda x: F.lp_pool3d(x, 2, 2), rand(1, 2, 4, 4, 4)),
    ("3d-p3-unbatched", lambda x: F.lp_pool3d(x, 3, (2, 1, 2), ceil_mode=True), rand(2, 3, 3, 5, positive=True)),
]


@pytest.mark.parametrize("name, f, x", LP_POOL, ids=[n for n, _, _ in LP_POOL])
def test_lp_pool(name: str, f: Callable[..., Any], x: torch.Tensor) -> None:
    check(f, x)


@pytest.mark.parametrize("m, shape", [
    (nn.LPPool1d(2, 3, stride=2), (2, 3, 9)),
    (nn.LPPool2d(3, (2, 2), ceil_mode=True), (2, 3, 5, 5)),
    (nn.LPPool3d(2, 2), (2, 4, 4, 2)),
], ids=["1d", "2d-ceil", "3d-unbatched"])
def test_lp_pool_modules(m: nn.Module, shape: tuple[int, ...]) -> None:
    check(m, rand(*shape, positive=True))


def test_lp_pool_latex_and_zero_gradient() -> None:
    """A window of zeros: value 0 and gradient 0 (torch's relu stops it), not 0·∞."""
    x = _with_zero_window((1, 2, 4))
    d = check(lambda v: F.lp_pool2d(v, 2, 2), x)
    assert st.latex(d[0].forward) == (
        r"y_{c,i,j} = \begin{cases} 0 & \text{for}\: \sum_{p=0}^{1} \sum_{q=0}^{1} x_{c,2 i + p,2 j + q}^{2} = 0 "
        r"\\\sqrt{\sum_{p=0}^{1} \sum_{q=0}^{1} x_{c,2 i + p,2 j + q}^{2}} & \text{otherwise} \end{cases}")
    g = d.gradient_values()[d.input_names[0]]
    assert torch.isfinite(g).all() and (g[:, :, :2] == 0).all()


def test_lp_pool_through_export() -> None:
    """torch.export decomposes lp_pool into pow, avg_pool, sign, relu, abs, mul: those rules."""
    d = check(exported(lambda x: F.lp_pool2d(x, 2, 2)), rand(2, 2, 4, 4))
    assert d.capture_method == "torch.export"


# ---------------------------------------------------------------- local response norm
LRN = [
    ("3d", lambda x: F.local_response_norm(x, 3), (2, 5, 4)),
    ("3d-even-size", lambda x: F.local_response_norm(x, 2, 0.5, 0.75, 1.0), (2, 4, 3)),
    ("4d", lambda x: F.local_response_norm(x, 5, 0.3, 0.5, 2.0), (2, 6, 3, 2)),
    ("5d", lambda x: F.local_response_norm(x, 4, 0.1, 0.5, 2.0), (2, 5, 3, 2, 2)),
    ("size-past-channels", lambda x: F.local_response_norm(x, 7, 1.0, 1.5, 0.5), (1, 3, 4)),
    ("size-1", lambda x: F.local_response_norm(x, 1, 2.0), (2, 3, 2, 2)),
]


@pytest.mark.parametrize("name, f, shape", LRN, ids=[n for n, _, _ in LRN])
def test_local_response_norm(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(f, rand(*shape))


def test_local_response_norm_module_and_latex() -> None:
    d = check(nn.LocalResponseNorm(2, alpha=0.5, beta=0.75, k=1.0), rand(1, 3, 4))
    assert st.latex(d[0].forward) == (
        r"y_{n,c,i} = \frac{x_{n,c,i}}{\left(0.25 \sum_{t=0}^{1} x_{n,c + t - 1,i}^{2} + 1\right)^{0.75}}")


def test_local_response_norm_through_export() -> None:
    """torch.export decomposes local_response_norm into mul, pad, avg_pool, pow, div: those rules."""
    d = check(exported(lambda x: F.local_response_norm(x, 3)), rand(2, 4, 3, 3))
    assert d.capture_method == "torch.export"


# ---------------------------------------------------------------- fold (col2im)
FOLD = [
    ("overlapping", lambda x: F.fold(x, (4, 5), (2, 3)), (2, 3 * 6, 9)),
    ("stride-pad-dilation-unbatched", lambda x: F.fold(x, (5, 6), 2, dilation=(1, 2), padding=1, stride=(2, 1)),
     (2 * 4, 18)),
    ("disjoint", lambda x: F.fold(x, (4, 4), 2, stride=2), (1, 2 * 4, 4)),
    ("gaps", lambda x: F.fold(x, (5, 5), 1, stride=2), (2, 3, 9)),
    ("unfold-roundtrip", lambda x: F.fold(F.unfold(x, 3, padding=1), (4, 4), 3, padding=1), (2, 2, 4, 4)),
]


@pytest.mark.parametrize("name, f, shape", FOLD, ids=[n for n, _, _ in FOLD])
def test_fold(name: str, f: Callable[..., Any], shape: tuple[int, ...]) -> None:
    check(f, rand(*shape))


def test_fold_module_and_latex() -> None:
    d = check(nn.Fold((3, 4), 2), rand(2, 4, 6))
    assert st.latex(d[0].forward) == (
        r"y_{n,c,h,w} = \sum_{p=0}^{1} \sum_{q=0}^{1} \sum_{a=0}^{1} \sum_{b=0}^{2} "
        r"\delta_{h, a + p} \delta_{w, b + q} x_{n,4 c + 2 p + q,3 a + b}")
    # one read of ḡ per column entry: the row i = 4c + 2p + q splits into its digits c, p, q
    assert str(d[0].gradients["input"].rhs) == (
        "ḡ[n, floor(i/4), Mod(floor(i/2), 2) + floor(j/3), Mod(i, 2) + Mod(j, 3)]")


def test_fold_through_export() -> None:
    """torch.export's aten.col2im takes fold's arguments in fold's order."""
    d = check(exported(lambda x: F.fold(x, (4, 5), (2, 3), stride=(1, 2))), rand(2, 12, 6))
    assert d.capture_method == "torch.export"


# ---------------------------------------------------------------- embedding_bag
def I(v: Any) -> torch.Tensor:  # noqa: E743
    return torch.tensor(v, dtype=torch.long)


K1, OFF = I([1, 2, 4, 5, 4, 3, 2, 9]), I([0, 3, 3, 5])  # bags [1 2 4] [] [5 4] [3 2 9]
K2 = I([[1, 2, 4, 0], [4, 3, 2, 9], [2, 2, 0, 0]])
BAGS = [
    ("2d-sum", lambda w: F.embedding_bag(K2, w, mode="sum")),
    ("2d-mean", lambda w: F.embedding_bag(K2, w, mode="mean")),
    ("2d-max", lambda w: F.embedding_bag(K2, w, mode="max")),
    ("offsets-sum-empty-bag", lambda w: F.embedding_bag(K1, w, OFF, mode="sum")),
    ("offsets-mean", lambda w: F.embedding_bag(K1, w, OFF, mode="mean")),
    ("offsets-max", lambda w: F.embedding_bag(K1, w, OFF, mode="max")),
    ("include-last-offset-sum", lambda w: F.embedding_bag(K1, w, OFF, mode="sum", include_last_offset=True)),
    ("include-last-offset-mean-pad", lambda w: F.embedding_bag(K1, w, OFF, mode="mean", include_last_offset=True,
                                                               padding_idx=2)),
    ("include-last-offset-max", lambda w: F.embedding_bag(K1, w, I([0, 3, 8]), mode="max", include_last_offset=True)),
    ("offsets-mean-pad", lambda w: F.embedding_bag(K1, w, OFF, mode="mean", padding_idx=2)),
    ("2d-max-pad-all-padding-row", lambda w: F.embedding_bag(I([[0, 0], [1, 0]]), w, mode="max", padding_idx=0)),
    ("2d-mean-negative-pad", lambda w: F.embedding_bag(K2, w, mode="mean", padding_idx=-1)),
    ("max-ties", lambda w: F.embedding_bag(I([[3, 3, 1]]), w, mode="max")),
]


@pytest.mark.parametrize("name, f", BAGS, ids=[n for n, _ in BAGS])
def test_embedding_bag(name: str, f: Callable[..., Any]) -> None:
    check(f, rand(10, 3))


@pytest.mark.parametrize("k, off, shape, pad", [
    (K1, OFF, (8,), None), (K2, None, (3, 4), 2), (K1, I([0, 3, 3, 5]), (8,), 4),
], ids=["offsets", "2d-padding", "offsets-padding"])
def test_embedding_bag_per_sample_weights(k: torch.Tensor, off: Any, shape: tuple[int, ...], pad: Any) -> None:
    check(lambda w, s: F.embedding_bag(k, w, off, mode="sum", per_sample_weights=s, padding_idx=pad),
          rand(10, 3), rand(*shape))


def test_embedding_bag_module() -> None:
    model = Wrap(lambda m, s: m.bag(K1, OFF, per_sample_weights=s), bag=nn.EmbeddingBag(10, 3, mode="sum").double())
    d = check(model, rand(8))
    assert {"bag.weight", "x"} <= set(d.gradient_values())  # x: the per-sample weights
    check(Wrap(lambda m, x: m.bag(K2) * x, bag=nn.EmbeddingBag(10, 3, mode="max", padding_idx=0).double()), rand(3, 3))


def test_embedding_bag_formula() -> None:
    d = check(lambda w: F.embedding_bag(K1, w, OFF, mode="mean"), rand(10, 3))
    assert str(d[0].forward.rhs) == "Sum([t < m[b]]*W[k[t + o[b]], j], (t, 0, 2))/Max(1, Sum([t < m[b]], (t, 0, 2)))"


def test_embedding_bag_through_export() -> None:
    """torch.export: aten._embedding_bag(weight, indices, offsets, …, mode as an int, …), a 4-tuple."""
    d = check(exported(lambda w: F.embedding_bag(K2, w, mode="mean", padding_idx=0)), rand(10, 3))
    assert d.capture_method == "torch.export"
    d = check(exported(lambda w: F.embedding_bag(K1, w, OFF, mode="max")), rand(10, 3))
