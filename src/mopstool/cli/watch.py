"""--watch: refresh a report in place on a terminal (rich Live).

``watch`` calls *fetch* every *every* seconds, draws ``view(data, previous)``
in place, and prints the lines *events(previous, data)* returns above the live
view (with the terminal bell). Ctrl-C ends it with one line on stderr
(``mopstool: error: interrupted``) and exit 130. Without a terminal on
stdout it refuses (exit 2): a pipe or a cron job wants the plain report.
"""

from __future__ import annotations

import re
import sys
import time
from datetime import datetime, timezone
from typing import Any, Callable, Optional

from mopstool.errors import ExitCode, MopsError, TempFail, Unreachable, UsageError, classify_db_error

#: the style of a cell that changed since the previous refresh
CHANGED = "bold black on yellow"
_EVERY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|m|min|h)?\s*$", re.IGNORECASE)
_UNIT = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}


def parse_every(value: Optional[str], default: str = "5m") -> float:
    """'5m', '30s', '1h' or a number of seconds -> seconds (> 0)."""
    m = _EVERY_RE.match(value if value is not None else default)
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--every {value!r}: give a positive interval such as 30s, 5m or 1h")
    return float(m.group(1)) * _UNIT[(m.group(2) or "s").lower()]


def check_watch_options(watch: bool, every: Optional[str], fmt: str) -> float | None:
    """Validate --watch/--every/--format together; the interval in seconds or None."""
    if not watch:
        if every is not None:
            raise UsageError("--every needs --watch")
        return None
    if fmt != "table":
        raise UsageError(f"--watch draws a table on the terminal; --format {fmt} cannot be watched")
    if not sys.stdout.isatty():
        raise UsageError("--watch needs a terminal on stdout; run without --watch in scripts and cron")
    return parse_every(every)


def changed_style(key: Any, value: str, previous: dict | None) -> str:
    """CHANGED when *key* had another value at the previous refresh."""
    if previous is None:
        return ""
    return CHANGED if previous.get(key, value) != value else ""


def watch(fetch: Callable[[], Any], view: Callable[[Any, Any, str], Any], *, every: float,
          events: Callable[[Any, Any], list[str]] | None = None, title: str = "") -> None:
    """Refresh forever (until Ctrl-C). *view(data, previous, header)* returns a
    rich renderable; *events(previous, data)* the lines to announce."""
    from rich.console import Console

    console = Console()
    try:
        _loop(console, fetch, view, every=every, events=events, title=title)
    except KeyboardInterrupt:
        # typer would turn this into a silent exit 130; say it on stderr, once
        raise MopsError("interrupted", ExitCode.INTERRUPTED) from None


def _loop(console, fetch, view, *, every, events, title) -> None:
    from rich.live import Live
    from rich.text import Text

    previous = None
    n = 0
    with Live(console=console, auto_refresh=False, redirect_stdout=False, redirect_stderr=False) as live:
        while True:
            n += 1
            stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
            try:
                data = fetch()
            except Exception as exc:  # noqa: BLE001 - a database that comes back: keep watching
                mapped = exc if isinstance(exc, MopsError) else classify_db_error(exc)
                if not isinstance(mapped, (Unreachable, TempFail)):
                    raise
                live.console.print(Text(f"{title}  refresh {n} at {stamp} failed: {mapped.message}",
                                        style="bold red"))
                time.sleep(every)
                continue
            header = (f"{title}  refresh {n} at {stamp}, every {_human(every)}; "
                      "changes highlighted; Ctrl-C to stop")
            for line in (events(previous, data) if events else []):
                live.console.print(line, soft_wrap=True)  # a command stays one copyable line
                live.console.bell()
            live.update(view(data, previous, header), refresh=True)
            previous = data
            time.sleep(every)


def _human(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g}m"
    return f"{seconds:g}s"
