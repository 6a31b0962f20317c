"""Text of a gradient check: the failure message pytest shows, or a one-paragraph summary."""
from __future__ import annotations

from typing import TYPE_CHECKING

import sympy as sp

from symbolic_torch.gradcheck.equivalence import exact
from symbolic_torch.gradcheck.formulas import AUTOGRAD

if TYPE_CHECKING:
    from symbolic_torch.gradcheck.result import GradientCheck, Mismatch

WIDTH = 400  # longest formula shown in full


def formula(e: sp.Basic | None) -> str:
    """A formula on one line, its middle cut out when it is very long."""
    if e is None:
        return "—"
    text = sp.sstr(exact(e))
    if len(text) <= WIDTH:
        return text
    return f"{text[: WIDTH // 2]} … {text[-WIDTH // 4:]}   [{len(text)} characters]"


def _element(name: str, pos: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, pos))}]" if pos else name


def _block(check: "GradientCheck", m: "Mismatch") -> list[str]:
    truth = check.truth.source if check.truth is not None else "?"
    what = (f"∂L/∂{m.name}" if m.order == 1 else
            f"∂/∂{m.name} of Σ v·(your gradients)  [the backward of the backward]")
    lines = [f"{what}: {m.wrong_elements} of {m.total_elements} element(s) wrong; "
             f"the worst is element {_element(m.name, m.position)}"]
    label = "derived" if m.derived is not None else "derived (no formula)"
    lines.append(f"  {label:<30} {formula(m.derived) if m.derived is not None else 'from ' + truth}")
    if m.order == 1:
        yours = formula(m.yours) if m.yours is not None else _untraced(check)
        lines.append(f"  {'your backward':<30} {yours}")
        if m.difference is not None:
            lines.append(f"  {'difference (derived − yours)':<30} {formula(m.difference)}")

    else:
        lines.append(f"  {'yours':<30} autograd through your backward (double backward), numbers below")
    point = ",  ".join(f"{sp.sstr(k)} = {v:.6g}" for k, v in list(m.point.items())[:12])
    lines.append(f"  they differ at  {point}" + (",  …" if len(m.point) > 12 else ""))
    lines.append(f"      derived = {m.derived_value:.10g},  yours = {m.your_value:.10g}  "
                 f"(|difference| {abs(m.derived_value - m.your_value):.3g} > allowed {m.allowed:.3g})")
    if m.on_branch is not None:
        lines.append(f"      on this point's branch: derived = {formula(m.on_branch[0])},  "
                     f"yours = {formula(m.on_branch[1])}")
    if m.swapped_with:
        lines.append(f"  your gradient for {m.name!r} equals the derived gradient of {m.swapped_with!r}: "
                     f"are the gradients returned in the wrong order?")
    return lines


def _untraced(check: "GradientCheck") -> str:
    note = check.user.note if check.user is not None else ""
    return f"({note}; its numbers are compared)" if note else "(numbers only)"


def _coverage(check: "GradientCheck") -> str:
    truth = check.truth
    how = f"derived gradient from {truth.source}" if truth is not None else ""
    if truth is not None and truth.note:
        how += f" ({truth.note})"
    return (f"compared at {check.points} points in float64 (the example, random points on 5 scales, "
            f"{check.branch_points} point(s) placed on the uncovered side of branch conditions); {how}.")


def source(check: "GradientCheck") -> str:
    """The Function's forward as latexify-py renders it (``ctx`` and its bookkeeping dropped),
    or why latexify-py cannot."""
    if check.forward is None:
        return ""
    from symbolic_torch.printing.python_source import python_latex
    params = getattr(getattr(check.forward, "__code__", None), "co_varnames", ())[:1]
    shown = python_latex(check.forward, check.function, drop_ctx=params == ("ctx",))
    return f"forward, rendered by latexify-py:  {shown.latex}" if shown.ok else shown.note()


def _derived_lines(check: "GradientCheck") -> list[str]:
    """One element of each derived gradient, shown beside the forward's source."""
    elements = check.truth.elements if check.truth is not None else None
    lines = []
    for name, arr in (elements or {}).items():
        if arr.size:
            pos = (0,) * arr.ndim
            lines.append(f"derived ∂L/∂{_element(name, pos)} = {formula(arr[pos])}")
    return lines


def render(check: "GradientCheck") -> str:
    """The failure message, or the summary of a passing check."""
    if check.problems:
        return "\n".join([f"symbolic gradient check of {check.function} failed:"] + [f"  {p}" for p in check.problems])
    if check.mismatches:
        names = ", ".join(repr(m.name) for m in check.mismatches)
        order = " (order=2: the backward of the backward)" if check.mismatches[0].order == 2 else ""
        one = len(check.mismatches) == 1
        head = (f"symbolic gradient check of {check.function} failed{order}: the "
                f"{'gradient of input' if one else 'gradients of inputs'} {names} {'is' if one else 'are'} wrong.")
        lines = [head, ""] + ([source(check), ""] if check.forward is not None else [])
        for m in check.mismatches[:3]:
            lines += _block(check, m) + [""]
        return "\n".join(lines + [_coverage(check)])
    parts = []
    for name in (check.truth.elements or {}) if check.truth is not None else ():
        proofs = check.proofs.get(name, [])
        done = sum(p.proved for p in proofs)
        if not proofs:
            parts.append(f"{name}: compared numerically")
        elif done == len(proofs):
            parts.append(f"{name}: proved equal symbolically ({done} element{'s' if done > 1 else ''})")
        else:
            parts.append(f"{name}: proved equal symbolically for {done} of {len(proofs)} elements, "
                         f"the others agree within tolerance at every point")
    if check.truth is not None and check.truth.source == AUTOGRAD:
        parts.append("no derived formula; compared with autograd through the forward")
    if check.user is not None and check.user.elements is None:
        parts.append(f"your backward {check.user.note}")
    summary = f"{check.function}: gradients match" + (f" ({'; '.join(parts)})" if parts else "") + ". " + _coverage(check)
    shown = [source(check)] if check.forward is not None else []
    return "\n".join([summary, *(f"  {line}" for line in shown + _derived_lines(check))])
