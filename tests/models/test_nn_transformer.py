"""torch.nn.Transformer, TransformerEncoder and TransformerDecoder derive, verify and give autograd's gradients.

Tiny (d_model 8, 2 heads, feed-forward 16, two layers), float64, dropout 0. The loss reads the
output through a linear head into cross-entropy — not a ``.sum(-1)`` of a LayerNorm output, whose
gradient is zero by construction and would let any formula pass.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
from torch import nn

try:
    from model_check import Case, check
except ImportError:  # tests/models as a package
    from .model_check import Case, check

D, HEADS, FF, SEQ, CLASSES = 8, 2, 16, 4, 3


class Classify(nn.Module):
    """body(*inputs) → linear head over the last dim, flattened to (batch·seq, classes) for cross-entropy."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body
        self.head = nn.Linear(D, CLASSES)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(*inputs)).reshape(-1, CLASSES)


def _layer_kw() -> dict[str, Any]:
    return dict(d_model=D, nhead=HEADS, dim_feedforward=FF, dropout=0.0, batch_first=True)


def _encoder() -> nn.Module:
    return nn.TransformerEncoder(nn.TransformerEncoderLayer(**_layer_kw()), num_layers=2, enable_nested_tensor=False)


def _decoder() -> nn.Module:
    return nn.TransformerDecoder(nn.TransformerDecoderLayer(**_layer_kw()), num_layers=2)


def _transformer() -> nn.Module:
    kw = _layer_kw()
    kw.pop("nhead")
    return nn.Transformer(nhead=HEADS, num_encoder_layers=2, num_decoder_layers=2, **kw)


def _builder(body: Callable[[], nn.Module], lengths: tuple[int, ...]) -> Callable[[], tuple[nn.Module, tuple, Any, Any]]:
    def build() -> tuple[nn.Module, tuple, Any, Any]:
        torch.manual_seed(0)
        model = Classify(body()).double().eval()
        inputs = tuple(torch.randn(2, n, D, dtype=torch.float64) for n in lengths)
        target = torch.randint(0, CLASSES, (2 * SEQ,))
        return model, inputs, nn.CrossEntropyLoss(), target
    return build


CASES = [
    Case("TransformerEncoder", "torch.nn", _builder(_encoder, (SEQ,))),
    Case("TransformerDecoder", "torch.nn", _builder(_decoder, (SEQ, SEQ + 1))),  # (tgt, memory)
    Case("Transformer", "torch.nn", _builder(_transformer, (SEQ + 1, SEQ))),  # (src, tgt): the output is tgt's length
]


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_nn_transformer_derives_verifies_and_matches_autograd(case: Case) -> None:
    d = check(case)
    ops = [s.op for s in d.steps]
    assert ops[-1] == "cross_entropy" and "sdpa" in ops and "layer_norm_fn" in ops, ops  # attention, normalised
