"""``summary``: rows, totals and renderings; AlexNet at 224×224 against fvcore and FlopCounterMode."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

import symbolic_torch as st
from symbolic_torch.analysis.summary import summary

try:
    from models import AlexNet
    from references import counter_flops, fvcore_macs
except ImportError:  # tests/analysis as a package
    from .models import AlexNet
    from .references import counter_flops, fvcore_macs


def test_the_issue_conv_row():
    s = summary(nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False), torch.randn(1, 3, 224, 224))
    (row,) = s.rows
    assert (row.output_shape, row.params, row.macs, row.flops) == ((1, 64, 112, 112), 9408, 118_013_952, 236_027_904)
    assert row.activation_bytes == 3_211_264
    assert row.grad_bytes == (3 * 224 * 224 + 9408) * 4  # ∂L/∂x and ∂L/∂w, float32
    assert (s.total_params, s.total_macs, s.total_flops) == (9408, 118_013_952, 236_027_904)


def test_alexnet_at_224_in_seconds_matches_fvcore_and_flop_counter():
    torch.manual_seed(0)
    m = AlexNet().eval()
    x = torch.randn(1, 3, 224, 224)
    start = time.perf_counter()
    s = summary(m, x)
    elapsed = time.perf_counter() - start
    assert elapsed < 30, f"summary took {elapsed:.1f} s"
    assert s.total_params == sum(p.numel() for p in m.parameters()) == 61_100_840
    ref = fvcore_macs(m, x)
    assert s.total_macs == ref["conv"] + ref["linear"] == 714_188_480
    assert s.total_flops == counter_flops(m, x)
    assert [r.name for r in s.rows if r.macs][:2] == ["features.0", "features.3"]


def test_resnet18_layout_in_eval_mode_matches_fvcore_and_flop_counter():
    """Convolutions with strides and 1×1 shortcuts, eval-mode batch norm (no Σ, so no MACs), residual
    adds, adaptive pooling and the head: the MACs are fvcore's conv + linear, the FLOPs FlopCounterMode's."""
    from examples.resnet import ResNet18
    torch.manual_seed(0)
    m = ResNet18().eval()
    x = torch.randn(1, 3, 64, 64)
    s = summary(m, x)
    ref = fvcore_macs(m, x)
    assert s.total_macs == ref["conv"] + ref["linear"]
    assert s.total_flops == counter_flops(m, x)
    assert s.total_params == sum(p.numel() for p in m.parameters())


def test_markdown_golden():
    s = summary(nn.Sequential(nn.Linear(3, 2), nn.Tanh()), torch.randn(4, 3))
    assert s.to_markdown().splitlines()[:5] == [
        "| layer   | op     | output   |   params |   MACs |   FLOPs |   other ops |   act. bytes |   grad bytes |",
        "|---------|--------|----------|----------|--------|---------|-------------|--------------|--------------|",
        "| 0       | linear | 4×2      |        8 |     24 |      48 |           8 |           32 |           80 |",
        "| 1       | tanh   | 4×2      |        0 |      0 |       0 |           8 |           32 |           32 |",
        "| total   |        |          |        8 |     24 |      48 |          16 |           64 |          112 |"]
    assert "1 MAC = one multiply–add; FLOPs = 2 × MACs, as torch.utils.flop_counter counts" in s.to_markdown()


def test_every_rendering_states_the_convention():
    s = summary(nn.Linear(3, 2), torch.randn(4, 3))
    for text in (str(s), s.to_markdown(), s.to_html()):
        assert "1 MAC = one multiply–add; FLOPs = 2 × MACs" in text
    latex = s.to_latex()
    assert latex.startswith("\\begin{tabular}{lllrrrrrr}\n\\toprule")
    assert "1 MAC = one multiply--add; FLOPs = 2 $\\times$ MACs" in latex
    assert " 4$\\times$2 " in latex and "×" not in latex


def test_summary_of_a_derivation_is_the_summary_of_its_model():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    d = st.derive(m, x, loss=nn.CrossEntropyLoss(), target=torch.tensor([0, 1, 1, 0, 1]))
    assert summary(d) == summary(m, x, loss=nn.CrossEntropyLoss(), target=torch.tensor([0, 1, 1, 0, 1]))
    assert summary(d).rows[-1].op == "cross_entropy"
    assert d.summary() == summary(d)


def test_tied_and_frozen_parameters():
    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = self.a
            self.c = nn.Linear(4, 2)
            self.c.weight.requires_grad_(False)

        def forward(self, x):
            return self.c(self.b(torch.relu(self.a(x))))
    s = summary(Tied().double(), torch.randn(2, 4, dtype=torch.float64))
    assert [r.params for r in s.rows if r.op == "linear"] == [20, 0, 10]
    assert (s.total_params, s.trainable_params) == (30, 22)
    assert "trainable parameters: 22 of 30." in str(s)


def test_forward_only_derivation_refuses_gradients():
    d = st.derive(nn.Linear(3, 2), torch.randn(2, 3), verify=False, differentiate=False)
    assert d[0].gradients == {}
    with pytest.raises(ValueError, match="differentiate=False"):
        d.gradient_values()
    with pytest.raises(ValueError, match="verify=True needs"):
        st.derive(nn.Linear(3, 2), torch.randn(2, 3), differentiate=False)


@pytest.mark.pdf
def test_latex_table_compiles(tmp_path):
    import subprocess
    s = summary(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 2)), torch.randn(1, 1, 4, 4))
    doc = "\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + s.to_latex() + "\n\\end{document}\n"
    (tmp_path / "t.tex").write_text(doc)
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                   check=True, capture_output=True)
    out = subprocess.run(["pdftotext", "t.pdf", "-"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert "multiply–add" in out or "multiply-add" in out


def test_cli_summary(capsys):
    from symbolic_torch.cli import main
    assert main(["summary", "examples/tiny_cnn.py:TinyCNN", "--input-shape", "1,1,8,8", "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| layer ") and "1 MAC = one multiply–add" in out
    total = next(line for line in out.splitlines() if line.startswith("| total"))
    assert [c.strip() for c in total.split("|")[1:-1]][3] == "410"  # TinyCNN's parameters


@pytest.mark.pdf
def test_handout_has_the_cost_table(tiny, tmp_path):
    import subprocess
    pdf = tiny.to_pdf(tmp_path / "tiny.pdf")
    text = subprocess.run(["pdftotext", str(pdf), "-"], check=True, capture_output=True, text=True).stdout
    assert "Cost of the forward pass" in text
    total = summary(tiny)
    assert f"{total.total_macs:,}" in text and f"{total.total_params:,}" in text
    assert "1 MAC = one multiply" in text
