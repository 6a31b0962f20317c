"""A ``torch.autograd.Function`` under test: its arguments, names, and ways to run it.

The checker runs the Function's ``forward`` and ``backward`` directly, with a
stand-in for ``ctx`` (``StandInCtx``): on real tensors to read the numbers the
user's code returns, on ``SymbolicTensor``s to read its formulas, and under
torch.fx (through ``plain_forward``) so that ``symbolic_torch.derive`` sees an
ordinary tensor function. Both Function styles work: ``forward(ctx, *args)``
and ``forward(*args)`` with ``setup_context(ctx, inputs, output)``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from symbolic_torch.numeric.reference import vjp_of


class StandInCtx:
    """What ``ctx`` offers a Function: saved tensors, flags, any attribute."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple[Any, ...] = ()
        self.non_differentiable: tuple[Any, ...] = ()
        self.materialize_grads = True

    def save_for_backward(self, *tensors: Any) -> None:
        self.saved_tensors = tuple(tensors)

    def save_for_forward(self, *tensors: Any) -> None:
        pass

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self.non_differentiable = tuple(tensors)

    def mark_dirty(self, *tensors: Any) -> None:
        pass

    def set_materialize_grads(self, value: bool) -> None:
        self.materialize_grads = value


def _overrides_setup_context(fn_cls: type) -> bool:
    own = inspect.getattr_static(fn_cls, "setup_context", None)
    base = inspect.getattr_static(torch.autograd.Function, "setup_context", None)
    return own is not None and own is not base


def _parameter_names(fn: Callable[..., Any], skip: int, count: int, fallback: str) -> list[str]:
    params = list(inspect.signature(fn).parameters.values())[skip:]
    names: list[str] = []
    for p in params:
        if p.kind == p.VAR_POSITIONAL:
            break
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
    while len(names) < count:
        names.append(f"{fallback}{len(names)}" if count > 1 else fallback)
    return names[:count]


@dataclass
class CustomFunction:
    """``fn_cls`` with its example arguments (tensors on the CPU, floating-point ones in float64)."""

    fn_cls: type
    args: tuple[Any, ...]
    names: list[str]  # the forward's argument names
    differentiable: list[int]  # positions of floating-point tensor arguments
    grad_names: list[str]  # the backward's names for the output adjoints
    out_shapes: list[tuple[int, ...]]
    tuple_output: bool
    setup_style: bool

    @classmethod
    def build(cls, fn_cls: type, inputs: Sequence[Any]) -> "CustomFunction":
        """Inspect ``fn_cls`` and run its forward once on ``inputs``."""
        if not (isinstance(fn_cls, type) and issubclass(fn_cls, torch.autograd.Function)):
            raise TypeError(f"{fn_cls!r} is not a torch.autograd.Function subclass")
        args = tuple(a.detach().cpu().to(torch.float64) if isinstance(a, torch.Tensor) and a.is_floating_point()
                     else a.detach().cpu() if isinstance(a, torch.Tensor) else a for a in inputs)
        setup = _overrides_setup_context(fn_cls)
        names = _parameter_names(fn_cls.forward, 0 if setup else 1, len(args), "input")
        diff = [k for k, a in enumerate(args) if isinstance(a, torch.Tensor) and a.is_floating_point()]
        if not diff:
            raise ValueError(f"{fn_cls.__name__}: no floating-point tensor among the inputs, nothing to check")
        self = cls(fn_cls, args, names, diff, [], [], False, setup)
        with torch.no_grad():
            out, _ = self.forward(args)
        self.tuple_output = isinstance(out, (tuple, list))
        outs = list(out) if self.tuple_output else [out]
        self.out_shapes = [tuple(o.shape) for o in outs]
        taken = set(names)
        grads = _parameter_names(fn_cls.backward, 1, len(outs), "grad_output")
        self.grad_names = [g + "_" if g in taken else g for g in grads]
        return self

    @property
    def diff_names(self) -> list[str]:
        return [self.names[k] for k in self.differentiable]

    def needs_input_grad(self) -> tuple[bool, ...]:
        return tuple(k in self.differentiable for k in range(len(self.args)))

    def with_tensors(self, tensors: Sequence[Any]) -> list[Any]:
        """The argument list with the differentiable tensors replaced by ``tensors``."""
        args = list(self.args)
        for k, t in zip(self.differentiable, tensors):
            args[k] = t
        return args

    def forward(self, args: Sequence[Any], ctx: StandInCtx | None = None) -> tuple[Any, StandInCtx]:
        """Run the user's forward with a stand-in ctx; returns (output, ctx)."""
        ctx = ctx or StandInCtx(self.needs_input_grad())
        if self.setup_style:
            out = self.fn_cls.forward(*args)
            self.fn_cls.setup_context(ctx, tuple(args), out)
        else:
            out = self.fn_cls.forward(ctx, *args)
        return out, ctx

    def outputs(self, out: Any) -> list[Any]:
        return list(out) if self.tuple_output else [out]

    def backward(self, ctx: StandInCtx, grads: Sequence[Any]) -> list[Any]:
        """Run the user's backward; one entry per forward argument (a missing one is None)."""
        got = self.fn_cls.backward(ctx, *grads)
        got = list(got) if isinstance(got, (tuple, list)) else [got]
        if len(got) != len(self.args):
            raise AssertionError(
                f"{self.fn_cls.__name__}.backward returned {len(got)} gradient(s); forward takes "
                f"{len(self.args)} argument(s) ({', '.join(self.names)}), so it must return {len(self.args)}")
        return got

    def vjp(self, tensors: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> list[Any]:
        """The user's backward on real numbers: forward at ``tensors``, then backward with ``grads``."""
        with torch.no_grad():
            _, ctx = self.forward(self.with_tensors(tensors))
            got = self.backward(ctx, grads)
        return [got[k] for k in self.differentiable]

    def autograd_of_forward(self, tensors: Sequence[torch.Tensor], grads: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """autograd through the forward's own ops (not the user's backward), at fresh copies of ``tensors``."""
        return vjp_of(lambda *xs: tuple(self.outputs(self.forward(self.with_tensors(xs))[0])), tensors, grads)

    def plain_forward(self) -> Callable[..., Any]:
        """The forward as a tensor function with the user's argument names, for ``derive``."""
        positions = [k for k, a in enumerate(self.args) if isinstance(a, torch.Tensor)]

        def run(*tensors: Any) -> Any:
            args = list(self.args)
            for k, t in zip(positions, tensors):
                args[k] = t
            return self.forward(args)[0]
        params = ", ".join(self.names[k] for k in positions)
        namespace: dict[str, Any] = {"_run": run}
        exec(f"def forward({params}):\n    return _run({params})\n", namespace)  # named params for fx
        return namespace["forward"]

    def tensor_args(self) -> list[torch.Tensor]:
        return [a for a in self.args if isinstance(a, torch.Tensor)]
