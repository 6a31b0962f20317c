"""What derive does with what it cannot derive: unsupported ops and untraceable models."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.errors import CaptureError, UnsupportedOpError

from conftest import check, rand


@pytest.mark.parametrize("f, node, target", [
    (lambda x: torch.cumsum(x, 0) * 2, "cumsum", "torch.cumsum"),
    (lambda x: x.cumsum(1), "cumsum", "Tensor.cumsum"),
    (lambda x: torch.div(x, 2.0, rounding_mode="floor"), "div", "torch.div"),
], ids=["torch.cumsum", "Tensor.cumsum", "div-rounding_mode"])
def test_unsupported_op_names_node_target_and_fix(f, node: str, target: str) -> None:
    with pytest.raises(UnsupportedOpError) as info:
        st.derive(f, rand(3, 4))
    err = info.value
    assert isinstance(err, NotImplementedError)
    assert (err.node_name, err.target) == (node, target)
    msg = str(err)
    assert f"node {node!r}" in msg and target in msg
    assert "add an entry to the rule table" in msg and "@rule(" in msg


@pytest.mark.xfail(strict=True, reason="core: lower.describe_target gives a call_module node's path "
                   "('1'), not its class, so the message does not name LayerNorm")
def test_unsupported_module_names_its_class() -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)).double()
    with pytest.raises(UnsupportedOpError, match="LayerNorm"):
        st.derive(model, rand(3, 4))


def test_dropout_in_training_mode_is_unsupported() -> None:
    with pytest.raises(UnsupportedOpError, match="training mode"):
        st.derive(nn.Sequential(nn.Dropout(0.5)).train(), rand(3, 4))


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
