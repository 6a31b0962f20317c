"""Every example in examples/ runs end to end, PDF included (so none can rot)."""
from __future__ import annotations

import importlib
import shutil
import subprocess
from pathlib import Path

import pytest

EXAMPLES = ["tiny_cnn", "mlp", "teaching_cnn"]


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
