"""Identical steps are derived once: repeated blocks and a second ``derive`` reuse the formulas."""
from __future__ import annotations

from typing import Any

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.autodiff import differentiate
from examples.gpt2_stack import GPT2Stack


@pytest.fixture
def derivations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The (step, operand) of every gradient actually derived by sympy, from an empty cache."""
    monkeypatch.setattr(differentiate, "_CACHE", {})
    done: list[str] = []
    real = differentiate._derive_gradient

    def counted(call: Any, rhs: Any, operand: Any, seed_one: bool) -> Any:
        done.append(f"{call.node_name}.{operand.key}")
        return real(call, rhs, operand, seed_one)
    monkeypatch.setattr(differentiate, "_derive_gradient", counted)
    return done


def _derive(depth: int) -> st.Derivation:
    torch.manual_seed(0)
    model = GPT2Stack(depth, width=8, heads=2).double()
    x = torch.randn(1, 3, 8, dtype=torch.float64)
    return st.derive(model, x, loss=torch.nn.MSELoss(), target=torch.randn(1, 3, 8, dtype=torch.float64))


def test_identical_blocks_are_derived_once_and_still_verify(derivations: list[str]) -> None:
    one = _derive(1)
    first = len(derivations)
    formulas_one = sum(len(s.gradients) for s in one.steps)
    assert 0 < first <= formulas_one
    three = _derive(3)
    assert len(derivations) == first  # blocks 2 and 3 (and block 1 again): nothing new to derive
    assert sum(len(s.gradients) for s in three.steps) > 2 * formulas_one
    assert three.report is not None and three.report.ok  # each reused formula checked against autograd
    by_path = {s.module_path: s for s in three.steps if s.module_path}
    pairs = [(s, by_path[s.module_path.replace("h.0.", "h.2.")]) for s in three.steps
             if s.module_path and s.module_path.startswith("h.0.")]
    assert len(pairs) == 6  # ln_1, c_attn, c_proj, ln_2, c_fc, mlp_proj
    assert all(a.gradients[k] is b.gradients[k] for a, b in pairs for k in a.gradients)  # the same objects


def test_a_second_derive_reuses_every_formula(derivations: list[str]) -> None:
    _derive(1)
    before = len(derivations)
    d = _derive(1)
    assert len(derivations) == before and d.report is not None and d.report.ok


def test_a_different_shape_is_derived_anew(derivations: list[str]) -> None:
    """Shapes are part of the key: the ranges of sums and conditions depend on them."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2).double()
    st.derive(lin, torch.randn(4, 3, dtype=torch.float64))
    before = len(derivations)
    d = st.derive(lin, torch.randn(5, 3, dtype=torch.float64))
    assert len(derivations) > before
    assert "(n, 0, 4)" in str(d.steps[0].gradients["weight"].rhs)
