"""Every example in examples/ runs end to end, PDF included (so none can rot)."""
from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = ["tiny_cnn", "mlp", "teaching_cnn", "lstm_cell", "attention"]


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="TeX toolchain not installed (scripts/setup.sh)")
@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs(name: str, tmp_path: Path) -> None:
    module = importlib.import_module(f"examples.{name}")
    out = Path(module.main(tmp_path))
    assert out.exists() and out.suffix == ".pdf"
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert "Verification against torch.autograd" in text
    assert "FAILED" not in text


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="TeX toolchain not installed (scripts/setup.sh)")
def test_teaching_cnn_walkthrough(tmp_path: Path) -> None:
    """Three SGD iterations of the teaching CNN: verified against torch.optim (strict), one
    section per iteration in the PDF."""
    from examples.teaching_cnn import walkthrough
    out = Path(walkthrough(tmp_path))
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True, check=True).stdout
    assert all(f"Iteration {t}" in text for t in (1, 2, 3)) and "FAILED" not in text


@pytest.mark.parametrize("name,ops", [("lstm_cell", {"sigmoid", "tanh", "cross_entropy"}),
                                      ("attention", {"softmax", "matmul", "mse_loss"})])
def test_recurrent_and_attention_examples_verify(name: str, ops: set[str]) -> None:
    d = importlib.import_module(f"examples.{name}").derivation()
    assert d.report is not None and d.report.ok and d.report.max_abs_error < 1e-10
    assert ops <= {s.op for s in d.steps}
