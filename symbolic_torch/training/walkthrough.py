"""``Walkthrough``: a few optimizer iterations, each with its derivation, its updates and its check.

Plain data, like ``Derivation``: ``iterations`` hold the loss before each step, the step's
``Derivation`` (derived and verified at that iteration's weights) and each parameter's
``ParameterUpdate``; ``verify`` runs the same iterations with torch's own optimizer on a copy
of the model and records, per iteration, how far every number is from torch's.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import torch
from tabulate import tabulate

from symbolic_torch.errors import VerificationError
from symbolic_torch.numeric.tolerances import Tol, for_dtype
from symbolic_torch.training.optimizer import OptimizerSpec
from symbolic_torch.training.update import ParameterUpdate

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation


@dataclass(frozen=True)
class Iteration:
    """Iteration ``t`` (1-based): the loss before the step, its derivation, the updates."""

    t: int
    loss: float
    derivation: "Derivation" = field(repr=False)
    updates: Mapping[str, ParameterUpdate] = field(repr=False)


@dataclass(frozen=True)
class CheckRow:
    """One number compared with torch's: the loss, a parameter after the step, or a state tensor."""

    iteration: int
    name: str
    max_abs_error: float
    ok: bool


@dataclass
class WalkthroughReport:
    """Every comparison with torch's optimizer, and each iteration's derivation verdict."""

    rows: list[CheckRow]
    derivations_ok: list[bool]
    tolerance: Tol

    @property
    def ok(self) -> bool:
        """Did every number agree with torch and every derivation verify?"""
        return all(r.ok for r in self.rows) and all(self.derivations_ok)

    @property
    def failures(self) -> list[CheckRow]:
        """The rows that disagree with torch."""
        return [r for r in self.rows if not r.ok]

    def iteration_ok(self, t: int) -> bool:
        """Whether iteration ``t``'s numbers and derivation all passed."""
        return self.derivations_ok[t - 1] and all(r.ok for r in self.rows if r.iteration == t)

    def max_error(self, t: int, name: str | None = None) -> float:
        """The largest error of iteration ``t`` (of row ``name`` only, when given)."""
        errs = [r.max_abs_error for r in self.rows if r.iteration == t and name in (None, r.name)]
        return max(errs, default=0.0)

    def raise_if_failed(self) -> None:
        """Raise ``VerificationError`` (naming the failures) unless everything agreed."""
        if not self.ok:
            raise VerificationError(self)

    def __str__(self) -> str:
        head = ("walkthrough: every loss, parameter and optimizer state equals torch.optim's"
                if self.ok else f"walkthrough: {len(self.failures)} comparison(s) FAILED")
        bad = [t + 1 for t, ok in enumerate(self.derivations_ok) if not ok]
        if bad:
            head += f"; the derivation of iteration(s) {bad} FAILED verification"
        body = [[r.iteration, r.name, f"{r.max_abs_error:.3g}", "ok" if r.ok else "FAILED"] for r in self.rows]
        return head + "\n" + tabulate(body, headers=["iteration", "compared", "max abs err", "status"])


class Walkthrough:
    """``steps`` iterations of an optimizer on a model, derived, evaluated and checked.

    Example::

        w = train_steps(model, x, target=y, loss=nn.MSELoss(), optimizer="adam", lr=0.01)
        w.losses                        # [0.93, 0.91, 0.88]: the loss before each step
        w.derivations[1]["fc1"]         # a step of the second iteration's derivation
        w.updates["fc1.weight"][0]      # its first update: formulas, values before and after
        w.report.ok; w.to_pdf("paper_output/walkthrough.pdf")
    """

    def __init__(self, spec: OptimizerSpec, iterations: list[Iteration], model: torch.nn.Module,
                 inputs: Sequence[torch.Tensor], target: Any, loss: Callable[..., torch.Tensor],
                 seeds: Sequence[int]) -> None:
        self.optimizer = spec
        self.iterations = iterations
        self.model = model
        self.inputs, self.target, self.loss_fn, self.seeds = tuple(inputs), target, loss, list(seeds)
        self.report: WalkthroughReport | None = None

    @property
    def losses(self) -> list[float]:
        """The loss at each iteration, before its update."""
        return [it.loss for it in self.iterations]

    @property
    def derivations(self) -> list["Derivation"]:
        """Each iteration's derivation, at that iteration's weights."""
        return [it.derivation for it in self.iterations]

    @property
    def updates(self) -> dict[str, list[ParameterUpdate]]:
        """Per trained parameter, its update at each iteration."""
        return {n: [it.updates[n] for it in self.iterations] for n in self.optimizer.hyper}

    @property
    def parameters(self) -> dict[str, torch.Tensor]:
        """The trained parameters after the last iteration (float64, from the formulas)."""
        return {n: u[-1].after for n, u in self.updates.items()}

    def verify(self) -> WalkthroughReport:
        """Run the same iterations with torch's optimizer; compare every loss, parameter and
        state tensor (and verify any derivation not verified yet)."""
        from symbolic_torch.training.reference import torch_run
        ref = torch_run(self.model, self.inputs, self.target, self.loss_fn, self.optimizer,
                        len(self.iterations), self.seeds)
        dtype = next(p.dtype for n, p in self.model.named_parameters() if n in self.optimizer.hyper)
        tol = for_dtype(dtype)
        rows: list[CheckRow] = []
        for it, r in zip(self.iterations, ref):
            rows.append(_row(it.t, "loss", torch.tensor(it.loss), torch.tensor(r.loss), tol))
            for name, u in it.updates.items():
                rows.append(_row(it.t, name, u.after, r.params[name], tol))
                for key, mine in u.state_after.items():
                    rows.append(_row(it.t, f"{name}: {key}", mine, r.state[name][key], tol))
        oks = [(d.report or d.verify()).ok for d in self.derivations]
        self.report = WalkthroughReport(rows, oks, tol)
        return self.report

    def to_latex(self) -> str:
        """The walkthrough as a LaTeX fragment: a section per iteration and a loss table."""
        from symbolic_torch.training.document import walkthrough_latex
        return walkthrough_latex(self)

    def to_pdf(self, path: str | Path = "paper_output/walkthrough.pdf", title: str | None = None,
               compile: bool = True) -> Path:
        """Write ``path`` (.tex beside it) and compile it; returns the PDF path (the .tex's with
        ``compile=False``)."""
        from symbolic_torch.training.document import write_pdf
        return write_pdf(self, path, title=title, compile=compile)

    def __repr__(self) -> str:
        state = "unverified" if self.report is None else ("ok" if self.report.ok else "FAILED")
        return f"Walkthrough({self.optimizer.label}, {len(self.iterations)} iterations, {state})"


def _row(t: int, name: str, mine: torch.Tensor, ref: torch.Tensor, tol: Tol) -> CheckRow:
    mine, ref = mine.detach().to(torch.float64), ref.detach().to(torch.float64)
    err = float((mine - ref).abs().max()) if mine.numel() else 0.0
    bound = tol.atol + tol.rtol * (float(ref.abs().max()) if ref.numel() else 0.0)
    return CheckRow(t, name, err, bool(err <= bound) and bool(torch.isfinite(mine).all()))
