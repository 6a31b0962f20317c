"""Agreement tests for the layers people teach (issue 3, part 2): each derived gradient against autograd.

As in test_agreement.py: derive, verify, no KroneckerDelta left, and ``gradient_values()`` equal to
this test's own ``torch.autograd.grad`` (atol 1e-10). Module layers are checked inside
``nn.Sequential`` (a call_module node: the module rule); their functional forms separately.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from conftest import ATOL, Wrap, adjoint, assert_closed, check, compare, rand, updated

Case = tuple[Any, ...]  # (id, model factory, inputs factory)


def cases(*rows: Case) -> Any:
    return pytest.mark.parametrize("make_model, make_inputs", [pytest.param(*row[1:3], id=row[0]) for row in rows])


def run(make_model: Callable[[], Any], make_inputs: Callable[[], tuple[Any, ...]],
        train: bool = False) -> st.Derivation:
    """Check a module inside nn.Sequential (its module rule) or a Wrap'ed function, in float64."""
    torch.manual_seed(0)
    model = make_model().double()
    model.train(train)
    if not isinstance(model, (nn.Sequential, Wrap)):
        model = nn.Sequential(model)
    torch.manual_seed(1)
    return check(model, *make_inputs())


def fn(f: Callable[..., Any]) -> Callable[[], nn.Module]:
    return lambda: Wrap(lambda self, x: f(x))


# --- convolutions ---------------------------------------------------------------------------------

@cases(
    ("Conv1d-groups-dil", lambda: nn.Conv1d(4, 2, 3, dilation=2, groups=2, padding=2), lambda: (rand(2, 4, 6),)),
    ("Conv3d-stride-groups", lambda: nn.Conv3d(2, 2, (1, 2, 2), stride=(1, 2, 1), groups=2),
     lambda: (rand(1, 2, 2, 4, 3),)),
    ("ConvTranspose1d", lambda: nn.ConvTranspose1d(2, 3, 3), lambda: (rand(2, 2, 4),)),
    ("ConvTranspose1d-unbatched", lambda: nn.ConvTranspose1d(2, 2, 2), lambda: (rand(2, 3),)),
    ("ConvTranspose1d-stride-pad-outpad", lambda: nn.ConvTranspose1d(2, 3, 3, stride=2, padding=1, output_padding=1),
     lambda: (rand(1, 2, 4),)),
    ("ConvTranspose2d-stride", lambda: nn.ConvTranspose2d(2, 3, 3, stride=2), lambda: (rand(1, 2, 3, 3),)),
    ("ConvTranspose2d-groups-nobias", lambda: nn.ConvTranspose2d(4, 2, 2, stride=2, groups=2, bias=False),
     lambda: (rand(1, 4, 2, 3),)),
    ("ConvTranspose2d-dilation", lambda: nn.ConvTranspose2d(2, 2, 3, padding=1, dilation=2),
     lambda: (rand(1, 2, 3, 3),)),
    ("F.conv_transpose2d", lambda: Wrap(lambda s, x: F.conv_transpose2d(x, s.c.weight, s.c.bias, (2, 1), 1),
                                        c=nn.ConvTranspose2d(2, 3, 2)), lambda: (rand(1, 2, 3, 2),)),
)
def test_convolutions(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- normalization --------------------------------------------------------------------------------

@cases(
    ("BatchNorm1d-NC", lambda: nn.BatchNorm1d(3), lambda: (rand(4, 3),)),
    ("BatchNorm1d-NCL", lambda: nn.BatchNorm1d(2, momentum=None), lambda: (rand(2, 2, 3),)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(2), lambda: (rand(2, 2, 2, 3),)),
    ("BatchNorm2d-noaffine", lambda: nn.BatchNorm2d(2, affine=False), lambda: (rand(2, 2, 2, 2),)),
    ("BatchNorm2d-untracked", lambda: nn.BatchNorm2d(2, track_running_stats=False), lambda: (rand(2, 2, 2, 2),)),
)
def test_batch_norm_train(make_model: Any, make_inputs: Any) -> None:
    d = run(make_model, make_inputs, train=True)
    assert "Sum" in str(d.steps[0].forward.rhs)  # batch statistics, inline


@cases(
    ("BatchNorm1d", lambda: nn.BatchNorm1d(3), lambda: (rand(4, 3),)),
    ("BatchNorm2d", lambda: nn.BatchNorm2d(2), lambda: (rand(2, 2, 2, 3),)),
    ("BatchNorm2d-untracked", lambda: nn.BatchNorm2d(2, track_running_stats=False), lambda: (rand(2, 2, 2, 2),)),
)
def test_batch_norm_eval(make_model: Any, make_inputs: Any) -> None:
    torch.manual_seed(0)
    model = make_model().double()
    with torch.no_grad():
        if model.running_mean is not None:
            model.running_mean.uniform_(-1, 1)
            model.running_var.uniform_(0.5, 2)
    d = check(nn.Sequential(model.eval()), *make_inputs())
    assert ("mu" in str(d.steps[0].forward.rhs)) == (model.running_mean is not None)


@cases(
    ("F.batch_norm-train", lambda: Wrap(lambda s, x: F.batch_norm(x, None, None, s.n.weight, s.n.bias, True),
                                        n=nn.BatchNorm1d(2)), lambda: (rand(3, 2, 2),)),
    ("F.batch_norm-eval", lambda: Wrap(lambda s, x: F.batch_norm(x, torch.ones(2).double() * 0.1,
                                                                  torch.ones(2).double() * 2.0,
                                                                  training=False)), lambda: (rand(3, 2),)),
    ("LayerNorm", lambda: nn.LayerNorm(4), lambda: (rand(2, 3, 4),)),
    ("LayerNorm-2d-shape", lambda: nn.LayerNorm([2, 3]), lambda: (rand(2, 2, 3),)),
    ("LayerNorm-noaffine", lambda: nn.LayerNorm(3, elementwise_affine=False, eps=1e-3), lambda: (rand(4, 3),)),
    ("F.layer_norm", fn(lambda x: F.layer_norm(x, (3,), torch.arange(3.0).double(), None)), lambda: (rand(2, 3),)),
    ("GroupNorm-2of4", lambda: nn.GroupNorm(2, 4), lambda: (rand(2, 4, 3),)),
    ("GroupNorm-1", lambda: nn.GroupNorm(1, 3), lambda: (rand(2, 3, 2, 2),)),
    ("GroupNorm-per-channel", lambda: nn.GroupNorm(3, 3, affine=False), lambda: (rand(2, 3, 4),)),
    ("F.group_norm", fn(lambda x: F.group_norm(x, 2)), lambda: (rand(1, 4, 3),)),
    ("InstanceNorm2d", lambda: nn.InstanceNorm2d(2), lambda: (rand(2, 2, 2, 3),)),
    ("InstanceNorm2d-affine-unbatched", lambda: nn.InstanceNorm2d(2, affine=True), lambda: (rand(2, 3, 2),)),
    ("InstanceNorm1d", lambda: nn.InstanceNorm1d(2, affine=True), lambda: (rand(2, 2, 4),)),
    ("F.instance_norm", fn(lambda x: F.instance_norm(x)), lambda: (rand(1, 2, 2, 2),)),
)
def test_normalization(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs, train=True)


def test_instance_norm_eval_running_stats() -> None:
    torch.manual_seed(0)
    m = nn.InstanceNorm2d(2, affine=True, track_running_stats=True).double()
    with torch.no_grad():
        m.running_mean.uniform_(-1, 1)
        m.running_var.uniform_(0.5, 2)
    d = check(nn.Sequential(m.eval()), rand(1, 2, 2, 2))
    assert "var[c]" in str(d.steps[0].forward.rhs)


def test_batch_norm_running_update_formula() -> None:
    """The running-statistics update: its own formula (a note), and the numbers the module holds after one run."""
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(2, momentum=0.3).double()
    with torch.no_grad():
        bn.running_mean.copy_(torch.tensor([0.5, -1.0]))
        bn.running_var.copy_(torch.tensor([2.0, 0.25]))
    before = {k: getattr(bn, k).clone() for k in ("running_mean", "running_var")}
    x = rand(2, 2, 3, 3)
    d = st.derive(nn.Sequential(bn), x, verify=False)  # lowering runs the module once
    mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=True)
    want = {"running_mean": 0.7 * before["running_mean"] + 0.3 * mean,
            "running_var": 0.7 * before["running_var"] + 0.3 * var}  # torch's rule, computed here
    got = updated(d.steps[0])  # the notes' formulas evaluated from the buffers before the run
    assert sorted(got) == sorted(want)
    for k in want:
        assert torch.allclose(got[k], want[k], atol=ATOL), f"{k}: {got[k]} vs {want[k]}"
    notes = d.steps[0].notes
    assert len(notes) == 2
    assert notes[0].startswith(r"\mu_{c} \leftarrow 0.7\,\mu_{c} + 0.3 \cdot \frac{\sum_{n_{1}=0}^{1}")
    assert notes[1].startswith(r"\mathrm{var}_{c} \leftarrow 0.7\,\mathrm{var}_{c} + 0.3 \cdot \frac{18}{17}\left(")
    shown = [float(v) for v in notes[0].split(r"\left[")[-1].split(r"\right]")[0].split(",")]
    assert shown == pytest.approx(want["running_mean"].tolist(), abs=1e-4)


def test_running_update_checks_numbers_against_the_buffers() -> None:
    """Given the buffers before the run, the note's formula is evaluated and compared with the module's."""
    from symbolic_torch.frontend.call import Call, TensorArg
    from symbolic_torch.rules.normalization import running_update
    from symbolic_torch.verify.checks import update_row
    from symbolic_torch.verify.report import Row
    x = rand(3, 2, 2)
    before = {"running_mean": torch.tensor([0.1, 0.2], dtype=torch.float64),
              "running_var": torch.tensor([1.0, 3.0], dtype=torch.float64)}
    after = {"running_mean": 0.9 * before["running_mean"] + 0.1 * x.mean((0, 2)),
             "running_var": 0.9 * before["running_var"] + 0.1 * x.var((0, 2))}

    def rows(after: dict[str, torch.Tensor]) -> list[Row]:
        call = Call("bn", "BatchNorm1d", None, None, x)
        op = call.operand(TensorArg(x, "x", True, 0), "input", "x")
        call.out("n", "c", "i")
        running_update(call, op, 0.1, 1, before, after)
        assert [u.key for u in call.updates] == ["running_mean update", "running_var update"]
        return [update_row(call.node_name, u) for u in call.updates]
    assert all(r.ok for r in rows(after))
    mean, var = rows({**after, "running_var": after["running_var"] + 1e-6})
    assert mean.ok and not var.ok and var.max_abs_error == pytest.approx(1e-6)


# --- embedding ------------------------------------------------------------------------------------

IDX = torch.tensor([[1, 0, 3], [3, 3, 2]])


@cases(
    ("Embedding", lambda: nn.Embedding(5, 3), lambda: (IDX,)),
    ("Embedding-padding_idx", lambda: nn.Embedding(5, 3, padding_idx=3), lambda: (IDX,)),
    ("Embedding-negative-padding_idx", lambda: nn.Embedding(5, 2, padding_idx=-2), lambda: (IDX[0],)),
    ("Embedding-scalar-index", lambda: nn.Sequential(nn.Embedding(4, 2), nn.Linear(2, 2)), lambda: (torch.tensor(2),)),
    ("F.embedding", lambda: Wrap(lambda s, k: 2 * F.embedding(k, s.e.weight, padding_idx=0), e=nn.Embedding(4, 2)),
     lambda: (torch.tensor([0, 1, 0, 2]),)),
)
def test_embedding(make_model: Any, make_inputs: Any) -> None:
    torch.manual_seed(0)
    model = make_model().double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)  # the padding row is not zero: its value shows, its gradient stays 0
    check(model if isinstance(model, (nn.Sequential, Wrap)) else nn.Sequential(model), *make_inputs())


def test_embedding_options_not_covered() -> None:
    with pytest.raises(st.UnsupportedOpError, match="max_norm"):
        st.derive(nn.Sequential(nn.Embedding(4, 2, max_norm=1.0).double()), IDX[0])


# --- dropout in train mode ------------------------------------------------------------------------

def check_random(model: nn.Module, x: torch.Tensor, seed: int = 5, zero_gradient_ok: str = "") -> st.Derivation:
    """Like ``check`` for a random model: autograd replays the same seed, so the same mask."""
    torch.manual_seed(0)
    g = adjoint(model(x).shape)
    torch.manual_seed(seed)
    d = st.derive(model, x, grad_output=g)
    assert d.report is not None and d.report.ok, str(d.report)
    assert_closed(d)
    torch.manual_seed(seed)
    leaf = x.clone().requires_grad_(True)
    params = dict(model.named_parameters())
    grads = torch.autograd.grad(model(leaf), [leaf, *params.values()], g)
    compare(d.gradient_values(), dict(zip([d.input_names[0], *params], grads)), zero_gradient_ok)
    return d


@pytest.mark.parametrize("layer, shape", [
    (nn.Dropout(0.4), (3, 5)), (nn.Dropout1d(0.5), (2, 3, 4)), (nn.Dropout2d(0.5), (2, 3, 2, 2)),
    (nn.Dropout3d(0.5), (1, 3, 2, 1, 2)), (nn.Dropout(0.0), (2, 3))], ids=lambda v: str(v))
def test_dropout_train(layer: nn.Module, shape: tuple[int, ...]) -> None:
    model = nn.Sequential(nn.Linear(shape[-1], shape[-1]), layer).double().train()
    d = check_random(model, rand(*shape))
    step = d.steps[-1]
    if layer.p:
        mask = step.operand("mask")
        assert mask.source is None and not mask.differentiable  # a constant of the run
        assert set(mask.value.unique().tolist()) <= {0.0, 1 / (1 - layer.p)}
        assert str(step.forward.rhs).startswith("m[n, i")


def test_functional_dropout_train() -> None:
    d = check_random(Wrap(lambda s, x: F.dropout(x * 2, 0.5, True) + F.dropout(x, 0.3)), rand(4, 4))
    assert [s.op for s in d.steps] == ["mul", "dropout", "dropout", "add"]


# --- activations ----------------------------------------------------------------------------------

def act_input() -> tuple[torch.Tensor]:
    x = rand(2, 3, 4) * 3
    x[0, 0] = torch.tensor([-3.0, 3.0, 0.0, -0.5], dtype=torch.float64)  # the kinks
    return (x,)


@cases(
    ("PReLU", lambda: nn.PReLU(), act_input),
    ("PReLU-per-channel", lambda: nn.PReLU(3, init=0.1), act_input),
    ("F.prelu", lambda: Wrap(lambda s, x: F.prelu(x, s.p.weight), p=nn.PReLU(3)), act_input),
    ("ELU", lambda: nn.ELU(0.7), act_input),
    ("F.elu", fn(lambda x: F.elu(x, alpha=1.5)), act_input),
    ("Hardswish", lambda: nn.Hardswish(), act_input),
    ("F.hardswish", fn(F.hardswish), act_input),
    ("Mish", lambda: nn.Mish(), act_input),
    ("Softsign", lambda: nn.Softsign(), act_input),
    ("F.softsign", fn(F.softsign), act_input),
    ("LogSigmoid", lambda: nn.LogSigmoid(), act_input),
    ("F.logsigmoid", fn(F.logsigmoid), act_input),
    ("F.mish", fn(F.mish), act_input),
)
def test_activations(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


@pytest.mark.parametrize("layer", [nn.Hardsigmoid(), Wrap(lambda s, x: F.hardsigmoid(x))], ids=["module", "F"])
def test_hardsigmoid_exact_slope(layer: nn.Module) -> None:
    """Exact slope 1/6; torch's backward kernel uses 1/6 rounded to float32 (3e-8 off), even in float64."""
    model = layer if isinstance(layer, Wrap) else nn.Sequential(layer)
    (x,) = act_input()
    g = rand(*x.shape)
    d = st.derive(model, x, grad_output=g, verify=False)
    exact = torch.where((x > -3) & (x < 3), g / 6, 0.0)
    assert (d.gradient_values()[d.input_names[0]] - exact).abs().max().item() <= 1e-15
    report = d.verify()  # the float32 constant, nothing else: passed by the rule's tolerance, which says so
    assert report.ok and report.max_abs_error > 1e-10
    assert any("float32" in r.note for r in report.rows)


# --- upsampling -----------------------------------------------------------------------------------

@cases(
    ("nearest-x2", lambda: nn.Upsample(scale_factor=2), lambda: (rand(1, 2, 2, 3),)),
    ("nearest-size", lambda: nn.Upsample(size=(5, 7)), lambda: (rand(1, 1, 3, 4),)),
    ("nearest-x1.5", lambda: nn.Upsample(scale_factor=1.5), lambda: (rand(1, 1, 3, 4),)),
    ("nearest-down", lambda: nn.Upsample(size=(2, 3)), lambda: (rand(1, 1, 3, 4),)),
    ("nearest-1d", lambda: nn.Upsample(scale_factor=3), lambda: (rand(2, 2, 3),)),
    ("UpsamplingNearest2d", lambda: nn.UpsamplingNearest2d(size=(6, 9)), lambda: (rand(1, 1, 3, 4),)),
    ("nearest-exact", fn(lambda x: F.interpolate(x, scale_factor=(2, 1.5), mode="nearest-exact")),
     lambda: (rand(1, 1, 3, 4),)),
    ("bilinear-x2", lambda: nn.Upsample(scale_factor=2, mode="bilinear"), lambda: (rand(1, 2, 2, 3),)),
    ("bilinear-size", lambda: nn.Upsample(size=(5, 7), mode="bilinear"), lambda: (rand(1, 1, 3, 4),)),
    ("bilinear-align", lambda: nn.Upsample(size=(5, 7), mode="bilinear", align_corners=True),
     lambda: (rand(1, 1, 3, 4),)),
    ("bilinear-down", lambda: nn.Upsample(size=(2, 3), mode="bilinear"), lambda: (rand(1, 1, 3, 4),)),
    ("UpsamplingBilinear2d", lambda: nn.UpsamplingBilinear2d(scale_factor=2), lambda: (rand(1, 1, 3, 3),)),
    ("linear-1d", fn(lambda x: F.interpolate(x, size=7, mode="linear")), lambda: (rand(1, 2, 4),)),
    ("F.interpolate-bilinear", fn(lambda x: F.interpolate(x, scale_factor=1.5, mode="bilinear", align_corners=True)),
     lambda: (rand(1, 1, 2, 3),)),
)
def test_interpolate(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


# --- padding --------------------------------------------------------------------------------------

@cases(
    ("ZeroPad2d", lambda: nn.ZeroPad2d((1, 2, 0, 1)), lambda: (rand(1, 2, 3, 4),)),
    ("ConstantPad2d-value", lambda: nn.ConstantPad2d(1, 2.5), lambda: (rand(1, 1, 2, 3),)),
    ("ConstantPad1d", lambda: nn.ConstantPad1d((2, 0), -1.0), lambda: (rand(2, 3),)),
    ("ReflectionPad1d", lambda: nn.ReflectionPad1d(2), lambda: (rand(1, 2, 4),)),
    ("ReflectionPad2d", lambda: nn.ReflectionPad2d((1, 2, 2, 1)), lambda: (rand(1, 2, 3, 4),)),
    ("ReplicationPad2d", lambda: nn.ReplicationPad2d(2), lambda: (rand(1, 1, 3, 3),)),
    ("CircularPad1d", lambda: nn.CircularPad1d((1, 2)), lambda: (rand(1, 2, 3),)),
    ("F.pad-constant", fn(lambda x: F.pad(x, (2, 1, 1, 0), value=-1.0)), lambda: (rand(1, 2, 3, 4),)),
    ("F.pad-crop", fn(lambda x: F.pad(x, (-1, 1, 1, -1))), lambda: (rand(1, 2, 3, 4),)),
    ("F.pad-reflect", fn(lambda x: F.pad(x, (1, 1, 2, 0), mode="reflect")), lambda: (rand(1, 2, 3, 4),)),
    ("F.pad-replicate", fn(lambda x: F.pad(x, (0, 2), mode="replicate")), lambda: (rand(2, 3),)),
)
def test_pad(make_model: Any, make_inputs: Any) -> None:
    run(make_model, make_inputs)


def test_pad_gradients_are_closed_index_maps() -> None:
    d = run(lambda: nn.ZeroPad2d((1, 2, 0, 1)), lambda: (rand(1, 1, 2, 2),))
    assert str(d.steps[0].gradients["input"].rhs) == "ḡ[n, c, i, j + 1]"
    d = run(lambda: nn.ReflectionPad1d(1), lambda: (rand(1, 1, 3),))
    assert isinstance(d.steps[0].gradients["input"].rhs, sp.Sum)
