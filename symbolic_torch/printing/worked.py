"""Substitution: one element of a formula, expanded with the run's numbers.

``forward_element(step, position)`` instantiates the forward formula at one
output position, then writes it out term by term with real values, in the
formula's own order and unevaluated: ``y₀ = (1.2 × 0.3) + (0.5 × −0.5) + … = 0.2357``.
Sums longer than a few terms are truncated to the first terms, ⋯, the last
term and the exact term count. Only the shown terms are rendered; the value
comes from the vectorised evaluator, so a 2,305-term element costs milliseconds.
"""
from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, Mapping, Sequence

import sympy as sp
import torch

from symbolic_torch.autodiff.substitution import bound_replace
from symbolic_torch.numeric.evaluate import evaluate
from symbolic_torch.ir.element import Element, fmt
from symbolic_torch.numeric.padding import element
from symbolic_torch.ir.primitives import Iverson, WindowArgmax, WindowMax

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Step

FIRST_TERMS = 3


def _check_position(position: Sequence[int] | int, shape: tuple[int, ...], what: str) -> tuple[int, ...]:
    pos = (position,) if isinstance(position, int) else tuple(int(p) for p in position)
    ranges = ", ".join(f"0..{n - 1}" for n in shape) or "none (scalar)"
    if len(pos) != len(shape):
        raise IndexError(f"{what}: position {pos} has {len(pos)} indices, the tensor has shape "
                         f"{tuple(shape)} (valid ranges: {ranges})")
    out = []
    for p, n in zip(pos, shape):
        q = p + n if p < 0 else p
        if not 0 <= q < n:
            raise IndexError(f"{what}: position {pos} is out of range for shape {tuple(shape)} "
                             f"(valid ranges: {ranges})")
        out.append(q)
    return tuple(out)


def forward_element(step: "Step", position: Sequence[int] | int) -> Element:
    """The forward formula of ``step`` at output ``position``."""
    from symbolic_torch.printing.latex import latex
    pos = _check_position(position, step.out_shape, f"step {step.name!r} output")
    subs = dict(zip(step.out_indices, map(sp.Integer, pos)))
    rhs = bound_replace(step.forward.rhs, subs)
    lhs = bound_replace(step.forward.lhs, subs)
    env = step.env(adjoint=False)
    value = float(evaluate(rhs, env))
    real = step.derivation.values[step.output] if step.derivation is not None else None
    expected = float(real[pos].to(torch.float64)) if real is not None else None
    text, terms = numeric(rhs, env)
    return Element(step.name, "forward", pos, value, terms, latex(lhs), latex(rhs), text,
                   expected, step.forward_status())


def gradient_element(step: "Step", name: str, position: Sequence[int] | int) -> Element:
    """Element ``position`` of the gradient of ``step``'s operand ``name``."""
    from symbolic_torch.printing.latex import latex
    op = step.operand(name)
    if op.key not in step.gradients:
        raise KeyError(f"step {step.name!r}: {name!r} is not differentiable; "
                       f"gradients exist for {list(step.gradients)}")
    eq = step.gradients[op.key]
    pos = _check_position(position, op.shape, f"gradient of {step.name}.{op.key}")
    idx = eq.lhs.indices if isinstance(eq.lhs, sp.Indexed) else ()
    subs = dict(zip(idx, map(sp.Integer, pos)))
    rhs = bound_replace(eq.rhs, subs)
    lhs = bound_replace(eq.lhs, subs)
    env = step.env()
    value = float(evaluate(rhs, env))
    text, terms = numeric(rhs, env)
    return Element(step.name, op.key, pos, value, terms, latex(lhs), latex(rhs), text,
                   None, step.status(op.key))


# ---------------------------------------------------------------- numbers
def _value(e: sp.Indexed, env: Mapping[str, torch.Tensor]) -> float:
    pos = [int(i) if i.is_Integer else float(evaluate(i, env)) for i in e.indices]
    return float(element(env[str(e.base.label)], pos))


def numeric(e: sp.Basic, env: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    """LaTeX of ``e`` with every tensor element replaced by its number, and its term count."""
    if isinstance(e, sp.Sum):
        return _sum(e, env)
    if isinstance(e, sp.Add):
        parts = [numeric(a, env) for a in _ordered(e)]
        text = " + ".join(p[0] for p in parts).replace("+ -", "- ")
        return text, sum(p[1] for p in parts)
    if isinstance(e, sp.Mul):
        factors = list(e.args)
        if factors[0] == -1:
            inner, n = numeric(sp.Mul(*factors[1:], evaluate=False) if len(factors) > 2 else factors[1], env)
            return f"-{_paren(inner, factors[1])}", n
        parts = [numeric(a, env) for a in factors]
        text = r" \times ".join(_paren(t, a) for (t, _), a in zip(parts, factors))
        return text, math.prod(p[1] for p in parts)
    if isinstance(e, sp.Pow):
        b, n = numeric(e.base, env)
        if e.exp == -1:
            return rf"\frac{{1}}{{{b}}}", n
        if e.exp == sp.S.Half:
            return rf"\sqrt{{{b}}}", n
        ex, _ = numeric(e.exp, env)
        return f"{{{_paren(b, e.base, power=True)}}}^{{{ex}}}", n
    if isinstance(e, sp.Indexed):
        return fmt(_value(e, env)), 1
    if isinstance(e, sp.Symbol) and str(e) in env:
        return fmt(float(env[str(e)].reshape(()))), 1
    if e.is_Number or isinstance(e, sp.NumberSymbol):
        return fmt(float(e)), 1
    if isinstance(e, sp.Piecewise):
        for value, cond in e.args:
            if cond == sp.true or bool(evaluate(cond, env)):
                return numeric(value, env)
    if isinstance(e, WindowMax):
        return _window(e, env)
    if isinstance(e, (WindowArgmax, Iverson)):
        return fmt(float(evaluate(e, env))), 1
    if isinstance(e, sp.Function):
        return _function(e, env)
    return fmt(float(evaluate(e, env))), 1


def _ordered(e: sp.Add) -> list[sp.Basic]:
    """Sums first (the body of a formula), then the rest, as the formula reads."""
    return sorted(e.args, key=lambda a: not a.has(sp.Sum))


def _paren(text: str, e: sp.Basic, power: bool = False) -> str:
    if isinstance(e, (sp.Add, sp.Sum)) or (power and isinstance(e, (sp.Mul, sp.Pow))):
        return rf"\left({text}\right)"
    if (isinstance(e, (sp.Indexed, sp.Symbol)) or e.is_Number) and text.startswith("-"):
        return f"({text})"
    return text


def _function(e: sp.Function, env: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    from symbolic_torch.printing.latex import latex
    holes = [sp.Symbol(f"XHOLE{k}") for k in range(len(e.args))]
    template = latex(e.func(*holes))
    parts = [numeric(a, env) for a in e.args]
    for h, (text, _) in zip(holes, parts):
        template = template.replace(latex(h), text)
    return template, max([p[1] for p in parts] or [1])


def _domain(limits: Sequence[sp.Tuple], body: sp.Basic, env: Mapping[str, torch.Tensor]) -> list[tuple[int, ...]] | int:
    """Positions of the summation domain where the body is not ruled out."""
    free = [(l[0], int(l[1]), int(l[2])) for l in limits]
    sizes = [hi - lo + 1 for _, lo, hi in free]
    conds = _guards(body)
    if conds:
        mask = evaluate(sp.Piecewise((1, sp.And(*conds)), (0, True)), env, free) > 0.5
        return [tuple(int(v) + lo for v, (_, lo, _) in zip(p, free)) for p in mask.nonzero().tolist()]
    return math.prod(sizes)


def _guards(body: sp.Basic) -> list[sp.Basic]:
    """Conditions that zero the body: a guarding Piecewise and Iverson factors."""
    if isinstance(body, sp.Piecewise) and len(body.args) == 2 and body.args[1][0] == 0:
        return [body.args[0][1]] + _guards(body.args[0][0])
    if isinstance(body, Iverson):
        return [body.args[0]]
    if isinstance(body, sp.Mul):
        return [c for a in body.args for c in _guards(a)]
    return []


def flat_sum(e: sp.Sum) -> tuple[list[sp.Tuple], sp.Basic]:
    """``Σ_c Σ_p … body`` (written as nested sums) as one list of limits and its body."""
    limits = list(e.limits)
    body = e.function
    while isinstance(body, sp.Sum):
        limits += list(body.limits)
        body = body.function
    return limits, body


def shown_terms(limits: Sequence[sp.Tuple], body: sp.Basic,
                env: Mapping[str, torch.Tensor]) -> tuple[list[tuple[int, ...]], int]:
    """The summation positions a worked element writes out (the first ``FIRST_TERMS`` and the
    last when the sum is long, else all) and the sum's term count (terms not ruled out)."""
    dom = _domain(limits, body, env)
    ranges = [range(int(l[1]), int(l[2]) + 1) for l in limits]
    if isinstance(dom, int):
        count = dom
        head = list(itertools.islice(itertools.product(*ranges), FIRST_TERMS + 1))
        last = tuple(r[-1] for r in ranges) if count else None
    else:
        count = len(dom)
        head, last = dom[: FIRST_TERMS + 1], (dom[-1] if dom else None)
    if count <= FIRST_TERMS + 1:
        return head[:count], count
    assert last is not None
    return head[:FIRST_TERMS] + [last], count


def _sum(e: sp.Sum, env: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    limits, body = flat_sum(e)
    positions, count = shown_terms(limits, body, env)
    if count == 0:
        return "0", 0
    syms = [l[0] for l in limits]

    def term(p: tuple[int, ...]) -> str:
        at = bound_replace(body, dict(zip(syms, map(sp.Integer, p))))
        text, _ = numeric(at, env)
        return rf"\left({text}\right)" if isinstance(at, (sp.Add, sp.Mul, sp.Piecewise)) or text.startswith("-") else text
    shown = [term(p) for p in positions]
    if count > FIRST_TERMS + 1:
        shown.insert(FIRST_TERMS, r"\cdots")
    text = " + ".join(shown)
    if count > FIRST_TERMS + 1:
        text += rf"\ \left[{count}\ \text{{terms}}\right]"
    return (rf"\left({text}\right)" if count > 1 else text), count


def _window(e: WindowMax, env: Mapping[str, torch.Tensor]) -> tuple[str, int]:
    limits = list(e.limits)
    syms = [l[0] for l in limits]
    pos = list(itertools.product(*[range(int(l[1]), int(l[2]) + 1) for l in limits]))
    vals = []
    for p in pos:
        at = dict(zip(syms, map(sp.Integer, p)))
        inside = e.guard == sp.true or bool(evaluate(bound_replace(e.guard, at), env))
        vals.append(numeric(bound_replace(e.body, at), env)[0] if inside else r"-\infty")
    if len(vals) > FIRST_TERMS + 1:
        vals = vals[:FIRST_TERMS] + [r"\ldots", vals[-1]]
    return rf"\max\left({', '.join(vals)}\right)", len(pos)
