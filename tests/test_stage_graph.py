"""The stage graph: a new stage registered in one place shows up in every command
that asks the registry (runs, show, faults, revert, updaterun, cleanup and its
holds, fixbroken, the downstream-active check), on SQLite and MariaDB."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from sqlalchemy import create_engine, insert, select

from mopstool.db import schema
from mopstool.errors import UsageError
from mopstool.ops.demo.synth import Synth
from mopstool.stages import (STAGES, CAPABILITIES, Input, Stage, State, get_stage, register,
                             stages_that, unregister)
from mopstool.stages.joins import RunFilter, chain_join, downstream_active, exposure_chain, run_conditions

N1 = datetime(2018, 7, 10, 8)


# ---------------------------------------------------------------------- the registry

def test_stage_lists_come_from_the_registry():
    assert stages_that("revert") == ("chip", "cam", "fake", "warp", "stack", "diff", "publish")
    assert stages_that("setupdate") == ("chip", "warp", "diff")
    assert stages_that("faults") == ("chip", "cam", "fake", "warp", "stack", "diff", "publish")
    assert stages_that("cleanup") == ("chip", "cam", "warp", "diff")
    assert stages_that("block") == ("chip", "cam", "fake", "warp")
    assert stages_that("define") == ("chip", "warp")
    assert stages_that("drop") == ("chip",)
    assert stages_that("runs", pstamp_db=True) == ("pstamp-request", "pstamp-job", "pstamp-dependent")
    with pytest.raises(ValueError, match="unknown stage capability"):
        stages_that("revrt")
    with pytest.raises(UsageError, match="choose one of: chip, warp, diff"):
        get_stage("cam", capability="setupdate")


def test_graph_links_and_derived_exposure_paths():
    assert STAGES["warp"].upstream == ("fake",) and STAGES["warp"].downstream == ("stack", "diff")
    assert STAGES["chip"].downstream == ("cam",)
    # derived from the inputs: warp -> fake -> cam -> chip -> rawExp
    assert [link.to_table for link in STAGES["warp"].exposure_path] == [
        "fakeRun", "camRun", "chipRun", "rawExp"]
    assert STAGES["warp"].flat_exposure and not STAGES["diff"].flat_exposure
    assert not STAGES["stack"].exposure_path  # a stack has many exposures: --night does not apply


def test_state_vocabulary_and_transitions():
    chip = STAGES["chip"]
    assert chip.validate_state("goto_cleaned") is State.GOTO_CLEANED
    with pytest.raises(UsageError, match="invalid state 'bogus' for stage chip"):
        chip.validate_state("bogus")
    assert chip.allows("full", "goto_cleaned") and chip.allows("cleaned", "update")
    assert not chip.allows("new", "cleaned")
    with pytest.raises(UsageError, match="cannot move"):
        chip.check_transition("new", "purged")
    req = STAGES["pstamp-request"]
    assert req.validate_state("stop") == "stop"
    with pytest.raises(UsageError, match="invalid state 'full' for stage pstamp-request"):
        req.validate_state("full")
    assert req.allows("stop", "goto_cleaned") and not req.allows("new", "cleaned")
    assert set(CAPABILITIES) >= {"runs", "revert", "cleanup", "faults"}


# ---------------------------------------------------------------------- a new stage

SKYCAL = Stage(
    name="skycal", run_table="skycalRun", id_col="skycal_id",
    component_table="skycalResult", component_key=("skycell_id",),
    inputs=(Input("warp", "skycalRun", "skycal_id", "warp_id"),),
    capabilities=frozenset({"runs", "faults", "revert", "updaterun", "cleanup", "fixbroken"}),
    description="sky calibration of a warp (test stage)",
)


def _registered(db_url, stage):
    """Register *stage* (a skycal) and make its tables; undone afterwards."""
    run = schema._table(schema.gpc1, "skycalRun", """
skycal_id BIGINT AI
warp_id BIGINT
state V64
label V64
data_group V64
dist_group V64
note V255
""", pk=("skycal_id",), keys=("warp_id", "state", "label"))
    res = schema._table(schema.gpc1, "skycalResult", """
skycal_id BIGINT
skycell_id V64
data_state V64
quality SMALLINT d=0
fault SMALLINT NN d=0
""", pk=("skycal_id", "skycell_id"), keys=("fault",))
    eng = create_engine(db_url)
    with eng.begin() as conn:
        for t in (run, res):
            t.drop(conn, checkfirst=True)
            t.create(conn)
    # a command's help names the stages of a capability when the command is
    # built (once per process): build every command before the test stage
    # exists, so that no help text (and no man page generated later in the
    # session) names skycal
    import click

    from mopstool.cli.main import root_command

    root = root_command()
    ctx = click.Context(root)
    for name in root.list_commands(ctx):
        root.get_command(ctx, name)
    stage = register(stage)
    try:
        yield stage
    finally:
        unregister("skycal")
        with eng.begin() as conn:
            for t in (res, run):
                t.drop(conn, checkfirst=True)
        for t in (res, run):
            schema.gpc1.remove(t)
        eng.dispose()


@pytest.fixture
def skycal(db_url):
    """The skycal stage, registered in one place, and its tables (made by the test)."""
    yield from _registered(db_url, SKYCAL)


@pytest.fixture
def nightly_skycal(db_url):
    """skycal as a stage of the nightly chain: its faults are the czar's, its runs counted."""
    yield from _registered(db_url, replace(SKYCAL, capabilities=SKYCAL.capabilities | {"nightly",
                                                                                        "nightfaults"}))


def _skycal_data(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.chain(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["skycell.1"],
                     dateobs=N1)
        conn.execute(insert(schema.table("skycalRun")), [
            dict(skycal_id=1, warp_id=ch.warp_id, state="new", label="OSS.nightlyscience",
                 data_group="OSS.20180710"),
            dict(skycal_id=2, warp_id=ch.warp_id, state="full", label="OSS.nightlyscience",
                 data_group="OSS.20180710")])
        conn.execute(insert(schema.table("skycalResult")), [
            dict(skycal_id=1, skycell_id="skycell.1", data_state="full", quality=0, fault=2),
            dict(skycal_id=1, skycell_id="skycell.2", data_state="full", quality=0, fault=0),
            dict(skycal_id=2, skycell_id="skycell.1", data_state="full", quality=0, fault=5)])
    return ch


def test_a_registered_stage_shows_up_everywhere(skycal, cli, db_url, dbs):
    ch = _skycal_data(dbs)
    assert "skycal" in stages_that("revert") and "skycal" in stages_that("cleanup")
    assert STAGES["warp"].downstream == ("stack", "diff", "skycal")

    # runs: listed with the exposure found through warp -> ... -> rawExp, --night works
    r = cli("runs", "skycal", "--night", "2018-07-10", "--db", db_url, "--json")
    assert r.code == 0, r.err
    rows = r.json()
    assert [x["skycal_id"] for x in rows] == [2, 1]
    assert rows[0]["warp_id"] == ch.warp_id and rows[0]["exp_name"] == ch.exp_name
    assert rows[1]["components"] == 2 and rows[1]["faulted"] == 1
    assert cli("runs", "skycal", "--night", "2018-07-11", "--db", db_url, "--json").json() == []

    # show: the run, its exposure and components with fault meanings
    r = cli("show", "skycal", "1", "--db", db_url, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["exposure"]["exp_name"] == ch.exp_name
    assert [c["skycell_id"] for c in d["components"]] == ["skycell.1", "skycell.2"]
    assert d["components"][0]["fault_meaning"].startswith("SYS")

    # faults: both faulted results, with the fix command for the new run (revert) and
    # the full one (show)
    r = cli("faults", "--components", "--stage", "skycal", "--db", db_url, "--json")
    assert r.code == 3, r.err
    fixes = {(x["id"], x["fault"]): x["fix"] for x in r.json()}
    assert fixes == {(1, 2): "mopstool revert skycal --id 1", (2, 5): "mopstool show skycal 2"}
    everything = cli("faults", "--db", db_url, "--json").json()
    assert {g["stage"] for g in everything} == {"skycal"}

    # revert: the printed fix runs as printed and deletes the faulted result of the new run
    r = cli(*"revert skycal --id 1".split(), "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["rows"] == {"skycalResult": 1}
    with dbs.connect() as conn:
        left = conn.execute(select(schema.table("skycalResult").c.skycal_id,
                                   schema.table("skycalResult").c.skycell_id)).all()
    assert sorted(left) == [(1, "skycell.2"), (2, "skycell.1")]

    # updaterun: any state of the vocabulary; --night through the derived path
    r = cli("updaterun", "skycal", "--night", "2018-07-10", "--set-state", "goto_cleaned",
            "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["rows"] == {"skycalRun": 2}
    r = cli("updaterun", "skycal", "--id", "1", "--set-state", "finished", "--db", db_url)
    assert r.code == 2 and "invalid state 'finished' for stage skycal" in r.err

    # a stage without the capability is refused by the registry, naming the choices
    r = cli("setupdate", "skycal", "--id", "1", "--db", db_url)
    assert r.code == 2 and "choose one of: chip, warp, diff" in r.err


def test_cleanup_and_fixbroken_pick_up_a_registered_stage(skycal, cli, db_url, dbs, tmp_path):
    """cleanup cleans the new stage's old runs and holds the warps a skycal run
    still reads; fixbroken finds its gone results and the exposure behind them."""
    ch = _skycal_data(dbs)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text("[retention]\nskycal = 1\nwarp = 1\n")
    base = ("cleanup", "--db", db_url, "--config", str(cfg), "--as-of", "2018-07-12")
    r = cli(*base, "--stage", "skycal", "--stage", "warp", "--dry-run", "--show-held", "--json")
    assert r.code == 0, r.err
    plan = r.json()
    assert [(g["stage"], g["night"], g["runs"], g["held"]) for g in plan["groups"]] == [
        ("warp", "2018-07-10", 0, 1), ("skycal", "2018-07-10", 1, 0)]
    assert [(h["stage"], h["id"], h["reason"]) for h in plan["held"]] == [
        ("warp", ch.warp_id, "downstream run still processing")]
    r = cli(*base, "--status", "--json")
    assert r.code == 0, r.err
    assert any(x["stage"] == "skycal" and x["state"] == "full" and x["runs"] == 1 for x in r.json())
    r = cli(*base, "--yes", "--json")
    assert r.code == 0, r.err
    run = schema.table("skycalRun")
    with dbs.connect() as conn:
        states = dict(conn.execute(select(run.c.skycal_id, run.c.state)).all())
    assert states == {1: "new", 2: "goto_cleaned"}

    res = schema.table("skycalResult")
    with dbs.begin() as conn:
        conn.execute(res.update().where(res.c.skycal_id == 1, res.c.skycell_id == "skycell.2")
                     .values(fault=26))
    r = cli("fixbroken", "--db", db_url, "--dry-run", "--json")
    assert r.code == 0, r.err
    (row,) = r.json()
    assert row["exp_id"] == ch.exp_id and row["exp_name"] == ch.exp_name
    assert [(b["stage"], b["id"], b["components"]) for b in row["broken"]] == [
        ("skycal", 1, ["skycell.2"])]


def test_downstream_active_follows_the_graph(skycal, dbs):
    ch = _skycal_data(dbs)
    with dbs.connect() as conn:
        # skycal run 1 is 'new': the warp run (and so its chip, cam, fake runs) is still read
        assert downstream_active(conn, "warp", [ch.warp_id]) == {ch.warp_id}
        assert downstream_active(conn, "chip", [ch.chip_id]) == {ch.chip_id}
    with dbs.begin() as conn:
        conn.execute(schema.table("skycalRun").update().values(state="full"))
    with dbs.connect() as conn:
        assert downstream_active(conn, "warp", [ch.warp_id]) == set()
        assert downstream_active(conn, "chip", [ch.chip_id]) == set()


def test_run_conditions_use_the_registered_path(skycal, dbs):
    _skycal_data(dbs)
    run = schema.table("skycalRun")
    with dbs.connect() as conn:
        ids = conn.execute(select(run.c.skycal_id).where(
            *run_conditions(skycal, RunFilter(night=date(2018, 7, 10), states=["new"])))).scalars().all()
    assert ids == [1]


def test_chain_joins_in_both_directions(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = s.chain(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=["s1"], dateobs=N1)
        bare = s.exposure(dateobs=N1)
    warp, chip, raw = schema.warpRun, schema.chipRun, schema.rawExp
    with dbs.connect() as conn:
        up = conn.execute(select(warp.c.warp_id, chip.c.chip_id).select_from(chain_join("warp", "chip"))).all()
        down = conn.execute(select(chip.c.chip_id, warp.c.warp_id).select_from(chain_join("chip", "warp"))).all()
        outer = conn.execute(select(raw.c.exp_id, warp.c.warp_id)
                             .select_from(chain_join("exposure", "warp", outer=True))
                             .order_by(raw.c.exp_id)).all()
        names = conn.execute(select(raw.c.exp_name).select_from(exposure_chain("warp"))).scalars().all()
    assert up == [(ch.warp_id, ch.chip_id)] and down == [(ch.chip_id, ch.warp_id)]
    assert outer == [(ch.exp_id, ch.warp_id), (bare.exp_id, None)]
    assert names == [ch.exp_name]
    with pytest.raises(ValueError, match="no exposure path"):
        chain_join("stack", "chip")


def test_a_registered_stage_joins_the_visit_chain(nightly_skycal, dbs):
    """A stage registered after warp on the exposure path is the visit's last step:
    lostvisits waits for it, reports its faults and drops, and the czar counts its runs."""
    from mopstool.config import load_config
    from mopstool.ops.nightly.czar import czar_report
    from mopstool.ops.nightly.visits import lostvisits, visit_chain

    from test_nightly_helpers import NIGHT, build_field

    assert visit_chain() == ("chip", "cam", "fake", "warp", "skycal")
    with dbs.begin() as conn:
        ch = build_field(Synth(conn), visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"})
        w = {v: chains[0].warp_id for v, chains in ch.items()}
        conn.execute(insert(schema.table("skycalRun")), [
            dict(skycal_id=11, warp_id=w[1], state=State.FULL, label="OSS.nightlyscience"),
            dict(skycal_id=13, warp_id=w[3], state=State.NEW, label="OSS.nightlyscience"),
            dict(skycal_id=14, warp_id=w[4], state=State.DROP, label="OSS.nightlyscience")])
        conn.execute(insert(schema.table("skycalResult")), [
            dict(skycal_id=11, skycell_id="skycell.1", data_state=State.FULL, quality=0, fault=0),
            dict(skycal_id=13, skycell_id="skycell.1", data_state=State.FULL, quality=0, fault=2)])
    cfg = load_config()
    (field,) = lostvisits(dbs, cfg, NIGHT)
    got = {v["visit"]: (v["status"], v["reason"]) for v in field["visits"]}
    assert got == {1: ("ok", "skycal 11 full"),
                   2: ("processing", f"warp run {w[2]} full; no skycal run yet"),
                   3: ("faulted", "skycal run 13: skycell.1 fault 2"),
                   4: ("dropped", "skycal run 14 dropped")}
    assert field["lost"] == [2, 3, 4]
    report = czar_report(dbs, cfg, NIGHT, now=datetime(2018, 7, 11, 12))
    (oss,) = [t for t in report["targets"] if t["target"] == "OSS"]
    assert oss["stages"]["skycal"] == {"total": 3, "done": 2, "pending": 0, "faulted": 1, "bad_quality": 1}
    faults = [p for p in report["problems"] if p["kind"] == "fault" and p["stage"] == "skycal"]
    assert [(p["id"], p["fault"]) for p in faults] == [(13, 2)]
