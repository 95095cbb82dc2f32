"""updaterun / setupdate / revert semantics on SQLite and MariaDB."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import event, func, insert, select, update

from mopstool.db import schema
from mopstool.db.dialect import named_lock
from mopstool.db.own import mopstoolAudit
from mopstool.errors import NotFound, TempFail, UsageError
from mopstool.ops.runs.manage import (RevertFilter, RunSetters, revert, set_update, update_runs)
from mopstool.ops.select import RunFilter
from mopstool.ops.demo.synth import Synth
from mopstool.ops.writes import LOCK_NAME

CLASSES = ("XY01", "XY02", "XY03", "XY04")
N1 = datetime(2018, 7, 10, 8)
N0 = datetime(2018, 7, 9, 8)


def _chip(s, *, label="OSS.nightlyscience", dateobs=N1, **kw):
    ch = s.exposure(dateobs=dateobs, class_ids=CLASSES)
    s.chip(ch, label=label, class_ids=CLASSES, **kw)
    return ch


def _runs(dbs, table, id_col):
    t = schema.table(table)
    with dbs.connect() as conn:
        return {r._mapping[id_col]: dict(r._mapping) for r in conn.execute(select(t))}


def _comps(dbs, table, id_col, key):
    t = schema.table(table)
    with dbs.connect() as conn:
        return {(r._mapping[id_col], r._mapping[key]): dict(r._mapping) for r in conn.execute(select(t))}


def _audits(dbs):
    with dbs.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(mopstoolAudit))]


# ====================================================================== updaterun

@pytest.fixture
def chips(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ids = {
            "a": _chip(s, label="OSS.nightlyscience", data_group="OSS.20180710").chip_id,
            "b": _chip(s, label="MSS.nightlyscience", data_group="MSS.20180710", dist_group="NODIST").chip_id,
            "c": _chip(s, label="ps_ud_MOPS", state="update", data_group="OSS.20180709", dateobs=N0).chip_id,
            "d": _chip(s, label="ps_ud_QUB", state="full", data_group="OSS.20180709", dateobs=N0).chip_id,
            "q": _chip(s, label="it's 100% o'k", state="full").chip_id,
        }
    return ids


def _changed(dbs, before, col="state"):
    after = _runs(dbs, "chipRun", "chip_id")
    return {k for k in after if after[k][col] != before[k][col]}


def test_updaterun_every_selector(dbs, chips):
    st = RunSetters(state="goto_cleaned")
    rev = {v: k for k, v in chips.items()}

    def run(**kw):
        before = _runs(dbs, "chipRun", "chip_id")
        plan = update_runs(dbs, "chip", RunFilter(**kw), st)
        changed = {rev[i] for i in _changed(dbs, before)}
        with dbs.begin() as conn:  # put back
            for i, r in before.items():
                conn.execute(update(schema.chipRun).where(schema.chipRun.c.chip_id == i)
                             .values(state=r["state"]))
        assert plan.applied and plan.rows["chipRun"] == len(changed) or not changed
        return changed

    assert run(ids=[chips["a"], chips["b"]]) == {"a", "b"}
    assert run(labels=["ps_ud%"]) == {"c", "d"}
    assert run(labels=["ps_ud%", "MSS.%"]) == {"b", "c", "d"}           # repeated --label ORed
    assert run(labels=["ps_ud%"], states=["update"]) == {"c"}            # different selectors ANDed
    assert run(data_groups=["OSS.2018070_"]) == {"c", "d"}
    assert run(dist_groups=["NODIST"]) == {"b"}
    assert run(night=date(2018, 7, 9)) == {"c", "d"}
    assert run(night=date(2018, 7, 10), labels=["%nightlyscience"]) == {"a", "b"}
    assert run(labels=["it's 100%"]) == {"q"}                            # quote in a LIKE pattern
    assert run(labels=["nomatch"]) == set()


def test_updaterun_setters_and_null(dbs, chips):
    plan = update_runs(dbs, "chip", RunFilter(ids=[chips["a"]]),
                       RunSetters(state="update", label="lab 'x' 50%", data_group="NULL",
                                  dist_group="null", note="redo it"))
    assert plan.applied
    r = _runs(dbs, "chipRun", "chip_id")[chips["a"]]
    assert (r["state"], r["label"], r["data_group"], r["dist_group"], r["note"]) == (
        "update", "lab 'x' 50%", None, None, "redo it")
    # imfile rows untouched
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    assert {c["data_state"] for k, c in comps.items() if k[0] == chips["a"]} == {"full"}
    (audit,) = _audits(dbs)
    assert audit["action"] == "updaterun.chip" and audit["rows_affected"] == 1


def test_updaterun_refusals_and_dry_run(dbs, chips):
    with pytest.raises(UsageError, match="--state alone"):
        update_runs(dbs, "chip", RunFilter(states=["full"]), RunSetters(state="goto_cleaned"))
    with pytest.raises(UsageError, match="needs a selector"):
        update_runs(dbs, "chip", RunFilter(), RunSetters(state="goto_cleaned"))
    with pytest.raises(UsageError, match="needs a setter"):
        update_runs(dbs, "chip", RunFilter(ids=[chips["a"]]), RunSetters())
    with pytest.raises(UsageError, match="invalid state 'bogus'"):
        update_runs(dbs, "chip", RunFilter(ids=[chips["a"]]), RunSetters(state="bogus"))
    with pytest.raises(UsageError, match="unknown stage"):
        update_runs(dbs, "publish", RunFilter(ids=[1]), RunSetters(state="full"))
    with pytest.raises(UsageError, match="--night does not apply"):
        update_runs(dbs, "stack", RunFilter(night=date(2018, 7, 10)), RunSetters(state="full"))
    before = _runs(dbs, "chipRun", "chip_id")
    plan = update_runs(dbs, "chip", RunFilter(labels=["%"]), RunSetters(state="drop", label="x"),
                       dry_run=True)
    assert plan.dry_run and not plan.applied and plan.rows == {"chipRun": 5}
    assert plan.sample[0]["new_state"] == "drop" and plan.sample[0]["state"] in ("full", "update")
    assert _runs(dbs, "chipRun", "chip_id") == before and _audits(dbs) == []
    # declined by the confirm hook: nothing written
    plan = update_runs(dbs, "chip", RunFilter(labels=["%"]), RunSetters(state="drop"),
                       confirm=lambda p: False)
    assert not plan.applied and _runs(dbs, "chipRun", "chip_id") == before
    # no match: a no-op
    plan = update_runs(dbs, "chip", RunFilter(labels=["nothing%"]), RunSetters(state="drop"))
    assert not plan.applied and plan.rows == {"chipRun": 0}


def test_updaterun_other_stages_and_night(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        a = s.chain(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["s1", "s2"],
                    dateobs=N1)
        b = s.chain(label="OSS.nightlyscience", data_group="OSS.20180709", skycells=["s1", "s2"],
                    dateobs=N0)
        d1 = s.diff(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["s1"], warp1=a.warp_id,
                    warp2=b.warp_id)
        d0 = s.diff(label="OSS.nightlyscience", data_group="OSS.20180709", skycells=["s1"], warp1=b.warp_id,
                    warp2=a.warp_id)
        st = s.stack(skycell_id="s1", filter="w", label="ref.stack")
    for stage, table, key, want in (("warp", "warpRun", "warp_id", a.warp_id),
                                    ("cam", "camRun", "cam_id", a.cam_id),
                                    ("diff", "diffRun", "diff_id", d1)):
        plan = update_runs(dbs, stage, RunFilter(night=date(2018, 7, 10), labels=["OSS%"]),
                           RunSetters(state="goto_cleaned", label="goto_cleaned"))
        assert plan.rows == {table: 1}
        runs = _runs(dbs, table, key)
        assert runs[want]["state"] == "goto_cleaned" and runs[want]["label"] == "goto_cleaned"
        assert sum(r["state"] == "goto_cleaned" for r in runs.values()) == 1
    assert _runs(dbs, "diffRun", "diff_id")[d0]["state"] == "full"
    plan = update_runs(dbs, "stack", RunFilter(ids=[st]), RunSetters(state="goto_cleaned"))
    assert plan.rows == {"stackRun": 1}


def test_updaterun_waits_for_nobody_when_locked(dbs, chips):
    with named_lock(dbs.gpc1, LOCK_NAME):
        if dbs.gpc1.dialect.name == "sqlite":
            with pytest.raises(TempFail):
                update_runs(dbs, "chip", RunFilter(ids=[chips["a"]]), RunSetters(state="drop"))
        else:  # GET_LOCK is per connection: a second connection is refused
            with pytest.raises(TempFail):
                update_runs(dbs, "chip", RunFilter(ids=[chips["a"]]), RunSetters(state="drop"))
    assert _runs(dbs, "chipRun", "chip_id")[chips["a"]]["state"] == "full"


def test_updaterun_of_10000_runs_is_one_update_statement(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.exposure(dateobs=N1, class_ids=CLASSES)
        conn.execute(insert(schema.chipRun), [
            dict(chip_id=5_000_000 + i, exp_id=ch.exp_id, state="full", workdir="neb://w",
                 workdir_state="dirty", label=f"bulk.{i % 3}", data_group="bulk", update_mode=0)
            for i in range(10_000)])
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.strip().split()[0].upper())

    event.listen(dbs.gpc1, "before_cursor_execute", seen)
    try:
        plan = update_runs(dbs, "chip", RunFilter(labels=["bulk.%"]),
                           RunSetters(state="goto_cleaned", label="goto_cleaned"))
        plan2 = update_runs(dbs, "chip", RunFilter(night=date(2018, 7, 10), data_groups=["bulk"]),
                            RunSetters(note="cleaned by test"))
    finally:
        event.remove(dbs.gpc1, "before_cursor_execute", seen)
    assert plan.rows == {"chipRun": 10_000} and plan2.rows == {"chipRun": 10_000}
    assert statements.count("UPDATE") == 2
    assert len(statements) <= 40, statements
    with dbs.connect() as conn:
        cr = schema.chipRun
        assert conn.execute(select(func.count()).where(cr.c.state == "goto_cleaned",
                                                       cr.c.note == "cleaned by test")).scalar() == 10_000


# ====================================================================== setupdate

def _chip_with(dbs, state, imfiles, data_state="cleaned", **kw):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.exposure(dateobs=N0, class_ids=CLASSES)
        return s.chip(ch, label=kw.pop("label", "OSS.nightlyscience"), state=state, data_state=data_state,
                      imfiles=imfiles, class_ids=CLASSES, **kw)


def test_setupdate_chip_whole_run(dbs):
    cid = _chip_with(dbs, "cleaned", {"XY02": {"quality": 4}, "XY03": {"fault": 26},
                                      "XY04": {"data_state": "full"}}, update_mode=1)
    res = set_update(dbs, "chip", [cid], set_label="ps_ud_WEB")
    assert res.applied
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    got = {k[1]: (c["data_state"], c["fault"]) for k, c in comps.items()}
    assert got == {"XY01": ("update", 0), "XY02": ("full", 0), "XY03": ("cleaned", 26),
                   "XY04": ("full", 0)}
    run = _runs(dbs, "chipRun", "chip_id")[cid]
    assert (run["state"], run["label"], run["update_mode"]) == ("update", "ps_ud_WEB", 0)
    by = {c["component"]: c for c in res.components}
    assert by["XY01"]["action"] == "update" and by["XY02"]["action"] == "full"
    assert by["XY03"]["reason"] == "XY03: fault 26, gone — use --fault 26 to force"
    assert by["XY04"]["action"] == "skip"
    assert res.rows == {"chipRun": 1, "chipProcessedImfile": 2}
    assert _audits(dbs)[0]["action"] == "setupdate.chip"


def test_setupdate_chip_one_class_and_update_mode(dbs):
    cid = _chip_with(dbs, "cleaned", {"XY02": {"quality": 4}})
    res = set_update(dbs, "chip", [cid], components=["XY01"], update_mode=1)
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    assert comps[(cid, "XY01")]["data_state"] == "update"
    assert comps[(cid, "XY02")]["data_state"] == "cleaned"     # no sweep with a class_id
    assert comps[(cid, "XY03")]["data_state"] == "cleaned"
    run = _runs(dbs, "chipRun", "chip_id")[cid]
    assert (run["state"], run["label"], run["update_mode"]) == ("update", "OSS.nightlyscience", 1)
    # bad quality named explicitly: skipped with the reason
    res = set_update(dbs, "chip", [cid], components=["XY02", "XY99"])
    reasons = {c["component"]: c["reason"] for c in res.components}
    assert "bad quality 4" in reasons["XY02"] and "no such component" in reasons["XY99"]
    assert not res.applied


def test_setupdate_noop_cases(dbs):
    full = _chip_with(dbs, "full", {}, data_state="full")
    res = set_update(dbs, "chip", [full])
    assert res.total == 0 and not res.applied
    assert all("nothing to regenerate" in c["reason"] for c in res.components)
    assert _runs(dbs, "chipRun", "chip_id")[full]["state"] == "full"
    # a full run is not changed even if an imfile is cleaned (callers updaterun first)
    odd = _chip_with(dbs, "full", {"XY01": {"data_state": "cleaned"}}, data_state="full")
    res = set_update(dbs, "chip", [odd], components=["XY01"])
    assert res.total == 0 and "run state full" in res.components[0]["reason"]
    with pytest.raises(NotFound):
        set_update(dbs, "chip", [999])
    with pytest.raises(UsageError, match="chip runs only"):
        set_update(dbs, "warp", [1], update_mode=1)


def test_setupdate_from_goto_cleaned_and_dry_run(dbs):
    cid = _chip_with(dbs, "goto_cleaned", {"XY01": {"data_state": "full"}})
    before = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    res = set_update(dbs, "chip", [cid], set_label="ps_ud_MOPS")
    assert res.total == 0 and "--from-goto-cleaned" in res.components[0]["reason"]
    res = set_update(dbs, "chip", [cid], set_label="ps_ud_MOPS", from_goto_cleaned=True, dry_run=True)
    assert res.rows == {"chipRun": 1, "chipProcessedImfile": 3} and not res.applied
    assert _comps(dbs, "chipProcessedImfile", "chip_id", "class_id") == before
    assert _runs(dbs, "chipRun", "chip_id")[cid]["state"] == "goto_cleaned"
    res = set_update(dbs, "chip", [cid], set_label="ps_ud_MOPS", from_goto_cleaned=True)
    run = _runs(dbs, "chipRun", "chip_id")[cid]
    assert (run["state"], run["label"]) == ("update", "ps_ud_MOPS")
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    assert comps[(cid, "XY01")]["data_state"] == "full"
    assert {comps[(cid, c)]["data_state"] for c in CLASSES[1:]} == {"update"}


def test_setupdate_fault_26_forced(dbs):
    cid = _chip_with(dbs, "update", {"XY01": {"data_state": "update", "fault": 26},
                                     "XY02": {"fault": 26}})
    res = set_update(dbs, "chip", [cid], include_gone=True)
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    assert (comps[(cid, "XY01")]["data_state"], comps[(cid, "XY01")]["fault"]) == ("update", 0)
    assert (comps[(cid, "XY02")]["data_state"], comps[(cid, "XY02")]["fault"]) == ("update", 0)
    assert {c["component"]: c["action"] for c in res.components}["XY01"] == "clear_fault"


def test_setupdate_warp_and_diff(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.chain(label="OSS.nightlyscience", data_group="g", skycells=["s1", "s2", "s3", "s4"],
                     dateobs=N0, warp_state="cleaned",
                     warp_skyfiles={"s2": {"data_state": "update"}, "s3": {"quality": 8},
                                    "s4": {"fault": 26}})
        with_upd = conn.execute(update(schema.warpSkyfile).where(schema.warpSkyfile.c.data_state == "full")
                                .values(data_state="cleaned"))
        assert with_upd.rowcount >= 1
        other = s.chain(label="x", data_group="g", skycells=["s1", "s2", "s3"], dateobs=N0)
        d = s.diff(label="OSS.nightlyscience", data_group="g", skycells=["s1", "s2", "s3"],
                   warp1=ch.warp_id, warp2=other.warp_id, state="cleaned", data_state="cleaned",
                   skyfiles={"s2": {"quality": 3}, "s3": {"data_state": "update", "fault": 2}})
    res = set_update(dbs, "warp", [ch.warp_id], set_label="ps_ud_WEB")
    comps = _comps(dbs, "warpSkyfile", "warp_id", "skycell_id")
    got = {k[1]: (c["data_state"], c["fault"]) for k, c in comps.items() if k[0] == ch.warp_id}
    # warp also takes data_state 'update'; bad quality swept to full; fault 26 left
    assert got == {"s1": ("update", 0), "s2": ("update", 0), "s3": ("full", 0), "s4": ("cleaned", 26)}
    run = _runs(dbs, "warpRun", "warp_id")[ch.warp_id]
    assert (run["state"], run["label"]) == ("update", "ps_ud_WEB")
    assert res.rows == {"warpRun": 1, "warpSkyfile": 3}
    res = set_update(dbs, "diff", [d], components=["s3"], dry_run=True)
    assert res.rows == {"diffRun": 1, "diffSkyfile": 1} and [c["component"] for c in res.changed] == ["s3"]
    res = set_update(dbs, "diff", [d], set_label="ps_ud_WEB")
    comps = _comps(dbs, "diffSkyfile", "diff_id", "skycell_id")
    got = {k[1]: (c["data_state"], c["fault"]) for k, c in comps.items() if k[0] == d}
    # diff: no bad-quality sweep; the update skyfile's fault is cleared
    assert got == {"s1": ("update", 0), "s2": ("cleaned", 0), "s3": ("update", 0)}
    assert _runs(dbs, "diffRun", "diff_id")[d]["state"] == "update"


# ====================================================================== revert

@pytest.fixture
def faulted(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        new = _chip(s, label="EU.nightlyscience", state="new", data_group="EU.20180710",
                    imfiles={"XY01": {"fault": 2}, "XY02": {"fault": 5}, "XY03": {"fault": 26}}).chip_id
        upd = _chip(s, label="ps_ud_MOPS", state="update", data_state="cleaned", dateobs=N0,
                    imfiles={"XY01": {"data_state": "update", "fault": 2},
                             "XY02": {"data_state": "update", "fault": 26},
                             "XY03": {"data_state": "cleaned", "fault": 4}}).chip_id
        full = _chip(s, label="OSS.nightlyscience", state="full", imfiles={"XY01": {"fault": 3}}).chip_id
    return {"new": new, "upd": upd, "full": full}


def test_revert_chip_semantics(dbs, faulted):
    res = revert(dbs, "chip", RevertFilter(all=True))
    assert res.applied
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    new, upd, full = faulted["new"], faulted["upd"], faulted["full"]
    assert (new, "XY01") not in comps and (new, "XY02") not in comps     # deleted: re-queued
    assert comps[(new, "XY03")]["fault"] == 26                             # gone: kept
    assert comps[(new, "XY04")]["fault"] == 0
    assert comps[(upd, "XY01")]["fault"] == 0                              # update: fault cleared
    assert comps[(upd, "XY02")]["fault"] == 26
    assert comps[(upd, "XY03")]["fault"] == 4                              # not data_state update
    assert comps[(full, "XY01")]["fault"] == 3                             # full run: not touched
    assert res.rows == {"chipProcessedImfile": 3}
    reasons = {(c["id"], c["component"]): c["reason"] for c in res.skipped}
    assert reasons[(upd, "XY02")] == "XY02: fault 26, gone — use --fault 26 to force"
    assert "run state full" in reasons[(full, "XY01")]
    # fault 26 only when asked for
    res = revert(dbs, "chip", RevertFilter(faults=[26]))
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    assert (new, "XY03") not in comps and comps[(upd, "XY02")]["fault"] == 0
    assert res.rows == {"chipProcessedImfile": 2}
    assert [a["action"] for a in _audits(dbs)] == ["revert.chip", "revert.chip"]


def test_revert_filters_and_dry_run(dbs, faulted):
    new, upd = faulted["new"], faulted["upd"]
    before = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    res = revert(dbs, "chip", RevertFilter(all=True), dry_run=True)
    assert res.rows == {"chipProcessedImfile": 3} and not res.applied
    assert _comps(dbs, "chipProcessedImfile", "chip_id", "class_id") == before
    with pytest.raises(UsageError, match="needs a selector"):
        revert(dbs, "chip", RevertFilter())

    def count(**kw):
        return revert(dbs, "chip", RevertFilter(**kw), dry_run=True).rows["chipProcessedImfile"]

    assert count(ids=[new]) == 2
    assert count(labels=["ps_ud%"]) == 1
    assert count(labels=["ps_ud%", "EU.%"]) == 3
    assert count(faults=[5]) == 1
    assert count(faults=[2, 5], ids=[new]) == 2
    assert count(night=date(2018, 7, 10)) == 2
    assert count(night=date(2018, 7, 9)) == 1
    assert count(data_groups=["EU.2018%"]) == 2
    assert count(components=["XY02"]) == 1
    res = revert(dbs, "chip", RevertFilter(ids=[new], faults=[5]))
    comps = _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")
    assert (new, "XY02") not in comps and comps[(new, "XY01")]["fault"] == 2
    # gone_in_new_runs: the C tools' delete branch takes fault 26 too
    revert(dbs, "chip", RevertFilter(ids=[new]), gone_in_new_runs=True)
    assert (new, "XY03") not in _comps(dbs, "chipProcessedImfile", "chip_id", "class_id")


def test_revert_warp_cam_diff(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.chain(label="OSS.nightlyscience", data_group="g", skycells=["s1", "s2"], dateobs=N1,
                     warp_state="new", warp_skyfiles={"s1": {"fault": 2}})
        conn.execute(insert(schema.warpSkyCellMap).values(warp_id=ch.warp_id, skycell_id="faulted",
                                                          tess_id="faulted", class_id="faulted", fault=4))
        cam_ch = s.exposure(dateobs=N1, class_ids=CLASSES)
        s.chip(cam_ch, label="OSS.nightlyscience", class_ids=CLASSES)
        s.cam(cam_ch, label="OSS.nightlyscience", state="new", fault=5)
        other = s.chain(label="x", data_group="g", skycells=["s1", "s2"], dateobs=N0)
        other2 = s.chain(label="x", data_group="g", skycells=["s1", "s2"], dateobs=N0)
        d = s.diff(label="OSS.nightlyscience", data_group="g", skycells=["s1", "s2"], warp1=other2.warp_id,
                   warp2=other.warp_id, state="update", data_state="update",
                   skyfiles={"s1": {"data_state": "update", "fault": 2}})
    res = revert(dbs, "warp", RevertFilter(ids=[ch.warp_id]))
    assert res.rows == {"warpSkyfile": 1, "warpSkyCellMap": 1}
    with dbs.connect() as conn:
        m = schema.warpSkyCellMap
        assert conn.execute(select(func.count()).where(m.c.warp_id == ch.warp_id,
                                                       m.c.skycell_id == "faulted")).scalar() == 0
        assert conn.execute(select(func.count()).where(m.c.warp_id == ch.warp_id)).scalar() > 0
    assert (ch.warp_id, "s1") not in _comps(dbs, "warpSkyfile", "warp_id", "skycell_id")
    res = revert(dbs, "cam", RevertFilter(labels=["OSS%"]))
    assert res.rows == {"camProcessedExp": 1}
    res = revert(dbs, "diff", RevertFilter(ids=[d]))
    assert res.rows == {"diffSkyfile": 1}
    assert _comps(dbs, "diffSkyfile", "diff_id", "skycell_id")[(d, "s1")]["fault"] == 0
