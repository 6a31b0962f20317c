"""MACs and parameters read off forward formulas, reconciled with fvcore and FlopCounterMode."""
from __future__ import annotations

import math

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import sdpa_flop_count

import symbolic_torch as st
from symbolic_torch.analysis.counting import Cost, domain, step_cost, step_macs, step_params

try:
    from references import counter_flops, fvcore_macs
except ImportError:  # tests/analysis as a package
    from .references import counter_flops, fvcore_macs


def _derive(model, *xs):
    return st.derive(model, *xs, verify=False)


def _macs(d) -> int:
    return sum(step_macs(s) for s in d)


def test_conv_of_the_issue():
    """Conv2d(3, 64, 7, stride 2, padding 3, no bias) on 1×3×224×224: 9,408 params, 118,013,952 MACs."""
    m = nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)
    x = torch.randn(1, 3, 224, 224)
    d = _derive(m, x)
    assert (step_params(d[0]), step_macs(d[0])) == (9408, 118_013_952)
    assert fvcore_macs(m, x) == {"conv": 118_013_952}
    assert counter_flops(m, x) == 2 * 118_013_952


@pytest.mark.parametrize("m, shape", [
    (nn.Conv2d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), (2, 4, 9, 9)),
    (nn.Conv1d(3, 5, 4, padding=1), (2, 3, 10)),
    (nn.ConvTranspose2d(2, 3, 3, stride=2), (1, 2, 4, 3)),
    (nn.ConvTranspose1d(4, 2, 5, stride=3, groups=2), (2, 4, 6)),
])
def test_convolutions_match_fvcore_and_flop_counter(m, shape):
    x = torch.randn(*shape, dtype=torch.float64)
    m = m.double()
    macs = _macs(_derive(m, x))
    assert {"conv": macs} == fvcore_macs(m, x)
    assert 2 * macs == counter_flops(m, x)


class LinearAlgebra(nn.Module):
    """Linear (with bias), matmul with a parameter, bmm and a broadcast matmul."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(5, 6)
        self.p = nn.Parameter(torch.randn(6, 4))
        self.q = nn.Parameter(torch.randn(3, 4, 2))

    def forward(self, x):
        h = torch.relu(self.fc(x)) @ self.p          # (3, 7, 4)
        return torch.bmm(h, self.q) + torch.matmul(h, self.q[0]).sum()


def test_linear_matmul_bmm_match_fvcore_and_flop_counter():
    m = LinearAlgebra().double()
    x = torch.randn(3, 7, 5, dtype=torch.float64)
    d = _derive(m, x)
    by_op = {s.op: step_macs(s) for s in d if step_macs(s)}
    assert by_op["linear"] == 3 * 7 * 6 * 5
    ref = fvcore_macs(m, x)
    assert _macs(d) == sum(ref.values())
    assert 2 * _macs(d) == counter_flops(m, x)


class Einsums(nn.Module):
    """A contraction with a parameter and a batched one: bij,jk→bik and bij,bkj→bik."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.randn(4, 5))

    def forward(self, x):
        return torch.einsum("bij,jk->bik", x, self.w).sum() + torch.einsum("bij,bkj->bik", x, x).mean()


def test_einsum_matches_fvcore_and_flop_counter():
    m = Einsums().double()
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    macs = _macs(_derive(m, x))
    assert macs == 2 * 3 * 4 * 5 + 2 * 3 * 3 * 4
    assert macs == sum(fvcore_macs(m, x).values())
    assert 2 * macs == counter_flops(m, x)


class Attention(nn.Module):
    """Single-head self-attention written out: projections, QKᵀ/√d, softmax, ·V, output projection."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = self.qkv(x).chunk(3, dim=-1)
        w = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1]), dim=-1)
        return self.out(w @ v)


def test_attention_matches_fvcore_and_flop_counter():
    m = Attention().double()
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    macs = _macs(_derive(m, x))
    assert macs == 2 * 5 * (8 * 24 + 5 * 8 + 5 * 8 + 8 * 8)
    assert macs == sum(fvcore_macs(m, x).values())
    assert 2 * macs == counter_flops(m, x)


def test_sdpa_counts_both_contractions_as_flop_counter_does():
    """One index formula for softmax(QKᵀ/√d)·V: its MACs are QKᵀ's and (softmax)·V's, once each
    (the scores in the numerator and the denominator are one computation)."""
    q, k, v = (torch.randn(2, 3, 4, 5, dtype=torch.float64) for _ in range(3))
    d = _derive(lambda q, k, v: F.scaled_dot_product_attention(q, k, v), q, k, v)
    assert 2 * step_macs(d[0]) == sdpa_flop_count(q.shape, k.shape, v.shape)
    # exp once per score, the scale once per score, L-1 additions per row, one division per output
    assert step_cost(d[0]).ops == 2 * 3 * 4 * 4 * 2 + 2 * 3 * 4 * 3 + 2 * 3 * 4 * 5


def test_other_ops_are_counted_once_per_value():
    x = torch.randn(3, 4, dtype=torch.float64)
    mean = _derive(lambda x: x.mean(1), x)[0]
    assert (step_cost(mean).macs, step_cost(mean).ops) == (0, 3 * 3 + 3)  # 3 adds and one scale per row
    assert step_cost(_derive(lambda x: torch.sigmoid(x), x)[0]).ops == 3 * 12  # 1/(1 + exp(−x))
    soft = step_cost(_derive(lambda x: torch.softmax(x, 1), x)[0])
    assert (soft.macs, soft.ops) == (0, 12 + 3 * 3 + 12)  # exp once, 3 adds per row, a division each


def test_products_and_window_maxima_are_reductions():
    x = torch.randn(3, 4, dtype=torch.float64)
    assert step_cost(_derive(lambda x: torch.prod(x, 1), x)[0]) == Cost(0, 3 * 3)  # 3 multiplies per row
    pool = _derive(lambda x: F.max_pool1d(x.unsqueeze(0), 2), x)[-1]
    assert step_cost(pool) == Cost(0, 3 * 2)  # one comparison per window of two


def test_training_norm_counts_its_sum_of_squares():
    m = nn.LayerNorm(4, elementwise_affine=False).double()
    c = step_cost(_derive(m, torch.randn(3, 4, dtype=torch.float64))[0])
    assert c.macs == 3 * 4  # Σ x² per row


def test_params_count_once_per_reading_step_and_frozen_ones_count():
    m = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)).double()
    m[1].bias.requires_grad_(False)
    d = _derive(m, torch.randn(2, 4, dtype=torch.float64))
    assert [step_params(s) for s in d] == [15, 8]


def test_domain_counts_triangles_and_brackets():
    i, j, k = sp.symbols("i j k", integer=True)
    zero = sp.S.Zero
    assert domain({i, j}, {i: (zero, sp.Integer(3)), j: (zero, i)}) == 10
    assert domain({i, j}, {i: (zero, sp.Integer(6)), j: (zero, sp.Integer(2))}, [sp.Eq(sp.Mod(i - j, 2), 0)]) == 11
    assert domain({k}, {k: (zero, sp.Integer(4)), i: (zero, sp.Integer(9))}) == 5
