"""Elementwise math functions, y[i…] = f(x[i…]): one line each, derivatives by sympy."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.frontend.registry import rule

from symbolic_torch.ir.functions import Ceiling, Floor, Ndtr, Round, Sign, Trunc
from symbolic_torch.rules._vocab import unary

SQRT2 = sp.sqrt(2)


def fn(f: Any) -> Any:
    """``f(x)`` as a unary builder that takes no hyperparameters."""
    return lambda x, c, *a, **k: f(x)


# y = sin x, cos x, tan x, asin x, acos x, atan x and the hyperbolic ones
for _name, _f, _alias in [("sin", sp.sin, None), ("cos", sp.cos, None), ("tan", sp.tan, None),
                          ("asin", sp.asin, torch.arcsin), ("acos", sp.acos, torch.arccos),
                          ("atan", sp.atan, torch.arctan), ("sinh", sp.sinh, None), ("cosh", sp.cosh, None),
                          ("asinh", sp.asinh, torch.arcsinh), ("acosh", sp.acosh, torch.arccosh),
                          ("atanh", sp.atanh, torch.arctanh)]:
    unary(_name, fn(_f), functions=[getattr(torch, _name)] + ([_alias] if _alias else []), methods=[_name],
          latex=rf"\{_name}" if _name in ("sin", "cos", "tan", "sinh", "cosh") else rf"\operatorname{{{_name}}}")

# y = erf x, erfc x, erf⁻¹ x
unary("erf", fn(sp.erf), functions=[torch.erf, torch.special.erf], methods=["erf"], latex=r"\operatorname{erf}")
unary("erfc", fn(sp.erfc), functions=[torch.erfc, torch.special.erfc], methods=["erfc"], latex=r"\operatorname{erfc}")
unary("erfinv", fn(sp.erfinv), functions=[torch.erfinv, torch.special.erfinv], methods=["erfinv"],
      latex=r"\operatorname{erf}^{-1}")
# y = eˣ − 1, log(1 + x), log₂ x, log₁₀ x, 2ˣ
unary("expm1", fn(lambda x: sp.exp(x) - 1), functions=[torch.expm1, torch.special.expm1], methods=["expm1"],
      latex=r"\operatorname{expm1}")
unary("log1p", fn(lambda x: sp.log(1 + x)), functions=[torch.log1p, torch.special.log1p], methods=["log1p"],
      latex=r"\operatorname{log1p}")
unary("log2", fn(lambda x: sp.log(x) / sp.log(2)), functions=[torch.log2], methods=["log2"], latex=r"\log_2")
unary("log10", fn(lambda x: sp.log(x) / sp.log(10)), functions=[torch.log10], methods=["log10"], latex=r"\log_{10}")
unary("exp2", fn(lambda x: 2 ** x), functions=[torch.exp2, torch.special.exp2], methods=["exp2"], latex="2^{x}")
# y = 1/x, x², π/180·x, 180/π·x
unary("reciprocal", fn(lambda x: 1 / x), functions=[torch.reciprocal], methods=["reciprocal"], latex="1/x")
unary("square", fn(lambda x: x ** 2), functions=[torch.square], methods=["square"], latex="x^2")
unary("deg2rad", fn(lambda x: x * sp.pi / 180), functions=[torch.deg2rad], methods=["deg2rad"],
      latex=r"\operatorname{deg2rad}")
unary("rad2deg", fn(lambda x: x * 180 / sp.pi), functions=[torch.rad2deg], methods=["rad2deg"],
      latex=r"\operatorname{rad2deg}")
# y = x: the identity ops of a real tensor (its conjugate, its real part, +x, a cast)
unary("alias", lambda x, c, *a, **k: x,
      functions=[torch.positive, torch.conj, torch.conj_physical, torch.resolve_conj, torch.resolve_neg, torch.real,
                 torch.alias_copy],
      methods=["positive", "conj", "conj_physical", "resolve_conj", "resolve_neg", "half", "bfloat16"],
      latex=r"\operatorname{id}")

# step functions: ∂ = 0 (x − trunc x keeps ∂ = 1)
unary("floor", fn(Floor), functions=[torch.floor], methods=["floor"], latex=r"\lfloor\cdot\rfloor")
unary("ceil", fn(Ceiling), functions=[torch.ceil], methods=["ceil"], latex=r"\lceil\cdot\rceil")
unary("trunc", fn(Trunc), functions=[torch.trunc, torch.fix], methods=["trunc", "fix"], latex=r"\operatorname{trunc}")
unary("frac", fn(lambda x: x - Trunc(x)), functions=[torch.frac], methods=["frac"], latex=r"\operatorname{frac}")
unary("sign", fn(Sign), functions=[torch.sign, torch.sgn], methods=["sign", "sgn"], latex=r"\operatorname{sign}")
unary("angle", fn(lambda x: sp.Piecewise((sp.pi, x < 0), (0, True))), functions=[torch.angle], methods=["angle"],
      latex=r"\operatorname{angle}")


def round_(x: sp.Expr, c: Call, *a: Any, decimals: int = 0, **k: Any) -> sp.Expr:
    """y = round(x·10ᵈ)/10ᵈ, half to even."""
    if a:
        decimals = a[0]
    scale = sp.Integer(10) ** decimals
    return Round(x * scale) / scale if decimals else Round(x)


unary("round", round_, functions=[torch.round], methods=["round"], latex=r"\operatorname{round}")


def logit(x: sp.Expr, c: Call, eps: Any = None, *a: Any, **k: Any) -> sp.Expr:
    """y = log(z/(1 − z)), z = x clamped to [ε, 1 − ε] when ε is given."""
    if eps is not None:
        lo, hi = c.scalar(eps), 1 - c.scalar(eps)
        x = sp.Piecewise((lo, x < lo), (hi, x > hi), (x, True))
    return sp.log(x / (1 - x))


unary("logit", logit, functions=[torch.logit, torch.special.logit], methods=["logit"], latex=r"\operatorname{logit}")


def nan_to_num(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = x (for a finite x; NaN and ±∞ would be replaced)."""
    if not bool(torch.isfinite(c.operands[0].value).all()):
        raise NotImplementedError("nan_to_num of a tensor with NaN or ±inf")
    return x


unary("nan_to_num", nan_to_num, functions=[torch.nan_to_num], methods=["nan_to_num"], latex=r"\operatorname{nan\_to\_num}")


def sinc(x: sp.Expr, c: Call, *a: Any, **k: Any) -> sp.Expr:
    """y = sin(πx)/(πx), 1 at x = 0."""
    return sp.Piecewise((1, sp.Eq(x, 0)), (sp.sin(sp.pi * x) / (sp.pi * x), True))


unary("sinc", sinc, functions=[torch.sinc, torch.special.sinc], methods=["sinc"], latex=r"\operatorname{sinc}")

# Gaussian CDF and friends: Φ(x), log Φ(x), Φ⁻¹(p) = √2·erf⁻¹(2p − 1), eˣ²·erfc x
unary("ndtr", fn(Ndtr), functions=[torch.special.ndtr], latex=r"\Phi")
unary("log_ndtr", fn(lambda x: sp.log(Ndtr(x))), functions=[torch.special.log_ndtr],
      latex=r"\log\Phi")
unary("ndtri", fn(lambda x: SQRT2 * sp.erfinv(2 * x - 1)), functions=[torch.special.ndtri], latex=r"\Phi^{-1}")
unary("erfcx", fn(lambda x: sp.exp(x ** 2) * sp.erfc(x)), functions=[torch.special.erfcx],
      latex=r"\operatorname{erfcx}")
# y = log|Γ(x)|, ψ(x) = (log Γ)'(x)
unary("lgamma", fn(sp.loggamma), functions=[torch.lgamma, torch.special.gammaln], methods=["lgamma"],
      latex=r"\log\Gamma")
unary("digamma", fn(lambda x: sp.polygamma(0, x)), functions=[torch.digamma, torch.special.digamma, torch.special.psi],
      methods=["digamma"], latex=r"\psi")


def mvlgamma(x: sp.Expr, c: Call, p: int = 1, *a: Any, **k: Any) -> sp.Expr:
    """y = p(p−1)/4·log π + Σ_{j<p} log Γ(x − j/2)."""
    p = k.get("p", p)
    return sp.Rational(p * (p - 1), 4) * sp.log(sp.pi) + sp.Add(*[sp.loggamma(x - sp.Rational(j, 2)) for j in range(p)])


unary("mvlgamma", mvlgamma, functions=[torch.mvlgamma, torch.special.multigammaln], methods=["mvlgamma"],
      latex=r"\log\Gamma_p")


@rule("polygamma", functions=[torch.polygamma, torch.special.polygamma], methods=["polygamma"], latex=r"\psi^{(n)}")
def polygamma(call: Call, n: Any, input: Any) -> sp.Expr:
    """y = ψ⁽ⁿ⁾(x), the n-th derivative of the digamma function."""
    if isinstance(n, TensorArg):  # the method form x.polygamma(n)
        n, input = input, n
    x = call.operand(input, "input", "x")
    call.default_out()
    return sp.polygamma(int(n), call.broadcast(x))


@rule("vander", functions=[torch.linalg.vander], latex=r"\operatorname{vander}")
def vander(call: Call, x: Any, *, N: int | None = None) -> sp.Expr:
    """y[…, i, j] = x[…, i]^j (increasing powers, as linalg.vander)."""
    v = call.operand(x, "x", "x")
    idx = call.default_out()
    base = v[tuple(idx[-1 - v.ndim:-1])] if v.ndim else v[()]  # a 0-d x is one row
    return base ** idx[-1]
