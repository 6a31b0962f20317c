"""Is ``derived − yours`` identically zero? Symbolic proof under a time budget.

The proof runs on per-element formulas (scalar symbols such as ``x[0, 1]``).
Floating-point constants are first read as the exact constants they round to
(``0.7071067811865476`` → ``√2/2``, ``1e-05`` → ``1/100000``), both sides
alike, and the ones that are not recognised become short decimal rationals.
Then cheaper rewrites are tried before dearer ones — ``expand`` (deep, so
arguments of ``exp``/``sqrt`` are normal forms too), ``cancel``, piecewise
folding branch by branch, interval by interval when every condition depends on
one scalar (``_regions``), and last ``simplify`` for formulas small enough —
checking the clock between them: nothing is interrupted (no thread, no signal);
once the deadline has passed, no further rewrite starts. A formula that no rewrite brings to
0 is left *open*; the numeric comparison then decides.
"""
from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from typing import Callable, Iterable

import sympy as sp

SIMPLIFY_MAX_OPS = 400  # larger formulas are not given to sympy.simplify


@dataclass(frozen=True)
class Proof:
    """``status``: "proved" (0), "open" (a nonzero leftover) or "timeout"; ``difference`` is the leftover."""

    status: str
    difference: sp.Expr
    how: str = ""

    @property
    def proved(self) -> bool:
        return self.status == "proved"


@functools.lru_cache(maxsize=4096)
def exact_constant(value: float) -> sp.Expr:
    """The simple exact constant a float rounds to (√2/2, 1/√(2π), 1/10), if there is one."""
    f = float(value)
    if f == 0 or f.is_integer():
        return sp.Integer(int(f))
    try:
        guess = sp.nsimplify(sp.Float(f, 17), [sp.pi, sp.E], tolerance=1e-15)
    except (ValueError, TypeError, ZeroDivisionError):
        guess = None
    if guess is not None and not guess.has(sp.Float) and sp.count_ops(guess) <= 8:
        if abs(float(guess) - f) <= 4 * abs(f) * 2.0 ** -52:
            return guess
    return sp.nsimplify(sp.Float(f, 15), rational=True)


def exact(e: sp.Expr) -> sp.Expr:
    """``e`` with every Float replaced by ``exact_constant``."""
    floats = e.atoms(sp.Float)
    return e.xreplace({f: exact_constant(float(f)) for f in floats}) if floats else e


def _cancel(e: sp.Expr) -> sp.Expr:
    return sp.cancel(sp.together(e))


def _branches(e: sp.Expr) -> sp.Expr:
    """0 if every branch of the folded piecewise form expands to 0, else the folded form."""
    folded = sp.piecewise_fold(e)
    if not isinstance(folded, sp.Piecewise):
        return folded
    if all(_cancel(sp.expand(piece.expr)) == 0 for piece in folded.args):
        return sp.S.Zero
    return folded


def _regions(e: sp.Expr) -> sp.Expr:
    """0 if ``e`` vanishes on every interval between the breakpoints of its branch conditions.

    For formulas whose conditions all depend on one scalar: the breakpoints are the
    real roots of each condition function; on each open interval between them every
    condition, ``Abs`` and ``sign`` is fixed, so ``e`` becomes a branch-free formula
    that ``expand``/``cancel`` can settle. (At the breakpoints themselves — the kinks —
    the gradient is a matter of convention and is not compared.)
    """
    conditions = branch_points(e)
    unknowns = set().union(*(element_symbols(h) for h in conditions)) if conditions else set()
    if len(unknowns) != 1:
        return e
    (v,) = unknowns
    t = sp.Dummy(real=True)
    roots: set[float] = set()
    for h in conditions:
        found = sp.solveset(h.xreplace({v: t}), t, domain=sp.S.Reals)
        if not isinstance(found, sp.FiniteSet):
            return e
        roots |= {float(r) for r in found}
    cuts = sorted(roots)
    tests = ([cuts[0] - 1] + [(a + b) / 2 for a, b in zip(cuts, cuts[1:])] + [cuts[-1] + 1]) if cuts else [0.0]
    for x0 in tests:
        if _cancel(sp.expand(fix_branches(e, {v: sp.Float(x0)}))) != 0:
            return e
    return sp.S.Zero


def fix_branches(e: sp.Expr, at: dict[sp.Basic, sp.Expr]) -> sp.Expr:
    """``e`` with each branch choice (condition, ``Abs``, ``sign``, ``Heaviside``, ``Max``/``Min``)
    made as it is at the point ``at``: the formula of the branch that point lies in."""
    def side(h: sp.Expr) -> int:
        value = h.xreplace(at).evalf()
        return 1 if value > 0 else -1 if value < 0 else 0

    def pick(node: sp.Basic) -> sp.Basic:
        if isinstance(node, sp.core.relational.Relational):
            return sp.true if bool(node.xreplace(at)) else sp.false
        if isinstance(node, sp.Abs):
            return side(node.args[0]) * node.args[0]
        if isinstance(node, sp.sign):
            return sp.Integer(side(node.args[0]))
        if isinstance(node, sp.Heaviside):
            return sp.Integer(side(node.args[0]) > 0)
        if isinstance(node, (sp.Max, sp.Min)):
            values = [a.xreplace(at).evalf() for a in node.args]
            best = values.index(max(values) if isinstance(node, sp.Max) else min(values))
            return node.args[best]
        return node
    return e.replace(lambda n: isinstance(n, BRANCHING), pick)


BRANCHING = (sp.core.relational.Relational, sp.Abs, sp.sign, sp.Heaviside, sp.Max, sp.Min)


def _simplify(e: sp.Expr) -> sp.Expr:
    return sp.simplify(e) if sp.count_ops(e) <= SIMPLIFY_MAX_OPS else e


REWRITES: list[tuple[str, Callable[[sp.Expr], sp.Expr]]] = [
    ("expand", sp.expand), ("cancel", _cancel), ("piecewise", _branches), ("regions", _regions),
    ("simplify", _simplify)]


def prove(derived: sp.Expr, yours: sp.Expr, deadline: float) -> Proof:
    """Try to show ``derived − yours == 0`` before ``deadline`` (a ``time.monotonic()`` value)."""
    diff = sp.sympify(exact(sp.sympify(derived)) - exact(sp.sympify(yours)))
    if diff == 0:
        return Proof("proved", sp.S.Zero, "identical")
    best = diff
    current = diff
    for name, rewrite in REWRITES:
        if time.monotonic() > deadline:
            return Proof("timeout", best)
        if name in ("piecewise", "regions") and not diff.has(sp.Piecewise, sp.Abs, sp.sign, sp.Heaviside, sp.Max):
            continue
        try:
            current = rewrite(diff if name == "regions" else best if name == "simplify" else current)
        except Exception:  # sympy gives up in many ways on odd inputs; the numbers decide then
            continue
        if current == 0:
            return Proof("proved", sp.S.Zero, name)
        if sp.count_ops(current) < sp.count_ops(best):
            best = current
    return Proof("open", best)


def canonical(exprs: Iterable[sp.Expr]) -> tuple[tuple[sp.Expr, ...], dict[sp.Basic, sp.Basic]]:
    """The expressions with their element symbols renamed in a fixed order, and the renaming back.

    Elements that compute the same formula on different elements (every element
    of an elementwise function) get the same canonical form, so one proof serves all.
    """
    exprs = tuple(exprs)
    atoms: set[sp.Basic] = set()
    for e in exprs:
        atoms |= element_symbols(e)
    by_base: dict[str, list[sp.Basic]] = {}
    for a in atoms:
        name = str(a.base.label) if isinstance(a, sp.Indexed) else str(a)
        by_base.setdefault(name, []).append(a)
    rename: dict[sp.Basic, sp.Basic] = {}
    for name, group in by_base.items():
        group.sort(key=lambda a: tuple(int(i) for i in a.indices) if isinstance(a, sp.Indexed) else ())
        for k, a in enumerate(group):
            rename[a] = sp.Symbol(f"{name}·{k}", real=True)
    back = {v: k for k, v in rename.items()}
    return tuple(e.xreplace(rename) for e in exprs), back


def branch_points(e: sp.Basic) -> set[sp.Expr]:
    """The functions whose sign picks a branch: ``lhs − rhs`` of each condition,
    the arguments of ``Abs``/``sign``/``Heaviside``, differences of ``Max``/``Min`` arguments."""
    found: set[sp.Expr] = set()
    for node in sp.preorder_traversal(e):
        if isinstance(node, sp.core.relational.Relational):
            found.add(node.lhs - node.rhs)
        elif isinstance(node, (sp.Abs, sp.sign, sp.Heaviside)):
            found.add(node.args[0])
        elif isinstance(node, (sp.Max, sp.Min)):
            found |= {a - b for a in node.args for b in node.args if a is not b}
    return {h for h in found if isinstance(h, sp.Expr) and h.free_symbols}


def element_symbols(e: sp.Basic) -> set[sp.Basic]:
    """The scalar unknowns of ``e``: tensor elements ``x[0, 1]`` and plain symbols of 0-d tensors."""
    found = e.atoms(sp.Indexed, sp.Symbol)
    indexed = {a for a in found if isinstance(a, sp.Indexed)}
    labels = {a.base.label for a in indexed}
    return indexed | {s for s in found if isinstance(s, sp.Symbol) and s not in labels and not s.is_integer}
