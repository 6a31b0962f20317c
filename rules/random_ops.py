"""Random ops: the run's draws replayed from the RNG state the node saw and shown as constants.

Alpha dropout (SELU networks) keeps a draw m ∈ {0, 1} per element (per channel for the feature
form) and maps x to a·(m·x + α·(m + p − 1)), so dropped units sit at SELU's negative saturation
and mean and variance are kept. ``normal`` and ``bernoulli`` are draws: torch passes no gradient
through them (normal is not reparameterised), so their outputs are constants of the run.
Each replay is checked against the run's output; where it does not reproduce it, the op is refused.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names

SELU_ALPHA = 1.7580993408473766  # −λα of SELU: the value a dropped unit is set to, before the affine fix-up


def _value(v: Any) -> Any:
    return v.value if isinstance(v, TensorArg) else v


def replayed(call: Call, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> torch.Tensor:
    """``fn(*args)`` under the node's RNG state, refused unless it reproduces the run's output."""
    out = call.replay(fn, *[_value(a) for a in args], **{k: _value(v) for k, v in kwargs.items()})
    if not (isinstance(out, torch.Tensor) and out.shape == call.out_value.shape
            and torch.equal(out.to(call.out_value.dtype), call.out_value)):
        raise NotImplementedError(f"{what}: replaying the node's RNG state does not reproduce the run's draws "
                                  "(the generator was not the default CPU one, or it was used elsewhere)")
    return out


def alpha_dropout_rule(name: str, fn: Any, feature: bool) -> None:
    """Register alpha dropout: y = x (eval, p = 0); y = a·(m·x + α·(m + p − 1)) in train mode, m the run's draws."""
    def impl(call: Call, input: Any, p: float = 0.5, training: bool = False, inplace: bool = False) -> sp.Expr:
        x = call.operand(input, "input", "x")
        idx = call.out(*names(x.ndim, [], pool="nijklm"))
        read = x[idx] if idx else x[()]
        if not training or p == 0 or x.value.numel() == 0:
            return read
        if p == 1:  # torch returns x·0: every unit dropped to 0, no gradient
            replayed(call, name, fn, input, p, True)
            return sp.S.Zero * read
        replayed(call, name, fn, input, p, True)
        b = call.replay(fn, torch.zeros_like(x.value), p, True)  # 0·noise + b: the shift alone
        mask = (b > 0).to(torch.float64)  # b = αa·p where kept, αa·(p − 1) < 0 where dropped
        a = 1 / math.sqrt((SELU_ALPHA ** 2 * p + 1) * (1 - p))
        if feature and x.ndim > 2:
            spatial = x.ndim - 2
            per_channel = mask[(...,) + (0,) * spatial]
            if torch.equal(per_channel[(...,) + (None,) * spatial].expand_as(mask), mask):
                mask, idx = per_channel, idx[:2]
        m = call.operand(mask, "mask", "m")
        mi = m[idx] if idx else m[()]
        return call.scalar(a) * (mi * read + call.scalar(SELU_ALPHA) * (mi + call.scalar(p) - 1))
    impl.__doc__ = ("y = x (eval); y = a·(m·x + α·(m + p − 1)) in train mode, m ∈ {0, 1} the run's draws"
                    + (" per (n, c)" if feature else "") + ", a = ((α²p + 1)(1 − p))^{−1/2}, α = 1.7581.")
    rule(name, functions=[fn], latex=r"\operatorname{AlphaDropout}")(impl)


alpha_dropout_rule("alpha_dropout", F.alpha_dropout, feature=False)
alpha_dropout_rule("feature_alpha_dropout", F.feature_alpha_dropout, feature=True)


def _drawn(call: Call, symbol: str, draws: torch.Tensor) -> sp.Expr:
    n = call.operand(draws, "draws", symbol)
    idx = call.out(*names(len(call.out_shape), [], pool="ijklmn"))
    return n[idx] if idx else n[()]


@rule("normal", functions=[torch.normal], latex=r"\mathcal{N}")
def normal(call: Call, mean: Any, std: Any = 1.0, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[i…] = N[i…], the run's draws of μ + σ·ε: a constant (torch's normal passes no gradient to μ or σ)."""
    draws = replayed(call, "normal", torch.normal, mean, std, *args, **kwargs)
    call.notes.append(r"N = \mu + \sigma\,\varepsilon,\ \varepsilon \sim \mathcal{N}(0, 1)"
                      r"\text{ (the run's draws; torch.normal passes no gradient to } \mu, \sigma)")
    return _drawn(call, "N", draws)


@rule("bernoulli", functions=[torch.bernoulli], methods=["bernoulli"], latex=r"\operatorname{Bernoulli}")
def bernoulli(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[i…] = B[i…] ∈ {0, 1}, the run's draws with P(1) = p: a constant (no gradient)."""
    draws = replayed(call, "bernoulli", torch.bernoulli, input, *args, **kwargs)
    return _drawn(call, "B", draws)
