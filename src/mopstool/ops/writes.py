"""The one write protocol every changing command follows.

A writer is two functions over a connection::

    def plan(conn) -> WritePlan:      # read-only: what would change (rows per table,
        ...                           # a sample, notes, the keys of the rows)
    def apply(conn, plan) -> (rows, audit_detail):   # set-based writes
        ...

    result = execute(dbs, "updaterun.chip", plan, apply, dry_run=..., confirm=...)

``execute`` plans once outside the lock (that plan is what ``--dry-run``
shows and what the user confirms, once), then takes the named lock (waiting
``general.lock_timeout`` seconds), opens ONE transaction, plans AGAIN inside it
and applies that fresh plan, with the audit record in the same transaction. So
a writer never applies a plan computed before another writer's commit: rows
that someone else changed meanwhile simply drop out of the fresh plan; a fresh
plan that would change rows the user did not confirm is refused (exit 75,
nothing written). A failure anywhere rolls the whole transaction back.

A bulk job (cleanup) is :func:`execute_batches`: the same plan and one
confirmation for the whole job, then bounded batches, each planned again for
its own slice under the lock and applied in a transaction of its own with its
audit record, the lock left free for a moment between two batches. A batch's
fresh plan leaves out the rows that changed since the confirmed plan; a kill
between (or inside) batches leaves every batch either done or untouched.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Protocol, TypeVar

from sqlalchemy.engine import Connection

from mopstool.db import Databases, translate_db_errors
from mopstool.db.dialect import named_lock
from mopstool.db.own import record_audit  # noqa: F401  (re-exported for ops modules)
from mopstool.errors import ConfigError, ExitCode, MopsError, TempFail
from mopstool.util import chunks  # noqa: F401  (re-exported: the one batching helper)

LOCK_NAME = "mopstool.write"
#: the note a plan gets when the confirmation was declined
DECLINED_NOTE = "declined; nothing written"
#: the start of the notes execute() adds when another writer committed meanwhile
CONCURRENT_NOTE = "another writer committed meanwhile"
#: seconds the write lock stays free between two batches of a bulk job
BATCH_GAP = 0.05
#: seconds a started bulk job waits at least to take the lock back for its next
#: batch (a writer that took its turn in the gap holds it for one short
#: transaction); ``general.lock_timeout`` when that is longer
BATCH_RELOCK_WAIT = 60.0


def lock_timeout_of(dbs: Databases, given: int | float | None = None) -> float:
    """Seconds to wait for the write lock: *given*, else the ``general.lock_timeout``
    the CLI attached to *dbs*, else 0 (do not wait)."""
    value = given if given is not None else getattr(dbs, "lock_timeout", 0)
    try:
        value = float(value or 0)
    except (TypeError, ValueError):
        raise ConfigError(f"general.lock_timeout must be a number of seconds, not {value!r}") from None
    if value < 0:
        raise ConfigError(f"general.lock_timeout must be >= 0, not {value:g}")
    return value


@contextmanager
def write_transaction(dbs: Databases, action: str, *, pstamp_db: bool = False,
                      lock: str = LOCK_NAME, lock_timeout: int | float | None = None
                      ) -> Iterator[Connection]:
    """Hold the named lock (waiting up to the lock timeout, then exit 75) and open
    one transaction. The lock timeout defaults to ``general.lock_timeout``."""
    engine = dbs.engine(pstamp_db)
    with translate_db_errors():
        with named_lock(engine, lock, lock_timeout_of(dbs, lock_timeout)):
            with engine.begin() as conn:
                yield conn


@dataclass
class WritePlan:
    """What a write would do: rows per table, a sample of the rows, notes.

    ``keys`` (not part of the JSON form) names every row the plan changes; the
    fresh plan under the lock must not name a row the confirmed plan did not."""

    action: str
    rows: dict[str, int] = field(default_factory=dict)
    sample: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    keys: frozenset = field(default=frozenset(), repr=False, compare=False)
    #: title of the table form (default: the action)
    title: str | None = field(default=None, repr=False, compare=False)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "dry_run": self.dry_run, "applied": self.applied,
                "rows": self.rows, "total": self.total, "sample": self.sample, "notes": self.notes}

    # result protocol (mopstool.ops.results)
    def json_form(self) -> Any:
        return self.to_dict()

    def table_form(self):
        from mopstool.ops.results import Table

        return [Table(self.sample, title=(self.title or self.action) + (" (dry run)" if self.dry_run else ""))]


#: the name older callers use
Plan = WritePlan


class PlanLike(Protocol):
    rows: dict[str, int]
    notes: list[str]
    dry_run: bool
    applied: bool

    @property
    def total(self) -> int: ...


P = TypeVar("P", bound=PlanLike)
Q = TypeVar("Q", bound=PlanLike)


class PlanChanged(TempFail):
    """The database changed between the confirmed plan and the lock."""


def _keys(plan: Any) -> frozenset | None:
    keys = getattr(plan, "keys", None)
    if callable(keys):
        keys = keys()
    return frozenset(keys) if keys is not None else None


def _plan_and_confirm(dbs: Databases, plan: Callable[[Connection], P], *, dry_run: bool,
                      confirm: Callable[[P], bool] | None, pstamp_db: bool) -> tuple[P, bool]:
    """The plan outside the lock, shown/confirmed once: (plan, go on and write)."""
    with dbs.connect(pstamp_db) as conn:
        shown = plan(conn)
    shown.dry_run = dry_run
    describe = getattr(dbs, "describe", None)
    if describe is not None:
        # the database the change goes to, password masked: the confirmation shows it
        try:
            shown.database = describe(pstamp_db)
        except AttributeError:  # a plan type with __slots__: the CLI names the image database
            pass
    if dry_run or not shown.total:
        return shown, False
    if confirm is not None and not confirm(shown):
        shown.notes.append(DECLINED_NOTE)
        return shown, False
    return shown, True


def _apply_fresh(dbs: Databases, action: str, confirmed: frozenset | None,
                 plan: Callable[[Connection], Q], apply: Callable[[Connection, Q], tuple[int, dict]], *,
                 pstamp_db: bool, lock_timeout: int | float | None, command: list[str] | None) -> Q:
    """Under the lock, in one transaction: plan again, refuse rows not *confirmed*,
    apply the fresh plan and record the audit."""
    with write_transaction(dbs, action, pstamp_db=pstamp_db, lock_timeout=lock_timeout) as conn:
        fresh = plan(conn)
        fresh.dry_run = False
        now = _keys(fresh)
        if confirmed is not None and now is not None and not now <= confirmed:
            extra = len(now - confirmed)
            raise PlanChanged(f"{action}: the database changed after the plan was made "
                              f"({extra} row(s) not in the plan shown); nothing written; re-run")
        if now is not None and confirmed is not None and now != confirmed:
            fresh.notes.append(f"{CONCURRENT_NOTE}: {len(confirmed - now)} planned row(s) already "
                               "changed are left as they are")
        if not fresh.total:
            if CONCURRENT_NOTE not in " ".join(fresh.notes):
                fresh.notes.append(f"{CONCURRENT_NOTE}: nothing left to change")
            return fresh
        rows, detail = apply(conn, fresh)
        record_audit(conn, action, int(rows), detail, command=command)
    fresh.applied = True
    return fresh


def execute(dbs: Databases, action: str, plan: Callable[[Connection], P],
            apply: Callable[[Connection, P], tuple[int, dict]], *, dry_run: bool = False,
            confirm: Callable[[P], bool] | None = None, pstamp_db: bool = False,
            lock_timeout: int | float | None = None, command: list[str] | None = None) -> P:
    """Plan, show/confirm once, then re-plan and apply under the lock in one transaction.

    *confirm* sees the plan and returns False to decline (the plan is returned
    with ``applied`` False and the note ``declined; nothing written``); the CLI's
    confirmation exits with the DECLINED code itself. *apply* returns the rows
    affected and the audit detail; the audit record is written in the same
    transaction under the action name *action* (*command*: the command line it
    records, default sys.argv). The plan *confirm* sees carries ``database``: the
    URL of the database it changes, any password shown as ``***``."""
    shown, go = _plan_and_confirm(dbs, plan, dry_run=dry_run, confirm=confirm, pstamp_db=pstamp_db)
    if not go:
        return shown
    return _apply_fresh(dbs, action, _keys(shown), plan, apply, pstamp_db=pstamp_db,
                        lock_timeout=lock_timeout, command=command)


def execute_batches(dbs: Databases, action: str, plan: Callable[[Connection], P],
                    batches: Callable[[P], Iterable[Any]],
                    batch_plan: Callable[[Connection, Any], Q],
                    apply: Callable[[Connection, Q], tuple[int, dict]], *, dry_run: bool = False,
                    confirm: Callable[[P], bool] | None = None,
                    done: Callable[[P, Any, Q], None] | None = None, pstamp_db: bool = False,
                    lock_timeout: int | float | None = None, command: list[str] | None = None,
                    gap: float = BATCH_GAP, done_words: str = "rows written") -> P:
    """A bulk job: plan and confirm once (as :func:`execute`), then one
    transaction per batch.

    *batches(plan)* gives the confirmed plan's slices; for each slice
    *batch_plan(conn, slice)* plans again under the lock (its ``keys`` must be
    among the slice's ``keys``: rows that changed since the plan drop out),
    *apply* writes that fresh batch plan, and the audit record goes into the
    batch's transaction. *done(plan, slice, fresh)* runs after each batch's
    commit (or after a batch with nothing left to change). Between two batches
    the lock stays free for *gap* seconds, so a waiting writer takes its turn;
    the first batch waits for the lock as long as any writer (the lock timeout),
    every later one at least :data:`BATCH_RELOCK_WAIT` seconds, so a writer that
    took its turn does not stop the job half way.
    Returns the confirmed plan with ``applied`` True once every batch ran.
    Interrupted (Ctrl-C), it says how far it got, "N of M *done_words*" (the
    committed batches; the one in progress is rolled back), and to run again;
    so does a later batch that cannot get the lock back (exit 75)."""
    import time

    shown, go = _plan_and_confirm(dbs, plan, dry_run=dry_run, confirm=confirm, pstamp_db=pstamp_db)
    if not go:
        return shown
    parts = list(batches(shown))
    total = sum(len(_keys(p) or ()) for p in parts)
    committed = n = 0
    first_wait = lock_timeout_of(dbs, lock_timeout)
    try:
        for n, part in enumerate(parts):
            if n:
                # a fair turn: a writer waiting for the lock is woken and takes it now,
                # instead of finding it taken again by the next batch
                time.sleep(gap)
            fresh = _apply_fresh(dbs, action, _keys(part), lambda conn, p=part: batch_plan(conn, p), apply,
                                 pstamp_db=pstamp_db, command=command,
                                 lock_timeout=max(first_wait, BATCH_RELOCK_WAIT) if n else first_wait)
            committed += len(_keys(fresh) or ())
            if done is not None:
                done(shown, part, fresh)
    except KeyboardInterrupt:
        raise MopsError(f"interrupted: {committed:,} of {total:,} {done_words}; the batch in progress "
                        "was rolled back; run again to finish", ExitCode.INTERRUPTED) from None
    except TempFail as exc:
        if not n:  # the first batch: nothing done yet, the writer's usual refusal
            raise
        raise TempFail(f"{exc.message.removesuffix('; retry later')}: stopped after {committed:,} of "
                       f"{total:,} {done_words}; run again to finish") from None
    shown.applied = True
    return shown
