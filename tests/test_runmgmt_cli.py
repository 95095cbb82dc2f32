"""mopstool updaterun / setupdate / revert from the command line."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from mopstool.db import schema
from mopstool.ops.demo.synth import Synth

CLASSES = ("XY32", "XY33", "XY34")


def _setup(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.chain(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["s1", "s2"],
                     dateobs=datetime(2018, 7, 10, 8))
        ex = s.exposure(dateobs=datetime(2018, 7, 9, 8), class_ids=CLASSES)
        gone = s.chip(ex, label="ps_ud_MOPS", state="update", data_state="cleaned", class_ids=CLASSES,
                      imfiles={"XY33": {"data_state": "update", "fault": 26}})
    return ch, gone


def _row(dbs, table, **where):
    t = schema.table(table)
    with dbs.connect() as conn:
        q = select(t)
        for k, v in where.items():
            q = q.where(t.c[k] == v)
        return [dict(r._mapping) for r in conn.execute(q)]


def test_goto_cleaned_recipe(cli, db_url, dbs):
    ch, _ = _setup(dbs)
    # chiptool -updaterun -set_state goto_cleaned -set_label goto_cleaned -chip_id X (and warptool)
    for stage, table, col, rid in (("chip", "chipRun", "chip_id", ch.chip_id),
                                   ("warp", "warpRun", "warp_id", ch.warp_id)):
        r = cli("updaterun", stage, "--id", rid, "--set-state", "goto_cleaned", "--set-label", "goto_cleaned",
                "--db", db_url)
        assert r.code == 0, r.err
        (row,) = _row(dbs, table, **{col: rid})
        assert (row["state"], row["label"]) == ("goto_cleaned", "goto_cleaned")
        assert f"updated {table} 1" in r.err


def test_updaterun_cli_refusals_and_dry_run(cli, db_url, dbs):
    ch, _ = _setup(dbs)
    r = cli("updaterun", "chip", "--state", "full", "--set-state", "goto_cleaned", "--db", db_url)
    assert r.code == 2 and "--state alone" in r.err and r.err.count("\n") == 1
    r = cli("updaterun", "chip", "--id", ch.chip_id, "--db", db_url)
    assert r.code == 2 and "needs a setter" in r.err
    r = cli("updaterun", "chip", "--id", ch.chip_id, "--set-state", "gone", "--db", db_url)
    assert r.code == 2 and "invalid state" in r.err
    r = cli("updaterun", "publish", "--id", "1", "--set-state", "full", "--db", db_url)
    assert r.code == 2
    r = cli("updaterun", "chip", "--label", "OSS%", "--set-state", "drop", "--db", db_url, "--dry-run",
            "--json")
    assert r.code == 0 and r.json()["rows"] == {"chipRun": 1} and r.json()["sample"][0]["new_state"] == "drop"
    assert _row(dbs, "chipRun", chip_id=ch.chip_id)[0]["state"] == "full"
    r = cli("updaterun", "diff", "--label", "nomatch", "--set-state", "drop", "--db", db_url)
    assert r.code == 0 and "no diff run matches" in r.err


def test_setupdate_cli_reports_fault_26(cli, db_url, dbs):
    _, gone = _setup(dbs)
    # chiptool -setimfiletoupdate -set_label ps_ud_WEB -chip_id X
    r = cli("setupdate", "chip", "--chip-id", gone, "--set-label", "ps_ud_WEB", "--db", db_url)
    assert r.code == 0, r.err
    assert f"chip_id {gone}: XY33: fault 26, gone — use --fault 26 to force" in r.err
    rows = {x["class_id"]: x for x in _row(dbs, "chipProcessedImfile", chip_id=gone)}
    assert (rows["XY32"]["data_state"], rows["XY33"]["fault"]) == ("update", 26)
    assert _row(dbs, "chipRun", chip_id=gone)[0]["label"] == "ps_ud_WEB"
    r = cli("setupdate", "chip", "--chip-id", gone, "--class-id", "XY33", "--fault", "26", "--db", db_url,
            "--json")
    assert r.code == 0, r.err
    assert r.json()["components"][0]["action"] == "clear_fault"
    assert _row(dbs, "chipProcessedImfile", chip_id=gone, class_id="XY33")[0]["fault"] == 0
    r = cli("setupdate", "chip", "--chip-id", gone, "--fault", "5", "--db", db_url)
    assert r.code == 2
    r = cli("setupdate", "warp", "--chip-id", gone, "--db", db_url)
    assert r.code == 2 and "--warp-id" in r.err
    r = cli("setupdate", "warp", "--warp-id", "42", "--db", db_url)
    assert r.code == 65


def test_setupdate_warp_skycell_and_goto_cleaned(cli, db_url, dbs):
    ch, _ = _setup(dbs)
    r = cli("updaterun", "warp", "--id", ch.warp_id, "--set-state", "goto_cleaned", "--db", db_url)
    assert r.code == 0
    with dbs.begin() as conn:
        ws = schema.warpSkyfile
        conn.execute(ws.update().where(ws.c.warp_id == ch.warp_id, ws.c.skycell_id == "s1")
                     .values(data_state="cleaned"))
    r = cli("setupdate", "warp", "--warp-id", ch.warp_id, "--skycell-id", "s1", "--set-label", "ps_ud_WEB",
            "--db", db_url)
    assert r.code == 0 and "--from-goto-cleaned" in r.err
    r = cli("setupdate", "warp", "--warp-id", ch.warp_id, "--skycell-id", "s1", "--set-label", "ps_ud_WEB",
            "--from-goto-cleaned", "--db", db_url, "--dry-run")
    assert r.code == 0 and _row(dbs, "warpRun", warp_id=ch.warp_id)[0]["state"] == "goto_cleaned"
    r = cli("setupdate", "warp", "--warp-id", ch.warp_id, "--skycell-id", "s1", "--set-label", "ps_ud_WEB",
            "--from-goto-cleaned", "--db", db_url)
    assert r.code == 0, r.err
    run = _row(dbs, "warpRun", warp_id=ch.warp_id)[0]
    assert (run["state"], run["label"]) == ("update", "ps_ud_WEB")
    sky = {x["skycell_id"]: x["data_state"] for x in _row(dbs, "warpSkyfile", warp_id=ch.warp_id)}
    assert sky == {"s1": "update", "s2": "full"}


def test_revert_cli(cli, db_url, dbs):
    _, gone = _setup(dbs)
    r = cli("revert", "chip", "--db", db_url)
    assert r.code == 2 and "needs a selector" in r.err
    r = cli("revert", "chip", "--label", "ps_ud%", "--db", db_url)
    assert r.code == 0 and "fault 26 (gone) left alone" in r.err and "nothing to revert" in r.err
    r = cli("revert", "chip", "--label", "ps_ud%", "--fault", "26", "--db", db_url, "--dry-run", "--json")
    assert r.code == 0 and r.json()["rows"] == {"chipProcessedImfile": 1}
    assert _row(dbs, "chipProcessedImfile", chip_id=gone, class_id="XY33")[0]["fault"] == 26
    r = cli("revert", "chip", "--id", gone, "--fault", "26", "--db", db_url)
    assert r.code == 0 and "reverted: chipProcessedImfile 1" in r.err
    assert _row(dbs, "chipProcessedImfile", chip_id=gone, class_id="XY33")[0]["fault"] == 0
