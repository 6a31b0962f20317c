"""train_steps against torch.optim: every loss and parameter to 1e-10 in float64, 3 iterations."""
from __future__ import annotations

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.errors import VerificationError
from symbolic_torch.training import formulas as F
from tests.training.referee import torch_losses_and_params

CONFIGS = [
    ("sgd", {"lr": 0.1}, lambda p: torch.optim.SGD(p, lr=0.1)),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.3},
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.3)),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "nesterov": True},
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    ("sgd", {"lr": 0.1, "weight_decay": 0.05, "momentum": 0.5},
     lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.05, momentum=0.5)),
    ("adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-6, "weight_decay": 0.02},
     lambda p: torch.optim.Adam(p, lr=0.05, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.02)),
    ("adamw", {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True},
     lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1, amsgrad=True)),
]


def _agrees(w: st.Walkthrough, losses: list[float], params: list[dict[str, torch.Tensor]]) -> None:
    assert w.report is not None and w.report.ok, w.report
    assert w.losses == pytest.approx(losses, abs=1e-10, rel=0)
    for t, ref in enumerate(params):
        for name, p in ref.items():
            assert torch.allclose(w.updates[name][t].after, p, atol=1e-10, rtol=0), (t, name)


@pytest.mark.parametrize("kind,hyper,make", CONFIGS, ids=[f"{k}-{'-'.join(h)}" for k, h, _ in CONFIGS])
def test_mlp_equals_torch_optim(mlp_case, kind, hyper, make) -> None:
    model, inputs, target, loss = mlp_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer=kind, steps=3, **hyper)
    _agrees(w, *torch_losses_and_params(model, inputs, target, loss, make, 3))
    assert len(w.derivations) == 3 and all(d.report.ok for d in w.derivations)


@pytest.mark.parametrize("kind,hyper,make", [CONFIGS[2], CONFIGS[4]], ids=["sgd-nesterov", "adam"])
def test_teaching_cnn_equals_torch_optim(cnn_case, kind, hyper, make) -> None:
    model, inputs, target, loss = cnn_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer=kind, steps=3, **hyper)
    _agrees(w, *torch_losses_and_params(model, inputs, target, loss, make, 3))


def test_updates_use_the_derived_gradient_and_leave_the_model_alone(cnn_case) -> None:
    model, inputs, target, loss = cnn_case
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="sgd", lr=0.5, steps=2)
    for it in w.iterations:
        grads = it.derivation.gradient_values()
        for name, u in it.updates.items():
            assert torch.equal(u.gradient, grads[name].double())
            assert torch.allclose(u.after, u.before - 0.5 * u.gradient, atol=1e-15, rtol=0)
    assert torch.equal(w.updates["fc.weight"][1].before, w.updates["fc.weight"][0].after)
    assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())


def test_losses_decrease(cnn_case, mlp_case) -> None:
    model, inputs, target, loss = cnn_case
    sgd = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="sgd", lr=0.5, steps=3).losses
    model, inputs, target, loss = mlp_case
    adam = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="adam", lr=0.05, steps=3).losses
    for losses in (sgd, adam):
        assert losses[0] > losses[1] > losses[2], losses


def test_a_wrong_update_formula_is_caught(mlp_case, monkeypatch) -> None:
    """The update formulas are what produce the new parameters: scaling the step by 1.001 is seen."""
    right = F.RULES["sgd"]

    def off_by_a_thousandth(h, t, idx):
        eqs = right(h, t, idx)
        last = eqs[-1]
        theta = F.element(F.THETA, idx)
        return eqs[:-1] + [type(last)(last.lhs, theta + 1.001 * (last.rhs - theta), evaluate=False)]

    monkeypatch.setitem(F.RULES, "sgd", off_by_a_thousandth)
    model, inputs, target, loss = mlp_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="sgd", lr=0.1, steps=2)
    assert not w.report.ok
    failed = {(r.iteration, r.name) for r in w.report.failures}
    assert {(1, "fc1.weight"), (1, "fc2.bias"), (2, "loss")} <= failed
    assert "FAILED" in str(w.report) and "FAILED" in w.to_latex()
    with pytest.raises(VerificationError):
        st.train_steps(model, *inputs, target=target, loss=loss, optimizer="sgd", lr=0.1, steps=1, strict=True)


def test_positions_and_worked_elements(mlp_case) -> None:
    model, inputs, target, loss = mlp_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="adam", lr=0.1, steps=2,
                       positions={"fc1.weight": (2, 3)})
    u = w.updates["fc1.weight"][1]
    assert u.position == (2, 3)
    worked = u.worked()
    assert [e.kind for e in worked] == ["m", "v", "θ"]
    # the worked θ element is the weight torch's own Adam reaches after two steps (an independent run)
    _, params = torch_losses_and_params(model, inputs, target, loss,
                                        lambda ps: torch.optim.Adam(ps, lr=0.1), 2)
    assert abs(worked[-1].value - float(params[1]["fc1.weight"][2, 3])) < 1e-10
    assert abs(worked[-1].value - float(model.state_dict()["fc1.weight"][2, 3])) > 1e-3  # it moved
    grad = w.updates["fc2.weight"][0].gradient.abs()
    assert w.updates["fc2.weight"][0].position == tuple(divmod(int(grad.argmax()), grad.shape[1]))
    with pytest.raises(IndexError, match="valid ranges"):
        st.train_steps(model, *inputs, target=target, loss=loss, steps=1, positions={"fc1.weight": (8, 0)})


def test_train_mode_dropout_draws_the_same_mask_as_torch() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.ReLU(), torch.nn.Dropout(0.5),
                                torch.nn.Linear(6, 2)).double().train()
    x, y = torch.randn(5, 4, dtype=torch.float64), torch.tensor([0, 1, 1, 0, 1])
    w = st.train_steps(model, x, target=y, loss=torch.nn.CrossEntropyLoss(), optimizer="sgd", lr=0.2,
                       momentum=0.9, steps=3, seed=7)
    assert w.report.ok, w.report
    assert w.report.max_error(3) < 1e-10 and len({round(v, 12) for v in w.losses}) == 3
