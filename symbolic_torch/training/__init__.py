"""Training walkthroughs: optimizer iterations, each derived, updated by formulas, checked.

``train_steps(model, x, target=…, loss=…, optimizer="sgd"|"adam"|"adamw", steps=3, lr=…)``
returns a ``Walkthrough`` (``.losses``, ``.derivations``, ``.updates``, ``.report``,
``.to_latex()``, ``.to_pdf(path)``).
"""
from __future__ import annotations

from symbolic_torch.training.steps import train_steps
from symbolic_torch.training.walkthrough import Walkthrough

__all__ = ["train_steps", "Walkthrough"]
