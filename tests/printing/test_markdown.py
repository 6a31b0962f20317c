"""Markdown: golden text, GitHub-renderable math (checked for what GitHub's MathJax lacks), tables."""
from __future__ import annotations

import pytest

from symbolic_torch.printing.markdown import github_math_problems, math_segments, mathjax

ACT = r"""### Step 1: `act` (tanh)

Output shape 3×8; from `act (Tanh)` (module `act`).

| symbol   | tensor          | shape   |
|----------|-----------------|---------|
| $x$      | `input` = `fc1` | 3×8     |

**Forward** (verified against autograd)

$$
\begin{aligned} y_{i,j} &= \tanh{\left(x_{i,j} \right)} \end{aligned}
$$

**Backward**, derived by sympy: `input` verified against autograd

$$
\begin{aligned} \frac{\partial L}{\partial x_{i,j}} &= - \tanh^{2}{\left(x_{i,j} \right)} \bar{g}_{i,j} + \bar{g}_{i,j} \end{aligned}
$$

**Worked element** (1, 4):

$$
\begin{aligned} y_{1,4} &= \tanh{\left(x_{1,4} \right)} \\ &= \tanh{\left(-0.1233 \right)} \\ &= -0.1227 \end{aligned}
$$
"""


def test_step_markdown_golden(mlp) -> None:
    assert mlp["act"].to_markdown() == ACT


@pytest.mark.parametrize("name", ["mlp", "cnn", "swish"])
def test_whole_documents_have_only_github_math(name, request) -> None:
    md = request.getfixturevalue(name).to_markdown()
    assert github_math_problems(md) == []
    assert len(math_segments(md)) > 10


def test_comparisons_become_lt_gt(cnn) -> None:
    md = cnn.to_markdown()
    assert r"\left[x_{i,j,k,l} \gt 0\right]" in md  # ReLU's Iverson bracket; a raw > could open an HTML tag
    assert mathjax("a<b") == r"a \lt b"


def test_verification_table_has_a_row_per_check(mlp) -> None:
    md = mlp.to_markdown()
    table = md.split("## Verification", 1)[1]
    assert "| tensor " in table and "max abs error" in table
    assert table.count("| ok ") == len(mlp.report.rows) and "FAILED" not in table


def test_latexify_source_in_markdown(swish) -> None:
    md = swish.to_markdown()
    assert ("Written in Python as `swish` (swish_mlp.py, line 19), rendered by latexify-py:\n\n$$\n"
            r"\mathrm{swish}(x) = x \cdot \mathrm{sigmoid} \mathopen{}\left( x \mathclose{}\right)" "\n$$") in md


@pytest.mark.parametrize("bad, problem", [
    ("$$\n\\label{a} x\n$$\n", r"uses \\label"),
    ("text $x < y$ text", "raw < or >"),
    ("$$\nx\n\ny\n$$\n", "unbalanced|blank line"),
    ("a $ x$ b", "space inside"),
    ("$$\n\\operatorname*{argmax} x\n$$\n", r"\\operatorname\*"),
    ("$\\frac{a}{b$", "unbalanced braces"),
    ("$$\nx\n", "unclosed"),
])
def test_problem_finder_finds_each_problem(bad, problem) -> None:
    import re
    found = github_math_problems(bad)
    assert any(re.search(problem, p) for p in found), found


def test_partial_is_not_par() -> None:
    assert github_math_problems(r"$\partial L$") == []
