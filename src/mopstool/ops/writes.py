"""The write discipline every changing command follows.

    plan = ...                      # read-only: what would change (rows per table)
    if dry_run: return plan         # nothing written
    with write_transaction(dbs, "updaterun") as conn:   # named lock + one transaction
        ... set-based UPDATE/INSERT/DELETE statements ...
        record_audit(conn, "updaterun", rows, detail)   # same transaction

A failure anywhere rolls the whole transaction back. Bulk jobs use several
bounded write_transaction() calls (batches) that are each complete on their own.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from sqlalchemy.engine import Connection

from mopstool.db import Databases, translate_db_errors
from mopstool.db.dialect import named_lock
from mopstool.db.own import record_audit  # noqa: F401  (re-exported for ops modules)

LOCK_NAME = "mopstool.write"


@contextmanager
def write_transaction(dbs: Databases, action: str, *, pstamp_db: bool = False,
                      lock: str = LOCK_NAME, lock_timeout: int = 0) -> Iterator[Connection]:
    """Hold the named lock (exit 75 if another mopstool has it) and open one transaction."""
    engine = dbs.engine(pstamp_db)
    with translate_db_errors():
        with named_lock(engine, lock, lock_timeout):
            with engine.begin() as conn:
                yield conn


@dataclass
class Plan:
    """What a write would do: rows per table, a sample of the rows, notes."""

    action: str
    rows: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "dry_run": self.dry_run, "applied": self.applied,
                "rows": self.rows, "total": self.total, "sample": self.sample, "notes": self.notes}
