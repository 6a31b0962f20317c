"""Selections by value: sort, topk, kthvalue, median, mode, cummax/cummin, max/min along a dim.

Which element is chosen depends on the values, but once the run has chosen, the values
output is x read through the chosen indices: y[…i…] = x[…I[…i…]…], I the run's index
output (a constant). Its derivative sends ḡ to the chosen elements, as torch's backward
does (the same indices, so the same choice among ties).

A quantile interpolates between two order statistics: which elements they are is the run's
sort (a constant, as for sort and median); the interpolation weight is the formula's,
q·(n − 1) − ⌊·⌋, so a q given as a tensor gets its gradient too.
"""
from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules._vocab import is_tensor

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


# ---------------------------------------------------------------- quantile, nanquantile
def quantile_tables(x: torch.Tensor, q: Any, dim: Any, keepdim: bool, interpolation: str, nan: bool
                    ) -> dict[str, torch.Tensor]:
    """torch's quantile, replayed for its positions, laid out as the output: ``lo``/``hi`` (where
    the two order statistics sit along the reduced dim, or in the flattened input), ``S`` (n − 1,
    the rank's scale) and ``R`` (the lower rank), so that the weight is q·S − R."""
    rows = x.reshape(1, -1) if dim is None else x.movedim(dim, -1)
    ordered, order = torch.sort(rows, -1)
    qv = q.detach().to(x.dtype) if torch.is_tensor(q) else torch.tensor(q, dtype=x.dtype)
    missing = ordered.isnan()
    last = (~missing).sum(-1, keepdim=True) - 1 if nan else torch.full_like(ordered[..., :1], rows.shape[-1] - 1)
    scale = last.to(x.dtype)
    if not nan:  # a row with NaN reads its last (NaN) element
        scale = scale.masked_fill(missing.any(-1, keepdim=True), 0)
    ranks = qv.reshape(-1) * scale
    if not nan:
        ranks = ranks.masked_fill(missing.any(-1, keepdim=True), rows.shape[-1] - 1)
    if interpolation == "lower":
        ranks = ranks.floor()
    elif interpolation == "higher":
        ranks = ranks.ceil()
    elif interpolation == "nearest":
        ranks = ranks.round()
    below = ranks.long().clamp(min=0)  # an all-NaN row (nanquantile) reads position 0, a NaN
    above = ranks.ceil().long().clamp(min=0)
    out = {"lo": order.gather(-1, below), "hi": order.gather(-1, above),
           "S": scale.expand_as(ranks), "R": torch.where(missing.any(-1, keepdim=True) & (not nan), 0.0,
                                                      below.to(x.dtype))}
    scalar_q = not torch.is_tensor(q) or q.dim() == 0
    for key, t in out.items():
        t = t.movedim(-1, 0)  # (Q, kept…)
        if dim is None:
            t = t.reshape(t.shape[0], *([1] * x.dim() if keepdim else []))
        elif keepdim:
            t = t.unsqueeze(dim + 1)
        out[key] = t[0] if scalar_q else t
    return out


def _quantile(nan: bool) -> Any:
    def impl(call: Call, input: Any, q: Any, dim: Any = None, keepdim: bool = False, *,
             interpolation: str = "linear") -> sp.Expr:
        x = call.operand(input, "input", "x")
        qt = call.operand(q, "q", "q") if is_tensor(q) and q.differentiable else None
        idx = call.out(*[f"i{k}" if k else "k" for k in range(len(call.out_shape))]) if call.out_shape else ()
        if x.ndim == 0:
            return x[()]
        d = None if dim is None else norm_dim(dim, x.ndim)
        t = quantile_tables(x.value.detach(), getattr(q, "value", q), d, keepdim, interpolation, nan)
        lead = 1 if is_tensor(q) and q.ndim == 1 else 0  # the output's q dim
        kept = list(idx[lead:])

        def at(table: torch.Tensor, name: str, symbol: str) -> sp.Expr:
            op = call.operand(table, name, symbol)
            return op[tuple(idx)] if idx else op[()]

        def read(name: str, symbol: str) -> sp.Expr:
            """x at the order statistic ``name``: along dim d, or at every coordinate of the flattened input."""
            if d is None:
                coords = torch.unravel_index(t[name], x.shape)
                return x[tuple(at(c, f"{name}{a}", f"{symbol}{a}") for a, c in enumerate(coords))]
            where = kept[:d] + [at(t[name], name, symbol)] + (kept[d + 1:] if keepdim else kept[d:])
            return x[tuple(where)]
        low = read("lo", "I")
        if interpolation in ("lower", "higher", "nearest"):
            return low
        high = read("hi", "J")
        if interpolation == "midpoint":
            weight = sp.Rational(1, 2)
        elif qt is not None:
            qk = qt[(idx[0],)] if qt.ndim else qt[()]
            weight = qk * at(t["S"], "S", "S") - at(t["R"], "R", "R")
        else:
            qv = getattr(q, "value", q)
            scale, base = t["S"], t["R"]
            weight = call.operand((torch.as_tensor(qv, dtype=scale.dtype).reshape(
                (-1,) + (1,) * (scale.dim() - 1) if torch.is_tensor(qv) and qv.dim() else ()) * scale - base),
                "weight", "w")
            weight = weight[tuple(idx)] if idx else weight[()]
        return low + weight * (high - low)
    impl.__doc__ = ("y[k, …] = x[…, I, …] + w·(x[…, J, …] − x[…, I, …]), I and J the run's order statistics "
                    "below and above rank q_k·(n − 1), w = q_k·(n − 1) − ⌊q_k·(n − 1)⌋ (linear; ½ midpoint; "
                    "lower, higher, nearest read one)" + (", n the count of non-NaN elements." if nan else "."))
    return impl


rule("quantile", functions=[torch.quantile], methods=["quantile"], latex=r"\operatorname{quantile}")(_quantile(False))
rule("nanquantile", functions=[torch.nanquantile], methods=["nanquantile"],
     latex=r"\operatorname{nanquantile}")(_quantile(True))
