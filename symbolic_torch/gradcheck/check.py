"""The symbolic gradient check of a custom ``autograd.Function`` (see ``testing``).

1. *Structure* at the example point: one gradient per forward argument, each of
   its input's shape (an unreduced broadcast gradient is named as such).
2. *Formulas*: the derived gradient and the user's backward per element
   (``gradient_formulas``), and a symbolic proof that they are equal
   (``equivalence.prove``), one proof per distinct formula, within ``time_budget``.
3. *Numbers*: the user's real backward against the derived gradient at the
   example point, at random points on five scales, at points on both sides
   of every branch condition of either formula (``sampling.cover``), and at
   the worst points of a dense search over any formula left unproven.
   A mismatch is always a value the user's own code returned.
4. ``order=2``: autograd through the user's backward (``Function.apply``, then
   ``autograd.grad`` twice) against the derived gradient differentiated by sympy.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import sympy as sp
import torch

from symbolic_torch.gradcheck.custom_function import CustomFunction
from symbolic_torch.gradcheck.equivalence import BRANCHING, Proof, branch_points, canonical, exact, fix_branches, prove
from symbolic_torch.gradcheck.formulas import Formulas, derived, elements_at, yours
from symbolic_torch.gradcheck.result import GradientCheck, Mismatch, excess, point
from symbolic_torch.gradcheck.sampling import Batch, Space, concat, cover, evaluate_at, size, take
from symbolic_torch.gradcheck.second_order import second_order_mismatches
from symbolic_torch.numeric.tolerances import GRADCHECK


REPORT_BUDGET = 30.0  # seconds to simplify the difference shown for a wrong element


def check_gradients(fn_cls: type, *inputs: Any, order: int = 1, atol: float = GRADCHECK.atol,
                    rtol: float = GRADCHECK.rtol, time_budget: float = 10.0, n_points: int = 24,
                    seed: int = 0) -> GradientCheck:
    """Compare ``fn_cls.backward`` with the gradient derived from ``fn_cls.forward`` (no exception)."""
    start = time.monotonic()
    cf = CustomFunction.build(fn_cls, inputs)
    result = GradientCheck(fn_cls.__name__, order=order, forward=fn_cls.forward)
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(s, generator=gen, dtype=torch.float64) for s in cf.out_shapes]
    xs = [cf.args[k] for k in cf.differentiable]
    try:
        got = cf.vjp(xs, grads)
    except AssertionError as e:  # the wrong number of gradients
        result.problems = [str(e)]
        return result
    result.problems = _structure(cf, got)
    if result.problems:
        return result
    example = {**dict(zip(cf.diff_names, xs)), **dict(zip(cf.grad_names, grads))}
    space = Space(example, {n for n, x in zip(cf.diff_names, xs) if bool((x > 0).all())}, set(cf.grad_names))
    first = space.first()
    numbers = {n: torch.zeros_like(x) if g is None else g.to(torch.float64) for n, x, g in zip(cf.diff_names, xs, got)}
    result.truth = derived(cf, grads, first)
    result.user = yours(cf, first, numbers)
    result.proofs, backs = _prove_all(result.truth, result.user, start + time_budget)
    batch = concat(first, space.random(n_points, gen))
    covering = cover(_conditions(result.truth, result.user), batch, space)
    result.branch_points = size(covering)
    batch = concat(batch, covering, _search(result, space, gen, atol, rtol))
    result.points = size(batch)
    ref, mine = _values(cf, result.truth, batch)
    result.mismatches = _mismatches(result, backs, batch, ref, mine, atol, rtol)
    if order >= 2 and result.ok:
        result.mismatches = second_order_mismatches(cf, result.truth, batch, gen, atol, rtol)
    return result


def _structure(cf: CustomFunction, got: Sequence[Any]) -> list[str]:
    problems = []
    for name, k, g in zip(cf.diff_names, cf.differentiable, got):
        want = tuple(cf.args[k].shape)
        if g is None or tuple(g.shape) == want:
            continue
        shape = tuple(g.shape)
        lead = len(shape) - len(want)
        dims = tuple(range(lead)) + tuple(lead + d for d, n in enumerate(want) if n == 1 and shape[lead + d] != 1)
        if lead >= 0 and all(n in (1, shape[lead + d]) for d, n in enumerate(want)):
            problems.append(
                f"{cf.fn_cls.__name__}.backward returns a gradient of shape {shape} for input {name!r} of shape "
                f"{want}: it does not sum over the broadcast dimension(s) {dims}. torch's autograd engine sums "
                f"such a gradient silently (so torch.autograd.gradcheck passes), but the backward is wrong: "
                f"return grad.sum_to_size({name}.shape).")
        else:
            problems.append(f"{cf.fn_cls.__name__}.backward returns a gradient of shape {shape} for input "
                            f"{name!r} of shape {want}.")
    return problems


def _prove_all(truth: Formulas, user: Formulas, deadline: float) -> tuple[dict[str, list[Proof]], dict]:
    """One proof per distinct (derived, yours) pair of element formulas, until the deadline."""
    proofs: dict[str, list[Proof]] = {}
    backs: dict[tuple[str, tuple[int, ...]], dict] = {}
    if truth.elements is None or user.elements is None:
        return proofs, backs
    cache: dict[tuple[sp.Expr, ...], Proof] = {}
    for name, d in truth.elements.items():
        u = user.elements[name]
        proofs[name] = []
        for pos in np.ndindex(*d.shape):
            key, back = canonical((d[pos], u[pos]))
            if key not in cache:
                cache[key] = prove(key[0], key[1], deadline) if time.monotonic() < deadline else \
                    Proof("timeout", key[0] - key[1])
            proofs[name].append(cache[key])
            backs[(name, pos)] = back
    return proofs, backs


def _conditions(truth: Formulas, user: Formulas) -> set[sp.Expr]:
    found: set[sp.Expr] = set()
    for side in (truth, user):
        for arr in (side.elements or {}).values():
            for e in arr.flat:
                found |= branch_points(e)
    return found


def _search(result: GradientCheck, space: Space, gen: torch.Generator, atol: float, rtol: float) -> Batch:
    """For each distinct unproven formula: the worst point of a dense random pool."""
    if not result.proofs or result.truth is None or result.user is None:
        return {}
    pool = space.random(256, gen)
    picks, seen = [], set()
    for name, plist in result.proofs.items():
        shape = result.truth.elements[name].shape
        for pos, proof in zip(np.ndindex(*shape), plist):
            if proof.proved or id(proof) in seen:
                continue
            seen.add(id(proof))
            d, u = result.truth.elements[name][pos], result.user.elements[name][pos]
            dv = evaluate_at(d, pool)
            excess = ((dv - evaluate_at(u, pool)).abs() / (atol + rtol * dv.abs())).nan_to_num(0.0)
            if float(excess.max()) > 1:
                picks.append(take(pool, [int(excess.argmax())]))
    return concat(*picks)


def _values(cf: CustomFunction, truth: Formulas, batch: Batch) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(derived, yours) at every point of the batch, ``{name: (M, *shape)}``."""
    m = size(batch)
    mine = {n: torch.full((m, *cf.args[k].shape), torch.nan, dtype=torch.float64)
            for n, k in zip(cf.diff_names, cf.differentiable)}
    ref = elements_at(truth.elements, batch) if truth.elements is not None else \
        {n: v.clone() for n, v in mine.items()}
    for i in range(m):
        xs = [batch[n][i] for n in cf.diff_names]
        gs = [batch[n][i] for n in cf.grad_names]
        got = cf.vjp(xs, gs)
        for n, g in zip(cf.diff_names, got):
            mine[n][i] = 0.0 if g is None else g.to(torch.float64)
        if truth.elements is None:
            for n, r in zip(cf.diff_names, cf.autograd_of_forward(xs, gs)):
                ref[n][i] = r
    return ref, mine


def _mismatches(result: GradientCheck, backs: dict, batch: Batch, ref: dict[str, torch.Tensor],
                mine: dict[str, torch.Tensor], atol: float, rtol: float) -> list[Mismatch]:
    found = []
    for name in ref:
        ratio = excess(ref[name], mine[name], atol, rtol)
        if not bool((ratio > 1).any()):
            continue
        i, pos = _witness(ratio, batch)
        d = result.truth.elements[name][pos] if result.truth.elements is not None else None
        u = result.user.elements[name][pos] if result.user.elements is not None else None
        diff = None
        if name in result.proofs:
            shape = tuple(ref[name].shape[1:])
            proof = result.proofs[name][int(np.ravel_multi_index(pos, shape)) if shape else 0]
            back = backs[(name, pos)]
            if proof.status == "timeout":  # the message should not depend on how busy the machine was
                proof, back = prove(d, u, time.monotonic() + REPORT_BUDGET), {}
            diff = proof.difference.xreplace(back)
        wrong = int((ratio > 1).reshape(ratio.shape[0], -1).any(dim=0).sum())
        at = point(batch, i, name, pos, d, u)
        found.append(Mismatch(name, pos, d, u, diff, at, float(ref[name][(i, *pos)]),
                              float(mine[name][(i, *pos)]), atol + rtol * abs(float(ref[name][(i, *pos)])), wrong,
                              int(np.prod(ratio.shape[1:])), _swapped(name, ref, mine, atol, rtol),
                              on_branch=_on_branch(d, u, at)))
    return found


def _witness(ratio: torch.Tensor, batch: Batch) -> tuple[int, tuple[int, ...]]:
    """The point and element to show: the example point if it fails there, else the
    failing point closest to the origin (small numbers read best), its worst element."""
    bad = (ratio > 1).reshape(ratio.shape[0], -1)
    rows = torch.nonzero(bad.any(dim=1)).flatten()
    norm = sum(v.reshape(v.shape[0], -1).abs().amax(dim=1) for v in batch.values())
    i = int(rows[0]) if int(rows[0]) == 0 else int(rows[torch.argmin(norm[rows])])
    flat = int(ratio[i].reshape(-1).argmax())
    return i, tuple(int(p) for p in np.unravel_index(flat, tuple(ratio.shape[1:])))


def _on_branch(d: sp.Expr | None, u: sp.Expr | None, point: dict[sp.Basic, float]) -> tuple[sp.Expr, sp.Expr] | None:
    """Both formulas on the branch the point lies in, when either has branches."""
    if d is None or u is None or not (d.has(*BRANCHING) or u.has(*BRANCHING)):
        return None
    if sp.count_ops(d) + sp.count_ops(u) > 200:
        return None
    at = {a: sp.Float(v) for a, v in point.items()}
    try:
        return tuple(sp.simplify(exact(fix_branches(e, at))) for e in (d, u))  # type: ignore[return-value]
    except Exception:  # a display nicety only
        return None


def _swapped(name: str, ref: dict[str, torch.Tensor], mine: dict[str, torch.Tensor], atol: float,
             rtol: float) -> str | None:
    """The other input whose derived gradient this one's returned gradient matches, if any."""
    for other, r in ref.items():
        if other != name and r.shape == mine[name].shape and bool((excess(r, mine[name], atol, rtol) <= 1).all()):
            return other
    return None
