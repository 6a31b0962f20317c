"""A Derivation's chain rule on sympy elements: one closed formula per gradient element.

``Derivation.gradient_values`` chains the derived formulas with numbers; here
the same chain runs with expressions. Each step's index formula is
instantiated at every element (sums expanded over their concrete ranges), its
operand reads replaced by the expressions of the tensors that produced them,
so that each element of ``∂L/∂x`` becomes ONE sympy expression in the scalar
symbols of the inputs (``x[0, 1]``) and of the output adjoints
(``grad_output[0, 1]``). Cost grows with tensor size: it is meant for the
small example tensors of a test.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import sympy as sp
import torch
import torch.fx as fx

from symbolic_torch.ir import symbols as S
from symbolic_torch.ir.derivation import Derivation, Step
from symbolic_torch.gradcheck.symbolic_tensor import constant, objects
from symbolic_torch.numeric.padding import element


class NotClosedForm(Exception):
    """The derivation cannot be turned into per-element formulas valid at every input."""


def expand_sums(e: sp.Basic) -> sp.Basic:
    """Every ``Sum`` with integer limits written out term by term."""
    if isinstance(e, sp.Sum):
        *inner, (var, lo, hi) = e.limits
        if not (lo.is_Integer and hi.is_Integer):
            raise NotClosedForm(f"a sum with symbolic limits: {e}")
        body = sp.Sum(e.function, *inner) if inner else e.function
        return sp.Add(*[expand_sums(body.xreplace({var: sp.Integer(k)})) for k in range(int(lo), int(hi) + 1)])
    if not e.args or not e.has(sp.Sum):
        return e
    return e.func(*[expand_sums(a) for a in e.args])


def instantiate(expr: sp.Expr, at: Mapping[sp.Symbol, int], tensors: Mapping[str, np.ndarray]) -> sp.Expr:
    """``expr`` at index values ``at``, each tensor read replaced by that element's expression.

    Reads outside a tensor's shape are 0 (``numeric.padding``, the zero-padding convention).
    """
    e = expand_sums(expr.xreplace({k: sp.Integer(v) for k, v in at.items()}))
    swap: dict[sp.Basic, sp.Basic] = {}
    for atom in e.atoms(sp.Indexed):
        name = str(atom.base.label)
        if name not in tensors:
            continue
        if not all(i.is_Integer for i in atom.indices):
            raise NotClosedForm(f"a read at a non-constant position: {atom}")
        swap[atom] = element(tensors[name], [int(i) for i in atom.indices], sp.S.Zero)
    for atom in e.atoms(sp.Symbol):
        if atom.is_integer is not True and str(atom) in tensors and tensors[str(atom)].ndim == 0:
            swap[atom] = tensors[str(atom)][()]
    return e.xreplace(swap)


def _operand_tensors(step: Step, known: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {o.symbol: known[o.source] if o.source in known else constant(o.value) for o in step.operands}


def _elements(expr: sp.Expr, indices: tuple[sp.Symbol, ...], shape: tuple[int, ...],
              tensors: Mapping[str, np.ndarray]) -> np.ndarray:
    return objects(shape, lambda pos: instantiate(expr, dict(zip(indices, pos)), tensors))


def _opaque_nodes(d: Derivation) -> list[str]:
    """Tensors computed from input values by nodes that have no formula (masks, detach, …).

    The rule table sees them as constants; their values belong to this one input,
    so formulas built on them would be wrong elsewhere.
    """
    gm: fx.GraphModule = d.run.gm
    env = d.run.env
    lowered = {s.name for s in d.steps}
    dependent: set[str] = set()
    opaque = []
    for n in gm.graph.nodes:
        value = env.get(n.name)
        if not isinstance(value, torch.Tensor):
            continue
        if n.op == "placeholder":
            if value.is_floating_point():
                dependent.add(n.name)
        elif any(a.name in dependent for a in n.all_input_nodes):
            dependent.add(n.name)
            if n.op != "output" and n.name not in lowered:
                opaque.append(n.name)
    return opaque


def element_gradients(d: Derivation, inputs: Mapping[str, np.ndarray],
                      seeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """∂L/∂x per element for every input of ``d``, chained through the derived formulas.

    ``inputs`` maps the model's argument names to arrays of their element symbols;
    ``seeds`` maps the output node names to arrays of the adjoint symbols.
    """
    opaque = _opaque_nodes(d)
    if opaque:
        raise NotClosedForm(f"values computed without a formula (treated as constants): {opaque}")
    known: dict[str, np.ndarray] = {}
    for name, placeholder in d.inputs.items():
        known[placeholder] = inputs[name] if name in inputs else constant(d.values[placeholder])
    for step in d.steps:
        tensors = _operand_tensors(step, known)
        known[step.output] = _elements(step.forward.rhs, step.out_indices, step.out_shape, tensors)
    adjoints = {k: v.copy() for k, v in seeds.items()}
    for step in reversed(d.steps):
        if step.output not in adjoints:
            continue
        tensors = _operand_tensors(step, known)
        tensors[S.ADJOINT] = adjoints[step.output]
        for key, eq in step.gradients.items():
            op = step.operand(key)
            lhs = eq.lhs.indices if isinstance(eq.lhs, sp.Indexed) else ()
            contrib = _elements(eq.rhs, lhs, op.shape, tensors)
            adjoints[op.source] = adjoints[op.source] + contrib if op.source in adjoints else contrib
    out = {}
    for name, placeholder in d.inputs.items():
        if name in inputs:
            zero = np.full(inputs[name].shape, sp.S.Zero, dtype=object)
            out[name] = adjoints.get(placeholder, zero)
    return out


def check_expanded(arrays: Mapping[str, np.ndarray]) -> None:
    """Refuse formulas that kept a primitive the element form cannot stand for."""
    for name, a in arrays.items():
        for e in a.flat:
            if isinstance(e, sp.Basic) and e.has(sp.Sum, sp.KroneckerDelta, sp.Derivative):
                raise NotClosedForm(f"∂L/∂{name} keeps an unexpanded sum or derivative: {e}")

