#!/usr/bin/env bash
# Install what is needed, then run the whole test suite. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
. scripts/_python.sh
"$(st_python)" -m pytest -q "$@"
