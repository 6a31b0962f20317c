"""The handout's pieces, without compiling: golden strings for the sentence, the output-size
formula, the summary table and the 1/N of a mean loss; the graph layout; the worked-element
choice and the adjoint trace, each checked against the run's own numbers."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from symbolic_torch.printing.adjoint_trace import adjoint_reads, trace
from symbolic_torch.printing.formulas import forward_element, forward_latex
from symbolic_torch.printing.model_table import summary_rows, summary_table, total_params
from symbolic_torch.printing.notation import index_letters, notation_latex
from symbolic_torch.printing.sentences import sentence
from symbolic_torch.printing.sizes import size_lines, window_line
from symbolic_torch.printing.step_section import trace_latex
from symbolic_torch.printing.worked_choice import choose, largest, spec_for

FLOOR = r"H_{\mathrm{out}} = \left\lfloor (H + 2P - D\,(K - 1) - 1) / S \right\rfloor + 1 = "


def test_sentences_golden(tiny: st.Derivation) -> None:
    assert sentence(tiny["conv1"]) == ("A 2-D convolution: each output element is the bias plus a weighted sum over "
                                       "1 input channel and a 3×3 window, stride 1, padding 0.")
    assert sentence(tiny["pool"]) == ("Max pooling: each output element is the largest input in its 2×2 window of "
                                      "one channel, stride 2, padding 0.")
    assert sentence(tiny["fc"]) == ("A fully connected (linear) layer: each of the 10 outputs is the bias plus a "
                                    "weighted sum of the 36 input features.")
    assert sentence(tiny["loss"]).endswith("averaged over the N = 1 term (reduction 'mean').")


def test_sentence_reads_functional_settings() -> None:
    w = torch.randn(4, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    d = st.derive(lambda x: F.conv2d(x, w, stride=2, padding=1, dilation=2), torch.randn(1, 3, 9, 9, dtype=torch.float64),
                  verify=False)
    assert sentence(d.steps[0]) == ("A 2-D convolution: each output element is a weighted sum over 3 input channels "
                                    "and a 3×3 window, stride 2, padding 1, dilation 2.")


def test_size_formula_golden(tiny: st.Derivation) -> None:
    assert size_lines(tiny["conv1"])[0] == FLOOR + r"\left\lfloor (8 + 2 \cdot 0 - 1 \cdot (3 - 1) - 1) / 1 \right\rfloor + 1 = 6"
    assert size_lines(tiny["pool"])[1].endswith(r"\left\lfloor (6 + 2 \cdot 0 - 1 \cdot (2 - 1) - 1) / 2 \right\rfloor + 1 = 3")
    assert size_lines(tiny["flatten"]) == [r"1 \times 4 \times 3 \times 3 \;\to\; 1 \times 36, \quad 4 \cdot 3 \cdot 3 = 36"]
    assert size_lines(tiny["fc"]) == [r"1 \times 36 \;\to\; 1 \times 10, \quad F_{\mathrm{in}} = 36 \;\to\; F_{\mathrm{out}} = 10"]
    assert size_lines(tiny["loss"]) == [r"1 \times 10 \;\to\; \text{scalar}, \quad \text{the mean over } N = 1"]
    assert size_lines(tiny["relu"]) == []


@pytest.mark.parametrize("k,s,p,dil,ceil", [(3, 2, 1, 1, False), (3, 1, 2, 2, False), (2, 2, 0, 1, True),
                                            (3, 3, 1, 1, True), (5, 2, 2, 1, False)])
def test_size_formula_agrees_with_torch(k: int, s: int, p: int, dil: int, ceil: bool) -> None:
    """Each layer's formula must give the size torch produced, or it is not shown at all."""
    x = torch.randn(1, 2, 11, 10, dtype=torch.float64)
    conv = nn.Conv2d(2, 3, k, s, p, dil).double()
    pool = nn.MaxPool2d(k, s, min(p, k // 2), dil, ceil_mode=ceil)
    d = st.derive(nn.Sequential(conv, pool), x, verify=False)
    for step in d.steps:
        lines = size_lines(step)
        assert len(lines) == 2, (step.name, lines)
        assert [int(l.rsplit("= ", 1)[1]) for l in lines] == list(step.out_shape[2:])


def test_a_formula_that_misses_the_size_is_not_shown() -> None:
    assert window_line("H", 8, 3, 1, 0, 1, False, 6) is not None
    assert window_line("H", 8, 3, 1, 0, 1, False, 7) is None
    assert window_line("W", 7, 2, 2, 0, None, True, 4) == (r"W_{\mathrm{out}} = \left\lceil (W + 2P - K) / S \right\rceil + 1"
                                                          r" = \left\lceil (7 + 2 \cdot 0 - 2) / 2 \right\rceil + 1 = 4")


def test_summary_table_golden(tiny: st.Derivation) -> None:
    rows = summary_rows(tiny)
    assert [(r.name, r.op, r.shape, r.params) for r in rows] == [
        ("conv1", "conv", (1, 4, 6, 6), 40), ("relu", "relu", (1, 4, 6, 6), 0), ("pool", "max_pool", (1, 4, 3, 3), 0),
        ("flatten", "reshape", (1, 36), 0), ("fc", "linear", (1, 10), 370), ("loss", "cross_entropy", (), 0)]
    table = summary_table(tiny)
    assert r"0 & conv1 & conv & $1 \times 4 \times 6 \times 6$ & 40 \\" in table
    assert r"5 & loss & cross\_entropy & scalar & -- \\" in table
    assert r"& \multicolumn{3}{l}{total (6 steps)} & 410 \\" in table


def test_total_counts_a_shared_parameter_once() -> None:
    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.lin(self.lin(x)).sum()
    model = Twice().double()
    d = st.derive(model, torch.randn(2, 3, dtype=torch.float64), verify=False)
    assert [r.params for r in summary_rows(d)][:2] == [12, 12]
    assert total_params(d) == 12 == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("loss,target,n", [(nn.CrossEntropyLoss(), torch.tensor([1]), "1"),
                                           (nn.CrossEntropyLoss(), torch.tensor([1, 0, 4]), "3"),
                                           (nn.NLLLoss(), torch.tensor([2, 0, 4]), "3"),
                                           (nn.MSELoss(), torch.zeros(3, 5, dtype=torch.float64), "15")])
def test_mean_loss_shows_its_one_over_n(loss: nn.Module, target: torch.Tensor, n: str) -> None:
    lin = nn.Linear(4, 5).double()
    d = st.derive(lin, torch.randn(len(target), 4, dtype=torch.float64), loss=loss, target=target, verify=False)
    step = d.steps[-1]
    assert forward_latex(step).startswith(rf"L = \frac{{1}}{{{n}}} \sum_{{n=0}}^")
    e = forward_element(step, ())
    assert e.formula_latex.startswith(rf"\frac{{1}}{{{n}}} \sum") and e.numbers_latex.startswith(rf"\frac{{1}}{{{n}}} ")
    with torch.no_grad():
        expected = float(loss(lin(d.values[d.inputs["input"]]), target))
    assert e.value == pytest.approx(expected, abs=1e-12)


def test_sum_loss_has_no_one_over_n() -> None:
    lin = nn.Linear(4, 5).double()
    d = st.derive(lin, torch.randn(3, 4, dtype=torch.float64), loss=nn.MSELoss(reduction="sum"),
                  target=torch.zeros(3, 5, dtype=torch.float64), verify=False)
    assert r"\frac{1}" not in forward_latex(d.steps[-1])


def test_default_worked_elements_are_the_largest(tiny: st.Derivation) -> None:
    for step in tiny.steps:
        c = choose(step)
        if c.key is None:
            continue
        contrib = tiny.chain.contributions[(step.name, c.key)]
        assert abs(step.grad_at(c.key, c.backward).value) == pytest.approx(float(contrib.abs().max()), rel=1e-12)
        assert step.grad_at(c.key, c.backward).value != 0
        adj = tiny.adjoints[step.output]
        assert abs(float(adj[c.forward])) == float(adj.abs().max())
    assert choose(tiny["conv1"]).key == "weight" and choose(tiny["relu"]).key == "input"


def test_largest_is_first_and_falls_back_to_the_middle() -> None:
    t = torch.tensor([[0.0, -3.0], [3.0, 1.0]])
    assert largest(t, (2, 2)) == (0, 1)
    assert largest(torch.zeros(3, 4), (3, 4)) == (1, 2)
    assert largest(None, (5,)) == (2,)


def test_positions_choose_the_elements(tiny: st.Derivation) -> None:
    c = choose(tiny["conv1"], spec_for(tiny["conv1"], {"conv1": {"forward": (0, 0, 4, 4), "input": (0, 0, 3, 3)}}))
    assert (c.forward, c.key, c.backward) == ((0, 0, 4, 4), "input", (0, 0, 3, 3))
    assert spec_for(tiny["relu"], (0, 1, 2, 3)) == (0, 1, 2, 3)
    assert spec_for(tiny["fc"], (0, 1, 2, 3)) is None  # one position for all: only where it fits
    assert spec_for(tiny["relu"], {"conv1": (0, 0, 0, 0)}) is None
    with pytest.raises(KeyError, match="no gradient 'wieght'.*'weight'"):
        choose(tiny["conv1"], {"wieght": (0, 0, 0, 0)})


def test_trace_sums_what_each_reader_added() -> None:
    """h = tanh(x) is read by two steps: its ḡ is the sum of both gradients' contributions."""
    def f(x: torch.Tensor) -> torch.Tensor:
        h = torch.tanh(x)
        return (h * h.sum(1, keepdim=True) + h).sum()
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    d = st.derive(f, x.detach())
    tanh = d.steps[0]
    t = trace(tanh, (1, 2))
    assert len(t.sources) == 3  # mul reads h, sum reads h, add reads h
    assert sum(s.value for s in t.sources) == pytest.approx(t.value, abs=1e-14)
    h = torch.tanh(x)
    h.retain_grad()
    f_out = (h * h.sum(1, keepdim=True) + h).sum()
    f_out.backward()
    assert t.value == pytest.approx(float(h.grad[1, 2]), abs=1e-12)
    assert " = " in trace_latex(tanh, (1, 2)) and "of sum" in trace_latex(tanh, (1, 2))


def test_reads_are_the_adjoints_the_worked_element_shows(tiny: st.Derivation) -> None:
    c = choose(tiny["fc"])
    reads = adjoint_reads(tiny["fc"], c.key, c.backward)
    assert reads == [(0, c.backward[0])]  # ∂L/∂W[o, i] = Σ_n x[n, i]·ḡ[n, o] with one sample
    line = trace_latex(tiny["fc"], reads[0])
    assert line.startswith(r"$\bar{g}_{0,%d} = " % c.backward[0]) and "of loss" in line
    assert adjoint_reads(tiny["relu"], "input", (0, 0, 4, 2)) == [(0, 0, 4, 2)]


def test_notation_lists_the_index_letters(tiny: st.Derivation) -> None:
    assert index_letters(tiny) == ["c", "i", "j", "k", "l", "n", "o", "p", "q"]
    text = notation_latex(tiny)
    assert r"$n$ & the sample in the batch \\" in text and "Iverson" in text and "terms" in text


def test_sentences_for_normalization_pooling_and_transposed_conv() -> None:
    net = nn.Sequential(nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1), nn.BatchNorm2d(3), nn.AdaptiveAvgPool2d(2)).double()
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64)
    train = st.derive(net.train(), x, verify=False)
    assert sentence(train.steps[0]) == ("A 2-D transposed convolution: each input element adds a weighted copy of the "
                                        "3×3 kernel into the output, stride 2, padding 1; each output element sums "
                                        "what lands on it, plus the bias.")
    assert "mean and variance of this batch" in sentence(train.steps[1])
    assert sentence(train.steps[2]) == ("Adaptive average pooling: each output element is the mean of its channel over "
                                        "one of 2×2 regions that tile the 5×5 input.")
    assert size_lines(train.steps[0])[0].endswith(r"= (3 - 1) \cdot 2 - 2 \cdot 1 + 1 \cdot (3 - 1) + 0 + 1 = 5")
    evaluated = st.derive(net.eval(), x, verify=False)
    assert "running mean and variance (evaluation mode)" in sentence(evaluated.steps[1])
    w = torch.ones(3, dtype=torch.float64, requires_grad=True)
    fn = st.derive(lambda x: F.batch_norm(x, None, None, w, training=True), torch.randn(4, 3, dtype=torch.float64),
                   verify=False)
    assert "mean and variance of this batch" in sentence(fn.steps[0])


def test_sentences_for_embedding_layer_norm_dropout() -> None:
    m = nn.Sequential(nn.Embedding(5, 4), nn.LayerNorm(4), nn.Dropout(0.25)).double()
    x = torch.tensor([[1, 2, 3]])
    train = st.derive(m.train(), x, verify=False)
    assert sentence(train.steps[0]).startswith("An embedding lookup: each index picks one row of the 5×4 weight table")
    assert sentence(train.steps[1]).startswith("Layer normalization: each element minus the mean")
    assert sentence(train.steps[2]).startswith("Dropout: each element is zeroed with probability 0.25")
    assert sentence(st.derive(m.eval(), x, verify=False).steps[2]).startswith("Dropout in evaluation mode")
