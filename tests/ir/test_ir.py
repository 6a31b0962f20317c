"""The IR is data: a typed run record, steps that know their derivation without being mutated."""
from __future__ import annotations

import dataclasses

import pytest
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.ir.element import Element, fmt
from symbolic_torch.ir.run import Run
from symbolic_torch.ir.step import Step


def _derive(**kw: object) -> st.Derivation:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh()).double()
    return st.derive(model, torch.randn(5, 3, dtype=torch.float64), **kw)  # type: ignore[arg-type]


def test_the_run_record_is_typed_and_frozen() -> None:
    d = _derive(verify=False)
    run = d.run
    assert isinstance(run, Run) and not hasattr(d, "meta")
    assert d.outputs == list(run.outputs) == [d[-1].output]
    assert set(run.seeds) == set(run.outputs) and run.seeds[d.outputs[0]].dtype == torch.float64
    assert run.differentiable[run.placeholders[0]] and run.placeholders == list(d.inputs.values())
    assert torch.equal(run.env[d[0].output], d.values[d[0].output])
    assert set(run.rng) >= {s.name for s in d.steps} and run.rng_start.dtype == torch.uint8
    assert run.node(d[0].name).op == "call_module"
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.model = None  # type: ignore[misc]


def test_buffers_are_recorded_as_the_run_found_them() -> None:
    torch.manual_seed(0)
    model = nn.BatchNorm1d(3).double().train()
    d = st.derive(model, torch.randn(4, 3, dtype=torch.float64) + 5, verify=False)
    assert torch.equal(d.run.buffers["running_mean"], torch.zeros(3, dtype=torch.float64))
    assert not torch.equal(model.running_mean, d.run.buffers["running_mean"])  # the run moved them


def test_steps_are_frozen_and_know_their_derivation() -> None:
    d = _derive()
    assert all(isinstance(s, Step) and s.derivation is d for s in d.steps)
    with pytest.raises(dataclasses.FrozenInstanceError):
        d[0].derivation = None  # type: ignore[misc]
    assert d[0].status("weight") == "verified" and d[0].forward_status() == "verified"
    bare = dataclasses.replace(d[0], derivation=None)
    assert bare.status("weight") == "unverified" and "ḡ" not in bare.env()


def test_step_env_gives_the_adjoint_only_when_asked() -> None:
    d = _derive(verify=False)
    assert "ḡ" not in d[0].env(adjoint=False) and not d.chain.evaluated
    torch.testing.assert_close(d[0].env()["ḡ"], d.adjoints[d[0].output])


def test_element_is_ir_and_renders_its_line() -> None:
    e = Element("lin", "forward", (0, 1), -1.5, 2, "y_{0,1}", "a + b", "1 + (-2.5)")
    assert e.latex == "y_{0,1} = a + b = 1 + (-2.5) = -1.5" == str(e)
    assert fmt(float("nan")) == r"\mathrm{NaN}" and fmt(-2.0, paren=True) == "(-2)"
    assert fmt(12345678.0) == r"1.235 \cdot 10^{7}"
    d = _derive()
    assert isinstance(d[0].at((0, 0)), Element) and isinstance(d[0].grad_at("bias", (1,)), Element)
