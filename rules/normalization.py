"""Normalization-family layers. Dropout in eval mode is the identity."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.call import Call
from symbolic_torch.registry import rule

from ._vocab import names


@rule("dropout", functions=[F.dropout, F.dropout1d, F.dropout2d, F.dropout3d],
      modules=[nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d],
      latex=r"\operatorname{Dropout}")
def dropout(call: Call, input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> sp.Expr:
    """y = x (eval mode; the training-mode mask is not supported yet)."""
    if call.module is not None:
        p, training = call.module.p, call.module.training
    if training and p > 0:
        raise NotImplementedError("dropout in training mode (call model.eval(), or use p=0)")
    x = call.operand(input, "input", "x")
    idx = call.out(*names(x.ndim, [], pool="nijklm"))
    return x[idx] if idx else x[()]
