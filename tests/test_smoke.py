"""End-to-end smoke test: the quick-start model derives and verifies."""
from __future__ import annotations

import torch

import symbolic_torch as st
from examples.tiny_cnn import TinyCNN


def test_tiny_cnn_derives_and_verifies() -> None:
    torch.manual_seed(0)
    model = TinyCNN().double()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    d = st.derive(model, x, loss=torch.nn.CrossEntropyLoss(), target=torch.tensor([1]))
    report = d.verify()
    assert report.ok, report
    assert [s.op for s in d.steps] == ["conv", "relu", "max_pool", "reshape", "linear", "cross_entropy"]
    grads = d.gradient_values()
    x_ = x.clone().requires_grad_(True)
    loss = torch.nn.functional.cross_entropy(model(x_), torch.tensor([1]))
    ref = torch.autograd.grad(loss, [x_, model.conv1.weight])
    assert torch.allclose(grads["x"], ref[0], atol=1e-12)
    assert torch.allclose(grads["conv1.weight"], ref[1], atol=1e-12)
