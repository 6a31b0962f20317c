"""Derivations the printing tests share: verified, float64, seed 0 (built once per session)."""
from __future__ import annotations

import pytest
import torch

import symbolic_torch as st
from examples import swish_mlp
from examples.mlp import MLP
from examples.tiny_cnn import TinyCNN


@pytest.fixture(scope="session")
def mlp() -> st.Derivation:
    """examples/mlp.py with MSE, verified."""
    torch.manual_seed(0)
    d = st.derive(MLP().double(), torch.randn(3, 4, dtype=torch.float64), loss=torch.nn.MSELoss(),
                  target=torch.randn(3, 2, dtype=torch.float64))
    d.verify()
    return d


@pytest.fixture(scope="session")
def cnn() -> st.Derivation:
    """examples/tiny_cnn.py with cross-entropy, verified."""
    torch.manual_seed(0)
    d = st.derive(TinyCNN().double(), torch.randn(1, 1, 8, 8, dtype=torch.float64),
                  loss=torch.nn.CrossEntropyLoss(), target=torch.tensor([1]))
    d.verify()
    return d


@pytest.fixture(scope="session")
def swish() -> st.Derivation:
    """examples/swish_mlp.py: a custom activation and a loss written as plain functions."""
    return swish_mlp.derivation()
