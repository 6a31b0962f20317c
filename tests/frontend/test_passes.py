"""The capture passes one at a time (trace, in-place rewriting, export, loss) and the call view's helpers."""
from __future__ import annotations

import operator

import pytest
import sympy as sp
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from symbolic_torch.errors import CaptureError
from symbolic_torch.frontend.call import Call, TensorArg
from symbolic_torch.frontend.export import export
from symbolic_torch.frontend.inplace import Aliased, functionalize
from symbolic_torch.frontend.loss import LOSS_PATH, TARGET_NAME, append_loss
from symbolic_torch.frontend.trace import NO_GRAD, Tracer, trace


def ops(gm: fx.GraphModule) -> list[tuple[str, object]]:
    return [(n.op, n.target) for n in gm.graph.nodes if n.op not in ("placeholder", "output")]


def test_trace_marks_no_grad_blocks_and_keeps_leaf_modules() -> None:
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(3, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                s = x.sum()
            return self.lin(x) * s
    gm = trace(M(), (torch.randn(2, 3),))
    marked = {n.name for n in gm.graph.nodes if n.meta.get(NO_GRAD)}
    assert marked == {"sum_1"}
    assert ("call_module", "lin") in ops(gm)  # nn.Linear has a rule: one step, not traced into


def test_example_value_runs_the_graph_so_far_and_leaves_the_rng_alone() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5)).train()
    x = torch.randn(2, 3)
    tracer = Tracer((x,))
    graph = tracer.trace(model)
    node = next(n for n in graph.nodes if n.target == "0")
    before = torch.random.get_rng_state()
    value = tracer.example_value(node)
    assert torch.equal(torch.random.get_rng_state(), before)
    assert torch.allclose(value, model[0](x))
    dropped = tracer.example_value(next(n for n in graph.nodes if n.target == "1"))  # draws, then restores
    assert dropped.shape == (2, 4) and torch.equal(torch.random.get_rng_state(), before)


def test_functionalize_rewires_readers_to_the_new_value() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        y = x * 2
        y.add_(1)
        y += 3
        return torch.relu_(y) * y
    x = torch.randn(5)
    gm = fx.symbolic_trace(f)
    functionalize(gm, (x,))
    assert [t for _, t in ops(gm)] == [operator.mul, "add", operator.add, torch.relu, operator.mul]
    assert torch.equal(gm(x.clone()), f(x.clone()))


def test_functionalize_refuses_a_write_through_a_view() -> None:
    def f(x: torch.Tensor) -> torch.Tensor:
        y = x * 1
        v = y[0]
        v.mul_(3)
        return y + v
    gm = fx.symbolic_trace(f)
    with pytest.raises(Aliased, match="shares memory"):
        functionalize(gm, (torch.randn(3, 2),))


def test_inplace_module_becomes_its_out_of_place_twin() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(inplace=True))
    gm = fx.symbolic_trace(model)
    functionalize(gm, (torch.randn(1, 2),))
    assert gm.get_submodule("1").inplace is False and model[1].inplace is True  # the model is left as it was


def test_export_captures_what_fx_cannot_and_names_both_failures() -> None:
    def branch(x: torch.Tensor) -> torch.Tensor:
        return x.relu() if x.shape[0] > 1 else x
    gm = export(branch, (torch.randn(3, 2),), RuntimeError("fx"))
    assert torch.equal(gm(torch.ones(3, 2) * -1), torch.zeros(3, 2))

    def by_value(x: torch.Tensor) -> torch.Tensor:
        return x if x.sum() > 0 else -x
    with pytest.raises(CaptureError, match="symbolic_trace failed: RuntimeError: fx") as info:
        export(by_value, (torch.randn(3),), RuntimeError("fx"))
    assert "torch.export.export failed too" in str(info.value)


def test_loss_with_a_rule_is_one_module_node() -> None:
    gm = fx.symbolic_trace(nn.Linear(3, 2))
    append_loss(gm, nn.MSELoss())
    placeholders = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    assert placeholders[-1] == TARGET_NAME
    assert ops(gm)[-1] == ("call_module", LOSS_PATH)


def test_loss_without_a_rule_is_traced_into_the_graph() -> None:
    lin = nn.Linear(3, 4)
    gm = fx.symbolic_trace(lin)
    append_loss(gm, lambda y, t: F.cross_entropy(y.view(-1, 2), t.view(-1)))
    targets = [t for _, t in ops(gm)]
    assert "view" in targets and F.cross_entropy in targets
    x, t = torch.randn(5, 3), torch.randint(0, 2, (10,))
    assert torch.allclose(gm(x, t), F.cross_entropy(lin(x).view(-1, 2), t))


def test_loss_needs_a_single_output() -> None:
    gm = fx.symbolic_trace(lambda x: (x, x * 2))
    with pytest.raises(CaptureError, match="single tensor"):
        append_loss(gm, nn.MSELoss())


def make_call(out: torch.Tensor) -> Call:
    return Call("node", "target", None, None, out)


def test_call_evaluate_reads_the_declared_operands() -> None:
    x = torch.randn(3, 2, dtype=torch.float64)
    call = make_call(x * 2 + 1)
    op = call.operand(TensorArg(x, "x", True, 0), "input", "x")
    i, j = call.out("i", "j")
    assert torch.allclose(call.evaluate(2 * op[i, j] + 1), x * 2 + 1)
    k = sp.Symbol("k", integer=True)  # over another range, with a tensor of its own
    got = call.evaluate(op[k, 0] + sp.IndexedBase("b")[k], (k,), (3,), {"b": torch.ones(3, dtype=torch.float64)})
    assert torch.allclose(got, x[:, 0] + 1)


def test_call_replay_draws_the_nodes_numbers_and_restores_the_generator() -> None:
    call = make_call(torch.zeros(1))
    call.rng_state = torch.random.get_rng_state()
    first = torch.rand(4)
    after = torch.random.get_rng_state()
    assert torch.equal(call.replay(torch.rand, 4), first)
    assert torch.equal(torch.random.get_rng_state(), after)
    with pytest.raises(ZeroDivisionError):
        call.replay(lambda: (torch.rand(2), 1 / 0))
    assert torch.equal(torch.random.get_rng_state(), after)
