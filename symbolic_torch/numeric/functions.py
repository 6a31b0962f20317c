"""Handlers for the elementwise functions: sympy's and the notation of ``ir.functions``.

Each is one torch function applied to the arguments' values; the few that need more
(an order argument, a value at 0) have a handler of their own below the table.
"""
from __future__ import annotations

from typing import Callable

import sympy as sp
import torch

from symbolic_torch.ir import functions as F
from symbolic_torch.numeric.grid import Grid, elementwise, register

_ELEMENTWISE: dict[type, Callable[..., torch.Tensor]] = {
    sp.exp: torch.exp, sp.log: torch.log, sp.Abs: torch.abs, sp.sign: torch.sign,
    sp.sin: torch.sin, sp.cos: torch.cos, sp.tan: torch.tan,
    sp.asin: torch.asin, sp.acos: torch.acos, sp.atan: torch.atan, sp.atan2: torch.atan2,
    sp.sinh: torch.sinh, sp.cosh: torch.cosh, sp.tanh: torch.tanh,
    sp.asinh: torch.asinh, sp.acosh: torch.acosh, sp.atanh: torch.atanh,
    sp.erf: torch.erf, sp.erfc: torch.erfc, sp.erfinv: torch.erfinv, sp.loggamma: torch.lgamma,
    sp.floor: torch.floor, sp.ceiling: torch.ceil, F.Trunc: torch.trunc, F.Round: torch.round,
    F.Ndtr: lambda x: torch.erfc(-x / 2 ** 0.5) / 2,  # torch.special.ndtr loses the far left tail
    # e^{min(x − M, 0)}: where x > M a [j ≤ k] factor zeroes the term, and 0·∞ must not be NaN
    F.ExpShift: lambda x, m: torch.exp((x - m).clamp(max=0)),
    F.Entr: torch.special.entr,
}


def _heaviside(e: sp.Heaviside, g: Grid) -> torch.Tensor:
    at0 = float(e.args[1]) if len(e.args) > 1 else 0.5
    return torch.heaviside(g.eval(e.args[0]).to(torch.float64), torch.tensor(at0, dtype=torch.float64))


def _polygamma(e: sp.polygamma, g: Grid) -> torch.Tensor:
    return torch.polygamma(int(e.args[0]), g.eval(e.args[1]).to(torch.float64))


def bessel_i(e: sp.Basic, g: Grid, scaled: bool = False) -> torch.Tensor:
    """The handler of I_ν(x) (``scaled``: e^{−|x|}·I_ν(x)) for an integer order ν ≥ 0, ``e.args == (ν, x)``.

    torch.special's orders 0 and 1, then I_{n+1} = I_{n−1} − 2n/x·I_n (0 at x = 0): the orders
    the derivatives of i0, i1 (i0e, i1e) read.
    """
    nu, arg = e.args
    if not (nu.is_Integer and int(nu) >= 0):
        raise TypeError(f"cannot evaluate {e}: only integer orders ν ≥ 0")
    x = g.eval(arg).to(torch.float64)
    lo, hi = (torch.special.i0e(x), torch.special.i1e(x)) if scaled else (torch.special.i0(x), torch.special.i1(x))
    if int(nu) == 0:
        return lo
    for n in range(1, int(nu)):
        lo, hi = hi, torch.where(x == 0, torch.zeros((), dtype=x.dtype), lo - 2 * n / x * hi)
    return hi


for _cls, _fn in _ELEMENTWISE.items():
    register(_cls, elementwise(_fn))
register(sp.Heaviside, _heaviside)
register(sp.polygamma, _polygamma)
register(sp.besseli, bessel_i)
register(F.ScaledBesselI, lambda e, g: bessel_i(e, g, scaled=True))
