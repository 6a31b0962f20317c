"""Progress bars for long derivations: one tqdm bar per stage (lowering, deriving, evaluating, verifying).

``derive(..., progress=None)`` opens a ``session`` for its run; the stages it calls ask for a
``stage(name, total)`` and tick it once per node or step. Outside a session (or with the bars
off) a stage is a no-op that costs nothing, so the stages never need to know whether anyone
watches. Whether bars show:

- ``progress=True``: always; ``progress=False``: never;
- ``progress=None`` (auto): the environment variable ``SYMBOLIC_TORCH_PROGRESS`` decides when
  set (``0``/``false``/``no``/``off`` off, anything else on); else bars show when stderr is a
  terminal and the run has at least ``AUTO_MIN_STEPS`` nodes.

>>> with session(True, nodes=3):
...     with stage("deriving", 3) as bar:
...         for _ in range(3):
...             bar.update()
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import sys
from typing import Any, Iterator

ENV = "SYMBOLIC_TORCH_PROGRESS"
AUTO_MIN_STEPS = 50  # nodes in the graph from which auto mode shows bars (on a terminal)
STAGES = ("lowering", "deriving", "evaluating", "verifying")

# None: no session open; True/False: the open session's choice (an inner session keeps it)
_ACTIVE: contextvars.ContextVar[bool | None] = contextvars.ContextVar("symbolic_torch_progress", default=None)


class _Silent:
    """A stage nobody watches: ``update`` does nothing."""

    def update(self, n: int = 1) -> None:
        """Nothing to show."""


def wanted(progress: bool | None, nodes: int) -> bool:
    """Whether a run of ``nodes`` graph nodes shows bars, given ``derive``'s ``progress`` argument.

    >>> wanted(False, 10_000), wanted(True, 1)
    (False, True)
    """
    if progress is not None:
        return bool(progress)
    env = os.environ.get(ENV)
    if env is not None and env.strip() != "":
        return env.strip().lower() not in ("0", "false", "no", "off")
    return _is_terminal() and nodes >= AUTO_MIN_STEPS


def _is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


@contextlib.contextmanager
def session(progress: bool | None, nodes: int) -> Iterator[bool]:
    """Within the block, ``stage`` shows bars if ``wanted(progress, nodes)``; yields that choice.
    Sessions nest: an inner one (``Derivation.verify`` called by ``derive``) keeps the outer choice
    when its own ``progress`` is None."""
    outer = _ACTIVE.get()
    on = outer if progress is None and outer is not None else wanted(progress, nodes)
    token = _ACTIVE.set(on)
    try:
        yield on
    finally:
        _ACTIVE.reset(token)


def active() -> bool:
    """Is a session with bars open?"""
    return bool(_ACTIVE.get())


@contextlib.contextmanager
def stage(name: str, total: int, unit: str = "step") -> Iterator[Any]:
    """A bar for stage ``name`` of ``total`` units (a no-op outside a session with bars); the bar
    is removed when the stage ends, so that a finished derivation leaves the terminal clean."""
    if not _ACTIVE.get():
        yield _Silent()
        return
    from tqdm.auto import tqdm
    bar = tqdm(total=total, desc=f"{name:<10}", unit=unit, file=sys.stderr, leave=False,
               dynamic_ncols=True, mininterval=0.1)
    try:
        yield bar
    finally:
        bar.close()
