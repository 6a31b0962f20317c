"""The examples in the analysis modules' docstrings run and print what they say."""
from __future__ import annotations

import doctest

import pytest

from symbolic_torch.analysis import counting, tables


@pytest.mark.parametrize("module", [counting, tables])
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
