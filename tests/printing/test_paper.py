"""Paper style: golden LaTeX, line breaking, and a real compile ``\\input`` into a bare article."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from symbolic_torch.printing import breaking, paper
from symbolic_torch.printing.latex import derivation_latex
from symbolic_torch.verify.report import Row, VerificationReport

FC1 = r"""\paragraph{Step 0: fc1 (linear).}
Output shape $3\times8$. Its formulas are verified against autograd.
\begin{align}
y_{n,o} &= b_{o} + \sum_{i=0}^{3} W_{o,i} x_{n,i}\label{eq:st:fc1:forward}\\
\frac{\partial L}{\partial x_{n,i}} &= \sum_{o=0}^{7} W_{o,i} \bar{g}_{n,o}\label{eq:st:fc1:input}\\
\frac{\partial L}{\partial W_{o,i}} &= \sum_{n=0}^{2} x_{n,i} \bar{g}_{n,o}\label{eq:st:fc1:weight}\\
\frac{\partial L}{\partial b_{o}} &= \sum_{n=0}^{2} \bar{g}_{n,o}\label{eq:st:fc1:bias}
\end{align}"""

FC1_MACROS = r"""\begin{align}
y_{n,o} &= b_{o} + \sum_{i=0}^{3} W_{o,i} x_{n,i}\label{eq:p:fc1:forward}\\
\stgrad{x_{n,i}} &= \sum_{o=0}^{7} W_{o,i} \stadj_{n,o}\label{eq:p:fc1:input}\\
\stgrad{W_{o,i}} &= \sum_{n=0}^{2} x_{n,i} \stadj_{n,o}\label{eq:p:fc1:weight}\\
\stgrad{b_{o}} &= \sum_{n=0}^{2} \stadj_{n,o}\label{eq:p:fc1:bias}
\end{align}"""

SWISH = r"""Written in Python as swish (swish\_mlp.py, line 19), which latexify-py renders as
\begin{align*}
\mathrm{swish}(x) &= x \cdot \mathrm{sigmoid} \mathopen{}\left( x \mathclose{}\right)\notag
\end{align*}"""


def test_paper_step_golden(mlp) -> None:
    assert mlp["fc1"].to_latex(style="paper") == FC1


def test_paper_macros_golden(mlp) -> None:
    out = mlp["fc1"].to_latex(style="paper", macros=True, label_prefix="p")
    assert out.split("\n", 2)[2] == FC1_MACROS
    assert mlp.to_latex(style="paper", macros=True).count(r"\providecommand") == 3


def test_default_style_unchanged_and_unknown_style_named(mlp) -> None:
    assert mlp.to_latex() == derivation_latex(mlp)
    with pytest.raises(ValueError, match="'slides'"):
        mlp.to_latex(style="slides")


def test_custom_activation_source_shown_once_by_latexify(swish) -> None:
    out = swish.to_latex(style="paper")
    assert SWISH in out
    assert out.count("Written in Python as swish") == 1  # two steps (sigmoid, mul) come from it
    assert r"Written in Python as squared\_error" in out


def test_failed_gradient_is_named_not_shown(mlp, monkeypatch) -> None:
    rows = [Row("step", "fc1", k, (), 0.0, 0.0, k != "weight") for k in ("forward", "input", "weight", "bias")]
    monkeypatch.setattr(mlp, "report", VerificationReport(step_rows=rows))
    out = mlp["fc1"].to_latex(style="paper")
    assert "weight FAILED verification and are not shown" in out
    assert r"\partial W_{o,i}" not in out and r"\partial b_{o}" in out


def test_terms_cut_only_at_top_level() -> None:
    assert breaking.terms(r"a + \left(b - c\right) - \frac{d + e}{2}") == [
        "a", r"+ \left(b - c\right)", r"- \frac{d + e}{2}"]
    assert breaking.terms(r"\begin{cases} a + b \end{cases} + c") == [r"\begin{cases} a + b \end{cases}", "+ c"]


def test_wide_group_opened_and_rows_fit() -> None:
    long = r"\left(" + " + ".join(f"w_{{{k}}} x_{{{k}}}" for k in range(10)) + r"\right) + b"
    rows = breaking.rows(long, width=20)
    assert rows[0].startswith(r"\bigl(w_{0} x_{0}") and rows[-1].endswith(r"\bigr) + b")
    assert all(breaking.glyphs(r) <= 20 for r in rows)
    assert " ".join(rows).replace(r"\bigl(", r"\left(").replace(r"\bigr)", r"\right)") == long


def test_long_sum_truncated_with_its_count() -> None:
    rows = breaking.rows(" + ".join(f"a_{{{k}}}" for k in range(30)), width=200)
    assert rows == [r"a_{0} + a_{1} + a_{2} + a_{3} + \cdots \quad \text{(30 terms)} + a_{29}"]


def test_iverson_bracket_broken_at_its_conjunctions() -> None:
    cond = r" \wedge ".join(f"i_{{{k}}} \\geq 0" for k in range(8))
    rows = breaking.rows(rf"\left[{cond}\right] x", width=30)
    assert rows[0].startswith(r"\bigl[i_{0} \geq 0") and rows[-1].endswith(r"\bigr] x") and len(rows) > 1


def _compile_article(tmp_path: Path, fragment: str) -> tuple[str, str]:
    (tmp_path / "frag.tex").write_text(fragment)
    (tmp_path / "main.tex").write_text("\\documentclass{article}\n" + paper.PREAMBLE
                                       + "\\begin{document}\n\\input{frag}\n\\end{document}\n")
    proc = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    log = (tmp_path / "main.log").read_text(errors="replace")
    assert proc.returncode == 0, log[-2000:]
    text = subprocess.run(["pdftotext", str(tmp_path / "main.pdf"), "-"], capture_output=True, text=True).stdout
    return log, text


@pytest.mark.pdf
@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="TeX toolchain not installed (scripts/setup.sh)")
@pytest.mark.parametrize("macros", [False, True])
def test_paper_compiles_in_a_bare_article_without_overfull_lines(cnn, swish, tmp_path, macros) -> None:
    fragment = cnn.to_latex(style="paper", worked=True, macros=macros) + swish.to_latex(style="paper", macros=macros)
    log, text = _compile_article(tmp_path, fragment)
    overfull = [float(w) for w in re.findall(r"Overfull \\hbox \(([\d.]+)pt too wide\)", log)]
    assert max(overfull, default=0.0) < 1.0, overfull  # long formulas were broken, not run off the page
    assert "Step 0: conv1 (conv)." in text and "Step 5: loss (cross" in text
    assert "swish(x) = x · sigmoid(x)" in text
    assert f"{cnn['conv1'].at((0, 2, 3, 3)).value:.4g}" in text  # the worked element's number
    assert "All 22 checks agree with torch.autograd" in text
