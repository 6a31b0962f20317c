"""Small float64 models for the walkthrough tests."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from examples.mlp import MLP
from examples.teaching_cnn import TeachingCNN


@pytest.fixture()
def mlp_case() -> tuple[nn.Module, tuple[torch.Tensor, ...], torch.Tensor, nn.Module]:
    torch.manual_seed(0)
    return MLP().double(), (torch.randn(3, 4, dtype=torch.float64),), torch.randn(3, 2, dtype=torch.float64), nn.MSELoss()


@pytest.fixture()
def cnn_case() -> tuple[nn.Module, tuple[torch.Tensor, ...], torch.Tensor, nn.Module]:
    torch.manual_seed(0)
    return (TeachingCNN().double(), (torch.randn(1, 1, 4, 4, dtype=torch.float64),), torch.tensor([1]),
            nn.CrossEntropyLoss())
