"""Breaking long worked lines at top-level signs only."""
from __future__ import annotations

from symbolic_torch.printing.line_breaks import TOO_LONG, break_rows, top_level_splits


def test_splits_only_outside_braces_and_left_right() -> None:
    s = r"\left(x + y\right) + {a - b} - c + \frac{1}{2 + 3}"
    assert top_level_splits(s) == [18, 28, 32]
    assert break_rows(s, width=5) == [r"\left(x + y\right)", "+ {a - b}", "- c", r"+ \frac{1}{2 + 3}"]


def test_rows_are_joined_back_to_the_same_text() -> None:
    s = " + ".join(f"\\left({k} \\times {k + 1}\\right)" for k in range(200))
    rows = break_rows(s, width=300)
    assert len(rows) > 5 and all(len(r) <= 330 for r in rows)
    assert " ".join(rows) == s


def test_an_unbreakable_giant_is_replaced_by_a_note() -> None:
    assert break_rows(r"\frac{1}{" + "x" * (TOO_LONG + 1) + "}") == [r"\text{(too long to print: the value follows)}"]
    assert break_rows("a + b") == ["a + b"]
