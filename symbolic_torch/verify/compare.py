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
