"""The czar's morning on nights built row by row (tests/night_builder.py, not the
demo): every fix clears its problem, the loop czar -> fixes -> pipeline -> czar
ends clean, and the report stays one screen."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from datetime import date

import pytest
from sqlalchemy import create_engine, func, select

from mopstool.db import schema

from night_builder import NIGHT, NightBuilder, advance

N = NIGHT.isoformat()


def _build(db_url, fn):
    eng = create_engine(db_url)
    with eng.begin() as conn:
        out = fn(NightBuilder(conn))
    eng.dispose()
    return out


def _advance(db_url):
    eng = create_engine(db_url)
    with eng.begin() as conn:
        advance(conn)
    eng.dispose()


def _rows(db_url, q):
    eng = create_engine(db_url)
    with eng.connect() as conn:
        out = [dict(r._mapping) for r in conn.execute(q)]
    eng.dispose()
    return out


def _morning(nb: NightBuilder) -> dict:
    ids = {}
    cid = nb.client()
    a = nb.field("OSS", "OSS.A", "OSSR.R20S1.12.Q.w", {v: "ok" for v in (1, 2, 3, 4)})
    ids["a12"] = nb.diff(a[1][0], a[2][0])
    ids["a34"] = nb.diff(a[3][0], a[4][0])
    nb.publish(cid, ids["a12"])
    nb.publish(cid, ids["a34"], fault=2)                      # a failed publish attempt
    ids["multi"] = nb.diff(a[1][0], a[4][0], data_group=f"OSS.{NIGHT:%Y%m%d}.multi")   # .multi, intranight
    b = nb.field("OSS", "OSS.B", "OSSR.R20S1.12.Q.w", {1: "ok", 2: "ok", 3: "ok", 4: "missing"}, hour=6.2)
    nb.diff(b[1][0], b[2][0])                                 # regular 1-2 made, 2-3 missing
    nb.field("OSS", "OSS.C", "OSSR.R20S1.13.Q.w", {1: "ok", 2: "ok", 3: "chip_fault", 4: "ok"}, hour=7)
    # a repeated visit 3: 3-4 was made from the first exposure, the retake finished later
    m = nb.field("MSS", "MSS.A", "MSS.R10N3.5.Q.i", {1: "ok", 2: "ok", 3: ["ok", "ok"], 4: "ok"},
                 filt="i.00000", hour=8)
    nb.diff(m[1][0], m[2][0])
    nb.diff(m[3][0], m[4][0])
    nb.field("Bright", "Euclid.F1", "Euclid.r.R01", {1: "ok", 2: "ok", 3: "ok", 4: "missing"}, hour=9,
             filt="r.00000")
    nb.field("EU", "EU.R01N1.001", "EU.R01N1.1.w", {v: "ok" for v in (1, 2, 3, 4)}, obs_mode="OSS", hour=10)
    d = nb.field("ESS", "ESS.A", "ESS.R05S2.4.Q.w", {1: "ok", 2: "ok", 3: "undefined", 4: "ok"}, hour=11)
    ids["test"] = nb.diff(d[1][0], d[2][0], label="MOPS.dailytestset", data_group="MOPS.dailytestset")
    # a stamp update found visit 2's chip broken (fault 26) after its warp was made
    s = nb.field("OSS", "OSS.S", "OSSR.R20S1.14.Q.w", {1: "ok", 2: "stamp_update", 3: "ok", 4: "ok"}, hour=12)
    nb.publish(cid, nb.diff(s[1][0], s[2][0]))
    nb.publish(cid, nb.diff(s[3][0], s[4][0]))
    return ids


def _run_fix(cli, fix: str):
    args = shlex.split(fix)
    assert args[0] == "mopstool"
    return cli(*args[1:])


def test_fix_loop_ends_clean(cli, db_url):
    ids = _build(db_url, _morning)
    r = cli("--db", db_url, "czar", "--night", N, "--json")
    assert r.code == 3, r.err
    rep = r.json()
    kinds = {p["kind"] for p in rep["problems"]}
    assert {"fault", "publish_fault", "lost_visit", "missing_diff", "unplanned_diff", "processing",
            "unpublished"} <= kinds, kinds
    # every target's fields are seen (Bright Euclid.r included)
    tot = {t["target"]: t["stages"]["chip"]["total"] for t in rep["targets"]}
    assert tot["Bright"] == 3 and tot["EU"] == 4 and tot["MSS"] == 5
    gone = [p for p in rep["problems"] if p["fault"] == 26]
    assert len(gone) == 1 and " fixbroken --chip-id " in gone[0]["fix"]
    (multi,) = [p for p in rep["problems"] if p["kind"] == "unplanned_diff"]
    assert multi["id"] == ids["multi"] and "never publish" in multi["meaning"]
    assert "publish" not in multi["fix"]
    # every problem has a command or says it needs a person
    for p in rep["problems"]:
        assert bool(p["fix"]) != bool(p["person"]), p
        if p["fix"]:
            assert p["fix"].startswith(f"mopstool --db {shlex.quote(db_url)} ")
    for rnd in range(6):
        rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
        if rep["status"] == "clean":
            break
        for g in rep["groups"]:
            if g["fix"]:
                res = _run_fix(cli, g["fix"])
                assert res.code == 0, (g["fix"], res.err)
        _advance(db_url)
    final = cli("--db", db_url, "czar", "--night", N)
    assert final.code == 0, final.out + final.err
    # no two diffs of one field for the same visit pair (dropped ones aside), no .multi published
    pairs = cli("--db", db_url, "diffpairs", "--night", N, "--json").json()
    got = [(p["object"], p["input"]["visit"], p["template"]["visit"]) for p in pairs
           if p["status"] == "exists"]
    assert len(got) == len(set(got))
    assert ("MSS.A", 3, 4) in got and ("OSS.B", 2, 3) in got and ("Euclid.F1", 2, 3) in got
    assert ("ESS.A", 1, 2) in got  # defined under the nightly label despite MOPS.dailytestset
    pr = schema.publishRun
    assert not _rows(db_url, select(pr.c.pub_id).where(pr.c.stage_id == ids["multi"]))
    assert not _rows(db_url, select(pr.c.pub_id).where(pr.c.stage_id == ids["test"]))
    dr = schema.diffRun
    mss = _rows(db_url, select(func.count()).select_from(dr).where(dr.c.data_group == f"MSS.{NIGHT:%Y%m%d}"))
    assert list(mss[0].values())[0] == 2


def test_fixes_pipe_to_sh(db_url, tmp_path):
    """czar --fixes prints the commands only; piped to sh they run as printed."""
    _build(db_url, _morning)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    exe = [sys.executable, "-m", "mopstool"]
    out = subprocess.run(exe + ["--db", db_url, "czar", "--night", N, "--fixes"], capture_output=True,
                         text=True, env=env)
    assert out.returncode == 3, out.stderr
    lines = out.stdout.splitlines()
    assert lines and all(x.startswith("mopstool --db ") for x in lines)
    assert len(lines) == len(set(lines))
    script = out.stdout.replace("mopstool ", f"{shlex.quote(sys.executable)} -m mopstool ")
    sh = subprocess.run(["sh", "-e"], input=script, capture_output=True, text=True, env=env)
    assert sh.returncode == 0, sh.stderr
    after = subprocess.run(exe + ["--db", db_url, "czar", "--night", N, "--fixes"], capture_output=True,
                           text=True, env=env)
    # what the fixes cleared is gone; what is left waits for the pipeline
    assert not set(after.stdout.splitlines()) & {x for x in lines if "revert" in x or "updaterun" in x}


def _busy_night(nb: NightBuilder) -> None:
    for i in range(36):
        nb.field("OSS", f"OSS.L{i:02d}", f"OSSR.R{i:02d}S1.1.Q.w", {1: "ok", 2: "ok", 3: "ok", 4: "missing"},
                 hour=5 + i * 0.1)
    for i in range(36):
        nb.field("MSS", f"MSS.F{i:02d}", f"MSS.R{i:02d}N3.5.Q.i", {1: "ok", 2: "chip_fault", 3: "ok", 4: "ok"},
                 hour=8 + i * 0.1, filt="i.00000")


def test_72_problems_fit_80_columns(cli, db_url):
    _build(db_url, _busy_night)
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    assert len(rep["problems"]) == 72
    r = cli("--db", db_url, "czar", "--night", N)
    assert r.code == 3
    fixes = {g["fix"] for g in rep["groups"] if g["fix"]}
    assert len(fixes) == 2
    lines = r.out.splitlines()
    for fix in fixes:
        assert lines.count(fix) == 1          # each fix once, as one whole line
    assert all(len(x) <= 80 for x in lines if x not in fixes)
    assert len(lines) < 40                    # one screen
    summary = lines[:lines.index("")]
    assert all(len(x) <= 80 for x in summary)


def test_no_exposures_is_attention(cli, db_url):
    r = cli("--db", db_url, "czar", "--night", N, "--json")
    assert r.code == 3
    (p,) = [p for p in r.json()["problems"] if p["kind"] == "no_exposures"]
    assert p["meaning"] == f"no exposures registered for {N}" and p["person"]


def test_stamp_update_does_not_lose_a_visit_and_bright_is_a_target(cli, db_url):
    def build(nb):
        nb.field("OSS", "OSS.S", "OSSR.R1.1.Q.w", {1: "ok", 2: "stamp_update", 3: "ok", 4: "ok"})
        nb.field("Bright", "Euclid.F2", "Euclid.r.R02", {1: "ok", 2: "ok", 3: "ok", 4: "missing"},
                 filt="r.00000", hour=9)
        nb.field("STS", "STS.X", "STS.R1", {1: "ok"}, hour=10)
    _build(db_url, build)
    rows = cli("--db", db_url, "lostvisits", "--night", "8309", "--json").json()
    by = {r["object"]: r for r in rows}
    assert by["OSS.S"]["lost"] == []
    assert by["Euclid.F2"]["lost"] == [4] and by["Euclid.F2"]["desperate_pairs"] == [[2, 3]]
    r = cli("--db", db_url, "czar", "--night", "58309")
    assert "match no target" in r.err and "STS" in r.err


def test_define_writes_what_difftool_writes_in_one_insert_per_table(cli, db_url):
    from sqlalchemy import event

    def build(nb):
        for i in range(5):
            nb.field("OSS", f"OSS.D{i}", f"OSSR.D{i}.Q.w", {v: "ok" for v in (1, 2, 3, 4)}, hour=5 + i * 0.2)
    _build(db_url, build)
    from mopstool.config import load_config
    from mopstool.db import Databases
    from mopstool.ops.nightly.diffpairs import define_diffpairs, plan_diffpairs

    dbs = Databases(db_url, db_url)
    plan = plan_diffpairs(dbs, load_config(), NIGHT)
    inserts: list[str] = []
    event.listen(dbs.gpc1, "before_cursor_execute",
                 lambda c, cur, stmt, params, ctx, many: inserts.append(stmt.split("(")[0].strip())
                 if stmt.lstrip().upper().startswith("INSERT") else None)
    done = define_diffpairs(dbs, load_config(), plan)
    assert len(done) == 10
    tables = [s.split()[-1].strip("`\"") for s in inserts if "mopstoolAudit" not in s]
    assert sorted(tables) == ["diffInputSkyfile", "diffRun"]
    dr = schema.diffRun
    rows = _rows(db_url, select(dr.c.registered, dr.c.note, dr.c.maskfrac_npix, dr.c.state))
    assert rows and all(r["registered"] is None and r["note"] is None and r["maskfrac_npix"] == 0
                        and r["state"] == "new" for r in rows)
    dbs.dispose()


def test_small_cli_contracts(cli, db_url):
    assert cli("--db", db_url, "diffpairs", "--status", "bogus").code == 2
    assert cli("--db", db_url, "publish", "--diff-id", "424242", "--yes").code == 65
    assert cli("--db", db_url, "czar", "--night", "12").code == 2


def test_unnumbered_comment_keeps_other_visits(cli, db_url):
    def build(nb):
        f = nb.field("OSS", "OSS.U", "OSSR.U.Q.w", {1: "ok", 2: "ok", 3: "ok", 4: "ok"})
        nb.field("OSS", "OSS.U", "OSSR.U.Q.w", {9: "ok"}, comment="{chunk} extra", hour=7)
        return f
    _build(db_url, build)
    (row,) = cli("--db", db_url, "lostvisits", "--night", N, "--json").json()
    nums = {v["visit"]: v["status"] for v in row["visits"]}
    assert [nums[n] for n in (1, 2, 3, 4)] == ["ok"] * 4 and nums[5] == "ok"
    assert row["regular_pairs"][:2] == [[1, 2], [3, 4]]


def test_nights_parse():
    from mopstool.ops.nightly.czar import compact_ids
    from mopstool.ops.nightly.nights import gpc1_night_number, parse_night

    assert parse_night("8309") == parse_night("58309") == parse_night("20180710") == date(2018, 7, 10)
    assert gpc1_night_number(date(2018, 7, 10)) == 8309
    assert compact_ids([5, 1, 2, 3, 9, 10]) == "1-3,5,9-10"


def test_demo_try_next_carries_the_connection_options(cli, db_url, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[general]\nconfirm_above = 50\n")
    r = cli("--db", db_url, "--config", str(cfg), "demo", "--files", str(tmp_path / "f"))
    assert r.code == 0, r.err
    tries = [x.strip() for x in r.out.splitlines()[r.out.splitlines().index("Try next:") + 1:]]
    prefix = f"mopstool --db {shlex.quote(db_url)} --config {shlex.quote(str(cfg))} "
    assert tries and all(t.startswith(prefix) for t in tries)
    # the first one runs as printed
    assert cli(*shlex.split(tries[0])[1:]).code == 3


def test_a_retake_still_processing_holds_the_pair(cli, db_url):
    """The later exposure of a repeated visit wins even while it processes:
    no diff is made from the earlier one, and one diff follows the retake."""
    def build(nb):
        f = nb.field("MSS", "MSS.R", "MSS.R1.Q.i", {1: "ok", 2: "ok", 3: ["ok", "processing"], 4: "ok"},
                     filt="i.00000")
        d = nb.diff(f[1][0], f[2][0])
        nb.publish(nb.client(), d)
        return f
    f = _build(db_url, build)
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    assert not [p for p in rep["problems"] if p["kind"] in ("missing_diff", "lost_visit")]
    assert [p["kind"] for p in rep["problems"]] == ["processing"] and rep["problems"][0]["person"]
    _advance(db_url)
    r = cli("--db", db_url, "diffpairs", "--night", N, "--define", "--yes", "--json").json()
    (d34,) = [p for p in r if p["status"] == "defined"]
    assert (d34["input"]["visit"], d34["template"]["visit"]) == (3, 4)
    assert d34["input"]["exp_id"] == f[3][1].exp_id          # the retake, not the first exposure
    again = cli("--db", db_url, "diffpairs", "--night", N, "--define", "--yes", "--json").json()
    assert not [p for p in again if p["status"] == "defined"]


def test_target_and_chunk_narrow_the_report_and_its_fixes(cli, db_url):
    def build(nb):
        nb.field("OSS", "OSS.1", "OSSR.C1.Q.w", {1: "ok", 2: "ok", 3: "ok", 4: "ok"})
        nb.field("OSS", "OSS.2", "OSSR.C2.Q.w", {1: "ok", 2: "ok", 3: "ok", 4: "ok"}, hour=7)
        nb.field("MSS", "MSS.1", "MSS.C1.Q.i", {1: "ok", 2: "ok", 3: "ok", 4: "ok"}, hour=8)
    _build(db_url, build)
    rep = cli("--db", db_url, "czar", "--night", N, "--chunk", "OSSR.C1.Q.w", "--json").json()
    assert {p["chunk"] for p in rep["problems"]} == {"OSSR.C1.Q.w"}
    (fix,) = {p["fix"] for p in rep["problems"]}
    assert "--chunk OSSR.C1.Q.w" in fix
    assert cli(*shlex.split(fix)[1:]).code == 0
    left = cli("--db", db_url, "czar", "--night", N, "--json").json()["problems"]
    assert {p["chunk"] for p in left} == {"OSSR.C2.Q.w", "MSS.C1.Q.i"}
    rep = cli("--db", db_url, "czar", "--night", N, "--target", "MSS", "--json").json()
    assert {p["target"] for p in rep["problems"]} == {"MSS"} and [t["target"] for t in rep["targets"]] == ["MSS"]


def test_stamp_backlog_uses_label_priority_and_unreadable_stamp_db(cli, db_url, tmp_path):
    from datetime import datetime

    def build(nb):
        f = nb.field("OSS", "OSS.P", "OSSR.P.Q.w", {1: "ok", 2: "ok"})
        nb.publish(nb.client(), nb.diff(f[1][0], f[2][0]))
        t0 = datetime(2018, 7, 10, 1)
        for i in range(30):
            nb._ins("pstampRequest", req_id=100 + i, name=f"qub{i}", label="QUB", state="new", fault=0,
                    registered=t0)
        for i in range(3):
            nb._ins("pstampRequest", req_id=200 + i, name=f"mops{i}", label="MOPS", state="new", fault=0,
                    registered=t0)
    _build(db_url, build)
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    assert [p["kind"] for p in rep["problems"]] == ["pstamp_backlog"]
    assert cli("--db", db_url, "labels", "add", "MOPS", "--priority", "20000", "--yes").code == 0
    r = cli("--db", db_url, "czar", "--night", N, "--json")
    assert r.code == 0, r.out                          # MOPS is first in the parse queue now
    empty = tmp_path / "empty.sqlite"
    create_engine(f"sqlite:///{empty}").connect().close()
    r = cli("--db", db_url, "--pstamp-db", f"sqlite:///{empty}", "czar", "--night", N, "--json")
    assert r.code == 3
    (p,) = r.json()["problems"]
    assert p["kind"] == "pstamp_unreadable" and p["person"]


def test_ws_diffs_that_can_never_be_made_are_reported_once(cli, db_url):
    def build(nb):
        for i in range(3):
            nb.field("FSS", f"FSS.{i}", f"FSS.R{i}.r", {v: "ok" for v in range(1, 7)}, filt="r.00000",
                     hour=5 + i * 0.5)
    _build(db_url, build)
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    (p,) = [p for p in rep["problems"] if p["kind"] == "ws_never"]
    assert "3 fields" in p["meaning"] and "ws_filters" in p["meaning"] and p["person"]


def test_a_pair_without_common_skycell_needs_a_person(cli, db_url):
    def build(nb):
        nb.field("OSS", "OSS.N", "OSSR.N.Q.w", {1: "ok"}, skycells=("skycell.1.1",))
        nb.field("OSS", "OSS.N", "OSSR.N.Q.w", {2: "ok"}, skycells=("skycell.9.9",))
    _build(db_url, build)
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    (p,) = rep["problems"]
    assert p["kind"] == "undiffable" and p["fix"] is None and "warps" in p["person"]
    out = cli("--db", db_url, "czar", "--night", N, "--fixes")
    assert out.code == 3 and out.out == "" and "need a person" in out.err


def test_publish_fault_of_an_inactive_client_is_not_a_revert_problem(cli, db_url):
    """revert publish leaves runs of inactive clients alone (pubtool -revert), so
    neither faults nor czar offer it for them: the fault of the active client's
    run is listed and cleared by the printed fix, the inactive one's is not listed."""
    def build(nb):
        active, inactive = nb.client("MOPS"), nb.client("OLD")
        a = nb.field("OSS", "OSS.A", "OSSR.R20S1.12.Q.w", {v: "ok" for v in (1, 2, 3, 4)})
        d12, d34 = nb.diff(a[1][0], a[2][0]), nb.diff(a[3][0], a[4][0])
        good = nb.publish(active, d12, fault=2)
        nb.publish(active, d34)
        old = nb.publish(inactive, d12, fault=2)
        nb.conn.execute(schema.publishClient.update().where(schema.publishClient.c.client_id == inactive)
                        .values(active=0))
        return good, old

    good, old = _build(db_url, build)
    faults = cli("--db", db_url, "faults", "--stage", "publish", "--components", "--json")
    assert faults.code == 3, faults.err
    ids = {f["id"] for f in faults.json()}
    assert ids == {good}
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    pub = [p for p in rep["problems"] if p["kind"] == "publish_fault"]
    assert [p["id"] for p in pub] == [good], pub
    res = _run_fix(cli, pub[0]["fix"])
    assert res.code == 0, res.err
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    assert not [p for p in rep["problems"] if p["kind"] == "publish_fault"]


def test_czar_lists_the_checks_it_skipped(cli, db_url):
    """The summit gate needs summitExp (the IPP DDL has it, 'db init' does not);
    the stamp backlog's label priorities need the Label table: czar says in its
    JSON which checks it could not make and why, and on stderr in table form."""
    _build(db_url, lambda nb: nb.field("OSS", "OSS.A", "OSSR.R20S1.12.Q.w", {v: "ok" for v in (1, 2, 3, 4)}))
    eng = create_engine(db_url)
    from sqlalchemy import inspect as sa_inspect

    with eng.connect() as conn:
        has_summit = sa_inspect(conn).has_table("summitExp")
        has_label = sa_inspect(conn).has_table("Label")
    eng.dispose()
    rep = cli("--db", db_url, "czar", "--night", N, "--json").json()
    checks = {s["check"]: s["why"] for s in rep["skipped"]}
    assert ("summit_gate" in checks) == (not has_summit)
    assert ("pstamp_label_priority" in checks) == (not has_label)
    if checks:
        r = cli("--db", db_url, "czar", "--night", N)
        for check in checks:
            assert f"skipped {check}: " in r.err
    r = cli("--db", db_url, "--pstamp-db", "sqlite:////nonexistent-dir/x.sqlite", "czar", "--night", N, "--json")
    skipped = {s["check"] for s in json.loads(r.out)["skipped"]}
    assert "pstamp_backlog" in skipped
