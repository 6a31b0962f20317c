"""Text for LaTeX: user-given names (steps, parameters, inputs) escaped, unicode included."""
from __future__ import annotations

from pylatexenc.latexencode import UnicodeToLatexEncoder
from pylatex.utils import NoEscape

_ENCODER = UnicodeToLatexEncoder(unknown_char_policy="unihex", unknown_char_warning=False,
                                 non_ascii_only=False)


def text(s: object) -> NoEscape:
    """``s`` as LaTeX text: ``conv_1`` → ``conv\\_1``, ``α`` → ``\\ensuremath{\\alpha}``."""
    return NoEscape(_ENCODER.unicode_to_latex(str(s)))
