"""The rule table sees only the rule-facing API: the call view, the registry's decorators, the
notation primitives and its own vocabulary; never capture, lowering, numeric internals or printing."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

RULES = Path(__file__).resolve().parents[2] / "rules"

ALLOWED = {
    "symbolic_torch.frontend.call",      # Call, TensorArg, Operand: what a builder is handed
    "symbolic_torch.frontend.registry",  # rule, expansion, constant, Tolerance
    "symbolic_torch.ir.primitives",      # Iverson, WindowMax, …
    "symbolic_torch.ir.functions",       # Floor, Sign, … (the notation)
    "symbolic_torch.ir.symbols",
    "symbolic_torch.ir.elementwise",     # relu, gelu, softplus, …: elementwise math shared with the gradient checker
}


def project_imports(tree: ast.AST) -> list[tuple[str, list[str]]]:
    """(module, imported names) for every import of the project anywhere in the file, also inside functions."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            out.append(("." * node.level + (node.module or ""), [a.name for a in node.names]))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("symbolic_torch"):
            out.append((node.module or "", [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            out.extend((a.name, []) for a in node.names if a.name.startswith("symbolic_torch"))
    return out


def violations(path: Path) -> list[str]:
    """What ``path`` imports from outside the rule-facing API, or privately from a sibling."""
    found = []
    for module, names in project_imports(ast.parse(path.read_text(), str(path))):
        sibling = module.startswith("symbolic_torch.rules.") and "." not in module[len("symbolic_torch.rules."):]
        if sibling or module == "symbolic_torch.rules":  # a family's public names, or the families themselves
            private = [n for n in names if n.startswith("_")]
            if private:
                found.append(f"{path.name}: private {private} from {module}")
        elif module not in ALLOWED and not (names and all(f"{module}.{n}" in ALLOWED for n in names)):
            found.append(f"{path.name}: imports {module}")
    return found


RULE_FILES = sorted(RULES.glob("*.py"))


@pytest.mark.parametrize("path", RULE_FILES, ids=[p.name for p in RULE_FILES])
def test_rule_file_imports_only_the_rule_facing_api(path: Path) -> None:
    assert violations(path) == []


@pytest.mark.parametrize("source, why", [
    ("from symbolic_torch.frontend.capture import example_value", "imports symbolic_torch.frontend.capture"),
    ("def f():\n    from symbolic_torch.printing.latex import latex", "imports symbolic_torch.printing.latex"),
    ("import symbolic_torch.numeric.evaluate", "imports symbolic_torch.numeric.evaluate"),
    ("from symbolic_torch.rules.losses import _reduce", "private ['_reduce']"),
    ("from .losses import options", "imports .losses"),
])
def test_the_scan_catches_a_forbidden_import(tmp_path: Path, source: str, why: str) -> None:
    path = tmp_path / "family.py"
    path.write_text(source + "\n")
    (got,) = violations(path)
    assert why in got


def test_the_scan_passes_the_api(tmp_path: Path) -> None:
    path = tmp_path / "family.py"
    path.write_text("from symbolic_torch.frontend.call import Call\nfrom symbolic_torch.rules._vocab import unary\n"
                    "import torch\nimport sympy as sp\n")
    assert violations(path) == []
