"""LaTeX → MathML, which browsers render natively (no script, no font download).

The package's LaTeX (``symbolic_torch.latex``, worked elements) is converted with
``latex2mathml``; its numeric character references are turned back into characters and the
namespace attribute dropped (HTML5 needs neither), which shrinks a formula by about a third.
A formula the converter cannot read is shown as its TeX source in a ``<code>`` element,
marked ``class="tex-fallback"`` so tests and readers can tell.

>>> to_mathml("x_{1} + 2").startswith('<math display="inline">')
True
"""
from __future__ import annotations

import html
import re
from functools import lru_cache

__all__ = ["to_mathml", "plain_text"]

_ENTITY = re.compile(r"&#x([0-9A-Fa-f]+);")
_KEEP = {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def _char(m: re.Match[str]) -> str:
    c = chr(int(m.group(1), 16))
    return _KEEP.get(c, c)


@lru_cache(maxsize=8192)
def to_mathml(latex: str, display: bool = False) -> str:
    """``latex`` as a ``<math>`` element (``display=True``: a block formula).

    >>> to_mathml(r"\\frac{a}{b}")
    '<math display="inline"><mrow><mfrac><mrow><mi>a</mi></mrow><mrow><mi>b</mi></mrow></mfrac></mrow></math>'
    """
    from latex2mathml.converter import convert
    try:
        out = convert(latex, display="block" if display else "inline")
    except Exception:  # noqa: BLE001 — any parser failure: show the source rather than nothing
        return f'<code class="tex-fallback">{html.escape(latex)}</code>'
    out = out.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1)
    return _ENTITY.sub(_char, out)


def plain_text(mathml: str) -> str:
    """The characters a MathML string shows, tags removed (for tooltips and tests).

    >>> plain_text(to_mathml("x_{1} + 2"))
    'x1+2'
    """
    return html.unescape(re.sub(r"<[^>]+>", "", mathml))
