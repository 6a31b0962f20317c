"""The package's module-level import graph: print it, or its circles.

    python scripts/import_graph.py            # edges, one module a line
    python scripts/import_graph.py --cycles   # import circles (exit 1 when there is one)

Only imports that run when a module is loaded count: those at the top of a module (not
inside a function, nor under ``if TYPE_CHECKING:``). ``rules/`` is read as ``symbolic_torch.rules``.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "symbolic_torch"


def modules() -> dict[str, Path]:
    """Every module of the package (and the rule table) by dotted name."""
    out: dict[str, Path] = {}
    for base, prefix in ((ROOT / PACKAGE, [PACKAGE]), (ROOT / "rules", [PACKAGE, "rules"])):
        for path in sorted(base.rglob("*.py")):
            parts = prefix + list(path.relative_to(base).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _top_level(tree: ast.Module) -> list[ast.stmt]:
    """Statements that run at import: the module body, into if/try blocks but not TYPE_CHECKING."""
    out: list[ast.stmt] = []
    todo = list(tree.body)
    while todo:
        s = todo.pop(0)
        if isinstance(s, ast.If) and "TYPE_CHECKING" in ast.unparse(s.test):
            todo.extend(s.orelse)
        elif isinstance(s, (ast.If, ast.Try)):
            todo.extend(s.body + s.orelse + [x for h in getattr(s, "handlers", []) for x in h.body]
                        + getattr(s, "finalbody", []))
        else:
            out.append(s)
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules that ``name`` imports when loaded."""
    is_pkg = path.name == "__init__.py"
    here = name.split(".") if is_pkg else name.split(".")[:-1]
    found: set[str] = set()
    for s in _top_level(ast.parse(path.read_text())):
        if isinstance(s, ast.Import):
            targets = [a.name for a in s.names]
        elif isinstance(s, ast.ImportFrom):
            base = ".".join(here[: len(here) - s.level + 1]) if s.level else ""
            mod = ".".join(x for x in (base, s.module or "") if x)
            targets = [f"{mod}.{a.name}" for a in s.names]
        else:
            continue
        for t in targets:
            while t and t not in known:
                t = t.rpartition(".")[0]
            if t and t != name:
                found.add(t)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {n: imports(n, p, known) for n, p in mods.items()}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    sys.setrecursionlimit(10_000)
    for v in sorted(g):
        if v not in index:
            visit(v)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cycles", action="store_true", help="list import circles; exit 1 if any")
    args = p.parse_args()
    g = graph()
    if args.cycles:
        found = cycles(g)
        for c in found:
            print(" ↔ ".join(c))
        print(f"{len(found)} import circle(s)")
        return 1 if found else 0
    for n in sorted(g):
        print(f"{n} → {', '.join(sorted(g[n])) or '—'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
