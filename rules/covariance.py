"""Covariance and correlation: sums over the observations, frequency weights a constant."""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule


def covariance(call: Call, x: Operand, f: Operand | None, a: Operand | None, correction: Any
               ) -> Any:
    """``entry(i, j)``: Σ_k w_k (x[i,k] − μ_i)(x[j,k] − μ_j) / (W − c·Σ_k w_k a_k / W), w = f·a, W = Σ_k w_k,
    μ_i = Σ_k w_k x[i,k] / W (without aweights the divisor is W − c). A 1-d x is one variable."""
    k, k1 = sp.Symbol("k", integer=True), sp.Symbol("k1", integer=True)
    m = x.shape[-1]

    def w(s: sp.Symbol) -> sp.Expr:
        return (f[s] if f is not None else 1) * (a[s] if a is not None else 1)
    total = call.sum(w(k1), (k1, m)) if a is not None else (int(f.value.sum()) if f is not None else m)
    if a is None and total - correction <= 0:
        raise NotImplementedError("the covariance's divisor W − correction is ≤ 0 (torch divides by 0)")
    divisor = total - call.scalar(correction) * (call.sum(w(k1) * a[k1], (k1, m)) / total if a is not None else 1)

    def read(i: Any, s: sp.Symbol) -> sp.Expr:
        return x[(i, s)] if x.ndim == 2 else x[s]

    def entry(i: Any, j: Any) -> sp.Expr:
        mu_i, mu_j = (call.sum(w(k1) * read(v, k1), (k1, m)) / total for v in (i, j))
        return call.sum(w(k) * (read(i, k) - mu_i) * (read(j, k) - mu_j), (k, m)) / divisor
    return entry


def cov_operands(call: Call, input: Any, fweights: Any, aweights: Any) -> tuple[Operand, Any, Any]:
    x = call.operand(input, "input", "x")
    f = call.operand(getattr(fweights, "value", fweights), "fweights", "f") if fweights is not None else None
    a = call.operand(aweights, "aweights", "a") if aweights is not None else None
    if a is not None and torch.finfo(a.value.dtype).eps > torch.finfo(x.value.dtype).eps:
        raise NotImplementedError(f"aweights in {a.value.dtype} with a {x.value.dtype} input: torch sums the "
                                  "weights in the lower precision, a rounding the formula does not model")
    return x, f, a


def pair(call: Call, x: Operand) -> tuple[Any, Any]:
    """The output's (i, j), or (0, 0) for a 0-d output (one variable)."""
    if x.ndim == 2 and x.shape[0] > 1:
        return call.out("i", "j")
    call.out()
    return sp.S.Zero, sp.S.Zero


@rule("cov", functions=[torch.cov], methods=["cov"], latex=r"\operatorname{cov}")
def cov(call: Call, input: Any, *, correction: int = 1, fweights: Any = None, aweights: Any = None) -> sp.Expr:
    """y[i, j] = Σ_k w_k (x[i,k] − μ_i)(x[j,k] − μ_j) / (W − c·Σ_k w_k a_k / W), w = f·a, W = Σ_k w_k."""
    x, f, a = cov_operands(call, input, fweights, aweights)
    i, j = pair(call, x)
    return covariance(call, x, f, a, correction)(i, j)


@rule("corrcoef", functions=[torch.corrcoef], methods=["corrcoef"], latex=r"\operatorname{corrcoef}")
def corrcoef(call: Call, input: Any) -> sp.Expr:
    """y[i, j] = C[i, j] / √(C[i, i]·C[j, j]), C the covariance (torch clips to [−1, 1]: rounding only)."""
    x = call.operand(input, "input", "x")
    i, j = pair(call, x)
    entry = covariance(call, x, None, None, 0)  # the divisor cancels
    if x.ndim < 2 or x.shape[0] == 1:  # torch's c / c: 1, or NaN where c = 0
        if bool((x.value.reshape(1, -1) == x.value.reshape(-1)[0]).all()):
            raise NotImplementedError("corrcoef of a constant row (torch's 0/0 = NaN)")
        return sp.S.One
    return entry(i, j) / sp.sqrt(entry(i, i) * entry(j, j))
