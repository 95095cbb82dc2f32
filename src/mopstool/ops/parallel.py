"""Running independent file tasks (one exposure's .mops, a run of one image's stamps) in
this process, in worker processes on this node, or on a Dask distributed cluster.

The tasks are plain picklable calls ``fn(*args)``; results come back in task
order whatever the order they finish in, so a parallel run gives exactly the
products of a serial run. Nothing is scheduled here: the standard library's
process pool or dask.distributed does it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from mopstool.errors import UsageError

#: the progress callback of long work: (what, done, total)
Progress = Callable[[str, int, "int | None"], None]
#: tasks planned for the number of tasks that can run at once
Plan = Callable[[int], Iterable[tuple]]


@dataclass(frozen=True)
class Execution:
    """How to run the tasks: *workers* processes (1 = in this process) or the Dask
    scheduler at *scheduler* (host:port or a tcp:// address)."""

    workers: int = 1
    scheduler: str | None = None

    @classmethod
    def from_options(cls, workers: int | None, scheduler: str | None) -> "Execution":
        if workers is not None and workers < 1:
            raise UsageError(f"--workers must be at least 1, not {workers}")
        if scheduler and workers is not None:
            raise UsageError("give --workers or --scheduler, not both")
        return cls(workers=workers if workers is not None else default_workers(), scheduler=scheduler or None)


def default_workers() -> int:
    """The cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def run_tasks(fn: Callable[..., Any], tasks: Iterable[tuple] | Plan, execution: Execution, *,
              progress: Progress | None = None, what: str = "tasks",
              weight: Callable[[tuple], int] | None = None) -> list[Any]:
    """``[fn(*args) for args in tasks]``, run as *execution* says, results in task order.

    *tasks* is the argument tuples, or a :data:`Plan` given the number of tasks
    that can run at once (1 in this process, the workers, or the threads of the
    Dask cluster's workers) returning them. *progress(what, done, total)* after
    each task, counting tasks or, with *weight(args)*, the units each task is
    (e.g. its stamps)."""
    if execution.scheduler:
        return _run_dask(fn, tasks, execution.scheduler, progress, what, weight)
    slots = max(1, execution.workers)
    tasks = _planned(tasks, slots)
    meter = _Meter(progress, what, tasks, weight)
    if slots <= 1 or len(tasks) <= 1:
        out = []
        for i, args in enumerate(tasks):
            out.append(fn(*args))
            meter.done(i)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: list[Any] = [None] * len(tasks)
    with ProcessPoolExecutor(max_workers=min(slots, len(tasks))) as pool:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            meter.done(futures[fut])
    return results


def _planned(tasks: Iterable[tuple] | Plan, slots: int) -> list[tuple]:
    return list(tasks(slots) if callable(tasks) else tasks)


class _Meter:
    """Progress in tasks or in their weights."""

    def __init__(self, progress: Progress | None, what: str, tasks: list[tuple],
                 weight: Callable[[tuple], int] | None):
        self.progress, self.what = progress, what
        self.sizes = [weight(args) for args in tasks] if weight else [1] * len(tasks)
        self.total, self.count = sum(self.sizes), 0
        if progress:
            progress(what, 0, self.total)

    def done(self, i: int) -> None:
        self.count += self.sizes[i]
        if self.progress:
            self.progress(self.what, self.count, self.total)


def _run_dask(fn, tasks: Iterable[tuple] | Plan, address: str, progress: Progress | None, what: str,
              weight: Callable[[tuple], int] | None) -> list[Any]:
    try:
        from dask.distributed import Client
    except ImportError:
        raise UsageError("--scheduler needs dask.distributed: pip install 'mopstool[dask]'") from None
    try:
        client = Client(address, timeout="10s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        from mopstool.errors import Unreachable

        raise Unreachable(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    try:
        tasks = _planned(tasks, max(1, sum(client.nthreads().values())))
        meter = _Meter(progress, what, tasks, weight)
        futures = [client.submit(fn, *args, pure=False) for args in tasks]
        results: list[Any] = []
        for i, fut in enumerate(futures):      # in task order; they run in any order
            results.append(fut.result())
            meter.done(i)
        return results
    finally:
        client.close()
