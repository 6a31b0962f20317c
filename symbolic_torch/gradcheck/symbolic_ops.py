"""The ops ``SymbolicTensor`` knows: each is torch's op written on sympy elements.

One line of math per family. Masks are ``Piecewise`` conditions; the choices at
ties follow torch's kernels (``relu'(0) = 0``, ``clamp`` passes gradient at its
bounds, ``maximum`` splits a tie), so that a formula differentiated here agrees
with autograd wherever autograd is differentiable.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np
import sympy as sp
import torch

from symbolic_torch.gradcheck.op_table import Untraceable, register
from symbolic_torch.gradcheck.tensor import SymbolicTensor, as_real, constant, number
from symbolic_torch.ir import elementwise as ew

FLOAT = torch.float64


def arr(v: Any) -> np.ndarray:
    """Any operand (symbolic, real tensor, number) as an object array of real expressions."""
    if isinstance(v, SymbolicTensor):
        return v.reals()
    if isinstance(v, torch.Tensor):
        return np.vectorize(as_real, otypes=[object])(constant(v)) if v.dtype == torch.bool else constant(v)
    if isinstance(v, (int, float, np.number)) and not isinstance(v, bool):
        return np.array(number(v), dtype=object)
    if isinstance(v, bool):
        return np.array(sp.Integer(int(v)), dtype=object)
    raise Untraceable(f"operand of type {type(v).__name__}")


def cond(v: Any) -> np.ndarray:
    """A boolean operand as an object array of sympy conditions."""
    if isinstance(v, SymbolicTensor) and v.is_bool:
        return v.data
    if isinstance(v, torch.Tensor) and v.dtype == torch.bool:
        return constant(v)
    return _map(lambda e: sp.Ne(e, 0), arr(v))


def wrap(a: Any, dtype: torch.dtype = FLOAT) -> SymbolicTensor:
    return SymbolicTensor(a if isinstance(a, np.ndarray) else np.array(a, dtype=object), dtype)


def _map(f: Callable[..., Any], *arrays: np.ndarray) -> np.ndarray:
    out = np.frompyfunc(f, len(arrays), 1)(*arrays)
    if not isinstance(out, np.ndarray):
        box = np.empty((), dtype=object)
        box[()] = out
        return box
    return out


def elementwise(names: Sequence[str], f: Callable[..., sp.Expr], nargs: int = 1) -> None:
    """Register an elementwise op ``y = f(x, …)`` on real operands."""
    def impl(*args: Any, **kwargs: Any) -> SymbolicTensor:
        kwargs.pop("out", None)
        kwargs.pop("inplace", None)  # the returned value is the same either way
        tensors = [arr(a) for a in args[:nargs]]
        extra = args[nargs:]
        return wrap(_map(lambda *xs: f(*xs, *extra, **kwargs), *tensors))
    register(*names)(impl)


def compare(names: Sequence[str], rel: Callable[[sp.Expr, sp.Expr], sp.Basic]) -> None:
    register(*names)(lambda a, b: wrap(_map(rel, arr(a), arr(b)), torch.bool))


# -- arithmetic: y = u + α·v, u − α·v, u·v, u/v, u^v -------------------------
register("add")(lambda a, b, *, alpha=1, out=None: wrap(arr(a) + number(alpha) * arr(b)))
register("sub", "subtract")(lambda a, b, *, alpha=1, out=None: wrap(arr(a) - number(alpha) * arr(b)))
register("rsub")(lambda a, b, *, alpha=1: wrap(arr(b) - number(alpha) * arr(a)))
register("mul", "multiply")(lambda a, b, *, out=None: wrap(arr(a) * arr(b)))
elementwise(["pow", "float_power"], lambda u, v: u ** v, nargs=2)


@register("div", "truediv", "true_divide", "divide")
def div(a: Any, b: Any, *, rounding_mode: Any = None, out: Any = None) -> SymbolicTensor:
    if rounding_mode is not None:
        raise Untraceable(f"div with rounding_mode={rounding_mode!r}")
    return wrap(_map(lambda u, v: u / v, arr(a), arr(b)))


# -- elementwise functions (activations: the math of ``symbolic_torch.ir.elementwise``) ----
def _leaky(x: sp.Expr, negative_slope: float = 0.01, inplace: bool = False) -> sp.Expr:
    return ew.leaky_relu(x, number(negative_slope))


def _elu(x: sp.Expr, alpha: float = 1.0, inplace: bool = False) -> sp.Expr:
    return ew.elu(x, number(alpha))


def _softplus(x: sp.Expr, beta: float = 1.0, threshold: float = 20.0) -> sp.Expr:
    return ew.softplus(x, number(beta), number(threshold))


for _names, _f in [
    (["neg", "negative"], lambda x: -x), (["exp"], sp.exp), (["log"], sp.log),
    (["log1p"], lambda x: sp.log(1 + x)), (["expm1"], lambda x: sp.exp(x) - 1),
    (["sqrt"], sp.sqrt), (["rsqrt"], lambda x: 1 / sp.sqrt(x)), (["reciprocal"], lambda x: 1 / x),
    (["square"], lambda x: x ** 2), (["abs", "absolute"], sp.Abs), (["sign", "sgn"], sp.sign),
    (["sin"], sp.sin), (["cos"], sp.cos), (["tan"], sp.tan), (["tanh"], sp.tanh),
    (["sinh"], sp.sinh), (["cosh"], sp.cosh), (["atan", "arctan"], sp.atan),
    (["erf"], sp.erf), (["erfc"], lambda x: 1 - sp.erf(x)), (["sigmoid", "expit"], ew.sigmoid),
    (["relu"], ew.relu), (["softplus"], _softplus), (["gelu"], ew.gelu), (["leaky_relu"], _leaky),
    (["elu"], _elu), (["silu"], ew.silu), (["logsigmoid", "log_sigmoid"], ew.logsigmoid),
]:
    elementwise(_names, _f)
elementwise(["maximum", "fmax"], ew.maximum, nargs=2)
elementwise(["minimum", "fmin"], ew.minimum, nargs=2)


@register("clamp", "clip")
def clamp(x: Any, min: Any = None, max: Any = None) -> SymbolicTensor:
    """y = x limited to [min, max] (the gradient passes at the bounds, as torch)."""
    missing = np.empty((), dtype=object)  # holds None: that bound does not limit
    lo, hi = (missing if b is None else arr(b) for b in (min, max))
    return wrap(_map(ew.clamp, arr(x), lo, hi))


@register("hardtanh")
def hardtanh(x: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> SymbolicTensor:
    """y = x limited to [min_val, max_val]; no gradient at the bounds, as torch."""
    return wrap(_map(lambda e: ew.hardtanh(e, number(min_val), number(max_val)), arr(x)))


register("clamp_min")(lambda x, m: clamp(x, min=m))
register("relu6")(lambda x, inplace=False: hardtanh(x, 0, 6))
register("clamp_max")(lambda x, m: clamp(x, max=m))

# -- comparisons and logic (boolean tensors hold sympy conditions) ------------
compare(["gt", "greater"], sp.StrictGreaterThan)
compare(["lt", "less"], sp.StrictLessThan)
compare(["ge", "greater_equal"], sp.GreaterThan)
compare(["le", "less_equal"], sp.LessThan)
compare(["eq"], lambda u, v: sp.Eq(u, v))
compare(["ne", "not_equal"], lambda u, v: sp.Ne(u, v))
register("logical_and", "and", "bitwise_and")(lambda a, b: wrap(_map(sp.And, cond(a), cond(b)), torch.bool))
register("logical_or", "or", "bitwise_or")(lambda a, b: wrap(_map(sp.Or, cond(a), cond(b)), torch.bool))
register("logical_xor", "xor", "bitwise_xor")(lambda a, b: wrap(_map(sp.Xor, cond(a), cond(b)), torch.bool))
register("logical_not", "bitwise_not")(lambda a: wrap(_map(sp.Not, cond(a)), torch.bool))


@register("where")
def where(c: Any, a: Any, b: Any) -> SymbolicTensor:
    """y = a where c else b."""
    return wrap(_map(lambda k, u, v: sp.Piecewise((u, k), (v, True)), cond(c), arr(a), arr(b)))


@register("masked_fill")
def masked_fill(x: Any, mask: Any, value: Any) -> SymbolicTensor:
    return where(mask, value, x)


# -- dtype, copies ------------------------------------------------------------
def _to(x: Any, *args: Any, **kwargs: Any) -> Any:
    dtype = kwargs.get("dtype")
    for a in args:
        if isinstance(a, torch.dtype):
            dtype = a
        elif isinstance(a, (torch.Tensor, SymbolicTensor)):
            dtype = a.dtype
    if dtype is None or dtype == x.dtype:
        return x
    if dtype.is_floating_point:
        return wrap(arr(x), dtype)
    raise Untraceable(f"conversion to {dtype}")


register("to", "type_as", "type")(_to)
register("float")(lambda x, *a, **k: wrap(arr(x), torch.float32))
register("double")(lambda x, *a, **k: wrap(arr(x), torch.float64))
register("clone", "contiguous", "detach", "positive", "resolve_conj", "resolve_neg")(
    lambda x, *a, **k: SymbolicTensor(x.data.copy(), x.dtype))


def _like(fill: Callable[[Any], sp.Expr]) -> Callable[..., SymbolicTensor]:
    def make(x: Any, *args: Any, **kwargs: Any) -> SymbolicTensor:
        shape = tuple(x.shape)
        value = fill(args[0] if args else kwargs.get("fill_value"))
        return wrap(np.full(shape, value, dtype=object), kwargs.get("dtype") or FLOAT)
    return make


register("zeros_like", "zero")(_like(lambda v: sp.S.Zero))
register("ones_like")(_like(lambda v: sp.S.One))
register("full_like", "fill")(_like(lambda v: number(v)))


def _new(fill: sp.Expr) -> Callable[..., SymbolicTensor]:
    def make(x: Any, *size: Any, **kwargs: Any) -> SymbolicTensor:
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size
        return wrap(np.full(shape, fill, dtype=object), kwargs.get("dtype") or FLOAT)
    return make


register("new_zeros")(_new(sp.S.Zero))
register("new_ones")(_new(sp.S.One))
register("copy")(lambda x, src, *a, **k: wrap(np.broadcast_to(arr(src), x.data.shape).copy(), x.dtype))

# -- reductions ---------------------------------------------------------------
def axes(dim: Any, ndim: int) -> tuple[int, ...]:
    if dim is None or (isinstance(dim, (tuple, list)) and not dim):
        return tuple(range(ndim))
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    return tuple(d % ndim for d in dims)


@register("sum")
def total(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> SymbolicTensor:
    """y[kept] = Σ_reduced x."""
    a = arr(x)
    if a.ndim == 0:
        return wrap(a)
    return wrap(np.sum(a, axis=axes(dim, a.ndim), keepdims=keepdim))


@register("mean")
def mean(x: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None) -> SymbolicTensor:
    a = arr(x)
    count = math.prod(a.shape[d] for d in axes(dim, a.ndim)) if a.ndim else 1
    return wrap(total(x, dim, keepdim).data * sp.Rational(1, count))


@register("var")
def var(x: Any, dim: Any = None, unbiased: Any = None, keepdim: bool = False, *,
        correction: Any = None) -> SymbolicTensor:
    """y = Σ (x − mean)² / (N − correction)."""
    if isinstance(dim, bool):  # var(x, unbiased)
        dim, unbiased = None, dim
    a = arr(x)
    n = math.prod(a.shape[d] for d in axes(dim, a.ndim))
    corr = correction if correction is not None else (0 if unbiased is False else 1)
    dev = a - mean(x, dim, keepdim=True).data
    return wrap(np.sum(dev * dev, axis=axes(dim, a.ndim), keepdims=keepdim) * sp.Rational(1, n - corr))


register("std")(lambda *a, **k: wrap(_map(sp.sqrt, var(*a, **k).data)))


@register("sum_to_size")
def sum_to_size(x: Any, *size: Any) -> SymbolicTensor:
    """Sum over the dims that broadcasting added or expanded, down to ``size``."""
    shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list, torch.Size)) else size
    a = arr(x)
    lead = a.ndim - len(shape)
    a = np.sum(a, axis=tuple(range(lead))) if lead else a
    dims = tuple(d for d, n in enumerate(shape) if n == 1 and a.shape[d] != 1)
    return wrap(np.sum(a, axis=dims, keepdims=True) if dims else a)

