"""ATen-level ops that only torch.export graphs hold: aliases, copies, unsafe views.

``torch.export`` records ATen overloads (``aten.alias.default``); the table matches an
overload by its name to the torch function or method of that name, so the entries here
carry the names of the ATen ops that have no torch-level twin.
"""
from __future__ import annotations

from typing import Any

import sympy as sp

from symbolic_torch.frontend.call import Call
from symbolic_torch.frontend.registry import rule
from symbolic_torch.rules._vocab import unary
from symbolic_torch.rules.shape import reshape_formula

# y[i…] = x[i…]: alias is a view of the whole tensor, lift_fresh_copy and _to_copy copies
# (_to_copy perhaps in another dtype: the formula is the identity, the dtype is verification's business)
unary("aten_alias", lambda x, c, *a, **k: x, methods=["alias", "_to_copy", "lift_fresh_copy"],
      latex=r"\operatorname{id}")


@rule("aten_unsafe_view", methods=["_unsafe_view"], latex=r"\operatorname{reshape}")
def unsafe_view(call: Call, input: Any, *args: Any, **kwargs: Any) -> sp.Expr:
    """y[j…] = x[unravel(ravel(j))]: what torch.export's decompositions write for a reshape."""
    return reshape_formula(call, input)
