"""mopstool definebyquery: the recipes of the requirement notes in one command each."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select

from mopstool.db import schema
from mopstool.ops.demo.synth import Synth

CLASSES = ("XY01", "XY02")


def _exposures(dbs, n=2, **kw):
    with dbs.begin() as conn:
        s = Synth(conn)
        return [s.exposure(dateobs=datetime(2018, 5, 25, 8), class_ids=CLASSES, **kw) for _ in range(n)]


def _chip_runs(dbs):
    cr = schema.chipRun
    with dbs.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(cr).order_by(cr.c.chip_id))]


def test_recipes_with_presets(cli, db_url, dbs):
    a, b = _exposures(dbs)
    # chiptool -dbname gpc1 -definebyquery -set_label PSNSC.wfix.20180525
    #   -set_workdir neb://@HOST@.0/gpc1/PSNSC.wfix.20180525 -set_dist_group NULL -set_tess_id RINGS.V3
    #   -set_end_stage warp -set_reduction SWEETSPOT -set_data_group PSNSC.wfix.20180525.x.date -exp_name X
    r = cli("definebyquery", "--preset", "wfix", "--label-date", "20180525", "--exp-name", a.exp_name,
            "--db", db_url, "--json")
    assert r.code == 0, r.err
    (out,) = r.json()
    assert out == {"chip_id": out["chip_id"], "exp_id": a.exp_id, "exp_name": a.exp_name,
                   "label": "PSNSC.wfix.20180525", "data_group": "PSNSC.wfix.20180525.x.date",
                   "dist_group": None, "workdir": "neb://@HOST@.0/gpc1/PSNSC.wfix.20180525",
                   "reduction": "SWEETSPOT", "tess_id": "RINGS.V3", "end_stage": "warp"}
    assert isinstance(out["chip_id"], int)
    # chiptool -definebyquery -set_label mopsfix -set_workdir neb://@HOST@.0/gpc1/mops.fixbrokenLAP.20180323
    #   ... -set_data_group mops.fixbrokenLAP.20180323 -set_reduction LAP_SCIENCE -exp_name X
    r = cli("definebyquery", "--preset", "lapfix", "--label-date", "2018-03-23", "--exp-name", b.exp_name,
            "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["workdir"] == "neb://@HOST@.0/gpc1/mops.fixbrokenLAP.20180323"
    # mops.nomasktest, exposure names on stdin
    r = cli("definebyquery", "--preset", "nomasktest", "--exp-name", "-", "--db", db_url, "--json",
            input=f"{a.exp_name}\n{b.exp_name}\n")
    assert r.code == 0, r.err
    assert [o["label"] for o in r.json()] == ["mops.nomasktest"] * 2
    rows = _chip_runs(dbs)
    assert [(x["label"], x["data_group"], x["reduction"], x["dist_group"]) for x in rows] == [
        ("PSNSC.wfix.20180525", "PSNSC.wfix.20180525.x.date", "SWEETSPOT", None),
        ("mopsfix", "mops.fixbrokenLAP.20180323", "LAP_SCIENCE", None),
        ("mops.nomasktest", "mops.nomasktest", "NOMASKTEST", None),
        ("mops.nomasktest", "mops.nomasktest", "NOMASKTEST", None)]
    assert "defined 2 chip run(s) with label 'mops.nomasktest'" in r.err


def test_explicit_setters_like_the_c_tool(cli, db_url, dbs):
    (a,) = _exposures(dbs, 1)
    r = cli("definebyquery", "--set-label", "mehtest.nomask", "--set-workdir",
            "neb://@HOST@.0/meh/mehtest.nomask", "--set-data-group", "mehtest.nomask", "--set-dist-group",
            "NULL", "--set-tess-id", "RINGS.V3", "--set-end-stage", "warp", "--set-reduction", "NOMASKTEST",
            "--exp-name", a.exp_name, "--db", db_url, "--format", "csv")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == ("chip_id,exp_id,exp_name,label,data_group,dist_group,workdir,"
                                     "reduction,tess_id,end_stage")
    (row,) = _chip_runs(dbs)
    assert (row["workdir"], row["dist_group"], row["state"]) == (
        "neb://@HOST@.0/meh/mehtest.nomask", None, "new")


def test_exit_codes_dry_run_and_refusals(cli, db_url, dbs, tmp_path):
    chains = _exposures(dbs, 3)
    r = cli("definebyquery", "--preset", "nomasktest", "--exp-name", "o9999g0001o", "--db", db_url)
    assert r.code == 65 and "no exposure matches: o9999g0001o" in r.err
    names = tmp_path / "names.txt"
    names.write_text("\n".join([c.exp_name for c in chains] + ["o9999g0001o"]) + "\n")
    r = cli("definebyquery", "--preset", "nomasktest", "--exp-name", str(names), "--db", db_url,
            "--dry-run", "--json")
    assert r.code == 0, r.err
    assert [o["chip_id"] for o in r.json()] == [None] * 3
    assert "not defined: o9999g0001o: no such exposure" in r.err and "dry run" in r.err
    assert _chip_runs(dbs) == []
    r = cli("definebyquery", "--exp-name", chains[0].exp_name, "--db", db_url)
    assert r.code == 2 and "--set-label is required" in r.err
    r = cli("definebyquery", "--set-label", "x", "--set-workdir", "w", "--db", db_url)
    assert r.code == 2 and "search parameters are required" in r.err
    r = cli("definebyquery", "--preset", "nosuch", "--all", "--db", db_url)
    assert r.code == 2 and "unknown preset" in r.err
    r = cli("definebyquery", "--preset", "nomasktest", "--all", "--stage", "cam", "--db", db_url)
    assert r.code == 2
    # more runs than general.confirm_above without a terminal and without --yes: refused
    cfg = tmp_path / "c.toml"
    cfg.write_text("[general]\nconfirm_above = 2\n")
    r = cli("definebyquery", "--preset", "nomasktest", "--all", "--db", db_url, "--config", str(cfg))
    assert r.code == 2 and "--yes" in r.err and _chip_runs(dbs) == []
    r = cli("definebyquery", "--preset", "nomasktest", "--all", "--db", db_url, "--config", str(cfg),
            "--yes", "--unique")
    assert r.code == 0 and len(_chip_runs(dbs)) == 3
    r = cli("definebyquery", "--preset", "nomasktest", "--all", "--db", db_url, "--unique")
    assert r.code == 0 and r.out == "" and "skipped" in r.err
    with dbs.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.chipImfile)).scalar() == 6


def test_warp_stage_cli(cli, db_url, dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.chain(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["s1"],
                     stop_after="fake", dateobs=datetime(2018, 7, 10, 8))
    args = ("definebyquery", "--stage", "warp", "--exp-name", ch.exp_name, "--set-label", "warp.fix",
            "--set-workdir", "neb://@HOST@.0/gpc1/warp.fix", "--db", db_url, "--json")
    r = cli(*args)
    assert r.code == 0, r.err
    (out,) = r.json()
    assert out["fake_id"] == ch.fake_id and out["label"] == "warp.fix" and out["data_group"] == "OSS.20180710"
    r = cli(*args)
    assert r.code == 0 and r.json() == [] and "already has warp run" in r.err


def test_copies_of_existing_chip_runs(cli, db_url, dbs):
    """--copy / --copy-of-*: chiptool -definecopy's selection through the old chip runs."""
    a, b, c = _exposures(dbs, 3)
    with dbs.begin() as conn:
        s = Synth(conn)
        s.chip(a, label="OSS.nightlyscience", data_group="OSS.20180525", class_ids=CLASSES)
        s.chip(b, label="OSS.nightlyscience", data_group="OSS.20180525", state="new", class_ids=CLASSES)
        s.chip(c, label="MSS.nightlyscience", data_group="MSS.20180525", class_ids=CLASSES)
    with dbs.connect() as conn:
        raw_wd = dict(conn.execute(select(schema.rawExp.c.exp_id, schema.rawExp.c.workdir)).all())
    base = ("definebyquery", "--db", db_url, "--json")
    before = _chip_runs(dbs)
    r = cli(*base, "--copy-of-label", "OSS%", "--copy-of-state", "full", "--set-label", "cp.1", "--dry-run")
    assert r.code == 0, r.err
    assert [(o["chip_id"], o["exp_id"], o["workdir"]) for o in r.json()] == [(None, a.exp_id, raw_wd[a.exp_id])]
    assert "dry run" in r.err and _chip_runs(dbs) == before
    # labels ORed (LIKE), state =; the workdir is rawExp's without --set-workdir
    r = cli(*base, "--copy-of-label", "OSS%", "--copy-of-label", "MSS%", "--copy-of-state", "full",
            "--set-label", "cp.1")
    assert r.code == 0, r.err
    assert [o["exp_id"] for o in r.json()] == [a.exp_id, c.exp_id]
    new = [x for x in _chip_runs(dbs) if x["label"] == "cp.1"]
    assert [(x["exp_id"], x["workdir"], x["data_group"], x["state"]) for x in new] == [
        (e.exp_id, raw_wd[e.exp_id], "cp.1", "new") for e in (a, c)]
    with dbs.connect() as conn:
        n = conn.execute(select(func.count()).select_from(schema.chipImfile)
                         .where(schema.chipImfile.c.chip_id.in_([x["chip_id"] for x in new]))).scalar()
    assert n == 4
    # --copy alone: through any old run; exposures with a cp.1 run are skipped
    r = cli(*base, "--copy", "--all", "--set-label", "cp.3")
    assert r.code == 2 and "more than one old chip run" in r.err, r.err   # a: OSS and cp.1 runs
    assert _chip_runs(dbs) == before + new
    r = cli(*base, "--copy", "--exp-name", b.exp_name, "--exp-name", c.exp_name, "--set-label", "cp.1",
            "--set-workdir", "neb://x/cp.1")
    assert r.code == 0, r.err
    assert [(o["exp_id"], o["workdir"]) for o in r.json()] == [(b.exp_id, "neb://x/cp.1")]
    assert f"skipped: {c.exp_name}: already has chip run" in r.err
    # data_group LIKE
    r = cli(*base, "--copy-of-data-group", "MSS%", "--set-label", "cp.2")
    assert r.code == 0 and [o["exp_id"] for o in r.json()] == [c.exp_id], r.err
    # chip only: refused naming the option, nothing written
    after = _chip_runs(dbs)
    for opt in (["--copy"], ["--copy-of-label", "OSS%"], ["--copy-of-data-group", "OSS%"],
                ["--copy-of-state", "full"]):
        r = cli(*base, *opt, "--stage", "warp", "--set-label", "w", "--set-workdir", "w", "--all")
        assert r.code == 2 and opt[0] in r.err and "--stage warp" in r.err, (opt, r.err)
    assert _chip_runs(dbs) == after
