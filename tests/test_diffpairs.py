"""diffpairs: statuses, desperate timing and the summit gate, --define (WW and
WS) exactly as difftool would, idempotence, dry runs, and publish."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from mopstool.config import load_config
from mopstool.db import schema
from mopstool.errors import ExitCode
from mopstool.ops.nightly.diffpairs import define_diffpairs, plan_diffpairs, publish_diffs
from mopstool.ops.demo.synth import Synth

from test_nightly_helpers import NIGHT, SKYCELLS, build_field, pairs_of, ww_diff

LATE = datetime(2018, 7, 11, 12)
START = datetime(2018, 7, 10, 7)          # first visit of build_field's default field
LAST = START + timedelta(minutes=34)      # its third visit (17 min cadence)


def _count(dbs, table, *where):
    with dbs.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def _rows(dbs, q):
    with dbs.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def test_define_ww_exactly_as_difftool(dbs):
    cfg = load_config()
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "missing"}, obj="F1")
        ww_diff(s, ch[1][0], ch[2][0])
        # visit 3's warp: one skycell too empty, one bad, one only on this warp
        v2, v3 = ch[2][0], ch[3][0]
        ws = schema.warpSkyfile
        conn.execute(ws.update().where(ws.c.warp_id == v3.warp_id, ws.c.skycell_id == SKYCELLS[1])
                     .values(good_frac=0.05))
        conn.execute(ws.update().where(ws.c.warp_id == v2.warp_id, ws.c.skycell_id == SKYCELLS[2])
                     .values(quality=8))
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE)
    assert pairs_of(plan.rows(), "F1") == [(1, 2, "exists"), (2, 3, "planned")]
    done = define_diffpairs(dbs, cfg, plan)
    assert len(done) == 1
    d = done[0].to_dict()
    assert d["status"] == "defined" and d["kind"] == "desperate"
    run = _rows(dbs, select(schema.diffRun).where(schema.diffRun.c.diff_id == d["diff_id"]))[0]
    assert run["state"] == "new" and run["diff_mode"] == 1 and run["bothways"] == 1
    assert run["exposure"] == 1
    assert run["label"] == "OSS.nightlyscience" and run["data_group"] == "OSS.20180710"
    assert run["dist_group"] == "SweetSpot" and run["reduction"] == "SWEETSPOT"
    assert run["tess_id"] == "RINGS.V3"
    assert run["workdir"].startswith("neb://@HOST@.0/") and run["workdir"].endswith("/OSS.nt/2018/07/10")
    inputs = _rows(dbs, select(schema.diffInputSkyfile).where(
        schema.diffInputSkyfile.c.diff_id == d["diff_id"]))
    assert [(r["skycell_id"], r["warp1"], r["warp2"], r["stack1"], r["stack2"]) for r in inputs] == \
        [(SKYCELLS[0], v2.warp_id, v3.warp_id, None, None)]        # warp1 = the earlier exposure
    # a second run defines nothing, and the plan shows the pair as existing
    plan2 = plan_diffpairs(dbs, cfg, NIGHT, now=LATE)
    assert pairs_of(plan2.rows(), "F1") == [(1, 2, "exists"), (2, 3, "exists")]
    assert define_diffpairs(dbs, cfg, plan2) == []
    # defining from a stale plan does not duplicate either
    n = _count(dbs, schema.diffRun)
    assert define_diffpairs(dbs, cfg, plan) == []
    assert _count(dbs, schema.diffRun) == n
    with dbs.connect() as conn:
        audit = conn.execute(text("SELECT action, rows_affected FROM mopstoolAudit")).fetchall()
    assert [tuple(a) for a in audit] == [("diffpairs.define", 2)]


def test_no_common_skycell_is_not_defined(dbs):
    cfg = load_config()
    with dbs.begin() as conn:
        s = Synth(conn)
        build_field(s, visits={1: "ok"}, obj="F2", skycells=["skycell.1.001"])
        build_field(s, visits={2: "ok"}, obj="F2", skycells=["skycell.1.002"])
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE)
    (p,) = plan.rows()
    assert p["status"] == "planned" and p["skycells"] == 0 and "no common skycell" in p["note"]
    assert define_diffpairs(dbs, cfg, plan) == []
    assert _count(dbs, schema.diffRun) == 0


def test_desperate_timing(dbs, tmp_path):
    cfg = load_config()
    with dbs.begin() as conn:
        build_field(Synth(conn), visits={1: "ok", 2: "ok", 3: "ok", 4: "missing"}, obj="F3")

    def status(now, **kw):
        return pairs_of(plan_diffpairs(dbs, cfg, NIGHT, now=now, **kw).rows(), "F3", "desperate")

    assert status(LAST + timedelta(hours=1)) == [(2, 3, "waiting")]
    note = plan_diffpairs(dbs, cfg, NIGHT, now=LAST + timedelta(hours=1)).rows()[1]["note"]
    assert "desperate: due 2018-07-10 09:04 UTC (1.5 h after the chunk's last visit)" in note
    assert status(LAST + timedelta(hours=2)) == [(2, 3, "planned")]
    assert status(LAST + timedelta(hours=1), desperate=True) == [(2, 3, "planned")]
    # a per-target desdiffdt
    conf = tmp_path / "c.toml"
    conf.write_text("[targets.OSS]\ndesdiffdt = 0.5\n")
    cfg2 = load_config(conf)
    assert pairs_of(plan_diffpairs(dbs, cfg2, NIGHT, now=LAST + timedelta(hours=1)).rows(), "F3",
                    "desperate") == [(2, 3, "planned")]
    # end of night: the morning darks are registered
    with dbs.begin() as conn:
        Synth(conn).exposure(dateobs=LAST + timedelta(minutes=30), exp_type="DARK", comment="darks_morn 1",
                             obs_mode="ENGINEERING", object="ENGINEERING")
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LAST + timedelta(minutes=40))
    assert plan.end_of_night and pairs_of(plan.rows(), "F3", "desperate") == [(2, 3, "planned")]


@pytest.fixture
def summit_table(dbs):
    with dbs.begin() as conn:
        conn.execute(text("CREATE TABLE summitExp (exp_name VARCHAR(64), dateobs DATETIME)"))
    yield
    with dbs.begin() as conn:
        conn.execute(text("DROP TABLE summitExp"))


@pytest.mark.initdb_schema      # creates / expects no summitExp table
def test_summit_gate_is_reported_and_holds_automatic_desperate_pairs(dbs, summit_table):
    cfg = load_config()
    with dbs.begin() as conn:
        build_field(Synth(conn), visits={1: "ok", 2: "ok", 3: "ok", 4: "missing"}, obj="F4")
        conn.execute(text("INSERT INTO summitExp (exp_name, dateobs) VALUES (:n, :d)"),
                     [{"n": f"o8309g{i:04d}o", "d": START + timedelta(minutes=17 * i)} for i in range(3)])
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE)
    assert plan.summit_gate["evaluated"] and plan.summit_gate["ok"]
    assert plan.summit_gate["raw_count"] == 3 and plan.summit_gate["summit_count"] == 3
    assert pairs_of(plan.rows(), "F4", "desperate") == [(2, 3, "planned")]
    with dbs.begin() as conn:   # the summit has taken 20 more exposures than were registered
        conn.execute(text("INSERT INTO summitExp (exp_name, dateobs) VALUES (:n, :d)"),
                     [{"n": f"o8309g{i:04d}o", "d": LAST + timedelta(minutes=i)} for i in range(3, 23)])
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE)
    assert plan.summit_gate["evaluated"] and not plan.summit_gate["ok"]
    assert any("summit gate FAILED" in n for n in plan.notes)
    (p,) = [r for r in plan.rows() if r["kind"] == "desperate"]
    assert p["status"] == "waiting" and "summit gate FAILED" in p["note"]
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE, desperate=True)
    assert pairs_of(plan.rows(), "F4", "desperate") == [(2, 3, "planned")]


@pytest.mark.initdb_schema      # creates / expects no summitExp table
def test_summit_gate_without_table_is_reported(dbs):
    with dbs.begin() as conn:
        build_field(Synth(conn), visits={1: "ok", 2: "ok", 3: "ok"}, obj="F5")
    plan = plan_diffpairs(dbs, load_config(), NIGHT, now=LATE)
    assert not plan.summit_gate["evaluated"]
    assert any("summit gate not evaluated" in n for n in plan.notes)


def _fss_night(dbs, *, with_stacks=True, done_visits=(1, 2)):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={n: "ok" for n in range(1, 4)}, obj="FSS.1", target="FSS",
                         chunk="FSS.R02S1.1.w", hour=10, cadence_min=8)
        stacks = {}
        if with_stacks:
            for sc in SKYCELLS[:2]:
                stacks[sc] = s.stack(skycell_id=sc, filter="w.00000", label="FSS.refstack")
            s.stack(skycell_id=SKYCELLS[0], filter="i.00000", label="FSS.refstack")
        for v in done_visits:
            for sc in SKYCELLS[:2]:
                s.diff(label="FSS.WS.nightlyscience", data_group="FSS.WS.20180710", skycells=[sc],
                       warp1=ch[v][0].warp_id, stack2=stacks[sc], bothways=0)
    return ch, stacks


def test_ws_plan_and_define(dbs):
    cfg = load_config()
    ch, stacks = _fss_night(dbs)
    assert [r for r in plan_diffpairs(dbs, cfg, NIGHT, now=LATE).rows()] == []    # WS only with ws=True
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE, ws=True)
    rows = plan.rows()
    got = sorted((r["input"]["visit"], r["skycell_id"], r["status"], r["template"]["stack_id"]) for r in rows)
    assert got == [(1, SKYCELLS[0], "exists", stacks[SKYCELLS[0]]), (1, SKYCELLS[1], "exists", stacks[SKYCELLS[1]]),
                   (1, SKYCELLS[2], "waiting", None),
                   (2, SKYCELLS[0], "exists", stacks[SKYCELLS[0]]), (2, SKYCELLS[1], "exists", stacks[SKYCELLS[1]]),
                   (2, SKYCELLS[2], "waiting", None),
                   (3, SKYCELLS[0], "planned", stacks[SKYCELLS[0]]), (3, SKYCELLS[1], "planned", stacks[SKYCELLS[1]]),
                   (3, SKYCELLS[2], "waiting", None)]
    assert all(r["kind"] == "ws" and r["target"] == "FSS" for r in rows)
    assert "no full template stack FSS.refstack" in [r for r in rows if r["status"] == "waiting"][0]["note"]
    done = define_diffpairs(dbs, cfg, plan)
    assert len(done) == 2
    ids = [p.diff_id for p in done]
    runs = _rows(dbs, select(schema.diffRun).where(schema.diffRun.c.diff_id.in_(ids)))
    assert {(r["diff_mode"], r["reduction"], r["label"], r["data_group"], r["state"], r["bothways"])
            for r in runs} == {(2, "WARPSTACK", "FSS.WS.nightlyscience", "FSS.WS.20180710", "new", 0)}
    inputs = _rows(dbs, select(schema.diffInputSkyfile).where(schema.diffInputSkyfile.c.diff_id.in_(ids)))
    assert sorted((r["skycell_id"], r["warp1"], r["warp2"], r["stack2"]) for r in inputs) == \
        [(sc, ch[3][0].warp_id, None, stacks[sc]) for sc in SKYCELLS[:2]]
    again = plan_diffpairs(dbs, cfg, NIGHT, now=LATE, ws=True)
    assert define_diffpairs(dbs, cfg, again) == []
    assert sorted(r["status"] for r in again.rows()) == ["exists"] * 6 + ["waiting"] * 3


def test_cli_define_dry_run_and_json_contract(cli, db_url, dbs):
    with dbs.begin() as conn:
        build_field(Synth(conn), visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="F6")
    base = ("diffpairs", "--db", db_url, "--night", "2018-07-10")
    r = cli(*base, "--json")
    assert r.code == ExitCode.CHECK_FAILED, r.err           # pairs due and not defined: exit 3, for cron
    assert "2 pairs due and not defined" in r.err and "error" not in r.err
    rows = r.json()
    assert len(rows) == 2
    assert set(rows[0]) >= {"target", "object", "chunk", "filter", "kind", "input", "template", "status",
                            "diff_id"}
    assert set(rows[0]["input"]) >= {"visit", "exp_id", "exp_name", "warp_id"}
    assert set(rows[0]["template"]) >= {"visit", "exp_id", "exp_name", "warp_id", "stack_id"}
    assert [(x["kind"], x["status"], x["diff_id"]) for x in rows] == [("regular", "planned", None)] * 2
    r = cli(*base, "--define", "--dry-run", "--json")
    assert r.code == ExitCode.CHECK_FAILED and "would define 2 diffRuns with 6 diffInputSkyfile rows" in r.err
    assert _count(dbs, schema.diffRun) == 0
    r = cli(*base, "--define", "--json")
    assert r.code == 0, r.err
    assert [x["status"] for x in r.json()] == ["defined", "defined"]
    assert _count(dbs, schema.diffRun) == 2 and _count(dbs, schema.diffInputSkyfile) == 6
    r = cli(*base, "--define", "--status", "planned", "--status", "defined", "--json")
    assert r.code == 0 and r.json() == [] and "nothing to define" in r.err
    assert _count(dbs, schema.diffRun) == 2
    r = cli(*base, "--chunk", "NO.SUCH.CHUNK", "--json")
    assert r.code == 0 and r.json() == []
    r = cli(*base)
    assert r.code == 0 and "F6" in r.out and "exists" in r.out      # all defined: exit 0


def test_publish(dbs, cli, db_url):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="F7")
        client = s.publish_client()
        off = s.publish_client(name="OLD", product="old-diffs")
        conn.execute(schema.publishClient.update().where(schema.publishClient.c.client_id == off).values(active=0))
        d12 = ww_diff(s, ch[1][0], ch[2][0])
        d34 = ww_diff(s, ch[3][0], ch[4][0])
        s.publish(client_id=client, diff_id=d12, label="OSS.nightlyscience")
        new = s.diff(label="OSS.nightlyscience", data_group="OSS.20180710", skycells=SKYCELLS,
                     warp1=ch[1][0].warp_id, warp2=ch[3][0].warp_id, state="new")
    plan = publish_diffs(dbs, night=NIGHT, labels=["OSS.nightlyscience"], dry_run=True)
    assert [(r["diff_id"], r["client_id"], r["status"]) for r in plan] == [(d34, client, "planned")]
    assert _count(dbs, schema.publishRun) == 1
    r = cli("publish", "--db", db_url, "--diff-id", str(d34), "--diff-id", str(new), "--json")
    assert r.code == 0, r.err
    (row,) = r.json()
    assert (row["diff_id"], row["status"]) == (d34, "defined")
    pub = _rows(dbs, select(schema.publishRun).where(schema.publishRun.c.pub_id == row["pub_id"]))[0]
    assert (pub["client_id"], pub["stage_id"], pub["label"], pub["state"]) == \
        (client, d34, "OSS.nightlyscience", "new")
    r = cli("publish", "--db", db_url, "--diff-id", str(d34), "--json")
    assert r.code == 0 and r.json() == []
    r = cli("publish", "--db", db_url)
    assert r.code == 2


def _publish_faults(dbs):
    """Faulted publish attempts: p_new (a 'new' run of the active client: reverted),
    p_off (the same for an inactive client: left), p_full (run 'full': left)."""
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="F8")
        client = s.publish_client()
        off = s.publish_client(name="OLD", product="old-diffs")
        conn.execute(schema.publishClient.update().where(schema.publishClient.c.client_id == off)
                     .values(active=0))
        d12 = ww_diff(s, ch[1][0], ch[2][0])
        d34 = ww_diff(s, ch[3][0], ch[4][0])
        ids = dict(
            p_new=s.publish(client_id=client, diff_id=d12, label="OSS.nightlyscience", state="new", fault=2),
            p_off=s.publish(client_id=off, diff_id=d12, label="OSS.nightlyscience", state="new", fault=2),
            p_full=s.publish(client_id=client, diff_id=d34, label="OSS.nightlyscience", fault=2))
    return ids, d12, d34


def _done_faults(dbs) -> set[int]:
    pd = schema.publishDone
    return {r["pub_id"] for r in _rows(dbs, select(pd.c.pub_id).where(pd.c.fault != 0))}


def test_revert_publish_through_the_stage_graph(dbs, cli, db_url):
    from mopstool.stages import stages_that

    assert "publish" in stages_that("revert")
    ids, d12, _ = _publish_faults(dbs)
    r = cli("revert", "publish", "--night", NIGHT.isoformat(), "--db", db_url, "--dry-run", "--json")
    assert r.code == 0, r.err
    assert r.json()["dry_run"] and {c["id"] for c in r.json()["components"] if c["action"] == "delete"} == \
        {ids["p_new"]}
    assert _done_faults(dbs) == set(ids.values())
    r = cli("revert", "publish", "--night", NIGHT.isoformat(), "--db", db_url, "--yes", "--json")
    assert r.code == 0, r.err
    assert r.json()["applied"] and r.json()["rows"] == {"publishDone": 1}
    # the publisher tries p_new again; the inactive client's and the finished run's rows stay
    assert _done_faults(dbs) == {ids["p_off"], ids["p_full"]}


def test_publish_revert_is_an_alias_of_revert_publish(dbs, cli, db_url):
    ids, d12, _ = _publish_faults(dbs)
    r = cli("publish", "--revert", "--diff-id", str(d12), "--db", db_url, "--dry-run", "--json")
    assert r.code == 0, r.err
    assert [(x["pub_id"], x["diff_id"], x["client"], x["fault"], x["status"]) for x in r.json()] == \
        [(ids["p_new"], d12, "MOPS", 2, "would revert")]
    r = cli("publish", "--revert", "--diff-id", str(d12), "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert [(x["pub_id"], x["status"]) for x in r.json()] == [(ids["p_new"], "reverted")]
    assert _done_faults(dbs) == {ids["p_off"], ids["p_full"]}
    r = cli("publish", "--revert", "--diff-id", "987654", "--db", db_url)
    assert r.code == 65


def test_czar_prints_revert_publish_and_it_runs_as_printed(dbs, cli, db_url):
    import shlex

    from mopstool.ops.nightly.czar import czar_report

    ids, _, _ = _publish_faults(dbs)
    rep = czar_report(dbs, load_config(), NIGHT, prefix=f"mopstool --db {db_url}", now=LATE)
    fixes = {p["id"]: p["fix"] for p in rep["problems"] if p["kind"] == "publish_fault"}
    # the finished run needs a person; the 'new' runs one revert; the inactive client's
    # fault is not offered (revert publish leaves it alone, as pubtool -revert does)
    assert fixes[ids["p_full"]] is None
    assert ids["p_off"] not in fixes
    fix = fixes[ids["p_new"]]
    assert fix == f"mopstool --db {db_url} revert publish --id {ids['p_new']} --yes"
    r = cli(*shlex.split(fix)[1:])
    assert r.code == 0, r.err
    assert _done_faults(dbs) == {ids["p_off"], ids["p_full"]}


def test_declining_publish_and_define_exits_10(dbs, cli, db_url, monkeypatch):
    """The one confirm path: a declined prompt exits 10 and writes nothing."""
    from mopstool.cli import common
    from mopstool.errors import ExitCode

    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="F9")
        s.publish_client()
        d12 = ww_diff(s, ch[1][0], ch[2][0])
    monkeypatch.setattr(common, "confirm_change", lambda *a, **k: False)  # the user says no
    before = _count(dbs, schema.publishRun), _count(dbs, schema.diffRun)
    r = cli("publish", "--diff-id", str(d12), "--db", db_url)
    assert r.code == ExitCode.DECLINED == 10, r.err
    assert "cancelled; nothing written" in r.err
    r = cli("diffpairs", "--define", "--night", NIGHT.isoformat(), "--db", db_url)
    assert r.code == 10, r.err
    r = cli("publish", "--revert", "--diff-id", str(d12), "--db", db_url)
    assert r.code == 0 and "0 failed publish attempts" in r.err  # nothing to revert: no prompt
    assert (_count(dbs, schema.publishRun), _count(dbs, schema.diffRun)) == before
