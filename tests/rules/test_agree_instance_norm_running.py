"""InstanceNorm with track_running_stats=True: train mode (input statistics; the running update as a note,
checked against the buffers the run left) and eval mode (the running statistics)."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import symbolic_torch as st
from conftest import ATOL, check, rand, updated

LAYERS = [
    (lambda: nn.InstanceNorm1d(3, track_running_stats=True, momentum=0.3), (2, 3, 5)),
    (lambda: nn.InstanceNorm1d(3, affine=True, track_running_stats=True), (3, 4)),  # unbatched (C, L)
    (lambda: nn.InstanceNorm2d(2, affine=True, track_running_stats=True), (3, 2, 2, 3)),
    (lambda: nn.InstanceNorm2d(2, track_running_stats=True), (1, 2, 3, 3)),
    (lambda: nn.InstanceNorm3d(2, affine=True, track_running_stats=True, momentum=None), (2, 2, 2, 2, 2)),
    (lambda: nn.InstanceNorm3d(2, track_running_stats=True, momentum=0.5), (2, 2, 1, 2, 3)),
]


def layer(make: object) -> nn.Module:
    torch.manual_seed(0)
    m = make().double()  # type: ignore[operator]
    with torch.no_grad():
        m.running_mean.uniform_(-1, 1)
        m.running_var.uniform_(0.5, 2)
        if m.affine:
            m.weight.uniform_(0.5, 1.5)
            m.bias.uniform_(-0.5, 0.5)
    return m


def expected_update(m: nn.Module, x: torch.Tensor, before: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torch's rule, computed here: the per-sample update averaged over the batch."""
    xb = x if x.dim() == m._get_no_batch_dim() + 1 else x.unsqueeze(0)
    dims = tuple(range(2, xb.dim()))
    mom = m.momentum if m.momentum is not None else 0.0
    mean = xb.mean(dims).mean(0)
    var = xb.var(dims, unbiased=True).mean(0)
    return {"running_mean": (1 - mom) * before["running_mean"] + mom * mean,
            "running_var": (1 - mom) * before["running_var"] + mom * var}


@pytest.mark.parametrize("make, shape", LAYERS, ids=[f"{k}-{s}" for k, (_, s) in enumerate(LAYERS)])
def test_instance_norm_train_running_stats(make: object, shape: tuple[int, ...]) -> None:
    m = layer(make).train()
    x = rand(*shape)
    check(nn.Sequential(m), x)  # runs the module twice: once here, once in derive (buffers updated each time)
    before = {k: getattr(m, k).clone() for k in ("running_mean", "running_var")}
    d = st.derive(nn.Sequential(m), x, verify=False)
    want = expected_update(m, x, before)
    step = d.steps[0]
    got = updated(step)  # the notes' formulas, evaluated: symbolic_torch's update, not the module's buffers
    assert sorted(got) == ["running_mean", "running_var"]
    for k in want:
        assert torch.allclose(got[k], want[k], atol=ATOL), f"{k}: {got[k]} vs torch's rule {want[k]}"
    assert "mu" not in str(step.forward.rhs)  # train mode: input statistics
    mean_note, var_note = step.notes
    assert mean_note.startswith(r"\mu_{c} \leftarrow") and var_note.startswith(r"\mathrm{var}_{c} \leftarrow")
    shown = [float(v) for v in var_note.split(r"\left[")[-1].split(r"\right]")[0].split(",")]
    assert shown == pytest.approx(want["running_var"].tolist(), rel=1e-3)  # what torch's rule gives
    if shape[0] > 1 and len(shape) > m._get_no_batch_dim():  # a batch: the mean over samples is shown
        assert rf"\frac{{1}}{{{shape[0]}}}\left(\sum_{{n_{{1}}=0}}^{{{shape[0] - 1}}}" in mean_note


@pytest.mark.parametrize("make, shape", LAYERS, ids=[f"{k}-{s}" for k, (_, s) in enumerate(LAYERS)])
def test_instance_norm_eval_running_stats(make: object, shape: tuple[int, ...]) -> None:
    m = layer(make).eval()
    d = check(nn.Sequential(m), rand(*shape))
    assert "var[c]" in str(d.steps[0].forward.rhs) and not d.steps[0].notes


def test_instance_norm_update_mismatch_is_caught() -> None:
    """Given the buffers before the run, the note's formula is evaluated and compared with the module's."""
    from symbolic_torch.frontend.call import Call, TensorArg
    from symbolic_torch.rules.normalization import running_update
    from symbolic_torch.verify.checks import update_row
    from symbolic_torch.verify.report import Row
    x = rand(3, 2, 4)
    before = {"running_mean": torch.tensor([0.1, 0.2], dtype=torch.float64),
              "running_var": torch.tensor([1.0, 3.0], dtype=torch.float64)}
    after = {"running_mean": 0.9 * before["running_mean"] + 0.1 * x.mean(2).mean(0),
             "running_var": 0.9 * before["running_var"] + 0.1 * x.var(2).mean(0)}

    def rows(after: dict[str, torch.Tensor]) -> list[Row]:
        call = Call("in", "InstanceNorm1d", None, None, x)
        op = call.operand(TensorArg(x, "x", True, 0), "input", "x")
        call.out("n", "c", "i")
        running_update(call, op, 0.1, 0, before, after, channel=1)
        assert [u.key for u in call.updates] == ["running_mean update", "running_var update"]
        return [update_row(call.node_name, u) for u in call.updates]
    assert all(r.ok for r in rows(after))
    mean, var = rows({**after, "running_var": 0.9 * before["running_var"] + 0.1 * x.var((0, 2))})
    assert mean.ok and not var.ok  # BatchNorm's pooled variance is not InstanceNorm's


def test_functional_instance_norm_updating_running_stats() -> None:
    """F.instance_norm(use_input_stats=True) with running buffers: input statistics, the update noted."""
    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.register_buffer("rm", torch.zeros(3, dtype=torch.float64))
            self.register_buffer("rv", torch.ones(3, dtype=torch.float64))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return F.instance_norm(x, self.rm, self.rv, momentum=0.2)
    net = Net()
    x = rand(2, 3, 4)
    check(net, x)
    net.rm.zero_()
    net.rv.fill_(1.0)
    d = st.derive(net, x, verify=False)  # one run
    step = next(s for s in d.steps if s.op == "instance_norm_fn")
    got = updated(step, {"running_mean": torch.zeros(3, dtype=torch.float64),
                         "running_var": torch.ones(3, dtype=torch.float64)})
    assert torch.allclose(got["running_mean"], 0.2 * x.mean(2).mean(0), atol=ATOL)
    assert torch.allclose(got["running_var"], 0.8 + 0.2 * x.var(2).mean(0), atol=ATOL)
    assert len(step.notes) == 2
    assert all("(not checked)" in n for n in step.notes)  # no values before a function call to check it with
    shown = [float(v) for v in step.notes[0].split(r"\left[")[-1].split(r"\right]")[0].split(",")]
    assert shown == pytest.approx((0.2 * x.mean(2).mean(0)).tolist(), rel=1e-3)  # torch's rule's values
