"""Progress bars: a bar per stage when asked for, none when not, the environment variable in auto mode."""
from __future__ import annotations

import pytest
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch import progress


def _model() -> tuple[nn.Module, torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    return model, torch.randn(5, 3, dtype=torch.float64)


def _derive(**kw: object) -> st.Derivation:
    model, x = _model()
    return st.derive(model, x, loss=nn.CrossEntropyLoss(), target=torch.tensor([0, 1, 1, 0, 1]), **kw)


def test_progress_true_shows_every_stage_with_its_total(capsys: pytest.CaptureFixture[str]) -> None:
    d = _derive(progress=True)
    err = capsys.readouterr().err
    steps, nodes = len(d.steps), len(d.run.gm.graph.nodes)
    assert steps == 4  # linear, tanh, linear, loss
    for name, total in [("lowering", nodes), ("deriving", steps), ("evaluating", steps), ("verifying", steps)]:
        assert name in err
        assert f"/{total} " in err  # the bar counts to the stage's total (nodes for lowering, steps else)
    assert d.report is not None and d.report.ok


def test_progress_false_and_verify_false(capsys: pytest.CaptureFixture[str]) -> None:
    _derive(progress=False)
    assert capsys.readouterr().err == ""
    d = _derive(progress=True, verify=False)
    err = capsys.readouterr().err
    assert "deriving" in err and "verifying" not in err and "evaluating" not in err  # nothing evaluated yet
    d.gradient_values()  # evaluated later, outside derive: auto mode, not a terminal, so no bar
    assert capsys.readouterr().err == ""


def test_auto_mode_follows_terminal_size_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(progress.ENV, raising=False)
    monkeypatch.setattr(progress, "_is_terminal", lambda: True)
    assert progress.wanted(None, progress.AUTO_MIN_STEPS)
    assert not progress.wanted(None, progress.AUTO_MIN_STEPS - 1)  # a short run: no bar
    monkeypatch.setenv(progress.ENV, "0")
    assert not progress.wanted(None, 10_000)
    assert progress.wanted(True, 1)  # an explicit argument wins over the environment
    monkeypatch.setattr(progress, "_is_terminal", lambda: False)
    monkeypatch.setenv(progress.ENV, "1")
    assert progress.wanted(None, 1)
    monkeypatch.delenv(progress.ENV)
    assert not progress.wanted(None, 10_000)  # not a terminal
    assert not progress.wanted(False, 10_000)


def test_environment_variable_turns_auto_bars_off(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(progress, "_is_terminal", lambda: True)
    monkeypatch.setattr(progress, "AUTO_MIN_STEPS", 1)
    monkeypatch.setenv(progress.ENV, "0")
    _derive()
    assert capsys.readouterr().err == ""
    monkeypatch.delenv(progress.ENV)
    _derive()
    assert "verifying" in capsys.readouterr().err


def test_sessions_nest_and_stages_outside_them_are_silent(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.stage("deriving", 3) as bar:
        bar.update()
    assert capsys.readouterr().err == "" and not progress.active()
    with progress.session(True, 1):
        with progress.session(None, 1):  # Derivation.verify inside derive keeps derive's choice
            assert progress.active()
        with progress.session(False, 1):
            assert not progress.active()
    assert not progress.active()


def test_progress_false_wins_over_the_environment_in_every_stage(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """An explicit ``progress=False`` keeps verification and the chain (inner sessions) silent too."""
    monkeypatch.setenv(progress.ENV, "1")
    _derive(progress=False)
    assert capsys.readouterr().err == ""
