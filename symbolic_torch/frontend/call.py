"""What a rule sees: the node's arguments, and helpers to write index formulas."""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any, Sequence

import sympy as sp
import torch

from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.operand import Operand
from symbolic_torch.ir.update import BufferUpdate

__all__ = ["BufferUpdate", "Call", "Operand", "TensorArg"]
from symbolic_torch.numeric.evaluate import GRID_LIMIT, evaluate_over
from symbolic_torch.numeric.rng import rng_state


@dataclass(frozen=True)
class TensorArg:
    """A tensor argument of a node: its value and where it came from.

    ``source`` is the global tensor id (fx node name or parameter path), or
    None for a constant; ``slot`` is its position among the node's tensor
    arguments (used to re-run the node alone under autograd).
    """

    value: torch.Tensor
    source: str | None
    differentiable: bool
    slot: int | str

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def ndim(self) -> int:
        return self.value.dim()


class Call:
    """A node being lowered: the rule's window onto the run."""

    max_terms = GRID_LIMIT  # the most terms a formula may sum per element and still be evaluated

    def __init__(self, node_name: str, target: str, module: torch.nn.Module | None,
                 module_path: str | None, out: torch.Tensor) -> None:
        self.node_name = node_name
        self.target = target
        self.module = module
        self.module_path = module_path
        self.out_value = out
        self.out_shape = tuple(out.shape)
        self.operands: list[Operand] = []
        self.out_indices: tuple[sp.Symbol, ...] = ()
        self.out_symbol = "y"
        self.notes: list[str] = []  # remarks (LaTeX math) shown with the step, e.g. duplicate indices
        self.updates: list[BufferUpdate] = []  # buffers the op moves (running statistics), verified apart
        self.rng_state: torch.Tensor | None = None  # the RNG state just before this node ran
        self.item: Any = None  # for an op returning a tuple: which item this step is
        self.buffers_before: dict[str, torch.Tensor] | None = None  # a module's buffers before it ran

    def replay(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` under the RNG state this node saw (the same dropout mask, say)."""
        with rng_state(self.rng_state):
            return fn(*args, **kwargs)

    def evaluate(self, rhs: sp.Expr, indices: Sequence[sp.Symbol] | None = None,
                 shape: Sequence[int] | None = None, env: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``rhs`` evaluated over every position of the output (float64), for a rule checking itself.

        By default over the output's indices and shape, reading the operands declared so far;
        ``indices``/``shape`` pick another range, ``env`` adds (or replaces) tensors by symbol.
        """
        tensors = {o.symbol: o.value for o in self.operands}
        tensors.update(env or {})
        return evaluate_over(rhs, tuple(self.out_indices if indices is None else indices),
                             tuple(self.out_shape if shape is None else shape), tensors)

    # -- operands ---------------------------------------------------------
    def operand(self, arg: Any, key: str, symbol: str) -> Operand:
        """Declare ``arg`` (a TensorArg or a constant tensor) as operand ``symbol``."""
        if isinstance(arg, TensorArg):
            op = Operand(key, symbol, arg.source, arg.shape, arg.differentiable, arg.slot, arg.value)
        elif isinstance(arg, torch.Tensor):
            op = Operand(key, symbol, None, tuple(arg.shape), False, key, arg)
        else:
            raise TypeError(f"{self.node_name}: {key} is not a tensor")
        if any(o.symbol == symbol for o in self.operands):
            raise ValueError(f"{self.node_name}: symbol {symbol!r} used twice")
        self.operands.append(op)
        return op

    def param(self, name: str, symbol: str) -> Operand | None:
        """Declare the module's parameter or buffer ``name`` (None if absent)."""
        assert self.module is not None, "param() is for module rules"
        t = getattr(self.module, name, None)
        if t is None:
            return None
        is_param = isinstance(t, torch.nn.Parameter)
        source = f"{self.module_path}.{name}" if self.module_path else name
        diff = is_param and t.requires_grad and t.is_floating_point()
        return self.operand(TensorArg(t, source if is_param else None, diff, ("param", name)), name, symbol)

    def scalar(self, value: Any) -> sp.Expr:
        """A Python number as an exact sympy number where possible."""
        if isinstance(value, bool):
            return sp.Integer(int(value))
        if isinstance(value, numbers.Integral):
            return sp.Integer(int(value))
        if isinstance(value, numbers.Real):
            f = float(value)
            return sp.Integer(int(f)) if f.is_integer() else sp.Float(f, 15)
        raise TypeError(f"{self.node_name}: expected a number, got {type(value).__name__}")

    # -- indices ----------------------------------------------------------
    def out(self, *names: str) -> tuple[sp.Symbol, ...]:
        """Name the output's indices (one per output dim) and return them."""
        if len(names) != len(self.out_shape):
            raise ValueError(f"{self.node_name}: {len(names)} index names for a {len(self.out_shape)}-d output")
        self.out_indices = S.indices(names)
        return self.out_indices

    def default_out(self, taken: Sequence[str] = ()) -> tuple[sp.Symbol, ...]:
        """Conventional index names for the output: i, j, k, l, … (n first for ≥3-d)."""
        pool = [c for c in "ijklmrstuv" if c not in taken]
        return self.out(*pool[: len(self.out_shape)])

    def broadcast(self, x: Operand | sp.Expr, idx: Sequence[sp.Symbol] | None = None) -> sp.Expr:
        """``x`` read at the output's indices under torch broadcasting rules."""
        if not isinstance(x, Operand):
            return x
        idx = list(self.out_indices if idx is None else idx)
        tail = idx[len(idx) - x.ndim:] if x.ndim else []
        pos = [sp.S.Zero if size == 1 and self.out_shape[len(idx) - x.ndim + k] != 1 else i
               for k, (i, size) in enumerate(zip(tail, x.shape))]
        return x[tuple(pos)]

    def sum(self, body: sp.Expr, *limits: tuple[sp.Symbol, int]) -> sp.Expr:
        """``Σ`` over ``(index, size)`` pairs, each index running over 0…size−1."""
        if any(size <= 0 for _, size in limits):
            return sp.S.Zero
        return sp.Sum(body, *[(i, 0, size - 1) for i, size in limits])
