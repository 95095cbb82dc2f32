"""mopstool's own bookkeeping tables.

They are created by ``mopstool db init`` (and ``mopstool demo``) but never
required: against a real gpc1 that lacks them, the audit trail goes to a JSON
lines file under the user's data directory instead.
"""

from __future__ import annotations

import getpass
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
    **_MYSQL_KW,
)


#: fixbroken's pairing of a broken original run with the replacement chip run
#: defined to reprocess its exposure (one row per broken run and exposure)
mopstoolFix = Table(
    "mopstoolFix", own,
    Column("fix_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("stage", String(16), nullable=False),          # chip | warp | diff | exposure
    Column("broken_id", BigInteger),                       # chip_id / warp_id / diff_id
    Column("component", String(255)),                      # broken class_id/skycell_id list
    Column("exp_id", BigInteger, nullable=False),
    Column("exp_name", String(64)),
    Column("filter", String(64)),
    Column("preset", String(64)),
    Column("reduction", String(64)),
    Column("label", String(64)),                           # the replacement's label
    Column("data_group", String(64)),
    Column("workdir", String(255)),
    Column("chip_id", BigInteger),                         # the replacement chipRun
    Column("state", String(16), nullable=False),           # defined | finished
    Column("source", String(255)),                         # how the breakage was found
    Column("username", String(64)),
    Column("created", DateTime, nullable=False),
    Column("finished", DateTime),
    Index("ix_mopstoolFix_state", "state"),
    Index("ix_mopstoolFix_broken", "stage", "broken_id"),
    Index("ix_mopstoolFix_exp_id", "exp_id"),
    Index("ix_mopstoolFix_chip_id", "chip_id"),
    **_MYSQL_KW,
)

def has_table(conn, name: str) -> bool:
    return inspect(conn).has_table(name)


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

    Written inside the caller's transaction when the audit table exists, so
    the record commits or rolls back with the change itself."""
    cmd = " ".join(command if command is not None else sys.argv)
    row = {
        "ts": datetime.now(timezone.utc).replace(tzinfo=None),
        "username": _user(),
        "hostname": socket.gethostname()[:64],
        "command": cmd,
        "action": action,
        "rows_affected": int(rows),
        "detail": json.dumps(detail or {}, default=str, sort_keys=True),
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
    from mopstool.config import data_dir

    path = data_dir() / "audit.jsonl"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as fh:
            fh.write(json.dumps(dict(row, ts=row["ts"].isoformat() + "Z",
                                     database=str(conn.engine.url.render_as_string(hide_password=True))),
                                default=str) + "\n")
    except OSError:  # pragma: no cover - the audit trail never blocks a change
        pass


def _user() -> str:
    try:
        return getpass.getuser()[:64]
    except Exception:  # pragma: no cover
        return os.environ.get("USER", "unknown")[:64]
