"""Verification: wrong formulas are caught, reported per tensor, and never shown as right."""
from __future__ import annotations

import dataclasses

import pytest
import sympy as sp
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.autodiff.chain import chain
from symbolic_torch.frontend.registry import WITHIN, Rule, RuleTableError, Tolerance, _validate
from symbolic_torch.frontend.table import tolerance_of
from symbolic_torch.verify.compare import compare, compare_within


def _tampered() -> st.Derivation:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    d = st.derive(model, torch.randn(5, 3, dtype=torch.float64), verify=False)
    eq = d[0].gradients["weight"]
    d[0].gradients["weight"] = sp.Eq(eq.lhs, 2 * eq.rhs, evaluate=False)  # plant a wrong factor 2
    d.chain = chain(d.steps, d.run.seeds)  # a fresh backward pass through the planted formula
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


# --- a rule's documented tolerance (torch's kernel less exact than the formula) --------------------

def _hardsigmoid() -> st.Derivation:
    torch.manual_seed(0)
    x = torch.rand(20, dtype=torch.float64) * 5 - 2.5  # inside (−3, 3): slope 1/6 everywhere
    return st.derive(lambda v: torch.nn.functional.hardsigmoid(v), x, grad_output=torch.randn(20, dtype=torch.float64) * 10,
                     verify=False)


def test_a_rule_tolerance_passes_its_documented_gap_and_says_why() -> None:
    """hardsigmoid's backward multiplies by float32(1/6): ~3e-8 relative off, passed with the reason shown."""
    report = _hardsigmoid().verify()
    assert report.ok and report.max_abs_error > 1e-10  # the gap is real: the default tolerance alone fails it
    noted = [r for r in report.rows + report.step_rows if r.note.startswith(WITHIN)]
    assert {(r.kind, r.key) for r in noted} == {("tensor", "grad"), ("step", "input")}
    assert all("float32" in r.note for r in noted)
    assert "within the rule's tolerance" in str(report)
    assert all(not r.note for r in report.step_rows if r.key == "forward")  # the forward is exact: nothing noted


def test_a_rule_tolerance_does_not_hide_a_wrong_formula() -> None:
    d = _hardsigmoid()
    eq = d[0].gradients["input"]
    d[0].gradients["input"] = sp.Eq(eq.lhs, (1 + sp.Float(1e-6)) * eq.rhs, evaluate=False)  # 1e-6 relative: too much
    d.chain = chain(d.steps, d.run.seeds)
    report = d.verify()
    assert not report.ok
    assert {(r.name, r.key) for r in report.failures} >= {(d[0].name, "input")}


def test_compare_within_widens_only_with_a_tolerance() -> None:
    ref = torch.tensor([6.0, -3.0], dtype=torch.float64)
    got = ref * (1 + 3e-8)
    plain = compare("step", "s", "k", got, ref, torch.float64)
    assert not plain.ok and compare_within(None, "step", "s", "k", got, ref, torch.float64) == plain
    wide = compare_within(Tolerance("why", rtol=2.0 ** -24), "step", "s", "k", got, ref, torch.float64)
    assert wide.ok and wide.note == WITHIN + "why"
    assert not compare_within(Tolerance("why", rtol=1e-9), "step", "s", "k", got, ref, torch.float64).ok


def test_tolerances_are_validated_and_combined() -> None:
    def entry(tol: object) -> Rule:
        return Rule("_probe", lambda call: 0, "", functions=(object(),), tolerance=tol)  # type: ignore[arg-type]
    for bad in [Tolerance(" ", rtol=1e-8), Tolerance("why", rtol=1e-3), Tolerance("why", atol=-1.0), 1e-8]:
        with pytest.raises(RuleTableError, match="tolerance"):
            _validate(entry(bad))
    _validate(entry(Tolerance("why", atol=1e-9)))
    assert tolerance_of(["linear", "tanh"]) is None
    tol = tolerance_of(["linear", "hardsigmoid", "hardsigmoid"])
    assert tol is not None and tol.rtol == 2.0 ** -24 and tol.reason.startswith("hardsigmoid: ")


# --- step rows: the chain's own numbers against autograd's product of the node, seeded alike --------

def test_a_formula_off_by_a_thousandth_fails_its_step_row() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    d = st.derive(model, torch.randn(5, 3, dtype=torch.float64), verify=False)
    tanh = d[1]
    eq = tanh.gradients["input"]
    tanh.gradients["input"] = sp.Eq(eq.lhs, sp.Float(1.001) * eq.rhs, evaluate=False)
    report = d.verify()
    step_failures = {(r.name, r.key) for r in report.failures if r.kind == "step"}
    assert step_failures == {(tanh.name, "input")}  # upstream steps, fed the same ḡ autograd gets, pass
    row = next(r for r in report.step_rows if (r.name, r.key) == (tanh.name, "input"))
    assert 5e-4 < row.max_rel_error < 2e-3
    assert {r.name for r in report.failures if r.kind == "tensor"} == {"input", "0.weight", "0.bias"}


def test_step_rows_compare_the_tensors_the_chain_added() -> None:
    d = _tampered()
    d.verify()
    assert d.chain.evaluated  # verification read the chain's contributions, it did not evaluate its own
    w = d.chain.contributions[(d[0].name, "weight")]
    torch.testing.assert_close(w, d.adjoints["0.weight"])


def test_verification_restores_the_generator_and_running_statistics() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5)).double().train()
    d = st.derive(model, torch.randn(6, 3, dtype=torch.float64), verify=False)
    mean = model[1].running_mean.clone()
    state = torch.random.get_rng_state()
    report = d.verify()
    assert report.ok, str(report)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(model[1].running_mean, mean)


def test_running_statistics_updates_are_verified_and_a_wrong_one_fails() -> None:
    """BatchNorm in train mode moves its running statistics: each update is a verification row
    (its formula from the buffer before the run against the buffer the run left). An update
    whose recorded result is off by 1e-3 fails its row and is not shown as if it were right."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4)).double().train()
    d = st.derive(model, torch.randn(5, 3, dtype=torch.float64))
    bn = d["1"]
    assert [u.key for u in bn.updates] == ["running_mean update", "running_var update"]
    keys = [r.key for r in d.report.step_rows if r.name == bn.name]
    assert "running_mean update" in keys and "running_var update" in keys
    assert d.report.ok and bn.status("running_var update") == "verified"
    mean, var = bn.updates
    wrong = dataclasses.replace(bn, updates=(mean, dataclasses.replace(var, after=var.after + 1e-3)))
    d.steps[bn.index] = wrong
    report = d.verify()
    assert not report.ok
    assert [(r.name, r.key) for r in report.failures] == [(bn.name, "running_var update")]
    assert "FAILED" in wrong.notes[1] and r"\leftarrow" in wrong.notes[0]
