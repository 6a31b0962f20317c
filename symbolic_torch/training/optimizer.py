"""Which optimizer a walkthrough runs: a name, a torch class or a torch instance → ``OptimizerSpec``.

The spec holds one hyper-parameter dict per parameter (by name), read the way torch reads
them: a name (``"sgd"``, ``"adam"``, ``"adamw"``) or a class gets torch's own defaults for
what is not given; an instance's ``param_groups`` give theirs. Options whose mathematics
is not written out here (``fused``, ``capturable``, ``differentiable``, tensor learning
rates) are refused, each named.

>>> spec = optimizer_spec("sgd", {"lr": 0.1, "momentum": 0.9}, {"fc.weight": p})
>>> spec.kind, spec.hyper["fc.weight"]["momentum"]
('sgd', 0.9)
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Mapping

import torch

KINDS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}
# Hyper-parameters whose mathematics the update formulas write out, per kind.
SUPPORTED: dict[str, frozenset[str]] = {
    "sgd": frozenset({"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach"}),
    "adam": frozenset({"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach",
                       "decoupled_weight_decay"}),
    "adamw": frozenset({"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach"}),
}
# Options that change only how torch computes, not what: accepted at these values (or None).
HARMLESS = {"capturable": False, "differentiable": False, "fused": None}


@dataclass(frozen=True)
class OptimizerSpec:
    """The optimizer of a walkthrough: its kind, the torch class, and each trainable
    parameter's hyper-parameters (parameters left out are not updated)."""

    kind: str
    cls: type[torch.optim.Optimizer]
    hyper: Mapping[str, Mapping[str, Any]]

    @property
    def label(self) -> str:
        """``"SGD"``, ``"Adam"``, ``"AdamW"``."""
        return self.cls.__name__

    def decoupled(self, name: str) -> bool:
        """Whether ``name``'s weight decay is decoupled (AdamW, or Adam's flag)."""
        return self.kind == "adamw" or bool(self.hyper[name].get("decoupled_weight_decay", False))

    def build(self, params: Mapping[str, torch.nn.Parameter]) -> torch.optim.Optimizer:
        """A fresh torch optimizer of this kind over ``params`` (by name), one group per setting."""
        groups: dict[tuple, dict[str, Any]] = {}
        for name, h in self.hyper.items():
            key = tuple(sorted((k, str(v)) for k, v in h.items()))
            groups.setdefault(key, {**h, "params": []})["params"].append(params[name])
        return self.cls(list(groups.values()))


def defaults(cls: type[torch.optim.Optimizer]) -> dict[str, Any]:
    """torch's own defaults for ``cls``'s hyper-parameters (from its signature)."""
    sig = inspect.signature(cls.__init__)
    return {k: p.default for k, p in sig.parameters.items()
            if k not in ("self", "params") and p.default is not inspect.Parameter.empty}


def _kind(cls: type) -> str:
    for kind, c in KINDS.items():
        if cls is c:
            return kind
    names = ", ".join(c.__name__ for c in KINDS.values())
    raise ValueError(f"optimizer {cls.__name__} is not supported: the walkthrough writes out the update "
                     f"formulas of {names} (a subclass may change step(), so it is refused too)")


def _checked(kind: str, hyper: Mapping[str, Any], where: str) -> dict[str, Any]:
    """``hyper`` with torch's defaults filled in; unknown or unsupported settings refused by name."""
    full = {**defaults(KINDS[kind]), **hyper}
    unknown = sorted(set(hyper) - set(defaults(KINDS[kind])))
    if unknown:
        raise TypeError(f"{where}: {KINDS[kind].__name__} has no hyper-parameter(s) {unknown}")
    bad = sorted(k for k, v in full.items() if k not in SUPPORTED[kind] and not (k in HARMLESS and v in (HARMLESS[k], False)))
    if bad:
        shown = ", ".join(f"{k}={full[k]!r}" for k in bad)
        raise ValueError(f"{where}: {shown} not supported: the walkthrough writes out the update of "
                         f"{KINDS[kind].__name__} with {sorted(SUPPORTED[kind] - {'foreach'})} only")
    tensors = sorted(k for k, v in full.items() if isinstance(v, torch.Tensor)
                     or (isinstance(v, tuple) and any(isinstance(b, torch.Tensor) for b in v)))
    if tensors:
        raise ValueError(f"{where}: tensor-valued {tensors} not supported; pass Python floats")
    if kind == "sgd" and full["nesterov"] and (full["momentum"] <= 0 or full["dampening"] != 0):
        raise ValueError(f"{where}: Nesterov momentum requires a momentum and zero dampening (as torch does)")
    return {k: v for k, v in full.items() if k in SUPPORTED[kind] and k != "foreach"}


def optimizer_spec(optimizer: Any, hyper: Mapping[str, Any],
                   params: Mapping[str, torch.nn.Parameter]) -> OptimizerSpec:
    """The spec of ``optimizer`` (name, class or instance) over the trainable ``params``.

    An instance's param_groups are matched to ``params`` by identity (so it must have been
    built on the model's own parameters) and must not have stepped yet; ``hyper`` must then
    be empty (its settings are the groups').
    """
    if isinstance(optimizer, torch.optim.Optimizer):
        return _from_instance(optimizer, hyper, params)
    if isinstance(optimizer, str):
        if optimizer.lower() not in KINDS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {sorted(KINDS)}")
        kind = optimizer.lower()
    elif isinstance(optimizer, type):
        kind = _kind(optimizer)
    else:
        raise TypeError(f"optimizer must be a name {sorted(KINDS)}, a torch.optim class or instance, "
                        f"not {type(optimizer).__name__}")
    h = _checked(kind, hyper, KINDS[kind].__name__)
    return OptimizerSpec(kind, KINDS[kind], {n: dict(h) for n in params})


def _from_instance(opt: torch.optim.Optimizer, hyper: Mapping[str, Any],
                   params: Mapping[str, torch.nn.Parameter]) -> OptimizerSpec:
    kind = _kind(type(opt))
    if hyper:
        raise TypeError(f"hyper-parameters {sorted(hyper)} given beside an optimizer instance: "
                        "set them in its param_groups instead")
    if any(opt.state.values()):
        raise ValueError(f"the {type(opt).__name__} instance has already taken steps (its state is not "
                         "empty); the walkthrough starts from a fresh optimizer")
    by_id = {id(p): n for n, p in params.items()}
    out: dict[str, dict[str, Any]] = {}
    for k, group in enumerate(opt.param_groups):
        settings = {key: v for key, v in group.items() if key != "params" and key in defaults(type(opt))}
        h = _checked(kind, settings, f"{type(opt).__name__} param_groups[{k}]")
        for p in group["params"]:
            if id(p) not in by_id:
                raise ValueError(f"{type(opt).__name__} param_groups[{k}] holds a tensor of shape "
                                 f"{tuple(p.shape)} that is not a trainable parameter of the model")
            out[by_id[id(p)]] = h
    order = [n for n in params if n in out]
    return OptimizerSpec(kind, type(opt), {n: out[n] for n in order})
