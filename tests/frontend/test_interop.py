"""Interop with libraries that wrap torch's functions (TorchLens, anything using functools.wraps).

Rule lookup keys functions by their identity after unwrapping, then by qualified name, so a rule
registered for ``torch.relu`` matches a wrapper of it and the other way round, in either order.
"""
from __future__ import annotations

import functools
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from symbolic_torch.frontend import table
from symbolic_torch.frontend.registry import FunctionTable, qualified_name, unwrapped_id

ROOT = Path(__file__).resolve().parents[2]


def _wraps(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper


def _torchlens_style(fn):
    """What TorchLens does to a C builtin: functools.wraps, then ``__wrapped__`` deleted, the id kept."""
    wrapper = _wraps(fn)
    del wrapper.__wrapped__
    wrapper.__tl_original_id__ = id(fn)
    return wrapper


def _renamed_only(fn):
    """A wrapper that keeps nothing of the original but its module and name."""
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    wrapper.__module__, wrapper.__name__ = fn.__module__, fn.__name__
    return wrapper


@pytest.mark.parametrize("wrap", [_wraps, _torchlens_style, lambda f: _wraps(_wraps(f))])
def test_a_wrapper_and_its_original_share_an_identity(wrap):
    assert unwrapped_id(wrap(torch.relu)) == id(torch.relu)
    assert unwrapped_id(wrap(F.relu)) == id(F.relu)
    assert unwrapped_id(torch.sigmoid) != id(torch.relu)


def test_qualified_names():
    assert qualified_name(torch.relu) == "torch.relu"
    assert qualified_name(F.relu) == "torch.nn.functional.relu"
    assert qualified_name(_renamed_only(torch.relu)) == "torch.relu"
    assert qualified_name(object()) is None


@pytest.mark.parametrize("wrap", [_wraps, _torchlens_style, _renamed_only])
def test_the_rule_table_sees_through_wrappers(wrap):
    relu = table.lookup("call_function", torch.relu)
    assert relu is not None and relu.name == "relu"
    assert table.lookup("call_function", wrap(torch.relu)) is relu
    assert table.lookup("call_function", wrap(F.conv2d)).name == table.lookup("call_function", F.conv2d).name
    assert table.is_constant("call_function", wrap(torch.ones_like))
    assert not table.is_constant("call_function", wrap(torch.relu))


@pytest.mark.parametrize("wrap", [_wraps, _torchlens_style, _renamed_only])
def test_a_table_filled_with_wrappers_finds_the_originals(wrap):
    t: FunctionTable[str] = FunctionTable({wrap(torch.relu): "relu", wrap(F.relu): "F.relu"})
    assert t.get(torch.relu) == "relu" and t.get(F.relu) == "F.relu"
    assert t.get(torch.sigmoid) is None and torch.sigmoid not in t
    with pytest.raises(KeyError):
        t[torch.tanh]


def test_a_name_two_entries_share_finds_neither():
    def a(): ...
    def b(): ...
    b.__qualname__ = b.__name__ = a.__name__
    t: FunctionTable[int] = FunctionTable({a: 1, b: 2})
    assert t.get(a) == 1 and t.get(b) == 2  # by identity
    assert t.get(_renamed_only(a)) is None  # by name: ambiguous, so no guess


def test_unrelated_targets_have_no_rule():
    def relu(x):  # a user's function of the same name lives in another module
        return x
    assert table.lookup("call_function", relu) is None
    assert table.lookup("call_function", [1, 2]) is None  # unhashable: no TypeError


_MODEL = """
import sys
import torch, torch.nn as nn, torch.nn.functional as F

class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.act = nn.ReLU(inplace=True)
        self.fc = nn.Linear(2 * 4 * 4, 3)

    def forward(self, x):
        h = self.act(self.conv(x))
        h = F.relu(torch.relu(h - 0.1) + 0.05 * h)
        return self.fc(h.flatten(1))

torch.manual_seed(0)
model = SmallCNN().double()
x = torch.randn(2, 1, 6, 6, dtype=torch.float64)
target = torch.tensor([0, 2])

def symbolic():
    import symbolic_torch
    d = symbolic_torch.derive(model, x, loss=nn.CrossEntropyLoss(), target=target)
    report = d.verify()
    assert report.ok, report.failures
    ops = [s.op for s in d.steps]
    assert ops.count("relu") == 3 and "conv" in " ".join(ops) and "linear" in ops, ops
    x_ = x.clone().requires_grad_()
    model.zero_grad()
    nn.CrossEntropyLoss()(model(x_), target).backward()
    grads = d.gradient_values()
    assert torch.allclose(grads["fc.weight"], model.fc.weight.grad, atol=1e-10, rtol=1e-8)
    assert torch.allclose(grads["conv.weight"], model.conv.weight.grad, atol=1e-10, rtol=1e-8)
    print("symbolic_torch ok", len(d.steps))
"""

_TORCHLENS = """
def torchlens_trace():
    import torchlens
    torchlens.trace(model, x)
    assert getattr(torch.relu, "__tl_original_id__", None) is not None, "TorchLens left torch.relu unwrapped"
    print("torchlens ok")
"""

_WRAPPING_LIBRARY = """
import functools
def wrap_torch():  # a library that wraps torch's functions and keeps no link back but their names
    for space, names in ((torch, ("relu", "ones_like")), (F, ("relu", "conv2d", "linear"))):
        for name in names:
            original = getattr(space, name)
            @functools.wraps(original)
            def wrapper(*args, _original=original, **kwargs):
                return _original(*args, **kwargs)
            del wrapper.__wrapped__
            setattr(space, name, wrapper)
    print("wrapped")
"""


def _run(script: str, steps: str) -> str:
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    code = textwrap.dedent(script) + "\n" + "\n".join(steps.split()) + "\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr[-4000:]
    return done.stdout


def test_a_library_that_wraps_torch_before_the_rules_load():
    out = _run(_MODEL + _WRAPPING_LIBRARY, "wrap_torch() symbolic()")
    assert out.split()[:3] == ["wrapped", "symbolic_torch", "ok"]


@pytest.mark.slow
@pytest.mark.parametrize("steps", ["torchlens_trace() symbolic()",
                                   "symbolic() torchlens_trace() symbolic()"])
def test_torchlens_in_either_order(steps):
    pytest.importorskip("torchlens")
    out = _run(_MODEL + _TORCHLENS, steps)
    assert out.count("symbolic_torch ok") == steps.count("symbolic()")
