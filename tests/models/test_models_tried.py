"""scripts/models_tried.py prints a Markdown row per model, and reads the Hugging Face module only if it is there."""
from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "models_tried.py"


def _script():
    spec = importlib.util.spec_from_file_location("models_tried", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_table_row_for_a_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert _script().main(["VGG block"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "| model | library | steps | derive time (s) | verification |"
    assert re.fullmatch(r"\| VGG block \| torchvision-style \| \d+ \| \d+\.\d \| ok \|", out[2]), out


def test_missing_hugging_face_module_is_a_note(monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    module = _script()
    monkeypatch.setattr(module, "HF_MODULE", "no_such_module_here")
    assert module.hf_cases() == []
    assert "no_such_module_here not read" in capsys.readouterr().err


def test_a_model_that_raises_is_a_row() -> None:
    module = _script()

    def build():
        raise ValueError("broken on purpose")
    line = module.row(module.Case("broken", "nowhere", build))
    assert line == "| broken | nowhere | – | – | ValueError: broken on purpose |"
