"""``order=2``: the backward of the backward.

torch differentiates a Function's backward by running autograd through the
ops the backward used (or through the Function it calls). With a random
adjoint ``v_x`` for each returned gradient, double backward gives
``∂/∂x Σ v_x·∂L/∂x`` for every input and ``∂/∂ḡ Σ v_x·∂L/∂x`` for every
output adjoint. The reference is the derived gradient's formulas
differentiated again by sympy (Hessian–vector products); without formulas,
autograd twice through the forward's own ops.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import sympy as sp
import torch

from symbolic_torch.gradcheck.custom_function import CustomFunction
from symbolic_torch.gradcheck.formulas import Formulas, elements_at, symbols
from symbolic_torch.gradcheck.result import Mismatch, excess, point
from symbolic_torch.gradcheck.sampling import Batch, size
from symbolic_torch.gradcheck.tensor import objects
from symbolic_torch.numeric.reference import leaves, vjp


def adjoint_name(name: str) -> str:
    return f"v_{name}"


def hvp_formulas(cf: CustomFunction, truth: Formulas) -> dict[str, np.ndarray]:
    """∂/∂t Σ_x Σ_e v_x[e]·(∂L/∂x)[e] per element, for every input and output adjoint t."""
    xs, gs = symbols(cf)
    terms = []
    for name, arr in truth.elements.items():
        v = sp.IndexedBase(adjoint_name(name), real=True)
        for pos in np.ndindex(*arr.shape):
            terms.append((v[pos] if pos else sp.Symbol(adjoint_name(name), real=True), arr[pos]))
    wrt = {**xs, **dict(zip(cf.grad_names, gs))}
    out = {}
    for name, t in wrt.items():
        def second(pos: tuple[int, ...], t: Any = t) -> sp.Expr:
            var = t.data[pos]
            return sp.Add(*[v * sp.diff(f, var) for v, f in terms if f.has(var)])
        out[name] = objects(tuple(t.shape), second)
    return out


def _double_backward(cf: CustomFunction, xs: Sequence[torch.Tensor], gs: Sequence[torch.Tensor],
                     vs: Sequence[torch.Tensor], through_forward: bool) -> list[torch.Tensor]:
    """autograd twice: through the user's Function (or, as reference, through the forward's ops)."""
    xs, adj = leaves(xs), leaves(gs)
    with torch.enable_grad():
        args = cf.with_tensors(xs)
        out = cf.forward(args)[0] if through_forward else cf.fn_cls.apply(*args)
        first = vjp(cf.outputs(out), xs, adj, create_graph=True, zeros=False)
        pairs = [(f, v) for f, v in zip(first, vs) if f is not None and f.requires_grad]
        second = vjp([f for f, _ in pairs], xs + adj, [v for _, v in pairs])
    return [s.detach() for s in second]


def second_order_mismatches(cf: CustomFunction, truth: Formulas, batch: Batch, gen: torch.Generator,
                            atol: float, rtol: float) -> list[Mismatch]:
    """Compare double backward with the derived second derivatives at every point of ``batch``."""
    m = size(batch)
    batch = dict(batch)
    for n, k in zip(cf.diff_names, cf.differentiable):
        batch[adjoint_name(n)] = torch.randn((m, *cf.args[k].shape), generator=gen, dtype=torch.float64)
    names = cf.diff_names + cf.grad_names
    formulas = hvp_formulas(cf, truth) if truth.elements is not None else None
    ref = elements_at(formulas, batch) if formulas is not None else {n: torch.zeros_like(batch[n]) for n in names}
    mine = {n: torch.zeros_like(batch[n]) for n in names}
    for i in range(m):
        xs = [batch[n][i] for n in cf.diff_names]
        gs = [batch[n][i] for n in cf.grad_names]
        vs = [batch[adjoint_name(n)][i] for n in cf.diff_names]
        try:
            got = _double_backward(cf, xs, gs, vs, through_forward=False)
        except RuntimeError as e:
            raise AssertionError(f"order=2: autograd cannot differentiate {cf.fn_cls.__name__}.backward: {e}") from e
        for n, g in zip(names, got):
            mine[n][i] = g
        if formulas is None:
            for n, r in zip(names, _double_backward(cf, xs, gs, vs, through_forward=True)):
                ref[n][i] = r
    found = []
    for n in names:
        ratio = excess(ref[n], mine[n], atol, rtol)
        if not bool((ratio > 1).any()):
            continue
        idx = np.unravel_index(int(ratio.reshape(-1).argmax()), tuple(ratio.shape))
        i, pos = int(idx[0]), tuple(int(p) for p in idx[1:])
        d = formulas[n][pos] if formulas is not None else None
        found.append(Mismatch(n, pos, d, None, None, point(batch, i, n, pos, d),
                              float(ref[n][(i, *pos)]), float(mine[n][(i, *pos)]),
                              atol + rtol * abs(float(ref[n][(i, *pos)])),
                              int((ratio > 1).reshape(m, -1).any(dim=0).sum()), int(np.prod(ratio.shape[1:])),
                              order=2))
    return found
