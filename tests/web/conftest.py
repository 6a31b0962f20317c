"""Fixtures for the web view: a small derivation with a loss to train, and a written page."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import symbolic_torch as st
from examples.mlp import MLP


@pytest.fixture(scope="session")
def mlp() -> st.Derivation:
    """examples/mlp.py's MLP with mean-squared error, seed 0 (trains in a few SGD steps)."""
    torch.manual_seed(0)
    model = MLP().double()
    x = torch.randn(3, 4, dtype=torch.float64)
    return st.derive(model, x, loss=torch.nn.MSELoss(), target=torch.randn(3, 2, dtype=torch.float64))


@pytest.fixture(scope="session")
def tiny_page(tiny: st.Derivation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TinyCNN's view written with a budget of 60 worked elements."""
    return tiny.to_html(tmp_path_factory.mktemp("web") / "tiny.html", elements=60)
