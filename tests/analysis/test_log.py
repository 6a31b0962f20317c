"""The activation log: d[key].value / d[key].grad by index, fx name or module path, and Derivation.log()."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import symbolic_torch as st


def _autograd_output_grads(model: nn.Module, x: torch.Tensor, loss: nn.Module, target: torch.Tensor,
                           names: list[str]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """Each named submodule's output and ∂L/∂output, by autograd (forward hooks keep the outputs)."""
    outs: dict[str, torch.Tensor] = {}
    for name in names:
        model.get_submodule(name).register_forward_hook(lambda m, i, o, name=name: outs.__setitem__(name, o))
    value = loss(model(x), target)
    grads = torch.autograd.grad(value, [outs[n] for n in names])
    return {n: outs[n].detach() for n in names}, dict(zip(names, grads))


def test_value_and_grad_agree_with_autograd_by_every_key(tiny: st.Derivation) -> None:
    from examples.tiny_cnn import TinyCNN
    torch.manual_seed(0)
    model = TinyCNN().double()
    x = torch.randn(1, 1, 8, 8, dtype=torch.float64)
    values, grads = _autograd_output_grads(model, x, nn.CrossEntropyLoss(), torch.tensor([1]), ["conv1", "pool", "fc"])
    for name in values:
        step = tiny[name]
        assert tiny[step.index] is step and (step.module_path is None or tiny[step.module_path] is step)
        assert torch.equal(step.value, values[name])
        torch.testing.assert_close(step.grad, grads[name], atol=1e-12, rtol=0)
    assert tiny["conv1"].value is tiny.values["conv1"] and tiny[0].name == "conv1"


def test_grad_is_none_where_no_adjoint_reaches(zoo: dict) -> None:
    d = zoo["lstm"][1]  # the LSTM's final (h_n, c_n) are computed but the loss reads only its output
    not_reached = [s.name for s in d.steps if s.grad is None]
    assert not_reached == ["unsqueeze_2", "lstm_h_n", "unsqueeze_3", "lstm_c_n"]
    assert all(s.grad.shape == s.value.shape for s in d.steps if s.grad is not None)
    for name in not_reached:
        s = d[name]
        for key in s.gradients:  # its gradient elements read ḡ = 0, as autograd's would
            assert s.grad_at(key, (0,) * len(s.operand(key).shape)).value == 0.0
    assert d.log()["lstm_h_n"].grad_norm is None and "—" in str(d.log())


def test_log_rows_hold_the_statistics(zoo: dict) -> None:
    d = zoo["bn"][1]
    log = d.log()
    assert len(log) == len(d) and [r.name for r in log] == [s.name for s in d.steps]
    row = log["bn"]
    v = d["bn"].value
    assert row.shape == tuple(v.shape) and row.dtype == "float64" and row.module_path == "bn"
    assert (row.min, row.max) == (float(v.min()), float(v.max()))
    assert row.mean == pytest.approx(float(v.mean()), abs=1e-15)
    assert row.std == pytest.approx(float(v.std(correction=0)), abs=1e-15)  # BatchNorm: std ≈ 1 per channel
    assert row.grad_norm == pytest.approx(float(d["bn"].grad.norm()), rel=1e-12)
    assert row.grad_max == float(d["bn"].grad.abs().max())


def test_log_renders_as_text_and_markdown(tiny: st.Derivation) -> None:
    md = tiny.log().to_markdown().splitlines()
    assert md[0].startswith("| #") and "‖ḡ‖₂" in md[0] and len(md) == 2 + len(tiny)
    assert all(line.count("|") == md[0].count("|") for line in md)  # no stray pipes in a cell
    text = str(tiny.log())
    assert "conv1" in text and "1×4×6×6" in text and "cross_entropy" in text
