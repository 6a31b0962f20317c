"""``derive``: the pipeline capture → lower → build steps (differentiate) → Derivation (its lazy chain) → verify."""
from __future__ import annotations

import inspect
from typing import Any, Callable

import sympy as sp
import torch

from symbolic_torch import progress as _progress
from symbolic_torch.autodiff.chain import Chain, chain, shared_parameters
from symbolic_torch.autodiff.differentiate import gradient_formula
from symbolic_torch.frontend.capture import TARGET_NAME, Captured, capture
from symbolic_torch.errors import NothingDifferentiableError
from symbolic_torch.frontend.lower import Lowered, SymbolicInterpreter, lower
from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.derivation import Derivation
from symbolic_torch.ir.run import Run
from symbolic_torch.ir.step import Step


def derive(model: torch.nn.Module | Callable[..., Any], *inputs: torch.Tensor,
           loss: torch.nn.Module | Callable[..., Any] | None = None, target: Any = None,
           grad_output: torch.Tensor | None = None, verify: bool = True,
           differentiate: bool = True, progress: bool | None = None) -> Derivation:
    """Derive the forward and backward mathematics of ``model`` on ``inputs``.

    Example::

        d = derive(nn.Linear(3, 2).double(), torch.randn(4, 3, dtype=torch.float64))
        d[0].gradients["weight"]   # Eq(∂L/∂w[o, i], Sum(x[n, i]*ḡ[n, o], (n, 0, 3)))

    With ``loss`` (a module such as ``nn.CrossEntropyLoss()`` or a function of
    ``(output, target)``) the derivation ends in the scalar loss. Without it, a model
    that returns one 0-dim tensor is that scalar: its adjoint is 1 and the last step is
    ``L``, as with ``out.backward()``, so ``gradient_values()`` equals
    ``torch.autograd.grad(out, …)`` (unless ``grad_output`` is given, which then scales it).
    Any other output's adjoint ḡ is ``grad_output`` or, if None, a seeded random tensor
    (the derivation is then a vector–Jacobian product).

    ``differentiate=False`` stops after the forward formulas (no gradient formula, nothing to
    verify): what an analysis of shapes and formulas needs (``symbolic_torch.summary``), at the
    cost of capture and lowering alone.

    ``progress`` shows a bar per stage (lowering, deriving, evaluating, verifying) on stderr:
    True always, False never, None (auto) when stderr is a terminal and the graph has many
    nodes, or as the environment variable ``SYMBOLIC_TORCH_PROGRESS`` says (``0`` turns it off).

    Raises ``NothingDifferentiableError`` when no input is floating point and the model
    has no floating-point parameter that requires grad (there is no gradient to derive).
    """
    model = _uncompiled(model)
    _check_arguments(inputs, loss, target)
    if verify and not differentiate:
        raise ValueError("verify=True needs the gradient formulas: pass differentiate=True or verify=False")
    cap = capture(model, inputs, loss)
    with _progress.session(progress, len(cap.gm.graph.nodes)):
        return _derive(model, inputs, loss, target, grad_output, verify, cap, differentiate)


def _derive(model: Any, inputs: tuple[torch.Tensor, ...], loss: Any, target: Any,
            grad_output: Any, verify: bool, cap: Captured, differentiate: bool = True) -> Derivation:
    """``derive`` after capture: lower, derive every step's gradients, chain, verify."""
    _check_differentiable(cap.gm, _user_names(model, cap.input_names), inputs)
    run_inputs = tuple(inputs) + ((target,) if loss is not None else ())
    buffers = {k: b.detach().clone() for k, b in cap.gm.named_buffers()}
    interp = lower(cap.gm, run_inputs, {TARGET_NAME} if loss is not None else set())
    outputs = _output_nodes(cap.gm)
    final = outputs[0] if len(outputs) == 1 else None
    scalar = final is not None and final in interp.values and interp.values[final].dim() == 0
    seeded = {final} if scalar and (loss is not None or grad_output is None) else set()  # ḡ = 1: the scalar is L
    steps = _steps(interp.lowered, seeded, differentiate)
    values = _values(cap.gm, interp)
    seeds = _seeds(outputs, values, seeded, grad_output)
    run = Run(cap.gm, run_inputs, seeds, tuple(outputs), dict(interp.differentiable),
              {n.name: v for n, v in interp.env.items()}, interp.rng_states, interp.start_rng_state,
              interp.items, buffers, model, loss)
    params = [n for n, p in cap.gm.named_parameters() if p.requires_grad and p.is_floating_point()]
    alias = dict(zip(_user_names(model, cap.input_names), cap.input_names))
    backward = (chain if differentiate else _ForwardOnly)(steps, seeds, shared_parameters(cap.gm))
    d = Derivation(steps, values, backward, alias, params,
                   seeds.get(final) if final is not None else None, loss is not None, cap.method, run)
    if verify:
        d.verify()
    return d


class _ForwardOnly(Chain):
    """The chain of a derivation made with ``differentiate=False``: nothing to chain, so asking
    for an adjoint is an error rather than a silent zero."""

    def _pass(self) -> Any:
        raise ValueError("this derivation was made with differentiate=False: it holds forward formulas "
                         "only; derive again with differentiate=True for gradients")


def _check_arguments(inputs: tuple[Any, ...], loss: Any, target: Any) -> None:
    for k, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input {k} is a {type(x).__name__}, not a tensor")
    if loss is not None and target is None:
        raise ValueError("a loss needs a target")


def _check_differentiable(gm: torch.fx.GraphModule, names: list[str], inputs: tuple[torch.Tensor, ...]) -> None:
    """Refuse a run with nothing to differentiate: no floating-point input, no trainable
    floating-point parameter (integer inputs into an ``Embedding`` are fine: its weight is)."""
    if any(x.is_floating_point() for x in inputs):
        return
    params = dict(gm.named_parameters())
    if any(p.requires_grad and p.is_floating_point() for p in params.values()):
        return
    shown = ", ".join(f"{n} ({str(x.dtype).removeprefix('torch.')})" for n, x in zip(names, inputs)) or "none"
    why = ("its parameters do not require grad or are not floating point" if params
           else "it has no parameters")
    raise NothingDifferentiableError(
        f"nothing is differentiable: no input is floating point (inputs: {shown}) and {why}. "
        "derive differentiates with respect to floating-point inputs and trainable floating-point "
        "parameters; pass a floating-point input (x.double()) or a model with parameters.")


def _values(gm: torch.fx.GraphModule, interp: SymbolicInterpreter) -> dict[str, torch.Tensor]:
    """Every tensor of the run by name: node outputs, operands read from elsewhere, parameters."""
    values = dict(interp.values)
    for low in interp.lowered:
        for o in low.call.operands:
            if o.source is not None:
                values.setdefault(o.source, o.value)
    for n, p in gm.named_parameters():
        values.setdefault(n, p)
    return values


def _uncompiled(model: Any) -> Any:
    """``torch.compile(model)`` → the model it wraps (same parameters, names without ``_orig_mod.``)."""
    orig = getattr(model, "_orig_mod", None)
    return orig if isinstance(orig, torch.nn.Module) and isinstance(model, torch.nn.Module) else model


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


def _steps(lowered: list[Lowered], seeded: set[str], differentiate: bool = True) -> list[Step]:
    """Every lowered node as a Step with its derived gradients (a bar ticks per step)."""
    steps = []
    with _progress.stage("deriving", len(lowered)) as bar:
        for k, low in enumerate(lowered):
            steps.append(_step(k, low, low.node.name in seeded, differentiate))
            bar.update()
    return steps


def _step(k: int, low: Lowered, seeded: bool, differentiate: bool = True) -> Step:
    call = low.call
    if call.out_indices:
        lhs = S.tensor(call.out_symbol)[call.out_indices]
    else:
        lhs = sp.Symbol("L" if seeded else call.out_symbol, real=True)
    forward = sp.Eq(lhs, low.rhs, evaluate=False)
    grads = {o.key: gradient_formula(call, low.rhs, o, seed_one=seeded)
             for o in call.operands if o.differentiable and differentiate}
    return Step(k, low.node.name, call.target, call.module_path, low.rule.name, low.rule.latex,
                low.node.name, call.out_shape, call.out_indices, forward, tuple(call.operands),
                grads, seeded, tuple(call.notes), tuple(call.updates))


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
