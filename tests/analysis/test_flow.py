"""``gradient_flow``: a deep sigmoid MLP vanishes, the same depth with residuals and LayerNorm does
not; the norms are autograd's."""
from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.analysis.flow import gradient_flow

WIDTH = 16


class Deep(nn.Module):
    """20 × (Linear → sigmoid), then a head; with ``residual``, x + sigmoid(Linear(LayerNorm(x)))."""

    def __init__(self, residual: bool = False, depth: int = 20, activation=torch.sigmoid) -> None:
        super().__init__()
        self.residual = residual
        self.activation = activation
        self.layers = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(depth))
        self.norms = nn.ModuleList(nn.LayerNorm(WIDTH) for _ in range(depth)) if residual else None
        self.head = nn.Linear(WIDTH, 3)

    def forward(self, x):
        for k, layer in enumerate(self.layers):
            x = x + self.activation(layer(self.norms[k](x))) if self.residual else self.activation(layer(x))
        return self.head(x)


def _derive(model):
    torch.manual_seed(1)
    x = torch.randn(8, WIDTH, dtype=torch.float64)
    t = torch.randint(0, 3, (8,))
    return st.derive(model.double(), x, loss=nn.CrossEntropyLoss(), target=t, verify=False), x, t


@pytest.fixture(scope="module")
def plain():
    torch.manual_seed(0)
    return _derive(Deep())


def test_deep_sigmoid_mlp_vanishes(plain):
    d = plain[0]
    flow = gradient_flow(d)
    assert [f.name for f in flow.layers] == [f"layers.{k}" for k in range(20)] + ["head"]
    assert {"layers.0", "layers.10", "layers.16"} <= set(flow.vanishing)
    assert "head" not in flow.vanishing and not flow.exploding
    assert flow.layers[0].grad_norm < 1e-12 * flow.reference.grad_norm
    assert any("sigmoid ×20" in a for a in flow.advice)
    assert any("no normalization and no residual" in a for a in flow.advice)


def test_norms_are_autograds(plain):
    d, x, t = plain
    model = d.run.model
    loss = nn.CrossEntropyLoss()(model(x), t)
    names = [n for n, _ in model.named_parameters()]
    grads = dict(zip(names, torch.autograd.grad(loss, list(model.parameters()))))
    for f in gradient_flow(d).layers:
        want = math.sqrt(sum(float(grads[n].pow(2).sum()) for n in f.params))
        assert f.grad_norm == pytest.approx(want, rel=1e-9, abs=0)
        assert f.param_norm == pytest.approx(math.sqrt(sum(float(p.detach().pow(2).sum()) for n, p in model.named_parameters()
                                                           if n in f.params)), rel=1e-12)
        assert f.ratio == pytest.approx(f.grad_norm / f.param_norm, rel=1e-12)


def test_residual_and_layernorm_do_not_vanish():
    torch.manual_seed(0)
    flow = gradient_flow(_derive(Deep(residual=True))[0])
    assert not flow.vanishing and not flow.exploding
    assert len(flow.layers) == 41
    assert min(f.grad_norm for f in flow.layers) > 1e-3 * flow.reference.grad_norm
    assert flow.advice[0].startswith("no layer's gradient")


def test_thresholds_are_overridable(plain):
    flow = plain[0].gradient_flow(vanishing=1e-30)
    assert not flow.vanishing and flow.thresholds == {"vanishing": 1e-30, "exploding": 1e3, "ratio": 1e2}
    assert "vanishing below 1e-30 ×" in str(flow)


def test_large_initialization_explodes_and_is_named():
    torch.manual_seed(0)
    model = Deep(depth=12, activation=lambda x: x)
    with torch.no_grad():
        for layer in model.layers:
            layer.weight.mul_(6.0)
    flow = gradient_flow(_derive(model)[0])
    assert {"layers.0", "layers.11"} <= set(flow.exploding) and not flow.vanishing
    assert all(f.ratio > 1e2 for f in flow.layers if f.name in flow.exploding)
    assert any(a.startswith("initialization too large") and "layers.0" in a for a in flow.advice)


def test_plot_and_tables(plain, tmp_path):
    flow = gradient_flow(plain[0])
    path = flow.plot(tmp_path / "flow.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000
    md = flow.to_markdown()
    assert md.splitlines()[0].startswith("| layer ") and "| vanishing |" in md
    assert "$\\|$$\\partial$L/$\\partial$$\\theta$$\\|$" in flow.table("latex")
