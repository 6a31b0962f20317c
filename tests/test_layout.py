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


# Imports go one way: a module imports (at load time) only from its own layer or those below.
LAYERS = {"errors": 0, "progress": 0, "ir": 0, "numeric": 1, "frontend": 2, "rules": 2, "autodiff": 3, "verify": 4,
          "pipeline": 5, "printing": 5, "io": 5, "gradcheck": 6, "coverage": 6, "training": 6, "analysis": 6,
          "web": 6,
          "cli": 7, "testing": 7, "pytest_plugin": 7, "": 7}


def _layer(module: str) -> tuple[str, int]:
    part = (module.split(".") + [""])[1]
    assert part in LAYERS, f"{module}: place {part!r} in LAYERS (tests/test_layout.py) and the README's layout"
    return part, LAYERS[part]


def backward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Edges of ``graph`` from a module to one of a later layer (another package)."""
    found = []
    for a, targets in graph.items():
        pa, la = _layer(a)
        for b in sorted(targets):
            pb, lb = _layer(b)
            if pa != pb and lb > la:
                found.append(f"{a} → {b}")
    return found


def test_imports_go_one_way() -> None:
    """Consumers → pipeline stages → numeric → IR: no module imports a later stage or a consumer
    when it loads (an IR method that renders imports its printer inside the method)."""
    assert backward_imports(IG.graph()) == []


def test_layer_check_catches_a_backward_import() -> None:
    """The check fails on an IR module importing a stage, and on numeric importing a printer."""
    graph = {"symbolic_torch.ir.step": {"symbolic_torch.verify.checks", "symbolic_torch.ir.operand"},
             "symbolic_torch.numeric.evaluate": {"symbolic_torch.printing.latex"}}
    assert backward_imports(graph) == ["symbolic_torch.ir.step → symbolic_torch.verify.checks",
                                       "symbolic_torch.numeric.evaluate → symbolic_torch.printing.latex"]


def test_every_subpackage_ships_in_the_wheel() -> None:
    """pyproject.toml lists every package of the tree (a new subpackage left out would be
    missing from the wheel although the editable install of a checkout still finds it)."""
    import tomllib
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "symbolic_torch").rglob("__init__.py")
             if "rules" not in p.parent.relative_to(ROOT).parts}
    assert found | {"symbolic_torch.rules"} == listed
