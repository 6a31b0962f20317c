"""The package's shape: no import circle (scripts/import_graph.py's graph), and none in the
gradient checker or the coverage sweep even counting the imports made inside functions."""
from __future__ import annotations

import ast
import importlib.util
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
STRICT = ("symbolic_torch.gradcheck", "symbolic_torch.coverage")  # late imports count here too


def _import_graph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_graph", ROOT / "scripts" / "import_graph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IG = _import_graph()


def _type_checking_only(tree: ast.Module) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:`` (they never run)."""
    return {id(n) for s in ast.walk(tree) if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test)
            for b in s.body for n in ast.walk(b)}


def every_import(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports anywhere in its code (functions included): every
    import statement lifted to the top of a copy, read by the script's own resolver."""
    tree = ast.parse(path.read_text())
    skip = _type_checking_only(tree)
    lifted = [ast.unparse(n) for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) and id(n) not in skip]
    with tempfile.TemporaryDirectory() as tmp:
        flat = Path(tmp) / path.name  # the same file name: ``__init__.py`` resolves relative imports as a package
        flat.write_text("\n".join(lifted) + "\n")
        return IG.imports(name, flat, known)


def test_no_module_level_import_circle() -> None:
    assert IG.cycles(IG.graph()) == []


def test_gradcheck_and_coverage_have_no_circle_even_through_late_imports() -> None:
    mods = IG.modules()
    known = set(mods)
    graph = {n: {t for t in every_import(n, p, known) if t.startswith(STRICT)}
             for n, p in mods.items() if n.startswith(STRICT)}
    assert IG.cycles(graph) == []
    assert "symbolic_torch.coverage.opinfo" not in graph["symbolic_torch.coverage.pool"]  # the sweep hands it its work


def test_the_circle_finder_finds_circles() -> None:
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert IG.cycles(g) == [["a", "b", "c"]]
    assert every_import("symbolic_torch.gradcheck.check", ROOT / "symbolic_torch/gradcheck/check.py",
                        set(IG.modules())) >= {"symbolic_torch.gradcheck.second_order",
                                               "symbolic_torch.gradcheck.result"}
