"""SymbolicTensor: torch code run on sympy elements leaves the formula it computed."""
from __future__ import annotations

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from symbolic_torch.gradcheck.symbolic_tensor import SymbolicTensor, Untraceable

X = sp.IndexedBase("x", real=True)


def sym(shape: tuple[int, ...] = (2, 3)) -> SymbolicTensor:
    return SymbolicTensor.symbols("x", shape)


def test_masks_become_conditions() -> None:
    x = sym()
    assert torch.where(x > 0, 2 * x, x).data[0, 1] == sp.Piecewise((2 * X[0, 1], X[0, 1] > 0), (X[0, 1], True))
    g = x.clone()
    g[x < 0] = 0  # the tutorial's ReLU backward, in place
    assert g.data[1, 2] == sp.Piecewise((0, X[1, 2] < 0), (X[1, 2], True))
    assert (x * (x > 0).to(torch.float64)).data[0, 0] == X[0, 0] * sp.Piecewise((1, X[0, 0] > 0), (0, True))
    assert F.relu(x).data[0, 0] == sp.Piecewise((X[0, 0], X[0, 0] > 0), (0, True))  # F.relu passes inplace=
    assert torch.clamp(x, -1, 1).data[0, 0] == sp.Piecewise((-1, X[0, 0] < -1), (1, X[0, 0] > 1), (X[0, 0], True))


def test_reductions_products_and_shapes() -> None:
    x = sym()
    assert x.sum(0).data[2] == X[0, 2] + X[1, 2]
    assert x.mean(-1, keepdim=True).shape == torch.Size([2, 1])
    assert (x @ x.t()).data[0, 1] == sum(X[0, k] * X[1, k] for k in range(3))
    assert F.linear(x, torch.ones(4, 3, dtype=torch.float64)).shape == torch.Size([2, 4])
    assert x.unsqueeze(0).expand(5, 2, 3).sum_to_size(2, 3).data[0, 0] == 5 * X[0, 0]
    assert x.reshape(3, 2).permute(1, 0).shape == torch.Size([2, 3])


def test_numbers_are_exact_where_they_can_be() -> None:
    x = sym((1,))
    assert (x * 0.5 + 2.0).data[0] == X[0] / 2 + 2
    assert torch.sigmoid(x).data[0] == 1 / (1 + sp.exp(-X[0]))


def test_values_leaving_the_tensor_world_are_untraceable() -> None:
    x = sym()
    with pytest.raises(Untraceable, match="control flow"):
        bool(x.sum() > 0)
    with pytest.raises(Untraceable, match="not supported"):
        torch.fft.fft(x)
    with pytest.raises(Untraceable, match="item"):
        x.sum().item()


def test_activations_are_the_rule_tables_formulas() -> None:
    """The tracer and the rule table write each activation with ``symbolic_torch.ir.elementwise``."""
    import symbolic_torch as st
    x = sym((1,))
    x0 = X[0]
    for f in (F.relu, torch.sigmoid, F.silu, F.gelu, F.logsigmoid, F.softplus, F.elu, F.relu6,
              lambda t: F.gelu(t, approximate="tanh")):
        (step,) = st.derive(lambda t: f(t), torch.randn(1, dtype=torch.float64)).steps
        ruled = step.forward.rhs
        (read,) = ruled.atoms(sp.Indexed)
        assert f(x).data[0] == ruled.xreplace({read: x0}), step.op


def test_hardtanh_and_clamp_keep_torchs_gradient_at_the_bounds() -> None:
    """torch.clamp passes the gradient at a bound; F.hardtanh and F.relu6 do not."""
    x = sym((1,))
    at = {X[0]: 1}
    assert sp.diff(torch.clamp(x, -1, 1).data[0], X[0]).subs(at) == 1
    assert sp.diff(F.hardtanh(x).data[0], X[0]).subs(at) == 0
    assert sp.diff(F.relu6(x).data[0], X[0]).subs({X[0]: 6}) == 0
    t = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    assert float(torch.autograd.grad(F.hardtanh(t).sum(), t)[0]) == 0.0


def test_the_symbolic_tensor_door_loads_every_op() -> None:
    from symbolic_torch.gradcheck.op_table import HANDLERS
    assert {"add", "relu", "clamp", "reshape", "cat", "getitem", "max"} <= set(HANDLERS)
