"""Agreement tests for class losses over spatial dims, ignore_index and label smoothing (rules/losses.py)."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from conftest import Wrap2, check, rand

W4 = torch.tensor([0.5, 2.0, 1.0, 1.5], dtype=torch.float64)  # class weights: constants (torch has no gradient for them)


def labels(*shape: int, ignore: int | None = None, classes: int = 4) -> torch.Tensor:
    """Random class indices; with ``ignore``, about a third of them set to it (never all)."""
    g = torch.Generator().manual_seed(sum(shape) + 7)
    t = torch.randint(0, classes, shape, generator=g)
    if ignore is not None:
        hit = torch.rand(shape, generator=g) < 0.35
        hit.view(-1)[0], hit.view(-1)[-1] = True, False
        t = torch.where(hit, torch.tensor(ignore), t)
    return t


def probs(*shape: int, dim: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(sum(shape) + 3)
    return torch.softmax(torch.randn(shape, generator=g, dtype=torch.float64), dim=dim)


Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
CASES: list[tuple[str, Loss, tuple[int, ...], Callable[[], torch.Tensor]]] = [
    # cross entropy, class indices over (N, C, d1, …)
    ("ce-1d-mean", lambda x, t: F.cross_entropy(x, t), (3, 4, 5), lambda: labels(3, 5)),
    ("ce-2d-sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), (2, 4, 3, 2), lambda: labels(2, 3, 2)),
    ("ce-2d-none", lambda x, t: F.cross_entropy(x, t, reduction="none"), (2, 4, 2, 3), lambda: labels(2, 2, 3)),
    ("ce-3d-weight-mean", lambda x, t: F.cross_entropy(x, t, W4), (1, 4, 2, 2, 2), lambda: labels(1, 2, 2, 2)),
    ("ce-1d-weight-none", lambda x, t: F.cross_entropy(x, t, W4, reduction="none"), (2, 4, 3), lambda: labels(2, 3)),
    # ignore_index hit: default −100, and a class index in range
    ("ce-ignore-mean", lambda x, t: F.cross_entropy(x, t), (4, 4), lambda: labels(4, ignore=-100)),
    ("ce-ignore-2d-mean", lambda x, t: F.cross_entropy(x, t), (2, 4, 3, 3), lambda: labels(2, 3, 3, ignore=-100)),
    ("ce-ignore-weight-mean", lambda x, t: F.cross_entropy(x, t, W4), (2, 4, 5), lambda: labels(2, 5, ignore=-100)),
    ("ce-ignore-in-range-weight-sum", lambda x, t: F.cross_entropy(x, t, W4, ignore_index=2, reduction="sum"),
     (3, 4, 4), lambda: labels(3, 4, ignore=2)),
    ("ce-ignore-in-range-none", lambda x, t: F.cross_entropy(x, t, ignore_index=0, reduction="none"),
     (3, 4, 2), lambda: labels(3, 2, ignore=0)),
    ("ce-ignore-unbatched-sum", lambda x, t: F.cross_entropy(x, t, reduction="sum"), (4,), lambda: torch.tensor(-100)),
    # label smoothing
    ("ce-smooth-mean", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), (5, 4), lambda: labels(5)),
    ("ce-smooth-weight-mean", lambda x, t: F.cross_entropy(x, t, W4, label_smoothing=0.2), (5, 4), lambda: labels(5)),
    ("ce-smooth-weight-sum", lambda x, t: F.cross_entropy(x, t, W4, reduction="sum", label_smoothing=0.3), (3, 4, 2),
     lambda: labels(3, 2)),
    ("ce-smooth-none", lambda x, t: F.cross_entropy(x, t, reduction="none", label_smoothing=0.25), (2, 4, 3),
     lambda: labels(2, 3)),
    ("ce-smooth-ignore-weight-mean", lambda x, t: F.cross_entropy(x, t, W4, label_smoothing=0.15), (2, 4, 3, 2),
     lambda: labels(2, 3, 2, ignore=-100)),
    ("ce-smooth-ignore-in-range-mean", lambda x, t: F.cross_entropy(x, t, ignore_index=3, label_smoothing=0.4),
     (6, 4), lambda: labels(6, ignore=3)),
    ("ce-smooth-ignore-weight-none", lambda x, t: F.cross_entropy(x, t, W4, reduction="none", label_smoothing=0.1),
     (4, 4), lambda: labels(4, ignore=-100)),
    ("ce-smooth-unbatched-weight-mean", lambda x, t: F.cross_entropy(x, t, W4, label_smoothing=0.2), (4,),
     lambda: torch.tensor(1)),
    # class probabilities over spatial dims, with and without smoothing
    ("ce-probs-2d-mean", lambda x, t: F.cross_entropy(x, t), (2, 4, 2, 3), lambda: probs(2, 4, 2, 3)),
    ("ce-probs-1d-weight-none", lambda x, t: F.cross_entropy(x, t, W4, reduction="none"), (2, 4, 3),
     lambda: probs(2, 4, 3)),
    ("ce-probs-smooth-weight-mean", lambda x, t: F.cross_entropy(x, t, W4, label_smoothing=0.3), (3, 4, 2),
     lambda: probs(3, 4, 2)),
    ("ce-probs-smooth-sum", lambda x, t: F.cross_entropy(x, t, reduction="sum", label_smoothing=0.2), (5, 4),
     lambda: probs(5, 4)),
    ("ce-probs-smooth-unbatched", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.2), (4,), lambda: probs(4, dim=0)),
    # NLL over spatial dims and ignore_index
    ("nll-1d-mean", lambda x, t: F.nll_loss(F.log_softmax(x, 1), t), (3, 4, 5), lambda: labels(3, 5)),
    ("nll-2d-weight-sum", lambda x, t: F.nll_loss(x, t, W4, reduction="sum"), (2, 4, 3, 2), lambda: labels(2, 3, 2)),
    ("nll-2d-none", lambda x, t: F.nll_loss(x, t, reduction="none"), (2, 4, 2, 2), lambda: labels(2, 2, 2)),
    ("nll-ignore-mean", lambda x, t: F.nll_loss(x, t), (5, 4), lambda: labels(5, ignore=-100)),
    ("nll-ignore-weight-mean-2d", lambda x, t: F.nll_loss(x, t, W4, ignore_index=1), (2, 4, 3, 3),
     lambda: labels(2, 3, 3, ignore=1)),
    ("nll-ignore-none", lambda x, t: F.nll_loss(x, t, W4, reduction="none"), (2, 4, 4), lambda: labels(2, 4, ignore=-100)),
    ("nll-ignore-sum", lambda x, t: F.nll_loss(x, t, ignore_index=-1, reduction="sum"), (6, 4),
     lambda: labels(6, ignore=-1)),
]


@pytest.mark.parametrize("loss, shape, target", [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_class_loss(loss: Loss, shape: tuple[int, ...], target: Callable[[], torch.Tensor]) -> None:
    torch.manual_seed(0)
    t = target()
    ignored = "every target is ignore_index: nothing flows back" if bool((t == -100).all()) else ""
    d = check(Wrap2(lambda s, x, t: loss(x, t)), rand(*shape) * 2, t, zero_gradient_ok=ignored)
    assert d.steps[-1].op in ("cross_entropy", "nll_loss")


@pytest.mark.parametrize("loss", [
    nn.CrossEntropyLoss(ignore_index=1, label_smoothing=0.1),
    nn.CrossEntropyLoss(weight=W4, reduction="sum", label_smoothing=0.2),
    nn.NLLLoss(weight=W4, ignore_index=0)], ids=["ce-module", "ce-module-weight", "nll-module"])
def test_loss_argument_segmentation(loss: nn.Module) -> None:
    """A 1×1 conv segmentation head, the loss given to ``derive`` with a (N, H, W) target hitting ignore_index."""
    torch.manual_seed(0)
    model = nn.Conv2d(3, 4, 1).double()
    if isinstance(loss, nn.NLLLoss):
        model = nn.Sequential(model, nn.LogSoftmax(dim=1))
    check(model, rand(2, 3, 3, 2), loss=loss, target=labels(2, 3, 2, ignore=getattr(loss, "ignore_index")))


def test_all_ignored_mean_is_unsupported() -> None:
    with pytest.raises(st.UnsupportedOpError, match="every target equals ignore_index"):
        st.derive(Wrap2(lambda s, x, t: F.cross_entropy(x, t)), rand(2, 4), torch.tensor([-100, -100]))


def test_label_smoothing_formula() -> None:
    """Label smoothing with class weights: torch's (1 − ε)·NLL + (ε/C)·Σ_c w[c]·(−log p[c]), one normalizer."""
    torch.manual_seed(0)
    d = check(Wrap2(lambda s, x, t: F.cross_entropy(x, t, W4, label_smoothing=0.1)), rand(3, 4), labels(3, ignore=-100))
    step = d.steps[-1]
    lse = r"\log{\left(\sum_{k=0}^{3} e^{x_{n,k}} \right)}"
    assert st.latex(step.forward) == (
        r"y = \frac{\sum_{n=0}^{2} - \left(\frac{9 \left(- " + lse + r" + x_{n,t_{n}}\right) w_{t_{n}}}{10} + "
        r"\frac{\sum_{c=0}^{3} \left(- " + lse + r" + x_{n,c}\right) w_{c}}{40}\right) \left[t_{n} \neq -100\right]}"
        r"{\sum_{n=0}^{2} \left[t_{n} \neq -100\right] w_{t_{n}}}")
    assert str(step.forward).startswith("Eq(y, Sum(-(9*(-log(Sum(exp(x[n, k]), (k, 0, 3))) + x[n, t[n]])*w[t[n]]/10 + ")
