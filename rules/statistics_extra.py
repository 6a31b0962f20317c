"""Covariance, correlation and quantiles.

cov and corrcoef are sums over the observations, frequency weights a constant. A quantile
interpolates between two order statistics: which elements they are is the run's sort (a
constant, as for sort and median in rules/selection.py); the interpolation weight is the
formula's, q·(n − 1) − ⌊·⌋, so a q given as a tensor gets its gradient too.
"""
from __future__ import annotations

from typing import Any

import sympy as sp
import torch

from symbolic_torch.frontend.call import Call, Operand
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import dim as norm_dim
from symbolic_torch.rules._vocab import is_tensor


# ---------------------------------------------------------------- cov, corrcoef
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
