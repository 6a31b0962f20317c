"""Derive and verify the real models of tests/models/ and print a Markdown table of how each went.

    python scripts/models_tried.py            # every model
    python scripts/models_tried.py GCN ResNet # only the models whose name contains one of the words

Columns: model, library, steps, derive time (s; capture, rules and sympy's differentiation, without
verification), and the verification result: ``ok``, ``FAILED n rows``, or the error raised.

The models come from the ``CASES`` lists of tests/models/test_graph_models.py, test_cnn_models.py
and test_nn_transformer.py (``model_check.Case``: a name, a library, and a ``build()`` returning
(model, inputs, loss, target)). tests/models/test_transformers_models.py is read when it exists:
its ``CASES`` if it has them, otherwise its functions named ``build_*``/``make_*``/``hf_build_*`` that
take no argument and return such a tuple (or a dict with those keys); a module that is absent or
exposes neither is reported on stderr, not an error.
"""
from __future__ import annotations

import importlib
import inspect
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "models")]

from model_check import Case, derive  # noqa: E402

MODULES = ["test_nn_transformer", "test_graph_models", "test_cnn_models"]
HF_MODULE = "test_transformers_models"
BUILDER_PREFIXES = ("build_", "make_", "hf_build_")


def _as_tuple(built: Any) -> tuple[Any, tuple[Any, ...], Any, Any]:
    """(model, inputs, loss, target) from a tuple or a dict with those keys; a lone tensor input is wrapped."""
    if isinstance(built, dict):
        built = (built["model"], built["inputs"], built.get("loss"), built.get("target"))
    model, inputs, loss, target = built
    return model, inputs if isinstance(inputs, (tuple, list)) else (inputs,), loss, target


def hf_cases() -> list[Case]:
    """The Hugging Face models of tests/models/test_transformers_models.py, if it exists and exposes any."""
    try:
        module = importlib.import_module(HF_MODULE)
    except ImportError as e:
        print(f"note: {HF_MODULE} not read ({e})", file=sys.stderr)
        return []
    if hasattr(module, "CASES"):
        return list(module.CASES)
    cases = []
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if name.startswith(BUILDER_PREFIXES) and fn.__module__ == module.__name__ and \
                not inspect.signature(fn).parameters:
            label = name.split("_", 1)[1].removeprefix("build_")
            cases.append(Case(label, "transformers", lambda fn=fn: _as_tuple(fn())))
    if not cases:
        print(f"note: {HF_MODULE} exposes no CASES and no build_* functions", file=sys.stderr)
    return cases


def all_cases() -> list[Case]:
    """Every case: Hugging Face first (when present), then torch.nn, torch_geometric, the CNNs."""
    cases = hf_cases()
    for name in MODULES:
        cases += importlib.import_module(name).CASES
    return cases


def row(case: Case) -> str:
    """One Markdown table row: derive ``case``, verify it, and say how it went."""
    try:
        d, seconds = derive(case)  # the builder too: a model that cannot even be built is a row
    except Exception as e:  # the table reports what a user would see, whatever it is
        return f"| {case.name} | {case.library} | – | – | {type(e).__name__}: {_first_line(e)} |"
    try:
        report = d.verify()
        result = "ok" if report.ok else f"FAILED {sum(1 for r in report.all_rows if not r.ok)} rows"
    except Exception as e:
        result = f"{type(e).__name__} in verify: {_first_line(e)}"
    return f"| {case.name} | {case.library} | {len(d.steps)} | {seconds:.1f} | {result} |"


def _first_line(e: Exception) -> str:
    return (str(e).splitlines() or [""])[0][:120].replace("|", "\\|")


def main(argv: list[str]) -> int:
    cases = [c for c in all_cases() if not argv or any(w.lower() in c.name.lower() for w in argv)]
    print("| model | library | steps | derive time (s) | verification |")
    print("|---|---|---:|---:|---|")
    for case in cases:
        print(row(case), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
