"""Exceptions raised by symbolic_torch; each names the thing that went wrong."""
from __future__ import annotations


class SymbolicTorchError(Exception):
    """Base class of every error this package raises on purpose."""


class UnsupportedOpError(SymbolicTorchError, NotImplementedError):
    """A graph node has no rule in the rule table.

    The message names the node, its target and how to add a rule.
    """

    def __init__(self, node_name: str, target: str, detail: str = "") -> None:
        self.node_name = node_name
        self.target = target
        hint = (
            "To support it, add an entry to the rule table (rules/, see rules/README.md): "
            "a function decorated with @rule(functions=[...], methods=[...], modules=[...]) "
            "that returns the op's forward formula in index form."
        )
        extra = f" ({detail})" if detail else ""
        super().__init__(f"node {node_name!r}: no rule for target {target}{extra}. {hint}")


class CaptureError(SymbolicTorchError):
    """Neither torch.fx nor torch.export could capture the model."""


class VerificationError(SymbolicTorchError):
    """A derived gradient formula disagrees with torch.autograd."""

    def __init__(self, report: object) -> None:
        self.report = report
        super().__init__(f"derived gradients disagree with autograd:\n{report}")


class DerivationError(SymbolicTorchError):
    """The symbolic pipeline could not reach a closed form for a formula."""


class NothingDifferentiableError(SymbolicTorchError, ValueError):
    """The run has nothing to differentiate: no floating-point input and no trainable
    floating-point parameter. The message names the inputs and their dtypes."""


class FormatError(SymbolicTorchError, ValueError):
    """A saved derivation (``symbolic_torch.load``) is not in the documented format
    (docs/format.md): the message names the file and what is wrong."""


class LiveModelError(SymbolicTorchError, RuntimeError):
    """The call needs the live model, which a loaded derivation does not have: re-running
    autograd on it, replaying its graph, timing its nodes. The message says what to do instead."""


class EvaluatorMismatchError(SymbolicTorchError, AssertionError):
    """The compiled evaluator and the reference evaluator disagree on a formula (raised only
    when ``SYMBOLIC_TORCH_EVALUATOR=both``); the message names the formula and the worst element."""
