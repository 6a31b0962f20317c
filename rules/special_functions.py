"""Special functions: entropy terms, modified Bessel functions, float neighbours and mantissas.

I₀ and I₁ are sympy's ``besseli`` (its derivative I_ν' = (I_{ν−1} + I_{ν+1})/2 is what sympy
derives; the evaluator computes them with torch.special). The exponentially scaled ones are a
function of their own, e^{−|x|}·I_ν(x) kept as one factor: the product would overflow where
I_ν(x) does (|x| ≳ 700) although the scaled value is small.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.ir.functions import Entr, ScaledBesselI, Sign
from symbolic_torch.rules._vocab import read, unary



unary("entr", lambda x, c, *a, **k: Entr(x), functions=[torch.special.entr], latex=r"\operatorname{entr}")
unary("i0", lambda x, c, *a, **k: sp.besseli(0, x), functions=[torch.i0, torch.special.i0], methods=["i0"],
      latex=r"I_0")
unary("i1", lambda x, c, *a, **k: sp.besseli(1, x), functions=[torch.special.i1], latex=r"I_1")
unary("i0e", lambda x, c, *a, **k: ScaledBesselI(0, x), functions=[torch.special.i0e], latex=r"e^{-|x|}I_0")
unary("i1e", lambda x, c, *a, **k: ScaledBesselI(1, x), functions=[torch.special.i1e], latex=r"e^{-|x|}I_1")


@rule("nextafter", functions=[torch.nextafter], methods=["nextafter"], latex=r"\operatorname{nextafter}")
def nextafter(call: Call, input: Any, other: Any) -> sp.Expr:
    """y[i…] = x[i…] + δ[i…], δ the run's step to the next float toward other (a constant: ∂x = 1, ∂other = 0)."""
    call.default_out()
    x = read(call, input, "input", "x")
    base = torch.broadcast_to(input.value, call.out_shape).to(call.out_value.dtype)
    step = call.operand((call.out_value - base).to(torch.float64), "step", "delta")  # exact: one ulp or 0
    return x + call.broadcast(step)


@rule("frexp", functions=[torch.frexp], methods=["frexp"], latex=r"\operatorname{frexp}", multi_output=True)
def frexp(call: Call, input: Any) -> sp.Expr:
    """mantissa[i…] = x[i…]·2^{−E[i…]}, E the run's exponents (integers, constants); the exponent item is an integer."""
    if call.item not in (0, None):
        raise NotImplementedError("frexp item 1 is the integer exponent")
    call.default_out()
    x = read(call, input, "input", "x")
    exponent = torch.frexp(input.value)[1].to(torch.float64)
    e = call.broadcast(call.operand(exponent, "exponent", "E"))
    return x * sp.Integer(2) ** (-e)
