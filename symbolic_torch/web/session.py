"""The served app's state: the derivation served, the training iterations run since, the model
being trained (a copy), and the request checks that name what is valid.

>>> parse_ints("0, 1,2", "position")
(0, 1, 2)
>>> parse_number("1e-2", "lr", float, 0.0, 10.0)
0.01
"""
from __future__ import annotations

import copy
import math
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:
    import torch

    from symbolic_torch.ir.derivation import Derivation, Step

__all__ = ["BadRequest", "Session", "parse_ints", "parse_number"]

OPTIMIZERS = ("sgd", "adam", "adamw")


class BadRequest(Exception):
    """A request the app refuses: ``status`` (4xx) and a message naming what is valid."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def parse_ints(text: str, what: str) -> tuple[int, ...]:
    """Comma-separated integers (empty: a scalar's position ``()``)."""
    try:
        return tuple(int(v) for v in text.split(",") if v.strip() != "")
    except ValueError:
        raise BadRequest(f"{what} {text!r}: expected comma-separated integers, e.g. 0,0,1,1") from None


def parse_number(text: str, what: str, kind: type, lo: float, hi: float) -> Any:
    """A number of ``kind`` in range: an int in ``lo..hi``, a finite float in ``(lo, hi]``."""
    valid = f"{int(lo)}..{int(hi)}" if kind is int else f"{lo:g} < {what} ≤ {hi:g}"
    try:
        v = kind(text)
    except ValueError:
        raise BadRequest(f"{what} {text!r} is not {'an integer' if kind is int else 'a number'} (valid: {valid})") from None
    ok = lo <= v <= hi if kind is int else math.isfinite(v) and lo < v <= hi
    if not ok:
        raise BadRequest(f"{what} {text!r} is out of range (valid: {valid})")
    return v


class Session:
    """What the app serves: the first derivation and each training iteration's since."""

    MAX_TRAIN_STEPS = 50

    def __init__(self, d: "Derivation", verify_training: bool = True) -> None:
        self.first = d
        self.iterations: list[tuple[float, "Derivation"]] = []
        self.verify_training = verify_training
        self._page: str | None = None
        model = d.run.model
        self.model = copy.deepcopy(model) if _trainable(model) else None

    def derivation(self, iteration: str | None) -> "Derivation":
        """The first derivation (``iteration`` empty) or training iteration ``iteration`` (1-based)."""
        if iteration in (None, ""):
            return self.first
        if not self.iterations:
            raise BadRequest(f"iteration {iteration!r}: no training iterations yet (train first: /api/train)", 404)
        k = parse_number(iteration, "iteration", int, 1, len(self.iterations))
        return self.iterations[k - 1][1]

    def step(self, d: "Derivation", key: str | None) -> "Step":
        """Step ``key`` (fx node name or module path), or a 404 naming the steps."""
        if not key:
            raise BadRequest("missing parameter 'step' (a node name or module path)")
        try:
            return d[key]
        except KeyError:
            raise BadRequest(f"no step {key!r}; steps are {[s.name for s in d.steps]}", 404) from None

    def page(self, render: Callable[["Derivation"], str]) -> str:
        """The page of the first derivation (rendered once)."""
        if self._page is None:
            self._page = render(self.first)
        return self._page

    def history(self) -> list[dict[str, Any]]:
        """Every training iteration so far: its number and the loss before its update."""
        return [{"iteration": k + 1, "loss": loss} for k, (loss, _) in enumerate(self.iterations)]

    def to_json(self, d: "Derivation") -> Any:
        """``d.to_json()`` (schema in docs/schema.md)."""
        return d.to_json()

    def train(self, steps: int, lr: float, optimizer: str) -> tuple[list[float], bool | None]:
        """Run ``steps`` iterations from the current weights; returns their losses and whether
        they agree with torch.optim (None when not checked). Each call starts the optimizer afresh
        (momentum and Adam's moments restart; the weights carry over)."""
        from symbolic_torch import train_steps
        if optimizer not in OPTIMIZERS:
            raise BadRequest(f"optimizer {optimizer!r} is not one of {list(OPTIMIZERS)}")
        d = self.first
        if self.model is None or not d.has_loss:
            raise BadRequest("training needs an nn.Module with trainable parameters and a loss "
                             "(serve with --loss and --target)", 409)
        inputs, target = d.run.inputs[:-1], d.run.inputs[-1]
        w = train_steps(self.model, *inputs, target=target, loss=d.run.loss, optimizer=optimizer,
                        steps=steps, lr=lr, verify=self.verify_training, seed=len(self.iterations))
        _load(self.model, w.parameters)
        self.iterations += list(zip(w.losses, w.derivations))
        return w.losses, (None if w.report is None else w.report.ok)


def _trainable(model: Any) -> bool:
    import torch
    return isinstance(model, torch.nn.Module) and any(p.requires_grad for p in model.parameters())


def _load(model: "torch.nn.Module", params: dict[str, "torch.Tensor"]) -> None:
    """Write trained values into ``model``'s parameters (in place, dtype kept)."""
    import torch
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name in params:
                p.copy_(params[name].to(p.dtype))
