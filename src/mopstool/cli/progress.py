"""The one progress display of long work: a bar with ETA on stderr.

Ops functions take a plain callback ``progress(what, done, total)`` (they never
import rich); the CLI passes :func:`progress_bar`'s. The bar is drawn only when
stderr is a terminal and -q was not given; otherwise the callback does nothing.
stdout is never touched, so pipes and cron see only the data; under
--format json/jsonl (a program reads the output) no bar is drawn either.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

#: the callback protocol ops functions accept: (what, done, total or None)
ProgressFn = Callable[[str, int, Optional[int]], None]


def _noop(what: str, done: int, total: Optional[int] = None) -> None:
    return None


def progress_enabled(stream=None) -> bool:
    """A terminal on stderr and not -q."""
    import logging

    from mopstool.cli.logs import _state

    stream = stream or sys.stderr
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and _state["stderr_level"] < logging.ERROR


@contextmanager
def progress_bar(stream=None, fmt: Optional[str] = None) -> Iterator[ProgressFn]:
    """Yield a progress callback; one bar per *what*, removed when the work ends.
    *fmt*: the output format (none drawn for json/jsonl)."""
    if fmt in ("json", "jsonl") or not progress_enabled(stream):
        yield _noop
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    console = Console(file=stream or sys.stderr)
    bars = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(),
                    console=console, transient=True)
    tasks: dict[str, int] = {}
    live = {"on": False}

    def update(what: str, done: int, total: Optional[int] = None) -> None:
        if not live["on"]:          # drawn from the first step on (again after a question)
            bars.start()
            live["on"] = True
        if what not in tasks:
            tasks[what] = bars.add_task(what, total=total)
        bars.update(tasks[what], completed=done, total=total)

    def pause() -> None:
        if live["on"]:
            bars.stop()
            live["on"] = False

    _active.append(pause)
    try:
        yield update
    finally:
        _active.remove(pause)
        pause()


#: the pause functions of the bars being drawn (a question stops them first)
_active: list[Callable[[], None]] = []


def pause_progress() -> None:
    """Take the bars off the terminal before a question; the next step draws them again."""
    for pause in list(_active):
        pause()
