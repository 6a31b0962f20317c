"""Recurrent layers, gate by gate: RNN/LSTM/GRU cells and the sequence layers unrolled over time.

Every gate is two steps: its input, the textbook affine formula, e.g. for the LSTM input gate
``y[s, j] = Σ_m W[j, m]·x[s, m] + b[j] + Σ_m U[j, m]·h[s, m] + d[j]`` where ``W``, ``U``, ``b``, ``d``
are torch's packed ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh`` read at the gate's block of
rows (``W[H + j, m]`` for the forget gate), then its activation (σ, tanh). The state updates
(``c = f⊙c + i⊙g``, ``h = o⊙tanh c``) are elementwise steps, so backpropagation through time is
visible step by step. Steps are named after the module, the role and the time step
(``lstm_i_in_t0``, ``lstm_i_t0``, ``lstm_c_t0``, …; ``l1r_`` marks layer 1's reverse direction).

nn.RNN/LSTM/GRU are unrolled over the input's time steps, so the expansion needs the input's
concrete shape while tracing (``_expansion.concrete_shape``).
"""
from __future__ import annotations

from typing import Any, Callable

import sympy as sp
import torch
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import expansion, rule

from symbolic_torch.rules._expansion import concrete_shape, named, prefix, traced
from symbolic_torch.rules._vocab import names
from symbolic_torch.rules.attention import stacked_linear, stacked_linear_formula

ACTIVATIONS: dict[str, Callable[[Any], Any]] = {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": torch.relu}


def gate_input(input: torch.Tensor, hx: torch.Tensor, weight_ih: torch.Tensor, weight_hh: torch.Tensor,
               bias_ih: torch.Tensor | None, bias_hh: torch.Tensor | None, block: int, size: int,
               reset: torch.Tensor | None) -> torch.Tensor:
    """W_k x + b_k + r ⊙ (U_k h + d_k) with block k of the packed weights (r = 1 except GRU's n gate)."""
    hh = stacked_linear(hx, weight_hh, bias_hh, block, size)
    if reset is not None:
        hh = reset * hh
    return stacked_linear(input, weight_ih, bias_ih, block, size) + hh


@rule("gate_input", functions=[gate_input], latex=r"\operatorname{gate\,input}")
def gate_input_rule(call: Call, input: Any, hx: Any, weight_ih: Any, weight_hh: Any, bias_ih: Any, bias_hh: Any,
                    block: int, size: int, reset: Any) -> sp.Expr:
    """y[s, j] = Σ_m W[kH + j, m]·x[s, m] + b[kH + j] + r[s, j]·(Σ_m U[kH + j, m]·h[s, m] + d[kH + j])."""
    x = call.operand(input, "input", "x")
    h = call.operand(hx, "hx", "h")
    w = call.operand(weight_ih, "weight_ih", "W")
    u = call.operand(weight_hh, "weight_hh", "U")
    b = call.operand(bias_ih, "bias_ih", "b") if bias_ih is not None else None
    d = call.operand(bias_hh, "bias_hh", "d") if bias_hh is not None else None
    r = call.operand(reset, "reset", "r") if reset is not None else None
    idx = call.out(*names(len(call.out_shape), ["j"], pool="s"))
    m = sp.Symbol("m", integer=True)
    hidden = stacked_linear_formula(call, h, u, d, block, size, idx, m)
    if r is not None:
        hidden = call.broadcast(r) * hidden
    return stacked_linear_formula(call, x, w, b, block, size, idx, m) + hidden


def zero_state(shape: torch.Size, dtype: torch.dtype, size: int) -> torch.Tensor:
    """The default initial state: zeros of shape (*shape[:-1], size)."""
    return torch.zeros((*shape[:-1], size), dtype=dtype)


def time_step(input: torch.Tensor, t: int) -> torch.Tensor:
    """``input[t]``: one time step of a (L, N, ·) sequence, or one layer of a stacked state."""
    return input[t]


@rule("time_step", functions=[time_step], latex=r"\operatorname{step}")
def time_step_rule(call: Call, input: Any, t: int) -> sp.Expr:
    """y[…] = x[t, …]."""
    x = call.operand(input, "input", "x")
    idx = call.out(*names(len(call.out_shape), ["m"], pool="s"))
    return x[(sp.Integer(t), *idx)]


# -- cells: one time step -----------------------------------------------------------------------

Weights = tuple[Any, Any, Any, Any]  # weight_ih, weight_hh, bias_ih, bias_hh
Namer = Callable[[str], str]  # a step's role ("i", "c") → its node name ("lstm_i_t0")


def _gate(x: Any, h: Any, w: Weights, block: int, size: int, act: str, letter: str, nm: Namer,
          reset: Any = None) -> Any:
    """Gate ``letter``: its input (one step, the affine part) and its activation (a second step)."""
    z = named(traced(gate_input, x, h, *w, block, size, reset), nm(f"{letter}_in"))
    return named(ACTIVATIONS[act](z), nm(letter))


def rnn_step(x: Any, h: Any, w: Weights, size: int, act: str, nm: Namer) -> Any:
    """h' = act(W x + b + U h + d)."""
    return _gate(x, h, w, 0, size, act, "h", nm)


def lstm_step(x: Any, h: Any, c: Any, w: Weights, size: int, nm: Namer) -> tuple[Any, Any]:
    """i, f, g, o gates; c' = f⊙c + i⊙g; h' = o⊙tanh(c')."""
    i, f, g, o = (_gate(x, h, w, k, size, act, letter, nm)
                  for k, (letter, act) in enumerate(zip("ifgo", ("sigmoid", "sigmoid", "tanh", "sigmoid"))))
    c2 = named(named(f * c, nm("fc")) + named(i * g, nm("ig")), nm("c"))
    h2 = named(o * named(torch.tanh(c2), nm("tanh_c")), nm("h"))
    return h2, c2


def gru_step(x: Any, h: Any, w: Weights, size: int, nm: Namer) -> Any:
    """r, z gates; n = tanh(W_n x + b_n + r⊙(U_n h + d_n)); h' = (1 − z)⊙n + z⊙h."""
    r = _gate(x, h, w, 0, size, "sigmoid", "r", nm)
    z = _gate(x, h, w, 1, size, "sigmoid", "z", nm)
    n = _gate(x, h, w, 2, size, "tanh", "n", nm, reset=r)
    keep = named(named(1 - z, nm("1mz")) * n, nm("new"))
    return named(keep + named(z * h, nm("old")), nm("h"))


def _namer(tag: str, suffix: str = "") -> Namer:
    return lambda role: f"{tag}{role}{suffix}"


def _initial(x: Any, size: int) -> Any:
    """torch's default state, zeros: a constant (it reads only x's shape and dtype)."""
    return traced(zero_state, x.shape, x.dtype, size)


def _cell_weights(m: nn.Module, suffix: str = "") -> Weights:
    return tuple(getattr(m, f"{kind}{suffix}", None)  # type: ignore[return-value]
                 for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"))


@expansion(nn.RNNCell)
def rnn_cell(m: nn.RNNCell, input: Any, hx: Any = None) -> Any:
    """h' = tanh(W x + b + U h + d) (or ReLU), one step."""
    h = _initial(input, m.hidden_size) if hx is None else hx
    return rnn_step(input, h, _cell_weights(m), m.hidden_size, m.nonlinearity, _namer(f"{prefix(m, input)}_"))


@expansion(nn.LSTMCell)
def lstm_cell(m: nn.LSTMCell, input: Any, hx: Any = None) -> tuple[Any, Any]:
    """(h', c') of one LSTM step, gate by gate."""
    h, c = (_initial(input, m.hidden_size),) * 2 if hx is None else hx
    return lstm_step(input, h, c, _cell_weights(m), m.hidden_size, _namer(f"{prefix(m, input)}_"))


@expansion(nn.GRUCell)
def gru_cell(m: nn.GRUCell, input: Any, hx: Any = None) -> Any:
    """h' of one GRU step, gate by gate."""
    h = _initial(input, m.hidden_size) if hx is None else hx
    return gru_step(input, h, _cell_weights(m), m.hidden_size, _namer(f"{prefix(m, input)}_"))


# -- sequence layers: unrolled over the input's time steps ----------------------------------------

@expansion(nn.RNN, nn.LSTM, nn.GRU)
def recurrent_layer(m: nn.RNNBase, input: Any, hx: Any = None) -> tuple[Any, Any]:
    """(output, h_n) — or (output, (h_n, c_n)) for LSTM — unrolled: layer by layer, step by step."""
    shape = concrete_shape(input)
    if shape is None:
        raise NotImplementedError(
            f"{type(m).__name__} is unrolled over the input's time steps, which needs the input's "
            "shape while tracing (a Proxy without an example value was given)")
    if m.proj_size:
        raise NotImplementedError("LSTM with proj_size")
    if m.dropout and m.training and m.num_layers > 1:
        raise NotImplementedError("dropout between recurrent layers in training mode (call model.eval())")
    batched = len(shape) == 3
    seq = input if batched else input.unsqueeze(1)
    if m.batch_first and batched:
        seq = seq.transpose(0, 1)  # (L, N, I)
    steps = shape[1] if m.batch_first and batched else shape[0]
    lstm = isinstance(m, nn.LSTM)
    h0, c0 = (hx if lstm else (hx, None)) if hx is not None else (None, None)
    if h0 is not None and not batched:
        h0, c0 = h0.unsqueeze(1), None if c0 is None else c0.unsqueeze(1)
    pre, dirs = prefix(m, input), 2 if m.bidirectional else 1
    xs = [named(traced(time_step, seq, t), f"{pre}_x_t{t}") for t in range(steps)]
    finals = []
    for layer in range(m.num_layers):
        outs = []
        for rev in range(dirs):
            k = layer * dirs + rev
            tag = f"{pre}_" + (f"l{layer}{'r' if rev else ''}_" if m.num_layers > 1 or rev else "")
            init = [None if s is None else named(traced(time_step, s, k), f"{tag}{n}0")
                    for s, n in ((h0, "h"), (c0, "c"))]
            seq_out, final = _direction(m, xs, init, _cell_weights(m, f"_l{layer}{'_reverse' if rev else ''}"),
                                        tag, reverse=bool(rev))
            outs.append(seq_out)
            finals.append(final)
        xs = outs[0] if dirs == 1 else [named(torch.cat(pair, dim=-1), f"{pre}_l{layer}_out_t{t}")
                                        for t, pair in enumerate(zip(*outs))]
    output = named(torch.cat([x.unsqueeze(0) for x in xs], dim=0), f"{pre}_output")
    h_n = named(torch.cat([f[0].unsqueeze(0) for f in finals], dim=0), f"{pre}_h_n")
    c_n = named(torch.cat([f[1].unsqueeze(0) for f in finals], dim=0), f"{pre}_c_n") if lstm else None
    if m.batch_first and batched:
        output = output.transpose(0, 1)
    if not batched:
        output, h_n = output.squeeze(1), h_n.squeeze(1)
        c_n = c_n.squeeze(1) if lstm else None
    return output, ((h_n, c_n) if lstm else h_n)


def _direction(m: nn.RNNBase, xs: list[Any], init: list[Any], w: Weights, tag: str,
               reverse: bool) -> tuple[list[Any], tuple[Any, Any]]:
    """One layer in one direction: the outputs per time step (in time order) and the final state."""
    size = m.hidden_size
    h = init[0] if init[0] is not None else named(_initial(xs[0], size), f"{tag}h0")
    c = init[1] if init[1] is not None else (named(_initial(xs[0], size), f"{tag}c0")
                                             if isinstance(m, nn.LSTM) else None)
    outs: list[Any] = [None] * len(xs)
    for t in (reversed(range(len(xs))) if reverse else range(len(xs))):
        nm = _namer(tag, f"_t{t}")
        if isinstance(m, nn.LSTM):
            h, c = lstm_step(xs[t], h, c, w, size, nm)
        elif isinstance(m, nn.GRU):
            h = gru_step(xs[t], h, w, size, nm)
        else:
            h = rnn_step(xs[t], h, w, size, m.nonlinearity, nm)
        outs[t] = h
    return outs, (h, c)
