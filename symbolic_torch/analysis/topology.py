"""What a derivation's step graph shows about a model's structure: its layers in order, its
residual connections, its saturating activations and normalizations.

Read by ``flow`` (advice on gradient flow) and ``comparison``.
"""
from __future__ import annotations

from collections import Counter

from symbolic_torch.ir.derivation import Derivation

SATURATING = ("sigmoid", "tanh", "hardtanh", "hardsigmoid", "softsign", "logsigmoid")
NORMALIZATIONS = ("batch_norm", "layer_norm", "group_norm", "instance_norm", "rms_norm")
ADDS = ("add", "sub")


def layers_in_order(d: Derivation) -> list[tuple[str, tuple[str, ...]]]:
    """Each layer (the owner of trainable parameters: ``"fc.weight"`` → ``"fc"``) with its
    parameter names, in the order the forward pass first reads them.

    Example: for ``nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))`` it is
    ``[('0', ('0.weight', '0.bias')), ('1', ('1.weight', '1.bias'))]``.
    """
    trainable = set(d.param_names)
    order: dict[str, list[str]] = {}
    for step in d.steps:
        for o in step.operands:
            if o.source in trainable:
                names = order.setdefault(_owner(o.source), [])
                if o.source not in names:
                    names.append(o.source)
    for name in d.param_names:  # read by no step: last
        names = order.setdefault(_owner(name), [])
        if name not in names:
            names.append(name)
    return [(layer, tuple(names)) for layer, names in order.items()]


def _owner(param: str) -> str:
    return param.rsplit(".", 1)[0] if "." in param else param


def ancestors(d: Derivation) -> dict[str, set[str]]:
    """Every tensor each step's output depends on (step outputs, inputs, parameters)."""
    seen: dict[str, set[str]] = {}
    for step in d.steps:
        deps: set[str] = set()
        for o in step.operands:
            if o.source is not None:
                deps |= {o.source} | seen.get(o.source, set())
        seen[step.output] = deps
    return seen


def residual_adds(d: Derivation) -> list[str]:
    """Steps that add a tensor to something computed from it (``x + f(x)``): skip connections."""
    anc = ancestors(d)
    found = []
    for step in d.steps:
        srcs = [o.source for o in step.operands if o.differentiable and o.source is not None]
        if step.op in ADDS and len(srcs) == 2:
            a, b = srcs
            if a in anc.get(b, set()) or b in anc.get(a, set()):
                found.append(step.name)
    return found


def saturating_steps(d: Derivation) -> dict[str, int]:
    """How many steps of each saturating activation the derivation holds."""
    return dict(Counter(s.op for s in d.steps if s.op in SATURATING))


def has_normalization(d: Derivation) -> bool:
    """Does any step normalize (batch, layer, group, instance or RMS norm)?"""
    return any(any(n in s.op for n in NORMALIZATIONS) for s in d.steps)
