"""Agreement tests for rules/contraction.py (einsum and the products written as one contraction)."""
from __future__ import annotations

from typing import Any, Callable

import pytest
import torch
import torch.nn.functional as F

from conftest import check, rand

CASES: list[tuple[str, Callable[..., Any], list[tuple[int, ...]]]] = [
    ("einsum", lambda a, b: torch.einsum("ij,jk->ik", a, b), [(2, 3), (3, 4)]),
    ("einsum", lambda a, b: torch.einsum("bij,bjk", a, b), [(2, 2, 3), (2, 3, 2)]),  # implicit output
    ("einsum", lambda a, b: torch.einsum("...i,...i->...", a, b), [(2, 3, 4), (3, 4)]),  # ellipsis, broadcast
    ("einsum", lambda a: torch.einsum("ii->i", a), [(3, 3)]),  # a diagonal
    ("einsum", lambda a, b: torch.einsum("i,j->ij", [a, b]), [(3,), (2,)]),  # operands as a list
    ("einsum", lambda a, b: torch.einsum(a, [0, 1], b, [1, 2], [0, 2]), [(2, 3), (3, 2)]),  # sublists
    ("mv", torch.mv, [(2, 3), (3,)]), ("dot", torch.dot, [(3,), (3,)]), ("dot", torch.vdot, [(3,), (3,)]),
    ("inner", torch.inner, [(2, 3), (4, 3)]), ("inner", torch.inner, [(), (2, 3)]),
    ("outer", torch.outer, [(3,), (2,)]),
    ("addmm", lambda m, a, b: torch.addmm(m, a, b, beta=0.5, alpha=2), [(4,), (2, 3), (3, 4)]),
    ("addmv", torch.addmv, [(2,), (2, 3), (3,)]), ("addr", lambda m, u, v: m.addr(u, v, alpha=3), [(2, 3), (2,), (3,)]),
    ("baddbmm", torch.baddbmm, [(2, 2, 4), (2, 2, 3), (2, 3, 4)]),
    ("addbmm", lambda m, a, b: torch.addbmm(m, a, b, beta=0), [(2, 4), (2, 2, 3), (2, 3, 4)]),
    ("tensordot", lambda a, b: torch.tensordot(a, b, 1), [(2, 3), (3, 4)]),
    ("tensordot", lambda a, b: torch.tensordot(a, b, ([0, 2], [2, 0])), [(2, 3, 4), (4, 2, 2)]),
    ("vecdot", lambda a, b: torch.linalg.vecdot(a, b, dim=0), [(3, 2), (3, 1)]),
    ("multi_dot", lambda a, b, c: torch.linalg.multi_dot([a, b, c]), [(3,), (3, 4), (4, 2)]),
    ("multi_dot", lambda a, b, c: torch.linalg.multi_dot([a, b, c]), [(2, 3), (3, 4), (4,)]),
    ("__rmatmul__", torch.Tensor.__rmatmul__, [(3, 2), (4, 3)]),
    ("bilinear", F.bilinear, [(2, 3), (2, 4), (5, 3, 4), (5,)]),
    ("kron", torch.kron, [(2, 3), (2, 2)]), ("kron", torch.kron, [(3,), (2, 1, 2)]),
]


@pytest.mark.parametrize("rule, f, shapes", CASES, ids=[f"{r}-{k}" for k, (r, _, _) in enumerate(CASES)])
def test_contraction(rule: str, f: Callable[..., Any], shapes: list[tuple[int, ...]]) -> None:
    fixed = {1: lambda a: f(a), 2: lambda a, b: f(a, b), 3: lambda a, b, c: f(a, b, c),
             4: lambda a, b, c, e: f(a, b, c, e)}[len(shapes)]  # fx needs a Python signature
    d = check(fixed, *[rand(*s) for s in shapes])
    assert [s.op for s in d.steps] == [rule]


def test_einsum_reads_as_index_notation() -> None:
    d = check(lambda a, b: torch.einsum("ij,jk->ik", a, b), rand(2, 3), rand(3, 4))
    assert str(d.steps[0].forward) == "Eq(y[i, k], Sum(x0[i, j]*x1[j, k], (j, 0, 2)))"
