"""A plain Python function's source as LaTeX, by latexify-py.

Used beside derived formulas: a custom activation or a loss written as a ``def``/lambda
(``Step.python_function``) and a custom ``autograd.Function``'s forward in the gradient
checker's report. latexify reads only a ``def`` whose body is assignments and one return, so
the source is first tidied: a lambda becomes ``def name(args): return body``; decorators,
annotations, defaults, the docstring and (for an ``autograd.Function``) ``ctx`` and the
statements on it are dropped. Where latexify still cannot render it, the record says why.
"""
from __future__ import annotations

import ast
import functools
import inspect
import itertools
import linecache
import textwrap
from dataclasses import dataclass
from types import CodeType
from typing import TYPE_CHECKING, Any, Callable

import latexify

if TYPE_CHECKING:
    from symbolic_torch.ir.provenance import PythonFunction
    from symbolic_torch.ir.step import Step

# module prefixes latexify strips from calls: ``torch.sigmoid(x)`` → ``\mathrm{sigmoid}(x)``
PREFIXES = frozenset({"torch", "F", "nn.functional", "torch.nn.functional", "np", "numpy", "math"})
_COUNTER = itertools.count()


@dataclass(frozen=True)
class PythonLatex:
    """latexify-py's rendering of a function (``latex``), or why there is none (``reason``).

    >>> def swish(x):
    ...     return x * torch.sigmoid(x)
    >>> python_latex(swish).latex  # doctest: +SKIP
    '\\\\mathrm{swish}(x) = x \\\\cdot \\\\mathrm{sigmoid} \\\\mathopen{}\\\\left( x \\\\mathclose{}\\\\right)'
    """

    name: str
    latex: str | None
    reason: str | None = None
    source: str | None = None

    @property
    def ok(self) -> bool:
        return self.latex is not None

    def note(self) -> str:
        """One line of plain text for when there is no LaTeX: ``latexify-py cannot render f: …``."""
        return f"latexify-py cannot render {self.name}: {self.reason}"


def python_latex(fn: Callable[..., Any] | CodeType, name: str | None = None, drop_ctx: bool = False) -> PythonLatex:
    """``fn`` (a function or its code object) rendered by ``latexify.get_latex``.

    ``name`` renames it (a lambda has none: it becomes ``f`` unless named); ``drop_ctx`` removes
    an ``autograd.Function`` forward's ``ctx`` argument and the statements on ``ctx``.
    """
    code = fn if isinstance(fn, CodeType) else getattr(fn, "__code__", None)
    if code is None:
        return PythonLatex(name or getattr(fn, "__name__", repr(fn)), None, "not a Python function (no code object)")
    return _render(code, name, drop_ctx)


@functools.lru_cache(maxsize=256)
def _render(code: CodeType, name: str | None, drop_ctx: bool) -> PythonLatex:
    own = name or ("f" if code.co_name == "<lambda>" else code.co_name)
    try:
        source = textwrap.dedent(inspect.getsource(code))
    except (OSError, TypeError):
        return PythonLatex(own, None, "its source is not available (defined interactively or by exec)")
    node = _function_node(source, code)
    if node is None:
        return PythonLatex(own, None, "its source could not be parsed on its own (a lambda inside a "
                                      "statement that spans lines)", source)
    tidy = _tidy(node, own, drop_ctx)
    try:
        made = _compiled(ast.unparse(tidy), own)
        return PythonLatex(own, latexify.get_latex(made, use_math_symbols=True, prefixes=set(PREFIXES)),
                           None, source)
    except Exception as e:  # latexify's LatexifyError and any syntax it trips on
        return PythonLatex(own, None, f"{type(e).__name__}: {e}", source)


def _function_node(source: str, code: CodeType) -> ast.FunctionDef | ast.Lambda | None:
    """The ``def`` or ``lambda`` of ``code`` in its source (a lambda's source is its whole line)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    args = list(code.co_varnames[: code.co_argcount])
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name:
            return node  # type: ignore[return-value]
        if isinstance(node, ast.Lambda) and code.co_name == "<lambda>" and [a.arg for a in node.args.args] == args:
            return node
    return None


def _tidy(node: ast.FunctionDef | ast.Lambda, name: str, drop_ctx: bool) -> ast.FunctionDef:
    """A plain ``def name(args): …`` that latexify can read."""
    body = [ast.Return(node.body)] if isinstance(node, ast.Lambda) else list(node.body)
    args = [ast.arg(a.arg) for a in node.args.posonlyargs + node.args.args]
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        body = body[1:] or body  # the docstring
    if drop_ctx and args:
        ctx = args.pop(0).arg
        body = [s for s in body if not _on(s, ctx)]
    fn = ast.FunctionDef(name, ast.arguments([], args, None, [], [], None, []), body, [], None)
    return ast.fix_missing_locations(_Methods().visit(ast.Module([fn], [])))  # type: ignore[return-value]


class _Methods(ast.NodeTransformer):
    """Tensor methods as functions: ``x.abs()`` → ``abs(x)``, ``(y - t).mean()`` → ``mean(y - t)``
    (latexify reads ``x.abs()`` as an attribute call and drops ``x``); ``torch.abs(x)`` stays."""

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        f = node.func
        if isinstance(f, ast.Attribute) and not _module_path(f.value):
            return ast.Call(ast.Name(f.attr, ast.Load()), [f.value, *node.args], node.keywords)
        return node


def _module_path(e: ast.expr) -> bool:
    """``torch``, ``F``, ``torch.nn.functional``: a module, not a tensor."""
    while isinstance(e, ast.Attribute):
        e = e.value
    return isinstance(e, ast.Name) and e.id in {p.split(".")[0] for p in PREFIXES} | {"nn"}


def _on(stmt: ast.stmt, ctx: str) -> bool:
    """Is ``stmt`` bookkeeping on ``ctx`` (``ctx.save_for_backward(x)``, ``ctx.k = k``)?"""
    def on_ctx(e: ast.AST) -> bool:
        return isinstance(e, ast.Attribute) and isinstance(e.value, ast.Name) and e.value.id == ctx
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        return on_ctx(stmt.value.func)
    if isinstance(stmt, ast.Assign):
        return all(on_ctx(t) for t in stmt.targets)
    return False


def _compiled(source: str, name: str) -> Callable[..., Any]:
    """``source`` defined as a function whose source ``inspect`` can read (from linecache)."""
    filename = f"<symbolic_torch-latexify-{next(_COUNTER)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    scope: dict[str, Any] = {}
    exec(compile(source, filename, "exec"), scope)
    return scope[name] if name in scope else next(v for v in scope.values() if callable(v))


def step_source(step: "Step", seen: set[Any] | None = None) -> "tuple[PythonFunction, PythonLatex] | None":
    """The user's function behind ``step`` and its rendering, or None (no function, or one already
    in ``seen``: a document shows each function once). A lambda is named ``loss`` when it is the
    run's loss, else ``f``."""
    fn = step.python_function
    if fn is None or (seen is not None and fn in seen):
        return None
    if seen is not None:
        seen.add(fn)
    name = None
    if fn.is_lambda:  # a lambda has no name of its own
        run = step.derivation.run if step.derivation is not None else None
        name = "loss" if getattr(getattr(run, "loss", None), "__code__", None) is fn.code else "f"
    return fn, python_latex(fn.code, name)
