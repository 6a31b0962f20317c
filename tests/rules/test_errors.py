"""What derive does with what it cannot derive: unsupported ops and untraceable models."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from symbolic_torch.errors import CaptureError, UnsupportedOpError

from conftest import check, rand


@pytest.mark.parametrize("f, node, target", [
    (lambda x: torch.linalg.eigvalsh(x @ x.mT) * 2, "linalg_eigvalsh", "torch._C._linalg.linalg_eigvalsh"),
    (lambda x: x.qr()[0], "getitem", "Tensor.qr"),
    (lambda x: torch.linalg.eigh(x @ x.mT)[0], "getitem", "torch._C._linalg.linalg_eigh"),
], ids=["torch.linalg.eigvalsh", "Tensor.qr", "eigh-tuple"])
def test_unsupported_op_names_node_target_and_fix(f, node: str, target: str) -> None:
    with pytest.raises(UnsupportedOpError) as info:
        st.derive(f, rand(3, 4))
    err = info.value
    assert isinstance(err, NotImplementedError)
    assert (err.node_name, err.target) == (node, target)
    msg = str(err)
    assert f"node {node!r}" in msg and target in msg
    assert "add an entry to the rule table" in msg and "@rule(" in msg


class Mystery(nn.Module):
    """A torch.nn module no rule matches: fx would keep it whole (it treats torch.nn's modules
    as leaves); the tracer goes into it, so each of its ops is a step."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.logcumsumexp(-1) * 2


class Opaque(Mystery):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.inv(x)


Mystery.__module__ = Opaque.__module__ = "torch.nn.modules.mystery"


def test_torch_nn_module_without_a_rule_is_traced_into_its_ops() -> None:
    model = nn.Sequential(nn.Linear(4, 4), Mystery()).double()
    d = st.derive(model, rand(3, 4))
    assert d.report is not None and d.report.ok
    assert [s.op for s in d.steps][-2:] == ["logcumsumexp", "mul"]


def test_unsupported_op_inside_a_module_names_the_op() -> None:
    model = nn.Sequential(nn.Linear(4, 4), Opaque()).double()
    with pytest.raises(UnsupportedOpError) as info:
        st.derive(model, rand(4, 4))
    assert "linalg_inv" in str(info.value)


def data_dependent(x: torch.Tensor) -> torch.Tensor:
    if x.sum() > 0:
        return x * 2
    return -x


class DataDependent(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lin(x)
        if y.sum() > 0:
            return torch.tanh(y)
        return y


@pytest.mark.parametrize("model", [data_dependent, DataDependent().double()], ids=["function", "module"])
def test_data_dependent_control_flow_raises_capture_error(model) -> None:
    """Neither fx nor torch.export can capture ``if x.sum() > 0``: the error names both failures."""
    with pytest.raises(CaptureError) as info:
        st.derive(model, rand(3, 4))
    msg = str(info.value)
    assert "torch.fx.symbolic_trace failed" in msg and "control flow" in msg
    assert "fallback torch.export.export failed too" in msg


def shape_dependent(x: torch.Tensor) -> torch.Tensor:
    if x.shape[0] > 2:
        return torch.relu(x) * 2
    return -x


def test_shape_dependent_control_flow_derives_via_export() -> None:
    """fx cannot branch on ``x.shape[0]``; torch.export specializes it, and the result verifies."""
    torch.manual_seed(0)
    d = check(shape_dependent, rand(3, 4))
    assert d.capture_method == "torch.export"
    assert [s.op for s in d.steps] == ["relu", "mul"]


def _exported(loss):
    """``loss`` behind a shape test, which fx cannot trace: derive falls back to torch.export (ATen ops)."""
    def f(x, t):
        if x.shape[0] > 1:
            return loss(x, t)
        return x.sum()
    return f


W4 = torch.tensor([0.5, 2.0, 1.0, 1.5], dtype=torch.float64)


@pytest.mark.parametrize("loss, target", [
    pytest.param(lambda x, t: F.mse_loss(x, t, reduction="sum"), lambda: rand(3, 4)),
    pytest.param(lambda x, t: F.mse_loss(x, t, reduction="none"), lambda: rand(3, 4)),
    (lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=W4, reduction="sum"),
     lambda: torch.rand(3, 4, dtype=torch.float64)),
    (lambda x, t: F.binary_cross_entropy_with_logits(x, t, W4), lambda: torch.rand(3, 4, dtype=torch.float64)),
    (lambda x, t: F.cross_entropy(x, t, W4, reduction="sum"), lambda: torch.tensor([0, 3, 1])),
    (lambda x, t: F.cross_entropy(x, t), lambda: torch.tensor([0, 3, 1])),
    (lambda x, t: F.nll_loss(x, t, W4, reduction="none"), lambda: torch.tensor([2, 3, 1])),
], ids=["mse-sum", "mse-none", "bce-pos_weight-sum", "bce-weight", "ce-weight-sum", "ce", "nll-weight-none"])
def test_losses_through_export_read_aten_arguments(loss, target) -> None:
    """ATen's loss overloads order their arguments differently and code the reduction as an int."""
    torch.manual_seed(0)
    d = check(_exported(loss), rand(3, 4), target())
    assert d.capture_method == "torch.export"


def test_positional_reduction() -> None:
    d = check(lambda x, t: F.mse_loss(x, t, None, None, "sum"), rand(3, 2), rand(3, 2))
    assert d.steps[0].op == "mse_loss"
