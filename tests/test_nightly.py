"""Visit sets: grouping, acceptance and pairing (the missing-visit table of
nightly_science), as pure functions and through lostvisits/diffpairs on
SQLite and MariaDB."""

from __future__ import annotations

from datetime import datetime

import pytest

from mopstool.config import load_config
from mopstool.ops.nightly.diffpairs import plan_diffpairs
from mopstool.ops.nightly.visits import (
    Exposure, alternate_pairs, chunk_of, classify, desperate_pairs, group_visits, lostvisits,
    plan_pairs, regular_pairs, visit_number,
)
from mopstool.ops.demo.synth import Synth

from test_nightly_helpers import NIGHT, build_field, by_object, pairs_of, ww_diff

LATE = datetime(2018, 7, 11, 12)  # well after the end of the night


# ---------------------------------------------------------------------- pure functions

# the missing-visit table: usable visits -> (regular pairs, desperate pairs, alternates)
TABLE = [
    ([1, 2, 3, 4], [(1, 2), (3, 4)], [], []),
    ([1, 2, 3], [(1, 2)], [(2, 3)], [(2, 3)]),            # v4 lost
    ([1, 2, 4], [(1, 2)], [(2, 4)], [(2, 4)]),            # v3 lost
    ([1, 3, 4], [(1, 3)], [(3, 4)], [(1, 3)]),            # v2 lost
    ([2, 3, 4], [(2, 3)], [(3, 4)], [(2, 3)]),            # v1 lost
    ([1, 2], [(1, 2)], [], []),                           # two visits
    ([2, 4], [(2, 4)], [], [(2, 4)]),                     # two visits a, b
    ([3], [], [], []),                                    # one visit
    ([], [], [], []),
    ([1, 2, 3, 4, 5], [(1, 2), (3, 4)], [(2, 3), (4, 5)], [(2, 3), (4, 5)]),
    ([1, 2, 3, 4, 5, 6], [(1, 2), (3, 4), (5, 6)], [], []),
]


@pytest.mark.parametrize("usable,regular,desperate,alternates", TABLE)
def test_missing_visit_table(usable, regular, desperate, alternates):
    reg, des = plan_pairs(usable)
    assert reg == regular
    assert sorted(des) == desperate
    assert alternate_pairs(usable, 4) == alternates


def test_desperate_pass_order_and_drop():
    # latest first; the earliest of an odd list is dropped; the input is the earlier visit
    assert desperate_pairs([1, 2, 3, 4, 5]) == [(4, 5), (2, 3)]
    assert desperate_pairs([1, 2]) == []
    assert regular_pairs([5, 1, 3]) == [(1, 3)]


def test_visit_numbers_are_numeric():
    assert visit_number("OSSR.R20S1.12.Q.w visit 10") == 10
    assert visit_number("MSS.R10N3.5.Q.i Visit 3") == 3
    assert visit_number("OSSR.R20S1.12.Q.w") is None
    # visit 10 follows visit 9 (a string sort would put it before visit 2)
    assert regular_pairs(list(range(1, 11)))[-1] == (9, 10)


def test_chunk_is_comment_up_to_first_space():
    assert chunk_of("OSSR.R20S1.12.Q.w visit 1") == "OSSR.R20S1.12.Q.w"
    assert chunk_of("nospace") == ""
    assert chunk_of(None) == ""


def _exp(exp_id, minute, comment, **kw):
    base = dict(exp_id=exp_id, exp_name=f"o8309g{exp_id:04d}o", dateobs=datetime(2018, 7, 10, 7, minute),
                comment=comment, object="F1", filter="w.00000", target="OSS", chip_id=exp_id,
                chip_state="full", cam_id=exp_id, cam_state="full", cam_processed=True, cam_quality=0,
                cam_fault=0, cam_fwhm=4.5, fake_id=exp_id, fake_state="full", warp_id=exp_id,
                warp_state="full")
    base.update(kw)
    return Exposure(**base)


TARGETS = {"OSS": {"visits": 4, "max_fwhm": 6.0, "desperate": True, "diffable": True}}


def test_classify_order():
    assert classify(_exp(1, 0, "c visit 1"), 6.0).status == "ok"
    assert classify(_exp(1, 0, "c visit 1", warp_state="drop"), 6.0).status == "dropped"
    assert classify(_exp(1, 0, "c visit 1", cam_quality=4007, warp_id=None), 6.0).status == "bad_quality"
    assert classify(_exp(1, 0, "c visit 1", cam_fwhm=7.0), 6.0).status == "bad_fwhm"
    assert classify(_exp(1, 0, "c visit 1", cam_fwhm=7.0), None).status == "ok"
    fault = {"stage": "warp", "id": 1, "component": "skycell.1", "fault": 2}
    assert classify(_exp(1, 0, "c visit 1", warp_state="new", faults=[fault]), 6.0).status == "faulted"
    assert classify(_exp(1, 0, "c visit 1", warp_state="new"), 6.0).status == "processing"
    v = classify(_exp(1, 0, "c visit 1", chip_id=None, cam_id=None, fake_id=None, warp_id=None), 6.0)
    assert (v.status, v.reason) == ("processing", "no chip run defined")


def test_group_repeated_visit_keeps_latest_good():
    exps = [_exp(1, 0, "C visit 1"), _exp(2, 17, "C visit 2"), _exp(3, 20, "C visit 2", cam_fwhm=9.0),
            _exp(4, 34, "C visit 3"), _exp(5, 40, "C visit 3"), _exp(6, 51, "C visit 4")]
    (g,) = group_visits(exps, TARGETS)
    assert g.visits[2].exposure.exp_id == 2          # the later repeat is bad: the good one stays
    assert [e.exp_id for e in g.visits[2].repeats] == [3]
    assert g.visits[3].exposure.exp_id == 5          # both good: the latest wins
    assert g.usable == [1, 2, 3, 4] and g.lost == []


def test_group_without_visit_numbers_uses_time_order():
    exps = [_exp(1, 0, "C passb"), _exp(2, 17, "C passa"), _exp(3, 34, "C passc")]
    (g,) = group_visits(exps, TARGETS)
    assert [g.visits[n].exposure.exp_id for n in (1, 2, 3)] == [1, 2, 3]
    assert g.visits[4].status == "missing"
    assert g.lost_report()["alternate_pairs"] == [[2, 3]]


# ---------------------------------------------------------------------- on a database

CASES = {
    # object: (visits spec, lost, regular, alternate, diffpairs regular, diffpairs desperate)
    "F.quad": ({1: "ok", 2: "ok", 3: "ok", 4: "ok"}, [], [[1, 2], [3, 4]], [],
               [(1, 2), (3, 4)], []),
    "F.v4lost": ({1: "ok", 2: "ok", 3: "ok", 4: "missing"}, [4], [[1, 2]], [[2, 3]], [(1, 2)], [(2, 3)]),
    "F.v3lost": ({1: "ok", 2: "ok", 3: "bad_quality", 4: "ok"}, [3], [[1, 2]], [[2, 4]], [(1, 2)], [(2, 4)]),
    "F.v2lost": ({1: "ok", 2: "bad_fwhm", 3: "ok", 4: "ok"}, [2], [[1, 3]], [[1, 3]], [(1, 3)], [(3, 4)]),
    "F.v1lost": ({1: "dropped", 2: "ok", 3: "ok", 4: "ok"}, [1], [[2, 3]], [[2, 3]], [(2, 3)], [(3, 4)]),
    "F.two": ({1: "ok", 2: "ok"}, [3, 4], [[1, 2]], [], [(1, 2)], []),
    "F.one": ({1: "ok"}, [2, 3, 4], [], [], [], []),
    "F.five": ({1: "ok", 2: "ok", 3: "ok", 4: "ok", 5: "ok"}, [], [[1, 2], [3, 4]], [[2, 3], [4, 5]],
               [(1, 2), (3, 4)], [(2, 3), (4, 5)]),
    "F.six": ({n: "ok" for n in range(1, 7)}, [], [[1, 2], [3, 4], [5, 6]], [],
              [(1, 2), (3, 4), (5, 6)], []),
    "F.repeat": ({1: "ok", 2: ["bad_fwhm", "ok"], 3: "ok", 4: "ok"}, [], [[1, 2], [3, 4]], [],
                 [(1, 2), (3, 4)], []),
    "F.ten": ({n: "ok" for n in range(1, 11)}, [], [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]], [],
              [(1, 2), (3, 4), (5, 6), (7, 8), (9, 10)], []),
}


@pytest.fixture
def table_night(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        chains = {}
        for i, (obj, case) in enumerate(CASES.items()):
            chains[obj] = build_field(s, visits=case[0], obj=obj, hour=6 + 0.05 * i)
    return chains


def test_lostvisits_table_on_db(dbs, table_night):
    cfg = load_config()
    rows = by_object(lostvisits(dbs, cfg, NIGHT))
    assert set(rows) == set(CASES)
    for obj, (_, lost, regular, alternate, _r, _d) in CASES.items():
        r = rows[obj]
        assert r["lost"] == lost, obj
        assert r["regular_pairs"] == regular, obj
        assert r["alternate_pairs"] == alternate, obj
        assert r["target"] == "OSS" and r["chunk"] == "OSSR.R20S1.12.Q.w" and r["filter"] == "w.00000"
        assert r["expected_visits"] == 4
    statuses = {v["visit"]: v["status"] for v in rows["F.v3lost"]["visits"]}
    assert statuses == {1: "ok", 2: "ok", 3: "bad_quality", 4: "ok"}
    assert rows["F.v3lost"]["visits"][2]["reason"].startswith("camera quality 4007")
    assert [v["status"] for v in rows["F.v2lost"]["visits"]] == ["ok", "bad_fwhm", "ok", "ok"]
    assert [v["status"] for v in rows["F.v1lost"]["visits"]] == ["dropped", "ok", "ok", "ok"]
    v4 = rows["F.v4lost"]["visits"][3]
    assert (v4["visit"], v4["status"], v4["exp_id"]) == (4, "missing", None)
    # a repeated visit keeps its latest good exposure
    rep = rows["F.repeat"]["visits"][1]
    assert rep["exp_id"] == table_night["F.repeat"][2][1].exp_id
    assert rep["repeats"] == [table_night["F.repeat"][2][0].exp_name]
    # visit 10 after visit 9
    assert [v["visit"] for v in rows["F.ten"]["visits"]] == list(range(1, 11))


def test_diffpairs_table_on_db(dbs, table_night):
    cfg = load_config()
    plan = plan_diffpairs(dbs, cfg, NIGHT, now=LATE)
    rows = plan.rows()
    for obj, (*_, reg, des) in CASES.items():
        assert pairs_of(rows, obj, "regular") == [(a, b, "planned") for a, b in reg], obj
        assert pairs_of(rows, obj, "desperate") == [(a, b, "planned") for a, b in des], obj
    # the input is always the earlier exposure
    for r in rows:
        exps = {e.exp_id: e for e in plan.data.exposures}
        assert exps[r["input"]["exp_id"]].dateobs < exps[r["template"]["exp_id"]].dateobs
    # the repeated visit pairs with its good (later) exposure
    rep = [r for r in rows if r["object"] == "F.repeat" and r["input"]["visit"] == 1][0]
    assert rep["template"]["exp_id"] == table_night["F.repeat"][2][1].exp_id
    assert rep["template"]["warp_id"] == table_night["F.repeat"][2][1].warp_id


def test_existing_pairs_in_either_order_count(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        ch = build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "missing"}, obj="F.x")
        ww_diff(s, ch[2][0], ch[1][0])      # 1-2 made template-first
    rows = plan_diffpairs(dbs, load_config(), NIGHT, now=LATE).rows()
    assert pairs_of(rows, "F.x") == [(1, 2, "exists"), (2, 3, "planned")]
    rep = lostvisits(dbs, load_config(), NIGHT)
    assert rep[0]["lost"] == [4] and rep[0]["alternate_pairs"] == [[2, 3]]


def test_pending_visits_make_the_field_wait(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        build_field(s, visits={1: "ok", 2: "ok", 3: "warp_fault", 4: "ok"}, obj="F.wf")
        build_field(s, visits={1: "chip_fault", 2: "ok", 3: "ok", 4: "ok"}, obj="F.cf", hour=8)
        build_field(s, visits={1: "ok", 2: "processing", 3: "ok", 4: "missing"}, obj="F.pr", hour=9)
    cfg = load_config()
    lv = by_object(lostvisits(dbs, cfg, NIGHT))
    assert [v["status"] for v in lv["F.wf"]["visits"]] == ["ok", "ok", "faulted", "ok"]
    assert "fault 2" in lv["F.wf"]["visits"][2]["reason"]
    assert lv["F.cf"]["visits"][0]["status"] == "faulted"
    assert lv["F.pr"]["visits"][1]["status"] == "processing"
    assert lv["F.wf"]["alternate_pairs"] == [[2, 4]]     # if visit 3 stays lost
    rows = plan_diffpairs(dbs, cfg, NIGHT, now=LATE).rows()
    assert pairs_of(rows, "F.wf") == [(1, 2, "waiting"), (3, 4, "waiting")]
    assert pairs_of(rows, "F.cf") == [(1, 2, "waiting"), (3, 4, "waiting")]
    assert pairs_of(rows, "F.pr") == [(1, 2, "waiting"), (2, 3, "waiting")]
    assert all("field waits for visit" in r["note"] for r in rows)


def test_filters_targets_and_chunks(dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="O1")
        build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="M1", target="MSS",
                    chunk="MSS.R10N3.5.Q.i", filt="i.00000", hour=8)
        # an exposure of no configured target, and a FSS field (not diffable)
        build_field(s, visits={1: "ok"}, obj="X1", target="STS", chunk="STS.R1", hour=9)
        build_field(s, visits={n: "ok" for n in range(1, 7)}, obj="FSS.1", target="FSS",
                    chunk="FSS.R02S1.1.w", hour=10)
    cfg = load_config()
    assert sorted(r["object"] for r in lostvisits(dbs, cfg, NIGHT)) == ["M1", "O1"]
    assert [r["object"] for r in lostvisits(dbs, cfg, NIGHT, targets=["MSS"])] == ["M1"]
    assert [r["object"] for r in lostvisits(dbs, cfg, NIGHT, filter="w")] == ["O1"]
    assert [r["object"] for r in lostvisits(dbs, cfg, NIGHT, chunk="MSS.R10N3.5.Q.i")] == ["M1"]
    fss = lostvisits(dbs, cfg, NIGHT, targets=["FSS"])
    assert [r["object"] for r in fss] == ["FSS.1"] and fss[0]["lost"] == []
    assert fss[0]["regular_pairs"] == []      # FSS is not diffable (warp-stack diffs only)


def test_lostvisits_cli_exit_codes(cli, db_url, dbs):
    with dbs.begin() as conn:
        s = Synth(conn)
        build_field(s, visits={1: "ok", 2: "ok", 3: "ok", 4: "ok"}, obj="O1")
    r = cli("lostvisits", "--db", db_url, "--night", "2018-07-10", "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["lost"] == []
    with dbs.begin() as conn:
        build_field(Synth(conn), visits={1: "ok", 2: "ok", 3: "ok", 4: "missing"}, obj="O2", hour=8)
    r = cli("lostvisits", "--db", db_url, "--night", "2018-07-10", "--json")
    assert r.code == 3
    assert by_object(r.json())["O2"]["lost"] == [4]
    assert "1 visits lost" in r.err
    r = cli("lostvisits", "--db", db_url, "--night", "2018-07-10")
    assert r.code == 3 and "O2" in r.out and "missing" in r.out
    r = cli("lostvisits", "--db", db_url, "--night", "2018-07-10", "--target", "NOPE")
    assert r.code == 2 and "unknown target" in r.err
    r = cli("lostvisits", "--db", db_url, "--night", "2018-07-11", "--json")
    assert r.code == 0 and r.json() == []
