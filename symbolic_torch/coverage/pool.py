"""Worker processes for the coverage sweep, with a watchdog for hung samples.

Each worker (a spawned process that imports ``op_db`` once) takes one OpInfo entry at
a time and reports every sample as it starts and ends. A sample's own time limit is
enforced inside the worker by an alarm; a worker stuck past it (in C code, say) is
killed by the parent, the sample recorded as a timeout, and the entry resumed from
the next sample in a fresh worker.
"""
from __future__ import annotations

import multiprocessing as mp
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Sequence

import torch

from symbolic_torch.coverage.report import ERROR, TIMEOUT, SampleResult

GRACE = 15.0  # seconds past the alarm before the parent kills a worker


@dataclass(frozen=True)
class Work:
    """What the workers run, given by the sweep (module-level functions: a spawned worker gets
    them by name): the entries by name, an entry's samples, one sample's check."""

    entries: Callable[[Sequence[str] | None], list[tuple[int, Any]]]
    samples: Callable[[Any], list[Any]]
    run_sample: Callable[[Any, int, Any, float, int], SampleResult]


def _worker(conn: Connection, work: Work, limit: int | None, time_limit: float, max_elements: int) -> None:
    """Loop: receive ``(entry index, first sample)``, report ``begin``/``done``/``end`` messages."""
    torch.set_num_threads(1)  # as the sweep in this process
    ops = dict(work.entries(None))
    while True:
        task = conn.recv()
        if task is None:
            return
        index, start = task
        op = ops[index]
        try:
            todo = work.samples(op)[: limit if limit is not None else None]
        except Exception as e:
            conn.send(("done", SampleResult(op.name, op.variant_test_name, -1, ERROR,
                                            f"samples: {type(e).__name__}: {e}")))
            todo = []
        for k in range(start, len(todo)):
            conn.send(("begin", k))
            conn.send(("done", work.run_sample(op, k, todo[k], time_limit, max_elements)))
        conn.send(("end", None))


@dataclass
class _Slot:
    proc: Any
    conn: Connection
    task: tuple[int, int] | None = None
    sample: int = -1
    since: float = field(default_factory=time.monotonic)


def pool_sweep(work: Work, names: Sequence[str] | None, limit: int | None, time_limit: float, jobs: int,
               max_elements: int, progress: bool = False) -> list[SampleResult]:
    """Run every selected entry in ``jobs`` workers; a hung worker is replaced."""
    entries = dict(work.entries(names))
    ctx = mp.get_context("spawn")
    tasks: deque[tuple[int, int]] = deque((k, 0) for k in entries)
    results: list[SampleResult] = []

    def start() -> _Slot:
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, work, limit, time_limit, max_elements), daemon=True)
        proc.start()
        child.close()
        return _Slot(proc, parent)

    slots = [start() for _ in range(max(1, min(jobs, len(tasks))))]
    deadline = time_limit + GRACE
    while tasks or any(s.task for s in slots):
        for s in slots:
            if s.task is None and tasks:
                s.task, s.sample, s.since = tasks.popleft(), -1, time.monotonic()
                s.conn.send(s.task)
        ready = wait([s.conn for s in slots if s.task], timeout=1.0)
        for s in slots:
            if s.task is None:
                continue
            if s.conn in ready:
                try:
                    kind, payload = s.conn.recv()
                except EOFError:  # the worker died (out of memory, a crash)
                    kind, payload = "dead", None
                if kind == "begin":
                    s.sample, s.since = payload, time.monotonic()
                elif kind == "done":
                    results.append(payload)
                elif kind == "end":
                    if progress:
                        op = entries[s.task[0]]
                        print(f"{op.name} {op.variant_test_name}".strip(), file=sys.stderr, flush=True)
                    s.task = None
                    continue
                if kind != "dead":
                    continue
            elif time.monotonic() - s.since < deadline + (60.0 if s.sample < 0 else 0.0):
                continue
            _replace(s, entries, results, tasks, time_limit, start)
    for s in slots:
        s.conn.send(None)
        s.proc.join(timeout=5)
        if s.proc.is_alive():
            s.proc.kill()
    return results


def _replace(s: _Slot, entries: dict[int, Any], results: list[SampleResult], tasks: deque[tuple[int, int]],
             time_limit: float, start: Any) -> None:
    """Kill the worker of slot ``s``, record its sample as a timeout, resume the entry after it."""
    op = entries[s.task[0]]
    alive = s.proc.is_alive()
    s.proc.kill()
    s.proc.join()
    what = f"> {time_limit:g} s, worker killed" if alive else f"worker died (exit {s.proc.exitcode})"
    results.append(SampleResult(op.name, op.variant_test_name, s.sample, TIMEOUT if alive else ERROR, what,
                                seconds=time.monotonic() - s.since))
    if s.sample >= 0:
        tasks.appendleft((s.task[0], s.sample + 1))
    fresh = start()
    s.proc, s.conn, s.task, s.sample = fresh.proc, fresh.conn, None, -1
