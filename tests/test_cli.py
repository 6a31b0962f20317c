"""The symbolic-torch command line."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from symbolic_torch.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_cli_writes_tex(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["derive", str(ROOT / "examples" / "tiny_cnn.py") + ":TinyCNN", "--input-shape", "1,1,8,8",
               "--position", "0,0,4,4", "--loss", "cross_entropy", "--target", "1",
               "--out", str(tmp_path), "--no-pdf"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "conv1[0, 0, 4, 4]" in out and "(10 terms)" in out
    assert "all derived gradients agree" in out
    assert (tmp_path / "tiny_cnn.tex").exists()


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("latexmk") is None, reason="TeX toolchain not installed")
def test_console_script_writes_pdf(tmp_path: Path) -> None:
    exe = shutil.which("symbolic-torch") or f"{sys.executable} -m symbolic_torch.cli"
    cmd = exe.split() + ["derive", "examples/tiny_cnn.py:TinyCNN", "--input-shape", "1,1,8,8",
                         "--position", "0,0,4,4", "--out", str(tmp_path)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "tiny_cnn.pdf").exists() and (tmp_path / "tiny_cnn.tex").exists()


def test_cli_reports_unsupported_op(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = tmp_path / "m.py"
    model.write_text("import torch\n\ndef f(x):\n    return torch.linalg.eigvalsh(x.unsqueeze(1) * x.unsqueeze(0))\n")
    rc = main(["derive", f"{model}:f", "--input-shape", "3", "--out", str(tmp_path), "--no-pdf"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "UnsupportedOpError" in err and "eigvalsh" in err
    assert not (tmp_path / "f.tex").exists()


def test_cli_saves_the_derivation_and_exports_the_graph(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    import symbolic_torch as st
    rc = main(["derive", str(ROOT / "examples" / "mlp.py") + ":MLP", "--input-shape", "3,4",
               "--out", str(tmp_path), "--no-pdf", "--save", "--json", "--svg"])
    assert rc == 0
    loaded = st.load(tmp_path / "mlp.zip")
    graph = json.loads((tmp_path / "mlp.json").read_text())
    assert [n["id"] for n in graph["nodes"] if n["kind"] == "step"] == [s.name for s in loaded.steps]
    assert graph["totals"]["params"] == 4 * 8 + 8 + 8 * 2 + 2 and loaded.verify().ok
    assert "<title>fc1</title>" in (tmp_path / "mlp.svg").read_text()
    assert "wrote " + str(tmp_path / "mlp.svg") in capsys.readouterr().out
