"""scripts/_python.sh: which Python the set-up scripts use, decided without touching the system.

Each case runs the sourced functions under a fake PATH (fake ``python``/``python3`` that report a
temp stdlib dir, with or without PEP 668's EXTERNALLY-MANAGED marker).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash") or "/bin/bash"


def _fake_python(bin_dir: Path, name: str, stdlib: Path) -> None:
    exe = bin_dir / name
    exe.write_text(f"#!/bin/sh\necho '{stdlib}'\n")  # answers the stdlib question, whatever is asked
    exe.chmod(0o755)


def _choose(tmp_path: Path, pythons: tuple[str, ...], marker: bool, venv: str = "",
            call: str = "st_python") -> str:
    bin_dir, stdlib = tmp_path / "bin", tmp_path / "stdlib"
    bin_dir.mkdir(exist_ok=True)
    stdlib.mkdir(exist_ok=True)
    if marker:
        (stdlib / "EXTERNALLY-MANAGED").write_text("[externally-managed]\n")
    for name in pythons:
        _fake_python(bin_dir, name, stdlib)
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    if venv:
        env["VIRTUAL_ENV"] = venv
    done = subprocess.run([BASH, "-c", f". scripts/_python.sh && {call}"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.parametrize(("pythons", "marker", "venv", "chosen"), [
    (("python", "python3"), False, "", "python"),            # CI: python on PATH, pip may install
    (("python3",), False, "", ".venv/bin/python"),           # stock Debian 12: no `python`
    (("python3",), True, "", ".venv/bin/python"),
    (("python", "python3"), True, "", ".venv/bin/python"),   # PEP 668: pip refuses system installs
    (("python", "python3"), True, "/some/env", "python"),    # an active virtual environment wins
    (("python3",), True, "/some/env", "python"),
])
def test_which_python_the_scripts_use(tmp_path: Path, pythons: tuple[str, ...], marker: bool, venv: str,
                                      chosen: str) -> None:
    assert _choose(tmp_path, pythons, marker, venv) == chosen


def test_the_installed_command_comes_from_the_same_place(tmp_path: Path) -> None:
    (tmp_path / "ci").mkdir()
    (tmp_path / "debian").mkdir()
    assert _choose(tmp_path / "ci", ("python",), False, call="st_command symbolic-torch") == "symbolic-torch"
    assert (_choose(tmp_path / "debian", ("python3",), False, call="st_command symbolic-torch")
            == ".venv/bin/symbolic-torch")


def test_no_venv_is_made_where_none_is_needed(tmp_path: Path) -> None:
    _choose(tmp_path, ("python", "python3"), False, call="ST_VENV=$HOME/venv st_ensure_venv")
    assert not (tmp_path / "venv").exists()


@pytest.mark.slow
@pytest.mark.skipif(subprocess.run([sys.executable, "-c", "import ensurepip, venv"]).returncode != 0,
                    reason="this Python cannot make a virtual environment")
def test_the_venv_is_made_once_and_reused(tmp_path: Path) -> None:
    """A real ``python3`` (this interpreter) and no ``python``: .venv is created, a second run reuses it."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "ST_VENV": str(tmp_path / "venv")}
    script = ". scripts/_python.sh && st_ensure_venv && st_python"
    first = subprocess.run([BASH, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    made = (tmp_path / "venv" / "pyvenv.cfg").stat().st_mtime_ns
    second = subprocess.run([BASH, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    assert first.stdout.strip() == second.stdout.strip() == f"{tmp_path / 'venv'}/bin/python"
    assert (tmp_path / "venv" / "pyvenv.cfg").stat().st_mtime_ns == made  # reused, not made again
    assert os.access(tmp_path / "venv" / "bin" / "pip", os.X_OK)
