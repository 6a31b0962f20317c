#!/usr/bin/env bash
# Install everything symbolic_torch needs on a fresh Debian machine (run as root). Idempotent.
# Where pip may not install system-wide (a stock Debian 12) it installs into .venv (scripts/_python.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
. scripts/_python.sh
st_ensure_venv
PYTHON="$(st_python)"

# torch first and pinned: left to resolve torch>=2.2 on its own, pip would fetch a CUDA build.
"$PYTHON" -m pip install torch==2.13.0

# TeX for the PDF handouts (latexmk, pdflatex, Latin Modern fonts, TikZ for the graph; beamer for the
# slides, in texlive-latex-recommended), poppler for the PDF tests, Graphviz (dot) for to_svg.
if ! command -v latexmk >/dev/null || ! command -v pdftotext >/dev/null || ! command -v dot >/dev/null \
        || ! kpsewhich lmodern.sty >/dev/null 2>&1 || ! kpsewhich beamer.cls >/dev/null 2>&1 \
        || ! kpsewhich tikz.sty >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends \
        texlive-latex-base texlive-latex-recommended texlive-latex-extra texlive-pictures latexmk \
        poppler-utils lmodern graphviz
fi

# Graphviz's dot lays out the HTML view's graph; Chromium runs the browser tests (tests/web).
if ! command -v dot >/dev/null || ! command -v chromium >/dev/null; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends graphviz chromium
fi

"$PYTHON" -m pip install -e ".[dev]"
