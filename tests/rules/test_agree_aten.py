"""Agreement tests for rules/aten.py: the ATen-only ops torch.export graphs hold."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.errors import UnsupportedOpError
from symbolic_torch.frontend import table
from tests.rules.conftest import check, rand

aten = torch.ops.aten


def test_aten_overloads_reach_their_rules() -> None:
    """Each overload finds the entry of rules/aten.py by its ATen name."""
    for op, name in [(aten.alias.default, "aten_alias"), (aten._to_copy.default, "aten_alias"),
                     (aten.lift_fresh_copy.default, "aten_alias"), (aten._unsafe_view.default, "aten_unsafe_view")]:
        assert table.lookup("call_function", op).name == name


def test_alias_and_copies() -> None:
    """alias, lift_fresh_copy and _to_copy are the identity: ḡ passes through unchanged."""
    check(lambda x: aten.alias.default(x) * aten.lift_fresh_copy.default(x).sin()
          + aten._to_copy.default(x, dtype=torch.float64).exp(), rand(3, 4))


def test_unsafe_view() -> None:
    """_unsafe_view reshapes (row-major): a permutation-sensitive weight tells wrong reads apart."""
    w = torch.arange(12, dtype=torch.float64).reshape(2, 6) + 1
    check(lambda x: aten._unsafe_view.default(x.exp(), [2, 6]) * w, rand(3, 4))


class _Sliced(nn.Module):
    """A branch on a shape (fx cannot trace it) around a full slice: export writes aten.alias."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 3).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = 0 if x.shape[0] > 1 else 1
        return self.lin(x)[:, -keep:].tanh()  # like GPT-2's slice_logits_to_keep with 0 kept


def test_alias_from_export() -> None:
    """The same rule in a real torch.export graph (the capture fallback)."""
    d = check(_Sliced(), rand(3, 4))
    assert d.capture_method == "torch.export"
    assert any("aten.alias" in s.target for s in d.steps), [s.target for s in d.steps]


class _Sampled(nn.Module):
    """fx cannot trace the shape branch; the export graph then holds aten.grid_sampler (no rule)."""

    def forward(self, x: torch.Tensor, grid: torch.Tensor) -> torch.Tensor:
        x = x.tanh() if x.shape[0] > 1 else x
        return torch.nn.functional.grid_sample(x, grid, align_corners=False)


def test_export_op_without_rule_names_itself() -> None:
    """An ATen op of an export graph that the table lacks is an UnsupportedOpError naming it."""
    with pytest.raises(UnsupportedOpError, match=r"no rule for target torch\.ops\.aten\.grid_sampler\.default"):
        st.derive(_Sampled(), rand(2, 1, 4, 4), torch.rand(2, 3, 3, 2, dtype=torch.float64) * 2 - 1)
