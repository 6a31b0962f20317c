"""Random ops: the run's draws replayed from the RNG state the node saw and shown as constants.

Dropout keeps the run's mask m (0 or 1/(1−p), one value per channel for the feature forms) and
is y = m·x in train mode, y = x in eval mode. Alpha dropout (SELU networks) keeps a draw m ∈ {0, 1} per element (per channel for the feature
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
from torch import nn

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


# ---------------------------------------------------------------- dropout
def dropout_rule(name: str, fn: Any, module: type, spatial: int) -> None:
    """Register dropout: y = x in eval mode; y = m·x in train mode, m the run's mask (0 or 1/(1−p)).

    ``spatial`` > 0 for feature dropout (``dropout2d``): one mask value per (n, c), read as m[n, c].
    """
    def impl(call: Call, input: Any, p: float = 0.5, training: bool = True, inplace: bool = False) -> sp.Expr:
        if call.module is not None:
            p, training = call.module.p, call.module.training
        x = call.operand(input, "input", "x")
        idx = call.out(*names(x.ndim, [], pool="nijklm"))
        read = x[idx] if idx else x[()]
        if not training or p == 0:
            return read
        mask = call.replay(fn, torch.ones_like(x.value), p, True)  # the same draws as the run
        if spatial and x.ndim > spatial:
            per_channel = mask[(...,) + (0,) * spatial]
            if torch.equal(per_channel[(...,) + (None,) * spatial].expand_as(mask), mask):
                m = call.operand(per_channel, "mask", "m")
                return m[idx[: x.ndim - spatial]] * read
        m = call.operand(mask, "mask", "m")
        return (m[idx] if idx else m[()]) * read
    impl.__doc__ = "y = x (eval); y = m·x in train mode, m the run's mask (0 or 1/(1−p)), a constant."
    rule(name, functions=[fn], modules=[module], latex=r"\operatorname{Dropout}")(impl)


dropout_rule("dropout", F.dropout, nn.Dropout, 0)
dropout_rule("dropout1d", F.dropout1d, nn.Dropout1d, 1)
dropout_rule("dropout2d", F.dropout2d, nn.Dropout2d, 2)
dropout_rule("dropout3d", F.dropout3d, nn.Dropout3d, 3)
