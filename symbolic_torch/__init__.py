"""symbolic_torch: compile a PyTorch run into its derivation.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.randn(4, 3, dtype=torch.float64))
>>> d.verify().ok
True
"""
from __future__ import annotations

from . import errors
from .derive import derive
from .errors import CaptureError, UnsupportedOpError, VerificationError
from .ir import Derivation, Step
from .printing.latex import latex

__all__ = ["derive", "latex", "Derivation", "Step", "errors", "CaptureError", "UnsupportedOpError",
           "VerificationError"]
__version__ = "0.1.0"
