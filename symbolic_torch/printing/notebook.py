"""Jupyter: ``_repr_latex_`` and ``_repr_html_`` of Derivation, Step and Element.

The LaTeX reprs are ``$$ \\begin{aligned} … \\end{aligned} $$`` for MathJax/KaTeX. The HTML reprs
are Jinja2 templates with autoescaping (names, targets and the math itself are escaped; MathJax
reads the math back from the page's text), math in ``$…$``/``$$…$$``. A Derivation's HTML is a
compact summary: one table row per step, its forward formula when short, its status.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2

from symbolic_torch.ir.element import fmt
from symbolic_torch.printing.latex import latex
from symbolic_torch.printing.markdown import aligned, element_pairs, mathjax

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation
    from symbolic_torch.ir.element import Element
    from symbolic_torch.ir.step import Step

SHORT = 160  # longest forward formula (LaTeX characters) shown in a Derivation's summary
MAX_ROWS = 60  # steps listed in a Derivation's summary before "… and N more"
_ENV = jinja2.Environment(autoescape=True, trim_blocks=True, lstrip_blocks=True)

_STEP = _ENV.from_string("""<div class="symbolic-torch-step">
<p><b>Step {{ s.index }}: <code>{{ s.name }}</code></b> ({{ s.op }}), output {{ shape }}; {{ status }}</p>
<div>$${{ math }}$$</div>
</div>""")

_ELEMENT = _ENV.from_string("""<div class="symbolic-torch-element">
<p><code>{{ e.step }}</code>, {{ kind }} at {{ e.position }}: {{ e.terms }} term(s), {{ e.status }}
{%- if e.expected is not none %}; the run computed {{ expected }}{% endif %}</p>
<div>$${{ math }}$$</div>
</div>""")

_DERIVATION = _ENV.from_string("""<div class="symbolic-torch-derivation">
<p><b>Derivation</b>: {{ d.steps|length }} steps, captured with {{ d.capture_method }}; {{ verdict }}</p>
<table>
<thead><tr><th>#</th><th>step</th><th>op</th><th>output</th><th>forward</th><th>gradients</th></tr></thead>
<tbody>
{% for r in rows %}
<tr><td>{{ r.index }}</td><td><code>{{ r.name }}</code></td><td>{{ r.op }}</td><td>{{ r.shape }}</td>
<td>{% if r.math %}${{ r.math }}${% else %}<i>{{ r.note }}</i>{% endif %}</td><td>{{ r.grads }}</td></tr>
{% endfor %}
</tbody>
</table>
{% if more %}<p>… and {{ more }} more steps (<code>d[k]</code> shows step k).</p>{% endif %}
</div>""")


def _shape(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "scalar"


def step_math(step: "Step") -> str:
    """The step's forward and (unless failed) derived gradients as one ``aligned``."""
    pairs = [] if step.forward_status() == "failed" else [(latex(step.forward.lhs), latex(step.forward.rhs))]
    pairs += [(latex(eq.lhs), latex(eq.rhs)) for k, eq in step.gradients.items() if step.status(k) != "failed"]
    return aligned(pairs) if pairs else r"\text{every formula of this step FAILED verification}"


def _step_status(step: "Step") -> str:
    states = {step.status(k) for k in ("forward", *step.gradients)}
    if "failed" in states:
        return "FAILED verification (failed formulas not shown)"
    return "verified against autograd" if states == {"verified"} else "not (fully) verified"


def step_latex_repr(step: "Step") -> str:
    """``Step._repr_latex_``: ``$$ aligned forward and gradients $$``."""
    return f"$${step_math(step)}$$"


def step_html(step: "Step") -> str:
    """``Step._repr_html_``."""
    return _STEP.render(s=step, shape=_shape(step.out_shape), status=_step_status(step), math=step_math(step))


def element_latex_repr(e: "Element") -> str:
    """``Element._repr_latex_``: formula at the position, numbers, value."""
    return f"$${aligned(element_pairs(e))}$$"


def element_html(e: "Element") -> str:
    """``Element._repr_html_``."""
    kind = "forward" if e.kind == "forward" else f"gradient of {e.kind}"
    expected = fmt(e.expected) if e.expected is not None else ""
    return _ELEMENT.render(e=e, kind=kind, expected=expected, math=aligned(element_pairs(e)))


def derivation_latex_repr(d: "Derivation") -> str:
    """``Derivation._repr_latex_``: every step's forward formula (the first ``MAX_ROWS``)."""
    pairs = [(rf"\mathtt{{{s.name}}}:\ " .replace("_", r"\_") + latex(s.forward.lhs), latex(s.forward.rhs))
             for s in d.steps[:MAX_ROWS]]
    body = aligned(pairs)
    if len(d.steps) > MAX_ROWS:
        body = body.replace(r" \end{aligned}", rf" \\ &\vdots\ \text{{({len(d.steps) - MAX_ROWS} more steps)}} \end{{aligned}}")
    return f"$${body}$$"


def derivation_html(d: "Derivation") -> str:
    """``Derivation._repr_html_``: a compact summary table."""
    r = d.report
    verdict = ("not verified" if r is None else "every check agrees with autograd" if r.ok
               else f"{len(r.failures)} check(s) FAILED")
    rows = []
    for s in d.steps[:MAX_ROWS]:
        tex = mathjax(latex(s.forward))
        short = len(tex) <= SHORT and s.forward_status() != "failed"
        rows.append({"index": s.index, "name": s.name, "op": s.op, "shape": _shape(s.out_shape),
                     "math": tex if short else "", "note": "failed" if s.forward_status() == "failed"
                     else f"long formula: d[{s.index}]", "grads": ", ".join(s.gradients) or "—"})
    return _DERIVATION.render(d=d, verdict=verdict, rows=rows, more=max(0, len(d.steps) - MAX_ROWS))
