"""Jupyter reprs: golden LaTeX and HTML (escaped), a compact summary for a Derivation."""
from __future__ import annotations

import html
import re

STEP_LATEX = (r"$$\begin{aligned} y_{i,j} &= \tanh{\left(x_{i,j} \right)} \\ \frac{\partial L}{\partial x_{i,j}} &= "
              r"- \tanh^{2}{\left(x_{i,j} \right)} \bar{g}_{i,j} + \bar{g}_{i,j} \end{aligned}$$")
ELEMENT_LATEX = (r"$$\begin{aligned} y_{1,4} &= \tanh{\left(x_{1,4} \right)} \\ &= \tanh{\left(-0.1233 \right)} "
                 r"\\ &= -0.1227 \end{aligned}$$")
ELEMENT_HTML = """<div class="symbolic-torch-element">
<p><code>act</code>, forward at (1, 4): 1 term(s), verified; the run computed -0.1227</p>
<div>$$\\begin{aligned} y_{1,4} &amp;= \\tanh{\\left(x_{1,4} \\right)} \\\\ &amp;= \\tanh{\\left(-0.1233 \\right)} \\\\ &amp;= -0.1227 \\end{aligned}$$</div>
</div>"""


def test_step_reprs(mlp) -> None:
    step = mlp["act"]
    assert step._repr_latex_() == STEP_LATEX
    page = step._repr_html_()
    assert page.startswith('<div class="symbolic-torch-step">\n<p><b>Step 1: <code>act</code></b> (tanh), '
                           "output 3×8; verified against autograd</p>")
    assert "$$" + html.escape(STEP_LATEX[2:-2], quote=True) + "$$" in page  # the math, escaped


def test_element_reprs(mlp) -> None:
    e = mlp["act"].at((1, 4))
    assert e._repr_latex_() == ELEMENT_LATEX
    assert e._repr_html_() == ELEMENT_HTML


def test_derivation_html_is_a_compact_escaped_summary(cnn) -> None:
    page = cnn._repr_html_()
    assert "6 steps, captured with torch.fx; every check agrees with autograd" in page
    assert page.count("<tr><td>") == len(cnn.steps)
    text = re.sub(r"\$[^$]*\$", "", page)  # outside math only tags; inside, no raw < > &
    assert all(re.fullmatch(r"</?[a-z]+( class=\"[a-z-]+\")?>", t) for t in re.findall(r"<[^>]*>", text))
    for math in re.findall(r"\$([^$]*)\$", page):
        assert "<" not in math and ">" not in math and not re.search(r"&(?!amp;|lt;|gt;|quot;|#x27;)", math)
    assert r"\left[x_{i,j,k,l} \gt 0\right]" in page


def test_derivation_latex_names_each_step(mlp) -> None:
    out = mlp._repr_latex_()
    assert out.startswith(r"$$\begin{aligned} \mathtt{fc1}:\ y_{n,o} &= b_{o} + \sum_{i=0}^{3} W_{o,i} x_{n,i} \\ ")
    assert out.count(r"\mathtt{") == len(mlp.steps) and out.endswith(r"\end{aligned}$$")
