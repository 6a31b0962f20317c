"""Selections by value: sort, topk, kthvalue, median, mode, cummax/cummin, max/min along a dim.

Which element is chosen depends on the values, but once the run has chosen, the values
output is x read through the chosen indices: y[…i…] = x[…I[…i…]…], I the run's index
output (a constant). Its derivative sends ḡ to the chosen elements, as torch's backward
does (the same indices, so the same choice among ties).
"""
from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim

POOL = "ijklmuvw"


def by_indices(call: Call, x: Operand, indices: torch.Tensor, dim: int) -> sp.Expr:
    """x read along ``dim`` at the constant ``indices`` (the dim kept or dropped as the output says)."""
    if x.ndim == 0:
        return x[()]
    d = norm_dim(dim, x.ndim)
    idx = list(call.out(*[POOL[k] for k in range(len(call.out_shape))]))
    kept = len(call.out_shape) == x.ndim
    table = call.operand(indices.reshape(call.out_shape), "indices", "I")[tuple(idx)] if idx else \
        call.operand(indices.reshape(()), "indices", "I")[()]
    read = idx[:d] + [table] + (idx[d + 1:] if kept else idx[d:])
    return x[tuple(read)]


def selection(name: str, fn: Callable[..., Any], dim_of: Callable[..., int], doc: str, *,
              functions: list[Any], methods: list[str], tuple_out: bool = True) -> None:
    """Register ``name``: ``fn(x, *args, **kwargs)`` returns (values, indices) (or ``.values`` only)."""
    def impl(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
        if tuple_out and call.item not in (0, None):
            raise NotImplementedError(f"{name} item {call.item}")
        x = call.operand(input, "input", "x")
        with torch.no_grad():
            out = fn(x.value, *args, **kwargs)
        indices = out[1] if isinstance(out, tuple) else out.indices
        return by_indices(call, x, indices, dim_of(*args, **kwargs))
    impl.__doc__ = doc
    rule(name, functions=functions, methods=methods, latex=rf"\operatorname{{{name}}}", multi_output=tuple_out)(impl)


def _dim(position: int, default: int = -1) -> Callable[..., int]:
    """The dim argument: ``args[position]`` or ``dim=``, else ``default``."""
    return lambda *a, **k: k.get("dim", a[position] if len(a) > position else default)


selection("sort", lambda x, *a, **k: torch.sort(x, *a, **k), _dim(0), "y[…i…] = x[…I[…i…]…], I the sorting order.",
          functions=[torch.sort], methods=["sort"])
selection("msort", lambda x: torch.sort(x, 0), lambda: 0, "y[i, …] = x[I[i, …], …], sorted along dim 0.",
          functions=[torch.msort], methods=["msort"], tuple_out=False)
selection("topk", lambda x, *a, **k: torch.topk(x, *a, **k), _dim(1), "y[…i…] = x[…I[…i…]…], the k largest (smallest).",
          functions=[torch.topk], methods=["topk"])
selection("kthvalue", lambda x, *a, **k: torch.kthvalue(x, *a, **k), _dim(1), "y[…] = x[…, I[…], …], the k-th smallest.",
          functions=[torch.kthvalue], methods=["kthvalue"])
selection("mode", lambda x, *a, **k: torch.mode(x, *a, **k), _dim(0), "y[…] = x[…, I[…], …], the most frequent value.",
          functions=[torch.mode], methods=["mode"])
selection("cummax", lambda x, *a, **k: torch.cummax(x, *a, **k), _dim(0), "y[…k…] = x[…I[…k…]…], the running max.",
          functions=[torch.cummax], methods=["cummax"])
selection("cummin", lambda x, *a, **k: torch.cummin(x, *a, **k), _dim(0), "y[…k…] = x[…I[…k…]…], the running min.",
          functions=[torch.cummin], methods=["cummin"])


def _median(fn: Callable[..., Any]) -> Callable[..., Any]:
    """(values, indices); without a dim, the median's position in the flattened input."""
    def run(x: torch.Tensor, *a: Any, **k: Any) -> Any:
        if a or "dim" in k:
            return fn(x, *a, **k)
        flat = x.reshape(-1)
        return fn(flat, 0) if flat.numel() else (fn(x), torch.zeros((), dtype=torch.long))
    return run


def _median_dim(*a: Any, **k: Any) -> int:
    return k.get("dim", a[0] if a else 0)


for _name, _fn in [("median", torch.median), ("nanmedian", torch.nanmedian)]:
    def _impl(call: Call, input: Any, *args: Any, _fn: Any = _fn, **kwargs: Any) -> sp.Expr:
        if call.item not in (0, None):
            raise NotImplementedError("median item 1")
        x = call.operand(input, "input", "x")
        with torch.no_grad():
            values, indices = _median(_fn)(x.value, *args, **kwargs)
        if args or "dim" in kwargs:
            return by_indices(call, x, indices, _median_dim(*args, **kwargs))
        flat = list(torch.unravel_index(indices, x.shape)) if x.ndim else []
        return x[tuple(sp.Integer(int(p)) for p in flat)] if flat else x[()]
    _impl.__doc__ = "y[…] = x[…, I[…], …], the lower median (no dim: the median element of all)."
    rule(_name, functions=[_fn], methods=[_name], latex=r"\operatorname{median}", multi_output=True)(_impl)
