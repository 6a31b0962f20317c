"""The walkthrough as a PDF (compiled by latexmk, read back with pdftotext) and from the CLI."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import symbolic_torch as st
from symbolic_torch.cli import main

ROOT = Path(__file__).resolve().parents[2]
needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None, reason="TeX toolchain not installed")


def _pdf_text(path: Path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout


def test_latex_fragment_has_a_section_per_iteration(cnn_case) -> None:
    model, inputs, target, loss = cnn_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="sgd", lr=0.5, momentum=0.9, steps=2)
    tex = w.to_latex()
    assert tex.count(r"\section{Iteration") == 2 and r"\section{Losses}" in tex
    assert r"b^{(t)}_{i,j,k,l} &= \mu b^{(t-1)}_{i,j,k,l}" in tex  # the conv weight's buffer at t = 2
    assert f"{w.losses[1]:.12g}" in tex


@pytest.mark.pdf
@needs_tex
def test_pdf_shows_every_iteration_and_loss(cnn_case, tmp_path: Path) -> None:
    model, inputs, target, loss = cnn_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="adam", lr=0.05, steps=3)
    pdf = w.to_pdf(tmp_path / "walk.pdf")
    text = _pdf_text(pdf)
    for t in (1, 2, 3):
        assert f"Iteration {t}" in text
    for value in w.losses:
        assert f"{value:.4g}" in text and f"{value:.12g}" in text
    assert "Update of fc.weight" in text and "FAILED" not in text
    assert "equal to torch.optim" in text


@pytest.mark.pdf
@needs_tex
def test_cli_train_steps_writes_the_walkthrough(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["derive", str(ROOT / "examples" / "teaching_cnn.py") + ":TeachingCNN", "--input-shape", "1,1,4,4",
               "--loss", "cross_entropy", "--target", "1", "--train-steps", "2", "--optimizer", "sgd",
               "--lr", "0.5", "--momentum", "0.9", "--out", str(tmp_path)])
    assert rc == 0
    out = capsys.readouterr().out
    assert "iteration 2: loss" in out and "equals torch.optim's" in out
    text = _pdf_text(tmp_path / "teaching_cnn_train.pdf")
    assert "Iteration 2" in text and "Optimizer: SGD" in text


def test_cli_train_steps_needs_a_loss(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="needs a loss"):
        main(["derive", str(ROOT / "examples" / "mlp.py") + ":MLP", "--input-shape", "3,4",
              "--train-steps", "2", "--out", str(tmp_path), "--no-pdf"])


def test_small_numbers_in_the_values_table_are_math(mlp_case) -> None:
    """Adam's second moment is tiny (1e-6): its cell is printed as math, so the PDF compiles."""
    model, inputs, target, loss = mlp_case
    w = st.train_steps(model, *inputs, target=target, loss=loss, optimizer="adam", lr=0.05, steps=1)
    u = w.updates["fc1.weight"][0]
    v = float(u.state_after["exp_avg_sq"][u.position])
    assert v < 1e-3
    from symbolic_torch.ir.element import fmt
    assert rf"exp\_avg\_sq & $0$ & ${fmt(v)}$ \\" in w.to_latex()
