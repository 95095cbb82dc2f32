"""The write protocol under concurrent writers and a prompt held open, on SQLite
and MariaDB: a plan is made again under the lock, inside the transaction that
writes, so no writer applies a plan computed before another writer's commit."""

from __future__ import annotations

import threading
import time
from datetime import datetime

import pytest
from sqlalchemy import create_engine, func, select

from mopstool.db import Databases, schema
from mopstool.db.dialect import named_lock, sqlite_lock_path
from mopstool.errors import ConfigError, ExitCode, TempFail
from mopstool.ops.demo.synth import Synth
from mopstool.ops.runs.define import DefineSelection, DefineSetters, define_runs
from mopstool.ops.runs.manage import RunSetters, update_runs
from mopstool.ops.writes import DECLINED_NOTE, PlanChanged, WritePlan, execute, lock_timeout_of
from mopstool.stages.joins import RunFilter
from mopstool.util import chunks

CLASSES = ("XY01", "XY02")
N = 4
DEFINE = ("definebyquery", "--night", "2018-05-25", "--unique", "--set-label", "L.conc",
          "--set-workdir", "neb://@HOST@.0/gpc1/L.conc", "--set-end-stage", "chip")


def _exposures(dbs, n=N):
    with dbs.begin() as conn:
        s = Synth(conn)
        return [s.exposure(dateobs=datetime(2018, 5, 25, 8), class_ids=CLASSES) for _ in range(n)]


def _runs_per_exposure(dbs) -> dict[int, int]:
    cr = schema.chipRun
    with dbs.connect() as conn:
        return dict(conn.execute(select(cr.c.exp_id, func.count()).group_by(cr.c.exp_id)).all())


def _imfiles(dbs) -> int:
    with dbs.connect() as conn:
        return conn.execute(select(func.count()).select_from(schema.chipImfile)).scalar()


def _config(tmp_path, **general) -> str:
    cfg = tmp_path / "mopstool.toml"
    cfg.write_text("[general]\n" + "".join(f"{k} = {v}\n" for k, v in general.items()))
    cfg.chmod(0o600)
    return str(cfg)


# ---------------------------------------------------------------------- ops level

def test_a_plan_held_across_another_commit_is_made_again(dbs):
    """Writer A confirms its plan, then waits while B defines the same runs and
    commits; A then writes nothing (its fresh plan under the lock is empty)."""
    _exposures(dbs)
    sel = DefineSelection(night=datetime(2018, 5, 25).date(), unique=True)
    setters = DefineSetters(label="L.held", workdir="W", end_stage="chip")
    b_done = threading.Event()
    errors = []

    def other_writer():
        try:
            res = define_runs(dbs, sel, setters)
            assert res.applied and len(res.runs) == N
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            b_done.set()

    def confirm(plan) -> bool:
        assert len(plan.runs) == N
        t = threading.Thread(target=other_writer)
        t.start()
        t.join()
        return True

    res = define_runs(dbs, sel, setters, confirm=confirm)
    assert b_done.is_set() and not errors, errors
    assert not res.applied and res.runs == [] and len(res.skipped) == N
    assert any(n.startswith("another writer committed meanwhile") for n in res.notes)
    assert set(_runs_per_exposure(dbs).values()) == {1} and len(_runs_per_exposure(dbs)) == N
    assert _imfiles(dbs) == N * len(CLASSES)


def test_a_fresh_plan_that_grew_is_refused(dbs):
    """Rows that appear between the confirmation and the lock were not confirmed:
    exit 75, nothing written."""
    _exposures(dbs, 2)
    flt = RunFilter(labels=["L.grow"])
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.exposure(dateobs=datetime(2018, 5, 25, 8), class_ids=CLASSES)
        s.chip(ch, label="L.grow", class_ids=CLASSES)

    def confirm(plan) -> bool:
        with dbs.begin() as conn:
            s = Synth(conn)
            more = s.exposure(dateobs=datetime(2018, 5, 25, 9), class_ids=CLASSES)
            s.chip(more, label="L.grow", class_ids=CLASSES)
        return True

    with pytest.raises(PlanChanged) as exc:
        update_runs(dbs, "chip", flt, RunSetters(state="drop"), confirm=confirm)
    assert exc.value.code == ExitCode.TEMPFAIL
    cr = schema.chipRun
    with dbs.connect() as conn:
        assert set(conn.execute(select(cr.c.state)).scalars()) == {"full"}


def test_execute_declined_and_dry_run_write_nothing(dbs):
    calls = []

    def plan(conn):
        return WritePlan(action="t", rows={"x": 1}, keys=frozenset([1]))

    def apply(conn, p):
        calls.append(p)
        return 1, {}

    p = execute(dbs, "t", plan, apply, dry_run=True)
    assert p.dry_run and not p.applied and calls == []
    p = execute(dbs, "t", plan, apply, confirm=lambda p: False)
    assert not p.applied and DECLINED_NOTE in p.notes and calls == []


def test_chunks_is_the_one_batching_helper():
    assert list(chunks([1, 2, 3, 4, 5], 2)) == [[1, 2], [3, 4], [5]]
    assert list(chunks([], 3)) == []
    with pytest.raises(ValueError):
        list(chunks([1], 0))


# ---------------------------------------------------------------------- the lock

def test_sqlite_lock_is_keyed_by_the_resolved_file(tmp_path):
    real = tmp_path / "gpc1.sqlite"
    real.write_bytes(b"")
    link = tmp_path / "other" / "via-link.sqlite"
    link.parent.mkdir()
    link.symlink_to(real)
    assert sqlite_lock_path(str(link)) == sqlite_lock_path(str(real)) == tmp_path / "gpc1.sqlite.lock"
    e1, e2 = create_engine(f"sqlite:///{real}"), create_engine(f"sqlite:///{link}")
    with named_lock(e1, "mopstool.write"):
        with pytest.raises(TempFail, match="holds the lock"):
            with named_lock(e2, "mopstool.write"):
                pass
    with named_lock(e2, "mopstool.write"):   # free again
        pass


def test_lock_timeout_waits_for_the_other_writer(db_url):
    eng = create_engine(db_url)
    held, release = threading.Event(), threading.Event()

    def holder():
        with named_lock(eng, "mopstool.test"):
            held.set()
            release.wait(30)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(30)
    with pytest.raises(TempFail):
        with named_lock(eng, "mopstool.test", 0):
            pass
    got = []
    waiter = threading.Thread(target=lambda: named_lock_once(eng, got))
    waiter.start()
    time.sleep(0.3)
    release.set()
    waiter.join(60)
    t.join(30)
    assert got == ["locked"]
    eng.dispose()


def named_lock_once(eng, got):
    with named_lock(eng, "mopstool.test", 30):
        got.append("locked")


def test_lock_timeout_setting_is_checked(db_url):
    dbs = Databases(db_url, db_url)
    assert lock_timeout_of(dbs) == 0
    dbs.lock_timeout = 12
    assert lock_timeout_of(dbs) == 12 and lock_timeout_of(dbs, 3) == 3
    dbs.lock_timeout = "soon"
    with pytest.raises(ConfigError, match="lock_timeout"):
        lock_timeout_of(dbs)


def test_bad_lock_timeout_in_the_config_is_exit_78(cli, db_url, tmp_path):
    r = cli("labels", "add", "L.x", "--db", db_url, "--config", _config(tmp_path, lock_timeout='"soon"'))
    assert r.code == 78 and "lock_timeout" in r.err and r.err.count("\n") == 1


# ---------------------------------------------------------------------- processes
# Concurrent processes, a prompt held open in a pty and declining it are in
# tests/test_reliability.py (which shares this module's helpers).


# ---------------------------------------------------------------------- every writer

def _held(dbs, write):
    """Run *write(confirm)* whose confirmation runs the same write to completion
    first (as cron does while an operator's prompt is open)."""
    inner = []

    def confirm(plan) -> bool:
        t = threading.Thread(target=lambda: inner.append(write(None)))
        t.start()
        t.join()
        return True

    return inner, write(confirm)


def test_every_run_writer_replans_under_the_lock(dbs):
    from mopstool.ops.runs.labels import add_label, block_labels
    from mopstool.ops.runs.manage import RevertFilter, revert, set_update

    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.exposure(dateobs=datetime(2018, 5, 25, 8), class_ids=CLASSES)
        s.chip(ch, label="L.w", class_ids=CLASSES, state="new",
               imfiles={"XY01": {"fault": 2}, "XY02": {"fault": 5}})
        cl = s.exposure(dateobs=datetime(2018, 5, 25, 9), class_ids=CLASSES)
        s.chip(cl, label="L.c", class_ids=CLASSES, state="cleaned", data_state="cleaned")

    # revert: the inner run deletes both faulted imfiles; the held one finds nothing left
    inner, outer = _held(dbs, lambda c: revert(dbs, "chip", RevertFilter(ids=[ch.chip_id]), confirm=c))
    assert inner[0].applied and inner[0].rows == {"chipProcessedImfile": 2}
    assert not outer.applied and outer.total == 0

    # setupdate: queued once; the held run sees the components already queued
    inner, outer = _held(dbs, lambda c: set_update(dbs, "chip", [cl.chip_id], confirm=c))
    assert inner[0].applied and inner[0].rows["chipProcessedImfile"] == 2
    assert not outer.applied and outer.total == 0

    # labels add: the held run is refused cleanly (exit 2), not a duplicate-key crash
    from mopstool.errors import UsageError

    with pytest.raises(UsageError, match="already exists"):
        _held(dbs, lambda c: add_label(dbs, "L.new", confirm=c))

    # labels block: blocked once, the held run has nothing left to do
    inner, outer = _held(dbs, lambda c: block_labels(dbs, ["L.w"], ["chip", "warp"], confirm=c))
    assert inner[0].applied and inner[0].total == 2 and not outer.applied and outer.total == 0
    from mopstool.db.own import mopstoolAudit

    with dbs.connect() as conn:
        actions = conn.execute(select(mopstoolAudit.c.action)).scalars().all()
    assert sorted(actions) == ["labels.add", "labels.block", "revert.chip", "setupdate.chip"]
