"""Exit codes and the exceptions that carry them.

Every command maps its failures onto this one table (DESIGN.md, "Exit codes").
Library code raises a :class:`MopsError` subclass; the CLI prints its message as
one line on stderr and exits with its code.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1
    USAGE = 2
    CHECK_FAILED = 3
    DECLINED = 10
    DATA = 65
    UNREACHABLE = 69
    IOERR = 74
    TEMPFAIL = 75
    PERMISSION = 77
    CONFIG = 78
    INTERRUPTED = 130


EXIT_CODE_MEANINGS: dict[int, str] = {
    ExitCode.OK: "success",
    ExitCode.UNEXPECTED: "unexpected error (traceback only with --debug / MOPSTOOL_DEBUG=1)",
    ExitCode.USAGE: "usage error (bad option, refused selection, no terminal to confirm)",
    ExitCode.CHECK_FAILED: ("a check found problems (czar, faults with faults, lostvisits with lost "
                            "visits, diffpairs with pairs due and not defined, pstamp-req backlog over "
                            "the parse limit or --check, db check)"),
    ExitCode.DECLINED: "declined at the confirmation prompt; nothing written",
    ExitCode.DATA: ("bad input data (FITS file, request row, id that does not exist, a value the "
                    "database column cannot hold: too long, not latin1, out of range)"),
    ExitCode.UNREACHABLE: "database unreachable",
    ExitCode.IOERR: ("cannot write: the disk is full, an I/O error, or the audit record of a change "
                     "cannot be written anywhere; nothing changed"),
    ExitCode.TEMPFAIL: "temporary: lock held by another run, deadlock; retry later",
    ExitCode.PERMISSION: ("permission: a secrets file readable by others, a database user that may "
                          "only read, a read-only SQLite file"),
    ExitCode.CONFIG: "configuration error",
    ExitCode.INTERRUPTED: "interrupted",
}


class MopsError(Exception):
    """An error with a documented exit code and a one-line message."""

    code: ExitCode = ExitCode.UNEXPECTED

    def __init__(self, message: str, code: ExitCode | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class UsageError(MopsError):
    code = ExitCode.USAGE


class CheckFailed(MopsError):
    code = ExitCode.CHECK_FAILED


class DataError(MopsError):
    code = ExitCode.DATA


class NotFound(DataError):
    """An id or name that does not exist."""


class Unreachable(MopsError):
    code = ExitCode.UNREACHABLE


class TempFail(MopsError):
    code = ExitCode.TEMPFAIL


class WriteFailed(MopsError):
    """The database or a file could not be written (disk full, I/O error)."""

    code = ExitCode.IOERR


class PermissionProblem(MopsError):
    code = ExitCode.PERMISSION


class ConfigError(MopsError):
    code = ExitCode.CONFIG


def classify_db_error(exc: BaseException) -> MopsError | None:
    """Map a DBAPI/SQLAlchemy error onto a MopsError, or None if unknown.

    MySQL error numbers: 2002/2003/2005/2006/2013 connection problems, 1044/1045
    access denied, 1049 unknown database, 1205 lock wait timeout, 1213 deadlock,
    1142/1143 a command (INSERT, UPDATE, ...) denied to the user, 1290 the server
    runs read-only, 1021/1114 disk or table full. SQLite: a read-only file or
    directory, a full disk, an I/O error.
    """
    orig = getattr(exc, "orig", exc)
    args = getattr(orig, "args", ())
    errno = args[0] if args and isinstance(args[0], int) else None
    text = str(orig).splitlines()[0] if str(orig) else type(orig).__name__
    if errno in (2002, 2003, 2005, 2006, 2013):
        return Unreachable(f"database unreachable: {text}")
    if errno in (1044, 1045):
        return Unreachable(f"database refused the login: {text}")
    if errno == 1049:
        return Unreachable(f"database does not exist: {text}")
    if errno in (1142, 1143, 1227, 1290, 1036):
        text = str(args[1]) if len(args) > 1 else text
        return PermissionProblem(f"the database user may not change this database ({text}); "
                                 "nothing changed; use an account that may write")
    if errno in (1021, 1114):
        return WriteFailed(f"the database server cannot write ({text}); nothing changed")
    if errno in (1205, 1213):
        return TempFail(f"database busy ({text}); retry later")
    low = text.lower()
    if "unable to open database file" in low:
        return Unreachable(f"cannot open the SQLite database: {text}")
    if "readonly database" in low or "read-only" in low:
        return PermissionProblem(f"the SQLite database is read-only ({text}): the file or its "
                                 "directory cannot be written by this user; nothing changed")
    if "disk is full" in low or "disk i/o error" in low:
        return WriteFailed(f"cannot write the SQLite database ({text}): the disk is full or "
                           "failing; nothing changed")
    if "database is locked" in low:
        return TempFail("SQLite database is locked by another process; retry later")
    if "no such table" in low or errno == 1146:
        return ConfigError(
            f"the database has no such table ({text}); run 'mopstool db check' "
            "or 'mopstool db init' on a scratch database"
        )
    return None
