"""``SymbolicTensor``: a tensor of sympy expressions, for tracing code that torch.fx cannot lower.

It holds one sympy expression per element (a numpy object array) and answers torch's
``__torch_function__`` protocol by looking the op up in ``op_table``. Import it from
``symbolic_tensor``, which also loads the ops; this module only defines the class.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sympy as sp
import torch

from symbolic_torch.gradcheck.op_table import Untraceable, handler, knows


def objects(shape: tuple[int, ...], fill: Callable[[tuple[int, ...]], Any]) -> np.ndarray:
    """An object array of ``shape`` with ``fill(position)`` at each position."""
    out = np.empty(shape, dtype=object)
    for pos in np.ndindex(*shape):
        out[pos] = fill(pos)
    return out


def number(v: Any) -> sp.Expr:
    """A Python or numpy number as sympy: integers and dyadic fractions exact, others Float."""
    if isinstance(v, (bool, np.bool_)):
        return sp.true if v else sp.false
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    f = float(v)
    if f.is_integer():
        return sp.Integer(int(f))
    r = sp.Rational(f)
    return r if r.q <= 1024 else sp.Float(f, 15)


def constant(t: torch.Tensor) -> np.ndarray:
    """A real tensor as an object array of sympy numbers."""
    vals = t.detach().cpu()
    vals = vals.tolist() if vals.dim() else vals.item()
    arr = np.array(vals, dtype=object)
    return np.vectorize(number, otypes=[object])(arr) if arr.size else arr


def as_real(e: Any) -> sp.Expr:
    """A boolean element as 1/0 (a ``Piecewise``), anything else unchanged."""
    if isinstance(e, sp.logic.boolalg.Boolean) and not isinstance(e, sp.Expr):
        return sp.Piecewise((sp.S.One, e), (sp.S.Zero, True))
    return e


class SymbolicTensor:
    """A tensor whose elements are sympy expressions (see the module doc)."""

    def __init__(self, data: np.ndarray, dtype: torch.dtype = torch.float64) -> None:
        arr = np.empty((), dtype=object) if not isinstance(data, np.ndarray) else data
        if not isinstance(data, np.ndarray):
            arr[()] = data
        self.data = arr
        self._dtype = dtype

    @classmethod
    def symbols(cls, name: str, shape: tuple[int, ...], dtype: torch.dtype = torch.float64) -> "SymbolicTensor":
        """One real symbol per element: ``name[i, j]`` (a plain symbol for a 0-d tensor)."""
        if not shape:
            return cls(np.array(sp.Symbol(name, real=True), dtype=object), dtype)
        base = sp.IndexedBase(name, real=True)
        return cls(objects(tuple(shape), lambda pos: base[pos]), dtype)

    # -- tensor-like attributes -------------------------------------------
    @property
    def shape(self) -> torch.Size:
        return torch.Size(self.data.shape)

    @property
    def dtype(self) -> torch.dtype:
        return self._dtype

    @property
    def is_bool(self) -> bool:
        return self._dtype == torch.bool

    device = torch.device("cpu")
    requires_grad = False
    is_leaf = True
    grad = None

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def T(self) -> "SymbolicTensor":
        return SymbolicTensor(self.data.T, self._dtype)

    def dim(self) -> int:
        return self.data.ndim

    def size(self, d: int | None = None) -> Any:
        return self.shape if d is None else self.shape[d]

    def numel(self) -> int:
        return int(self.data.size)

    def is_floating_point(self) -> bool:
        return self._dtype.is_floating_point

    def reals(self) -> np.ndarray:
        """The elements as real expressions (booleans as 1/0)."""
        return np.vectorize(as_real, otypes=[object])(self.data) if self.is_bool and self.data.size else self.data

    # -- dispatch ---------------------------------------------------------
    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        return call(getattr(func, "__name__", str(func)), args, kwargs or {})

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or not knows(name):
            raise AttributeError(f"SymbolicTensor has no attribute {name!r}")
        return lambda *args, **kwargs: call(name, (self, *args), kwargs)

    def __bool__(self) -> bool:
        raise Untraceable("Python control flow on tensor values (bool of a tensor)")

    def item(self) -> Any:
        raise Untraceable("Tensor.item(): a value leaves the tensor world")

    def tolist(self) -> Any:
        raise Untraceable("Tensor.tolist(): values leave the tensor world")

    def numpy(self) -> Any:
        raise Untraceable("Tensor.numpy(): values leave the tensor world")

    def __len__(self) -> int:
        return self.shape[0]

    def __iter__(self) -> Any:
        return (self[k] for k in range(len(self)))

    def __repr__(self) -> str:
        return f"SymbolicTensor(shape={list(self.shape)}, dtype={self._dtype})"


def call(name: str, args: tuple, kwargs: dict) -> Any:
    """Run torch op ``name`` on symbolic arguments, or raise ``Untraceable``."""
    out = handler(name)(*args, **kwargs)
    if name.endswith("_") and not name.startswith("_") and isinstance(args[0], SymbolicTensor):
        args[0].data, args[0]._dtype = out.data, out._dtype  # in-place op: the first argument changes
        return args[0]
    return out


def _operator(name: str, reverse: bool = False) -> Callable[..., Any]:
    def op(self: SymbolicTensor, other: Any) -> Any:
        return call(name, (other, self) if reverse else (self, other), {})
    return op


for _name in ("add", "sub", "mul", "truediv", "pow", "matmul", "and", "or", "xor",
              "gt", "lt", "ge", "le", "eq", "ne"):
    setattr(SymbolicTensor, f"__{_name}__", _operator(_name))
for _name in ("add", "sub", "mul", "truediv", "pow", "matmul", "and", "or", "xor"):
    setattr(SymbolicTensor, f"__r{_name}__", _operator(_name, reverse=True))
for _name in ("add", "sub", "mul", "truediv", "pow", "and", "or"):
    setattr(SymbolicTensor, f"__i{_name}__", _operator(f"{_name}_"))
SymbolicTensor.__neg__ = lambda self: call("neg", (self,), {})  # type: ignore[attr-defined]
SymbolicTensor.__pos__ = lambda self: self  # type: ignore[attr-defined]
SymbolicTensor.__abs__ = lambda self: call("abs", (self,), {})  # type: ignore[attr-defined]
SymbolicTensor.__invert__ = lambda self: call("logical_not", (self,), {})  # type: ignore[attr-defined]
SymbolicTensor.__getitem__ = lambda self, idx: call("getitem", (self, idx), {})  # type: ignore[attr-defined]
SymbolicTensor.__setitem__ = lambda self, idx, v: call("setitem", (self, idx, v), {})  # type: ignore[attr-defined]
SymbolicTensor.__hash__ = object.__hash__  # type: ignore[assignment]
