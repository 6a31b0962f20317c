"""F.interpolate / nn.Upsample modes bicubic (4×4 taps, tables of weights and read positions) and area
(adaptive average pooling): agreement with autograd, and the bicubic tables against torch's own kernel."""
from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from conftest import Wrap, check, rand

Kw = dict[str, Any]
BICUBIC: list[tuple[str, Kw, tuple[int, ...]]] = [
    ("up-size", dict(size=(5, 7)), (1, 2, 3, 4)),
    ("up-x2-align", dict(scale_factor=2, align_corners=True), (2, 1, 3, 3)),
    ("down-size", dict(size=(2, 3)), (1, 1, 5, 7)),
    ("down-align", dict(size=(3, 2), align_corners=True), (1, 2, 6, 5)),
    ("scale-1.5x0.6", dict(scale_factor=(1.5, 0.6)), (1, 1, 4, 5)),
    ("scale-recompute", dict(scale_factor=(1.7, 2.3), recompute_scale_factor=True), (1, 1, 3, 2)),
    ("from-1x1", dict(size=(3, 2)), (1, 1, 1, 1)),
    ("to-1x1-align", dict(size=(1, 1), align_corners=True), (1, 1, 3, 4)),
    ("same-size", dict(size=(3, 4)), (2, 2, 3, 4)),
]
AREA: list[tuple[str, Kw, tuple[int, ...]]] = [
    ("1d-7to3", dict(size=3), (2, 2, 7)),
    ("1d-up", dict(size=5), (1, 2, 3)),
    ("2d-5x7to2x3", dict(size=(2, 3)), (1, 2, 5, 7)),
    ("2d-half", dict(scale_factor=0.5), (1, 1, 4, 6)),
    ("3d", dict(size=(1, 2, 3)), (1, 1, 2, 3, 5)),
]


@pytest.mark.parametrize("kw, shape", [pytest.param(k, s, id=n) for n, k, s in BICUBIC])
def test_bicubic(kw: Kw, shape: tuple[int, ...]) -> None:
    d = check(Wrap(lambda s, x: F.interpolate(x, mode="bicubic", **kw)), rand(*shape))
    (step,) = d.steps
    assert str(step.forward.rhs) == "Sum(u[i, a]*v[j, b]*x[n, c, s[i, a], r[j, b]], (a, 0, 3), (b, 0, 3))"


@pytest.mark.parametrize("kw, shape", [pytest.param(k, s, id=n) for n, k, s in AREA])
def test_area(kw: Kw, shape: tuple[int, ...]) -> None:
    check(Wrap(lambda s, x: F.interpolate(x, mode="area", **kw)), rand(*shape))


@pytest.mark.parametrize("module", [nn.Upsample(size=(4, 6), mode="bicubic"),
                                    nn.Upsample(scale_factor=2, mode="bicubic", align_corners=True),
                                    nn.Upsample(size=(2, 2), mode="area")], ids=["bicubic", "bicubic-align", "area"])
def test_upsample_module(module: nn.Module) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 2, 1), module).double()
    check(model, rand(1, 2, 3, 5))


def test_bicubic_gradient_and_note() -> None:
    d = check(Wrap(lambda s, x: F.interpolate(x, size=(5, 7), mode="bicubic")), rand(1, 2, 3, 4))
    (step,) = d.steps
    assert str(step.gradients["input"].rhs) == (
        "Sum(Piecewise((u[i, a]*v[j, b]*ḡ[n, c, i, j], Eq(k, s[i, a]) & Eq(l, r[j, b])), (0, True)), "
        "(i, 0, 4), (j, 0, 6), (a, 0, 3), (b, 0, 3))")
    assert step.operand("weights0").value.shape == (5, 4) and not step.operand("weights0").differentiable
    (note,) = step.notes
    assert r"A = -0.75" in note and r"\frac{H}{H'}" in note


@pytest.mark.parametrize("size, out, align, scale", [(3, 5, False, None), (5, 2, False, None), (4, 9, True, None),
                                                     (4, 6, False, 1.5), (1, 3, False, None), (6, 4, True, None)])
def test_cubic_tables_are_torchs_weights(size: int, out: int, align: bool, scale: float | None) -> None:
    """The weights at each read position, summed, are the rows of torch's own (dense) interpolation matrix."""
    from symbolic_torch.rules.upsample import cubic_taps
    w, src = cubic_taps(size, out, align, scale)
    dense = torch.zeros(out, size, dtype=torch.float64).index_put_((torch.arange(out).repeat_interleave(4),
                                                                     src.reshape(-1)), w.reshape(-1), accumulate=True)
    eye = torch.eye(size, dtype=torch.float64).reshape(1, size, size, 1)  # channel p: the one-hot input e_p
    kw: Kw = dict(scale_factor=(scale, 1.0)) if scale else dict(size=(out, 1))
    ref = F.interpolate(eye, mode="bicubic", align_corners=align, **kw)[0, :, :, 0].T  # ref[i, p]
    assert torch.allclose(dense, ref, atol=1e-15, rtol=0)
