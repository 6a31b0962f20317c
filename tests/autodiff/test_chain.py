"""The chain: lazy, evaluated once, shared with verification, equal to autograd's backward pass."""
from __future__ import annotations

import sympy as sp
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.autodiff.chain import chain, shared_parameters


def _mlp(verify: bool = False) -> st.Derivation:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    return st.derive(model, torch.randn(5, 3, dtype=torch.float64), verify=verify)


def test_nothing_is_evaluated_until_the_adjoints_are_asked_for() -> None:
    d = _mlp()
    assert not d.chain.evaluated
    d[0].at((0, 0))  # a forward element needs no adjoint
    d.to_latex()
    assert not d.chain.evaluated
    d.gradient_values()
    assert d.chain.evaluated


def test_a_worked_backward_element_evaluates_the_chain() -> None:
    d = _mlp()
    e = d[0].grad_at("weight", (1, 2))
    assert d.chain.evaluated
    assert abs(e.value - float(d.adjoints["0.weight"][1, 2])) < 1e-12


def test_each_formula_is_evaluated_once(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import symbolic_torch.autodiff.chain as module
    calls = []
    real = module.evaluate_over

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[0])
        return real(*args, **kwargs)
    monkeypatch.setattr(module, "evaluate_over", counting)
    d = _mlp(verify=True)
    d.gradient_values()
    d.adjoints
    d.verify()
    n_formulas = sum(len(s.gradients) for s in d.steps)
    assert len(calls) == n_formulas and d.report is not None and d.report.ok


def test_contributions_add_up_to_the_adjoints() -> None:
    d = _mlp()
    contrib = d.chain.contributions
    assert set(contrib) == {(s.name, k) for s in d.steps for k in s.gradients}
    first = d[0]
    torch.testing.assert_close(contrib[(first.name, "weight")], d.adjoints["0.weight"])
    x = first.operand("input").source
    torch.testing.assert_close(contrib[(first.name, "input")], d.adjoints[x])


def test_the_chain_equals_autograd_end_to_end() -> None:
    torch.manual_seed(1)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    g = torch.randn(5, 2, dtype=torch.float64)
    d = st.derive(model, x.detach(), grad_output=g, verify=False)
    ref = torch.autograd.grad(model(x), [x, *model.parameters()], g)
    got = d.gradient_values()
    for name, r in zip(["input", "0.weight", "0.bias", "2.weight", "2.bias"], ref):
        torch.testing.assert_close(got[name], r, rtol=0, atol=1e-12)


def test_a_changed_formula_is_evaluated_again() -> None:
    d = _mlp()
    before = d.adjoints["0.weight"].clone()
    eq = d[0].gradients["weight"]
    d[0].gradients["weight"] = sp.Eq(eq.lhs, 3 * eq.rhs, evaluate=False)
    assert not d.chain.evaluated
    torch.testing.assert_close(d.adjoints["0.weight"], 3 * before)


def test_tied_parameters_share_the_sum_of_their_uses() -> None:
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 3, bias=False)
            self.b = self.a

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.tanh(self.a(x)))
    torch.manual_seed(0)
    m = Tied().double()
    x = torch.randn(2, 3, dtype=torch.float64)
    g = torch.randn(2, 3, dtype=torch.float64)
    d = st.derive(m, x, grad_output=g)
    assert d.report is not None and d.report.ok, str(d.report)
    (ref,) = torch.autograd.grad(m(x), [m.a.weight], g)
    for name in d.param_names:
        torch.testing.assert_close(d.adjoints[name], ref, rtol=0, atol=1e-12)


def test_shared_parameters_lists_each_name_of_one_parameter() -> None:
    m = nn.Module()
    m.a = nn.Linear(2, 2)
    m.b = m.a
    m.c = nn.Linear(2, 2)
    assert sorted(shared_parameters(m)) == [("a.bias", "b.bias"), ("a.weight", "b.weight")]


def test_chain_from_other_seeds() -> None:
    d = _mlp()
    doubled = chain(d.steps, {k: 2 * v for k, v in d.run.seeds.items()})
    torch.testing.assert_close(doubled.adjoints["0.weight"], 2 * d.adjoints["0.weight"])
