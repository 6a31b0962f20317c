"""Provenance: the plain Python function whose code made a step (a custom activation, a loss
written as a ``def`` or a lambda, a tensor function given as the model).

The tracer records it in the fx node's ``meta`` under ``PYTHON_FUNCTION``; ``Step.python_function``
reads it back. Printers render its source with latexify-py beside the derived formula.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import CodeType

PYTHON_FUNCTION = "symbolic_torch_python_function"  # node.meta key


@dataclass(frozen=True)
class PythonFunction:
    """Where a step's op was written: the function's qualified name, file, first line, code.

    >>> def swish(x): return x
    >>> PythonFunction.of(swish.__code__).qualname
    'swish'
    """

    qualname: str
    filename: str
    line: int
    code: CodeType = field(repr=False, compare=False)

    @property
    def is_lambda(self) -> bool:
        """True for a ``lambda`` (latexify reads only ``def``s; printers rewrite it as one)."""
        return self.code.co_name == "<lambda>"

    @classmethod
    def of(cls, code: CodeType) -> "PythonFunction":
        """The record of a function's code object."""
        return cls(code.co_qualname, code.co_filename, code.co_firstlineno, code)
