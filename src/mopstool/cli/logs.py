"""Verbosity (-v/-q) and the JSON-lines log file (--log-file) of every command.

Notes and warnings go to stderr as plain lines; ``-q`` keeps only errors,
``-v`` adds informational detail and ``-vv`` debug detail. ``--log-file FILE``
appends one JSON object per line (``ts``, ``level``, ``logger``, ``message``,
and for the closing record ``command`` and ``exit_code``) whatever the terminal
verbosity, so cron keeps a full record while the terminal stays quiet.
Log files are created readable by the owner only.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from typing import Optional

LOGGER = "mopstool"
#: -q, default, -v, -vv
_LEVELS = {-1: logging.ERROR, 0: 25, 1: logging.INFO, 2: logging.DEBUG}
#: level of the notes commands print (info() in cli/common.py): shown unless -q
NOTE = 25  # = mopstool.output.NOTICE_LEVEL
logging.addLevelName(NOTE, "NOTE")

_state = {"stderr_level": logging.WARNING, "file": None}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
                  + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("command", "exit_code", "pid"):
            if hasattr(record, key):
                doc[key] = getattr(record, key)
        return json.dumps(doc, ensure_ascii=False, default=str)


class _Stderr(logging.Handler):
    """Plain lines on the current sys.stderr (looked up at each call: tests redirect it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(record.getMessage() + "\n")
        except (OSError, ValueError):  # pragma: no cover
            pass


def verbosity(verbose: int, quiet: bool) -> int:
    return -1 if quiet else min(verbose, 2)


def configure(verbose: int = 0, quiet: bool = False, log_file: Optional[str] = None) -> logging.Logger:
    """Set up the 'mopstool' logger for one invocation (replacing earlier handlers)."""
    from mopstool.errors import UsageError

    if quiet and verbose:
        raise UsageError("-q/--quiet and -v/--verbose exclude each other")
    log = logging.getLogger(LOGGER)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    log.propagate = False
    level = _LEVELS[verbosity(verbose, quiet)]
    _state["stderr_level"] = level
    err = _Stderr()
    err.setLevel(level)
    log.addHandler(err)
    log.setLevel(logging.DEBUG if log_file else level)
    _state["file"] = None
    if log_file:
        try:
            fd = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            stream = os.fdopen(fd, "a", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--log-file {log_file}: {exc.strerror or exc}") from None
        fh = logging.StreamHandler(stream)
        fh.setFormatter(JsonLines())
        fh.setLevel(logging.DEBUG)
        log.addHandler(fh)
        _state["file"] = fh
    return log


def logger(name: str = LOGGER) -> logging.Logger:
    return logging.getLogger(name if name.startswith(LOGGER) else f"{LOGGER}.{name}")


def note(message: str) -> None:
    """A notice line: stderr unless -q, and the log file."""
    log = logging.getLogger(LOGGER)
    if not log.handlers:  # not configured (library use, tests calling commands directly)
        sys.stderr.write(message + "\n")
        return
    log.log(NOTE, message)


def error_line(line: str) -> None:
    """The one error line: always on stderr (even with -q), and in the log file."""
    sys.stderr.write(line + "\n")
    fh = _state["file"]
    if fh is not None:
        fh.handle(logging.LogRecord(LOGGER, logging.ERROR, __file__, 0, line, None, None))


def finish(argv: list[str], code: int) -> None:
    """Write the closing record (command line and exit code) and close the log file."""
    fh = _state["file"]
    log = logging.getLogger(LOGGER)
    if fh is not None:
        rec = logging.LogRecord(LOGGER, logging.INFO, __file__, 0, f"exit {code}", None, None)
        rec.command = " ".join(["mopstool", *(_mask(a) for a in argv)])
        rec.exit_code = int(code)
        rec.pid = os.getpid()
        fh.handle(rec)
    for h in list(log.handlers):
        log.removeHandler(h)
        h.close()
    _state["file"] = None


def _mask(arg: str) -> str:
    """Hide a password inside a URL argument (scheme://user:secret@host)."""
    import re

    return re.sub(r"(://[^:/@\s]*:)[^@/\s]+@", r"\1***@", arg)
