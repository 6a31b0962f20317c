"""Padding (F.pad and the Pad modules): an index map from output to input positions.

For each padded dim of size L with left pad p the output position i reads s = i − p:
constant mode reads x[s] (outside reads are 0; another value is a Piecewise), reflect reads
x[L−1 − |L−1 − |s||], replicate x[min(max(s, 0), L−1)], circular x[s mod L]. A negative
circular pad crops first, as torch does, and the wrap stays inside what is left: with a cells
cropped on the left and L' kept, circular reads x[a + (s − a) mod L'].
"""
from __future__ import annotations

from typing import Any, Sequence

import sympy as sp
import torch.nn.functional as F
from torch import nn

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule

from symbolic_torch.rules._vocab import names

SPATIAL = "ijl"


def source(mode: str, s: sp.Expr, size: int, left: int = 0, right: int = 0) -> sp.Expr:
    """The input position that output position ``s`` (already shifted by the left pad) reads.

    ``left``, ``right``: the dim's pads; circular mode wraps within the cells negative pads keep.
    """
    if mode == "reflect":
        return (size - 1) - sp.Abs((size - 1) - sp.Abs(s))
    if mode == "replicate":
        return sp.Min(sp.Max(s, 0), size - 1)
    if mode == "circular":
        cut = max(-left, 0)
        kept = size - cut - max(-right, 0)
        if max(left, right) > kept:  # torch copies overlapping slices then (or refuses): no single formula
            raise NotImplementedError(f"circular pad {max(left, right)} wraps more than once around {kept} kept cells")
        return cut + sp.Mod(s - cut, kept)
    return s


def pad_formula(call: Call, input: Any, pad: Sequence[int], mode: str = "constant", value: Any = None) -> sp.Expr:
    """y[…, i, j] = x[…, src(i − p_top), src(j − p_left)] (constant: value outside, 0 by default)."""
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad mode {mode!r}")
    x = call.operand(input, "input", "x")
    npad = len(pad) // 2
    lead = x.ndim - npad
    idx = call.out(*names(x.ndim, SPATIAL[:npad] if npad <= 3 else [f"i{k}" for k in range(npad)], pool="ncgh"))
    pos = list(idx)
    inside = []
    for k in range(npad):
        d = x.ndim - 1 - k
        s = idx[d] - pad[2 * k]
        pos[d] = source(mode, s, x.shape[d], pad[2 * k], pad[2 * k + 1])
        inside += [s >= 0, s <= x.shape[d] - 1]
    read = x[tuple(pos)]
    if mode != "constant" or not value:
        return read
    return sp.Piecewise((read, sp.And(*inside)), (call.scalar(value), True))


@rule("pad", functions=[F.pad], latex=r"\operatorname{pad}")
def pad_function(call: Call, input: Any, pad: Sequence[int], mode: str = "constant", value: Any = None) -> sp.Expr:
    """y[…, i] = x[…, src(i − p)], src by mode (constant, reflect, replicate, circular)."""
    return pad_formula(call, input, pad, mode, value)


MODES = {nn.ConstantPad1d: "constant", nn.ConstantPad2d: "constant", nn.ConstantPad3d: "constant",
         nn.ReflectionPad1d: "reflect", nn.ReflectionPad2d: "reflect", nn.ReflectionPad3d: "reflect",
         nn.ReplicationPad1d: "replicate", nn.ReplicationPad2d: "replicate", nn.ReplicationPad3d: "replicate",
         nn.CircularPad1d: "circular", nn.CircularPad2d: "circular", nn.CircularPad3d: "circular"}


@rule("pad_module", modules=list(MODES), latex=r"\operatorname{Pad}")
def pad_module(call: Call, input: Any) -> sp.Expr:
    """y[…, i] = x[…, src(i − p)], src by the module's mode."""
    m = call.module
    mode = next(mode for cls, mode in MODES.items() if isinstance(m, cls))
    return pad_formula(call, input, m.padding, mode, getattr(m, "value", None))
