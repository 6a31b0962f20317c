"""Long worked-element lines broken for the page: at top-level ``+``/``-``, never inside braces
or a ``\\left … \\right`` pair; a piece still too long for TeX is replaced by a note.

TeX cannot even measure a box wider than about 5.7 m (``Dimension too large``), so a numbers
line of an attention element (thousands of characters) must be broken before it is scaled.

>>> break_rows("a + b + c", width=5)
['a + b', '+ c']
"""
from __future__ import annotations

import re

TOO_LONG = 2500  # LaTeX characters: comfortably under TeX's largest box once typeset
_TOKEN = re.compile(r"\\left[\(\[\{.|]|\\left\\\{|\\right[\)\]\}.|]|\\right\\\}|[{}]| [+-] ")


def top_level_splits(latex: str) -> list[int]:
    """Offsets of the `` + ``/`` - `` that sit outside every brace and ``\\left``/``\\right`` pair."""
    depth, cuts = 0, []
    for m in _TOKEN.finditer(latex):
        tok = m.group()
        if tok in ("{",) or tok.startswith(r"\left"):
            depth += 1
        elif tok in ("}",) or tok.startswith(r"\right"):
            depth -= 1
        elif depth == 0:
            cuts.append(m.start())
    return cuts


def break_rows(latex: str, width: int = 400) -> list[str]:
    """``latex`` cut at top-level signs into rows of about ``width`` characters (a row starts with
    its sign); a row longer than ``TOO_LONG`` that cannot be cut is replaced by a note."""
    rows, start, last = [], 0, 0
    for cut in top_level_splits(latex) + [len(latex)]:
        if cut - start > width and last > start:
            rows.append(latex[start:last].strip())
            start = last
        last = cut
    rows.append(latex[start:].strip())
    return [r if len(r) <= TOO_LONG else r"\text{(too long to print: the value follows)}" for r in rows if r]
