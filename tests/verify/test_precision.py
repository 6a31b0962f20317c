"""Precision-aware verification: each check at the tolerance of the dtype torch computed it in."""
from __future__ import annotations

import pytest
import sympy as sp
import torch
from torch import nn
from torch.nn import functional as F

import symbolic_torch as st
from symbolic_torch.autodiff.chain import chain
from symbolic_torch.numeric.tolerances import for_dtype
from symbolic_torch.verify import precision

FLOAT32 = "computed by torch in float32: float32 tolerance"


class Attention(nn.Module):
    """ViT's eager attention in miniature: a float64 model whose softmax torch takes in float32."""

    def __init__(self) -> None:
        super().__init__()
        self.q = nn.Linear(4, 4)
        self.v = nn.Linear(4, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scores = self.q(x) @ x.transpose(-1, -2)
        weights = F.softmax(scores, dim=-1, dtype=torch.float32).to(x.dtype)
        return weights @ self.v(x)


def _derive(verify: bool = True) -> st.Derivation:
    torch.manual_seed(0)
    model = Attention().double()
    x, t = torch.randn(2, 3, 4, dtype=torch.float64), torch.randn(2, 3, 4, dtype=torch.float64)
    return st.derive(model, x, loss=nn.MSELoss(), target=t, verify=verify)


def _scaled(d: st.Derivation, step: str, key: str, factor: float) -> st.Derivation:
    """``d`` with one gradient formula multiplied by ``factor`` and the chain run again."""
    s = d[step]
    eq = s.gradients[key]
    s.gradients[key] = sp.Eq(eq.lhs, sp.Float(factor, 20) * eq.rhs, evaluate=False)
    d.chain = chain(d.steps, d.run.seeds)
    return d


def _row(report, name: str, key: str):
    return next(r for r in report.all_rows if r.name == name and r.key == key)


def test_a_float32_softmax_in_a_float64_model_verifies_and_says_so() -> None:
    d = _derive()
    assert d.values[d["softmax"].output].dtype == torch.float32  # the run really took it in float32
    report = d.report
    assert report.ok, str(report)
    for key in ("forward", "input"):
        assert _row(report, "softmax", key).note == FLOAT32
    assert _row(report, "to", "input").note == FLOAT32  # autograd hands a float32 operand a float32 gradient
    assert _row(report, "to", "forward").note == ""  # the cast itself is exact in float64
    assert "float32" in str(report.table(report.step_rows))
    # the gradients chained through the float32 step: as exact as float32, and the note says why
    through = {r.name: r for r in report.rows}
    assert through["q.weight"].max_rel_error > for_dtype(torch.float64).rtol  # float64's tolerance alone fails it
    assert "passes through steps computed by torch in float32 (softmax" in through["q.weight"].note
    assert through["v.weight"].note == "" and through["v.weight"].max_abs_error < 1e-10  # its path is float64


def test_a_wrong_formula_of_the_float32_step_fails() -> None:
    report = _scaled(_derive(verify=False), "softmax", "input", 1.001).verify()
    assert not report.ok
    bad = {(r.name, r.key) for r in report.failures}
    assert ("softmax", "input") in bad
    assert {"x", "q.weight", "q.bias"} <= {n for n, _ in bad}  # the end-to-end rows are not widened past float32


@pytest.mark.parametrize("step,key", [("q", "weight"), ("matmul_1", "input"), ("matmul", "other")])
def test_a_float64_step_is_still_checked_at_float64(step: str, key: str) -> None:
    """1e-8 relative is far inside float32's tolerance and far outside float64's: the float64 steps
    around the float32 softmax, before it and after its cast back, are held to 1e-10."""
    d = _derive(verify=False)
    assert precision.gradient_dtype(d, d[step], key) == torch.float64
    report = _scaled(d, step, key, 1 + 1e-8).verify()
    row = _row(report, step, key)
    assert not row.ok and row.note == "" and row.max_abs_error > for_dtype(torch.float64).atol


def test_a_float32_operand_of_a_float64_step() -> None:
    """``a64 * b32``: computed in float64; only the float32 operand's gradient is float32."""
    torch.manual_seed(1)
    a, b = torch.randn(5, dtype=torch.float64), torch.randn(5, dtype=torch.float32)
    d = st.derive(lambda a, b: a * b, a, b, grad_output=torch.randn(5, dtype=torch.float64))
    assert d.report.ok, str(d.report)
    step = d.steps[0]
    assert precision.forward_dtype(d, step) == torch.float64
    assert precision.gradient_dtype(d, step, "input") == torch.float64
    assert precision.gradient_dtype(d, step, "other") == torch.float32
    assert _row(d.report, step.name, "forward").note == "" and _row(d.report, step.name, "input").note == ""
    assert _row(d.report, step.name, "other").note == FLOAT32


def test_a_float32_model_gets_no_notes() -> None:
    """Nothing mixed, nothing to say: a float32 model is checked at float32's tolerance as before."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Softmax(-1))
    d = st.derive(model, torch.randn(5, 3))
    assert d.report.ok and not any(r.note for r in d.report.all_rows)


def test_narrowest() -> None:
    assert precision.narrowest([torch.float64, torch.float32]) == torch.float32
    assert precision.narrowest([torch.float16, torch.bfloat16]) == torch.bfloat16
    assert precision.narrowest([torch.int64]) is None
