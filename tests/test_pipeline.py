"""``derive``'s choices about the run: the adjoint of a scalar output, runs with nothing to differentiate."""
from __future__ import annotations

import pytest
import sympy as sp
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.errors import NothingDifferentiableError, SymbolicTorchError


class Energy(nn.Module):
    """A model that returns a scalar: Σ tanh(W x + b)²."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.lin(x)).pow(2).sum()


def _energy() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    return Energy().double(), torch.randn(5, 3, dtype=torch.float64)


def _autograd(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """What ``model(x).backward()`` would leave in ``.grad``."""
    x = x.clone().requires_grad_(True)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(model(x), [x, *params.values()])
    return dict(zip(["x", *params], grads))


def test_a_scalar_output_without_loss_is_derived_like_backward() -> None:
    model, x = _energy()
    d = st.derive(model, x)
    assert d.report.ok
    last = d.steps[-1]
    assert last.seeded and last.forward.lhs == sp.Symbol("L", real=True)
    assert float(d.seed) == 1.0
    got, want = d.gradient_values(), _autograd(model, x)
    assert set(got) == set(want)
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=1e-12, atol=1e-12)


def test_a_scalar_output_with_grad_output_takes_it() -> None:
    """An explicit ``grad_output`` still seeds the scalar (like ``out.backward(g)``)."""
    model, x = _energy()
    d = st.derive(model, x, grad_output=torch.tensor(2.5, dtype=torch.float64))
    assert d.report.ok and not d.steps[-1].seeded
    torch.testing.assert_close(d.gradient_values()["lin.weight"], 2.5 * _autograd(model, x)["lin.weight"],
                               rtol=1e-12, atol=1e-12)


def test_a_scalar_function_without_loss() -> None:
    x = torch.linspace(-1, 2, 7, dtype=torch.float64)
    d = st.derive(lambda x: (x * x.exp()).mean(), x)
    assert d.steps[-1].seeded and d.report.ok
    torch.testing.assert_close(d.gradient_values()["x"], (1 + x) * x.exp() / 7, rtol=1e-12, atol=1e-12)


def test_a_non_scalar_output_keeps_its_random_or_given_adjoint() -> None:
    torch.manual_seed(0)
    model, x = nn.Linear(3, 4).double(), torch.randn(5, 3, dtype=torch.float64)
    d = st.derive(model, x)
    assert not any(s.seeded for s in d.steps) and d.report.ok
    assert d.seed is not None and d.seed.shape == (5, 4) and not torch.all(d.seed == 1)
    g = torch.randn(5, 4, dtype=torch.float64)
    d = st.derive(model, x, grad_output=g)
    torch.testing.assert_close(d.gradient_values()["input"], g @ model.weight.detach(), rtol=1e-12, atol=1e-12)


def test_integer_inputs_and_no_parameters_say_nothing_is_differentiable() -> None:
    with pytest.raises(NothingDifferentiableError, match=r"nothing is differentiable.*x \(int64\)") as e:
        st.derive(lambda x: x * 2 + 1, torch.arange(6).reshape(2, 3))
    assert isinstance(e.value, SymbolicTorchError) and "no parameters" in str(e.value)


def test_frozen_parameters_say_why() -> None:
    model = nn.Sequential(nn.Embedding(5, 3)).double().requires_grad_(False)
    with pytest.raises(NothingDifferentiableError, match=r"input \(int64\).*do not require grad"):
        st.derive(model, torch.tensor([1, 2, 4]))


def test_integer_inputs_into_an_embedding_keep_working() -> None:
    torch.manual_seed(0)
    model, idx = nn.Embedding(5, 3).double(), torch.tensor([1, 2, 4, 2])
    g = torch.randn(4, 3, dtype=torch.float64)
    d = st.derive(model, idx, grad_output=g)
    assert d.report.ok and list(d.gradient_values()) == ["weight"]
    want = torch.zeros(5, 3, dtype=torch.float64).index_add_(0, idx, g)
    torch.testing.assert_close(d.gradient_values()["weight"], want, rtol=1e-12, atol=1e-12)
