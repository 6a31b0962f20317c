"""Elementwise arithmetic and functions (broadcasting, as torch does)."""
from __future__ import annotations

import operator

import sympy as sp
import torch

from symbolic_torch.ir.functions import Floor, Trunc
from symbolic_torch.rules._vocab import binary, unary


def divide(u: sp.Expr, v: sp.Expr, rounding_mode: str | None = None) -> sp.Expr:
    """y = u / v, rounded toward zero ("trunc") or down ("floor") when asked (∂ = 0 then)."""
    if rounding_mode is None:
        return u / v
    return {"trunc": Trunc, "floor": Floor}[rounding_mode](u / v)


# y = u + α·v, y = u − α·v, y = u·v, y = u / v, y = u^v
binary("add", lambda u, v: u + v, functions=[torch.add, operator.add, operator.iadd], methods=["add", "add_"], latex="+")
binary("sub", lambda u, v: u - v, functions=[torch.sub, torch.subtract, operator.sub, operator.isub], methods=["sub", "sub_"], latex="-")
binary("rsub", lambda u, v: u - v, functions=[torch.rsub], reverse=True, latex="-")
binary("mul", lambda u, v: u * v, functions=[torch.mul, torch.multiply, operator.mul, operator.imul], methods=["mul", "mul_"], latex=r"\cdot")
binary("div", divide, options=["rounding_mode"], functions=[torch.div, torch.divide, torch.true_divide, operator.truediv, operator.itruediv], methods=["div", "div_", "divide", "true_divide"], latex="/")
binary("pow", lambda u, v: u ** v, functions=[torch.pow, operator.pow], methods=["pow"], latex="^")

# y = −x, eˣ, log x, √x, |x|, 1/√x
unary("neg", lambda x, c: -x, functions=[torch.neg, operator.neg], methods=["neg"], latex="-")
unary("exp", lambda x, c: sp.exp(x), functions=[torch.exp], methods=["exp"], latex=r"\exp")
unary("log", lambda x, c: sp.log(x), functions=[torch.log], methods=["log"], latex=r"\log")
unary("sqrt", lambda x, c: sp.sqrt(x), functions=[torch.sqrt], methods=["sqrt"], latex=r"\sqrt{}")
unary("rsqrt", lambda x, c: 1 / sp.sqrt(x), functions=[torch.rsqrt], methods=["rsqrt"], latex=r"1/\sqrt{}")
unary("abs", lambda x, c: sp.Abs(x), functions=[torch.abs, operator.abs], methods=["abs"], latex=r"|\cdot|")
unary("identity", lambda x, c, *a, **k: x, functions=[torch.clone],
      methods=["clone", "contiguous", "to", "double", "float", "type_as", "cpu"],
      modules=[torch.nn.Identity], latex=r"\operatorname{id}")
