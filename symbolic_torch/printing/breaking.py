"""Line breaking for display math: a long right-hand side as several ``align`` rows.

A formula printed on one line is cut at its top-level ``+``/``−`` (outside braces, ``\\left…\\right``
pairs and environments). A piece that is still too wide and holds a ``\\left( … \\right)`` group
is opened: the group becomes ``\\bigl( … \\bigr)``, whose halves may sit on different rows, and
its inside is cut the same way. Pieces are then packed greedily into rows of about ``width``
glyphs. A sum of more than ``max_terms`` terms keeps its first terms, ``\\cdots`` and its last
term, and says how many there were.
"""
from __future__ import annotations

import re

WIDTH = 52  # glyphs per row: fits an 11pt article's text width with room for the left side
MAX_TERMS = 12
_OPEN = re.compile(r"\\left(?![a-zA-Z])|\\begin\{[^}]*\}")
_CLOSE = re.compile(r"\\right(?![a-zA-Z])|\\end\{[^}]*\}")


def glyphs(latex: str) -> int:
    """A rough count of the glyphs ``latex`` sets: each command one, braces and spacing none.

    >>> glyphs(r"\\frac{\\partial L}{\\partial x_{n}}")
    5
    """
    s = re.sub(r"\\(left|right|bigl|bigr|mathopen|mathclose|displaystyle|quad|qquad|,|;|!|frac)(?![a-zA-Z])", "", latex)
    s = re.sub(r"\\(begin|end|text|mathrm)\{([^{}]*)\}", lambda m: "" if m.group(1) in ("begin", "end") else m.group(2), s)
    s = re.sub(r"\\[a-zA-Z]+", "x", s)
    return len(re.sub(r"[{}\s^_&]", "", s))


def _depths(latex: str) -> list[int]:
    """Nesting depth at every character (braces, \\left/\\right, \\begin/\\end)."""
    out, depth, i = [], 0, 0
    while i < len(latex):
        step = 1
        if latex[i] == "\\" and latex[i + 1: i + 2] in "{}":
            step = 2
        elif _OPEN.match(latex, i):
            depth += 1
            step = len(_OPEN.match(latex, i).group(0))
        elif _CLOSE.match(latex, i):
            depth -= 1
            step = len(_CLOSE.match(latex, i).group(0))
        elif latex[i] == "{":
            depth += 1
        elif latex[i] == "}":
            depth -= 1
        out.extend([depth] * step)
        i += step
    return out


def terms(latex: str, cut: str = r" [+-] ") -> list[str]:
    """``latex`` cut at its top-level `` + `` and `` - `` (or the pattern ``cut``); every piece after
    the first keeps its sign.

    >>> terms(r"a + \\left(b + c\\right) - d")
    ['a', '+ \\\\left(b + c\\\\right)', '- d']
    """
    depth = _depths(latex)
    cuts = [m.start() for m in re.finditer(cut, latex) if depth[m.start()] == 0]
    bounds = [0, *cuts, len(latex)]
    return [latex[a:b].strip() for a, b in zip(bounds, bounds[1:]) if latex[a:b].strip()]


# bracket → how it opens, closes, and where its inside is cut (an Iverson bracket at its ∧)
_GROUPS = {"(": (r"\bigl(", r"\bigr)", r" [+-] "), "[": (r"\bigl[", r"\bigr]", r" \\wedge ")}


def _groups(piece: str) -> list[tuple[int, int, list[str], str]]:
    """The top-level ``\\left( … \\right)`` and ``\\left[ … \\right]`` groups of ``piece``:
    (start, end, the inside cut into terms, bracket)."""
    depth = _depths(piece)
    out = []
    for m in re.finditer(r"\\left([(\[])", piece):
        if m.start() and depth[m.start() - 1] != 0:
            continue
        close = next((k for k in range(m.end(), len(piece)) if depth[k] == 0), None)
        closer = r"\right" + {"(": ")", "[": "]"}[m.group(1)]
        if close is not None and piece.startswith(closer, close):
            inner = terms(piece[m.end(): close], _GROUPS[m.group(1)][2])
            out.append((m.start(), close + len(closer), inner, m.group(1)))
    return out


def _open(piece: str) -> list[str] | None:
    """The group of ``piece`` with the most terms opened into rows (``\\bigl( … \\bigr)``), or None."""
    groups = [g for g in _groups(piece) if len(g[2]) > 1]
    if not groups:
        return None
    a, b, inner, bracket = max(groups, key=lambda g: len(g[2]))
    left, right, _ = _GROUPS[bracket]
    return [piece[:a] + left + inner[0], *inner[1:-1], inner[-1] + right + piece[b:]]


def pieces(latex: str, width: int = WIDTH, max_terms: int = MAX_TERMS) -> list[str]:
    """The cut-up pieces of ``latex``: wide pieces opened, very long sums truncated."""
    out = _truncate(terms(latex), max_terms)
    changed = True
    while changed:
        changed = False
        for k, p in enumerate(out):
            if glyphs(p) > width and (opened := _open(p)) is not None:
                out[k: k + 1] = _truncate(opened, max_terms)
                changed = True
                break
    return out


def _truncate(parts: list[str], max_terms: int) -> list[str]:
    if len(parts) <= max_terms:
        return parts
    mark = rf"+ \cdots \quad \text{{({len(parts)} terms)}}"
    return parts[: max_terms // 3] + [mark, parts[-1]]  # the last term keeps an opened group's \bigr)


def rows(latex: str, width: int = WIDTH, max_terms: int = MAX_TERMS) -> list[str]:
    """``latex`` as rows of about ``width`` glyphs (the first row has no leading sign).

    >>> rows("a + b + c", width=3)
    ['a + b', '+ c']
    """
    out: list[str] = []
    for p in pieces(latex, width, max_terms):
        if out and glyphs(out[-1]) + glyphs(p) <= width:
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return out


def align_rows(lhs: str, rhs: str, width: int = WIDTH, label: str | None = None, numbered: bool = True) -> str:
    """``lhs &= rhs`` as one or more ``align`` rows; continuation rows are indented and not numbered.

    >>> align_rows("y", "a + b", width=1, numbered=False)
    'y &= a\\\\notag\\\\\\\\\\n  &\\\\quad + b\\\\notag'
    """
    body = rows(rhs, width - min(glyphs(lhs), width // 3), MAX_TERMS)
    tag = (rf"\label{{{label}}}" if label else "") if numbered else r"\notag"
    lines = [rf"{lhs} &= {body[0]}" + (tag if len(body) == 1 else r"\notag")]
    for k, r in enumerate(body[1:], 1):
        lines.append(rf"  &\quad {r}" + (tag if k == len(body) - 1 else r"\notag"))
    return "\\\\\n".join(lines)
