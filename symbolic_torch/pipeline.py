"""``derive``: the pipeline capture → lower → differentiate → chain → verify."""
from __future__ import annotations

import inspect
from typing import Any, Callable

import sympy as sp
import torch

from symbolic_torch.ir import symbols as S
from symbolic_torch.frontend.capture import TARGET_NAME, capture
from symbolic_torch.autodiff.differentiate import gradient_formula
from symbolic_torch.numeric.evaluate import evaluate_over
from symbolic_torch.ir.derivation import Derivation, Step
from symbolic_torch.frontend.lower import Lowered, lower


def derive(model: torch.nn.Module | Callable[..., Any], *inputs: torch.Tensor,
           loss: torch.nn.Module | Callable[..., Any] | None = None, target: Any = None,
           grad_output: torch.Tensor | None = None, verify: bool = True) -> Derivation:
    """Derive the forward and backward mathematics of ``model`` on ``inputs``.

    Example::

        d = derive(nn.Linear(3, 2).double(), torch.randn(4, 3, dtype=torch.float64))
        d[0].gradients["weight"]   # Eq(∂L/∂w[o, i], Sum(x[n, i]*ḡ[n, o], (n, 0, 3)))

    With ``loss`` (a module such as ``nn.CrossEntropyLoss()`` or a function of
    ``(output, target)``) the derivation ends in the scalar loss. Without it, the
    output's adjoint ḡ is ``grad_output`` or, if None, a seeded random tensor
    (the derivation is then a vector–Jacobian product).
    """
    model = _uncompiled(model)
    for k, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input {k} is a {type(x).__name__}, not a tensor")
    if loss is not None and target is None:
        raise ValueError("a loss needs a target")
    cap = capture(model, inputs, loss)
    run_inputs = tuple(inputs) + ((target,) if loss is not None else ())
    interp = lower(cap.gm, run_inputs, {TARGET_NAME} if loss is not None else set())
    outputs = _output_nodes(cap.gm)
    final = outputs[0] if len(outputs) == 1 else None
    seeded = {final} if (loss is not None and final is not None and interp.values[final].dim() == 0) else set()
    steps = [_step(k, low, low.node.name in seeded) for k, low in enumerate(interp.lowered)]

    values = dict(interp.values)
    for low in interp.lowered:
        for o in low.call.operands:
            if o.source is not None:
                values.setdefault(o.source, o.value)
    params = [n for n, p in cap.gm.named_parameters() if p.requires_grad and p.is_floating_point()]
    for n, p in cap.gm.named_parameters():
        values.setdefault(n, p)
    alias = dict(zip(_user_names(model, cap.input_names), cap.input_names))
    seeds = _seeds(outputs, values, seeded, grad_output)
    adjoints = _tie_shared_parameters(cap.gm, chain(steps, values, seeds))
    d = Derivation(steps, values, adjoints, alias, params,
                   seeds.get(final) if final is not None else None, loss is not None,
                   cap.method, {"gm": cap.gm, "run_inputs": run_inputs, "seeds": seeds,
                                "outputs": outputs, "differentiable": interp.differentiable,
                    "env": {n.name: v for n, v in interp.env.items()},
                    "rng": interp.rng_states, "rng_start": interp.start_rng_state,
                    "items": interp.items, "model": model, "loss": loss})
    for k, s in enumerate(steps):
        object.__setattr__(s, "derivation", d)
    if verify:
        d.verify()
    return d


def _uncompiled(model: Any) -> Any:
    """``torch.compile(model)`` → the model it wraps (same parameters, names without ``_orig_mod.``)."""
    orig = getattr(model, "_orig_mod", None)
    return orig if isinstance(orig, torch.nn.Module) and isinstance(model, torch.nn.Module) else model


def _tie_shared_parameters(gm: torch.fx.GraphModule, adjoints: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """One parameter under several names (tied weights: ``lm_head.weight is wte.weight``) gets
    the sum of what every use contributes, under each of its names."""
    groups: dict[int, list[str]] = {}
    for name, p in gm.named_parameters(remove_duplicate=False):
        groups.setdefault(id(p), []).append(name)
    for names in groups.values():
        used = [n for n in names if n in adjoints]
        if len(names) > 1 and used:
            total = sum((adjoints[n] for n in used[1:]), adjoints[used[0]])
            for n in names:
                adjoints[n] = total
    return adjoints


def _user_names(model: Any, placeholders: list[str]) -> list[str]:
    """The model's own argument names where fx renamed its placeholders (``input`` → ``input_1``)."""
    fn = model.forward if isinstance(model, torch.nn.Module) else model
    try:
        params = [p.name for p in inspect.signature(fn).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        return placeholders
    names = params[: len(placeholders)]
    return names if len(names) == len(placeholders) and len(set(names)) == len(names) else placeholders


def _output_nodes(gm: torch.fx.GraphModule) -> list[str]:
    """The tensors the model returns, nested ones included (``out, (h, c)``; dicts), in order."""
    out = next(n for n in gm.graph.nodes if n.op == "output")
    leaves = torch.utils._pytree.tree_leaves(out.args[0])
    names = [n.name for n in leaves if isinstance(n, torch.fx.Node)]
    return list(dict.fromkeys(names))  # a tensor returned twice is one output


def _step(k: int, low: Lowered, seeded: bool) -> Step:
    call = low.call
    if call.out_indices:
        lhs = S.tensor(call.out_symbol)[call.out_indices]
    else:
        lhs = sp.Symbol("L" if seeded else call.out_symbol, real=True)
    forward = sp.Eq(lhs, low.rhs, evaluate=False)
    grads = {o.key: gradient_formula(call, low.rhs, o, seed_one=seeded)
             for o in call.operands if o.differentiable}
    return Step(k, low.node.name, call.target, call.module_path, low.rule.name, low.rule.latex,
                low.node.name, call.out_shape, call.out_indices, forward, tuple(call.operands),
                grads, seeded, tuple(call.notes))


def _seeds(outputs: list[str], values: dict[str, torch.Tensor], seeded: set[str],
           grad_output: Any) -> dict[str, torch.Tensor]:
    seeds: dict[str, torch.Tensor] = {}
    given = grad_output if isinstance(grad_output, (tuple, list)) else [grad_output] * len(outputs)
    if len(given) != len(outputs):
        raise ValueError(f"grad_output has {len(given)} tensors, the model returns {len(outputs)}: {outputs}")
    gen = torch.Generator().manual_seed(0)
    for name, g in zip(outputs, given):
        ref = values[name]
        if name in seeded:
            seeds[name] = torch.ones((), dtype=torch.float64)
        elif g is not None:
            if tuple(g.shape) != tuple(ref.shape):
                raise ValueError(f"grad_output has shape {tuple(g.shape)}, output {name!r} has {tuple(ref.shape)}")
            seeds[name] = g.detach().to(torch.float64)
        else:
            seeds[name] = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
    return seeds


def _indices(eq: sp.Eq) -> tuple[sp.Symbol, ...]:
    return tuple(eq.lhs.indices) if isinstance(eq.lhs, sp.Indexed) else ()


def chain(steps: list[Step], values: dict[str, torch.Tensor],
          seeds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Reverse accumulation with the derived formulas: ḡ of every tensor."""
    adjoints = {k: v.clone() for k, v in seeds.items()}
    for step in reversed(steps):
        if step.output not in adjoints:
            continue
        env = {o.symbol: o.value for o in step.operands}
        env[S.ADJOINT] = adjoints[step.output]
        for key, eq in step.gradients.items():
            op = step.operand(key)
            contrib = evaluate_over(eq.rhs, _indices(eq), op.shape, env)
            adjoints[op.source] = adjoints[op.source] + contrib if op.source in adjoints else contrib
    return adjoints
