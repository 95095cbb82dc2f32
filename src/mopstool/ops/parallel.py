"""Running independent file tasks (one exposure's .mops, one image's stamps) in
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


def run_tasks(fn: Callable[..., Any], tasks: Iterable[tuple], execution: Execution, *,
              progress: Progress | None = None, what: str = "tasks") -> list[Any]:
    """``[fn(*args) for args in tasks]``, run as *execution* says, results in task order;
    *progress(what, done, total)* after each task."""
    tasks = list(tasks)
    total = len(tasks)
    if progress:
        step = progress
        progress = lambda done, total: step(what, done, total)  # noqa: E731
        progress(0, total)
    if execution.scheduler:
        return _run_dask(fn, tasks, execution.scheduler, progress)
    if execution.workers <= 1 or total <= 1:
        out = []
        for i, args in enumerate(tasks, 1):
            out.append(fn(*args))
            if progress:
                progress(i, total)
        return out
    from concurrent.futures import ProcessPoolExecutor, as_completed

    results: list[Any] = [None] * total
    with ProcessPoolExecutor(max_workers=min(execution.workers, total)) as pool:
        futures = {pool.submit(fn, *args): i for i, args in enumerate(tasks)}
        done = 0
        for fut in as_completed(futures):
            results[futures[fut]] = fut.result()
            done += 1
            if progress:
                progress(done, total)
    return results


def _run_dask(fn, tasks: list[tuple], address: str, progress: Progress | None) -> list[Any]:
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
        futures = [client.submit(fn, *args, pure=False) for args in tasks]
        results: list[Any] = []
        for fut in futures:                  # in task order; they run in any order
            results.append(fut.result())
            if progress:
                progress(len(results), len(tasks))
        return results
    finally:
        client.close()
