"""Beamer slides: one frame per step plus a title, compiled with latexmk and read back."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.printing.beamer import beamer_source

needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None, reason="TeX toolchain not installed (scripts/setup.sh)")


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))


def _text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout


def test_source_has_a_frame_per_step_and_a_title(swish) -> None:
    tex = beamer_source(swish, "SwishMLP")
    assert tex.count(r"\begin{frame}") == len(swish.steps) + 1
    assert r"\titlepage" in tex and r"\title{SwishMLP}" in tex
    assert tex.count("by latexify-py") == 2  # swish and squared_error, each once
    assert r"\begin{frame}{1. sigmoid (sigmoid)}" in tex


@pytest.mark.pdf
@needs_tex
def test_mlp_deck_compiles_one_page_per_step(mlp, tmp_path) -> None:
    pdf = mlp.to_beamer(tmp_path / "mlp.pdf", title="MLP")
    assert pdf == tmp_path / "mlp.pdf" and _pages(pdf) == len(mlp.steps) + 1
    text = _text(pdf)
    assert "0. fc1 (linear)" in text and "3. loss (mse" in text
    assert "every gradient verified against torch.autograd" in text
    assert f"−{-mlp['act'].at((1, 4)).value:.4g}" in text  # a worked element's value (−0.1227) on the tanh frame


def _lstm() -> st.Derivation:
    torch.manual_seed(0)
    return st.derive(torch.nn.LSTMCell(3, 4).double(), torch.randn(2, 3, dtype=torch.float64))


class _Attention(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.attn = torch.nn.MultiheadAttention(4, 2, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


def _attention() -> st.Derivation:
    torch.manual_seed(0)
    return st.derive(_Attention().double(), torch.randn(1, 3, 4, dtype=torch.float64))


@pytest.mark.pdf
@pytest.mark.slow
@needs_tex
@pytest.mark.parametrize("build", [_lstm, _attention], ids=["LSTMCell", "MultiheadAttention"])
def test_recurrent_and_attention_decks_fit_one_frame_per_step(build, tmp_path) -> None:
    d = build()
    assert d.verify().ok
    pdf = d.to_beamer(tmp_path / "deck.pdf")
    assert _pages(pdf) == len(d.steps) + 1
    assert "FAILED" not in _text(pdf)
