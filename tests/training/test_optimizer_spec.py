"""Optimizers by name, class or instance; what is refused, and how it is named."""
from __future__ import annotations

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.training.optimizer import optimizer_spec
from tests.training.referee import torch_losses_and_params


def _params(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    return dict(model.named_parameters())


def test_names_get_torchs_defaults(mlp_case) -> None:
    params = _params(mlp_case[0])
    spec = optimizer_spec("adamw", {"lr": 0.01}, params)
    h = spec.hyper["fc1.weight"]
    assert (spec.label, h["lr"], h["weight_decay"], h["betas"], h["eps"]) == ("AdamW", 0.01, 0.01, (0.9, 0.999), 1e-8)
    assert optimizer_spec(torch.optim.SGD, {"lr": 0.2}, params).hyper["fc2.bias"]["momentum"] == 0


def test_instance_with_two_param_groups_equals_torch(mlp_case) -> None:
    model, inputs, target, loss = mlp_case

    def make(ps):
        ps = list(ps)
        return torch.optim.SGD([{"params": ps[:2], "lr": 0.2, "momentum": 0.9}, {"params": ps[2:3]}],
                               lr=0.05, weight_decay=0.01)
    opt = make(model.parameters())
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer=opt, steps=3)
    assert w.report.ok, w.report
    assert list(w.updates) == ["fc1.weight", "fc1.bias", "fc2.weight"]  # fc2.bias is in no group: not trained
    losses, params = torch_losses_and_params(model, inputs, target, loss, make, 3)
    assert w.losses == pytest.approx(losses, abs=1e-10, rel=0)
    for name in w.updates:
        assert torch.allclose(w.updates[name][2].after, params[2][name], atol=1e-10, rtol=0)
    assert w.updates["fc1.weight"][0].hyper["gamma"] == 0.2 and w.updates["fc2.weight"][0].hyper["gamma"] == 0.05


def test_refusals_name_the_setting(mlp_case) -> None:
    model = mlp_case[0]
    params = _params(model)
    with pytest.raises(ValueError, match="RMSprop"):
        optimizer_spec(torch.optim.RMSprop(model.parameters()), {}, params)
    with pytest.raises(ValueError, match="capturable=True"):
        optimizer_spec(torch.optim.Adam(model.parameters(), capturable=True), {}, params)
    with pytest.raises(TypeError, match=r"SGD has no hyper-parameter\(s\) \['betas'\]"):
        optimizer_spec("sgd", {"betas": (0.9, 0.99)}, params)
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        optimizer_spec("lion", {}, params)
    with pytest.raises(ValueError, match="Nesterov"):
        optimizer_spec("sgd", {"nesterov": True}, params)
    with pytest.raises(TypeError, match="param_groups"):
        optimizer_spec(torch.optim.SGD(model.parameters(), lr=0.1), {"lr": 0.2}, params)


def test_a_stepped_instance_is_refused(mlp_case) -> None:
    model, inputs, target, loss = mlp_case
    opt = torch.optim.Adam(model.parameters(), lr=0.1)
    loss(model(*inputs), target).backward()
    opt.step()
    with pytest.raises(ValueError, match="already taken steps"):
        st.train_steps(model, *inputs, target=target, loss=loss, optimizer=opt, steps=1)
