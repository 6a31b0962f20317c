"""A derivation read back from disk: everything but the live model.

``LoadedDerivation`` is a ``Derivation`` (it renders, substitutes and chains the same way)
whose ``run`` is a ``SavedRun``: the run's record without the graph module and the model.
What needs them says so with ``LiveModelError``; ``verify`` re-checks the formulas against
the numbers saved with the derivation instead (see ``symbolic_torch.io.recheck``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from symbolic_torch.errors import LiveModelError
from symbolic_torch.ir.derivation import Derivation


@dataclass(frozen=True, eq=False)
class SavedRun:
    """The part of a ``Run`` a file keeps: no graph module (``gm`` is None), no model.

    ``placeholders`` are the graph's input nodes in order; ``inputs`` their saved values.
    """

    inputs: tuple[Any, ...]
    seeds: Mapping[str, torch.Tensor]
    outputs: tuple[str, ...]
    differentiable: Mapping[str, bool]
    buffers: Mapping[str, torch.Tensor]
    placeholders: list[str]
    env: Mapping[str, Any] = field(default_factory=dict)
    model_name: str | None = None
    loss_name: str | None = None
    parameters: list[str] = field(default_factory=list)  # every parameter name (frozen, tied too)
    gm: None = None
    model: None = None
    loss: None = None

    def node(self, name: str) -> Any:
        """The graph is not saved: raises ``LiveModelError``."""
        raise LiveModelError(f"node {name!r}: a loaded derivation has no graph module; "
                             "derive the model again for its fx graph")


@dataclass(frozen=True)
class Evidence:
    """The numbers verification compared with autograd when the derivation was saved:
    ``contributions[(step, key)]`` and the end-to-end ``gradients`` by input/parameter name."""

    contributions: Mapping[tuple[str, str], torch.Tensor]
    gradients: Mapping[str, torch.Tensor]


class LoadedDerivation(Derivation):
    """A ``Derivation`` from ``symbolic_torch.load``: ``source`` is the file it came from,
    ``saved_report`` the verification report saved with it (None if it was saved unverified)."""

    source: Path | None = None
    saved_report: Any = None
    evidence: Evidence | None = None
    versions: Mapping[str, str] = {}

    def verify(self, atol: float | None = None, rtol: float | None = None) -> Any:
        """Re-check the loaded formulas: each forward formula against the run's saved values,
        each gradient formula against the contribution that matched autograd when the derivation
        was saved (rows say so in their notes). Raises ``LiveModelError`` when the file holds no
        such evidence (saved unverified, or with ``evidence=False``): comparing with autograd
        again then needs the model: ``derive`` it again."""
        if self.saved_report is None or self.evidence is None:
            why = "was saved unverified" if self.saved_report is None else "was saved without evidence"
            raise LiveModelError(
                f"this derivation (loaded from {self.source}) {why}: re-verifying it against autograd "
                "needs the live model. Derive the model again (symbolic_torch.derive) and verify that, "
                "or save a verified derivation with evidence=True (the default).")
        from symbolic_torch.io.recheck import recheck
        self.report = recheck(self, atol, rtol)
        return self.report

    def __repr__(self) -> str:
        return f"LoadedDerivation({len(self.steps)} steps, from {self.source})"
