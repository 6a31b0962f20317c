"""Small derived models for the analysis and storage tests, each derived (and verified) once."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import symbolic_torch as st
from examples.mlp import MLP


class ConvBN(nn.Module):
    """conv → BatchNorm (train mode: running statistics move) → ReLU → linear."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 3, 3)
        self.bn = nn.BatchNorm2d(3)
        self.fc = nn.Linear(3 * 2 * 2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv(x))).flatten(1))


class Pool(nn.Module):
    """Padded, strided max pooling (``WindowMax`` with its padding guard) after a 1×1 conv."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 2, 1)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


class Recurrent(nn.Module):
    """An LSTM (unrolled over 2 time steps) and a linear head on the last hidden state."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 4, batch_first=True)
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.lstm(x)
        return self.fc(out[:, -1])


def _derive(name: str) -> tuple[nn.Module, st.Derivation]:
    torch.manual_seed(0)
    f64 = torch.float64
    if name == "mlp":
        m = MLP().double()
        return m, st.derive(m, torch.randn(3, 4, dtype=f64), loss=nn.MSELoss(), target=torch.randn(3, 2, dtype=f64))
    if name == "bn":
        m = ConvBN().double().train()
        return m, st.derive(m, torch.randn(2, 2, 4, 4, dtype=f64), loss=nn.CrossEntropyLoss(),
                            target=torch.tensor([0, 1]))
    if name == "pool":
        m = Pool().double()
        return m, st.derive(m, torch.randn(1, 2, 5, 5, dtype=f64))  # no loss: a seeded random ḡ
    m = Recurrent().double()
    return m, st.derive(m, torch.randn(2, 2, 3, dtype=f64), loss=nn.MSELoss(), target=torch.randn(2, 2, dtype=f64))


@pytest.fixture(scope="session")
def zoo(tiny: st.Derivation) -> dict[str, tuple[nn.Module | None, st.Derivation]]:
    """name → (model, derivation): TinyCNN, MLP, conv–BatchNorm (train), max pooling, LSTM."""
    out: dict[str, tuple[nn.Module | None, st.Derivation]] = {"tiny_cnn": (tiny.run.model, tiny)}
    for name in ("mlp", "bn", "pool", "lstm"):
        out[name] = _derive(name)
    return out


MODELS = ["tiny_cnn", "mlp", "bn", "pool", "lstm"]
