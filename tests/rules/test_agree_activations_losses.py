"""Agreement tests for rules/activations.py (the clipping and shrinking family, CELU/SELU, GLU, RReLU) and rules/losses_pointwise.py and rules/losses_margin.py."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import check, rand

ACTIVATIONS: list[tuple[str, Callable[..., Any]]] = [
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.7)), ("relu6", lambda x: F.relu6(x * 4)),
    ("threshold", lambda x: F.threshold(x, 0.1, -2.0)), ("hardshrink", lambda x: F.hardshrink(x, 0.3)),
    ("softshrink", F.softshrink), ("tanhshrink", F.tanhshrink), ("celu", lambda x: F.celu(x, 0.5)),
    ("selu", F.selu), ("rrelu", lambda x: F.rrelu(x, 0.1, 0.3)), ("glu", lambda x: F.glu(x, 0)),
]


@pytest.mark.parametrize("rule, f", ACTIVATIONS, ids=[r for r, _ in ACTIVATIONS])
def test_activation(rule: str, f: Callable[..., Any]) -> None:
    d = check(lambda x: f(x), rand(4, 3))
    assert rule in [s.op for s in d.steps]


@pytest.mark.parametrize("module", [nn.Hardtanh(-2, 2), nn.ReLU6(), nn.Threshold(0.2, 1.0), nn.Hardshrink(),
                                    nn.Softshrink(0.2), nn.Tanhshrink(), nn.CELU(2.0), nn.SELU(), nn.RReLU().eval(),
                                    nn.GLU(1)], ids=lambda m: type(m).__name__)
def test_activation_modules(module: nn.Module) -> None:
    check(nn.Sequential(module), rand(4, 6))


def probs(*shape: int) -> torch.Tensor:
    return torch.rand(shape, dtype=torch.float64) * 0.8 + 0.1


def signs(*shape: int) -> torch.Tensor:
    """A fixed ±1 tensor (the same on every call: targets are constants of the loss)."""
    g = torch.Generator().manual_seed(sum(shape))
    return torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).double()


def fixed_probs(*shape: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(sum(shape))
    return torch.rand(shape, generator=g, dtype=torch.float64) * 0.8 + 0.1


LOSSES: list[tuple[str, Callable[..., Any], Callable[[], tuple[torch.Tensor, ...]]]] = [
    ("l1_loss", F.l1_loss, lambda: (rand(3, 4), rand(4))),
    ("smooth_l1_loss", lambda x, t: F.smooth_l1_loss(x, t, beta=0.5, reduction="sum"), lambda: (rand(3, 4), rand(3, 4))),
    ("huber_loss", lambda x, t: F.huber_loss(x, t, delta=0.7, reduction="none"), lambda: (rand(3, 4), rand(3, 4))),
    ("soft_margin_loss", lambda x: F.soft_margin_loss(x, signs(3, 4)), lambda: (rand(3, 4),)),
    ("kl_div", lambda x, t: F.kl_div(x, t, reduction="batchmean"), lambda: (rand(3, 4), probs(3, 4))),
    ("kl_div", lambda x, t: F.kl_div(x, t, log_target=True), lambda: (rand(3, 4), rand(3, 4))),
    ("binary_cross_entropy", F.binary_cross_entropy, lambda: (probs(3, 4), probs(3, 4))),
    ("poisson_nll_loss", lambda x, t: F.poisson_nll_loss(x, t, full=True), lambda: (rand(3, 4), probs(3, 4) * 4)),
    ("poisson_nll_loss", lambda x, t: F.poisson_nll_loss(x, t, log_input=False), lambda: (probs(3, 4), probs(3, 4))),
    ("margin_ranking_loss", lambda u, v: F.margin_ranking_loss(u, v, signs(4), 0.3), lambda: (rand(4), rand(4))),
    ("hinge_embedding_loss", lambda x: F.hinge_embedding_loss(x, signs(3, 4), 0.5), lambda: (rand(3, 4),)),
    ("gaussian_nll_loss", lambda x, t, v: F.gaussian_nll_loss(x, t, v, full=True), lambda: (rand(3, 4), rand(3, 4), probs(3))),
    ("gaussian_nll_loss", lambda x, t, v: F.gaussian_nll_loss(x, t, v * 0.1, eps=0.05, reduction="none"),
     lambda: (rand(3, 4), rand(3, 4), probs(3, 1))),  # some var < ε: limited, gradient taken there
    ("cosine_embedding_loss", lambda u, v: F.cosine_embedding_loss(u, v, torch.tensor([1.0, -1.0, -1.0]).double(), -0.5),
     lambda: (rand(3, 4), rand(3, 4))),  # both targets; a margin below the cosines, so −1 rows count
    ("multilabel_soft_margin_loss", lambda x: F.multilabel_soft_margin_loss(x, fixed_probs(3, 4).round(), fixed_probs(4)),
     lambda: (rand(3, 4),)),
    ("multi_margin_loss", lambda x: F.multi_margin_loss(x, torch.tensor([0, 3, 1]), p=2, weight=fixed_probs(4)),
     lambda: (rand(3, 4),)),
    ("triplet_margin_loss", lambda a, p, n: F.triplet_margin_loss(a, p, n, swap=True), lambda: (rand(3, 4),) * 3),
]


@pytest.mark.parametrize("rule, f, make", LOSSES, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(LOSSES)])
def test_loss(rule: str, f: Callable[..., Any], make: Callable[[], tuple[torch.Tensor, ...]]) -> None:
    torch.manual_seed(0)
    inputs = tuple(t.clone() for t in make())
    fixed = {1: lambda a: f(a), 2: lambda a, b: f(a, b), 3: lambda a, b, c: f(a, b, c)}[len(inputs)]
    torch.manual_seed(1)  # the constants drawn inside f: the same in every run check makes
    d = check(fixed, *inputs, seed=1)
    assert rule in [s.op for s in d.steps]


def test_triplet_with_a_distance_module_traces_through() -> None:
    """fx traces F.triplet_margin_with_distance_loss into pairwise distances and a clamp."""
    d = check(lambda a, p, n: F.triplet_margin_with_distance_loss(a, p, n, distance_function=nn.PairwiseDistance(3.0),
                                                                  reduction="none"), rand(3, 4), rand(3, 4), rand(3, 4))
    assert "pairwise_distance" in [s.op for s in d.steps]
