"""``save`` and ``load``: a derivation on disk, as a folder or as one zip archive.

Either way it holds two files (docs/format.md):
``derivation.json`` (format 1: steps, formulas as sympy ``srepr``, operands, the verification
report) and ``tensors.safetensors`` (every tensor the JSON refers to, by key). A path ending in
``.zip`` is written as a zip archive holding the two files; any other path as a folder.

>>> import torch, tempfile, symbolic_torch as st
>>> d = st.derive(torch.nn.Linear(3, 2).double(), torch.randn(4, 3, dtype=torch.float64))
>>> path = save(d, tempfile.mkdtemp() + "/linear.zip")
>>> e = load(path)
>>> torch.equal(e[0].value, d[0].value) and e.verify().ok
True
"""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING

from symbolic_torch.errors import FormatError
from symbolic_torch.io.decode import decode
from symbolic_torch.io.encode import encode
from symbolic_torch.io.tensors import TensorStore

if TYPE_CHECKING:
    from symbolic_torch.io.loaded import LoadedDerivation
    from symbolic_torch.ir.derivation import Derivation

JSON_NAME = "derivation.json"
TENSORS_NAME = "tensors.safetensors"


def save(d: "Derivation", path: str | os.PathLike[str], evidence: bool = True) -> Path:
    """Write ``d`` to ``path`` (a folder, or a zip archive if it ends in ``.zip``); returns the path.

    ``evidence`` keeps the numbers verification compared with autograd, so that
    ``load(path).verify()`` can re-check the formulas without the model."""
    doc, store = encode(d, evidence)
    text = json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False)
    blob = store.blob()
    path = Path(path)
    if path.suffix == ".zip":
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(JSON_NAME, text)
            z.writestr(TENSORS_NAME, blob)
    else:
        path.mkdir(parents=True, exist_ok=True)
        (path / JSON_NAME).write_text(text, encoding="utf-8")
        (path / TENSORS_NAME).write_bytes(blob)
    return path


def load(path: str | os.PathLike[str]) -> "LoadedDerivation":
    """The derivation ``save`` wrote at ``path`` (folder or zip archive).

    It renders (``to_latex``, ``to_pdf``), substitutes (``step.at``, ``grad_at``), chains
    (``adjoints``, ``gradient_values``) and re-checks itself (``verify``) like the original;
    what needs the live model raises ``LiveModelError``. Raises ``FormatError`` for a file that
    is not a saved derivation."""
    path = Path(path)
    text, blob = _read(path)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise FormatError(f"{path}: {JSON_NAME} is not JSON ({e})") from e
    return decode(doc, TensorStore.read(blob), path)


def _read(path: Path) -> tuple[str, bytes]:
    if path.is_dir():
        missing = [n for n in (JSON_NAME, TENSORS_NAME) if not (path / n).is_file()]
        if missing:
            raise FormatError(f"{path}: not a saved derivation (no {', '.join(missing)})")
        return (path / JSON_NAME).read_text(encoding="utf-8"), (path / TENSORS_NAME).read_bytes()
    if not path.exists():
        raise FileNotFoundError(f"no saved derivation at {path}")
    if not zipfile.is_zipfile(path):
        raise FormatError(f"{path}: not a saved derivation (neither a folder nor a zip archive)")
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
        missing = [n for n in (JSON_NAME, TENSORS_NAME) if n not in names]
        if missing:
            raise FormatError(f"{path}: the archive has no {', '.join(missing)}")
        return z.read(JSON_NAME).decode("utf-8"), z.read(TENSORS_NAME)
