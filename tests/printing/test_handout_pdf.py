"""The handout compiled for real (latexmk) for examples/tiny_cnn.py, examples/mlp.py and a
ResNet-18 (width 4, 16×16), then read back: pdftotext for the numbers, sentences, size
formulas, traced adjoints, 1/N and the appendix; pdfinfo for the pages; pdftoppm for ink."""
from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
import torch
from torch import nn

import symbolic_torch as st
from examples.mlp import MLP
from examples.resnet import ResNet18
from symbolic_torch.ir.element import fmt
from symbolic_torch.printing.formulas import forward_element
from symbolic_torch.printing.model_table import total_params
from symbolic_torch.printing.sentences import sentence
from symbolic_torch.printing.worked_choice import choose

pytestmark = [pytest.mark.pdf, pytest.mark.skipif(
    shutil.which("latexmk") is None or shutil.which("pdftotext") is None,
    reason="TeX toolchain not installed (scripts/setup.sh installs it)")]


def read_back(pdf: Path) -> str:
    """The PDF's text, whitespace collapsed, TeX's minus read as '-'."""
    raw = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    return unicodedata.normalize("NFC", re.sub(r"\s+", " ", raw.replace("\u2212", "-")))


def pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]


def ink(pdf: Path, page: int, tmp: Path) -> float:
    """The fraction of a page's pixels that are not white (page rendered at 30 dpi, grey)."""
    subprocess.run(["pdftoppm", "-gray", "-r", "30", "-f", str(page), "-l", str(page), str(pdf), str(tmp / "pg")],
                   check=True)
    data = next(tmp.glob("pg*.pgm")).read_bytes()
    _, w, h, _, pixels = data.split(maxsplit=4)
    body = pixels[-int(w) * int(h):]
    return sum(1 for b in body if b < 200) / len(body)


def _number(v: float) -> str:
    """A value as the PDF prints it (fmt's LaTeX, read back as text)."""
    return fmt(v).replace(r" \cdot 10^{", " · 10").replace("}", "")


def check_worked_numbers(d: st.Derivation, text: str, steps: list[str]) -> None:
    """The worked elements' values, as ``step.at(pos)`` gives them, are in the PDF."""
    for name in steps:
        step = d[name]
        c = choose(step)
        assert forward_element(step, c.forward).value == step.at(c.forward).value
        said = f"output element {tuple(c.forward)}".replace(",)", ")") if c.forward else "the output (a scalar)"
        assert f"Forward, {said}:" in text, name
        assert f"= {_number(step.at(c.forward).value)}" in text, (name, _number(step.at(c.forward).value))
        if c.key is not None:
            g = step.grad_at(c.key, c.backward)
            assert g.value != 0
            assert f"Backward, gradient of {c.key} at {tuple(c.backward)}".replace(",)", ")") in text, name
            assert f"= {_number(g.value)}" in text, (name, _number(g.value))


def test_tiny_cnn_handout(tiny: st.Derivation, tmp_path: Path) -> None:
    pdf = tiny.to_pdf(tmp_path / "tiny.pdf")
    text = read_back(pdf)
    check_worked_numbers(tiny, text, ["conv1", "relu", "pool", "fc", "loss"])
    assert sentence(tiny["conv1"]) in text
    assert "(8 + 2 · 0 - 1 · (3 - 1) - 1)/1⌋ + 1 = 6" in text.replace(" / ", "/")
    assert "(6 + 2 · 0 - 1 · (2 - 1) - 1)/2⌋ + 1 = 3" in text.replace(" / ", "/")
    assert "4 · 3 · 3 = 36" in text
    assert "averaged over the N = 1 term (reduction 'mean')" in text.replace("\u2019", "'")
    assert r"L = \frac{1}{1} \sum_{n=0}^{0}" in (tmp_path / "tiny.tex").read_text()
    assert "Where the ḡ values come from:" in text and "from ∂L/∂x of relu" in text
    assert "∂L/∂L = 1" in text
    assert re.search(r"total \(6 steps\)( \d+)? 410 ", text) and "The computation graph" in text
    assert "Notation" in text and "Iverson bracket" in text and "Index names" in text
    assert "Verification. forward: max abs error" in text and "FAILED" not in text
    assert 4 <= pages(pdf) <= 12
    assert ink(pdf, 1, tmp_path) > 0.01


def test_positions_choose_the_worked_elements(tiny: st.Derivation, tmp_path: Path) -> None:
    pdf = tiny.to_pdf(tmp_path / "pos.pdf", positions={"conv1": {"forward": (0, 0, 4, 4), "input": (0, 0, 3, 3)}})
    text = read_back(pdf)
    assert "Forward, output element (0, 0, 4, 4)" in text
    assert f"= {_number(tiny['conv1'].at((0, 0, 4, 4)).value)}" in text
    assert f"Backward, gradient of input at (0, 0, 3, 3)" in text
    assert f"= {_number(tiny['conv1'].grad_at('input', (0, 0, 3, 3)).value)}" in text


def test_mlp_handout(tmp_path: Path) -> None:
    torch.manual_seed(0)
    d = st.derive(MLP().double(), torch.randn(3, 4, dtype=torch.float64), loss=nn.MSELoss(),
                  target=torch.randn(3, 2, dtype=torch.float64))
    pdf = d.to_pdf(tmp_path / "mlp.pdf")
    text = read_back(pdf)
    check_worked_numbers(d, text, ["fc1", "act", "fc2", "loss"])
    assert "A fully connected (linear) layer: each of the 8 outputs" in text
    assert "Fin = 4 → Fout = 8" in text.replace("F in", "Fin").replace("F out", "Fout")
    assert "averaged over the N = 6 terms" in text and "the mean over N = 6" in text
    assert r"\frac{1}{6} \sum" in (tmp_path / "mlp.tex").read_text()
    assert "Notation" in text and re.search(r"total \(4 steps\)( \d+)? 58 ", text)  # a page number may fall between
    assert 3 <= pages(pdf) <= 10 and ink(pdf, 2, tmp_path) > 0.01


@pytest.mark.slow
def test_resnet18_handout(tmp_path: Path) -> None:
    """A 70-step ResNet-18: the graph still fits (cut into columns), residual adjoints are sums."""
    torch.manual_seed(0)
    model = ResNet18(width=4).double().eval()
    d = st.derive(model, torch.randn(2, 3, 16, 16, dtype=torch.float64), loss=nn.CrossEntropyLoss(),
                  target=torch.tensor([0, 3]))
    pdf = d.to_pdf(tmp_path / "resnet.pdf")
    text = read_back(pdf)
    tex = (tmp_path / "resnet.tex").read_text()
    graph = tex[tex.index(r"\begin{tikzpicture}"):tex.index(r"\end{tikzpicture}")]
    assert graph.count(r"\node[draw") == len(d.steps) + 2 and r"(c1a)" in graph  # columns joined by connectors
    assert total_params(d) == sum(p.numel() for p in model.parameters())
    total = f"{total_params(d):,}".replace(",", " ")
    assert re.search(rf"total \({len(d.steps)} steps\)( \d+)? {total} ", text.replace("\u2009", " "))
    check_worked_numbers(d, text, ["conv1", "maxpool", "layer2.0.downsample.0", "avgpool", "fc"])
    assert "(16 + 2 · 3 - 1 · (7 - 1) - 1)/2⌋ + 1 = 8" in text.replace(" / ", "/")  # the stem's 7×7/2 conv
    assert re.search(r"ḡ[\d,]+ = \S+ = \S+ \(∂L/∂x of layer1_0_conv1\) \+ \S+ \(∂L/∂v of add\)", text)
    assert "Adaptive average pooling" in text and "averaged over the N = 2 terms" in text
    assert pages(pdf) <= 90 and ink(pdf, 1, tmp_path) > 0.01


def test_long_worked_lines_still_compile(tmp_path: Path) -> None:
    """An attention element's numbers run to thousands of characters: broken into rows (or noted),
    never a box TeX cannot measure."""
    q = torch.randn(1, 2, 3, 4, dtype=torch.float64)
    d = st.derive(lambda q: torch.nn.functional.scaled_dot_product_attention(q, q, q).sum(), q)
    text = read_back(d.to_pdf(tmp_path / "sdpa.pdf"))
    assert f"= {_number(d.steps[0].at(choose(d.steps[0]).forward).value)}" in text
