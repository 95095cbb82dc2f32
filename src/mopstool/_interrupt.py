"""Ctrl-C that takes effect at once, in every phase of a mopstool process.

Python runs its SIGINT handler only between bytecodes, so an interrupt that
arrives while the main thread waits inside C code (SQLite's busy handler
waiting for another writer's lock, a blocking read in a C extension) would act
only when that call returns. :func:`install` points the signal module's wakeup
file descriptor at a pipe and starts a small thread that reads it: when the main
thread has not dealt with the interrupt within a moment, the thread prints the
one-line message and ends the process with exit 130. Ending the process this
way leaves no partial change: the open transaction is rolled back by SQLite
(its journal) or by the server (the connection closes).

Only the standard library is imported here: this runs before anything else.
"""

from __future__ import annotations

import os
import signal
import sys
import threading

EXIT_INTERRUPTED = 130
#: how long the main thread has to handle the interrupt itself (seconds)
GRACE = 0.5
MESSAGE = "mopstool: interrupted; the unfinished transaction, if any, was rolled back"
STARTUP_MESSAGE = "mopstool: interrupted during start-up; nothing was done"

_said = threading.Lock()
_handled = threading.Event()
_installed = False


def say(message: str = MESSAGE) -> bool:
    """Print the interrupt line (once per process while the watcher runs).

    Returns False when the watcher or the main thread already printed it."""
    _handled.set()
    if not _said.acquire(blocking=False):
        return False
    if not _installed:  # in-process use (tests, library): every interrupt gets its line
        _said.release()
    try:
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
    except (OSError, ValueError):  # stderr closed
        pass
    return True


def _watch(fd: int) -> None:
    seen = 0
    while True:
        try:
            data = os.read(fd, 64)
        except InterruptedError:  # pragma: no cover - reads are retried by Python
            continue
        except OSError:  # pragma: no cover
            return
        if not data:  # pragma: no cover
            return
        if signal.SIGINT not in data:
            continue
        seen += 1
        if seen == 1 and _handled.wait(GRACE):
            continue  # the main thread is on it
        say()
        os._exit(EXIT_INTERRUPTED)


def install() -> None:
    """Start the watcher (main thread of the real process only; idempotent)."""
    global _installed
    if _installed or threading.current_thread() is not threading.main_thread():
        return
    try:
        current = signal.getsignal(signal.SIGINT)
        if current is signal.SIG_IGN:  # started with Ctrl-C ignored (nohup, background job)
            return
        if current in (signal.SIG_DFL, None):
            signal.signal(signal.SIGINT, signal.default_int_handler)
        r, w = os.pipe()
        os.set_blocking(w, False)
        signal.set_wakeup_fd(w, warn_on_full_buffer=False)
    except (OSError, ValueError):  # pragma: no cover - no pipes or not the main thread
        return
    threading.Thread(target=_watch, args=(r,), name="mopstool-interrupt", daemon=True).start()
    _installed = True
