"""OpInfo samples as tensor functions: which entries, their float64 samples, and each sample as
``fn(*leaves)`` with the tensors that require grad as its parameters (what ``derive`` takes)."""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import torch

from symbolic_torch.numeric.rng import rng_state

SAMPLE_SEED = 0  # OpInfo draws its sample tensors at random: the same ones on every call


def seeded(seed: int) -> torch.Tensor:
    """The CPU generator's state right after ``torch.manual_seed(seed)`` (for ``rng_state``)."""
    return torch.Generator().manual_seed(seed).get_state()


@dataclass(frozen=True)
class _Leaf:
    """Where the k-th derive input sits in a sample's (input, args, kwargs)."""

    k: int


def op_entries(names: Sequence[str] | None = None) -> list[tuple[int, Any]]:
    """``(index in op_db, OpInfo)`` for every entry with autograd support (optionally by name)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from torch.testing._internal.common_methods_invocations import op_db
    wanted = set(names) if names else None
    return [(k, op) for k, op in enumerate(op_db)
            if op.supports_autograd and (wanted is None or op.name in wanted)]


def samples(op: Any) -> list[Any]:
    """The entry's float64 samples, the same on every call (seeded; the RNG is left as it was)."""
    with rng_state(seeded(SAMPLE_SEED)), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return list(op.sample_inputs("cpu", torch.float64, requires_grad=True))


def _template(value: Any, leaves: list[torch.Tensor], seen: dict[int, int]) -> Any:
    """``value`` with every tensor that requires grad replaced by a ``_Leaf``."""
    if isinstance(value, torch.Tensor):
        if not (value.requires_grad and value.is_floating_point()):
            return value
        if id(value) not in seen:
            seen[id(value)] = len(leaves)
            leaves.append(value)
        return _Leaf(seen[id(value)])
    if isinstance(value, (list, tuple)) and not isinstance(value, torch.Size) and type(value) in (list, tuple):
        return type(value)(_template(v, leaves, seen) for v in value)
    if isinstance(value, dict):
        return {k: _template(v, leaves, seen) for k, v in value.items()}
    return value


def _fill(template: Any, xs: Sequence[Any]) -> Any:
    if isinstance(template, _Leaf):
        return xs[template.k]
    if isinstance(template, (list, tuple)) and type(template) in (list, tuple):
        return type(template)(_fill(v, xs) for v in template)
    if isinstance(template, dict):
        return {k: _fill(v, xs) for k, v in template.items()}
    return template


def op_callable(op: Any) -> Callable[..., Any]:
    """``op.op``, with Tensor slots such as ``Tensor.__getitem__`` called as methods (``x[i]``).

    A slot wrapper rejects fx's Proxy as ``self``; called through the object, fx records
    the operation as user code writes it (``operator.getitem``, a reflected ``+``).
    """
    f = op.op
    owner = getattr(f, "__objclass__", None)
    if type(f).__name__ in ("wrapper_descriptor", "method_descriptor") and owner is not None \
            and issubclass(torch.Tensor, owner):
        name = f.__name__
        return lambda x, *args, **kwargs: getattr(x, name)(*args, **kwargs)
    return f


def sample_function(op: Any, sample: Any) -> tuple[Callable[..., Any], list[torch.Tensor]]:
    """``(fn, leaves)``: ``fn(*leaves)`` runs the sample; other arguments are closed over.

    ``fn`` has one named parameter per leaf (fx needs a fixed signature). Tuple
    outputs are unpacked to their differentiable tensors (``out[i]`` nodes).
    """
    leaves: list[torch.Tensor] = []
    tpl = _template((sample.input, tuple(sample.args), dict(sample.kwargs)), leaves, {})
    process = sample.output_process_fn_grad
    call = op_callable(op)

    def body(*xs: Any) -> Any:
        inp, args, kwargs = _fill(tpl, xs)
        return process(call(inp, *args, **kwargs))
    with torch.no_grad():
        probe = body(*leaves)
    if isinstance(probe, torch.Tensor):
        keep = None
    elif isinstance(probe, (tuple, list)):
        keep = [i for i, t in enumerate(probe) if isinstance(t, torch.Tensor) and t.is_floating_point()]
    else:
        raise TypeError(f"output is a {type(probe).__name__}")

    def run(*xs: Any) -> Any:
        out = body(*xs)
        return out if keep is None else tuple(out[i] for i in keep)
    params = ", ".join(f"t{k}" for k in range(len(leaves)))
    scope: dict[str, Any] = {"run": run}
    exec(f"def fn({params}):\n    return run({params})\n", scope)  # noqa: S102  (a fixed signature)
    return scope["fn"], leaves


def as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    """A tensor function's output as a tuple of tensors."""
    return (out,) if isinstance(out, torch.Tensor) else tuple(out)
