"""czar on the demo night (every planted problem, with fixes that work when
run), a clean night, and statement counts independent of the number of fields."""

from __future__ import annotations

import shlex
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import event

from mopstool.config import load_config
from mopstool.ops.nightly.czar import czar_report
from mopstool.ops.nightly.diffpairs import plan_diffpairs
from mopstool.ops.nightly.visits import lostvisits
from mopstool.ops.demo.synth import Synth

from test_nightly_helpers import NIGHT, build_field, ww_diff

LATE = datetime(2018, 7, 11, 12)


@pytest.fixture
def demo(demo_loader):
    return demo_loader().ids


def test_demo_night_lostvisits_diffpairs_czar_and_fixes(cli, db_url, demo):
    """lostvisits names each planted lost visit, diffpairs proposes exactly the
    alternate pairs, czar lists every planted problem, and every fix works."""
    r = cli("lostvisits", "--db", db_url, "--night", "2018-07-10", "--json")
    assert r.code == 3
    lost = {(x["target"], x["object"]): x for x in r.json() if x["lost"]}
    got = {k: [(v["visit"], v["status"]) for v in x["visits"] if v["status"] != "ok"] for k, x in lost.items()}
    assert got == {("OSS", "OSS.R20S1.003"): [(4, "missing")], ("OSS", "OSS.R20S1.002"): [(3, "faulted")],
                   ("MSS", "MSS.R10N3.002"): [(2, "bad_fwhm")], ("ESS", "ESS.R05S2.001"): [(3, "bad_quality")],
                   ("EU", "EU.R01N1.001"): [(1, "faulted")]}
    assert lost[("OSS", "OSS.R20S1.003")]["alternate_pairs"] == [[2, 3]]
    assert lost[("MSS", "MSS.R10N3.002")]["alternate_pairs"] == [[1, 3]]
    assert lost[("ESS", "ESS.R05S2.001")]["alternate_pairs"] == [[2, 4]]
    assert lost[("EU", "EU.R01N1.001")]["alternate_pairs"] == [[2, 3]]
    r = cli("diffpairs", "--db", db_url, "--night", "2018-07-10", "--json")
    todo = {(x["object"], x["kind"], x["input"]["visit"], x["template"]["visit"], x["status"])
            for x in r.json() if x["status"] != "exists"}
    assert todo == {("OSS.R20S1.003", "desperate", 2, 3, "planned"),
                    ("MSS.R10N3.002", "desperate", 3, 4, "planned"),
                    ("ESS.R05S2.001", "desperate", 2, 4, "planned"),
                    ("OSS.R20S1.002", "regular", 1, 2, "waiting"), ("OSS.R20S1.002", "regular", 3, 4, "waiting"),
                    ("EU.R01N1.001", "regular", 1, 2, "waiting"), ("EU.R01N1.001", "regular", 3, 4, "waiting")}
    r = cli("diffpairs", "--db", db_url, "--night", "2018-07-10", "--ws", "--status", "planned", "--json")
    ws = [x for x in r.json() if x["kind"] == "ws"]
    assert len(ws) == 4 and {x["input"]["visit"] for x in ws} == {6}

    r = cli("czar", "--db", db_url, "--night", "2018-07-10", "--json")
    assert r.code == 3, r.err
    rep = r.json()
    assert rep["night"] == "2018-07-10" and rep["status"] == "attention"
    assert [t["target"] for t in rep["targets"]] == ["OSS", "MSS", "ESS", "EU", "Bright", "ThreePi", "QUB.lv",
                                                     "FSS"]
    stages = {t["target"]: t["stages"] for t in rep["targets"]}
    assert set(stages["OSS"]) == {"chip", "cam", "warp", "diff", "publish"}
    assert stages["EU"]["chip"] == {"total": 8, "done": 7, "pending": 0, "faulted": 1, "bad_quality": 0}
    assert stages["ESS"]["cam"]["bad_quality"] == 1 and stages["ESS"]["diff"]["faulted"] == 1
    assert stages["OSS"]["warp"]["faulted"] == 1
    assert stages["MSS"]["publish"] == {"total": 5, "done": 4, "pending": 1, "faulted": 0, "bad_quality": 0}
    for p in rep["problems"]:
        assert set(p) >= {"kind", "stage", "id", "component", "fault", "meaning", "fix", "person"}
        assert bool(p["fix"]) != bool(p["person"])
        assert p["fix"] is None or p["fix"].startswith(f"mopstool --db {db_url} ")
    by = {}
    for p in rep["problems"]:
        by.setdefault(p["kind"], []).append(p)
    faults = {(p["stage"], p["id"], p["component"], p["fault"], p["fix"]) for p in by["fault"]}
    m = f"mopstool --db {db_url}"
    assert faults == {
        ("chip", demo["chip_fault"], "XY23", 2, f"{m} revert chip --id {demo['chip_fault']} --yes"),
        ("chip", demo["chip_fault"], "XY45", 5, f"{m} revert chip --id {demo['chip_fault']} --yes"),
        ("warp", demo["warp_fault"], "skycell.1202.040", 2, f"{m} revert warp --id {demo['warp_fault']} --yes"),
        ("diff", demo["diff_fault"], "skycell.1223.041", 2, f"{m} revert diff --id {demo['diff_fault']} --yes"),
        ("chip", demo["gone_chip"], "XY33", 26, f"{m} fixbroken --chip-id {demo['gone_chip']} --yes"),
    }
    gone = [p for p in by["fault"] if p["fault"] == 26][0]
    assert gone["night"] == "2018-07-09" and "GONE" in gone["meaning"]
    lost = {(p["target"], p["component"]): p for p in by["lost_visit"]}
    assert set(lost) == {("OSS", "OSS.R20S1.003 visit 4"), ("MSS", "MSS.R10N3.002 visit 2"),
                         ("ESS", "ESS.R05S2.001 visit 3")}
    assert "missing" in lost[("OSS", "OSS.R20S1.003 visit 4")]["meaning"]
    assert "pairs 2-3 not defined" in lost[("OSS", "OSS.R20S1.003 visit 4")]["meaning"]
    assert "bad_fwhm" in lost[("MSS", "MSS.R10N3.002 visit 2")]["meaning"]
    assert "pairs 3-4" in lost[("MSS", "MSS.R10N3.002 visit 2")]["meaning"]
    assert "4007" in lost[("ESS", "ESS.R05S2.001 visit 3")]["meaning"]
    assert lost[("ESS", "ESS.R05S2.001 visit 3")]["id"] == demo["cam_quality"]
    define = f"{m} diffpairs --define --desperate --ws --night 2018-07-10 --yes"
    assert lost[("OSS", "OSS.R20S1.003 visit 4")]["fix"] == define
    (ws,) = by["missing_diff"]
    assert ws["target"] == "FSS" and "4 warp-stack diffs" in ws["meaning"]
    assert ws["fix"] == define
    (unpub,) = by["unpublished"]
    assert unpub["id"] == demo["unpublished"] and unpub["fix"] == f"{m} publish --night 2018-07-10 --yes"
    (backlog,) = by["pstamp_backlog"]
    assert backlog["component"] == "MOPS" and "behind 300" in backlog["meaning"]
    assert backlog["fix"] is None and "backlog" in backlog["person"]
    assert set(by) == {"fault", "lost_visit", "missing_diff", "unpublished", "pstamp_backlog"}
    assert len(rep["problems"]) == 11

    # the table view, for a person
    r = cli("czar", "--db", db_url, "--night", "2018-07-10")
    assert r.code == 3 and "problems need attention" in r.err
    assert "lost_visit" in r.out and f"{m} publish --night 2018-07-10 --yes" in r.out.splitlines()

    # every fix runs; afterwards only the pipeline's own work is left
    fixes = list(dict.fromkeys(p["fix"] for p in rep["problems"] if p["fix"]))
    for fix in fixes:
        res = cli(*shlex.split(fix)[1:])
        assert res.code == 0, (fix, res.err)
    after = cli("czar", "--db", db_url, "--night", "2018-07-10", "--json").json()
    left = {(p["kind"], p["target"]) for p in after["problems"]}
    # reverted components are reprocessed by the pipeline; the gone chip waits for its replacement
    assert left <= {("processing", "OSS"), ("processing", "EU"), ("fault", "OSS"), ("pstamp_backlog", None)}
    assert not [p for p in after["problems"] if p["kind"] in ("lost_visit", "missing_diff", "unpublished")]
    # a second round of the diff fixes defines nothing
    for fix in fixes:
        if " diffpairs " in fix or " publish " in fix:
            res = cli(*shlex.split(fix)[1:], "--json")
            assert res.code == 0 and [x for x in res.json() if x.get("status") == "defined"] == []


def test_czar_clean_night_exits_0(cli, db_url, dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="O1")
        client = s.publish_client()
        for a, b in ((1, 2), (3, 4)):
            s.publish(client_id=client, diff_id=ww_diff(s, ch[a][0], ch[b][0]), label="OSS.nightlyscience")
    r = cli("czar", "--db", db_url, "--night", "2018-07-10", "--json")
    assert r.code == 0, r.err
    rep = r.json()
    assert rep["status"] == "clean" and rep["problems"] == []
    oss = [t for t in rep["targets"] if t["target"] == "OSS"][0]["stages"]
    assert oss["chip"] == {"total": 4, "done": 4, "pending": 0, "faulted": 0, "bad_quality": 0}
    assert oss["diff"]["done"] == 2 and oss["publish"]["done"] == 2
    r = cli("czar", "--db", db_url, "--night", "2018-07-10")
    assert r.code == 0 and "clean" in r.err


# ---------------------------------------------------------------------- statement counts

SPECS = [
    {1: "ok", 2: "ok", 3: "ok", 4: "missing"},
    {1: "ok", 2: "bad_fwhm", 3: "ok", 4: "ok"},
    {1: "ok", 2: "ok", 3: "warp_fault", 4: "ok"},
    {1: "ok", 2: "ok", 3: "bad_quality", 4: "ok"},
    {1: "chip_fault", 2: "ok", 3: "ok", 4: "ok"},
    {1: "ok", 2: "ok", 3: "ok", 4: "ok"},
]


def _night_of(s: Synth, night: date, nfields: int, client: int) -> None:
    for i in range(nfields):
        ch = build_field(s, visits=SPECS[i % len(SPECS)], obj=f"OSS.F{i:03d}", night=night,
                         hour=6 + 0.02 * i)
        if i % len(SPECS) in (0, 5):
            d = ww_diff(s, ch[1][0], ch[2][0], night=night)
            s.publish(client_id=client, diff_id=d, label="OSS.nightlyscience")
    s.pstamp_request(name=f"MOPS.{night}", label="MOPS", state="new")


def test_statement_count_does_not_grow_with_fields(dbs):
    small, big = date(2018, 7, 10), date(2018, 7, 12)
    with dbs.begin() as conn:
        s = Synth(conn)
        client = s.publish_client()
        _night_of(s, small, 3, client)
        _night_of(s, big, 30, client)
    cfg = load_config()
    counter = {"n": 0}

    def count(*_a, **_k):
        counter["n"] += 1

    event.listen(dbs.gpc1, "before_cursor_execute", count)
    try:
        def statements(fn, night):
            counter["n"] = 0
            out = fn(night)
            return counter["n"], out

        for fn in (lambda n: lostvisits(dbs, cfg, n),
                   lambda n: plan_diffpairs(dbs, cfg, n, ws=True, now=LATE + timedelta(days=3)),
                   lambda n: czar_report(dbs, cfg, n, now=LATE + timedelta(days=3))):
            n_small, out_small = statements(fn, small)
            n_big, out_big = statements(fn, big)
            assert n_small == n_big, (n_small, n_big)
            assert n_small <= 30
        assert len(lostvisits(dbs, cfg, big)) == 30 and len(lostvisits(dbs, cfg, small)) == 3
        assert len(czar_report(dbs, cfg, big, now=LATE)["problems"]) > \
            len(czar_report(dbs, cfg, small, now=LATE)["problems"])
    finally:
        event.remove(dbs.gpc1, "before_cursor_execute", count)


def test_a_second_night_reuses_the_compiled_statements_with_its_own_rows(db_url):
    """The night is a bound parameter: loading another night (czar's look-back
    night) takes every statement from the engine's compiled cache, and still
    reads that night's own exposures (the same as a fresh engine reads)."""
    from sqlalchemy.engine.default import CACHE_HIT

    from mopstool.db import Databases
    from mopstool.ops.nightly.czar import fault_stages
    from mopstool.ops.nightly.visits import load_night

    first, second = date(2018, 7, 10), date(2018, 7, 12)
    with Databases(db_url, db_url).begin() as conn:
        s = Synth(conn)
        client = s.publish_client()
        _night_of(s, first, 2, client)
        _night_of(s, second, 5, client)
    cfg = load_config()

    def load(dbs, night):
        return load_night(dbs, cfg, night, fault_stages=fault_stages(), stats=True, diffs=True)

    def summary(nd):
        return ([(e.exp_name, {n: e.run(n).id for n in e.chain}) for e in nd.exposures],
                sorted((f["stage"], f["id"], str(f["component"])) for f in nd.faults),
                sorted(d["diff_id"] for d in nd.diffs), sorted(nd.stats["chip"]))

    fresh = Databases(db_url, db_url)
    try:
        alone = summary(load(fresh, second))
    finally:
        fresh.dispose()
    dbs = Databases(db_url, db_url)
    hits: list = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        hits.append(context.cache_hit == CACHE_HIT)

    try:
        before = summary(load(dbs, first))
        event.listen(dbs.gpc1, "after_cursor_execute", seen)
        after = summary(load(dbs, second))
    finally:
        dbs.dispose()
    assert hits and all(hits), hits
    assert after == alone and after != before
    assert after[0] and all(name.startswith("o8311") for name, _runs in after[0])   # 2018-07-12
    assert before[0] and all(name.startswith("o8309") for name, _runs in before[0])  # 2018-07-10


def test_unprocessed_exposure_gets_a_definebyquery_fix(cli, db_url, dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok"}, obj="O1")
        late = s.exposure(dateobs=datetime(2018, 7, 10, 8), comment="OSSR.R20S1.12.Q.w visit 4", object="O1",
                          obs_mode="OSS", filter="w.00000", reduction="SWEETSPOT")
        ww_diff(s, ch[1][0], ch[2][0])
    rep = cli("czar", "--db", db_url, "--night", "2018-07-10", "--json").json()
    (p,) = [p for p in rep["problems"] if p["kind"] == "processing"]
    assert p["component"] == "O1 visit 4" and "no chip run" in p["meaning"]
    assert p["fix"].startswith(f"mopstool --db {db_url} definebyquery --exp-name {late.exp_name} "
                               "--set-label OSS.nightlyscience")
    r = cli(*shlex.split(p["fix"])[1:])
    assert r.code == 0, r.err
    lv = cli("lostvisits", "--db", db_url, "--night", "2018-07-10", "--json").json()
    v4 = lv[0]["visits"][3]
    assert v4["status"] == "processing" and "chip run" in v4["reason"] and "state new" in v4["reason"]


def test_fault_26_under_repair_points_at_fixbroken_status(cli, db_url, demo):
    before = [p for p in cli("czar", "--night", "2018-07-10", "--json", "--db", db_url).json()["problems"]
              if p.get("fault") == 26]
    assert len(before) == 1 and before[0]["fix"].startswith(f"mopstool --db {db_url} fixbroken --chip-id")
    r = cli("fixbroken", "--yes", "--db", db_url)
    assert r.code == 0, r.err
    after = [p for p in cli("czar", "--night", "2018-07-10", "--json", "--db", db_url).json()["problems"]
             if p.get("fault") == 26]
    assert len(after) == 1
    assert "repair in progress" in after[0]["meaning"]
    assert after[0]["fix"] == f"mopstool --db {db_url} fixbroken finish --yes"
