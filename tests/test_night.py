"""mopstool night: the by-exposure status table on the demo night (every planted
trouble in its cell, fixes that run as printed), all output formats, the
target/chunk selection, bad input, and a statement count that does not grow
with the number of fields."""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import date

import pytest
from sqlalchemy import event

from mopstool.config import load_config
from mopstool.ops.demo.synth import Synth
from mopstool.ops.report.night import CELL_STATUSES, STAGE_COLUMNS, night_table

from test_nightly_helpers import NIGHT, build_field, ww_diff

N = "2018-07-10"


@pytest.fixture
def demo(demo_loader):
    return demo_loader().ids


def _rows(data):
    return {(r["object"], r["visit"], r["exp_name"]): r for r in data["exposures"]}


def _one(data, obj, visit):
    (row,) = [r for r in data["exposures"] if r["object"] == obj and r["visit"] == visit]
    return row


def test_demo_night_lists_every_exposure_with_the_planted_troubles(cli, db_url, demo):
    r = cli("night", "--db", db_url, "--night", N, "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data["night"] == N
    rows = data["exposures"]
    assert len(rows) == 53 and len({x["exp_name"] for x in rows}) == 53
    assert {t: sum(1 for x in rows if x["target"] == t) for t in ("OSS", "MSS", "ESS", "EU", "FSS")} == \
        {"OSS": 15, "MSS": 12, "ESS": 12, "EU": 8, "FSS": 6}
    for x in rows:
        assert set(x) >= {"exp_name", "target", "object", "chunk", "filter", "visit", "dateobs", "exp_time",
                          "airmass", "fwhm", "zpt_obs", "stages", "visit_status", "pairs", "lost"}
        assert list(x["stages"]) == list(STAGE_COLUMNS)
        assert all(c["status"] in CELL_STATUSES for c in x["stages"].values())
        assert x["dateobs"].startswith(N) and x["exp_time"] == 45.0 and x["airmass"] == pytest.approx(1.1)
    db = f"mopstool --db {db_url} "

    # OSS field 3 lost visit 4 to weather: no exposure, listed as a lost visit
    assert [x["visit"] for x in rows if x["object"] == "OSS.R20S1.003"] == [1, 2, 3]
    lost = {(x["object"], x["visit"]): x for x in data["lost_visits"]}
    assert lost[("OSS.R20S1.003", 4)]["status"] == "missing" and lost[("OSS.R20S1.003", 4)]["exp_name"] is None
    assert lost[("OSS.R20S1.003", 4)]["alternate_pairs"] == [[2, 3]]
    assert set(lost) == {("OSS.R20S1.003", 4), ("OSS.R20S1.002", 3), ("MSS.R10N3.002", 2),
                         ("ESS.R05S2.001", 3), ("EU.R01N1.001", 1)}
    # ... and its visits 2 and 3 are the desperate pair, ready to define
    v3 = _one(data, "OSS.R20S1.003", 3)
    assert v3["stages"]["ww_diff"]["status"] == "todo" and "planned 2-3 desperate" in v3["stages"]["ww_diff"]["text"]
    assert v3["stages"]["ww_diff"]["fix"] == \
        db + f"diffpairs --define --desperate --night {N} --chunk OSSR.R20S1.12.Q.w"
    assert {"kind": "desperate", "input_visit": 2, "template_visit": 3, "role": "template",
            "status": "planned", "diff_id": None} in v3["pairs"]

    # OSS field 2 visit 3: warp skycell with fault 2; the field's pairs wait for it
    w = _one(data, "OSS.R20S1.002", 3)
    assert w["visit_status"] == "faulted" and w["lost"]
    assert w["stages"]["warp"]["status"] == "faulted"
    assert "fault 2 skycell.1202.040" in w["stages"]["warp"]["text"]
    assert w["stages"]["warp"]["fix"] == db + f"revert warp --id {demo['warp_fault']}"
    assert w["stages"]["chip"]["status"] == w["stages"]["cam"]["status"] == "done"
    assert w["stages"]["ww_diff"]["status"] == "pending" and "waiting 3-4" in w["stages"]["ww_diff"]["text"]

    # MSS field 2 visit 2: FWHM above the cut, rejected for diffs
    m = _one(data, "MSS.R10N3.002", 2)
    assert m["fwhm"] == pytest.approx(8.1) and m["visit_status"] == "bad_fwhm"
    assert m["stages"]["cam"]["status"] == "bad" and "FWHM 8.10 above the cut 6" in m["stages"]["cam"]["text"]
    assert m["stages"]["ww_diff"] == {"status": "none", "text": "not used (bad_fwhm)", "fix": None}

    # ESS field 1 visit 3: camera quality 4007, no warp
    e = _one(data, "ESS.R05S2.001", 3)
    assert e["visit_status"] == "bad_quality" and e["stages"]["cam"]["status"] == "bad"
    assert "quality 4007" in e["stages"]["cam"]["text"] and e["stages"]["warp"]["status"] == "none"

    # EU field 1 visit 1: chip faults 2 (XY23) and 5 (XY45)
    c = _one(data, "EU.R01N1.001", 1)
    chip = c["stages"]["chip"]
    assert chip["status"] == "faulted" and chip["id"] == demo["chip_fault"]
    assert {(f["component"], f["fault"]) for f in chip["faults"]} == {("XY23", 2), ("XY45", 5)}
    assert chip["fix"] == db + f"revert chip --id {demo['chip_fault']}"
    assert c["stages"]["cam"]["status"] == "none" and c["fwhm"] is not None and c["zpt_obs"] is None

    # ESS field 3: the 3-4 diff has a faulted skycell (both exposures show it)
    for v in (3, 4):
        d = _one(data, "ESS.R05S2.003", v)["stages"]["ww_diff"]
        assert d["status"] == "faulted" and d["diff_ids"] == [demo["diff_fault"]]
        assert "fault 2 skycell.1223.041" in d["text"] and d["fix"] == db + f"revert diff --id {demo['diff_fault']}"

    # MSS field 3: the 3-4 diff is not published
    for v in (3, 4):
        p = _one(data, "MSS.R10N3.003", v)["stages"]["publish"]
        assert p["status"] == "todo" and str(demo["unpublished"]) in p["text"]
        assert p["fix"] == db + f"publish --diff-id {demo['unpublished']}"
    assert _one(data, "MSS.R10N3.003", 1)["stages"]["publish"]["status"] == "done"

    # FSS: visit 6 lacks its warp-stack diffs; FSS is not WW-diffable
    f6 = _one(data, "FSS.R02S1.001", 6)["stages"]
    assert f6["ws_diff"]["status"] == "todo" and f6["ws_diff"]["text"].startswith("0/4 skycells, 4 to define")
    assert f6["ws_diff"]["fix"] == db + f"diffpairs --define --ws --night {N} --chunk FSS.R02S1.1.w"
    assert f6["ww_diff"]["text"] == "not diffable"
    assert _one(data, "FSS.R02S1.001", 1)["stages"]["ws_diff"] == {
        "status": "done", "text": "4/4 skycells", "fix": None,
        "diff_ids": _one(data, "FSS.R02S1.001", 1)["stages"]["ws_diff"]["diff_ids"]}

    # a trouble-free exposure is done everywhere it applies
    ok = _one(data, "OSS.R20S1.001", 1)
    assert [ok["stages"][s]["status"] for s in STAGE_COLUMNS] == ["done", "done", "done", "done", "none", "done"]
    assert ok["pairs"] == [{"kind": "regular", "input_visit": 1, "template_visit": 2, "role": "input",
                            "status": "exists", "diff_id": ok["stages"]["ww_diff"]["diff_ids"][0]}]
    assert {(x["target"], x["chunk"]) for x in data["desperate_ready"]} == {
        ("OSS", "OSSR.R20S1.12.Q.w"), ("MSS", "MSS.R10N3.5.Q.i"), ("ESS", "ESS.R05S2.3.Q.w")}

    # the printed fixes run as printed; afterwards those cells are clear
    fixes = [v3["stages"]["ww_diff"]["fix"], f6["ws_diff"]["fix"],
             _one(data, "MSS.R10N3.003", 3)["stages"]["publish"]["fix"]]
    for fix in fixes:
        res = cli(*shlex.split(fix)[1:], "--yes")
        assert res.code == 0, (fix, res.err)
    after = cli("night", "--db", db_url, "--night", N, "--json").json()
    assert _one(after, "OSS.R20S1.003", 3)["stages"]["ww_diff"]["status"] == "pending"  # defined, not run yet
    assert _one(after, "FSS.R02S1.001", 6)["stages"]["ws_diff"]["text"].startswith("0/4 skycells")
    assert _one(after, "FSS.R02S1.001", 6)["stages"]["ws_diff"]["status"] == "pending"
    assert _one(after, "MSS.R10N3.003", 3)["stages"]["publish"]["status"] == "pending"
    assert ("OSS", "OSSR.R20S1.12.Q.w") not in {(x["target"], x["chunk"]) for x in after["desperate_ready"]}


def test_formats_selection_and_ready_lines(cli, db_url, demo):
    r = cli("night", "--db", db_url, "--night", N, "--format", "csv")
    assert r.code == 0, r.err
    recs = list(csv.DictReader(io.StringIO(r.out)))
    assert len(recs) == 53
    assert list(recs[0])[:11] == ["exp_name", "target", "object", "chunk", "filter", "visit", "dateobs",
                                  "exp_time", "airmass", "fwhm", "zpt_obs"]
    assert set(STAGE_COLUMNS) <= set(recs[0])
    bad = [x for x in recs if x["object"] == "EU.R01N1.001" and x["visit"] == "1"][0]
    assert "fault 2 XY23" in bad["chip"]
    # jsonl: one exposure per line
    r = cli("night", "--db", db_url, "--night", N, "--format", "jsonl")
    lines = [json.loads(x) for x in r.out.splitlines()]
    assert len(lines) == 53 and all("stages" in x for x in lines)
    # table: the exposures, then the lost visits; the ready chunks on stderr
    r = cli("night", "--db", db_url, "--night", N)
    assert r.code == 0 and "# lost visits" in r.out and "o8309g0031o" in r.out
    assert "OSS chunk OSSR.R20S1.12.Q.w is ready for its desperate diffs" in r.err
    assert "ready" not in r.out
    # --target / --chunk
    r = cli("night", "--db", db_url, "--night", N, "--target", "MSS,EU", "--json")
    assert {x["target"] for x in r.json()["exposures"]} == {"MSS", "EU"} and len(r.json()["exposures"]) == 20
    assert {x["target"] for x in r.json()["lost_visits"]} == {"MSS", "EU"}
    r = cli("night", "--db", db_url, "--night", N, "--chunk", "FSS.R02S1.1.w", "--json")
    assert len(r.json()["exposures"]) == 6 and r.json()["desperate_ready"] == []
    # an empty night is an empty list, exit 0
    r = cli("night", "--db", db_url, "--night", "2018-01-01", "--json")
    assert r.code == 0 and r.json()["exposures"] == [] and "no exposures" in r.err


def test_bad_input(cli, db_url):
    for args, word in ((("--target", "NOPE"), "unknown target"), (("--night", "10/07/2018"), "night"),
                       (("--every", "5m"), "--every needs --watch"), (("--watch",), "needs a terminal"),
                       (("--watch", "--json"), "--format json cannot be watched"),
                       (("--format", "xml"), "unknown format")):
        r = cli("night", "--db", db_url, *args)
        assert r.code == 2, (args, r.code, r.err)
        assert r.out == "" and len(r.err.strip().splitlines()) == 1 and word in r.err, (args, r.err)
        assert r.err.startswith("mopstool: error: ")


SPECS = [
    {1: "ok", 2: "ok", 3: "ok", 4: "missing"},
    {1: "ok", 2: "bad_fwhm", 3: "ok", 4: "ok"},
    {1: "ok", 2: "ok", 3: "warp_fault", 4: "ok"},
    {1: "ok", 2: "ok", 3: "bad_quality", 4: "ok"},
    {1: "chip_fault", 2: "ok", 3: "ok", 4: "ok"},
    {1: "ok", 2: "ok", 3: "ok", 4: "ok"},
]


def test_statement_count_does_not_grow_with_fields(dbs):
    small, big = date(2018, 7, 10), date(2018, 7, 12)
    with dbs.begin() as conn:
        s = Synth(conn)
        client = s.publish_client()
        for night, nfields in ((small, 3), (big, 30)):
            for i in range(nfields):
                ch = build_field(s, visits=SPECS[i % len(SPECS)], obj=f"OSS.F{i:03d}", night=night,
                                 hour=6 + 0.02 * i)
                if i % len(SPECS) in (0, 5):
                    d = ww_diff(s, ch[1][0], ch[2][0], night=night)
                    s.publish(client_id=client, diff_id=d, label="OSS.nightlyscience")
    cfg = load_config()
    counter = {"n": 0}

    def count(*_a, **_k):
        counter["n"] += 1

    event.listen(dbs.gpc1, "before_cursor_execute", count)
    try:
        counts = {}
        for night in (small, big):
            counter["n"] = 0
            t = night_table(dbs, cfg, night)
            counts[night] = (counter["n"], len(t.rows))
    finally:
        event.remove(dbs.gpc1, "before_cursor_execute", count)
    (n_small, rows_small), (n_big, rows_big) = counts[small], counts[big]
    assert rows_small == 11 and rows_big == 115
    assert n_small == n_big and n_small <= 20, counts
