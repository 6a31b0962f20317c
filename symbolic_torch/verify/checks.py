"""Verification: every derived formula against torch.autograd on the same values.

Three kinds of check, all from the formulas (never from autograd's numbers):
- ``forward``: each step's forward formula, evaluated over every output element,
  against the tensor the run produced;
- per step and operand: the gradient formula fed with autograd's adjoint of the
  step's output, against autograd's vector–Jacobian product of that node alone;
- per model input and parameter: the gradient chained through all formulas
  (``Derivation.gradient_values``) against ``torch.autograd.grad`` of the model.

The reference is the model itself, run again, not only the graph captured from it: the
model's outputs are compared with the run's (``output`` rows), so that a capture that
computes something else (an in-place write through a view, say) cannot pass.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sympy as sp
import torch
import torch.fx as fx
from tabulate import tabulate

from symbolic_torch.ir import symbols as S
from symbolic_torch.numeric.evaluate import evaluate_over
from symbolic_torch.frontend.lower import map_tensor_args
from symbolic_torch.frontend.registry import tolerance_of
from symbolic_torch.numeric.tolerances import WITHIN, Tolerance, for_dtype, is_reduced

if TYPE_CHECKING:
    from symbolic_torch.ir.derivation import Derivation, Step



@dataclass(frozen=True)
class Row:
    """One comparison: ``kind`` is "tensor" (end to end) or "step" (one formula)."""

    kind: str
    name: str
    key: str
    shape: tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    ok: bool
    nonfinite: bool = False
    note: str = ""


@dataclass
class VerificationReport:
    """Result of ``Derivation.verify``: ``.ok``, ``.max_abs_error`` and the rows."""

    rows: list[Row] = field(default_factory=list)
    step_rows: list[Row] = field(default_factory=list)
    output_rows: list[Row] = field(default_factory=list)  # the run's outputs against the model's

    @property
    def all_rows(self) -> list[Row]:
        return self.rows + self.step_rows + self.output_rows

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.all_rows)

    @property
    def max_abs_error(self) -> float:
        errs = [r.max_abs_error for r in self.all_rows]
        return max(errs) if errs else 0.0

    @property
    def failures(self) -> list[Row]:
        return [r for r in self.all_rows if not r.ok]

    def step_status(self, step: str, key: str) -> str:
        for r in self.step_rows:
            if r.name == step and r.key == key:
                return "verified" if r.ok else "failed"
        return "unverified"

    def table(self, rows: list[Row] | None = None) -> str:
        rows = self.rows if rows is None else rows
        body = [[r.name if r.kind == "tensor" else f"{r.name}: {r.key}", "×".join(map(str, r.shape)) or "scalar",
                 f"{r.max_abs_error:.3g}", f"{r.max_rel_error:.3g}",
                 ("ok" if r.ok else "FAILED") + (" (NaN/Inf)" if r.nonfinite else ""), r.note] for r in rows]
        return tabulate(body, headers=["tensor", "shape", "max abs err", "max rel err", "status", "note"])

    def __str__(self) -> str:
        head = "verification: " + ("all derived gradients agree with autograd" if self.ok
                                   else f"{len(self.failures)} check(s) FAILED")
        parts = [head, self.table()]
        bad_outputs = [r for r in self.output_rows if not r.ok]
        if bad_outputs:
            parts += ["the captured graph's outputs differ from the model's:", self.table(bad_outputs)]
        bad_steps = [r for r in self.step_rows if not r.ok]
        if bad_steps:
            parts += ["failed step formulas:", self.table(bad_steps)]
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"VerificationReport(ok={self.ok}, max_abs_error={self.max_abs_error:.3g}, rows={len(self.rows)})"


def compare(kind: str, name: str, key: str, got: torch.Tensor, ref: torch.Tensor | None,
            dtype: torch.dtype, atol: float | None = None, rtol: float | None = None) -> Row:
    """Compare ``got`` (from formulas) with ``ref`` (autograd; None means zero)."""
    ref64 = torch.zeros_like(got, dtype=torch.float64) if ref is None else ref.detach().to(torch.float64)
    got64 = got.detach().to(torch.float64).reshape(ref64.shape)
    a0, r0 = for_dtype(dtype)
    atol, rtol = a0 if atol is None else atol, r0 if rtol is None else rtol
    nonfinite = bool((~torch.isfinite(got64)).any() or (~torch.isfinite(ref64)).any())
    same_nan = torch.isnan(got64) == torch.isnan(ref64)
    same_inf = torch.where(torch.isinf(ref64) | torch.isinf(got64), got64 == ref64, True)
    fin = torch.isfinite(got64) & torch.isfinite(ref64)
    diff = torch.where(fin, (got64 - ref64).abs(), torch.zeros((), dtype=torch.float64))
    err = float(diff.max()) if diff.numel() else 0.0
    scale = float(torch.where(fin, ref64.abs(), 0).max()) if diff.numel() else 0.0
    rel = err / scale if scale > 0 else err
    ok = bool(same_nan.all() and same_inf.all()) and err <= atol + rtol * scale
    if is_reduced(dtype):
        ok = bool(same_nan.all() and same_inf.all()) and (rel <= rtol or err <= atol)
    note = "" if bool(same_nan.all() and same_inf.all()) else "NaN/Inf pattern differs"
    return Row(kind, name, key, tuple(got64.shape), err, rel, ok, nonfinite, note)


def compare_within(tol: Tolerance | None, kind: str, name: str, key: str, got: torch.Tensor,
                   ref: torch.Tensor | None, dtype: torch.dtype, atol: float | None = None,
                   rtol: float | None = None) -> Row:
    """``compare``; a row that fails it but holds within the rule's documented ``Tolerance`` passes,
    with the tolerance's reason as its note."""
    row = compare(kind, name, key, got, ref, dtype, atol, rtol)
    if row.ok or tol is None:
        return row
    a0, r0 = for_dtype(dtype)
    wide = compare(kind, name, key, got, ref, dtype, *tol.widen((a0 if atol is None else atol, r0 if rtol is None else rtol)))
    return replace(wide, note=WITHIN + tol.reason) if wide.ok else row


def verify(d: "Derivation", atol: float | None = None, rtol: float | None = None) -> VerificationReport:
    """Check every formula of ``d`` against autograd (see module doc), also when called under no_grad."""
    with torch.enable_grad():
        return _verify(d, atol, rtol)


def _verify(d: "Derivation", atol: float | None, rtol: float | None) -> VerificationReport:
    ref = _reference(d)
    model = _model_reference(d)
    report = VerificationReport()
    dtype = _dtype(d)
    if model is not None:
        for name, got in model["outputs"].items():
            report.output_rows.append(compare("output", name, "forward", d.values[name], got,
                                              d.values[name].dtype, atol, rtol))
        if all(r.ok for r in report.output_rows):  # else the output rows already fail, and say why
            ref["grads"] = {**ref["grads"], **model["grads"]}
    for step in d.steps:
        out_dtype = d.values[step.output].dtype
        tol = tolerance_of([step.op])
        report.step_rows.append(_forward_row(step, d, out_dtype, atol, rtol, tol))
        true_adj = ref["adjoints"].get(step.output)
        if not step.gradients:
            continue
        if true_adj is None:
            true_adj = torch.zeros(step.out_shape, dtype=torch.float64)
        local = _local_vjp(d, step, true_adj)
        env = {o.symbol: o.value for o in step.operands}
        env[S.ADJOINT] = true_adj.to(torch.float64)
        for key, eq in step.gradients.items():
            op = step.operand(key)
            indices = tuple(eq.lhs.indices) if isinstance(eq.lhs, sp.Indexed) else ()
            got = evaluate_over(eq.rhs, indices, op.shape, env)
            report.step_rows.append(compare_within(tol, "step", step.name, key, got, local.get(key), out_dtype,
                                                   atol, rtol))
    derived = d.gradient_values()
    tol = tolerance_of(s.op for s in d.steps)
    for name in derived:
        key = d.inputs.get(name, name)
        report.rows.append(compare_within(tol, "tensor", name, "grad", d.adjoints.get(key, derived[name]),
                                          ref["grads"].get(key), d.values[key].dtype, atol, rtol))
    return report


def _dtype(d: "Derivation") -> torch.dtype:
    for v in d.values.values():
        if v.is_floating_point():
            return v.dtype
    return torch.float64


def _forward_row(step: "Step", d: "Derivation", dtype: torch.dtype, atol: float | None, rtol: float | None,
                 tol: Tolerance | None = None) -> Row:
    env = {o.symbol: o.value for o in step.operands}
    got = evaluate_over(step.forward.rhs, step.out_indices, step.out_shape, env)
    return compare_within(tol, "step", step.name, "forward", got, d.values[step.output], dtype, atol, rtol)


def _copy(self: torch.Tensor, src: Any, non_blocking: bool = False) -> torch.Tensor:
    """``aten.copy`` as autograd can differentiate it (torch has no derivative for the functional
    copy that torch.export writes for ``x.copy_(src)``): src broadcast to self's shape and dtype."""
    return torch.zeros_like(self) + torch.as_tensor(src).to(self.dtype)


_DIFFERENTIABLE = {torch.ops.aten.copy.default: _copy}


class _Recorder(fx.Interpreter):
    def __init__(self, gm: fx.GraphModule) -> None:
        super().__init__(gm, garbage_collect_values=False)
        self.record: dict[str, torch.Tensor] = {}

    def call_function(self, target: Any, args: Any, kwargs: Any) -> Any:
        return super().call_function(_DIFFERENTIABLE.get(target, target), args, kwargs)

    def run_node(self, n: fx.Node) -> Any:
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            self.record[n.name] = out
        return out


def _fresh_inputs(d: "Derivation") -> tuple[list[Any], dict[str, torch.Tensor]]:
    """The run's inputs again, the differentiable ones as new leaves (by placeholder name)."""
    gm: fx.GraphModule = d.meta["gm"]
    diff = d.meta["differentiable"]
    names = [n.name for n in gm.graph.nodes if n.op == "placeholder"]
    leaves: dict[str, torch.Tensor] = {}
    args: list[Any] = []
    for name, x in zip(names, d.meta["run_inputs"]):
        if isinstance(x, torch.Tensor) and diff.get(name, False):
            x = x.detach().clone().requires_grad_(True)
            leaves[name] = x
        args.append(x)
    return args, leaves


def _reference(d: "Derivation") -> dict[str, dict[str, torch.Tensor]]:
    gm: fx.GraphModule = d.meta["gm"]
    args, leaves = _fresh_inputs(d)
    rec = _Recorder(gm)
    saved = torch.random.get_rng_state()
    buffers = _snapshot(gm)
    try:
        torch.random.set_rng_state(d.meta["rng_start"])  # the same random draws as the run
        with torch.enable_grad():
            rec.run(*args)
        torch.random.set_rng_state(saved)
        return _reference_grads(d, gm, rec, leaves)
    finally:
        torch.random.set_rng_state(saved)
        _restore(gm, buffers)  # re-running must not move running statistics again


def _model_reference(d: "Derivation") -> dict[str, dict[str, torch.Tensor]] | None:
    """The model itself (and loss) run again on the inputs: its outputs and its gradients
    (seeded like the run) with respect to the inputs and parameters. None when the model's
    outputs cannot be paired with the graph's (e.g. a dict of outputs)."""
    model, loss = d.meta.get("model"), d.meta.get("loss")
    if model is None:
        return None
    gm: fx.GraphModule = d.meta["gm"]
    args, leaves = _fresh_inputs(d)
    mod = model if isinstance(model, torch.nn.Module) else None
    by_id = {id(p): n for n, p in (mod.named_parameters() if mod is not None else ())}
    params = {n: p for n, p in gm.named_parameters() if n in d.param_names and id(p) in by_id}
    saved = torch.random.get_rng_state()
    buffers = {k: b.detach().clone() for k, b in mod.named_buffers()} if mod is not None else {}
    try:
        torch.random.set_rng_state(d.meta["rng_start"])
        with torch.enable_grad():
            out = model(*args[: len(args) - (loss is not None)])
            if loss is not None:
                out = loss(out, args[-1])
        outs = [t for t in torch.utils._pytree.tree_leaves(out) if isinstance(t, torch.Tensor)]
        names_out = d.meta["outputs"]
        if len(outs) != len(names_out) or any(tuple(t.shape) != tuple(d.values[n].shape)
                                              for t, n in zip(outs, names_out)):
            return None
        pairs = [(t, d.meta["seeds"][n].to(t.dtype)) for t, n in zip(outs, names_out) if t.requires_grad]
        wrt = {**leaves, **params}
        try:
            grads = (torch.autograd.grad([t for t, _ in pairs], list(wrt.values()), [g for _, g in pairs],
                                         allow_unused=True) if pairs and wrt else [None] * len(wrt))
        except RuntimeError:  # autograd refuses the model itself (an in-place op on a saved tensor)
            grads = [None] * len(wrt)  # the captured graph's autograd stays the reference
        return {"outputs": {n: t.detach() for n, t in zip(names_out, outs)},
                "grads": {k: g for k, g in zip(wrt, grads) if g is not None}}
    finally:
        torch.random.set_rng_state(saved)
        if mod is not None:
            with torch.no_grad():
                for k, b in mod.named_buffers():
                    if k in buffers:
                        b.copy_(buffers[k])


def _reference_grads(d: "Derivation", gm: fx.GraphModule, rec: "_Recorder",
                     leaves: dict[str, torch.Tensor]) -> dict[str, dict[str, torch.Tensor]]:
    params = {n: p for n, p in gm.named_parameters() if n in d.param_names}
    inter = {s.output: rec.record[s.output] for s in d.steps
             if s.output in rec.record and rec.record[s.output].requires_grad}
    wrt = {**leaves, **params, **inter}
    outs = [rec.record[o] for o in d.meta["outputs"]]
    seeds = [d.meta["seeds"][o].to(t.dtype) for o, t in zip(d.meta["outputs"], outs)]
    pairs = [(o, g) for o, g in zip(outs, seeds) if o.requires_grad]
    grads = torch.autograd.grad([o for o, _ in pairs], list(wrt.values()), [g for _, g in pairs],
                                allow_unused=True) if pairs and wrt else [None] * len(wrt)
    got = dict(zip(wrt.keys(), grads))
    return {"grads": {k: v for k, v in got.items() if k in leaves or k in params},
            "adjoints": {k: v for k, v in got.items() if k in inter and v is not None}}


def _snapshot(gm: fx.GraphModule) -> dict[str, torch.Tensor]:
    return {k: b.detach().clone() for k, b in gm.named_buffers()}


def _restore(gm: fx.GraphModule, snapshot: dict[str, torch.Tensor]) -> None:
    with torch.no_grad():
        for k, b in gm.named_buffers():
            if k in snapshot:
                b.copy_(snapshot[k])


def _local_vjp(d: "Derivation", step: "Step", adj: torch.Tensor) -> dict[str, torch.Tensor | None]:
    """autograd's vector–Jacobian product of the node alone, per operand key."""
    gm: fx.GraphModule = d.meta["gm"]
    producer, item = d.meta["items"].get(step.name, (step.name, None))
    node = next(n for n in gm.graph.nodes if n.name == producer)
    by_slot = {o.slot: o for o in step.operands if o.differentiable}
    leaves: dict[str, torch.Tensor] = {}

    env = d.meta["env"]

    def fetch(a: fx.Node) -> Any:
        return env[a.name]

    args = fx.node.map_arg(node.args, fetch)
    kwargs = fx.node.map_arg(node.kwargs, fetch)

    def wrap(v: torch.Tensor, src: Any, slot: int) -> torch.Tensor:
        if slot in by_slot:
            leaf = v.detach().clone().requires_grad_(True)
            leaves[by_slot[slot].key] = leaf
            return leaf.clone()
        return v.detach()
    targs, tkwargs = map_tensor_args(node, args, kwargs, wrap)
    saved = torch.random.get_rng_state()
    buffers = _snapshot(gm)
    torch.random.set_rng_state(d.meta["rng"][node.name])
    try:
        return _vjp_of(gm, node, targs, tkwargs, by_slot, leaves, adj, item, saved)
    finally:
        torch.random.set_rng_state(saved)
        _restore(gm, buffers)


def _vjp_of(gm: fx.GraphModule, node: fx.Node, targs: Any, tkwargs: Any, by_slot: dict, leaves: dict,
            adj: torch.Tensor, item: Any, saved: torch.Tensor) -> dict[str, torch.Tensor | None]:
    with torch.enable_grad():
        if node.op == "call_module":
            module = gm.get_submodule(str(node.target))
            over = {}
            for slot, o in by_slot.items():
                if isinstance(slot, tuple):
                    leaf = o.value.detach().clone().requires_grad_(True)
                    leaves[o.key] = leaf
                    over[slot[1]] = leaf
            out = torch.func.functional_call(module, over, tuple(targs), dict(tkwargs))
        elif node.op == "call_method":
            out = getattr(targs[0], str(node.target))(*targs[1:], **tkwargs)
        else:
            out = _DIFFERENTIABLE.get(node.target, node.target)(*targs, **tkwargs)
        torch.random.set_rng_state(saved)
        if item is not None:
            out = out[item]
        keys = list(leaves)
        grads = torch.autograd.grad(out, [leaves[k] for k in keys], adj.to(out.dtype).reshape(out.shape),
                                    allow_unused=True)
    return dict(zip(keys, grads))
