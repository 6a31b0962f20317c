"""``train_steps``: a few optimizer iterations, each derived, its update evaluated from formulas.

Per iteration t = 1 … steps: ``derive`` the model at its current weights (verified against
autograd), take the loss and the derived gradients (``gradient_values``, not autograd's),
evaluate each parameter's update formulas (``training.formulas``) to the new weights, and
write them into a working copy of the model. The caller's model is left as it was.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Mapping, Sequence

import torch

from symbolic_torch.pipeline import derive
from symbolic_torch.printing.worked import _check_position
from symbolic_torch.training.optimizer import OptimizerSpec, optimizer_spec
from symbolic_torch.training.reference import seeded
from symbolic_torch.training.update import ParameterUpdate, apply
from symbolic_torch.training.walkthrough import Iteration, Walkthrough


def train_steps(model: torch.nn.Module, *inputs: torch.Tensor, target: Any,
                loss: torch.nn.Module | Callable[..., torch.Tensor], optimizer: Any = "sgd",
                steps: int = 3, positions: Mapping[str, Sequence[int]] | None = None,
                verify: bool = True, strict: bool = False, seed: int = 0, **hyper: Any) -> Walkthrough:
    """Run ``steps`` iterations of ``optimizer`` on ``model``, each derived and explained.

    ``optimizer`` is ``"sgd"``, ``"adam"`` or ``"adamw"`` with hyper-parameters as keywords
    (``lr``, ``momentum``, ``dampening``, ``nesterov``, ``weight_decay``, ``betas``, ``eps``,
    ``amsgrad``, ``maximize``; torch's defaults otherwise), a ``torch.optim`` class (same
    keywords) or a fresh instance built on ``model.parameters()`` (its param_groups' settings).
    ``positions`` picks, per parameter name, the element worked out in each update (default:
    the element with the largest first gradient). With ``verify`` the iterations are run again
    with torch's optimizer and every loss, parameter and state compared (``report``); with
    ``strict`` a disagreement raises ``VerificationError``. ``seed`` seeds torch's RNG per
    iteration (train-mode dropout draws the same mask in both runs). The model is not changed.

    Example::

        w = train_steps(model, x, target=torch.tensor([1]), loss=nn.CrossEntropyLoss(),
                        optimizer="sgd", lr=0.1, momentum=0.9, steps=3)
        w.losses                    # one loss per iteration, before its update
        w.report.ok                 # True: every number equals torch.optim.SGD's
    """
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"train_steps trains an nn.Module's parameters, not a {type(model).__name__}")
    if loss is None or target is None:
        raise ValueError("train_steps needs a loss and its target (the loss is what the optimizer lowers)")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    if not trainable:
        raise ValueError("the model has no parameter that requires grad: there is nothing to train")
    spec = optimizer_spec(optimizer, hyper, trainable)
    work = copy.deepcopy(model)
    seeds = [seed + k for k in range(steps)]
    chosen = {n: _check_position(p, tuple(trainable[n].shape), f"positions[{n!r}]")
              for n, p in (positions or {}).items() if _known(n, spec)}
    run = _Training(spec, work, chosen)
    iterations = [run.iterate(t, seeds[t - 1], inputs, target, loss, verify) for t in range(1, steps + 1)]
    w = Walkthrough(spec, iterations, model, inputs, target, loss, seeds)
    if verify:
        w.verify()
        if strict:
            w.report.raise_if_failed()
    return w


def _known(name: str, spec: OptimizerSpec) -> bool:
    if name not in spec.hyper:
        raise KeyError(f"positions names {name!r}, which is not a trained parameter; "
                       f"trained parameters are {list(spec.hyper)}")
    return True


def _gradient(grads: Mapping[str, torch.Tensor], name: str) -> torch.Tensor:
    if name not in grads:
        raise KeyError(f"the derivation has no gradient for parameter {name!r} (it has {sorted(grads)})")
    return grads[name]


class _Training:
    """The working copy of the model, the optimizer state between iterations, the chosen elements."""

    def __init__(self, spec: OptimizerSpec, work: torch.nn.Module, chosen: dict[str, tuple[int, ...]]) -> None:
        self.spec, self.chosen = spec, chosen
        self.params = dict(work.named_parameters())
        self.work = work
        self.state: dict[str, dict[str, torch.Tensor]] = {n: {} for n in spec.hyper}

    def iterate(self, t: int, seed: int, inputs: Sequence[torch.Tensor], target: Any,
                loss: Callable[..., torch.Tensor], verify: bool) -> Iteration:
        """Iteration ``t``: derive, evaluate every update, write the new weights into the copy."""
        with seeded(seed):
            d = derive(self.work, *inputs, loss=loss, target=target, verify=verify)
        grads = d.gradient_values()
        updates = {n: self._update(n, t, _gradient(grads, n)) for n in self.spec.hyper}
        self.work = copy.deepcopy(self.work)  # d holds the tensors it read: the next weights go to a copy
        self.params = dict(self.work.named_parameters())
        with torch.no_grad():
            for n, u in updates.items():
                self.params[n].copy_(u.after.to(self.params[n].dtype))
        return Iteration(t, float(d.values[d.outputs[0]]), d, updates)

    def _update(self, name: str, t: int, grad: torch.Tensor) -> ParameterUpdate:
        """Parameter ``name``'s update at step ``t``; the state it leaves replaces the old."""
        if name not in self.chosen:
            self.chosen[name] = default_position(grad)
        u = apply(name, self.spec.kind, self.spec.hyper[name], t, self.params[name], grad,
                  self.state[name], self.chosen[name])
        self.state[name] = u.state_after
        return u


def default_position(grad: torch.Tensor) -> tuple[int, ...]:
    """The element with the largest |gradient| (the first such, in row-major order): an
    update that visibly moves the weight."""
    if grad.dim() == 0:
        return ()
    flat = int(grad.detach().abs().reshape(-1).argmax())
    return tuple(int(i) for i in torch.unravel_index(torch.tensor(flat), grad.shape))
