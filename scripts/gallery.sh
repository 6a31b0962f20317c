#!/usr/bin/env bash
# Install what is needed, then build the gallery in paper_output/: each example in examples/ as a
# PDF handout and a Beamer deck, plus the teaching CNN's three SGD iterations (examples/gallery.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
. scripts/_python.sh
"$(st_python)" -m examples.gallery --out paper_output "$@"
