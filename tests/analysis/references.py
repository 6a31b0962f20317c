"""Reference counters the analysis tests reconcile with: fvcore (MACs) and FlopCounterMode (FLOPs)."""
from __future__ import annotations

from typing import Any

import torch


def fvcore_macs(model: Any, *inputs: torch.Tensor) -> dict[str, int]:
    """fvcore's count by operator (it calls a multiply–add a "flop")."""
    from fvcore.nn import FlopCountAnalysis
    module = model if isinstance(model, torch.nn.Module) else _Wrap(model)
    f = FlopCountAnalysis(module, inputs)
    f.unsupported_ops_warnings(False)
    f.uncalled_modules_warnings(False)
    return dict(f.by_operator())


def counter_flops(model: Any, *inputs: torch.Tensor) -> int:
    """``torch.utils.flop_counter.FlopCounterMode``'s total (2 per multiply–add)."""
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        model(*inputs)
    return fc.get_total_flops()


class _Wrap(torch.nn.Module):
    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *xs: torch.Tensor) -> Any:
        return self.fn(*xs)
