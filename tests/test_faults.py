"""faults: grouping by code with meanings, counts and runnable fix commands."""

from __future__ import annotations

import shlex
from datetime import date, datetime

from sqlalchemy import select

from mopstool.db import schema
from mopstool.ops.runs.faults import FaultFilter, collect_faults, fix_command, summarize_faults


def fault_summary(dbs, flt):
    return summarize_faults(collect_faults(dbs, flt), flt)
from mopstool.ops.demo.synth import Synth

CLASSES = ("XY01", "XY02", "XY03")
N1 = datetime(2018, 7, 10, 8)


def _setup(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ids = {}
        for k in ("a", "b"):
            ch = s.exposure(dateobs=N1, class_ids=CLASSES)
            ids[k] = s.chip(ch, label="EU.nightlyscience", state="new", class_ids=CLASSES,
                            imfiles={"XY01": {"fault": 2}, "XY02": {"fault": 5 if k == "a" else 0}})
        ch = s.exposure(dateobs=datetime(2018, 7, 9, 8), class_ids=CLASSES)
        ids["gone"] = s.chip(ch, label="ps_ud_MOPS", state="update", data_state="cleaned", class_ids=CLASSES,
                             imfiles={"XY03": {"data_state": "update", "fault": 26}})
        w = s.chain(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["s1", "s2"],
                    dateobs=N1, warp_skyfiles={"s1": {"fault": 4}})
        ids["warp_full"] = w.warp_id
    return ids


def test_summary_groups_and_fix_commands(dbs):
    ids = _setup(dbs)
    rows = collect_faults(dbs)
    # collect_faults and fix_command keep their shapes
    assert {r["fix"] for r in rows if r["fault"] == 26} == {f"mopstool fixbroken --chip-id {ids['gone']}"}
    assert fix_command("chip", 5, "new", 2) == "mopstool revert chip --id 5"
    groups = summarize_faults(rows)
    by = {(g["stage"], g["fault"]): g for g in groups}
    g2 = by[("chip", 2)]
    assert (g2["components"], g2["runs"], g2["kind"]) == (2, 2, "revert")
    assert g2["meaning"].startswith("SYS")
    assert g2["fix"] == f"mopstool revert chip --fault 2 --id {ids['a']} --id {ids['b']}"
    assert by[("chip", 5)]["fix"] == f"mopstool revert chip --fault 5 --id {ids['a']}"
    assert by[("chip", 26)]["kind"] == "fixbroken"
    assert by[("chip", 26)]["fix"] == f"mopstool fixbroken --chip-id {ids['gone']}"
    assert by[("warp", 4)]["kind"] == "inspect"
    assert by[("warp", 4)]["fix"] == f"mopstool show warp {ids['warp_full']}"
    assert [g["stage"] for g in groups] == ["chip", "chip", "chip", "warp"]
    # filters: night, label, stage, fault
    night = fault_summary(dbs, FaultFilter(night=date(2018, 7, 10)))
    assert {(g["stage"], g["fault"]) for g in night} == {("chip", 2), ("chip", 5), ("warp", 4)}
    lab = fault_summary(dbs, FaultFilter(labels=["ps_ud%"]))
    assert [(g["stage"], g["fault"]) for g in lab] == [("chip", 26)]
    only = fault_summary(dbs, FaultFilter(stages=("warp",)))
    assert [(g["stage"], g["fault"]) for g in only] == [("warp", 4)]
    assert fault_summary(dbs, FaultFilter(faults=[5]))[0]["components"] == 1


def test_many_runs_use_the_filters_in_the_fix():
    rows = [{"stage": "chip", "id": i, "component": "XY01", "fault": 2, "state": "new", "label": "L",
             "fix": f"mopstool revert chip --id {i}"} for i in range(20)]
    (g,) = summarize_faults(rows, FaultFilter(night=date(2018, 7, 10), labels=["it's"]))
    assert g["fix"] == "mopstool revert chip --fault 2 --night 2018-07-10 --label 'it'\"'\"'s'"
    assert shlex.split(g["fix"])[-1] == "it's"
    (g,) = summarize_faults(rows)
    assert g["fix"] == "mopstool revert chip --fault 2 --all" and len(g["ids"]) == 20


def test_faults_cli_and_running_the_fix(cli, db_url, dbs):
    ids = _setup(dbs)
    r = cli("faults", "--db", db_url, "--json")
    assert r.code == 3, r.err          # faults found: exit 3 as czar
    assert "error:" not in r.err and "faulted component" in r.err
    groups = r.json()
    fix = next(g["fix"] for g in groups if g["stage"] == "chip" and g["fault"] == 2)
    r = cli(*shlex.split(fix)[1:], "--db", db_url)
    assert r.code == 0, r.err
    with dbs.connect() as conn:
        cpi = schema.chipProcessedImfile
        left = conn.execute(select(cpi.c.chip_id).where(cpi.c.fault == 2)).scalars().all()
    assert left == []
    r = cli("faults", "--db", db_url, "--components", "--json", "--stage", "chip")
    assert {(c["id"], c["component"]) for c in r.json()} == {(ids["a"], "XY02"), (ids["gone"], "XY03")}
    r = cli("faults", "--db", db_url, "--night", "2018-07-11")
    assert r.code == 0 and r.out == "" and "no faulted components" in r.err
    r = cli("faults", "--db", db_url, "--stage", "nosuch")
    assert r.code == 2
