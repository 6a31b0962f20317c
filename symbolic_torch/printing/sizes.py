"""Output-size formulas with the run's numbers filled in (LaTeX math, one line per dim or change).

A convolution's spatial size is ``⌊(H + 2P − D·(K − 1) − 1)/S⌋ + 1``; the handout writes the
formula, the same formula with this layer's numbers and the result. Each formula is checked
against the shape the run produced; one that does not give it is not shown.

>>> size_lines(d["conv1"])[0]                    # doctest: +SKIP
'H_{\\mathrm{out}} = \\left\\lfloor (H + 2P - D\\,(K - 1) - 1) / S \\right\\rfloor + 1 = ... = 6'
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, Sequence

from symbolic_torch.printing.attributes import Attributes, is_loss, op_attributes, per_dim

if TYPE_CHECKING:
    from symbolic_torch.ir.step import Step

DIMS = {1: ("L",), 2: ("H", "W"), 3: ("T", "H", "W")}
REDUCTIONS = {"sum", "mean", "amax", "amin", "max", "min", "prod", "logsumexp", "var", "std", "norm",
              "vector_norm", "nansum", "nanmean", "median", "aminmax", "var_mean", "std_mean"}
OUT = r"_{\mathrm{out}}"


def shape_latex(shape: Sequence[int]) -> str:
    """``(1, 4, 6, 6)`` → ``1 \\times 4 \\times 6 \\times 6``; ``()`` → ``\\text{scalar}``."""
    return r" \times ".join(map(str, shape)) if len(shape) else r"\text{scalar}"


def _dot(dims: Sequence[int]) -> str:
    return r" \cdot ".join(map(str, dims))


def size_lines(step: "Step") -> list[str]:
    """The output-size formulas of ``step`` with numbers, or ``[]`` when the op keeps sizes
    (elementwise ops) or no formula is known for it."""
    attrs = op_attributes(step)
    fam = attrs.family
    for families, make in _TABLE:
        if fam in families or (families is _LOSS and is_loss(fam)):
            try:
                return make(step, attrs)
            except (KeyError, TypeError, ValueError, ZeroDivisionError):  # settings this table cannot read
                return []
    return []


def _spatial(step: "Step", attrs: Attributes) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
    n = attrs.spatial or 1
    x, y = step.operand("input").shape, step.out_shape
    return tuple(x[-n:]), tuple(y[-n:]), DIMS.get(n, tuple(f"N_{k}" for k in range(n)))


def window_line(name: str, h: int, k: int, s: int, p: int, d: int | None, ceil: bool, out: int) -> str | None:
    """``name_out = ⌊(H + 2P − D(K − 1) − 1)/S⌋ + 1 = ⌊(numbers)⌋ + 1 = out`` (``d=None``: no
    dilation term, as average pooling); ``None`` when the numbers do not give ``out``."""
    eff, eff_n = (r"D\,(K - 1) - 1", rf"{d} \cdot ({k} - 1) - 1") if d is not None else ("K", f"{k}")
    span = (d * (k - 1) + 1) if d is not None else k
    num = h + 2 * p - span
    value = (math.ceil(num / s) if ceil else num // s) + 1
    if ceil and (value - 1) * s >= h + p:  # torch: the last window must start inside the input
        value -= 1
    if value != out:
        return None
    lo, hi = (r"\left\lceil", r"\right\rceil") if ceil else (r"\left\lfloor", r"\right\rfloor")
    return (rf"{name}{OUT} = {lo} ({name} + 2P - {eff}) / S {hi} + 1 = {lo} ({h} + 2 \cdot {p} - {eff_n}) / {s} {hi} + 1"
            rf" = {out}")


def _window(step: "Step", attrs: Attributes, kernel: Sequence[int], dilation: bool) -> list[str]:
    xs, ys, names = _spatial(step, attrs)
    n = len(xs)
    pad = attrs.get("padding", 0)
    if isinstance(pad, str):  # conv's padding="same" / "valid"
        if pad == "same":
            return [rf"{nm}{OUT} = {nm} = {h}\ \text{{(padding `same')}}" for nm, h in zip(names, xs)]
        pad = 0
    stride = attrs.each_dim("stride", 1) if attrs.get("stride") not in (None, [], ()) else tuple(kernel)
    pads = per_dim(pad, n)
    dil = attrs.each_dim("dilation", 1) if dilation else (None,) * n
    ceil = bool(attrs.get("ceil_mode", False))
    lines = [window_line(nm, h, k, s, p, d, ceil, o)
             for nm, h, k, s, p, d, o in zip(names, xs, kernel, stride, pads, dil, ys)]
    return [] if None in lines else [l for l in lines if l is not None]


def _conv(step: "Step", attrs: Attributes) -> list[str]:
    kernel = step.operand("weight").shape[2:]
    return _window(step, attrs, kernel, dilation=True)


def _pool(step: "Step", attrs: Attributes) -> list[str]:
    kernel = attrs.each_dim("kernel_size", 1)
    return _window(step, attrs, kernel, dilation=attrs.family == "max_pool")


def _conv_transpose(step: "Step", attrs: Attributes) -> list[str]:
    xs, ys, names = _spatial(step, attrs)
    kernel = step.operand("weight").shape[2:]
    lines = []
    for nm, h, k, s, p, d, op, o in zip(names, xs, kernel, attrs.each_dim("stride", 1), attrs.each_dim("padding", 0),
                                       attrs.each_dim("dilation", 1), attrs.each_dim("output_padding", 0), ys):
        if (h - 1) * s - 2 * p + d * (k - 1) + op + 1 != o:
            return []
        lines.append(rf"{nm}{OUT} = ({nm} - 1)\,S - 2P + D\,(K - 1) + P_{{\mathrm{{out}}}} + 1"
                     rf" = ({h} - 1) \cdot {s} - 2 \cdot {p} + {d} \cdot ({k} - 1) + {op} + 1 = {o}")
    return lines


def _adaptive(step: "Step", attrs: Attributes) -> list[str]:
    xs, ys, names = _spatial(step, attrs)
    return [rf"{nm} = {h} \;\to\; {nm}{OUT} = {o}\ \text{{(the layer's output size)}}"
            for nm, h, o in zip(names, xs, ys)]


def _linear(step: "Step", attrs: Attributes) -> list[str]:
    x, y = step.operand("input").shape, step.out_shape
    return [rf"{shape_latex(x)} \;\to\; {shape_latex(y)}, \quad F_{{\mathrm{{in}}}} = {x[-1]} \;\to\; "
            rf"F_{{\mathrm{{out}}}} = {y[-1]}"]


def _matmul(step: "Step", attrs: Attributes) -> list[str]:
    shapes = [o.shape for o in step.operands if len(o.shape)]
    if len(shapes) != 2:
        return []
    a, b = shapes
    inner = a[-1]
    return [rf"({shape_latex(a)})\,({shape_latex(b)}) \;\to\; {shape_latex(step.out_shape)}, \quad "
            rf"\text{{each element sums }} {inner} \text{{ products}}"]


def _reshape(step: "Step", attrs: Attributes) -> list[str]:
    x, y = step.operand("input").shape, step.out_shape
    if x == y:
        return []
    line = rf"{shape_latex(x)} \;\to\; {shape_latex(y)}"
    start, end = attrs.get("start_dim"), attrs.get("end_dim")
    if start is not None and end is not None and len(x):
        lo, hi = start % len(x), end % len(x)
        merged = x[lo: hi + 1]
        if len(merged) > 1:
            line += rf", \quad {_dot(merged)} = {math.prod(merged)}"
    else:
        line += rf", \quad \text{{{math.prod(x)} elements either way}}"
    return [line]


def _reduction(step: "Step", attrs: Attributes) -> list[str]:
    x = max((o.shape for o in step.operands), key=lambda s: math.prod(s), default=())
    y = step.out_shape
    if math.prod(y) >= math.prod(x):
        return []
    if y == () and is_loss(attrs.family):
        return [_loss_line(step, x)]
    if y == ():
        return [rf"{shape_latex(x)} \;\to\; \text{{scalar}}, \quad \text{{{attrs.family} over }} "
                rf"{_dot(x)} = {math.prod(x)} \text{{ elements}}"]
    dim = attrs.get("dim")
    said = rf", \quad \text{{over dim {dim}}}" if isinstance(dim, (int, list, tuple)) else ""
    return [rf"{shape_latex(x)} \;\to\; {shape_latex(y)}{said}"]


def _loss_line(step: "Step", x: Sequence[int]) -> str:
    """A loss reduced to a scalar: by the mean over the N its formula divides by, or a sum."""
    from symbolic_torch.printing.formulas import mean_divisor, sum_count
    head = rf"{shape_latex(x)} \;\to\; \text{{scalar}}"
    mean = mean_divisor(step)
    if mean is not None:
        from symbolic_torch.printing.latex import latex
        return head + rf", \quad \text{{the mean over }} N = {latex(mean[0])}"
    count = sum_count(step.forward.rhs)
    return head + (rf", \quad \text{{the sum of }} {count} \text{{ terms}}" if count else "")


def _cat(step: "Step", attrs: Attributes) -> list[str]:
    dim = attrs.get("dim", 0)
    parts = [o.shape[dim] for o in step.operands if len(o.shape)]
    return [rf"\text{{dim {dim}: }} {' + '.join(map(str, parts))} = {step.out_shape[dim]}"]


_LOSS: frozenset[str] = frozenset()
_TABLE: list[tuple[frozenset[str], Callable[["Step", Attributes], list[str]]]] = [
    (frozenset({"conv"}), _conv),
    (frozenset({"max_pool", "avg_pool", "lp_pool"}), _pool),
    (frozenset({"conv_transpose"}), _conv_transpose),
    (frozenset({"adaptive_avg_pool", "adaptive_max_pool"}), _adaptive),
    (frozenset({"linear"}), _linear),
    (frozenset({"matmul", "mm", "bmm", "__rmatmul__"}), _matmul),
    (frozenset({"reshape"}), _reshape),
    (frozenset({"cat"}), _cat),
    (frozenset(REDUCTIONS), _reduction),
    (_LOSS, _reduction),
]
