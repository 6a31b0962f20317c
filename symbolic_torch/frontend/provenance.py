"""Which plain Python function of the user's is running while the tracer records a node.

The innermost frame outside torch, symbolic_torch, the rule table and the standard library and
installed packages is the user's code; when it is an ``nn.Module``'s ``forward`` the op belongs to
the module (``Step.module_path`` says which) and no function is recorded.
"""
from __future__ import annotations

import functools
import os
import sys
import sysconfig
from pathlib import Path
from types import FrameType

import torch

from symbolic_torch.ir.provenance import PythonFunction

_PACKAGE = Path(__file__).resolve().parents[1]
_LIBRARY = tuple({str(Path(p).resolve()) + os.sep for p in (
    Path(torch.__file__).parent, _PACKAGE, _PACKAGE / "rules",
    *(sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")))})


@functools.lru_cache(maxsize=4096)
def is_library(filename: str) -> bool:
    """True for code that is not the user's: the libraries', fx's generated code (``<eval_with_key>``)."""
    if filename.startswith("<"):
        return not filename.startswith("<ipython-input")
    return str(Path(filename).resolve()).startswith(_LIBRARY)


def _module_forward(frame: FrameType) -> bool:
    code = frame.f_code
    if code.co_name != "forward" or code.co_argcount == 0:
        return False
    return isinstance(frame.f_locals.get(code.co_varnames[0]), torch.nn.Module)


def calling_function(frame: FrameType | None = None) -> PythonFunction | None:
    """The user's plain function running at ``frame`` (default: the caller's), or None.

    >>> calling_function() is None or calling_function().qualname != ""
    True
    """
    f = frame if frame is not None else sys._getframe(1)
    while f is not None:
        if not is_library(f.f_code.co_filename):
            return None if _module_forward(f) else PythonFunction.of(f.f_code)
        f = f.f_back
    return None
