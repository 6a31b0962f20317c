"""Capture: torch.fx first, torch.export as the fallback, clear errors otherwise."""
from __future__ import annotations

import dataclasses

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from symbolic_torch.errors import CaptureError, UnsupportedOpError


class ShapeBranch(nn.Module):
    """fx cannot trace a branch on a shape; torch.export specialises it."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[0] > 1:
            return torch.relu(self.lin(x)) * 2
        return self.lin(x)


class ValueBranch(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:
            return torch.relu(self.lin(x))
        return self.lin(x)


def test_export_fallback_derives_and_verifies() -> None:
    torch.manual_seed(0)
    model = ShapeBranch().double()
    x = torch.randn(4, 3, dtype=torch.float64)
    d = st.derive(model, x)
    assert d.capture_method == "torch.export"
    assert [s.op for s in d.steps] == ["linear_fn", "relu", "mul"]
    assert d.verify().ok
    assert set(d.gradient_values()) == {"x", "lin.weight", "lin.bias"}


def test_value_dependent_control_flow_raises_capture_error() -> None:
    with pytest.raises(CaptureError) as info:
        st.derive(ValueBranch().double(), torch.ones(2, 3, dtype=torch.float64))
    msg = str(info.value)
    assert "symbolic_trace failed" in msg and "torch.export" in msg


def test_unsupported_op_names_node_target_and_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.linalg.eigvalsh(x.unsqueeze(1) * x.unsqueeze(0)) * 2
    with pytest.raises(UnsupportedOpError) as info:
        st.derive(f, torch.randn(3, dtype=torch.float64))
    msg = str(info.value)
    assert "eigvalsh" in msg and "rules/" in msg


def test_step_lookup_by_node_name_module_path_and_index() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    d = st.derive(model, torch.randn(2, 3, dtype=torch.float64))
    assert d["0"] is d[0] and d[d[0].name] is d[0]
    assert d[1].op == "tanh" and d["2"].op == "linear"
    assert set(d.gradient_values()) == {"input", "0.weight", "0.bias", "2.weight", "2.bias"}
    with pytest.raises(KeyError, match="no step"):
        d["nope"]


def test_function_loss_and_function_model() -> None:
    torch.manual_seed(0)
    w = torch.randn(5, 3, dtype=torch.float64)

    def model(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return F.linear(x, weight).tanh()
    d = st.derive(model, torch.randn(4, 3, dtype=torch.float64), w, loss=F.cross_entropy,
                  target=torch.tensor([0, 4, 2, 1]))
    assert d.verify().ok
    assert set(d.gradient_values()) == {"x", "weight"}
    assert d.steps[-1].op == "cross_entropy" and d.steps[-1].seeded


def test_vjp_seed_is_shown_and_reproducible() -> None:
    lin = nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    d1, d2 = st.derive(lin, x), st.derive(lin, x)
    assert d1.seed is not None and torch.equal(d1.seed, d2.seed)
    g = torch.ones(4, 2, dtype=torch.float64)
    d3 = st.derive(lin, x, grad_output=g)
    assert torch.equal(d3.seed, g)
    with pytest.raises(ValueError, match="shape"):
        st.derive(lin, x, grad_output=torch.ones(3, dtype=torch.float64))


def test_float32_verifies_with_relative_tolerance() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 5))
    d = st.derive(model, torch.randn(2, 2, 6, 6), loss=nn.CrossEntropyLoss(), target=torch.tensor([1, 3]))
    report = d.verify()
    assert report.ok, report
    assert d.gradient_values()["0.weight"].dtype == torch.float32


def test_function_with_tensor_constant_stays_on_fx() -> None:
    w = torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)

    def f(x: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(x, torch.tensor([2, 0]), weight=w)
    d = st.derive(f, torch.randn(2, 3, dtype=torch.float64))
    assert d.capture_method == "torch.fx"
    assert d.verify().ok


def test_constants_and_casts_make_no_steps() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        return x * torch.ones_like(x) + x.detach() * x.double() + x.new_zeros(x.shape)
    d = st.derive(f, torch.randn(3, dtype=torch.float64))
    assert [s.op for s in d.steps] == ["mul", "identity", "mul", "add", "add"]
    assert d.verify().ok


def test_complex_outputs_are_unsupported_not_wrong() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(x).abs()
    with pytest.raises(UnsupportedOpError, match="complex"):
        st.derive(f, torch.randn(8, dtype=torch.float64))


def _autograd(f, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:  # type: ignore[no-untyped-def]
    leaf = x.detach().clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(f(leaf), leaf, g)
    return grad


def _inplace_then_read(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y.add_(1)  # the result is unused: later steps must read the overwritten y
    return y * y


def _relu_function_inplace(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    torch.relu_(y)
    return y * 3


def _functional_inplace_kwarg(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    F.relu(y, inplace=True)
    return y * x


def _chain_of_inplace(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y.mul_(2).add_(1)
    y.tanh_()
    return y * x


def _autograd_refuses(x: torch.Tensor) -> torch.Tensor:
    y = x.sigmoid()
    y.mul_(2)  # autograd cannot differentiate this (sigmoid saved its output); we can
    return y * x


def test_model_that_autograd_refuses_still_verifies_against_the_graph() -> None:
    x = torch.randn(4, 3, dtype=torch.float64)
    g = torch.randn(4, 3, dtype=torch.float64)
    d = st.derive(_autograd_refuses, x, grad_output=g)
    assert d.report is not None and d.report.ok and d.report.output_rows
    torch.testing.assert_close(d.gradient_values()["x"], _autograd(lambda x: x.sigmoid() * 2 * x, x, g),
                               rtol=0, atol=1e-10)


def _zero_and_fill(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y.zero_()
    z = x * 1.5
    z.fill_(3)
    return y + z * x


def _write_through_select(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y[0].mul_(3)  # y[0] is a view: y changes too
    return y * x


def _write_through_view(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y.view(-1).mul_(3)
    return y * x


def _setitem(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y[1] = 0
    return y * x


def _augmented_setitem(x: torch.Tensor) -> torch.Tensor:
    y = x * 2
    y[:, 0] += 1  # torch.export: select, add, copy, select_scatter
    return y.exp()


def _shifted_into_zeros(x: torch.Tensor) -> torch.Tensor:
    y = torch.zeros_like(x)
    y[1:] = x[:-1] * 3
    return y.sin()


@pytest.mark.parametrize("f", [_inplace_then_read, _relu_function_inplace, _functional_inplace_kwarg,
                               _chain_of_inplace, _zero_and_fill, _write_through_select,
                               _write_through_view, _setitem, _augmented_setitem, _shifted_into_zeros])
def test_inplace_ops_mean_what_they_mean(f) -> None:  # type: ignore[no-untyped-def]
    x = torch.randn(4, 3, dtype=torch.float64)
    g = torch.randn(4, 3, dtype=torch.float64)
    d = st.derive(f, x, grad_output=g)
    assert d.report is not None and d.report.ok and d.report.output_rows
    torch.testing.assert_close(d.values[d.outputs[0]], f(x.clone()), rtol=0, atol=1e-12)
    torch.testing.assert_close(d.gradient_values()["x"], _autograd(f, x, g), rtol=0, atol=1e-10)


def test_verify_compares_the_captured_graph_with_the_model() -> None:
    x = torch.randn(4, 3, dtype=torch.float64)
    d = st.derive(lambda x: x * 2, x, verify=False)
    d.run = dataclasses.replace(d.run, model=lambda x: x * 3)  # as if capture had recorded something else
    report = d.verify()
    assert not report.ok
    assert {r.kind for r in report.failures} == {"output"}
    assert "differ from the model's" in str(report)


def _tuple_reads(x: torch.Tensor) -> torch.Tensor:
    first = torch.split(x, 1)[:2][0]  # a slice of a tuple, then an item
    last = torch.split(x, 2)[-1]
    return torch.max(x, 1).values * first.sum() + last.sum() + torch.sort(x, 1).values[:, :1].sum()


@pytest.mark.parametrize("f", [_tuple_reads, lambda x: x.data * x, lambda x: x.real * x.T.T])
def test_tuple_items_fields_and_tensor_attributes(f) -> None:  # type: ignore[no-untyped-def]
    x = torch.randn(4, 3, dtype=torch.float64)
    g = torch.randn_like(f(x))
    d = st.derive(f, x, grad_output=g)
    assert d.report is not None and d.report.ok
    torch.testing.assert_close(d.gradient_values()["x"], _autograd(f, x, g), rtol=0, atol=1e-10)


class OptionalArgs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, scale: float = 2.0) -> torch.Tensor:
        y = self.lin(x) * scale
        return y if mask is None else y.masked_fill(mask, 0.0)


def test_arguments_left_at_their_defaults_are_not_inputs() -> None:
    model = OptionalArgs().double()
    x = torch.randn(4, 3, dtype=torch.float64)
    d = st.derive(model, x)
    assert d.capture_method == "torch.fx" and d.report is not None and d.report.ok
    assert d.input_names == ["x"]
    mask = torch.rand(4, 3) > 0.5
    d = st.derive(model, x, mask)  # given, the mask is an input (a constant one)
    assert d.report is not None and d.report.ok and d.input_names == ["x", "mask"]


class TiedLM(nn.Module):
    """Embedding and output head share one weight (GPT-2's weight tying)."""

    def __init__(self) -> None:
        super().__init__()
        self.wte = nn.Embedding(7, 4)
        self.head = nn.Linear(4, 7, bias=False)
        self.head.weight = self.wte.weight

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.wte(idx)))


class SquaredHinge(nn.Module):
    """A loss module with no rule of its own: traced, each op a step."""

    def forward(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return torch.clamp(1 - out * target, min=0).pow(2).mean()


def _lm_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(logits.view(-1, logits.size(-1)), target.view(-1))


def test_tied_weights_get_both_uses_and_function_losses_are_traced() -> None:
    torch.manual_seed(0)
    model = TiedLM().double()
    idx, target = torch.randint(0, 7, (2, 3)), torch.randint(0, 7, (2, 3))
    d = st.derive(model, idx, loss=_lm_loss, target=target)
    assert d.report is not None and d.report.ok, str(d.report)
    assert {"reshape", "cross_entropy"} <= {s.op for s in d.steps}
    loss = _lm_loss(model(idx), target)
    (ref,) = torch.autograd.grad(loss, [model.wte.weight])
    torch.testing.assert_close(d.gradient_values()["wte.weight"], ref, rtol=0, atol=1e-10)


def test_custom_loss_module_is_traced() -> None:
    torch.manual_seed(0)
    model = nn.Linear(3, 2).double()
    x, target = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 2, dtype=torch.float64).sign()
    d = st.derive(model, x, loss=SquaredHinge(), target=target)
    assert d.report is not None and d.report.ok and d.has_loss and d.steps[-1].seeded
    assert {"clamp", "pow", "mean"} <= {s.op for s in d.steps}


class SlicedMaskLM(nn.Module):
    """nanoGPT's pattern: a causal-mask buffer sliced by the input's length, which fx cannot
    trace (a size as a slice bound): torch.export captures it, embedding in ATen's order."""

    def __init__(self) -> None:
        super().__init__()
        self.wte, self.wpe = nn.Embedding(7, 4), nn.Embedding(3, 4)
        self.register_buffer("mask", torch.tril(torch.ones(3, 3)))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.size(1)
        x = self.wte(idx) + self.wpe(torch.arange(t))
        att = (x @ x.transpose(-2, -1)).masked_fill(self.mask[:t, :t] == 0, float("-inf"))
        return F.softmax(att, dim=-1) @ x


def test_sliced_buffer_goes_to_export_and_embedding_reads_aten_order() -> None:
    torch.manual_seed(0)
    d = st.derive(SlicedMaskLM().double(), torch.randint(0, 7, (2, 3)))
    assert d.capture_method == "torch.export" and d.report is not None and d.report.ok, str(d.report)
    assert {"wte.weight", "wpe.weight"} <= set(d.gradient_values())


class NoGradScale(nn.Module):
    """A statistic computed under torch.no_grad() is a constant of the step that reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.lin(x)
        with torch.no_grad():
            scale = y.abs().max()
        return {"logits": y / scale, "aux": (y ** 2).sum()}


@pytest.mark.parametrize("outer_no_grad", [False, True])
def test_no_grad_blocks_and_dict_outputs(outer_no_grad: bool) -> None:
    torch.manual_seed(0)
    model, x = NoGradScale().double(), torch.randn(4, 3, dtype=torch.float64)
    gs = [torch.randn(4, 2, dtype=torch.float64), torch.randn((), dtype=torch.float64)]
    with torch.set_grad_enabled(not outer_no_grad):  # derive called from an evaluation loop, too
        d = st.derive(model, x, grad_output=gs)
    assert d.report is not None and d.report.ok, str(d.report)
    assert not d["truediv"].operand("other").differentiable
    leaf = x.clone().requires_grad_(True)
    out = model(leaf)
    (ref,) = torch.autograd.grad([out["logits"], out["aux"]], [leaf], gs)
    torch.testing.assert_close(d.gradient_values()["x"], ref, rtol=0, atol=1e-10)


def test_compiled_model_is_derived_as_the_model_it_wraps() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    d = st.derive(torch.compile(model), torch.randn(5, 3, dtype=torch.float64))
    assert d.capture_method == "torch.fx" and d.report is not None and d.report.ok
    assert {"0.weight", "2.bias"} <= set(d.gradient_values())
