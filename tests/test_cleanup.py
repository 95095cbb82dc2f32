"""mopstool cleanup: retention per stage and target, holds, batches, interruption, status."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from mopstool.config import load_config
from mopstool.db import schema
from mopstool.db.own import mopstoolAudit
from mopstool.ops.disk.cleanup import cleanup, plan_cleanup
from mopstool.ops.demo.synth import Synth

RUN_STAGES = {"chip": ("chipRun", "chip_id"), "cam": ("camRun", "cam_id"),
              "fake": ("fakeRun", "fake_id"), "warp": ("warpRun", "warp_id"),
              "diff": ("diffRun", "diff_id"), "stack": ("stackRun", "stack_id")}
NIGHTLY = {f"{t}.nightlyscience" for t in ("OSS", "MSS", "ESS", "EU", "FSS")}


def load_demo(db_url, tmp_path, monkeypatch):
    import mopstool.ops.demo.night as demo_mod

    monkeypatch.setattr(demo_mod, "_write_cmfs", lambda dbs, fdir: 0)
    return demo_mod.run_demo(load_config(), db_url=db_url, reset=False, night=date(2018, 7, 10),
                             files_dir=str(tmp_path / "files"))


def snapshot(dbs) -> dict[tuple[str, int], tuple[str, str]]:
    out = {}
    with dbs.connect() as conn:
        for stage, (table, col) in RUN_STAGES.items():
            t = schema.table(table)
            for rid, state, label in conn.execute(select(t.c[col], t.c.state, t.c.label)):
                out[(stage, int(rid))] = (state, label)
    return out


def changed(before, after) -> set[tuple[str, int]]:
    assert set(before) == set(after)
    return {k for k in before if before[k] != after[k]}


def expected_demo(dbs, summary, *, ws: bool = False) -> set[tuple[str, int]]:
    """The demo runs eligible as of 2018-07-11 (both nights; FSS WS diffs only with ws)."""
    with dbs.connect() as conn:
        cr, cam, fake, wr, dr = (schema.chipRun, schema.camRun, schema.fakeRun, schema.warpRun,
                                 schema.diffRun)
        held_chip = conn.execute(
            select(cam.c.chip_id).select_from(cam.join(fake, fake.c.cam_id == cam.c.cam_id)
                                              .join(wr, wr.c.fake_id == fake.c.fake_id))
            .where(wr.c.warp_id == summary.ids["warp_fault"])).scalar()
        chips = {("chip", int(i)) for i, lab in conn.execute(
            select(cr.c.chip_id, cr.c.label).where(cr.c.state == "full")) if lab in NIGHTLY}
        diff_labels = {f"{t}.nightlyscience" for t in ("OSS", "MSS", "ESS", "EU")}
        if ws:
            diff_labels.add("FSS.WS.nightlyscience")
        diffs = {("diff", int(i)) for i, lab in conn.execute(
            select(dr.c.diff_id, dr.c.label).where(dr.c.state == "full")) if lab in diff_labels}
    assert ("chip", held_chip) in chips
    return (chips - {("chip", held_chip)}) | diffs


def audit_rows(dbs, action="cleanup"):
    with dbs.connect() as conn:
        return conn.execute(select(func.count()).select_from(mopstoolAudit)
                            .where(mopstoolAudit.c.action == action)).scalar()


# ------------------------------------------------------------------ the demo nights

def test_dry_run_then_yes_on_demo_moves_exactly_the_eligible_runs(cli, db_url, dbs, tmp_path,
                                                                  monkeypatch):
    summary = load_demo(db_url, tmp_path, monkeypatch)
    expected = expected_demo(dbs, summary)
    before = snapshot(dbs)

    r = cli("cleanup", "--db", db_url, "--dry-run", "--as-of", "2018-07-11", "--json")
    assert r.code == 0, r.err
    assert snapshot(dbs) == before                      # a dry run writes nothing
    plan = r.json()
    assert sum(g["runs"] for g in plan) == len(expected)
    nights = {(g["stage"], g["night"]) for g in plan}
    assert nights == {("chip", "2018-07-09"), ("chip", "2018-07-10"),
                      ("diff", "2018-07-09"), ("diff", "2018-07-10")}
    per_stage = {s: sum(g["runs"] for g in plan if g["stage"] == s) for s in ("chip", "diff")}
    assert per_stage == {"chip": sum(1 for k in expected if k[0] == "chip"),
                         "diff": sum(1 for k in expected if k[0] == "diff")}
    held = [g for g in plan if g["held"]]
    assert len(held) == 1 and held[0]["stage"] == "chip" and held[0]["night"] == "2018-07-10"
    assert "would move" in r.err

    # --as-of decides which nights are old enough
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-10", "--dry-run", "--json")
    assert r.code == 0, r.err
    assert {g["night"] for g in r.json()} == {"2018-07-09"}
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-09", "--dry-run", "--json")
    assert r.json() == []
    # --stage / --target narrow the plan
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--dry-run", "--json",
            "--stage", "diff", "--target", "OSS")
    assert {(g["stage"], g["target"]) for g in r.json()} == {("diff", "OSS")}
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--dry-run", "--target", "NOPE")
    assert r.code == 2 and "unknown target" in r.err
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--dry-run", "--stage", "publish")
    assert r.code == 2
    assert snapshot(dbs) == before

    # without a terminal and without --yes a big change is refused
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11")
    assert r.code == 2 and "--yes" in r.err
    assert snapshot(dbs) == before

    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--yes", "--batch-size", "25", "--json")
    assert r.code == 0, r.err
    after = snapshot(dbs)
    assert changed(before, after) == expected
    assert all(after[k] == ("goto_cleaned", "goto_cleaned") for k in expected)
    assert sum(g["changed"] for g in r.json()) == len(expected)
    assert audit_rows(dbs) == -(-sum(1 for k in expected if k[0] == "chip") // 25) + \
        -(-sum(1 for k in expected if k[0] == "diff") // 25)
    # warps are kept, cam retention is 0, the ps_ud run being updated is untouched
    assert all(after[k] == before[k] for k in before if k[0] in ("warp", "cam", "fake", "stack"))
    assert after[("chip", summary.ids["gone_chip"])] == ("update", "ps_ud_MOPS")

    # a second run changes nothing
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--yes", "--json")
    assert r.code == 0, r.err
    assert sum(g["runs"] for g in r.json()) == 0
    assert snapshot(dbs) == after
    assert "nothing to clean" in r.err

    # the FSS warp-stack diffs (retention 3) go three days after their night
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--dry-run", "--json", "--target", "FSS")
    assert r.json() == []
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-12", "--dry-run", "--json")
    assert {(g["label"], g["night"]) for g in r.json() if g["runs"]} == {
        ("FSS.WS.nightlyscience", "2018-07-09")}
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-13", "--dry-run", "--json")
    ws = expected_demo(dbs, summary, ws=True)
    plan = r.json()
    assert {g["label"] for g in plan if g["runs"]} == {"FSS.WS.nightlyscience"}
    assert {g["retention_days"] for g in plan if g["runs"]} == {3}
    assert sum(g["runs"] for g in plan) == len(ws - expected) > 0


def test_interrupted_batch_rolls_back_and_rerun_completes(db_url, dbs, tmp_path, monkeypatch):
    summary = load_demo(db_url, tmp_path, monkeypatch)
    expected = expected_demo(dbs, summary)
    before = snapshot(dbs)
    cfg = load_config()
    plan = plan_cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30)
    first = {("chip", c.run_id) for c in plan.eligible["chip"][:30]}
    second = {("chip", c.run_id) for c in plan.eligible["chip"][30:60]}
    seen = []

    class Killed(Exception):
        pass

    def hook(stage, n, ids):
        seen.append((stage, n, len(ids)))
        if n == 2:
            # the second batch has already updated its rows inside its transaction
            with dbs.connect() as other:  # another connection must not see them (no dirty state)
                t = schema.chipRun
                assert other.execute(select(func.count()).select_from(t).where(
                    t.c.chip_id.in_([i for _, i in second]), t.c.state == "goto_cleaned")).scalar() == 0
            raise Killed()

    with pytest.raises(Killed):
        cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30, batch_hook=hook)
    assert seen[0] == ("chip", 1, 30)
    mid = snapshot(dbs)
    assert changed(before, mid) == first                        # batch 1 committed fully
    assert all(mid[k] == before[k] for k in second)             # batch 2: nothing at all
    assert audit_rows(dbs) == 1

    # a re-run recomputes eligibility from the states and completes
    plan2 = plan_cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30)
    assert plan2.total == len(expected) - 30
    cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30)
    assert changed(before, snapshot(dbs)) == expected
    assert plan_cleanup(dbs, cfg, as_of=date(2018, 7, 11)).total == 0


def test_ctrl_c_in_a_batch_says_how_far_cleanup_got(db_url, dbs, tmp_path, monkeypatch):
    from mopstool.errors import ExitCode, MopsError

    load_demo(db_url, tmp_path, monkeypatch)
    cfg = load_config()
    before = snapshot(dbs)
    total = plan_cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30).total

    def hook(stage, n, ids):
        if n == 2:
            raise KeyboardInterrupt

    with pytest.raises(MopsError) as exc:
        cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30, batch_hook=hook)
    assert exc.value.code == ExitCode.INTERRUPTED
    assert str(exc.value.message) == (f"interrupted: 30 of {total:,} runs moved; the batch in progress "
                                      "was rolled back; run again to finish")
    assert len(changed(before, snapshot(dbs))) == 30 and audit_rows(dbs) == 1


def test_killed_process_between_batches_leaves_no_half_changed_run(cli, db_url, dbs, tmp_path,
                                                                    monkeypatch):
    """A real SIGKILL inside the second batch's transaction."""
    summary = load_demo(db_url, tmp_path, monkeypatch)
    expected = expected_demo(dbs, summary)
    before = snapshot(dbs)
    script = textwrap.dedent(f"""
        import os, signal
        from datetime import date
        from mopstool.config import load_config
        from mopstool.db import Databases
        from mopstool.ops.disk.cleanup import cleanup
        dbs = Databases({db_url!r}, {db_url!r})
        def hook(stage, n, ids):
            if n == 2:
                os.kill(os.getpid(), signal.SIGKILL)
        cleanup(dbs, load_config(), as_of=date(2018, 7, 11), batch_size=20, batch_hook=hook)
    """)
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ), capture_output=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    mid = snapshot(dbs)
    moved = changed(before, mid)
    assert len(moved) == 20 and moved <= expected
    # every run is either fully changed (state and label) or untouched
    for k in expected:
        assert mid[k] in (before[k], ("goto_cleaned", "goto_cleaned"))
    monkeypatch.setenv("MOPSTOOL_GENERAL__LOCK_TIMEOUT", "10")
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--yes", "--json")
    assert r.code == 0, r.err
    assert sum(g["changed"] for g in r.json()) == len(expected) - 20
    assert changed(before, snapshot(dbs)) == expected


def test_runs_changed_after_the_plan_are_skipped_and_reported(dbs):
    """One confirmation for the whole job; each batch plans its slice again under
    the lock: a run another writer moved to 'update' after the plan is left alone."""
    old = datetime(2018, 7, 1, 9)
    with dbs.begin() as conn:
        s = Synth(conn)
        ids = [_chip(s, old + timedelta(minutes=i), "OSS.nightlyscience")[0] for i in range(5)]
    asked = []

    def confirm(plan):
        asked.append(plan.total)
        with dbs.begin() as conn:   # another writer, between the plan and the batches
            conn.execute(update(schema.chipRun).where(schema.chipRun.c.chip_id == ids[3])
                         .values(state="update"))
        return True

    plan = cleanup(dbs, load_config(), as_of=date(2018, 7, 20), batch_size=2, confirm=confirm)
    assert asked == [5]                                          # asked once, for the whole job
    assert plan.applied and plan.batches_done == 3
    assert set(plan.changed) == {("chip", i) for i in ids if i != ids[3]}
    assert [(x["stage"], x["id"]) for x in plan.skipped] == [("chip", ids[3])]
    assert "changed since the plan" in plan.skipped[0]["reason"]
    t = schema.chipRun
    with dbs.connect() as conn:
        states = dict(conn.execute(select(t.c.chip_id, t.c.state).where(t.c.chip_id.in_(ids))).all())
    assert states[ids[3]] == "update"
    assert {states[i] for i in ids if i != ids[3]} == {"goto_cleaned"}
    assert audit_rows(dbs) == 3


# ------------------------------------------------------------------ rules and holds

def _chip(s: Synth, dateobs: datetime, label: str, state: str = "full", filt: str = "w.00000"):
    ch = s.exposure(dateobs=dateobs, filter=filt, comment="OSSR.R20S1.9.Q.w visit 1",
                    object="OSS.R20S1.9.001", obs_mode="OSS")
    return s.chip(ch, label=label, state=state), ch


def test_ps_update_runs_and_scope(cli, db_url, dbs):
    as_of = date(2018, 7, 20)
    old = datetime(2018, 6, 1, 8)
    with dbs.begin() as conn:
        s = Synth(conn)
        a, _ = _chip(s, old, "ps_ud_MOPS")                       # no dependents: cleaned
        b, _ = _chip(s, old + timedelta(minutes=1), "ps_ud_MOPS")  # dependent 'new': held
        s.pstamp_dependent(stage="chip", stage_id=b, component="XY33", rlabel="ps_ud_MOPS")
        c, _ = _chip(s, old + timedelta(minutes=2), "ps_ud_MOPS")  # dependent 'full': cleaned
        s.pstamp_dependent(stage="chip", stage_id=c, component="XY33", rlabel="ps_ud_MOPS",
                           state="full")
        d, _ = _chip(s, old + timedelta(minutes=3), "ps_ud_QUB", state="update")  # updating: never
        f, _ = _chip(s, old + timedelta(minutes=4), "LAP.PV3.20180301")  # out of scope
        g, _ = _chip(s, datetime(2018, 7, 20, 9), "OSS.nightlyscience")  # tonight: too young
        h, _ = _chip(s, datetime(2018, 7, 19, 9), "OSS.nightlyscience")  # last night: cleaned
        n, _ = _chip(s, datetime(2018, 7, 1, 9), "OSS.nightlyscience", state="new")  # processing
        e_cl, _ = _chip(s, datetime(2018, 7, 1, 10), "goto_cleaned", state="error_cleaned")
        ch = s.chain(label="LAP.PV3.20180301", data_group="LAP", skycells=["skycell.1.001"],
                     dateobs=old + timedelta(minutes=5), filter="i.00000", comment="x", object="y",
                     obs_mode="3PI")
        conn.execute(update(schema.warpRun).where(schema.warpRun.c.warp_id == ch.warp_id)
                     .values(label="ps_ud_MOPS"))
        s.pstamp_dependent(stage="warp", stage_id=ch.warp_id, component="skycell.1.001",
                           rlabel="ps_ud_MOPS", state="hold")
    before = snapshot(dbs)
    r = cli("cleanup", "--db", db_url, "--as-of", as_of.isoformat(), "--dry-run", "--show-held", "--json")
    assert r.code == 0, r.err
    plan = r.json()
    held = {(h["stage"], h["id"]): h["reason"] for h in plan["held"]}
    assert held == {("chip", b): "stamp dependent outstanding",
                    ("warp", ch.warp_id): "stamp dependent outstanding"}
    r = cli("cleanup", "--db", db_url, "--as-of", as_of.isoformat(), "--yes")
    assert r.code == 0, r.err
    assert changed(before, snapshot(dbs)) == {("chip", a), ("chip", c), ("chip", h)}
    # --target ps_update alone
    r = cli("cleanup", "--db", db_url, "--as-of", as_of.isoformat(), "--dry-run", "--json",
            "--target", "ps_update")
    assert r.json() == [{"stage": "chip", "night": "2018-06-01", "target": "ps_update",
                         "label": "ps_ud_MOPS", "retention_days": 1, "runs": 0, "held": 1},
                        {"stage": "warp", "night": "2018-06-01", "target": "ps_update",
                         "label": "ps_ud_MOPS", "retention_days": 1, "runs": 0, "held": 1}]
    # the stamp server finishes: the held run goes on the next run
    dep = schema.table("pstampDependent", pstamp_db=True)
    with dbs.begin(pstamp_db=True) as conn:
        conn.execute(update(dep).values(state="full"))
    snap = snapshot(dbs)
    assert cli("cleanup", "--db", db_url, "--as-of", as_of.isoformat(), "--yes").code == 0
    assert changed(snap, snapshot(dbs)) == {("chip", b), ("warp", ch.warp_id)}
    after = snapshot(dbs)
    for k in (("chip", d), ("chip", f), ("chip", g), ("chip", n), ("chip", e_cl)):
        assert after[k] == before[k]


def test_retention_from_config_and_downstream_holds(cli, db_url, dbs, tmp_path):
    """diff = 2 for disk pressure; chips under a warp still processing are held."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[retention]\ndiff = 2\nchip = 3\n[retention.targets.MSS]\nchip = 0\n")
    with dbs.begin() as conn:
        s = Synth(conn)
        ids = {}
        for days, tag in ((1, "d1"), (2, "d2"), (3, "d3")):
            night = datetime(2018, 7, 20 - days, 9)
            ch = s.chain(label="OSS.nightlyscience", data_group=f"OSS.{night:%Y%m%d}",
                         skycells=["skycell.5.001"], dateobs=night, filter="w.00000",
                         comment="OSS visit 1", object="o", obs_mode="OSS",
                         warp_state="new" if tag == "d3" else "full")
            ch2 = s.chain(label="OSS.nightlyscience", data_group=f"OSS.{night:%Y%m%d}",
                          skycells=["skycell.5.001"], dateobs=night + timedelta(minutes=17),
                          filter="w.00000", comment="OSS visit 2", object="o", obs_mode="OSS")
            ids[tag] = (ch, s.diff(label="OSS.nightlyscience", data_group=f"OSS.{night:%Y%m%d}",
                                   skycells=["skycell.5.001"], warp1=ch.warp_id, warp2=ch2.warp_id))
            mss = s.chain(label="MSS.nightlyscience", data_group=f"MSS.{night:%Y%m%d}",
                          skycells=["skycell.6.001"], dateobs=night, filter="i.00000",
                          comment="MSS visit 1", object="m", obs_mode="MSS")
            ids[tag + "mss"] = mss
    before = snapshot(dbs)
    old_chips = _chips_of_night(dbs, date(2018, 7, 17), "OSS.nightlyscience")
    assert len(old_chips) == 2
    r = cli("cleanup", "--db", db_url, "--config", str(cfg), "--as-of", "2018-07-20", "--yes",
            "--show-held", "--json")
    assert r.code == 0, r.err
    moved = changed(before, snapshot(dbs))
    d3 = ids["d3"][0]
    # diffs of nights 2 and 3 days old; chips of 3 days old except the one whose warp is 'new'
    assert moved == {("diff", ids["d2"][1]), ("diff", ids["d3"][1])} | {
        ("chip", k) for k in old_chips if k != d3.chip_id}
    assert [(h["stage"], h["id"], h["reason"]) for h in r.json()["held"]] == [
        ("chip", d3.chip_id, "downstream run still processing")]
    # MSS chips are never cleaned (retention 0 for MSS chips)
    assert not any(k[0] == "chip" and before[k][1] == "MSS.nightlyscience" for k in moved)


def _chips_of_night(dbs, night, label):
    cr, raw = schema.chipRun, schema.rawExp
    start = datetime(night.year, night.month, night.day)
    with dbs.connect() as conn:
        return {int(i) for i in conn.execute(
            select(cr.c.chip_id).select_from(cr.join(raw, raw.c.exp_id == cr.c.exp_id))
            .where(cr.c.label == label, raw.c.dateobs >= start,
                   raw.c.dateobs < start + timedelta(days=1))).scalars()}


# ------------------------------------------------------------------ status

def test_status_counts_and_oldest_uncleaned_night(cli, db_url, dbs, tmp_path, monkeypatch):
    load_demo(db_url, tmp_path, monkeypatch)
    r = cli("cleanup", "--db", db_url, "status", "--as-of", "2018-07-11", "--json")
    assert r.code == 0, r.err
    rows = r.json()
    chip = {(x["state"], x["note"].split(":")[0]): x for x in rows if x["stage"] == "chip"}
    # runs already cleaned (the demo's 2018-07-08 runs) are history: not counted
    assert not any(x["state"] in ("cleaned", "purged", "scrubbed") for x in rows)
    assert chip[("goto_cleaned", "")]["runs"] == 0 and chip[("error_cleaned", "")]["runs"] == 0
    assert chip[("full", "older than retention")]["oldest_night"] == "2018-07-09"
    assert "oldest uncleaned night: 2018-07-09" in r.err
    assert {x["stage"] for x in rows} == {"chip", "cam", "warp", "diff"}

    assert cli("cleanup", "--db", db_url, "--as-of", "2018-07-11", "--yes").code == 0
    rows = cli("cleanup", "--db", db_url, "status", "--as-of", "2018-07-11", "--json").json()
    got = {(x["stage"], x["state"]): x for x in rows if not x["note"].startswith("older than retention but")}
    assert got[("chip", "goto_cleaned")]["oldest_night"] == "2018-07-09"
    assert got[("chip", "goto_cleaned")]["runs"] > 0 and got[("diff", "goto_cleaned")]["runs"] > 0
    assert got[("chip", "full")]["runs"] == 0
    held = [x for x in rows if x["note"].startswith("older than retention but held")]
    assert len(held) == 1 and held[0]["oldest_night"] == "2018-07-10"
    # a stuck IPP cleanup shows as error_cleaned runs
    with dbs.begin() as conn:
        conn.execute(update(schema.diffRun).where(schema.diffRun.c.state == "goto_cleaned")
                     .values(state="error_cleaned"))
    rows = cli("cleanup", "--db", db_url, "status", "--as-of", "2018-07-11", "--json").json()
    err = [x for x in rows if x["stage"] == "diff" and x["state"] == "error_cleaned"][0]
    assert err["runs"] > 0 and err["oldest_night"] == "2018-07-09" and "failed" in err["note"]
    r = cli("cleanup", "--db", db_url, "status", "--as-of", "2018-07-11")
    assert r.code == 0 and "error_cleaned" in r.out


def test_progress_bar_only_on_a_terminal(db_url, dbs, tmp_path, monkeypatch):
    if not db_url.startswith("sqlite"):
        pytest.skip("terminal handling does not depend on the database")
    import pty

    load_demo(db_url, tmp_path, monkeypatch)
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mopstool", "cleanup", "--db", db_url,
                             "--as-of", "2018-07-11", "--yes", "--batch-size", "10", "--format", "csv"],
                            stdout=subprocess.PIPE, stderr=slave, env=dict(os.environ, COLUMNS="100"))
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    out, _ = proc.communicate(timeout=60)
    os.close(master)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, err
    assert "cleanup" in err and "━" in err        # the bar was drawn on the terminal
    assert "━" not in out.decode()                # stdout carries only the data
    assert out.decode().startswith("stage,night,target,label")



def test_stamp_dependents_in_a_separate_stamp_database(cli, tmp_path):
    """--pstamp-db names another database: holds and broken stamp images are read there."""
    from mopstool.db import Databases
    from mopstool.ops.dbadmin import init_schema

    img, ps = f"sqlite:///{tmp_path / 'gpc1.sqlite'}", f"sqlite:///{tmp_path / 'ps.sqlite'}"
    dbs = Databases(img, ps)
    init_schema(dbs)
    with dbs.begin() as conn, dbs.begin(pstamp_db=True) as pconn:
        s = Synth(conn, pconn)
        a, _ = _chip(s, datetime(2018, 6, 1, 8), "ps_ud_MOPS")
        b, ch = _chip(s, datetime(2018, 6, 1, 9), "ps_ud_MOPS")
        dep = s.pstamp_dependent(stage="chip", stage_id=b, component="XY33", rlabel="ps_ud_MOPS")
        req = s.pstamp_request(name="MOPS.x", label="MOPS", state="run")
        s.pstamp_jobs(req, [{"state": "stop", "fault": 25, "dep_id": dep, "exp_id": ch.exp_id}])
        conn.execute(update(schema.chipProcessedImfile).where(
            schema.chipProcessedImfile.c.chip_id == b, schema.chipProcessedImfile.c.class_id == "XY33")
            .values(data_state="error_cleaned"))
    r = cli("cleanup", "--db", img, "--pstamp-db", ps, "--as-of", "2018-07-01", "--dry-run",
            "--show-held", "--json")
    assert r.code == 0, r.err
    assert [(h["id"], h["reason"]) for h in r.json()["held"]] == [(b, "stamp dependent outstanding")]
    assert sum(g["runs"] for g in r.json()["groups"]) == 1
    r = cli("fixbroken", "--db", img, "--pstamp-db", ps, "--dry-run", "--json")
    (p,) = r.json()
    assert p["broken"][0]["id"] == b and any("stamp job" in x for x in p["broken"][0]["sources"])
    dbs.dispose()


def test_diff_waiting_for_publishing_is_held(cli, db_url, dbs):
    """A diff whose publishRun is still new is not cleaned (the publisher reads its files)."""
    night = datetime(2018, 7, 12, 9)
    with dbs.begin() as conn:
        s = Synth(conn)
        client = s.publish_client()
        diffs = []
        for k in range(3):
            a = s.chain(label="OSS.nightlyscience", data_group="OSS.20180712", skycells=["skycell.8.001"],
                        dateobs=night + timedelta(minutes=40 * k), filter="w.00000", comment="OSS visit 1",
                        object=f"p{k}", obs_mode="OSS")
            b = s.chain(label="OSS.nightlyscience", data_group="OSS.20180712", skycells=["skycell.8.001"],
                        dateobs=night + timedelta(minutes=40 * k + 17), filter="w.00000",
                        comment="OSS visit 2", object=f"p{k}", obs_mode="OSS")
            diffs.append(s.diff(label="OSS.nightlyscience", data_group="OSS.20180712",
                                skycells=["skycell.8.001"], warp1=a.warp_id, warp2=b.warp_id))
        s.publish(client_id=client, diff_id=diffs[0], label="OSS.nightlyscience", state="new", fault=None)
        s.publish(client_id=client, diff_id=diffs[1], label="OSS.nightlyscience", state="full")
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-30", "--stage", "diff", "--dry-run",
            "--show-held", "--json")
    assert r.code == 0, r.err
    assert [(h["id"], h["reason"]) for h in r.json()["held"]] == [(diffs[0], "publishing still pending")]
    before = snapshot(dbs)
    r = cli("cleanup", "--db", db_url, "--as-of", "2018-07-30", "--stage", "diff", "--yes")
    assert r.code == 0, r.err
    moved = {k for k in changed(before, snapshot(dbs)) if k[0] == "diff"}
    assert moved == {("diff", diffs[1]), ("diff", diffs[2])}


# ------------------------------------------------------------------ other writers between batches

def _hold_lock_after_first_batch(dbs, hold: float):
    """A batch hook that, in the first batch, starts another writer: it waits for
    the lock, takes it in the gap after that batch and holds it *hold* seconds."""
    import threading
    import time

    from mopstool.db.dialect import named_lock
    from mopstool.ops.writes import LOCK_NAME

    times: dict[str, float] = {}
    asking = threading.Event()

    def other_writer():
        engine = dbs.engine(False)
        with engine.connect():          # connected before it asks (a loaded machine is slow to connect)
            pass
        asking.set()
        with named_lock(engine, LOCK_NAME, 30):
            times["got"] = time.monotonic()
            time.sleep(hold)
        times["released"] = time.monotonic()

    def until_it_waits():
        """Back in the batch once the other writer waits for the lock: on MySQL
        its GET_LOCK waiting at the server (the server then hands it the lock
        when the batch gives it back), on SQLite polling the file lock."""
        from sqlalchemy import text

        from mopstool.db.dialect import is_mysql

        assert asking.wait(30)
        engine = dbs.engine(False)
        if not is_mysql(engine):
            time.sleep(0.1)
            return
        q = text("SELECT COUNT(*) FROM information_schema.PROCESSLIST "
                 "WHERE DB = DATABASE() AND STATE = 'User lock'")
        with engine.connect() as conn:
            deadline = time.monotonic() + 30
            while not conn.execute(q).scalar():
                assert time.monotonic() < deadline, "the other writer never asked for the lock"
                time.sleep(0.01)

    threads = []
    calls = []

    def hook(stage, n, ids):   # n counts the batches of each stage: count them all here
        calls.append(stage)
        if len(calls) == 1:
            threads.append(threading.Thread(target=other_writer))
            threads[0].start()
            until_it_waits()
        elif len(calls) == 2:
            times["batch2"] = time.monotonic()

    return hook, times, threads


def test_a_writer_taking_its_turn_between_batches_does_not_stop_cleanup(db_url, dbs, tmp_path, monkeypatch):
    summary = load_demo(db_url, tmp_path, monkeypatch)
    expected = expected_demo(dbs, summary)
    before = snapshot(dbs)
    hook, times, threads = _hold_lock_after_first_batch(dbs, 0.5)
    # general.lock_timeout is 0: the first batch would not wait, the later ones do
    cleanup(dbs, load_config(), as_of=date(2018, 7, 11), batch_size=30, batch_hook=hook)
    threads[0].join()
    assert times["got"] < times["released"] <= times["batch2"]   # its turn came between batches 1 and 2
    assert changed(before, snapshot(dbs)) == expected             # and cleanup finished the job


def test_a_lock_not_given_back_stops_cleanup_saying_how_far_it_got(db_url, dbs, tmp_path, monkeypatch):
    import mopstool.ops.writes as writes
    from mopstool.errors import ExitCode, MopsError

    load_demo(db_url, tmp_path, monkeypatch)
    cfg = load_config()
    before = snapshot(dbs)
    total = plan_cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30).total
    monkeypatch.setattr(writes, "BATCH_RELOCK_WAIT", 0.3)
    hook, times, threads = _hold_lock_after_first_batch(dbs, 3)
    with pytest.raises(MopsError) as exc:
        cleanup(dbs, cfg, as_of=date(2018, 7, 11), batch_size=30, batch_hook=hook)
    threads[0].join()
    assert exc.value.code == ExitCode.TEMPFAIL
    assert exc.value.message.endswith(f": stopped after 30 of {total:,} runs moved; run again to finish")
    assert exc.value.message.startswith("another mopstool holds the lock 'mopstool.write'")
    assert len(changed(before, snapshot(dbs))) == 30 and audit_rows(dbs) == 1
