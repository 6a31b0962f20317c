"""pytest plugin, registered through the ``pytest11`` entry point: any project that
installs symbolic_torch gets

- the fixture ``symbolic_gradcheck`` (it is ``symbolic_torch.testing.assert_gradients_match``)::

      def test_swish(symbolic_gradcheck):
          symbolic_gradcheck(MySwish, torch.randn(4, 3, dtype=torch.float64))

- the marker ``symbolic_gradcheck(fn_cls, *inputs, **options)``: before the test body
  runs, the gradient check runs and fails the test on a mismatch. A single callable
  after ``fn_cls`` is an inputs factory, called at test time::

      @pytest.mark.symbolic_gradcheck(MySwish, lambda: (torch.randn(4, 3, dtype=torch.float64),))
      def test_swish():
          pass

torch and sympy are imported when a check runs, not when pytest loads the plugin.
"""
from __future__ import annotations

from typing import Any, Callable

import pytest

MARKER = "symbolic_gradcheck"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(fn_cls, *inputs, **options): check fn_cls.backward against the gradient symbolic_torch "
        "derives from fn_cls.forward (options as symbolic_torch.testing.assert_gradients_match; a single "
        "callable after fn_cls is an inputs factory)")


@pytest.fixture
def symbolic_gradcheck() -> Callable[..., Any]:
    """``assert_gradients_match(fn_cls, *inputs, order=1, atol=…, rtol=…, time_budget=…)``."""
    from symbolic_torch.testing import assert_gradients_match
    return assert_gradients_match


def marker_inputs(args: tuple[Any, ...]) -> tuple[type, tuple[Any, ...]]:
    """``(fn_cls, inputs)`` from a marker's arguments (calling an inputs factory)."""
    if not args:
        raise pytest.UsageError(f"@pytest.mark.{MARKER} needs the Function class as its first argument")
    fn_cls, *inputs = args
    if len(inputs) == 1 and callable(inputs[0]) and not _is_tensor(inputs[0]):
        made = inputs[0]()
        inputs = list(made) if isinstance(made, (tuple, list)) else [made]
    return fn_cls, tuple(inputs)


def _is_tensor(v: Any) -> bool:
    return type(v).__module__.startswith("torch") and hasattr(v, "shape")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> None:
    __tracebackhide__ = True
    marks = list(item.iter_markers(name=MARKER))
    if not marks:
        return
    from symbolic_torch.testing import assert_gradients_match
    for mark in marks:
        fn_cls, inputs = marker_inputs(mark.args)
        assert_gradients_match(fn_cls, *inputs, **mark.kwargs)
