"""Agreement tests for attention, recurrent and graph layers (rules/attention.py, recurrent.py, graph.py).

Each case derives a model with ``symbolic_torch.derive``, asserts the verification report is ok and
compares ``gradient_values()`` with this test's own ``torch.autograd.grad`` (float64, atol 1e-10),
through ``conftest.check``. End-to-end models: a GPT-style block, an LSTM over three time steps with a
loss, a two-layer GCN on a five-node graph (dense and message-passing forms).
"""
from __future__ import annotations

import math
import shutil
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from conftest import Wrap, Wrap2, adjoint, check, compare, rand
from symbolic_torch.rules._expansion import traced
from symbolic_torch.rules.attention import stacked_linear
from symbolic_torch.rules.recurrent import time_step

Case = tuple[Any, ...]  # (id, model factory, inputs factory[, pytest mark])


def cases(*rows: Case) -> Any:
    """``pytest.param(model_factory, inputs_factory, id=...)`` for each row (a 4th item is a mark)."""
    return pytest.mark.parametrize("make_model, make_inputs",
                                   [pytest.param(*row[1:3], id=row[0], marks=row[3:]) for row in rows])


def run(make_model: Callable[[], Any], make_inputs: Callable[[], tuple[Any, ...]], **kw: Any) -> Any:
    torch.manual_seed(0)
    model = make_model()
    if isinstance(model, nn.Module):
        model = model.double().eval()
    return check(model, *make_inputs(), **kw)


def step_names(d: Any) -> list[str]:
    return [s.name for s in d.steps]


# --- scaled dot-product attention -----------------------------------------------------------------

def sdpa(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return F.scaled_dot_product_attention(q, k, v)


def causal_bool(n: int, s: int) -> torch.Tensor:
    return torch.ones(n, s, dtype=torch.bool).tril()


@cases(
    ("sdpa-4d", lambda: sdpa, lambda: (rand(1, 2, 3, 4), rand(1, 2, 5, 4), rand(1, 2, 5, 3))),
    ("sdpa-3d", lambda: sdpa, lambda: (rand(2, 3, 2), rand(2, 3, 2), rand(2, 3, 4))),
    ("sdpa-causal", lambda: lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     lambda: (rand(2, 4, 3), rand(2, 4, 3), rand(2, 4, 3))),
    ("sdpa-causal-L<S", lambda: lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     lambda: (rand(1, 2, 3, 2), rand(1, 2, 5, 2), rand(1, 2, 5, 2))),
    ("sdpa-bool-mask", lambda: lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=causal_bool(3, 4)),
     lambda: (rand(2, 3, 2), rand(2, 4, 2), rand(2, 4, 3))),
    ("sdpa-float-mask-input", lambda: lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, m, scale=0.3),
     lambda: (rand(2, 3, 2), rand(2, 4, 2), rand(2, 4, 3), rand(3, 4))),
    ("sdpa-broadcast-batch", lambda: sdpa,
     lambda: (rand(2, 2, 3, 2), rand(1, 2, 4, 2), rand(2, 1, 4, 2))),
)
def test_sdpa(make_model: Any, make_inputs: Any) -> None:
    d = run(make_model, make_inputs)
    assert [s.op for s in d.steps] == ["sdpa"]


@cases(
    ("block-1-of-3", lambda: lambda x, w, b: traced(stacked_linear, x, w, b, 1, 2),
     lambda: (rand(2, 3), rand(6, 3), rand(6))),
    ("own-weight-packed-bias", lambda: lambda x, w, b: traced(stacked_linear, x, w, b, 2, 2),
     lambda: (rand(4, 2, 3), rand(2, 3), rand(6))),
    ("no-bias-1d", lambda: lambda x, w: traced(stacked_linear, x, w, None, 0, 2), lambda: (rand(3), rand(4, 3))),
)
def test_stacked_linear(make_model: Any, make_inputs: Any) -> None:
    d = run(make_model, make_inputs)
    assert [s.op for s in d.steps] == ["stacked_linear"]


def test_sdpa_causal_formula_has_iverson() -> None:
    d = run(lambda: lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
            lambda: (rand(3, 2), rand(3, 2), rand(3, 2)))
    text = str(d.steps[0].forward.rhs)
    assert "[j <= i]" in text and "[l <= i]" in text, text


# --- multi-head attention -------------------------------------------------------------------------

def mha(fn: Callable[..., Any], **kw: Any) -> Callable[[], nn.Module]:
    return lambda: Wrap(fn, attn=nn.MultiheadAttention(4, 2, **kw))


def mha2(fn: Callable[..., Any], **kw: Any) -> Callable[[], nn.Module]:
    return lambda: Wrap2(fn, attn=nn.MultiheadAttention(4, 2, **kw))


def first(out: Any) -> Any:
    return out[0]


def both(out: Any) -> Any:
    return out[0] + out[1].sum()


PAD = torch.tensor([[False, False, True], [False, False, False]])


@cases(
    ("self-batch_first-no-weights", mha(lambda m, x: first(m.attn(x, x, x, need_weights=False)), batch_first=True),
     lambda: (rand(2, 3, 4),)),
    ("self-seq_first-weights", mha(lambda m, x: both(m.attn(x, x, x)), batch_first=False),
     lambda: (rand(3, 2, 4),)),
    ("per-head-weights", mha(lambda m, x: m.attn(x, x, x, average_attn_weights=False)[1], batch_first=True),
     lambda: (rand(2, 3, 4),)),
    ("causal-hint", mha(lambda m, x: first(m.attn(x, x, x, attn_mask=nn.Transformer.generate_square_subsequent_mask(
        3, dtype=torch.float64), is_causal=True, need_weights=False)), batch_first=True), lambda: (rand(2, 3, 4),)),
    ("bool-mask+padding", mha(lambda m, x: first(m.attn(x, x, x, attn_mask=~causal_bool(3, 3), key_padding_mask=PAD)),
                              batch_first=True), lambda: (rand(2, 3, 4),)),
    ("cross-kdim-vdim", mha2(lambda m, x, y: first(m.attn(x, y, y * 2, need_weights=False)), batch_first=True,
                             kdim=3, vdim=3), lambda: (rand(2, 2, 4), rand(2, 5, 3))),
    ("float-mask-input-no-bias", mha2(lambda m, x, a: first(m.attn(x, x, x, attn_mask=a)), batch_first=True, bias=False),
     lambda: (rand(2, 3, 4), rand(3, 3))),
    ("unbatched", mha(lambda m, x: first(m.attn(x, x, x, need_weights=False)), batch_first=True),
     lambda: (rand(3, 4),)),
)
def test_multihead_attention(make_model: Any, make_inputs: Any) -> None:
    d = run(make_model, make_inputs)
    names = step_names(d)
    assert {"attn_q", "attn_k", "attn_v", "attn_out"} <= set(names), names


# --- GPT-style block ------------------------------------------------------------------------------

class ManualLayerNorm(nn.Module):
    """LayerNorm over the last dim written in elementwise ops (until the table has nn.LayerNorm)."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(1 + 0.1 * torch.randn(n))
        self.bias = nn.Parameter(0.1 * torch.randn(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu = x.mean(dim=-1, keepdim=True)
        var = ((x - mu) ** 2).mean(dim=-1, keepdim=True)
        return (x - mu) * torch.rsqrt(var + 1e-5) * self.weight + self.bias


class Block(nn.Module):
    """x + attn(ln1(x)) (causal), then x + MLP(ln2(x)) with GELU."""

    def __init__(self, e: int = 4, heads: int = 2, norm: type = nn.LayerNorm, sdpa: bool = False) -> None:
        super().__init__()
        self.ln1, self.ln2, self.sdpa, self.heads = norm(e), norm(e), sdpa, heads
        if sdpa:
            self.qkv = nn.ModuleList([nn.Linear(e, e) for _ in range(3)])
            self.proj = nn.Linear(e, e)
        else:
            self.attn = nn.MultiheadAttention(e, heads, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(e, 2 * e), nn.GELU(), nn.Linear(2 * e, e))

    def attend(self, x: torch.Tensor) -> torch.Tensor:
        if not self.sdpa:
            mask = nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
            return self.attn(x, x, x, attn_mask=mask, is_causal=True, need_weights=False)[0]
        q, k, v = (lin(x).unflatten(-1, (self.heads, -1)).transpose(1, 2) for lin in self.qkv)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).flatten(-2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attend(self.ln1(x))
        return x + self.mlp(self.ln2(x))


@pytest.mark.parametrize("sdpa", [False, True], ids=["MultiheadAttention", "sdpa"])
def test_gpt_block_manual_layernorm(sdpa: bool) -> None:
    d = run(lambda: Block(norm=ManualLayerNorm, sdpa=sdpa), lambda: (rand(2, 3, 4),),
            loss=nn.MSELoss(), target=rand(2, 3, 4))
    assert any(s.op == "sdpa" for s in d.steps) and any(s.op == "gelu" for s in d.steps)


def test_gpt_block() -> None:
    run(lambda: Block(), lambda: (rand(2, 3, 4),), loss=nn.MSELoss(), target=rand(2, 3, 4))


# --- recurrent cells ------------------------------------------------------------------------------

class Unrolled(nn.Module):
    """A cell applied over the time steps x1, x2, … (the state starts at torch's default, zeros)."""

    def __init__(self, cell: nn.Module, head: nn.Module | None = None) -> None:
        super().__init__()
        self.cell, self.head = cell, head

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, x3: torch.Tensor) -> torch.Tensor:
        state = None
        for x in (x1, x2, x3):
            state = self.cell(x) if state is None else self.cell(x, state)
        h = state[0] if isinstance(state, tuple) else state
        return h if self.head is None else self.head(h)


@cases(
    ("RNNCell-tanh", lambda: Wrap2(lambda m, x, h: m.cell(x, h), cell=nn.RNNCell(3, 4)), lambda: (rand(2, 3), rand(2, 4))),
    ("RNNCell-relu-h0", lambda: Wrap(lambda m, x: m.cell(x), cell=nn.RNNCell(3, 4, nonlinearity="relu")),
     lambda: (rand(2, 3),)),
    ("RNNCell-unbatched-nobias", lambda: Wrap2(lambda m, x, h: m.cell(x, h), cell=nn.RNNCell(3, 2, bias=False)),
     lambda: (rand(3), rand(2))),
    ("LSTMCell-state", lambda: Wrap2(lambda m, x, h: sum(m.cell(x, (h, h * 0.5))), cell=nn.LSTMCell(3, 2)),
     lambda: (rand(2, 3), rand(2, 2))),
    ("LSTMCell-h0", lambda: Wrap(lambda m, x: m.cell(x)[1], cell=nn.LSTMCell(2, 3, bias=False)), lambda: (rand(2, 2),)),
    ("GRUCell-state", lambda: Wrap2(lambda m, x, h: m.cell(x, h), cell=nn.GRUCell(3, 2)), lambda: (rand(2, 3), rand(2, 2))),
    ("GRUCell-h0-unbatched", lambda: Wrap(lambda m, x: m.cell(x), cell=nn.GRUCell(2, 3)), lambda: (rand(2),)),
)
def test_cells(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


def test_lstm_cell_gates_are_steps() -> None:
    d = run(lambda: Wrap(lambda m, x: m.cell(x)[0], cell=nn.LSTMCell(2, 3)), lambda: (rand(2, 2),))
    assert step_names(d) == ["cell_i_in", "cell_i", "cell_f_in", "cell_f", "cell_g_in", "cell_g", "cell_o_in",
                             "cell_o", "cell_fc", "cell_ig", "cell_c", "cell_tanh_c", "cell_h"]
    assert [d[f"cell_{g}"].op for g in "ifgo"] == ["sigmoid", "sigmoid", "tanh", "sigmoid"]
    forget = d["cell_f_in"]
    assert "W[j + 3, m]" in str(forget.forward.rhs)  # the forget gate's block of weight_ih
    assert "(i >= 3) & (i <= 5)" in str(forget.gradients["weight_ih"].rhs)  # … the gradient lands in its rows


def test_lstm_three_steps_with_loss() -> None:
    """Backpropagation through time: 3 steps of LSTMCell, a linear head, cross-entropy."""
    d = run(lambda: Unrolled(nn.LSTMCell(2, 3), nn.Linear(3, 2)), lambda: (rand(2, 2), rand(2, 2), rand(2, 2)),
            loss=nn.CrossEntropyLoss(), target=torch.tensor([1, 0]))
    names = step_names(d)
    for t in ("", "_1", "_2"):
        assert all(f"cell_{g}{t}" in names for g in ("i_in", "i", "f", "g", "o", "c", "h")), names
    assert d.has_loss and d.steps[-1].seeded


def test_gru_three_steps() -> None:
    run(lambda: Unrolled(nn.GRUCell(2, 2)), lambda: (rand(1, 2), rand(1, 2), rand(1, 2)))


# --- recurrent layers: unrolled over time (concrete shapes from capture.example_value) -------------------


class Seq(nn.Module):
    def __init__(self, rnn: nn.Module, which: str = "output") -> None:
        super().__init__()
        self.rnn, self.which = rnn, which

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, state = self.rnn(x)
        if self.which == "output":
            return out
        h = state[0] if isinstance(state, tuple) else state
        return h


def test_time_step() -> None:
    d = run(lambda: lambda x: traced(time_step, x, 1) * 2, lambda: (rand(3, 2, 2),))
    assert str(d.steps[0].forward.rhs) == "x[1, s, m]"


@cases(
    ("RNN", lambda: Seq(nn.RNN(2, 3)), lambda: (rand(3, 2, 2),)),
    ("LSTM-h_n", lambda: Seq(nn.LSTM(2, 3), "h"), lambda: (rand(3, 2, 2),)),
    ("GRU-batch_first", lambda: Seq(nn.GRU(2, 3, batch_first=True)), lambda: (rand(2, 3, 2),)),
    ("LSTM-2layer-bidirectional", lambda: Seq(nn.LSTM(2, 2, num_layers=2, bidirectional=True)),
     lambda: (rand(2, 1, 2),)),
    ("GRU-unbatched", lambda: Seq(nn.GRU(2, 2), "h"), lambda: (rand(3, 2),)),
    ("LSTM-state-batch_first", lambda: Wrap2(lambda m, x, h: m.rnn(x, (h, 0.5 * h))[0], rnn=nn.LSTM(2, 2, batch_first=True)),
     lambda: (rand(2, 3, 2), rand(1, 2, 2))),
    ("RNN-relu-2layer-state", lambda: Wrap2(lambda m, x, h: m.rnn(x, h)[1], rnn=nn.RNN(2, 2, 2, nonlinearity="relu")),
     lambda: (rand(3, 1, 2), rand(2, 1, 2))),
)
def test_recurrent_layers(make_model: Any, make_inputs: Any) -> None:
    d = run(make_model, make_inputs)
    assert d.capture_method == "torch.fx"


@pytest.mark.parametrize("make_model, make_inputs", [
    pytest.param(lambda: nn.LSTM(2, 3), lambda: (rand(3, 2, 2),), id="LSTM"),
    pytest.param(lambda: nn.GRU(2, 2, num_layers=2, bidirectional=True, batch_first=True),
                 lambda: (rand(2, 3, 2), rand(4, 2, 2)), id="GRU-bidirectional-h0"),
    pytest.param(lambda: nn.RNN(2, 3, nonlinearity="relu"), lambda: (rand(2, 2),), id="RNN-unbatched"),
])
def test_recurrent_layer_handed_over_alone(make_model: Any, make_inputs: Any) -> None:
    """The layer is the model itself: still unrolled by fx, its parameters keep their names."""
    torch.manual_seed(0)
    model, inputs = make_model().double(), make_inputs()
    out, h = model(*inputs)
    gs = [torch.randn_like(t) for t in (out, *(h if isinstance(h, tuple) else (h,)))]
    d = st.derive(model, *inputs, grad_output=gs)
    assert d.capture_method == "torch.fx" and d.report is not None and d.report.ok, str(d.report)
    got = d.gradient_values()
    out, h = model(*[x.requires_grad_() for x in inputs])
    params = dict(model.named_parameters())
    ref = torch.autograd.grad([out, *(h if isinstance(h, tuple) else (h,))], list(params.values()), gs)
    compare(got, dict(zip(params, ref)))


class EmbedLSTM(nn.Module):
    """A module runs before the LSTM's expansion asks for a concrete size (example_value runs
    the embedding in a sandbox while fx is tracing)."""

    def __init__(self) -> None:
        super().__init__()
        self.emb, self.rnn, self.head = nn.Embedding(9, 3), nn.LSTM(3, 4, batch_first=True), nn.Linear(4, 9)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(idx))
        return self.head(h)


def test_language_model_lstm_with_sequence_loss() -> None:
    torch.manual_seed(0)
    d = st.derive(EmbedLSTM().double(), torch.randint(0, 9, (2, 3)), target=torch.randint(0, 9, (2, 3)),
                  loss=lambda logits, t: F.cross_entropy(logits.reshape(-1, 9), t.reshape(-1)))
    assert d.capture_method == "torch.fx" and d.report is not None and d.report.ok, str(d.report)
    assert "emb.weight" in d.gradient_values()


def test_nn_transformer_inside_a_model() -> None:
    """nn.Transformer has no rule: its layers are traced into (torch.export, since its fast-path
    checks branch on tensors), each projection, norm and attention a step."""
    torch.manual_seed(0)
    inner = nn.Transformer(d_model=4, nhead=2, num_encoder_layers=1, num_decoder_layers=1,
                           dim_feedforward=4, dropout=0.0, batch_first=True)
    # squared before the sum: the sum of a LayerNorm output over its own axis is constant in its input
    model = Wrap2(lambda m, a, b: m.t(a, b).pow(2).sum(-1), t=inner).double()
    d = check(model, rand(1, 3, 4), rand(1, 2, 4))
    assert len(d.steps) > 50


# --- graph networks -------------------------------------------------------------------------------

EDGES = torch.tensor([[0, 1, 1, 2, 3, 4, 0], [1, 0, 2, 1, 4, 3, 3]])  # source row, target row; 5 nodes


def dense_adjacency() -> torch.Tensor:
    a = torch.zeros(5, 5, dtype=torch.float64)
    a[EDGES[1], EDGES[0]] = 1.0
    return a


def normalized(a: torch.Tensor) -> torch.Tensor:
    """D^{-1/2}(A + I)D^{-1/2}, in ops the rule table has."""
    a_hat = a + torch.eye(a.shape[0], dtype=a.dtype)
    d = a_hat.sum(dim=1).pow(-0.5)
    return d.unsqueeze(1) * a_hat * d.unsqueeze(0)


class DenseGCN(nn.Module):
    """Two GCN layers, H' = Â H W, with Â a constant buffer or computed from an input A."""

    def __init__(self) -> None:
        super().__init__()
        self.l1, self.l2 = nn.Linear(3, 4), nn.Linear(4, 2)
        self.register_buffer("a", dense_adjacency())

    def layers(self, x: torch.Tensor, a_norm: torch.Tensor) -> torch.Tensor:
        return a_norm @ self.l2(torch.relu(a_norm @ self.l1(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x, normalized(self.a))


class DenseGCN2(DenseGCN):
    """The adjacency is an input, so Â and its gradient are derived too."""

    def forward(self, x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return self.layers(x, normalized(a))


class MessageGCN(nn.Module):
    """The same two layers by message passing: gather x[src]·norm_e, scatter-add into dst."""

    def __init__(self, scatter: str = "index_add") -> None:
        super().__init__()
        self.l1, self.l2 = nn.Linear(3, 4), nn.Linear(4, 2)
        self.scatter = scatter
        loops = torch.arange(5)
        self.register_buffer("src", torch.cat([EDGES[0], loops]))
        self.register_buffer("dst", torch.cat([EDGES[1], loops]))
        deg = torch.zeros(5, dtype=torch.float64).index_add_(0, self.dst, torch.ones(12, dtype=torch.float64))
        self.register_buffer("norm", (deg[self.src] * deg[self.dst]).pow(-0.5).unsqueeze(1))

    def propagate(self, h: torch.Tensor) -> torch.Tensor:
        msg = h.index_select(0, self.src) * self.norm
        if self.scatter == "index_add":
            return torch.zeros(5, msg.shape[1], dtype=torch.float64).index_add_(0, self.dst, msg)
        index = self.dst.unsqueeze(1).expand(-1, msg.shape[1])
        return torch.zeros(5, msg.shape[1], dtype=torch.float64).scatter_add(0, index, msg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.propagate(self.l2(torch.relu(self.propagate(self.l1(x)))))


@cases(
    ("dense-constant-adjacency", lambda: DenseGCN(), lambda: (rand(5, 3),)),
    ("dense-adjacency-input", lambda: DenseGCN2(), lambda: (rand(5, 3), dense_adjacency() + 0.1 * rand(5, 5).abs())),
    ("message-passing-index_add", lambda: MessageGCN("index_add"), lambda: (rand(5, 3),)),
)
def test_gcn_two_layers(make_model: Any, make_inputs: Any) -> None:
    d = run(make_model, make_inputs, loss=nn.MSELoss(), target=rand(5, 2))
    assert d.steps[-1].seeded


def test_message_passing_equals_dense() -> None:
    """One function, two graphs (Â H W densely; gather, scale, scatter-add): symbolic_torch derives
    the same output and the same gradients for both."""
    torch.manual_seed(0)
    dense, sparse = DenseGCN().double(), MessageGCN().double()
    sparse.load_state_dict(dense.state_dict(), strict=False)
    x, g = rand(5, 3), adjoint((5, 2))
    dd, ds = st.derive(dense, x, grad_output=g), st.derive(sparse, x, grad_output=g)
    assert dd.report is not None and dd.report.ok and ds.report is not None and ds.report.ok
    assert {s.op for s in ds.steps} >= {"index_select", "index_add"} and "index_add" not in {s.op for s in dd.steps}
    torch.testing.assert_close(dd.values[dd.outputs[0]], ds.values[ds.outputs[0]], atol=1e-12, rtol=0)
    got_dense, got_sparse = dd.gradient_values(), ds.gradient_values()
    assert sorted(got_dense) == sorted(got_sparse)
    for name in got_dense:
        torch.testing.assert_close(got_dense[name], got_sparse[name], atol=1e-10, rtol=0, msg=name)


IDX = torch.tensor([0, 2, 2, 1, 0])


@cases(
    ("index_add-dim0", lambda: lambda x, s: x.index_add(0, IDX, s), lambda: (rand(3, 2), rand(5, 2))),
    ("index_add-dim1-alpha", lambda: lambda x, s: torch.index_add(x, 1, IDX, s, alpha=2.0), lambda: (rand(2, 3), rand(2, 5))),
    ("index_add_-inplace", lambda: lambda x, s: x.clone().index_add_(0, IDX, s), lambda: (rand(3, 2), rand(5, 2))),
    ("index_add-1d", lambda: lambda x, s: x.index_add(0, IDX, s), lambda: (rand(3), rand(5))),
    ("scatter_add", lambda: lambda x, s: x.scatter_add(0, torch.tensor([[0, 1], [2, 2], [1, 0]]), s),
     lambda: (rand(3, 2), rand(3, 2))),
    ("scatter_add-small-index", lambda: lambda x, s: torch.scatter_add(x, 1, torch.tensor([[0, 2], [1, 1]]), s),
     lambda: (rand(3, 3), rand(2, 2))),
    ("scatter_add_-message-gcn", lambda: MessageGCN("scatter_add"), lambda: (rand(5, 3),)),
    ("index_select-dim0", lambda: lambda x: x.index_select(0, IDX), lambda: (rand(3, 2),)),
    ("index_select-dim1", lambda: lambda x: torch.index_select(x, 1, IDX), lambda: (rand(2, 3),)),
    ("index_select-1d", lambda: lambda x: x.index_select(0, IDX), lambda: (rand(3),)),
)
def test_index_ops(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


def test_index_add_gradient_is_a_gather() -> None:
    d = run(lambda: lambda x, s: x.index_add(0, IDX, s), lambda: (rand(3, 2), rand(5, 2)))
    assert str(d.steps[0].gradients["source"].rhs) == "Sum([Eq(I[e], i)]*ḡ[i, f], (i, 0, 2))"


# --- rendering ------------------------------------------------------------------------------------

@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
                    reason="TeX toolchain not installed (scripts/setup.sh installs it)")
def test_recurrent_pdf(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = Wrap2(lambda m, x, h: m.cell(x, m.cell(x, h)), cell=nn.GRUCell(2, 2)).double()
    d = check(model, rand(1, 2), rand(1, 2))
    pdf = d.to_pdf(tmp_path / "gru.pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for needle in ("cell_r_in (gate_input)", "cell_n_1 (tanh)", "cell_h_1 (add)", "verified against autograd"):
        assert needle in text, needle
    assert math.isfinite(d.report.max_abs_error)
