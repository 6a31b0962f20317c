"""PDF handouts: compiled with latexmk for real, read back with pdftotext and pdftoppm."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import symbolic_torch as st
from symbolic_torch.printing.pdf import RenderError

pytestmark = pytest.mark.pdf
needs_tex = pytest.mark.skipif(shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
                               reason="TeX toolchain not installed (scripts/setup.sh installs it)")


@needs_tex
def test_pdf_compiles_and_reads_back(tiny: st.Derivation, tmp_path: Path) -> None:
    pdf = tiny.to_pdf(tmp_path / "tiny.pdf")
    assert pdf == tmp_path / "tiny.pdf" and pdf.exists()
    assert (tmp_path / "tiny.tex").exists()
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for needle in ("conv1 (conv)", "relu (relu)", "pool (max_pool)", "fc (linear)", "loss (cross_entropy)",
                   "Worked example", "verified against autograd", "Verification against torch.autograd",
                   "conv1.weight"):
        assert needle in text, needle
    pages = subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")],
                           capture_output=True, check=True)
    pngs = sorted(tmp_path.glob("page*.png"))
    assert 2 <= len(pngs) <= 20
    assert not list(tmp_path.glob(".*partial"))


def test_missing_toolchain_writes_tex_then_errors(tiny: st.Derivation, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RenderError, match="latexmk"):
        tiny.to_pdf(tmp_path / "out" / "tiny.pdf")
    assert (tmp_path / "out" / "tiny.tex").exists()
    assert not (tmp_path / "out" / "tiny.pdf").exists()


@needs_tex
def test_failed_compile_leaves_no_pdf(tiny: st.Derivation, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from symbolic_torch.printing import pdf as pdf_mod
    real = pdf_mod.build_document

    def broken(*a, **k):  # type: ignore[no-untyped-def]
        doc = real(*a, **k)
        from pylatex.utils import NoEscape
        doc.append(NoEscape(r"\undefinedcommandthatbreaks"))
        return doc
    monkeypatch.setattr(pdf_mod, "build_document", broken)
    with pytest.raises(RenderError, match="latexmk failed"):
        tiny.to_pdf(tmp_path / "bad.pdf")
    assert (tmp_path / "bad.tex").exists()
    assert not (tmp_path / "bad.pdf").exists()


def test_to_latex_fragment(tiny: st.Derivation) -> None:
    text = tiny.to_latex()
    assert r"\paragraph{conv1 (conv)}" in text
    assert r"\frac{\partial L}{\partial w_{o,c,p,q}}" in text
    assert "verified against autograd" in text


@needs_tex
def test_unicode_and_underscore_names_compile(tmp_path: Path) -> None:
    import torch

    def f(x_in: torch.Tensor, α: torch.Tensor) -> torch.Tensor:
        return torch.tanh(x_in) * α
    d = st.derive(f, torch.randn(3, dtype=torch.float64), torch.randn(3, dtype=torch.float64))
    pdf = d.to_pdf(tmp_path / "names_1.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "x_in" in text.replace(" ", "_") or "x in" in text
    assert "α" in text


def test_the_run_section_says_what_the_gradients_are_of() -> None:
    """A scalar output without a loss is L with adjoint 1; a tensor output is a vector–Jacobian product."""
    from pylatex import Document

    from symbolic_torch.printing.pdf import _summary
    lin = torch.nn.Linear(3, 2).double()
    x = torch.randn(4, 3, dtype=torch.float64)
    for fn, said in ((lambda x: lin(x).pow(2).sum(), "returns a scalar L"), (lin, "No loss")):
        doc = Document()
        _summary(doc, st.derive(fn, x))
        assert said in doc.dumps()
