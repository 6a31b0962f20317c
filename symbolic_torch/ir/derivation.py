"""The IR: a ``Derivation`` is an ordered list of ``Step``s plus the run's values.

Plain data: analyses read it, printers render it. Numbers come from the
run (``values``) and from the derived formulas (``adjoints``, through the chain),
never from autograd; autograd is only the referee in ``verify``.
"""
from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, Iterator

import torch

from symbolic_torch.ir.run import Run
from symbolic_torch.ir.step import Step

if TYPE_CHECKING:
    from symbolic_torch.autodiff.chain import Chain
    from symbolic_torch.verify.report import VerificationReport

__all__ = ["Derivation", "Step"]


class Derivation:
    """The derivation of one run: steps, values, derived adjoints, verification.

    ``chain`` evaluates the gradient formulas (once, when ``adjoints`` are first asked
    for); ``run`` is the run record the stages recorded.
    """

    def __init__(self, steps: list[Step], values: dict[str, torch.Tensor], chain: "Chain",
                 inputs: dict[str, str], params: list[str], seed: torch.Tensor | None,
                 has_loss: bool, method: str, run: Run) -> None:
        self.steps = [replace(s, derivation=self) for s in steps]
        self.values = values
        self.chain = chain
        self.inputs = inputs  # the model's argument name → fx placeholder name
        self.input_names = list(inputs)
        self.param_names = params
        self.seed = seed
        self.has_loss = has_loss
        self.capture_method = method
        self.run = run
        self.report: "VerificationReport | None" = None

    @property
    def adjoints(self) -> dict[str, torch.Tensor]:
        """ḡ = ∂L/∂t of every tensor the backward pass reaches, from the derived formulas."""
        return self.chain.adjoints

    @property
    def outputs(self) -> list[str]:
        """Tensor ids (fx node names) of the model's outputs, in order."""
        return list(self.run.outputs)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __getitem__(self, key: int | str) -> Step:
        """A step by integer index, fx node name or module path (``"features.0"``)."""
        if isinstance(key, int):
            return self.steps[key]
        for s in self.steps:
            if key in (s.name, s.module_path):
                return s
        names = [s.module_path or s.name for s in self.steps]
        raise KeyError(f"no step {key!r}; steps are {names}")

    def gradient_values(self) -> dict[str, torch.Tensor]:
        """∂L/∂t for every model input and parameter, from the derived formulas (fresh tensors:
        changing one does not change the derivation)."""
        out: dict[str, torch.Tensor] = {}
        for name in self.input_names + self.param_names:
            key = self.inputs.get(name, name)
            ref = self.values[key]
            if ref.is_floating_point():
                out[name] = self.adjoints.get(key, torch.zeros(ref.shape, dtype=torch.float64)).to(ref.dtype, copy=True)
        return out

    def verify(self, atol: float | None = None, rtol: float | None = None) -> "VerificationReport":
        """Compare every derived gradient with torch.autograd on the same values."""
        from symbolic_torch.verify.checks import verify
        self.report = verify(self, atol=atol, rtol=rtol)
        return self.report

    def to_latex(self, style: str = "default", **settings: Any) -> str:
        """The whole derivation as a LaTeX fragment (no preamble).

        ``style="paper"``: numbered ``align``s with long formulas broken across rows, compiling
        when ``\\input`` into an ``article`` with only amsmath and amssymb (settings ``macros``,
        ``worked``, ``label_prefix``; see ``symbolic_torch.printing.paper``).
        """
        if style == "paper":
            from symbolic_torch.printing.paper import paper_latex
            return paper_latex(self, **settings)
        if style != "default":
            raise ValueError(f"unknown LaTeX style {style!r}; use 'default' or 'paper'")
        from symbolic_torch.printing.latex import derivation_latex
        return derivation_latex(self, **settings)

    def to_beamer(self, path: str | Any = "paper_output/slides.pdf", **settings: Any) -> Any:
        """Write and compile a Beamer deck (a title frame, one frame per step); returns the PDF path."""
        from symbolic_torch.printing.beamer import write_beamer
        return write_beamer(self, path, **settings)

    def to_markdown(self, **settings: Any) -> str:
        """The derivation as Markdown with ``$…$``/``$$…$$`` math that GitHub renders."""
        from symbolic_torch.printing.markdown import derivation_markdown
        return derivation_markdown(self, **settings)

    def _repr_latex_(self) -> str:
        from symbolic_torch.printing.notebook import derivation_latex_repr
        return derivation_latex_repr(self)

    def _repr_html_(self) -> str:
        from symbolic_torch.printing.notebook import derivation_html
        return derivation_html(self)

    def to_pdf(self, path: str | Any = "paper_output/derivation.pdf", **settings: Any) -> Any:
        """Write the handout ``path`` (.tex beside it): graph, model table, a section per step,
        notation appendix; ``positions=`` chooses the worked elements. Returns the PDF path."""
        from symbolic_torch.printing.pdf import write_pdf
        return write_pdf(self, path, **settings)

    def to_html(self, path: str | Any = "paper_output/derivation.html", **settings: Any) -> Any:
        """Write a self-contained, offline HTML view (graph, formulas, heat maps, worked elements,
        deep links ``view.html#conv1/0,0,1,1``); returns its path. See ``symbolic_torch.web.page``."""
        from symbolic_torch.web.page import write_html
        return write_html(self, path, **settings)
    # --- analysis and storage (issue 12 §4–5): thin doors to symbolic_torch.analysis / .io
    def log(self) -> Any:
        """The activation log: per step its name, module path, shape, value statistics and the
        norm of its output gradient (``ActivationLog``; ``print`` it, or ``.to_markdown()``)."""
        from symbolic_torch.analysis.log import activation_log
        return activation_log(self)

    def save(self, path: str | Any, evidence: bool = True) -> Any:
        """Write the derivation to ``path`` (a folder, or a zip archive for ``*.zip``; format in
        docs/format.md); ``symbolic_torch.load(path)`` reads it back. Returns the path."""
        from symbolic_torch.io.archive import save
        return save(self, path, evidence)

    def to_json(self, timing: bool = True, repeats: int = 5) -> dict[str, Any]:
        """The graph as JSON-ready data (docs/schema.md): nodes with op, shapes, dtype, params,
        MACs, measured time and memory, formulas and verification status; edges with shapes."""
        from symbolic_torch.analysis.graph import graph_json
        return graph_json(self, timing=timing, repeats=repeats)

    def to_dot(self) -> Any:
        """The graph as a ``graphviz.Digraph`` (nodes with op and shape, edges with shapes)."""
        from symbolic_torch.analysis.dot import graph_dot
        return graph_dot(self)

    def to_svg(self, path: str | Any = "paper_output/graph.svg") -> Any:
        """Render the graph with Graphviz's ``dot`` to the SVG file ``path``; returns the path."""
        from symbolic_torch.analysis.dot import write_svg
        return write_svg(self, path)
    def summary(self) -> Any:
        """Parameters, MACs, FLOPs and memory per step (``symbolic_torch.summary``)."""
        from symbolic_torch.analysis.summary import summarize
        return summarize(self)

    def gradient_flow(self, **thresholds: float) -> Any:
        """Per-layer gradient norms, vanishing/exploding layers and advice (``symbolic_torch.gradient_flow``)."""
        from symbolic_torch.analysis.flow import gradient_flow
        return gradient_flow(self, **thresholds)

    def __repr__(self) -> str:
        return f"Derivation({len(self.steps)} steps, captured with {self.capture_method})"
