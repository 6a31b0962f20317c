"""symbolic_torch: compile a PyTorch run into its derivation.

>>> import torch, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.randn(4, 3, dtype=torch.float64))
>>> d.verify().ok
True

Names are imported on first use (PEP 562), so that ``import symbolic_torch`` — which the
pytest plugin does in every test session — does not pay for torch and sympy up front.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "derive": ("symbolic_torch.pipeline", "derive"),
    "Derivation": ("symbolic_torch.ir.derivation", "Derivation"),
    "Step": ("symbolic_torch.ir.derivation", "Step"),
    "latex": ("symbolic_torch.printing.latex", "latex"),
    "load": ("symbolic_torch.io.archive", "load"),
    "errors": ("symbolic_torch.errors", None),
    "CaptureError": ("symbolic_torch.errors", "CaptureError"),
    "UnsupportedOpError": ("symbolic_torch.errors", "UnsupportedOpError"),
    "VerificationError": ("symbolic_torch.errors", "VerificationError"),
    "NothingDifferentiableError": ("symbolic_torch.errors", "NothingDifferentiableError"),
    "train_steps": ("symbolic_torch.training.steps", "train_steps"),
    "Walkthrough": ("symbolic_torch.training.walkthrough", "Walkthrough"),
    "FormatError": ("symbolic_torch.errors", "FormatError"),
    "LiveModelError": ("symbolic_torch.errors", "LiveModelError"),
    "EvaluatorMismatchError": ("symbolic_torch.errors", "EvaluatorMismatchError"),
    "create_app": ("symbolic_torch.web.app", "create_app"),
    "summary": ("symbolic_torch.analysis.summary", "summary"),
    "gradient_flow": ("symbolic_torch.analysis.flow", "gradient_flow"),
    "compare": ("symbolic_torch.analysis.comparison", "compare"),
}

__all__ = list(_LAZY)

if TYPE_CHECKING:
    from symbolic_torch import errors
    from symbolic_torch.pipeline import derive
    from symbolic_torch.errors import (CaptureError, EvaluatorMismatchError, FormatError, LiveModelError,
                                       NothingDifferentiableError, UnsupportedOpError, VerificationError)
    from symbolic_torch.ir.derivation import Derivation, Step
    from symbolic_torch.printing.latex import latex
    from symbolic_torch.training.steps import train_steps
    from symbolic_torch.training.walkthrough import Walkthrough
    from symbolic_torch.io.archive import load
    from symbolic_torch.web.app import create_app
    from symbolic_torch.analysis.comparison import compare
    from symbolic_torch.analysis.flow import gradient_flow
    from symbolic_torch.analysis.summary import summary


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'symbolic_torch' has no attribute {name!r}")
    module, attr = _LAZY[name]
    value = importlib.import_module(module)
    value = value if attr is None else getattr(value, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)
