"""Broadcasting elementwise functions of two or three operands (tensors or numbers).

Selections (maximum, clamp, where) are ``Piecewise``: sympy's derivative of each branch
is torch's gradient, ties included where torch splits them (maximum: ½ each).
"""
from __future__ import annotations

import operator
from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule
from symbolic_torch.ir.elementwise import clamp as clamp_formula  # the math of clamp, shared with gradcheck

from symbolic_torch.ir.functions import Floor, Trunc
from symbolic_torch.rules._vocab import IGNORED, binary, is_tensor, read


def operands(call: Call, *args: tuple[Any, str, str]) -> list[sp.Expr]:
    """Each ``(value, key, symbol)`` read at the output's indices (numbers stay numbers)."""
    call.default_out()
    return [read(call, v, key, sym) for v, key, sym in args]


# y = max(u, v), min(u, v) (ties: ½ to each, as torch)
binary("maximum", sp.Max, functions=[torch.maximum], methods=["maximum"], latex=r"\max")
binary("minimum", sp.Min, functions=[torch.minimum], methods=["minimum"], latex=r"\min")
# y = u if u ≥ v else v (fmax: ties go to u; NaN is not handled)
binary("fmax", lambda u, v: sp.Piecewise((u, u >= v), (v, True)), functions=[torch.fmax], methods=["fmax"],
       latex=r"\operatorname{fmax}")
binary("fmin", lambda u, v: sp.Piecewise((u, u <= v), (v, True)), functions=[torch.fmin], methods=["fmin"],
       latex=r"\operatorname{fmin}")
# y = atan2(u, v), √(u² + v²), log(eᵘ + eᵛ), log₂(2ᵘ + 2ᵛ)
binary("atan2", sp.atan2, functions=[torch.atan2, torch.arctan2], methods=["atan2", "arctan2"],
       latex=r"\operatorname{atan2}")
binary("hypot", lambda u, v: sp.sqrt(u ** 2 + v ** 2), functions=[torch.hypot], methods=["hypot"],
       latex=r"\operatorname{hypot}")
binary("logaddexp", lambda u, v: sp.log(sp.exp(u) + sp.exp(v)), functions=[torch.logaddexp], methods=["logaddexp"],
       latex=r"\operatorname{logaddexp}")
binary("logaddexp2", lambda u, v: sp.log(2 ** u + 2 ** v) / sp.log(2), functions=[torch.logaddexp2],
       methods=["logaddexp2"], latex=r"\operatorname{logaddexp2}")
# y = |u|·(−1 if v < 0 else 1)
binary("copysign", lambda u, v: sp.Abs(u) * sp.Piecewise((-1, v < 0), (1, True)), functions=[torch.copysign],
       methods=["copysign"], latex=r"\operatorname{copysign}")
# y = u − trunc(u/v)·v, u − ⌊u/v⌋·v
binary("fmod", lambda u, v: u - Trunc(u / v) * v, functions=[torch.fmod], methods=["fmod"], latex=r"\bmod")
binary("remainder", lambda u, v: u - Floor(u / v) * v, functions=[torch.remainder, operator.mod],
       methods=["remainder"], latex=r"\bmod")
binary("__rmod__", lambda u, v: u - Floor(u / v) * v, methods=["__rmod__"], reverse=True, latex=r"\bmod")
# y = uᵛ in float64, u·2ᵛ
binary("float_power", lambda u, v: u ** v, functions=[torch.float_power], methods=["float_power"], latex="^")
binary("ldexp", lambda u, v: u * 2 ** v, functions=[torch.ldexp], methods=["ldexp"], latex=r"\operatorname{ldexp}")
# reflected operators: y = v − u, v / u, vᵘ with v the number or tensor on the left
binary("__rsub__", lambda u, v: u - v, methods=["__rsub__"], reverse=True, latex="-")
binary("__rdiv__", lambda u, v: u / v, methods=["__rdiv__", "__rtruediv__"], reverse=True, latex="/")
binary("__rpow__", lambda u, v: u ** v, methods=["__rpow__"], reverse=True, latex="^")


def _xlog(log: Any) -> Any:
    """y = u·log(v), and 0 where u = 0 and v ≤ 0 (torch's gradient there is 0 too)."""
    return lambda u, v: u * sp.Piecewise((0, sp.Eq(u, 0) & (v <= 0)), (log(v), True))


binary("xlogy", _xlog(sp.log), functions=[torch.xlogy, torch.special.xlogy], methods=["xlogy"],
       latex=r"\operatorname{xlogy}")
binary("xlog1py", _xlog(lambda v: sp.log(1 + v)), functions=[torch.special.xlog1py], latex=r"\operatorname{xlog1py}")


@rule("clamp", functions=[torch.clamp, torch.clip], methods=["clamp", "clip"], latex=r"\operatorname{clamp}")
def clamp(call: Call, input: Any, min: Any = None, max: Any = None, **kwargs: Any) -> sp.Expr:
    """y = min(max(x, lo), hi) as torch: hi where lo > hi; x's gradient where lo ≤ x ≤ hi."""
    call.default_out()
    x = read(call, input, "input", "x")
    lo = None if min is None else read(call, min, "min", "a")
    hi = None if max is None else read(call, max, "max", "b")
    return clamp_formula(x, lo, hi)


@rule("clamp_min", functions=[torch.clamp_min], methods=["clamp_min"], latex=r"\max")
def clamp_min(call: Call, input: Any, min: Any) -> sp.Expr:
    """y = lo where x < lo, else x."""
    x, lo = operands(call, (input, "input", "x"), (min, "min", "a"))
    return clamp_formula(x, lo, None)


@rule("clamp_max", functions=[torch.clamp_max], methods=["clamp_max"], latex=r"\min")
def clamp_max(call: Call, input: Any, max: Any) -> sp.Expr:
    """y = hi where x > hi, else x."""
    x, hi = operands(call, (input, "input", "x"), (max, "max", "b"))
    return clamp_formula(x, None, hi)


@rule("where", functions=[torch.where], latex=r"\operatorname{where}")
def where(call: Call, condition: Any, input: Any = None, other: Any = None) -> sp.Expr:
    """y = u where c else v (c a constant mask)."""
    if input is None:
        raise NotImplementedError("where(condition) returns indices")
    c, u, v = operands(call, (condition, "condition", "c"), (input, "input", "u"), (other, "other", "v"))
    return sp.Piecewise((u, sp.Ne(c, 0)), (v, True))


@rule("masked_fill", functions=[torch.masked_fill], methods=["masked_fill"], latex=r"\operatorname{masked\_fill}")
def masked_fill(call: Call, input: Any, mask: Any, value: Any) -> sp.Expr:
    """y = v where m else x (m a constant mask, v a number or 0-d tensor)."""
    x, m, v = operands(call, (input, "input", "x"), (mask, "mask", "m"), (value, "value", "v"))
    return sp.Piecewise((v, sp.Ne(m, 0)), (x, True))


@rule("lerp", functions=[torch.lerp], methods=["lerp"], latex=r"\operatorname{lerp}")
def lerp(call: Call, input: Any, end: Any, weight: Any) -> sp.Expr:
    """y = s + w·(e − s)."""
    s, e, w = operands(call, (input, "input", "s"), (end, "end", "e"), (weight, "weight", "w"))
    return s + w * (e - s)


def _addc(name: str, combine: Any, target: Any, doc: str) -> None:
    def impl(call: Call, input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1, **kwargs: Any) -> sp.Expr:
        if {k for k, v in kwargs.items() if v is not None} - set(IGNORED):
            raise NotImplementedError(f"{name} with {kwargs}")
        x, u, v = operands(call, (input, "input", "x"), (tensor1, "tensor1", "u"), (tensor2, "tensor2", "v"))
        return x + (call.scalar(value) if not is_tensor(value) else value) * combine(u, v)
    impl.__doc__ = doc
    rule(name, functions=[target], methods=[name], latex=rf"\operatorname{{{name}}}")(impl)


_addc("addcmul", operator.mul, torch.addcmul, "y = x + c·u·v.")
_addc("addcdiv", operator.truediv, torch.addcdiv, "y = x + c·u/v.")
