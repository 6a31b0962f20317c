"""Compile a LaTeX source to PDF with latexmk, atomically (the PDF appears whole or not at all).

Any printer that has a document's source uses this: the ``.tex`` is always written; the PDF
is built in a temporary folder and moved into place only when latexmk succeeds.

>>> compile_tex(r"\\documentclass{article}\\begin{document}Hi\\end{document}", "out/hi.pdf")
PosixPath('out/hi.pdf')
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from symbolic_torch.errors import SymbolicTorchError

TEX_PACKAGES = ("texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures latexmk")


class RenderError(SymbolicTorchError):
    """The PDF could not be produced (the .tex was written; the message says where)."""


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and a rename."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def compile_tex(source: str, path: str | os.PathLike[str], compile: bool = True, timeout: int = 600) -> Path:
    """Write ``source`` to ``path``'s .tex and compile it to ``path`` (.pdf); returns the PDF path
    (the .tex path when ``compile`` is False). Raises ``RenderError`` with latexmk's log tail."""
    pdf = Path(path).with_suffix(".pdf")
    pdf.parent.mkdir(parents=True, exist_ok=True)
    tex = pdf.with_suffix(".tex")
    write_atomic(tex, source)
    if not compile:
        return tex
    latexmk = shutil.which("latexmk")
    if latexmk is None or shutil.which("pdflatex") is None:
        raise RenderError(f"wrote {tex}, but latexmk/pdflatex are not installed; install TeX "
                          f"(Debian: apt-get install {TEX_PACKAGES}) or compile the .tex yourself")
    with tempfile.TemporaryDirectory() as work:
        src = Path(work) / tex.name
        shutil.copyfile(tex, src)
        proc = subprocess.run([latexmk, "-pdf", "-interaction=nonstopmode", "-halt-on-error", src.name],
                              cwd=work, capture_output=True, text=True, timeout=timeout)
        built = src.with_suffix(".pdf")
        if proc.returncode != 0 or not built.exists():
            log = src.with_suffix(".log")
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else proc.stdout[-3000:]
            raise RenderError(f"wrote {tex}, but latexmk failed:\n{tail}")
        tmp = pdf.with_name(f".{pdf.name}.partial")
        shutil.copyfile(built, tmp)
        os.replace(tmp, pdf)
    return pdf
