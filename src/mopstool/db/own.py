"""mopstool's own bookkeeping tables.

The audit table is created by ``mopstool db init`` (and ``mopstool demo``) but
never required: against a real gpc1 that lacks it, the audit trail goes to a
JSON lines file (mode 0600) under the user's data directory instead. No other
table of mopstool's own exists: fixbroken keeps its pairing in the IPP's own
columns (see mopstool.ops.disk.fixbroken).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import weakref
from datetime import datetime, timezone

from sqlalchemy import (BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text,
                        inspect)
from sqlalchemy.exc import DBAPIError

from mopstool.db.schema import _MYSQL_KW
from mopstool.errors import ExitCode

own = MetaData()

mopstoolAudit = Table(
    "mopstoolAudit", own,
    Column("audit_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("ts", DateTime, nullable=False),
    Column("username", String(64)),
    Column("hostname", String(64)),
    Column("command", Text),
    Column("action", String(64)),
    Column("rows_affected", Integer),
    Column("detail", Text),
    info={"mysql_kw": _MYSQL_KW},  # given at creation (mopstool.db.schema._mysql_options)
)


def has_table(conn, name: str) -> bool:
    return inspect(conn).has_table(name)


#: exit code when the audit record of a change cannot be written anywhere (EX_IOERR)
AUDIT_UNWRITABLE = ExitCode.IOERR
_COMMAND_MAX = 16000
_DETAIL_MAX = 60000


def latin1_safe(text: str, limit: int | None = None) -> str:
    """*text* storable in a latin1 column: other characters as \\uXXXX escapes."""
    out = text.encode("latin-1", "backslashreplace").decode("latin-1")
    if limit is not None and len(out) > limit:
        out = out[:limit - 3] + "..."
    return out


def audit_file():
    """The audit trail used when the database has no mopstoolAudit table."""
    from mopstool.config import data_dir

    return data_dir() / "audit.jsonl"


#: engine -> whether it has the audit table: looked up once per engine (a
#: command's process), not on every audited batch
_AUDIT_TABLE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _audit_table_exists(conn) -> bool:
    eng = conn.engine
    found = _AUDIT_TABLE.get(eng)
    if found is None:
        found = _AUDIT_TABLE[eng] = has_table(conn, "mopstoolAudit")
    return found


def record_audit(conn, action: str, rows: int, detail: dict | None = None,
                 command: list[str] | None = None) -> None:
    """Record a change: who, when, the command line, the rows affected.

    With a mopstoolAudit table the row is written inside the caller's
    transaction, so it commits or rolls back with the change itself. Without
    it (a real gpc1) the record goes to audit.jsonl under the user's data
    directory (mode 0600): the file is opened now -- a change whose audit
    cannot be written does not happen (exit 74) -- and the line is written
    when the transaction commits, so a rollback leaves no record. Passwords
    are masked; text the latin1 columns cannot hold is escaped, never an error."""
    from mopstool.config import mask_secrets

    cmd = mask_secrets(" ".join(str(a) for a in (command if command is not None else sys.argv)))
    detail_text = mask_secrets(json.dumps(detail or {}, default=str, sort_keys=True))
    row = {
        "ts": datetime.now(timezone.utc).replace(tzinfo=None),
        "username": latin1_safe(_user(), 64),
        "hostname": latin1_safe(socket.gethostname(), 64),
        "command": latin1_safe(cmd, _COMMAND_MAX),
        "action": latin1_safe(str(action), 64),
        "rows_affected": int(rows),
        "detail": latin1_safe(detail_text, _DETAIL_MAX),
    }
    if _audit_table_exists(conn):
        try:
            conn.execute(mopstoolAudit.insert().values(**row))
            return
        except DBAPIError:
            # dropped since it was looked up? (a failed statement leaves the
            # transaction usable on MariaDB and SQLite) then fall back to the file
            _AUDIT_TABLE[conn.engine] = has_table(conn, "mopstoolAudit")
            if _AUDIT_TABLE[conn.engine]:
                raise
    path = audit_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        fh = os.fdopen(fd, "a", encoding="utf-8")
    except OSError as exc:
        from mopstool.errors import MopsError

        raise MopsError(f"cannot write the audit record to {path}: {exc.strerror}; "
                        "nothing was changed", code=AUDIT_UNWRITABLE) from None
    line = json.dumps(dict(row, ts=row["ts"].isoformat() + "Z", command=cmd,
                           database=mask_secrets(conn.engine.url.render_as_string(hide_password=True))),
                      default=str, ensure_ascii=False) + "\n"
    from sqlalchemy import event

    def _on_commit(_conn):
        try:
            fh.write(line)
            fh.flush()
            os.fsync(fh.fileno())
        except OSError as exc:
            from mopstool.errors import MopsError

            raise MopsError(f"cannot write the audit record to {path}: {exc.strerror}; "
                            "nothing was changed", code=AUDIT_UNWRITABLE) from None
        finally:
            fh.close()

    def _on_rollback(_conn):
        fh.close()

    event.listen(conn, "commit", _on_commit, once=True)
    event.listen(conn, "rollback", _on_rollback, once=True)


def _user() -> str:
    import getpass

    try:
        return getpass.getuser()[:64]
    except Exception:  # pragma: no cover
        return os.environ.get("USER", "unknown")[:64]
