"""define_runs: chiptool / warptool -definebyquery semantics on SQLite and MariaDB."""

from __future__ import annotations

import io
from datetime import date, datetime

import pytest
from sqlalchemy import event, func, select, update

from mopstool.config import load_config
from mopstool.db import schema
from mopstool.errors import NotFound, UsageError
from mopstool.ops.runs.define import (DefineSelection, DefineSetters, define_runs, read_name_args,
                                 resolve_setters)
from mopstool.ops.demo.synth import GPC1_CLASS_IDS, Synth

NIGHT = datetime(2018, 7, 10, 8)


def _exposures(dbs, specs):
    """Insert exposures; *specs* are Synth.exposure keyword dicts. Returns Chains."""
    with dbs.begin() as conn:
        s = Synth(conn)
        return [s.exposure(**dict({"dateobs": NIGHT}, **spec)) for spec in specs]


def _chip_rows(dbs, label=None):
    cr = schema.chipRun
    q = select(cr).order_by(cr.c.chip_id)
    if label is not None:
        q = q.where(cr.c.label == label)
    with dbs.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _count(dbs, table):
    with dbs.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def test_define_by_name_inserts_what_chiptool_does(dbs):
    a, b = _exposures(dbs, [dict(reduction="SWEETSPOT", tess_id="RINGS.V3", end_stage="warp"),
                            dict(reduction="DEFAULT", tess_id="RINGS.V3", end_stage="warp",
                                 class_ids=GPC1_CLASS_IDS[:5])])
    ri = schema.rawImfile
    with dbs.begin() as conn:  # an ignored imfile still gets its chipImfile
        conn.execute(update(ri).where(ri.c.exp_id == b.exp_id, ri.c.class_id == GPC1_CLASS_IDS[0])
                     .values(ignored=1))
    res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name, b.exp_name]),
                      DefineSetters(label="mops.nomasktest", workdir="neb://@HOST@.0/gpc1/mops.nomasktest",
                                    dist_group="NULL", note="redo"))
    assert res.applied and not res.unmatched
    assert [r["exp_name"] for r in res.runs] == [a.exp_name, b.exp_name]
    rows = _chip_rows(dbs)
    assert [r["chip_id"] for r in rows] == [r["chip_id"] for r in res.runs]
    for row, exp_red in zip(rows, ("SWEETSPOT", "DEFAULT")):
        assert row["state"] == "new" and row["workdir_state"] == "dirty"
        assert row["label"] == row["data_group"] == "mops.nomasktest"
        assert row["dist_group"] is None          # the word NULL stores SQL NULL
        assert row["workdir"] == "neb://@HOST@.0/gpc1/mops.nomasktest"
        assert row["reduction"] == exp_red        # inherited from rawExp
        assert row["tess_id"] == "RINGS.V3" and row["end_stage"] == "warp"
        assert row["update_mode"] == 0 and row["magicked"] == 0 and row["maskfrac_npix"] == 0
        assert row["software_ver"] is None and row["expgroup"] is None and row["note"] == "redo"
    ci = schema.chipImfile
    with dbs.connect() as conn:
        per_run = dict(conn.execute(select(ci.c.chip_id, func.count()).group_by(ci.c.chip_id)).all())
        ids = conn.execute(select(ci.c.chip_imfile_id)).scalars().all()
        processed = conn.execute(select(func.count()).select_from(schema.chipProcessedImfile)).scalar()
    assert per_run == {rows[0]["chip_id"]: 60, rows[1]["chip_id"]: 5}
    assert len(set(ids)) == 65 and None not in ids
    assert processed == 0
    assert res.rows == {"chipRun": 2, "chipImfile": 65}
    assert set(res.runs[0]) == {"chip_id", "exp_id", "exp_name", "label", "data_group", "dist_group",
                                "workdir", "reduction", "tess_id", "end_stage"}


def test_setters_override_inheritance_and_explicit_data_group(dbs):
    (a,) = _exposures(dbs, [dict(reduction="SWEETSPOT", tess_id=None, end_stage=None)])
    define_runs(dbs, DefineSelection(exp_ids=[a.exp_id]), DefineSetters(
        label="x", workdir="file:///w", data_group="grp", dist_group="SweetSpot", tess_id="RINGS.V3",
        end_stage="warp", reduction="NOMASKTEST", expgroup="eg", dvodb="dvo"))
    (row,) = _chip_rows(dbs)
    assert (row["data_group"], row["dist_group"], row["tess_id"], row["end_stage"], row["reduction"],
            row["expgroup"], row["dvodb"]) == ("grp", "SweetSpot", "RINGS.V3", "warp", "NOMASKTEST",
                                               "eg", "dvo")


def test_run_to_warp_needs_tess_id(dbs):
    (a,) = _exposures(dbs, [dict(tess_id=None, end_stage="warp")])
    sel = DefineSelection(exp_names=[a.exp_name])
    with pytest.raises(UsageError, match="tess_id"):
        define_runs(dbs, sel, DefineSetters(label="x", workdir="w"))
    assert _count(dbs, schema.chipRun) == 0
    define_runs(dbs, sel, DefineSetters(label="x", workdir="w", end_stage="chip"))
    assert _count(dbs, schema.chipRun) == 1


def test_faulted_and_unknown_names_are_reported(dbs):
    good, bad = _exposures(dbs, [{}, dict(fault=5)])
    res = define_runs(dbs, DefineSelection(exp_names=[good.exp_name, bad.exp_name, "o9999g0001o"]),
                      DefineSetters(label="L", workdir="W"))
    assert [r["exp_name"] for r in res.runs] == [good.exp_name]
    reasons = {u["exp_name"]: u["reason"] for u in res.unmatched}
    assert reasons[bad.exp_name].startswith("rawExp fault 5")
    assert reasons["o9999g0001o"] == "no such exposure"
    with pytest.raises(NotFound, match="no exposure matches: .*o9999g0001o"):
        define_runs(dbs, DefineSelection(exp_names=[bad.exp_name, "o9999g0001o"]),
                    DefineSetters(label="L2", workdir="W"))
    assert len(_chip_rows(dbs)) == 1
    # a faulted exposure is never selected, not even with --all
    res = define_runs(dbs, DefineSelection(all=True), DefineSetters(label="L3", workdir="W"), dry_run=True)
    assert [r["exp_id"] for r in res.runs] == [good.exp_id]


def test_unique_skips_exposures_with_a_run_of_the_label(dbs):
    a, b = _exposures(dbs, [{}, {}])
    setters = DefineSetters(label="mopsfix", workdir="W")
    define_runs(dbs, DefineSelection(exp_names=[a.exp_name]), setters)
    res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name, b.exp_name], unique=True), setters)
    assert [r["exp_name"] for r in res.runs] == [b.exp_name]
    assert [s["exp_name"] for s in res.skipped] == [a.exp_name]
    assert "already has chip run" in res.skipped[0]["reason"] and not res.unmatched
    # all already defined: a no-op, not an error
    res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name, b.exp_name], unique=True), setters)
    assert res.runs == [] and not res.applied and len(res.skipped) == 2
    # without --unique the C tool defines again
    res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name]), setters)
    assert len(res.runs) == 1
    assert len(_chip_rows(dbs, "mopsfix")) == 3


def test_dry_run_writes_nothing(dbs):
    (a,) = _exposures(dbs, [{}])
    res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name]), DefineSetters(label="L", workdir="W"),
                      dry_run=True)
    assert res.dry_run and not res.applied
    assert res.runs[0]["chip_id"] is None and res.runs[0]["label"] == "L"
    assert res.rows == {"chipRun": 1, "chipImfile": 60}
    assert _count(dbs, schema.chipRun) == 0 and _count(dbs, schema.chipImfile) == 0


def test_confirm_can_decline(dbs):
    (a,) = _exposures(dbs, [{}])
    seen = []
    res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name]), DefineSetters(label="L", workdir="W"),
                      confirm=lambda plan: seen.append(plan.total) or False)
    assert seen == [61] and not res.applied
    assert _count(dbs, schema.chipRun) == 0


def test_every_selector(dbs):
    chains = _exposures(dbs, [
        dict(dateobs=datetime(2018, 7, 10, 6), filter="w.00000", obs_mode="OSS", object="OSS.R20S1.12.001",
             comment="OSSR.R20S1.12.Q.w visit 1", label="OSS.nightlyscience"),
        dict(dateobs=datetime(2018, 7, 10, 9), filter="i.00000", obs_mode="MSS", object="MSS.R10N3.5.001",
             comment="MSS.R10N3.5.Q.i visit 1", label="MSS.nightlyscience"),
        dict(dateobs=datetime(2018, 7, 10, 10), filter="i.00000", obs_mode="ESS", object="ESS.1",
             comment="ESS visit 2", label="ESS.nightlyscience", exp_type="dark"),
        dict(dateobs=datetime(2018, 7, 11, 7), filter="w.00000", obs_mode="OSS", object="OSS.R20S1.13.001",
             comment="OSSR.R20S1.13.Q.w visit 1", label="OSS.nightlyscience"),
    ])
    names = [c.exp_name for c in chains]

    def pick(**kw):
        res = define_runs(dbs, DefineSelection(**kw), DefineSetters(label="L", workdir="W"), dry_run=True)
        return [names.index(r["exp_name"]) for r in res.runs]

    assert pick(night=date(2018, 7, 10)) == [0, 1]            # exp_type object by default
    assert pick(night=date(2018, 7, 10), exp_type=None) == [0, 1, 2]
    assert pick(night=date(2018, 7, 10), exp_type="dark") == [2]
    assert pick(dateobs_begin=datetime(2018, 7, 10, 9), dateobs_end=datetime(2018, 7, 11, 7)) == [1, 3]
    assert pick(filters=["w%"]) == [0, 3]
    assert pick(filters=["w.00000", "i.00000"]) == [0, 1, 3]  # repeated values ORed
    assert pick(obs_modes=["MSS"]) == [1]
    assert pick(objects=["OSS.R20S1.1_.001"]) == [0, 3]
    assert pick(comments=["%visit 1"], filters=["w%"]) == [0, 3]  # different selectors ANDed
    assert pick(labels=["OSS.%"]) == [0, 3]                    # newExp.label, LIKE
    assert pick(labels=["MSS.nightlyscience", "OSS%"]) == [0, 1, 3]
    assert pick(exp_ids=[chains[1].exp_id, chains[3].exp_id]) == [1, 3]
    assert pick(all=True, limit=2) == [0, 1]
    assert pick(all=True, limit=0) == [0, 1, 3]
    assert pick(exp_names=names, limit=1) == [0]
    with pytest.raises(UsageError, match="search parameters are required"):
        pick()
    with pytest.raises(UsageError, match="--set-label is required"):
        define_runs(dbs, DefineSelection(all=True), DefineSetters(workdir="W"))
    with pytest.raises(UsageError, match="--set-workdir is required"):
        define_runs(dbs, DefineSelection(all=True), DefineSetters(label="L"))


def test_label_with_quotes_and_percent(dbs):
    a, b = _exposures(dbs, [dict(label="it's 100%"), dict(label="plain")])
    label = "o'brien \"fix\" 50%_done"
    res = define_runs(dbs, DefineSelection(labels=["it's%"]), DefineSetters(label=label, workdir="W"))
    assert [r["exp_name"] for r in res.runs] == [a.exp_name]
    (row,) = _chip_rows(dbs)
    assert row["label"] == row["data_group"] == label
    res = define_runs(dbs, DefineSelection(labels=["it's%"], unique=True),
                      DefineSetters(label=label, workdir="W"))
    assert res.runs == [] and len(res.skipped) == 1


def test_many_names_are_chunked_not_one_query_each(dbs):
    chains = _exposures(dbs, [{} for _ in range(3)])
    names = [f"o8000g{i:04d}o" for i in range(2500)] + [c.exp_name for c in chains]
    statements = []
    engine = dbs.gpc1

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        res = define_runs(dbs, DefineSelection(exp_names=names), DefineSetters(label="L", workdir="W"),
                          dry_run=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(res.runs) == 3 and len(res.unmatched) == 2500
    assert len(statements) <= 10, len(statements)


def test_presets_reproduce_the_recipes(dbs):
    """The three chiptool recipes of the requirement notes, via presets."""
    (a,) = _exposures(dbs, [dict(reduction="SWEETSPOT")])
    cfg = load_config()
    recipes = {
        # preset, date: (label, workdir, data_group, reduction)
        ("mehtest", None): ("mehtest.nomask", "neb://@HOST@.0/meh/mehtest.nomask", "mehtest.nomask",
                            "NOMASKTEST"),
        ("nomasktest", None): ("mops.nomasktest", "neb://@HOST@.0/gpc1/mops.nomasktest",
                               "mops.nomasktest", "NOMASKTEST"),
        ("lapfix", "20180323"): ("mopsfix", "neb://@HOST@.0/gpc1/mops.fixbrokenLAP.20180323",
                                 "mops.fixbrokenLAP.20180323", "LAP_SCIENCE"),
        ("wfix", "2018-05-25"): ("PSNSC.wfix.20180525", "neb://@HOST@.0/gpc1/PSNSC.wfix.20180525",
                                 "PSNSC.wfix.20180525.x.date", "SWEETSPOT"),
    }
    for (preset, day), (label, workdir, data_group, reduction) in recipes.items():
        setters = resolve_setters(None, cfg.preset(preset), preset_name=preset, date_value=day)
        res = define_runs(dbs, DefineSelection(exp_names=[a.exp_name]), setters)
        (row,) = _chip_rows(dbs, label)
        assert row["chip_id"] == res.runs[0]["chip_id"]
        assert (row["label"], row["workdir"], row["data_group"], row["dist_group"], row["tess_id"],
                row["end_stage"], row["reduction"], row["state"]) == (
            label, workdir, data_group, None, "RINGS.V3", "warp", reduction, "new")


def test_resolve_setters_expands_and_explicit_wins():
    preset = {"label": "PSNSC.wfix.{date}", "workdir": "neb://@HOST@.0/gpc1/{label}",
              "data_group": "{label}.x", "dist_group": "NULL"}
    s = resolve_setters(DefineSetters(label="my.{date}"), preset, date_value="20200101")
    assert (s.label, s.workdir, s.data_group, s.dist_group) == (
        "my.20200101", "neb://@HOST@.0/gpc1/my.20200101", "my.20200101.x", "NULL")
    s = resolve_setters(None, preset, date_value=date(2018, 5, 25))
    assert s.label == "PSNSC.wfix.20180525" and s.workdir.endswith("/PSNSC.wfix.20180525")
    today = datetime.utcnow().strftime("%Y%m%d")
    assert resolve_setters(None, preset).label == f"PSNSC.wfix.{today}"
    from mopstool.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown keys: datagroup"):
        resolve_setters(None, {"datagroup": "x"}, preset_name="bad")


def test_read_name_args(tmp_path):
    f = tmp_path / "names.txt"
    f.write_text("o8309g0262o\n# a comment\n\no8309g0277o  # inline\no8309g0262o\n")
    stdin = io.StringIO("o1\no2\n")
    assert read_name_args(["o0", str(f), "-"], stdin=stdin) == [
        "o0", "o8309g0262o", "o8309g0277o", "o1", "o2"]
    with pytest.raises(UsageError, match="cannot read exposure names"):
        read_name_args([str(tmp_path / "missing" / "x.txt")])


# ---------------------------------------------------------------------- warp variant

def _full_chain(dbs, label="OSS.nightlyscience", n=1, **kw):
    with dbs.begin() as conn:
        s = Synth(conn)
        return [s.chain(label=label, data_group="OSS.20180710", skycells=["skycell.1.1"],
                        stop_after="fake", dateobs=NIGHT, **kw) for _ in range(n)]


def test_warp_variant_inherits_from_fakerun_and_checks_duplicates(dbs):
    a, b = _full_chain(dbs, n=2)
    with dbs.begin() as conn:  # b's camera run is not full: not selectable
        conn.execute(update(schema.camRun).where(schema.camRun.c.cam_id == b.cam_id).values(state="new"))
    sel = DefineSelection(exp_names=[a.exp_name, b.exp_name])
    res = define_runs(dbs, sel, DefineSetters(label="warp.redo", note="n"), stage="warp")
    assert [r["fake_id"] for r in res.runs] == [a.fake_id]
    assert "full chip/camera/fake chain" in res.unmatched[0]["reason"]
    wr = schema.warpRun
    with dbs.connect() as conn:
        (row,) = [dict(r._mapping) for r in conn.execute(select(wr))]
    assert row["warp_id"] == res.runs[0]["warp_id"]
    assert (row["mode"], row["state"], row["workdir_state"], row["label"], row["magicked"]) == (
        "warp", "new", "dirty", "warp.redo", 0)
    # inherited from the fakeRun
    assert (row["data_group"], row["tess_id"], row["reduction"], row["end_stage"], row["dist_group"],
            row["workdir"]) == ("OSS.20180710", "RINGS.V3", "SWEETSPOT", "warp", "SweetSpot",
                                "neb://@HOST@.0/gpc1/OSS.nightlyscience")
    assert row["note"] == "n"
    # the duplicate check warptool lacks
    res = define_runs(dbs, DefineSelection(fake_ids=[a.fake_id]), DefineSetters(label="warp.redo"),
                      stage="warp")
    assert res.runs == [] and res.skipped[0]["existing"] == row["warp_id"]
    res = define_runs(dbs, DefineSelection(labels=["OSS.%"]), DefineSetters(label="other", workdir="W",
                                                                             data_group="NULL"),
                      stage="warp")
    assert len(res.runs) == 1 and res.runs[0]["data_group"] is None and res.runs[0]["workdir"] == "W"
    # the inherited label counts too: a second inherit-label definition is a duplicate only once
    res = define_runs(dbs, DefineSelection(chip_ids=[a.chip_id]), DefineSetters(), stage="warp")
    assert len(res.runs) == 1 and res.runs[0]["label"] == "OSS.nightlyscience"
    res = define_runs(dbs, DefineSelection(cam_ids=[a.cam_id]), DefineSetters(), stage="warp")
    assert res.runs == [] and len(res.skipped) == 1


def test_warp_variant_needs_tess_id(dbs):
    (a,) = _full_chain(dbs)
    with dbs.begin() as conn:
        conn.execute(update(schema.fakeRun).values(tess_id=None))
    with pytest.raises(UsageError, match="tess_id"):
        define_runs(dbs, DefineSelection(fake_ids=[a.fake_id]), DefineSetters(label="w"), stage="warp")
    res = define_runs(dbs, DefineSelection(fake_ids=[a.fake_id]), DefineSetters(label="w", tess_id="RINGS.V3"),
                      stage="warp")
    assert res.runs[0]["tess_id"] == "RINGS.V3"
    with pytest.raises(UsageError, match="--stage warp"):
        define_runs(dbs, DefineSelection(fake_ids=[a.fake_id]), DefineSetters(label="w", workdir="W"))


@pytest.mark.needs_own_tables      # counts the audit table's INSERT
def test_defining_many_runs_is_one_insert_per_table(dbs):
    chains = _exposures(dbs, [dict(class_ids=GPC1_CLASS_IDS[:2]) for _ in range(40)])
    statements = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement.strip().split()[0].upper() + " " + statement.split("(")[0].split()[-1])

    event.listen(dbs.gpc1, "before_cursor_execute", seen)
    try:
        res = define_runs(dbs, DefineSelection(exp_names=[c.exp_name for c in chains]),
                          DefineSetters(label="bulk", workdir="W"))
    finally:
        event.remove(dbs.gpc1, "before_cursor_execute", seen)
    assert res.rows == {"chipRun": 40, "chipImfile": 80}
    inserts = [s for s in statements if s.startswith("INSERT")]
    assert len(inserts) == 3, inserts          # chipRun, chipImfile, the audit row
    assert len(statements) <= 15, statements
    ci = schema.chipImfile
    with dbs.connect() as conn:
        assert conn.execute(select(func.count(func.distinct(ci.c.chip_imfile_id)))).scalar() == 80
