"""End to end: a ResNet basic block with BatchNorm derives, verifies and renders, in train and eval mode."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import symbolic_torch as st
from examples.resnet import BasicBlock


def block(cin: int, cout: int, stride: int, train: bool) -> BasicBlock:
    torch.manual_seed(0)
    m = BasicBlock(cin, cout, stride).double().train(train)
    with torch.no_grad():
        for bn in m.modules():
            if isinstance(bn, nn.BatchNorm2d):  # running statistics that are not the defaults
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.2, 0.2)
    return m


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("cin, cout, stride", [(2, 2, 1), (2, 3, 2)], ids=["identity", "projection"])
def test_basic_block_derives_and_verifies(cin: int, cout: int, stride: int, train: bool, tmp_path: Path) -> None:
    model = block(cin, cout, stride, train)
    x = torch.randn(2, cin, 4, 4, dtype=torch.float64)
    target = torch.randn(2, cout, 4 // stride, 4 // stride, dtype=torch.float64)
    d = st.derive(model, x, loss=nn.MSELoss(), target=target)
    assert d.verify().ok, str(d.report)
    ops = [s.op for s in d.steps]
    assert ops.count("batch_norm") == (3 if stride == 2 else 2) and "add" in ops and ops[-1] == "mse_loss"
    bn = d["bn1"]
    assert ("Sum" in str(bn.forward.rhs)) == train  # batch statistics in train mode, running ones in eval
    assert len(bn.notes) == (2 if train else 0)  # the running-statistics update, its own formula
    leaf = x.clone().requires_grad_(True)
    params = dict(model.named_parameters())
    torch.manual_seed(0)
    ref = torch.autograd.grad(nn.MSELoss()(model(leaf), target), [leaf, *params.values()])
    got = d.gradient_values()
    for name, r in zip(["x", *params], ref):
        assert (got[name] - r).abs().max().item() <= 1e-10, name
    if shutil.which("latexmk") is None:
        pytest.skip("latexmk not installed")
    if (stride == 2) == train:  # two of the four render (each PDF takes seconds)
        pdf = d.to_pdf(tmp_path / "block.pdf")
        assert pdf.exists() and pdf.stat().st_size > 0
