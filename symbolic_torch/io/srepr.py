"""Formulas as text: sympy's ``srepr`` out, a safe reader back in.

``srepr`` writes an expression as the constructor calls that rebuild it
(``Indexed(IndexedBase(Symbol('x', real=True)), Symbol('i', integer=True))``), assumptions,
``Dummy`` indices and ``Float`` precisions included. ``loads`` reads that text without
``eval``: it parses it with ``ast`` and allows only calls of known sympy classes (sympy's own
and the package's: ``WindowMax``, ``Iverson``, ``Floor``, …), names of sympy singletons
(``true``, ``oo``, ``pi``), literals and tuples. Anything else raises ``FormatError`` naming it,
so a derivation file cannot run code.

>>> import sympy as sp
>>> x = sp.IndexedBase("x", real=True)[sp.Symbol("i", integer=True)]
>>> loads(dumps(x)) == x and loads(dumps(x)).is_real
True
"""
from __future__ import annotations

import ast
from functools import lru_cache
from typing import Any

import sympy as sp
from sympy.core.symbol import Str

from symbolic_torch.errors import FormatError


def dumps(expr: sp.Basic) -> str:
    """``expr`` as sympy's ``srepr`` text."""
    return sp.srepr(expr)


def loads(text: str) -> Any:
    """The expression ``dumps`` wrote (see the module doc for what is accepted)."""
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        raise FormatError(f"not an srepr formula: {text[:80]!r} ({e.msg})") from e
    return _build(tree.body, namespace())


def _build(node: ast.AST, ns: dict[str, Any]) -> Any:
    if isinstance(node, ast.Call):
        func = _build(node.func, ns)
        args = [_build(a, ns) for a in node.args]
        kwargs = {k.arg: _build(k.value, ns) for k in node.keywords if k.arg is not None}
        if len(kwargs) != len(node.keywords):
            raise FormatError("srepr formula: **kwargs are not allowed")
        # sympy parses (evaluates) a string handed to most constructors, also inside a tuple or as a
        # keyword: only a name given straight to Symbol, Dummy, Float, … passes
        direct = func in _TAKES_TEXT
        if (any(_has_text(a, top=direct) for a in args) or any(_has_text(v, top=False) for v in kwargs.values())):
            raise FormatError(f"srepr formula: {getattr(func, '__name__', func)} may not take a string here")
        return func(*args, **kwargs)
    if isinstance(node, ast.Name):
        if node.id not in ns:
            raise FormatError(f"srepr formula: unknown name {node.id!r} (not a sympy or symbolic_torch class)")
        return ns[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_build(e, ns) for e in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -_build(node.operand, ns)
    raise FormatError(f"srepr formula: {type(node).__name__} is not allowed ({ast.unparse(node)[:60]!r})")


def _has_text(value: Any, top: bool) -> bool:
    """Is there a string in ``value`` (a tuple's items included)? A string itself counts unless
    ``top`` (an argument the constructor takes as a name)."""
    if isinstance(value, str):
        return not top
    return isinstance(value, tuple) and any(_has_text(v, top=False) for v in value)


_TAKES_TEXT = (sp.Symbol, sp.Dummy, sp.Wild, sp.Float, sp.Function, Str)


def _subclasses(cls: type) -> list[type]:
    out, todo = [], [cls]
    while todo:
        c = todo.pop()
        for s in c.__subclasses__():
            out.append(s)
            todo.append(s)
    return out


def package_classes() -> dict[str, type]:
    """The sympy classes the package defines for its formulas, by name."""
    import symbolic_torch.ir.functions  # noqa: F401  (defines them)
    import symbolic_torch.ir.primitives  # noqa: F401
    return {c.__name__: c for c in _subclasses(sp.Basic)
            if c.__module__.startswith(("symbolic_torch.ir.", "symbolic_torch.rules."))}


@lru_cache(maxsize=1)
def namespace() -> dict[str, Any]:
    """Every name ``srepr`` may write: sympy classes (also those not exported at the top level,
    such as ``ExprCondPair``), sympy's public names and singletons, and the package's classes."""
    ns: dict[str, Any] = {}
    for c in _subclasses(sp.Basic):
        if c.__module__.startswith("sympy.") and not c.__name__.startswith("_"):
            ns.setdefault(c.__name__, c)
    ns.update({k: v for k, v in vars(sp).items() if not k.startswith("_") and _sympy_thing(v)})
    ns.update(package_classes())
    return ns


def _sympy_thing(v: Any) -> bool:
    """A sympy class or object; never a plain function (``sympify`` would evaluate text)."""
    if isinstance(v, sp.Basic):
        return True
    return isinstance(v, type) and v.__module__.startswith("sympy")
