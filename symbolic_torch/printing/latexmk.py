"""Compiling a ``.tex`` with latexmk: in a scratch folder, the PDF moved beside the ``.tex`` only
when latexmk succeeds (never half-written); a failure raises ``RenderError`` with the log's tail."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from symbolic_torch.printing.pdf import RenderError

INSTALL = ("install TeX (Debian: apt-get install texlive-latex-base texlive-latex-recommended "
           "texlive-latex-extra latexmk) or compile the .tex yourself")


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half of it."""
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def compile_tex(tex: Path, timeout: float = 600) -> Path:
    """``tex`` compiled by ``latexmk -pdf``; returns the PDF beside it.

    >>> compile_tex(Path("paper_output/slides.tex"))  # doctest: +SKIP
    PosixPath('paper_output/slides.pdf')
    """
    latexmk = shutil.which("latexmk")
    if latexmk is None or shutil.which("pdflatex") is None:
        raise RenderError(f"wrote {tex}, but latexmk/pdflatex are not installed; {INSTALL}")
    pdf = tex.with_suffix(".pdf")
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
