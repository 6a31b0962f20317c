"""Verification: wrong formulas are caught, reported per tensor, and never shown as right."""
from __future__ import annotations

import sympy as sp
import torch
from torch import nn

import symbolic_torch as st


def _tampered() -> st.Derivation:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    d = st.derive(model, torch.randn(5, 3, dtype=torch.float64), verify=False)
    eq = d[0].gradients["weight"]
    d[0].gradients["weight"] = sp.Eq(eq.lhs, 2 * eq.rhs, evaluate=False)  # plant a wrong factor 2
    from symbolic_torch.pipeline import chain
    d.adjoints = chain(d.steps, d.values, d.meta["seeds"])
    return d


def test_report_rows_and_default_verification() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh()).double()
    d = st.derive(model, torch.randn(5, 3, dtype=torch.float64))
    assert d.report is not None and d.report.ok  # verify=True is the default
    assert {r.name for r in d.report.rows} == {"input", "0.weight", "0.bias"}
    assert d.report.max_abs_error < 1e-10
    assert all(r.ok for r in d.report.step_rows)


def test_wrong_formula_is_flagged_everywhere() -> None:
    d = _tampered()
    report = d.verify()
    assert not report.ok
    bad = {(r.name, r.key) for r in report.failures}
    assert (d[0].name, "weight") in bad and ("0.weight", "grad") in bad
    assert ("0.bias", "grad") not in bad
    assert d[0].status("weight") == "failed" and d[0].status("bias") == "verified"
    assert "FAILED" in str(report)
    text = d.to_latex()
    assert "FAILED verification" in text
    assert r"\frac{\partial L}{\partial W_{o,i}} = 2" not in text
    assert d[0].grad_at("weight", (0, 0)).status == "failed"
