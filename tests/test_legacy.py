"""The legacy front: every recipe of the requirement notes runs unchanged after
the word ``mopstool`` and has the same database effect as the modern command."""

from __future__ import annotations

import os
import shlex

import pytest
from sqlalchemy import create_engine, select, text, update

from conftest import scratch_copies, table_contents
from mopstool.db import schema
from mopstool.legacy import modes as legacy

# (legacy recipe with placeholders, modern command) — the recipes as written in
# the PSNSC MOPS requirement notes, XXXXX replaced by real ids at run time.
RECIPES = [
    ("chiptool -definebyquery -set_label mehtest.nomask -set_workdir neb://@HOST@.0/meh/mehtest.nomask "
     "-set_data_group mehtest.nomask -set_dist_group NULL -set_tess_id RINGS.V3 -set_end_stage warp "
     "-set_reduction NOMASKTEST -dbname gpc1 -exp_name {exp_name}",
     "definebyquery --preset mehtest --exp-name {exp_name}"),
    ("chiptool -definebyquery -set_label mops.nomasktest -set_workdir neb://@HOST@.0/gpc1/mops.nomasktest "
     "-set_data_group mops.nomasktest -set_dist_group NULL -set_tess_id RINGS.V3 -set_end_stage warp "
     "-set_reduction NOMASKTEST -dbname gpc1 -exp_name {exp_name}",
     "definebyquery --preset nomasktest --exp-name {exp_name}"),
    ("chiptool -dbname gpc1 -definebyquery -set_label PSNSC.wfix.20180525 "
     "-set_workdir neb://@HOST@.0/gpc1/PSNSC.wfix.20180525 -set_dist_group NULL -set_tess_id RINGS.V3 "
     "-set_end_stage warp -set_reduction SWEETSPOT -set_data_group PSNSC.wfix.20180525.x.date "
     "-exp_name {exp_name}",
     "definebyquery --preset wfix --label-date 20180525 --exp-name {exp_name}"),
    ("chiptool -dbname gpc1 -definebyquery -set_label mopsfix "
     "-set_workdir neb://@HOST@.0/gpc1/mops.fixbrokenLAP.20180323 -set_dist_group NULL "
     "-set_tess_id RINGS.V3 -set_end_stage warp -set_data_group mops.fixbrokenLAP.20180323 "
     "-set_reduction LAP_SCIENCE -exp_name {exp_name}",
     "definebyquery --preset lapfix --label-date 20180323 --exp-name {exp_name}"),
    ("chiptool -dbname gpc1 -updaterun -set_state goto_cleaned -set_label goto_cleaned -chip_id {chip_id}",
     "updaterun chip --id {chip_id} --set-state goto_cleaned --set-label goto_cleaned"),
    ("warptool -dbname gpc1 -updaterun -set_state goto_cleaned -set_label goto_cleaned -warp_id {warp_id}",
     "updaterun warp --id {warp_id} --set-state goto_cleaned --set-label goto_cleaned"),
    ("chiptool -dbname gpc1 -setimfiletoupdate -set_label ps_ud_WEB -chip_id {cleaned_chip}",
     "setupdate chip --chip-id {cleaned_chip} --set-label ps_ud_WEB"),
    ("warptool -dbname gpc1 -setskyfiletoupdate -set_label ps_ud_WEB -warp_id {cleaned_warp}",
     "setupdate warp --warp-id {cleaned_warp} --set-label ps_ud_WEB"),
    ("pstamptool -dbname ippRequestServer -dbserver ipp113 -updatereq -set_state stop -req_id {run_req}",
     "pstamp-req stop {run_req}"),
    ("pstamptool -dbname ippRequestServer -dbserver ipp113 -updatereq -set_state goto_cleaned "
     "-req_id {stop_req}",
     "pstamp-req clean {stop_req} --yes"),
]

COMPARED = {
    "chipRun": "chip_id", "chipImfile": "chip_id, class_id",
    "chipProcessedImfile": "chip_id, class_id", "warpRun": "warp_id",
    "warpSkyfile": "warp_id, skycell_id", "pstampRequest": "req_id",
}


def _dump(url: str) -> dict:
    return table_contents(url, COMPARED)


def _ids(url: str) -> dict[str, object]:
    eng = create_engine(url)
    with eng.begin() as conn:
        raw, cr, wr = schema.rawExp, schema.chipRun, schema.warpRun
        ws, req = schema.warpSkyfile, schema.pstampRequest
        exp_name = conn.execute(select(raw.c.exp_name).where(raw.c.comment.like("MSS%visit 1"))
                                .order_by(raw.c.exp_id)).scalars().first()
        chip_id = conn.execute(select(cr.c.chip_id).where(cr.c.state == "full")
                               .order_by(cr.c.chip_id)).scalars().first()
        warp_id = conn.execute(select(wr.c.warp_id).where(wr.c.state == "full")
                               .order_by(wr.c.warp_id)).scalars().first()
        cleaned_chip = conn.execute(select(cr.c.chip_id).where(cr.c.state == "cleaned")
                                    .order_by(cr.c.chip_id)).scalars().first()
        cleaned_warp = conn.execute(select(wr.c.warp_id).where(wr.c.state == "full")
                                    .order_by(wr.c.warp_id.desc())).scalars().first()
        # a warp that went through cleanup (the demo keeps every warp)
        conn.execute(update(wr).where(wr.c.warp_id == cleaned_warp).values(state="cleaned"))
        conn.execute(update(ws).where(ws.c.warp_id == cleaned_warp).values(data_state="cleaned"))
        run_req = conn.execute(select(req.c.req_id).where(req.c.state == "run")
                               .order_by(req.c.req_id)).scalars().first()
        stop_req = conn.execute(select(req.c.req_id).where(req.c.state == "stop")
                                .order_by(req.c.req_id)).scalars().first()
    eng.dispose()
    return dict(exp_name=exp_name, chip_id=chip_id, warp_id=warp_id, cleaned_chip=cleaned_chip,
                cleaned_warp=cleaned_warp, run_req=run_req, stop_req=stop_req)


@pytest.fixture
def two_demo_dbs(request, db_url):
    """Two identical demo databases: one for the legacy recipes, one for the modern commands."""
    return scratch_copies(request, 2)


def test_every_recipe_of_the_notes_matches_the_modern_command(cli, two_demo_dbs, monkeypatch):
    legacy_url, modern_url = two_demo_dbs
    ids = _ids(legacy_url)
    assert ids == _ids(modern_url)
    assert all(v is not None for v in ids.values()), ids
    assert _dump(legacy_url) == _dump(modern_url)
    for recipe, modern in RECIPES:
        lr, mr = recipe.format(**ids), modern.format(**ids)
        before = _dump(legacy_url)
        monkeypatch.setenv("MOPSTOOL_DB", legacy_url)
        monkeypatch.setenv("MOPSTOOL_PSTAMP_DB", legacy_url)
        r = cli(*shlex.split(lr))
        assert r.code == 0, (lr, r.err)
        assert "# modern equivalent: mopstool " in r.err
        monkeypatch.setenv("MOPSTOOL_DB", modern_url)
        monkeypatch.setenv("MOPSTOOL_PSTAMP_DB", modern_url)
        r = cli(*shlex.split(mr))
        assert r.code == 0, (mr, r.err)
        after_legacy, after_modern = _dump(legacy_url), _dump(modern_url)
        assert after_legacy == after_modern, lr
        assert after_legacy != before, f"recipe changed nothing: {lr}"


def test_definebyquery_recipe_rows_are_what_chiptool_inserts(cli, two_demo_dbs, monkeypatch):
    url = two_demo_dbs[0]
    ids = _ids(url)
    monkeypatch.setenv("MOPSTOOL_DB", url)
    r = cli(*shlex.split(RECIPES[1][0].format(**ids)))
    assert r.code == 0, r.err
    assert r.out == ""   # chiptool -definebyquery prints nothing
    eng = create_engine(url)
    with eng.connect() as conn:
        cr = schema.chipRun
        run = conn.execute(select(cr).where(cr.c.label == "mops.nomasktest")).one()._mapping
        n_imf = conn.execute(text("SELECT COUNT(*) FROM chipImfile WHERE chip_id = :c"),
                             {"c": run["chip_id"]}).scalar()
    eng.dispose()
    assert run["state"] == "new" and run["workdir_state"] == "dirty" and run["update_mode"] == 0
    assert run["workdir"] == "neb://@HOST@.0/gpc1/mops.nomasktest"
    assert run["data_group"] == "mops.nomasktest" and run["dist_group"] is None
    assert (run["reduction"], run["tess_id"], run["end_stage"]) == ("NOMASKTEST", "RINGS.V3", "warp")
    assert n_imf == 60


def test_listing_modes_and_output_formats(cli, two_demo_dbs, monkeypatch):
    url = two_demo_dbs[0]
    monkeypatch.setenv("MOPSTOOL_DB", url)
    r = cli("chiptool", "-listrun", "-state", "new", "-dbname", "gpc1")
    assert r.code == 0, r.err
    assert r.out.count("chipRun  METADATA") == 1 and "\n   cam_id           S64       9223372036854775807\n" in r.out
    r = cli("warptool", "-listrun", "-label", "OSS%", "-label", "MSS%", "-state", "new", "-simple")
    assert r.code == 0
    line = r.out.strip().splitlines()
    assert len(line) == 1 and "OSS.nightlyscience" in line[0] and " new " in line[0]
    r = cli("difftool", "-listrun", "-label", "ESS%", "-state", "new")
    assert r.code == 0 and "diffRun  METADATA" in r.out and "exp_name_2" in r.out
    r = cli("warptool", "-listrun", "-label", "OSS%")
    assert r.out.startswith("warpRun MULTI\n")
    r = cli("chiptool", "-pendingcleanuprun", "-label", "goto_cleaned")
    assert r.code == 0 and r.out == ""
    monkeypatch.setenv("MOPSTOOL_PSTAMP_DB", url)
    r = cli("pstamptool", "-dbname", "ippRequestServer", "-listreq", "-label", "QUB", "-state", "new",
            "-limit", "2", "-simple")
    assert r.code == 0 and len(r.out.strip().splitlines()) == 2
    r = cli("pstamptool", "-listreq", "-name", "nothing%")
    assert r.code == 3   # pstamptool: PXTOOLS_ERR_CONFIG "request not found"


def test_bad_legacy_calls(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("MOPSTOOL_DB", f"sqlite:///{tmp_path}/x.sqlite")
    cases = [
        (["chiptool", "-chip_id", "5"], "exactly one mode"),
        (["chiptool", "-listrun", "-updaterun", "-chip_id", "5"], "only one mode"),
        (["chiptool", "-pendingimfile", "-all"], "not supported"),
        (["chiptool", "-listrun", "-bogus", "1"], "unknown option -bogus"),
        (["chiptool", "-listrun", "-all", "-limit", "1", "-limit", "2"], "given twice"),
        (["chiptool", "-listrun", "-chip_id", "abc"], "invalid value"),
        (["chiptool", "-listrun", "-chip_id"], "needs a value"),
        (["chiptool", "-listrun", "-all", "extra"], "extra arguments"),
        (["chiptool", "-listrun", "-all", "-dbpassword", "pw"], "passwords never go on the command line"),
        (["difftool", "-definebyquery"], "supported modes: -updaterun"),
    ]
    for args, msg in cases:
        r = cli(*args)
        assert r.code == 3, (args, r.err)   # the C tools' PXTOOLS_ERR_CONFIG
        assert msg in r.err, (args, r.err)


def test_dbname_and_dbserver_resolution(tmp_path, isolated_home):
    from mopstool.config import load_config

    cfg_file = tmp_path / "c.toml"
    cfg_file.write_text('[database.ippRequestServer]\nurl = "mysql+pymysql://ipp@ipp114/ippRequestServer"\n'
                        '[database.gpc1]\nurl = "sqlite:////tmp/g.sqlite"\n')
    cfg = load_config(cfg_file, env={"HOME": str(isolated_home)})
    call = legacy.parse("pstamptool", ["-dbname", "ippRequestServer", "-dbserver", "ipp113",
                                       "-listreq", "-req_id", "1"])
    url, source = legacy.resolve_url(cfg, call, None)
    assert url == "mysql+pymysql://ipp@ipp113/ippRequestServer" and "ippRequestServer" in source
    call = legacy.parse("chiptool", ["-dbname", "gpc1", "-listrun", "-all"])
    assert legacy.resolve_url(cfg, call, None)[0] == "sqlite:////tmp/g.sqlite"
    assert legacy.resolve_url(cfg, call, "sqlite:///x")[0] == "sqlite:///x"
    rc = isolated_home / ".ipprc"
    rc.write_text("DBSERVER STR ippdb01\nDBUSER STR ipp\nDBNAME STR gpc1\n")
    cfg = load_config(None, env={"HOME": str(isolated_home)})
    call = legacy.parse("chiptool", ["-dbname", "gpc1", "-dbserver", "ippdb03", "-listrun", "-all"])
    assert legacy.resolve_url(cfg, call, None)[0] == "mysql+pymysql://ipp@ippdb03/gpc1"


def test_modern_equivalents():
    c = legacy.parse("chiptool", shlex.split(RECIPES[4][0].format(chip_id=7))[1:])
    assert legacy.modern_equivalent(c) == ("mopstool updaterun chip --id 7 --set-state goto_cleaned "
                                           "--set-label goto_cleaned --yes")
    c = legacy.parse("pstamptool", shlex.split(RECIPES[8][0].format(run_req=9))[1:])
    assert legacy.modern_equivalent(c) == ("mopstool pstamp-req update --id 9 --set-state stop "
                                           "--as-pstamptool --yes")
    c = legacy.parse("warptool", shlex.split(RECIPES[7][0].format(cleaned_warp=3))[1:])
    assert legacy.modern_equivalent(c) == ("mopstool setupdate warp --warp-id 3 --set-label ps_ud_WEB "
                                           "--yes")
    c = legacy.parse("chiptool", ["-definecopy", "-label", "OSS%", "-label", "MSS%", "-data_group", "OSS.2018%",
                                  "-state", "full", "-filter", "w%", "-set_label", "cp", "-pretend"])
    assert legacy.modern_equivalent(c) == (
        "mopstool definebyquery --copy --copy-of-label OSS% --copy-of-label MSS% --copy-of-data-group OSS.2018% "
        "--copy-of-state full --filter w% --set-label cp --dry-run")
