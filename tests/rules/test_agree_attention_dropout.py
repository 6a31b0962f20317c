"""Attention dropout in train mode: F.scaled_dot_product_attention(dropout_p > 0) and nn.MultiheadAttention(dropout > 0).

The run's dropout mask is replayed from the RNG state the call saw and shown as a constant operand;
autograd replays the same seed, so it draws the same mask.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from conftest import Wrap, adjoint, assert_closed, compare, rand


def check_random(model: Any, *inputs: torch.Tensor, seed: int = 5, zero_gradient_ok: str = "") -> st.Derivation:
    """Derive (verify included) and compare every gradient with autograd run under the same seed."""
    torch.manual_seed(seed)
    with torch.no_grad():
        shape = model(*inputs).shape
    g = adjoint(shape, 1)
    torch.manual_seed(seed)
    d = st.derive(model, *inputs, grad_output=g)
    assert d.report is not None and d.report.ok, str(d.report)
    assert_closed(d)
    torch.manual_seed(seed)
    leaves = [x.clone().requires_grad_(True) for x in inputs]
    params = dict(model.named_parameters()) if isinstance(model, nn.Module) else {}
    grads = torch.autograd.grad(model(*leaves), [*leaves, *params.values()], g, allow_unused=True)
    # out_proj is unused (None) when only the weights are returned
    ref = {n: r for n, r in zip([*d.input_names, *params], grads) if r is not None}
    compare(d.gradient_values(), ref, zero_gradient_ok)
    return d


def attn(**kw: Any) -> Callable[..., torch.Tensor]:
    return lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw)


SDPA = [
    ("3d", attn(dropout_p=0.4), ((2, 3, 4), (2, 5, 4), (2, 5, 3))),
    ("4d-causal", attn(dropout_p=0.3, is_causal=True), ((1, 2, 4, 3), (1, 2, 4, 3), (1, 2, 4, 2))),
    ("bool-mask-scale", attn(dropout_p=0.5, scale=0.4, attn_mask=torch.ones(3, 4, dtype=torch.bool).tril()),
     ((2, 3, 2), (2, 4, 2), (2, 4, 3))),
    ("float-mask-broadcast", attn(dropout_p=0.2, attn_mask=torch.linspace(-1, 1, 12).double().reshape(3, 4)),
     ((2, 2, 3, 2), (1, 2, 4, 2), (2, 1, 4, 2))),
    ("2d", attn(dropout_p=0.6), ((3, 2), (4, 2), (4, 2))),
]


@pytest.mark.parametrize("f, shapes", [pytest.param(f, s, id=n) for n, f, s in SDPA])
def test_sdpa_dropout(f: Callable[..., torch.Tensor], shapes: tuple[tuple[int, ...], ...]) -> None:
    torch.manual_seed(0)
    d = check_random(f, *(rand(*s) for s in shapes))
    (step,) = d.steps
    mask = step.operand("dropout_mask")
    assert mask.source is None and not mask.differentiable  # a constant of the run
    assert 0.0 in mask.value.unique().tolist() or mask.value.numel() < 4
    assert "D[" in str(step.forward.rhs)


def test_sdpa_dropout_formula() -> None:
    torch.manual_seed(0)
    d = check_random(attn(dropout_p=0.5), rand(2, 3, 4), rand(2, 5, 4), rand(2, 5, 3))
    assert str(d.steps[0].forward.rhs) == (
        "Sum(exp(Sum(K[b, j, e]*Q[b, i, e], (e, 0, 3))/2)*D[b, i, j]*V[b, j, d], (j, 0, 4))"
        "/Sum(exp(Sum(K[b, l, e]*Q[b, i, e], (e, 0, 3))/2), (l, 0, 4))")
    assert set(d.steps[0].operand("dropout_mask").value.unique().tolist()) <= {0.0, 2.0}


def test_sdpa_dropout_mask_that_does_not_replay_is_refused() -> None:
    """Where replaying the RNG state does not give the run's output, the rule refuses rather than guess."""
    from symbolic_torch.frontend.call import Call, TensorArg
    from symbolic_torch.rules.attention import dropout_mask
    q = rand(2, 3, 4)
    torch.manual_seed(3)
    out = F.scaled_dot_product_attention(q, q, q, dropout_p=0.5)
    call = Call("sdpa", "sdpa", None, None, out)
    call.rng_state = torch.random.get_rng_state()  # not the state the run saw
    arg = TensorArg(q, "q", True, 0)
    with pytest.raises(NotImplementedError, match="cannot be replayed"):
        dropout_mask(call, arg, arg, arg, None, 0.5, False, None)


MHA = [
    ("weights-batch_first", lambda m, x: m.attn(x, x, x)[0] + m.attn(x, x, x)[1].sum(), dict(batch_first=True), (2, 3, 4)),
    ("no-weights-seq_first", lambda m, x: m.attn(x, x, x, need_weights=False)[0], dict(), (3, 2, 4)),
    ("per-head-weights-padding", lambda m, x: m.attn(x, x, x, average_attn_weights=False,
                                                     key_padding_mask=torch.tensor([[False, False, True],
                                                                                    [False, False, False]]))[1],
     dict(batch_first=True), (2, 3, 4)),
    ("no-weights-causal-mask", lambda m, x: m.attn(x, x, x, need_weights=False,
                                                   attn_mask=~torch.ones(3, 3, dtype=torch.bool).tril())[0],
     dict(batch_first=True), (2, 3, 4)),
]


@pytest.mark.parametrize("fn, kw, shape", [pytest.param(f, k, s, id=n) for n, f, k, s in MHA])
def test_multihead_attention_dropout(fn: Callable[..., Any], kw: dict[str, Any], shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    model = Wrap(fn, attn=nn.MultiheadAttention(4, 2, dropout=0.4, **kw)).double().train()
    d = check_random(model, rand(*shape))
    ops = [s.op for s in d.steps]
    assert "dropout" in ops or any(s.op == "sdpa" and any(o.key == "dropout_mask" for o in s.operands)
                                       for s in d.steps), ops


def test_multihead_attention_eval_has_no_dropout() -> None:
    torch.manual_seed(0)
    model = Wrap(lambda m, x: m.attn(x, x, x)[0], attn=nn.MultiheadAttention(4, 2, dropout=0.4, batch_first=True))
    d = check_random(model.double().eval(), rand(2, 3, 4))
    assert "dropout" not in [s.op for s in d.steps]
