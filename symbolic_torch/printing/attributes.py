"""What a step was called with: the module's settings or the call's constant arguments.

Printers that describe an op in words (``sentences``) or work out its output size (``sizes``)
read the same attributes here: a module call's settings (``Conv2d``'s ``stride``, ``padding`` …),
or a function call's non-tensor arguments by their parameter names (``F.conv2d(x, w, stride=2)``).

>>> attrs = op_attributes(d["conv1"])            # doctest: +SKIP
>>> attrs.get("stride"), attrs.spatial             # doctest: +SKIP
((1, 1), 2)
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import torch
from torch.fx.operator_schemas import normalize_function

if TYPE_CHECKING:
    from symbolic_torch.ir.step import Step

_SKIP = {"inplace"}


@dataclass(frozen=True)
class Attributes:
    """A step's settings by name, its op family and (for conv/pool-like ops) its spatial rank.

    ``family`` is the rule's name without its call-form suffix (``max_pool2d_fn`` → ``max_pool``);
    ``module`` the ``nn.Module`` class name for a module call, else ``None``.
    """

    family: str
    values: Mapping[str, Any] = field(default_factory=dict)
    module: str | None = None
    spatial: int | None = None

    def get(self, name: str, default: Any = None) -> Any:
        """The setting ``name`` (``default`` when the call did not have it)."""
        return self.values.get(name, default)

    def each_dim(self, name: str, default: Any) -> tuple[Any, ...]:
        """Setting ``name`` as one value per spatial dim (``stride=2`` → ``(2, 2)`` in 2-D)."""
        v = self.values.get(name, default)
        return per_dim(default if v is None else v, self.spatial or 1)


def per_dim(value: Any, n: int) -> tuple[Any, ...]:
    """A setting given once or per dim as ``n`` values: ``per_dim(2, 2)`` → ``(2, 2)``."""
    if isinstance(value, (list, tuple)):
        return tuple(value) if len(value) == n else tuple(value) * (n // max(len(value), 1))
    return (value,) * n


def family(op: str) -> str:
    """The op family of a rule name: ``conv_fn`` → ``conv``, ``avg_pool3d_fn`` → ``avg_pool``."""
    return re.sub(r"(\dd)?(_fn|_aten)$", "", op)


def is_loss(fam: str) -> bool:
    """Is the op family a loss (``mse_loss``, ``cross_entropy``, ``bce_with_logits`` …)?"""
    return "loss" in fam or fam in ("cross_entropy", "bce_with_logits", "binary_cross_entropy", "kl_div")


def op_attributes(step: "Step") -> Attributes:
    """The settings ``step`` ran with (empty when the derivation no longer knows its graph)."""
    fam = family(step.op)
    d = step.derivation
    if d is None or getattr(d.run, "gm", None) is None:  # a loaded derivation keeps no graph
        return Attributes(fam)
    try:
        node = d.run.node(step.name)
    except KeyError:
        return Attributes(fam)
    module = None
    if node.op == "call_module":
        mod = d.run.gm.get_submodule(str(node.target))
        module = type(mod).__name__
        values = {k: v for k, v in vars(mod).items() if not k.startswith("_") and k not in _SKIP}
    else:
        values = _call_arguments(node, d.run.gm, d.run.env)
    return Attributes(fam, values, module, _spatial(step, module))


def _call_arguments(node: torch.fx.Node, gm: torch.fx.GraphModule, env: Mapping[str, Any]) -> dict[str, Any]:
    """A function call's constant arguments by parameter name (positional ones too, when torch's
    schema tells their names); arguments that are graph nodes are left out."""
    values: dict[str, Any] = dict(node.kwargs)
    types = tuple(type(env.get(a.name)) if isinstance(a, torch.fx.Node) else type(a) for a in node.args)
    for hint in (None, types):  # an ambiguous schema needs the argument types (read from the run)
        pair = _normalized(node, gm, hint)
        if pair is not None:
            values.update(pair.kwargs)
            break
    return {k: v for k, v in values.items() if not isinstance(v, torch.fx.Node) and k not in _SKIP}


def _normalized(node: torch.fx.Node, gm: torch.fx.GraphModule, types: tuple[type, ...] | None) -> Any:
    """torch.fx's binding of the node's arguments to parameter names; a method call (``x.sum(-1)``)
    binds against the torch function of the same name. ``None`` when the schema does not tell."""
    try:
        if node.op == "call_method" and hasattr(torch, str(node.target)):
            return normalize_function(getattr(torch, str(node.target)), tuple(node.args), dict(node.kwargs),
                                      arg_types=types, normalize_to_only_use_kwargs=True)
        return node.normalized_arguments(gm, arg_types=types, normalize_to_only_use_kwargs=True)
    except Exception:  # torch raises plain RuntimeError/ValueError for schemas it cannot match
        return None


def _spatial(step: "Step", module: str | None) -> int | None:
    """How many trailing dims a conv/pool-like op slides over: ``Conv2d``/``max_pool2d`` → 2."""
    m = re.search(r"(\d)d", module or "") or re.search(r"(\d)d_fn$", step.op)
    if m:
        return int(m.group(1))
    ops = {o.key: o for o in step.operands}
    if "weight" in ops and family(step.op) in ("conv", "conv_transpose"):
        return len(ops["weight"].shape) - 2
    return None
