"""One sentence per step on what its operation does, from the op family and its settings.

>>> sentence(d["conv1"])                                           # doctest: +SKIP
'A 2-D convolution: each output element is the bias plus a weighted sum over 1 input channel and
 a 3×3 window, stride 1, padding 0.'

Plain text (unicode ×, ḡ); printers escape it for their format. An op without its own sentence
gets one read from its formula (elementwise, or a sum of how many terms).
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable

import sympy as sp

from symbolic_torch.printing.attributes import Attributes, is_loss, op_attributes

if TYPE_CHECKING:
    from symbolic_torch.ir.step import Step

Sentence = Callable[["Step", Attributes], str]

ACTIVATIONS = {
    "sigmoid": "the logistic sigmoid 1/(1 + e^(−x))", "tanh": "the hyperbolic tangent",
    "gelu": "GELU, x·Φ(x) with Φ the standard normal CDF", "silu": "SiLU (swish), x·σ(x)",
    "softplus": "softplus, log(1 + e^x)", "elu": "ELU, x for x > 0 and α(e^x − 1) otherwise",
    "logsigmoid": "log σ(x)", "hardtanh": "hardtanh, x clipped to [min, max]", "relu6": "ReLU6, x clipped to [0, 6]",
    "hardswish": "hard swish, x·relu6(x + 3)/6", "hardsigmoid": "hard sigmoid, relu6(x + 3)/6",
    "mish": "Mish, x·tanh(softplus(x))", "softsign": "softsign, x/(1 + |x|)", "selu": "SELU",
    "celu": "CELU", "exp": "the exponential", "log": "the natural logarithm", "sqrt": "the square root",
    "abs": "the absolute value", "neg": "negation", "rsqrt": "the reciprocal square root",
}
ARITHMETIC = {"add": "sum", "sub": "difference", "rsub": "difference", "mul": "product", "div": "quotient"}


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _sizes(values: tuple[int, ...]) -> str:
    return "×".join(map(str, values))


def _setting(values: tuple[int, ...]) -> str:
    """A per-dim setting, one number when every dim has it: ``(1, 1)`` → ``1``, ``(2, 1)`` → ``2×1``."""
    return str(values[0]) if len(set(values)) == 1 else _sizes(values)


def _sources(step: "Step") -> str:
    names = [o.source or "a constant" for o in step.operands] + (["a number"] if len(step.operands) == 1 else [])
    return " and ".join(names)


def _conv(step: "Step", a: Attributes) -> str:
    w = step.operand("weight").shape
    n, groups = len(w) - 2, a.get("groups", 1)
    bias = any(o.key == "bias" for o in step.operands)
    s = (f"A {n}-D convolution: each output element is {'the bias plus ' if bias else ''}a weighted sum over "
         f"{_plural(w[1], 'input channel')} and a {_sizes(w[2:])} window, stride {_setting(a.each_dim('stride', 1))}, "
         f"padding {_padding(a)}")
    if any(d != 1 for d in a.each_dim("dilation", 1)):
        s += f", dilation {_setting(a.each_dim('dilation', 1))}"
    return s + (f", in {groups} groups of channels." if groups != 1 else ".")


def _padding(a: Attributes) -> str:
    pad = a.get("padding", 0)
    return f"'{pad}'" if isinstance(pad, str) else _setting(a.each_dim("padding", 0))


def _conv_transpose(step: "Step", a: Attributes) -> str:
    w = step.operand("weight").shape
    return (f"A {len(w) - 2}-D transposed convolution: each input element adds a weighted copy of the "
            f"{_sizes(w[2:])} kernel into the output, stride {_setting(a.each_dim('stride', 1))}, padding "
            f"{_setting(a.each_dim('padding', 0))}; each output element sums what lands on it"
            + (", plus the bias." if any(o.key == "bias" for o in step.operands) else "."))


def _linear(step: "Step", a: Attributes) -> str:
    w = step.operand("weight").shape
    bias = any(o.key == "bias" for o in step.operands)
    return (f"A fully connected (linear) layer: each of the {w[0]} outputs is {'the bias plus ' if bias else ''}"
            f"a weighted sum of the {_plural(w[1], 'input feature')}.")


def _pool(kind: str) -> Sentence:
    def say(step: "Step", a: Attributes) -> str:
        k = a.each_dim("kernel_size", 1)
        stride = a.each_dim("stride", 1) if a.get("stride") not in (None, [], ()) else k
        what = {"max": "the largest input", "avg": "the mean of the inputs", "lp": "the p-norm of the inputs"}[kind]
        return (f"{kind.capitalize() if kind != 'avg' else 'Average'} pooling: each output element is {what} in "
                f"its {_sizes(k)} window of one channel, stride {_setting(stride)}, padding {_setting(a.each_dim('padding', 0))}.")
    return say


def _adaptive(step: "Step", a: Attributes) -> str:
    kind = "mean" if "avg" in a.family else "largest value"
    n = a.spatial or len(step.out_shape) - 2
    return (f"Adaptive {'average' if kind == 'mean' else 'max'} pooling: each output element is the {kind} of "
            f"its channel over one of {_sizes(step.out_shape[-n:])} regions that tile the "
            f"{_sizes(step.operand('input').shape[-n:])} input.")


def _batch_norm(step: "Step", a: Attributes) -> str:
    c = step.operand("input").shape[1] if len(step.operand("input").shape) > 1 else 1
    if a.get("training", False) or step.updates:
        how = "by the mean and variance of this batch (over the batch and every position)"
    else:
        how = "by its running mean and variance (evaluation mode)"
    return f"Batch normalization: each of the {_plural(c, 'channel')} is normalized {how}, then scaled by γ and shifted by β."


def _relu(step: "Step", a: Attributes) -> str:
    return "Rectified linear unit: each element passes through where it is positive and becomes 0 elsewhere."


def _leaky(step: "Step", a: Attributes) -> str:
    return (f"Leaky ReLU: each element passes through where it is positive and is multiplied by "
            f"{a.get('negative_slope', 0.01)} elsewhere.")


def _softmax(step: "Step", a: Attributes) -> str:
    log = "log " if "log" in a.family else ""
    return (f"A {log}softmax along dim {a.get('dim')}: each element's exponential divided by the sum of the "
            f"exponentials along that dim{' (then its logarithm)' if log else ''}, so each slice sums to 1"
            + (" before the log." if log else "."))


def _arith(step: "Step", a: Attributes) -> str:
    what = ARITHMETIC[a.family]
    return f"Elementwise {what} of {_sources(step) or 'its operands'} (broadcast to one shape where they differ)."


def _reshape(step: "Step", a: Attributes) -> str:
    x = step.operand("input").shape
    return (f"A reshape: the same {math.prod(x)} numbers, {_sizes(x)} read as {_sizes(step.out_shape) or 'a scalar'}; "
            "nothing is computed, so the backward pass routes each ḡ back to where its number came from.")


def _loss(step: "Step", a: Attributes) -> str:
    from symbolic_torch.printing.formulas import mean_divisor
    what = {"cross_entropy": "Cross-entropy loss: for each sample, the log of the sum of the exponentials of its "
                             "logits minus the logit of its target class",
            "nll_loss": "Negative log-likelihood loss: minus the input at each sample's target class",
            "mse_loss": "Mean squared error: the squared difference of each input element and its target",
            "bce_with_logits": "Binary cross-entropy on logits: −[t·log σ(x) + (1 − t)·log(1 − σ(x))] per element",
            }.get(a.family, f"The loss {a.family.replace('_', ' ')}, per element as its formula shows")
    mean = mean_divisor(step)
    if mean is not None:
        n = mean[0]
        return what + (f", averaged over the N = {_plural(int(n), 'term')} (reduction 'mean')." if n.is_Integer
                       else ", averaged by the sum of the class weights (reduction 'mean').")
    return what + (", summed (reduction 'sum')." if a.get("reduction") == "sum" else ".")


def _reduce(step: "Step", a: Attributes) -> str:
    dim = a.get("dim")
    over = f"over dim {dim}" if dim is not None else "over every element"
    return f"A reduction: the {a.family} of its input {over}, giving {_sizes(step.out_shape) or 'a scalar'}."


def _cat(step: "Step", a: Attributes) -> str:
    sizes = [o.shape[a.get("dim", 0)] for o in step.operands if len(o.shape)]
    return (f"Concatenation along dim {a.get('dim', 0)}: the {len(sizes)} inputs ({_sources(step)}) placed one "
            f"after another, {' + '.join(map(str, sizes))} = {sum(sizes)} along that dim; nothing is computed.")


def _norm(kind: str, over: str) -> Sentence:
    def say(step: "Step", a: Attributes) -> str:
        affine = any(o.key == "weight" for o in step.operands)
        return (f"{kind}: each element minus the mean, divided by the standard deviation (ε = {a.get('eps', 1e-5)}), "
                f"both taken over {over}" + (", then scaled by γ and shifted by β." if affine else "."))
    return say


def _dropout(step: "Step", a: Attributes) -> str:
    p = a.get("p", 0.5)
    if not a.get("training", True) or not any(o.key != "input" for o in step.operands):
        return "Dropout in evaluation mode: the identity, each element passed through unchanged."
    return (f"Dropout: each element is zeroed with probability {p} or kept and scaled by 1/(1 − p); the run's "
            "random mask is replayed and shown as a constant.")


def _embedding(step: "Step", a: Attributes) -> str:
    w = step.operand("weight").shape
    return (f"An embedding lookup: each index picks one row of the {w[0]}×{w[1]} weight table; the indices are "
            "constants, so only the rows that were picked get a gradient.")


def _permute(step: "Step", a: Attributes) -> str:
    return (f"A transpose/permutation of dims: the same numbers, {_sizes(step.operand('input').shape)} read as "
            f"{_sizes(step.out_shape)}; nothing is computed, so ḡ is permuted back.")


def _activation(step: "Step", a: Attributes) -> str:
    return f"An elementwise activation, {ACTIVATIONS[a.family]}: each output element depends only on the input element at the same position."


def _from_formula(step: "Step", a: Attributes) -> str:
    """A sentence read off the formula: elementwise, or how many terms each element sums."""
    rhs = step.forward.rhs
    sums = list(rhs.atoms(sp.Sum))
    if not sums:
        same = all(not isinstance(t, sp.Indexed) or tuple(t.indices) == tuple(step.out_indices)
                   for t in rhs.atoms(sp.Indexed))
        kind = "an elementwise operation: each output element depends only on the inputs at the same position" \
            if same else "each output element reads its inputs at the positions the formula shows"
        return f"The op {a.family.replace('_', ' ')} ({step.target}): {kind}."
    n = max(math.prod(int(hi) - int(lo) + 1 for _, lo, hi in s.limits) for s in sums)
    return f"The op {a.family.replace('_', ' ')} ({step.target}): each output element sums up to {n} terms of its inputs."


_TABLE: dict[str, Sentence] = {
    "conv": _conv, "conv_transpose": _conv_transpose, "linear": _linear, "relu": _relu, "leaky_relu": _leaky,
    "max_pool": _pool("max"), "avg_pool": _pool("avg"), "lp_pool": _pool("lp"),
    "adaptive_avg_pool": _adaptive, "adaptive_max_pool": _adaptive, "batch_norm": _batch_norm,
    "softmax": _softmax, "log_softmax": _softmax, "reshape": _reshape,
    **{k: _arith for k in ARITHMETIC}, **{k: _reduce for k in ("sum", "mean", "amax", "amin", "max", "min", "prod", "logsumexp")},
    "cat": _cat, "embedding": _embedding, "permute": _permute, "transpose_attr": _permute,
    "layer_norm": _norm("Layer normalization", "the last dims of each sample"),
    "group_norm": _norm("Group normalization", "each group of channels of each sample"),
    "instance_norm": _norm("Instance normalization", "each channel of each sample"),
    **{k: _dropout for k in ("dropout", "dropout1d", "dropout2d", "dropout3d")},
    **{k: _activation for k in ACTIVATIONS},
}


def sentence(step: "Step") -> str:
    """What ``step``'s operation does, in one sentence with its settings and sizes."""
    a = op_attributes(step)
    say = _TABLE.get(a.family) or (_loss if is_loss(a.family) and step.out_shape == () else _from_formula)
    try:
        return say(step, a)
    except (KeyError, IndexError, TypeError, ValueError):  # settings this sentence cannot read
        return _from_formula(step, a)
