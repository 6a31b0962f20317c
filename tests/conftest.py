"""Shared fixtures: small models derived once per session."""
from __future__ import annotations

import pytest
import torch

import symbolic_torch as st
from examples.tiny_cnn import TinyCNN


@pytest.fixture(scope="session")
def tiny() -> st.Derivation:
    """TinyCNN with cross-entropy, seed 0 (the README's quick start)."""
    torch.manual_seed(0)
    model = TinyCNN().double()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    return st.derive(model, x, loss=torch.nn.CrossEntropyLoss(), target=torch.tensor([1]))
