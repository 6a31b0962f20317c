#!/usr/bin/env bash
# Install what is needed, then write the example handout to paper_output/tiny_cnn.pdf.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
. scripts/_python.sh
"$(st_command symbolic-torch)" derive examples/tiny_cnn.py:TinyCNN --input-shape 1,1,8,8 \
    --position 0,0,4,4 --loss cross_entropy --target 1 --out paper_output/
