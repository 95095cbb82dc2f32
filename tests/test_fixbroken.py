"""mopstool fixbroken: find broken products, define replacements, finish only when they are full."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, select, text, update

from mopstool.db import schema
from mopstool.ops.demo.synth import Chain, Synth
from mopstool.ops.disk.fixbroken import NOTE_PREFIX, parse_fix_note

from test_cleanup import changed, load_demo, snapshot

FIX_DATE = "2018-07-11"


def chip_runs(dbs, exp_id):
    cr = schema.chipRun
    with dbs.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(cr).where(cr.c.exp_id == exp_id)
                                                       .order_by(cr.c.chip_id))]


def fixes(dbs):
    """The fixes as the database holds them: replacement chip runs with a fix note."""
    cr = schema.chipRun
    with dbs.connect() as conn:
        rows = conn.execute(select(cr.c.chip_id, cr.c.exp_id, cr.c.note)
                            .where(cr.c.note.like(NOTE_PREFIX + " %")).order_by(cr.c.chip_id)).all()
    return [dict(parse_fix_note(r.note), chip_id=r.chip_id, exp_id=r.exp_id, note=r.note) for r in rows]


def advance(dbs, chip_id: int, *, warp_state: str) -> int:
    """Play the pipeline: the replacement chip run completes, then cam, fake and warp."""
    cr = schema.chipRun
    with dbs.begin() as conn:
        conn.execute(update(cr).where(cr.c.chip_id == chip_id).values(state="full"))
        row = conn.execute(select(cr.c.exp_id, cr.c.label, cr.c.data_group).where(cr.c.chip_id == chip_id)).one()
        raw = conn.execute(select(schema.rawExp.c.exp_name, schema.rawExp.c.dateobs)
                           .where(schema.rawExp.c.exp_id == row.exp_id)).one()
        s = Synth(conn)
        ch = Chain(exp_id=row.exp_id, exp_name=raw.exp_name, dateobs=raw.dateobs, chip_id=chip_id)
        s.cam(ch, label=row.label, data_group=row.data_group)
        s.fake(ch, label=row.label, data_group=row.data_group)
        return s.warp(ch, label=row.label, data_group=row.data_group, skycells=["skycell.1212.040"],
                      state=warp_state)


def set_warp(dbs, warp_id, state):
    with dbs.begin() as conn:
        conn.execute(update(schema.warpRun).where(schema.warpRun.c.warp_id == warp_id).values(state=state))


def test_demo_broken_chip_is_fixed_and_finished_only_when_replacement_is_full(cli, db_url, dbs, tmp_path,
                                                                             monkeypatch):
    summary = load_demo(db_url, tmp_path, monkeypatch)
    gone = summary.ids["gone_chip"]
    exp_id = chip_runs_by_id(dbs, gone)["exp_id"]
    before = snapshot(dbs)

    r = cli("fixbroken", "--db", db_url, "--dry-run", "--label-date", FIX_DATE, "--json")
    assert r.code == 0, r.err
    plan = r.json()
    assert len(plan) == 1
    p = plan[0]
    assert p["exp_id"] == exp_id and p["filter"].startswith("w") and p["preset"] == "wfix"
    assert p["label"] == "PSNSC.wfix.20180711" and p["reduction"] == "SWEETSPOT"
    assert p["tess_id"] == "RINGS.V3" and p["end_stage"] == "warp"
    assert "PSNSC.wfix.20180711" in p["workdir"] and p["action"] == "define" and p["chip_id"] is None
    (b,) = p["broken"]
    assert (b["stage"], b["id"], b["components"]) == ("chip", gone, ["XY33"])
    assert any("fault 26" in s for s in b["sources"]) and any("stamp job" in s for s in b["sources"])
    assert snapshot(dbs) == before and fixes(dbs) == []          # a dry run writes nothing

    r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE, "--json")
    assert r.code == 0, r.err
    (p,) = r.json()
    assert p["action"] == "defined"
    new_chip = p["chip_id"]
    runs = {c["chip_id"]: c for c in chip_runs(dbs, exp_id)}
    rep = runs[new_chip]
    assert (rep["state"], rep["label"], rep["reduction"], rep["tess_id"], rep["end_stage"]) == (
        "new", "PSNSC.wfix.20180711", "SWEETSPOT", "RINGS.V3", "warp")
    assert rep["workdir"] == "neb://@HOST@.0/gpc1/PSNSC.wfix.20180711"
    assert rep["dist_group"] is None
    with dbs.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.chipImfile)
                            .where(schema.chipImfile.c.chip_id == new_chip)).scalar() == 60
    (f,) = fixes(dbs)
    assert (f["broken"], f["chip_id"], f["state"], f["preset"]) == ([("chip", gone)], new_chip, "defined",
                                                                   "wfix")
    assert f["note"] == f"mopstool.fixbroken open preset:wfix chip:{gone}"

    # re-running defines nothing new
    snap = snapshot(dbs)
    r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE, "--json")
    assert r.code == 0 and r.json()[0]["action"] == "exists"
    assert snapshot(dbs) == snap and len(fixes(dbs)) == 1

    r = cli("fixbroken", "--db", db_url, "--status", "--json")
    (st,) = r.json()
    assert (st["chip_id"], st["chip_state"], st["progress"]) == (new_chip, "new", "chip new")

    # nothing is retired while the replacement is still processing
    for step in ("chip new", "warp new"):
        if step == "warp new":
            warp = advance(dbs, new_chip, warp_state="new")
        r = cli("fixbroken", "--db", db_url, "--finish", "--json")
        assert r.code == 0, r.err
        assert [x["action"] for x in r.json()] == ["wait"]
        assert fixes(dbs)[0]["state"] == "defined"
        assert chip_runs_by_id(dbs, gone)["state"] == "update"
        assert chip_runs_by_id(dbs, gone)["label"] == "ps_ud_MOPS"
    assert cli("fixbroken", "--db", db_url, "--status", "--json").json()[0]["warp_state"] == "new"

    set_warp(dbs, warp, "full")
    snap = snapshot(dbs)
    r = cli("fixbroken", "--db", db_url, "--finish", "--dry-run", "--json")
    assert r.json()[0]["action"] == "finish" and snapshot(dbs) == snap
    r = cli("fixbroken", "--db", db_url, "--finish", "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["action"] == "finished"
    assert changed(snap, snapshot(dbs)) == {("chip", gone)}
    assert chip_runs_by_id(dbs, gone)["state"] == "goto_cleaned"
    assert chip_runs_by_id(dbs, gone)["label"] == "goto_cleaned"
    f = fixes(dbs)[0]
    assert f["state"] == "finished" and f["note"] == f"mopstool.fixbroken done preset:wfix chip:{gone}"
    assert cli("fixbroken", "--db", db_url, "--status", "--json").json()[0]["progress"].startswith("finished")

    # finishing and fixing again are no-ops
    snap = snapshot(dbs)
    assert cli("fixbroken", "--db", db_url, "--finish", "--json").json() == []
    r = cli("fixbroken", "--db", db_url, "--label-date", "2018-07-12", "--json")
    assert r.code == 0 and [x["action"] for x in r.json()] == ["exists"]
    assert snapshot(dbs) == snap and len(fixes(dbs)) == 1


def chip_runs_by_id(dbs, chip_id):
    cr = schema.chipRun
    with dbs.connect() as conn:
        return dict(conn.execute(select(cr).where(cr.c.chip_id == chip_id)).one()._mapping)


def _nightly_chain(s: Synth, *, filt: str, night: datetime, skyfiles=None, chip_imfiles=None, obj="o"):
    return s.chain(label="OSS.nightlyscience", data_group=f"OSS.{night:%Y%m%d}",
                   skycells=["skycell.7.001", "skycell.7.002"], dateobs=night, filter=filt,
                   comment="OSS visit 1", object=obj, obs_mode="OSS", warp_skyfiles=skyfiles,
                   chip_imfiles=chip_imfiles)


def test_recipes_by_filter_warp_originals_and_cleanup_holds(cli, db_url, dbs):
    night = datetime(2018, 7, 1, 9)
    with dbs.begin() as conn:
        s = Synth(conn)
        # an i-band (LAP.PV3) exposure whose chip XY12 failed cleanup (error_cleaned)
        lap = _nightly_chain(s, filt="i.00000", night=night,
                             chip_imfiles={"XY12": {"data_state": "error_cleaned"}})
        # a w-band exposure whose warp skyfile is gone
        wb = _nightly_chain(s, filt="w.00000", night=night.replace(minute=30),
                            skyfiles={"skycell.7.002": {"fault": 26}})
        # an exposure with a filter no recipe covers
        odd = _nightly_chain(s, filt="x.00000", night=night.replace(minute=40),
                             chip_imfiles={"XY01": {"fault": 26}})
        ok = _nightly_chain(s, filt="w.00000", night=night.replace(minute=50))
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--label-date", FIX_DATE, "--json")
    assert r.code == 0, r.err
    plan = {p["exp_id"]: p for p in r.json()}
    assert set(plan) == {lap.exp_id, wb.exp_id, odd.exp_id}
    assert plan[lap.exp_id]["preset"] == "lapfix" and plan[lap.exp_id]["reduction"] == "LAP_SCIENCE"
    assert plan[lap.exp_id]["label"] == "mopsfix"
    assert plan[lap.exp_id]["data_group"] == "mops.fixbrokenLAP.20180711"
    assert plan[lap.exp_id]["workdir"] == "neb://@HOST@.0/gpc1/mops.fixbrokenLAP.20180711"
    assert plan[wb.exp_id]["preset"] == "wfix"
    assert [(b["stage"], b["id"]) for b in plan[wb.exp_id]["broken"]] == [("warp", wb.warp_id)]
    assert plan[odd.exp_id]["action"] == "skip" and "no recipe" in plan[odd.exp_id]["note"]

    # the originals are held by cleanup while their fixes are open
    r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE, "--yes", "--json")
    assert r.code == 0, r.err
    made = {p["exp_id"]: p for p in r.json()}
    assert made[lap.exp_id]["action"] == made[wb.exp_id]["action"] == "defined"
    assert made[odd.exp_id]["action"] == "skip"
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-05", "--dry-run", "--show-held", "--json")
    held = {(h["stage"], h["id"]): h["reason"] for h in r.json()["held"]}
    assert held == {("chip", lap.chip_id): "needed by an open fixbroken fix",
                    ("chip", wb.chip_id): "needed by an open fixbroken fix"}
    eligible = {g["label"]: g["runs"] for g in r.json()["groups"]}
    assert eligible == {"OSS.nightlyscience": 2}          # odd and ok chips

    # the w-band warp's replacement completes: its original chip AND warp are retired
    rep = made[wb.exp_id]["chip_id"]
    warp = advance(dbs, rep, warp_state="full")
    snap = snapshot(dbs)
    r = cli("fixbroken", "--db", db_url, "--finish", "--json")
    assert sorted(x["action"] for x in r.json()) == ["finished", "wait"]
    assert changed(snap, snapshot(dbs)) == {("chip", wb.chip_id), ("warp", wb.warp_id)}
    after = snapshot(dbs)
    assert after[("warp", wb.warp_id)] == ("goto_cleaned", "goto_cleaned")
    assert after[("warp", warp)] == ("full", "PSNSC.wfix.20180711")
    assert after[("chip", ok.chip_id)] == snap[("chip", ok.chip_id)]
    r = cli("fixbroken", "--db", db_url, "--status", "--open", "--json")
    assert [x["broken_id"] for x in r.json()] == [lap.chip_id]


def test_explicit_selectors(cli, db_url, dbs):
    night = datetime(2018, 7, 2, 9)
    with dbs.begin() as conn:
        s = Synth(conn)
        a = _nightly_chain(s, filt="r.00000", night=night, obj="a")
        b = _nightly_chain(s, filt="w.00000", night=night.replace(minute=20), obj="b")
        c = _nightly_chain(s, filt="w.00000", night=night.replace(minute=40), obj="c")
        diff_id = s.diff(label="OSS.nightlyscience", data_group="OSS.20180702",
                         skycells=["skycell.7.001"], warp1=b.warp_id, warp2=c.warp_id)
    # nothing is broken: the automatic search finds nothing
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--json")
    assert r.code == 0 and r.json() == []
    assert "no broken products" in r.err
    # the faults command's fix line works as printed
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--chip-id", a.chip_id, "--json")
    (p,) = r.json()
    assert (p["exp_id"], p["preset"], p["broken"][0]["id"]) == (a.exp_id, "lapfix", a.chip_id)
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--warp-id", b.warp_id, "--json")
    assert [x["exp_id"] for x in r.json()] == [b.exp_id]
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--diff-id", diff_id, "--json")
    assert sorted(x["exp_id"] for x in r.json()) == sorted([b.exp_id, c.exp_id])
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--exp-name", c.exp_name, "--json")
    (p,) = r.json()
    assert p["broken"][0]["stage"] == "exposure" and p["preset"] == "wfix"
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--chip-id", "999")
    assert r.code == 65 and "no chip run 999" in r.err
    assert cli("fixbroken", "--db", db_url, "--status", "--chip-id", a.chip_id).code == 2

    # a diff fix: both exposures get replacements; the diff is retired once both are full
    r = cli("fixbroken", "--db", db_url, "--diff-id", diff_id, "--label-date", FIX_DATE, "--json")
    assert r.code == 0, r.err
    reps = [x["chip_id"] for x in r.json()]
    assert len(reps) == 2 and len(fixes(dbs)) == 2
    advance(dbs, reps[0], warp_state="full")
    w2 = advance(dbs, reps[1], warp_state="new")
    assert [x["action"] for x in cli("fixbroken", "--db", db_url, "--finish", "--json").json()] == ["wait", "wait"]
    set_warp(dbs, w2, "full")
    snap = snapshot(dbs)
    r = cli("fixbroken", "--db", db_url, "--finish", "--json")
    assert [x["action"] for x in r.json()] == ["finished", "finished"]
    assert changed(snap, snapshot(dbs)) == {("diff", diff_id)}


def test_fixbroken_needs_no_table_of_its_own(cli, db_url, dbs, isolated_home):
    """On a gpc1 with only the IPP's tables every step runs; the audit goes to a 0600 file."""
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = _nightly_chain(s, filt="w.00000", night=datetime(2018, 7, 3, 9),
                            chip_imfiles={"XY33": {"fault": 26}})
        conn.execute(text("DROP TABLE IF EXISTS mopstoolAudit"))
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--json")
    assert r.code == 0 and r.json()[0]["exp_id"] == ch.exp_id
    r = cli("fixbroken", "--db", db_url, "--yes", "--label-date", FIX_DATE, "--json")
    assert r.code == 0, r.err
    rep = r.json()[0]["chip_id"]
    assert r.json()[0]["action"] == "defined"
    assert cli("fixbroken", "--db", db_url, "--status", "--json").json()[0]["chip_id"] == rep
    advance(dbs, rep, warp_state="full")
    r = cli("fixbroken", "--db", db_url, "--finish", "--json")
    assert r.code == 0 and r.json()[0]["action"] == "finished", r.err
    assert chip_runs_by_id(dbs, ch.chip_id)["state"] == "goto_cleaned"
    log = isolated_home / ".local" / "share" / "mopstool" / "audit.jsonl"
    assert oct(log.stat().st_mode & 0o777) == "0o600"
    actions = [json.loads(x)["action"] for x in log.read_text().splitlines()]
    assert actions == ["fixbroken", "fixbroken.finish"]      # one transaction, one record each


def test_crash_between_define_and_pairing_leaves_nothing_and_never_a_second_replacement(
        cli, db_url, dbs, monkeypatch):
    """The replacement and the pairing note are one transaction: a crash after
    the definition, before the broken runs are written, leaves nothing at all;
    the next run defines the one replacement."""
    from mopstool.ops.disk import fixbroken as fb

    with dbs.begin() as conn:
        s = Synth(conn)
        ch = _nightly_chain(s, filt="w.00000", night=datetime(2018, 7, 4, 9),
                            chip_imfiles={"XY33": {"fault": 26}})
    before = snapshot(dbs)

    def crash(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:   # only this patch is undone (HOME stays the test's own)
        mp.setattr(fb, "_record_pairings", crash)
        r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE, "--json")
    assert r.code == 130
    assert snapshot(dbs) == before and fixes(dbs) == [] and len(chip_runs(dbs, ch.exp_id)) == 1
    r = cli("fixbroken", "--db", db_url, "--label-date", "2018-07-20", "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["action"] == "defined"
    rep = r.json()[0]["chip_id"]
    assert len(chip_runs(dbs, ch.exp_id)) == 2
    (f,) = fixes(dbs)
    assert f["chip_id"] == rep and f["broken"] == [("chip", ch.chip_id)]
    r = cli("fixbroken", "--db", db_url, "--label-date", "2018-07-21", "--json")
    assert r.json()[0]["action"] == "exists" and len(chip_runs(dbs, ch.exp_id)) == 2


def test_declined_fix_exits_10_and_writes_nothing(cli, db_url, dbs, monkeypatch):
    from mopstool.cli import common

    with dbs.begin() as conn:
        s = Synth(conn)
        ch = _nightly_chain(s, filt="w.00000", night=datetime(2018, 7, 6, 9),
                            chip_imfiles={"XY33": {"fault": 26}})
    before = snapshot(dbs)
    monkeypatch.setattr(common, "confirm_change", lambda *a, **k: False)  # the user says no
    r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE)
    assert r.code == 10, r.err
    assert "cancelled; nothing written" in r.err
    assert snapshot(dbs) == before and len(chip_runs(dbs, ch.exp_id)) == 1


def test_rolled_back_fix_leaves_no_audit_record(cli, db_url, dbs, isolated_home, monkeypatch):
    from mopstool.ops.runs import define

    with dbs.begin() as conn:
        s = Synth(conn)
        _nightly_chain(s, filt="w.00000", night=datetime(2018, 7, 5, 9), chip_imfiles={"XY33": {"fault": 26}})
        conn.execute(text("DROP TABLE IF EXISTS mopstoolAudit"))

    def boom(conn, chip_ids):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(define, "_insert_chip_imfiles", boom)
    before = snapshot(dbs)
    r = cli("fixbroken", "--db", db_url, "--yes", "--label-date", FIX_DATE)
    assert r.code == 1 and "disk on fire" in r.err
    assert snapshot(dbs) == before and fixes(dbs) == []
    log = isolated_home / ".local" / "share" / "mopstool" / "audit.jsonl"
    assert not log.exists() or log.read_text() == ""


def test_interrupted_define_is_adopted_not_duplicated(cli, db_url, dbs):
    """A replacement whose note was lost (someone cleared it) is adopted by its label."""
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = _nightly_chain(s, filt="w.00000", night=datetime(2018, 7, 4, 9),
                            chip_imfiles={"XY33": {"fault": 26}})
    r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE, "--json")
    rep = r.json()[0]["chip_id"]
    with dbs.begin() as conn:
        conn.execute(update(schema.chipRun).where(schema.chipRun.c.chip_id == rep).values(note=None))
    r = cli("fixbroken", "--db", db_url, "--label-date", FIX_DATE, "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["action"] == "adopted" and r.json()[0]["chip_id"] == rep
    assert len(chip_runs(dbs, ch.exp_id)) == 2 and len(fixes(dbs)) == 1
    # a marked replacement whose note lists no broken run is completed, not defined again
    with dbs.begin() as conn:
        conn.execute(update(schema.chipRun).where(schema.chipRun.c.chip_id == rep)
                     .values(note=f"{NOTE_PREFIX} open preset:wfix"))
    r = cli("fixbroken", "--db", db_url, "--label-date", "2018-07-20", "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["action"] == "paired" and r.json()[0]["chip_id"] == rep
    (f,) = fixes(dbs)
    assert f["broken"] == [("chip", ch.chip_id)] and len(chip_runs(dbs, ch.exp_id)) == 2


def test_plan_is_made_again_under_the_lock(dbs):
    """A fix another writer recorded between the confirmed plan and the lock
    drops out of the fresh plan: one replacement, not two."""
    from mopstool.config import load_config
    from mopstool.ops.disk import fixbroken as fb
    from mopstool.ops.writes import CONCURRENT_NOTE

    with dbs.begin() as conn:
        ch = _nightly_chain(Synth(conn), filt="w.00000", night=datetime(2018, 7, 7, 9),
                            chip_imfiles={"XY33": {"fault": 26}})
    cfg = load_config()
    other = []

    def confirm(plan):
        assert [r.action for r in plan.rows] == ["define"]
        other.append(fb.fix(dbs, cfg, fix_date=FIX_DATE))     # another writer, before our lock
        return True

    res = fb.fix(dbs, cfg, fix_date=FIX_DATE, confirm=confirm)
    assert other[0].applied and [r.action for r in other[0].rows] == ["defined"]
    assert not res.applied and [r.action for r in res.rows] == ["exists"]
    assert any(n.startswith(CONCURRENT_NOTE) for n in res.notes)
    assert len(chip_runs(dbs, ch.exp_id)) == 2 and len(fixes(dbs)) == 1
