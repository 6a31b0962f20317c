"""torchvision-style CNNs (no torchvision): ResNet-18's layout (examples/resnet.py), MobileNet-v2, a VGG block.

Tiny widths and 16×16 inputs, float64, cross-entropy; BatchNorm models in train and eval mode
(with running statistics that are not the defaults). Each derives, verifies, and its
``gradient_values()`` equal autograd's.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
from torch import nn

from examples.resnet import ResNet18

try:
    from model_check import Case, check
except ImportError:  # tests/models as a package
    from .model_check import Case, check


class InvertedResidual(nn.Module):
    """MobileNet-v2's block: 1×1 expand → BN → ReLU6, 3×3 depthwise → BN → ReLU6, 1×1 project → BN (+ x)."""

    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        self.use_residual = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden),
                   nn.ReLU6(inplace=True), nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(x) if self.use_residual else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's mobilenet_v2 shape, shrunk: 3×3/2 stem, inverted residuals (t, c, n, s), 1×1 head,
    global average pool, dropout (off in eval; p=0 here so train mode is deterministic), linear."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        settings = [(1, 4, 1, 1), (6, 6, 2, 2), (6, 8, 2, 2)]
        layers: list[nn.Module] = [nn.Conv2d(3, 4, 3, 2, 1, bias=False), nn.BatchNorm2d(4), nn.ReLU6(inplace=True)]
        cin = 4
        for t, c, n, s in settings:
            for k in range(n):
                layers.append(InvertedResidual(cin, c, s if k == 0 else 1, t))
                cin = c
        layers += [nn.Conv2d(cin, 16, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(16, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
        return self.classifier(torch.flatten(x, 1))


class VGGBlock(nn.Module):
    """A VGG stage and head: (3×3 conv, ReLU) × 2, 2×2 max pool, flatten, linear → ReLU → linear."""

    def __init__(self, classes: int = 5) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(inplace=True),
                                      nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2, 2))
        self.classifier = nn.Sequential(nn.Linear(4 * 8 * 8, 8), nn.ReLU(inplace=True), nn.Linear(8, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.features(x), 1))


def _builder(cls: Callable[[], nn.Module], train: bool) -> Callable[[], tuple[nn.Module, tuple, Any, Any]]:
    def build() -> tuple[nn.Module, tuple, Any, Any]:
        torch.manual_seed(0)
        model = cls().double().train(train)
        with torch.no_grad():
            for bn in model.modules():
                if isinstance(bn, nn.BatchNorm2d):  # statistics and affine parameters that are not the defaults
                    bn.running_mean.uniform_(-0.5, 0.5)
                    bn.running_var.uniform_(0.5, 2.0)
                    bn.weight.uniform_(0.5, 1.5)
                    bn.bias.uniform_(-0.2, 0.2)
        # batch 4: ResNet's last stages are 1×1, and train-mode BatchNorm over only two values is
        # ill-conditioned (x̂ = ±1 whatever x is; the gradient is the rounding noise of a cancellation)
        x = torch.randn(4, 3, 16, 16, dtype=torch.float64)
        return model, (x,), nn.CrossEntropyLoss(), torch.tensor([1, 3, 0, 4])
    return build


CASES = [
    Case("ResNet-18 layout (train)", "torchvision-style", _builder(ResNet18, True)),
    Case("ResNet-18 layout (eval)", "torchvision-style", _builder(ResNet18, False)),
    Case("MobileNet-v2 (train)", "torchvision-style", _builder(MobileNetV2, True)),
    Case("MobileNet-v2 (eval)", "torchvision-style", _builder(MobileNetV2, False)),
    Case("VGG block", "torchvision-style", _builder(VGGBlock, False)),
]


@pytest.mark.parametrize("case", [pytest.param(c, marks=[] if "VGG" in c.name else [pytest.mark.slow]) for c in CASES],
                         ids=[c.name for c in CASES])  # ResNet and MobileNet take 30–70 s each
def test_cnn_derives_verifies_and_matches_autograd(case: Case) -> None:
    d = check(case)
    ops = [s.op for s in d.steps]
    assert ops[-1] == "cross_entropy" and ops.count("conv") >= 2, ops
