"""The garbage collector during a process's start-up.

A mopstool process starts by importing its libraries and building the table
models it needs: a few hundred thousand objects that live until the process
ends. Python's cyclic garbage collector, left at its defaults, runs every 700
allocations and re-scans all of them again and again while they are being made
(about a tenth of a report's CPU time on the SQLite demo), and finds nothing to
free. The console script therefore holds automatic collection from its first
line until the command's first database engine exists (by then its modules
are imported), then moves every object made so far out of the collector's
view (``gc.freeze``) and turns collection back on. A FITS command ends the
hold in the same way when it first builds a WCS (astropy.wcs, the heaviest
library it loads, is imported by then). A command that does neither within
:data:`HOLD_SECONDS` gets collection back then, unchanged; a worker process
forked during the hold gets it back at once.

Collection held does not stop objects being tracked: everything made during
the hold waits in the youngest generation, and the first collections after an
unfrozen release scan all of it (0.09 s of collection in a 10,000-stamp cut
that ran past the hold, 0.02 s with the hold ended and frozen at its WCS).

Only the standard library is used here: this runs before anything else.
"""

from __future__ import annotations

import gc
import os
import threading

#: the longest a process runs with automatic collection held (seconds)
HOLD_SECONDS = 2.0

_held = False
_fork_hook = False


def hold() -> None:
    """Hold automatic garbage collection until :func:`resume` (or HOLD_SECONDS)."""
    global _held, _fork_hook
    if _held or not gc.isenabled():
        return
    gc.disable()
    _held = True
    if not _fork_hook:
        # a worker forked during the hold has no timer thread: collection back on there
        os.register_at_fork(after_in_child=_timeout)
        _fork_hook = True
    timer = threading.Timer(HOLD_SECONDS, _timeout)
    timer.daemon = True
    timer.start()


def _timeout() -> None:
    """HOLD_SECONDS passed without a database engine: collection back on as it
    was (no freeze: the start-up may not be over)."""
    global _held
    if _held:
        _held = False
        gc.enable()


def resume() -> None:
    """End the start-up hold: the objects made so far are frozen (never
    scanned again), collection is on again. Does nothing when not held (in
    tests and library use)."""
    global _held
    if not _held:
        return
    _held = False
    gc.freeze()
    gc.enable()
