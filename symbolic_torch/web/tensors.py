"""Tensors as heat maps: a 2-D slice per tensor, the leading indices chosen by selectors.

A tensor of shape ``(…, H, W)`` is shown as ``H × W`` grids, one per leading index
(``(n, c)`` of an image batch); a vector is one row, a scalar one cell. Grids are capped at
``MAX_SIDE`` rows and columns (the top-left corner is shown and the page says so) and a tensor
keeps at most ``max_values`` numbers in the file: the first leading indices, in order; the
served app fetches any other slice on demand (``/api/slice``).

>>> import torch
>>> h = heatmap(torch.arange(24.).reshape(2, 3, 4), max_values=12)
>>> h["lead_shape"], h["rows"], h["cols"], sorted(h["slices"])
([2], 3, 4, ['0'])
>>> h["slices"]["0"][1]
[4.0, 5.0, 6.0, 7.0]
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Sequence

import torch

__all__ = ["MAX_SIDE", "heatmap", "grid_slice", "number", "lead_key", "parse_lead"]

MAX_SIDE = 32


def number(v: float) -> float | str:
    """A value for the page's JSON: 4 significant digits; NaN and ±∞ as the strings JavaScript's
    ``Number()`` reads (JSON has no literal for them).

    >>> number(3.14159), number(float("nan")), number(-float("inf"))
    (3.142, 'NaN', '-Infinity')
    """
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return float(f"{v:.4g}")


def _grid_dims(shape: Sequence[int]) -> tuple[tuple[int, ...], int, int]:
    """(leading shape, rows, cols) of the grids a tensor of ``shape`` is drawn as."""
    if len(shape) == 0:
        return (), 1, 1
    if len(shape) == 1:
        return (), 1, shape[0]
    return tuple(shape[:-2]), shape[-2], shape[-1]


def lead_key(lead: Sequence[int]) -> str:
    """The key of a slice: its leading indices joined by commas (``""`` for a 1-D/2-D tensor)."""
    return ",".join(str(i) for i in lead)


def parse_lead(text: str, lead_shape: Sequence[int]) -> tuple[int, ...]:
    """Leading indices from ``"0,3"``, checked against ``lead_shape``; ValueError names the ranges.

    >>> parse_lead("1,2", (2, 4))
    (1, 2)
    """
    ranges = ", ".join(f"0..{n - 1}" for n in lead_shape) or "none"
    try:
        lead = tuple(int(v) for v in text.split(",") if v.strip() != "")
    except ValueError:
        raise ValueError(f"slice {text!r}: expected comma-separated integers (valid ranges: {ranges})") from None
    if len(lead) != len(lead_shape) or not all(0 <= i < n for i, n in zip(lead, lead_shape)):
        raise ValueError(f"slice {text!r} does not fit the leading shape {tuple(lead_shape)} (valid ranges: {ranges})")
    return lead


def grid_slice(t: torch.Tensor, lead: Sequence[int]) -> list[list[float | str]]:
    """The 2-D grid at leading indices ``lead`` (capped at ``MAX_SIDE`` × ``MAX_SIDE``), as JSON rows."""
    v = t.detach().to(torch.float64)
    if v.dim() == 0:
        v = v.reshape(1, 1)
    elif v.dim() == 1:
        v = v.reshape(1, -1)
    else:
        v = v[tuple(lead)]
    v = v[:MAX_SIDE, :MAX_SIDE]
    return [[number(x) for x in row] for row in v.tolist()]


def heatmap(t: torch.Tensor, max_values: int = 4096) -> dict[str, Any]:
    """A tensor's heat-map record: its shape, grid layout, range and the first slices."""
    shape = tuple(int(n) for n in t.shape)
    lead_shape, rows, cols = _grid_dims(shape)
    per = min(rows, MAX_SIDE) * min(cols, MAX_SIDE)
    keep = max(1, max_values // max(per, 1))
    slices = {lead_key(lead): grid_slice(t, lead)
              for lead in itertools.islice(itertools.product(*map(range, lead_shape)), keep)}
    finite = t.detach().to(torch.float64).reshape(-1)
    finite = finite[torch.isfinite(finite)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.numel() else (0.0, 0.0)
    return {"shape": list(shape), "lead_shape": list(lead_shape), "rows": rows, "cols": cols,
            "shown_rows": min(rows, MAX_SIDE), "shown_cols": min(cols, MAX_SIDE),
            "min": number(lo), "max": number(hi), "slices": slices,
            "complete": len(slices) == math.prod(lead_shape)}
