# shellcheck shell=bash
# Which Python the set-up scripts use; sourced by setup.sh, handout.sh and test.sh (and the tests).
#
# A `python` on PATH whose pip may install (CI, a machine set up by hand) or an active virtual
# environment: `python`, exactly as before. A stock Debian 12 (only `python3`, or a pip that
# refuses system installs: PEP 668's EXTERNALLY-MANAGED marker in the interpreter's stdlib dir):
# the repository's own virtual environment, .venv, created once and reused.
# Paths are relative to the repository root, where the scripts cd first.

ST_VENV="${ST_VENV:-.venv}"

# Status 0 when the scripts must use $ST_VENV rather than the `python` on PATH.
st_needs_venv() {
    [ -n "${VIRTUAL_ENV:-}" ] && return 1
    command -v python >/dev/null 2>&1 || return 0
    local stdlib
    stdlib="$(python -c 'import sysconfig; print(sysconfig.get_path("stdlib"))' 2>/dev/null)" || return 0
    [ -f "$stdlib/EXTERNALLY-MANAGED" ]
}

# The Python the scripts run: `python`, or $ST_VENV's (whether or not it exists yet).
st_python() {
    if st_needs_venv; then echo "$ST_VENV/bin/python"; else echo python; fi
}

# A command the package installs (`symbolic-torch`), from wherever st_python installs.
st_command() {
    if st_needs_venv; then echo "$ST_VENV/bin/$1"; else echo "$1"; fi
}

# Create $ST_VENV if it is needed and missing (a half-made one is made again); the stock
# Debian python3 lacks ensurepip until apt installs python3-venv.
st_ensure_venv() {
    st_needs_venv || return 0
    "$ST_VENV/bin/python" -m pip --version >/dev/null 2>&1 && return 0
    local base
    base="$(command -v python3 || command -v python)" || { echo "no python3 on PATH" >&2; return 1; }
    if ! "$base" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update
        apt-get install -y --no-install-recommends python3-venv
    fi
    rm -rf "$ST_VENV"
    "$base" -m venv "$ST_VENV"
}
