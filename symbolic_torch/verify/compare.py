"""Comparing a derived tensor with autograd's: one ``Row``, by the tolerance table."""
from __future__ import annotations

from dataclasses import replace

import torch

from symbolic_torch.numeric.tolerances import WITHIN, Tolerance, for_dtype, is_reduced
from symbolic_torch.verify.report import Row


def compare(kind: str, name: str, key: str, got: torch.Tensor, ref: torch.Tensor | None,
            dtype: torch.dtype, atol: float | None = None, rtol: float | None = None) -> Row:
    """Compare ``got`` (from formulas) with ``ref`` (autograd; None means zero)."""
    ref64 = torch.zeros_like(got, dtype=torch.float64) if ref is None else ref.detach().to(torch.float64)
    got64 = got.detach().to(torch.float64).reshape(ref64.shape)
    a0, r0 = for_dtype(dtype)
    atol, rtol = a0 if atol is None else atol, r0 if rtol is None else rtol
    finite = bool(torch.isfinite(got64).all()) and bool(torch.isfinite(ref64).all())
    err, scale, same = _finite_errors(got64, ref64) if finite else _nonfinite_errors(got64, ref64)
    rel = err / scale if scale > 0 else err
    ok = same and err <= atol + rtol * scale
    if is_reduced(dtype):
        ok = same and (rel <= rtol or err <= atol)
    note = "" if same else "NaN/Inf pattern differs"
    return Row(kind, name, key, tuple(got64.shape), err, rel, ok, not finite, note)


def _finite_errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, bool]:
    """(max |got − ref|, max |ref|, True) where every element is finite: two passes, no masks."""
    if not got.numel():
        return 0.0, 0.0, True
    return float((got - ref).abs().max()), float(ref.abs().max()), True


def _nonfinite_errors(got: torch.Tensor, ref: torch.Tensor) -> tuple[float, float, bool]:
    """(max error, max |ref| over the elements finite in both, whether NaN and ±∞ fall alike)."""
    same_nan = torch.isnan(got) == torch.isnan(ref)
    same_inf = torch.where(torch.isinf(ref) | torch.isinf(got), got == ref, True)
    fin = torch.isfinite(got) & torch.isfinite(ref)
    diff = torch.where(fin, (got - ref).abs(), torch.zeros((), dtype=torch.float64))
    err = float(diff.max()) if diff.numel() else 0.0
    scale = float(torch.where(fin, ref.abs(), 0).max()) if diff.numel() else 0.0
    return err, scale, bool(same_nan.all() and same_inf.all())


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
