"""The legacy front as a drop-in: every option applied as the C tool applies it
or refused naming it (exit 3), the printed modern command makes exactly the same
change, C exit statuses, and the IPP output formats."""

from __future__ import annotations

import math
import shlex

import pytest
from sqlalchemy import create_engine, text

from conftest import engine_for, scratch_copies, table_contents
from mopstool.db import schema
from mopstool.legacy import modes as legacy

TABLES = {
    "chipRun": "chip_id", "chipImfile": "chip_id, class_id",
    "chipProcessedImfile": "chip_id, class_id", "warpRun": "warp_id",
    "warpSkyfile": "warp_id, skycell_id", "warpSkyCellMap": "warp_id, skycell_id, tess_id, class_id",
    "diffRun": "diff_id", "diffSkyfile": "diff_id, skycell_id", "pstampRequest": "req_id",
    "pstampJob": "job_id", "pstampDependent": "dep_id", "chipMask": "label", "warpMask": "label",
}


def dump(url: str) -> dict:
    return table_contents(url, TABLES)


def q(url: str, sql: str, **params):
    with engine_for(url).begin() as conn:
        res = conn.execute(text(sql), params)
        return res.all() if res.returns_rows else []


@pytest.fixture
def demo_pair(request, db_url):
    """Two identical demo databases."""
    return scratch_copies(request, 2)


def modern_of(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.startswith("# modern equivalent: ")]
    assert lines, err
    return lines[-1][len("# modern equivalent: "):]


def run_both(cli, a: str, b: str, legacy_args: str, prepare=None):
    """Run the legacy call on A and its printed modern command on B; the tables must match."""
    for u in (a, b):
        if prepare:
            prepare(u)
    assert dump(a) == dump(b)
    before = dump(a)
    r = cli("--db", a, *shlex.split(legacy_args))
    assert r.code == 0, (legacy_args, r.err)
    modern = modern_of(r.err)
    assert f"--db {a}" in modern, modern
    args = shlex.split(modern.replace(a, b))
    assert args[0] == "mopstool"
    r2 = cli(*args[1:])
    assert r2.code == 0, (modern, r2.err)
    after = dump(a)
    assert after == dump(b), (legacy_args, modern)
    return before, after


# ---------------------------------------------------------------- defect 1: rawExp selectors

def _pretend_ids(cli, url, args):
    r = cli("--db", url, "chiptool", "-definebyquery", "-set_label", "t", "-set_workdir", "w",
            "-set_tess_id", "RINGS.V3", "-pretend", "-simple", *args)
    assert r.code == 0, (args, r.err)
    return sorted(int(line.split(" ")[0]) for line in r.out.splitlines() if line)


def _expected(url, conds):
    from sqlalchemy import select

    raw, new = schema.rawExp, schema.newExp
    eng = create_engine(url)
    with eng.connect() as conn:
        got = conn.execute(select(raw.c.exp_id).distinct().select_from(raw.join(new, new.c.exp_id == raw.c.exp_id))
                           .where(raw.c.fault == 0, raw.c.exp_type == "object", *conds)).scalars().all()
    eng.dispose()
    return sorted(int(i) for i in got)


_OPS = {"=": lambda c, v: c == v, "LIKE": lambda c, v: c.like(v), "NOT LIKE": lambda c, v: c.notlike(v),
        ">=": lambda c, v: c >= v, "<": lambda c, v: c < v, "<=": lambda c, v: c <= v}


def test_every_definebyquery_selector_narrows_as_chiptool(cli, demo_pair):
    from sqlalchemy import select

    url = demo_pair[0]
    raw = schema.rawExp
    eng = create_engine(url)
    with eng.connect() as conn:
        row = conn.execute(select(raw).where(raw.c.exp_type == "object", raw.c.fault == 0)
                           .order_by(raw.c.exp_id).offset(3).limit(1)).one()._mapping
    eng.dispose()
    cases = 0
    for name, (kind, col, op) in legacy.RAWEXP_TERMS.items():
        v = row[col]
        if col == "exp_type":
            continue
        if v is None:   # a column the demo leaves NULL: any value selects nothing
            arg = "1" if kind in ("float", "deg", "int") else "x"
            bound = math.radians(1) if kind == "deg" else (float(arg) if kind == "float" else arg)
        elif kind in ("float", "deg"):
            arg = f"{(math.degrees(v) if kind == 'deg' else v):.6f}"
            bound = math.radians(float(arg)) if kind == "deg" else float(arg)
        elif kind == "time":
            arg, bound = v.strftime("%Y-%m-%dT%H:%M:%S"), v.replace(microsecond=0)
        elif op in ("LIKE", "NOT LIKE"):
            arg = bound = str(v)[:4] + "%"
        else:
            arg, bound = str(v), v
        expected = _expected(url, [_OPS[op](raw.c[col], bound)])
        got = _pretend_ids(cli, url, [f"-{name}", arg])
        assert got == expected, (name, arg, len(got), len(expected))
        cases += 1
    assert cases == len(legacy.RAWEXP_TERMS) - 1
    # the observed defects: a selector that matches nothing selects nothing
    assert _pretend_ids(cli, url, ["-exp_name", row["exp_name"], "-inst", "NOSUCHCAM"]) == []
    assert _pretend_ids(cli, url, ["-filter", "w%", "-ra_min", "10", "-ra_max", "11"]) == _expected(
        url, [raw.c.filter.like("w%"), raw.c.ra >= math.radians(10), raw.c.ra < math.radians(11)])


def test_definebyquery_pretend_prints_rawexp_rows_and_write_prints_nothing(cli, demo_pair):
    url = demo_pair[0]
    name = q(url, "SELECT exp_name FROM rawExp WHERE exp_type = 'object' ORDER BY exp_id")[0][0]
    r = cli("--db", url, "chiptool", "-definebyquery", "-exp_name", name, "-set_label", "L",
            "-set_workdir", "W", "-set_tess_id", "RINGS.V3", "-pretend")
    assert r.code == 0 and r.out.startswith("\nrawExp  METADATA  \n") and "   label " in r.out
    r = cli("--db", url, "chiptool", "-definebyquery", "-exp_name", name, "-set_label", "L",
            "-set_workdir", "W", "-set_tess_id", "RINGS.V3")
    assert r.code == 0 and r.out == ""
    assert q(url, "SELECT COUNT(*) FROM chipRun WHERE label = 'L'")[0][0] == 1
    # no match is success with no output, as chiptool
    r = cli("--db", url, "chiptool", "-definebyquery", "-exp_name", "nosuch", "-set_label", "L",
            "-set_workdir", "W")
    assert r.code == 0 and r.out == ""


# ---------------------------------------------------------------- every option: applied or refused

_VALUES = {"int": "1", "float": "1.5", "deg": "10", "time": "2018-07-10T00:00:00", "str": "x"}


def test_every_option_of_every_mode_is_applied_or_refused(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'e.sqlite'}"
    assert cli("--db", url, "db", "init").code == 0
    for tool, modes in legacy.MODES.items():
        for mode, spec in modes.items():
            for name, opt in spec.options.items():
                args = [tool, f"-{mode}", f"-{name}"]
                if opt.kind != "flag":
                    args.append(opt.choices[0] if opt.choices else _VALUES[opt.kind])
                r = cli("--db", url, *args)
                if opt.refuse:
                    assert r.code == 3 and f"-{name}" in r.err and "not supported" in r.err, (args, r.err)
                else:
                    assert "unknown option" not in r.err and "not supported" not in r.err, (args, r.err)
                    assert opt.how, (tool, mode, name)
            r = cli("--db", url, tool, f"-{mode}", "-no_such_option", "1")
            assert r.code == 3 and "unknown option -no_such_option" in r.err


#: the options chiptoolConfig.c / difftoolConfig.c give these modes (pxchipSetSearchArgs,
#: pxspaceBoxAddArguments included); each must be in the mode's table (then applied or refused)
C_CONFIG_OPTIONS = {
    ("chiptool", "definecopy"): {
        *legacy.RAWEXP_TERMS, "label", "data_group", "exp_type", "state", "set_workdir", "set_label",
        "set_reduction", "set_expgroup", "set_dvodb", "set_tess_id", "set_end_stage", "set_data_group",
        "set_dist_group", "set_note", "pretend", "simple", "all"},
    ("difftool", "definewarpstack"): {
        "warp_id", "exp_id", "skycell_id", "tess_id", "bothways", "filter", "comment", "stack_label",
        "stack_data_group", "warp_label", "data_group", "good_frac", "set_workdir", "set_label", "set_reduction",
        "set_registered", "set_data_group", "set_dist_group", "set_note", "new-templates", "rerun", "available",
        "simple", "pretend", "lap_query", "ra_min", "dec_min", "ra_max", "dec_max"},
}


def test_modes_take_the_options_of_the_c_config():
    for (tool, mode), names in C_CONFIG_OPTIONS.items():
        assert set(legacy.MODES[tool][mode].options) == names, (tool, mode)
        assert mode not in legacy.UNSUPPORTED[tool]


def test_refusals_and_exit_statuses(cli, demo_pair):
    url = demo_pair[0]
    before = dump(url)
    cases = [
        (["chiptool", "-definebyquery", "-exp_name", "x", "-random", "-set_label", "a", "-set_workdir", "b"],
         3, "-random"),
        (["chiptool", "-definebyquery", "-set_label", "a", "-set_workdir", "b"], 3, "search parameters"),
        (["chiptool", "-definebyquery", "-exp_name", "x", "-set_label", "a"], 3, "-set_workdir"),
        (["pstamptool", "-updatereq", "-req_id", "1", "-set_state", "bogus"], 3, "bogus"),
        (["pstamptool", "-updatereq", "-req_id", "1", "-set_fault", "0"], 1, "set option"),
        (["pstamptool", "-listreq", "-name", "nothing%"], 3, "not found"),
        (["chiptool", "-updaterun", "-chip_id", "1", "-set_state", "nonsense"], 3, "nonsense"),
        (["chiptool", "-updaterun", "-label", "a", "-label", "b", "-set_note", "n"], 3, "given twice"),
        (["warptool", "-definebyquery", "-fake_id", "1", "-set_label", "x"], 3, "-set_mode"),
        (["warptool", "-definebyquery", "-filter", "w%", "-set_mode", "warp"], 3, "-filter"),
        (["chiptool", "-listrun", "-all", "-dbpassword", "pw"], 3, "passwords"),
        (["difftool", "-definewarpwarp"], 3, "-set_workdir is required"),
        (["difftool", "-definewarpstack", "-set_workdir", "w"], 3, "-set_label is required"),
        (["difftool", "-definewarpstack", "-set_workdir", "w", "-set_label", "x"], 1, "search parameters"),
        (["chiptool", "-definecopy", "-set_label", "x"], 3, "search parameters are required"),
        (["chiptool", "-definecopy", "-label", "x"], 3, "-set_label is required"),
    ]
    for args, code, msg in cases:
        r = cli("--db", url, *args)
        assert r.code == code, (args, r.code, r.err)
        assert msg in r.err, (args, r.err)
        assert len([ln for ln in r.err.splitlines() if ln.startswith("mopstool: error")]) == 1
    assert dump(url) == before
    r = cli("--db", "mysql+pymysql://nobody@127.0.0.1:1/none", "chiptool", "-listrun", "-all")
    assert r.code == 3, r.err


def test_env_database_overriding_dbname_warns(cli, demo_pair, monkeypatch):
    monkeypatch.setenv("MOPSTOOL_DB", demo_pair[0])
    r = cli("chiptool", "-dbname", "gpc1", "-listrun", "-state", "nosuch")
    assert r.code == 0 and "warning: MOPSTOOL_DB overrides -dbname gpc1" in r.err


# ---------------------------------------------------------------- defect 2: the printed command

def test_printed_modern_commands_make_the_same_change(cli, demo_pair):
    a, b = demo_pair
    exp = q(a, "SELECT exp_name, ra, airmass, comment FROM rawExp WHERE exp_type = 'object' "
               "AND airmass IS NOT NULL AND ra IS NOT NULL AND comment IS NOT NULL ORDER BY exp_id")
    ra = math.degrees(exp[0][1])
    chip_full = q(a, "SELECT chip_id FROM chipRun WHERE state = 'full' ORDER BY chip_id")[0][0]
    warp_full = q(a, "SELECT warp_id FROM warpRun WHERE state = 'full' ORDER BY warp_id")[0][0]
    fake = q(a, "SELECT fakeRun.fake_id, camRun.cam_id FROM fakeRun JOIN camRun USING (cam_id) "
                "JOIN chipRun USING (chip_id) WHERE fakeRun.state = 'full' AND camRun.state = 'full' "
                "AND chipRun.state = 'full' ORDER BY fake_id")[0]
    diff = q(a, "SELECT diff_id FROM diffRun ORDER BY diff_id")[0][0]
    # a warp no diff uses (its skyfiles can be deleted under the foreign keys)
    warp_free = q(a, "SELECT warp_id FROM warpRun w WHERE state = 'full' AND NOT EXISTS (SELECT 1 FROM "
                     "diffInputSkyfile d WHERE d.warp1 = w.warp_id OR d.warp2 = w.warp_id) "
                     "ORDER BY warp_id")[0][0]
    req_run = q(a, "SELECT req_id FROM pstampRequest WHERE state = 'run' ORDER BY req_id")[0][0]
    req_job = q(a, "SELECT MAX(req_id) FROM pstampJob WHERE req_id != :r", r=req_run)[0][0]
    assert req_job and req_job != req_run

    def cleaned_request(u):
        q(u, "UPDATE pstampRequest SET state = 'cleaned' WHERE req_id = :r", r=req_run)

    def faulted_new_chip(u):
        q(u, "UPDATE chipRun SET state = 'new', label = 'ps_ud_X' WHERE chip_id = :c", c=chip_full)
        q(u, "UPDATE chipProcessedImfile SET fault = 26 WHERE chip_id = :c AND class_id = 'XY01'",
          c=chip_full)
        q(u, "UPDATE chipProcessedImfile SET fault = 2 WHERE chip_id = :c AND class_id = 'XY02'",
          c=chip_full)
        q(u, "UPDATE chipRun SET label = 'psXudXX' WHERE chip_id = :c", c=chip_full + 1)

    def faulted_warp(u):
        q(u, "UPDATE warpRun SET state = 'new' WHERE warp_id = :w", w=warp_free)
        q(u, "UPDATE warpSkyfile SET fault = 2 WHERE warp_id = :w", w=warp_free)
        q(u, "INSERT INTO warpSkyCellMap (warp_id, skycell_id, tess_id, class_id, fault) "
             "VALUES (:w, 'faulted', 'faulted', 'faulted', 3)", w=warp_free)

    def cleaned_warp(u):
        q(u, "UPDATE warpRun SET state = 'cleaned' WHERE warp_id = :w", w=warp_full)
        q(u, "UPDATE warpSkyfile SET data_state = 'cleaned' WHERE warp_id = :w", w=warp_full)

    # an exposure with one chip run (OSS, full), and the filter of an MSS one
    exp_old = q(a, "SELECT exp_name FROM chipRun c JOIN rawExp USING (exp_id) WHERE c.state = 'full' "
                   "AND c.label LIKE 'OSS%' AND (SELECT COUNT(*) FROM chipRun o WHERE o.exp_id = c.exp_id) = 1 "
                   "ORDER BY chip_id")[0][0]
    mss_filter = q(a, "SELECT filter FROM chipRun JOIN rawExp USING (exp_id) WHERE label LIKE 'MSS%' "
                      "ORDER BY chip_id")[0][0]

    def has_copy_label(u):   # an exposure that already has a run with the new label is skipped
        q(u, "INSERT INTO chipRun (exp_id, state, workdir, workdir_state, label, data_group, magicked, "
             "maskfrac_npix, update_mode) SELECT exp_id, 'new', workdir, 'dirty', 'dc.skip', 'dc.skip', 0, 0, 0 "
             "FROM rawExp WHERE exp_name = :e", e=exp_old)

    calls = [
        (f"chiptool -definecopy -exp_name {exp_old} -set_label dc.any -set_workdir neb://x/dc.any", None),
        ("chiptool -definecopy -label 'OSS%' -state full -set_label dc.test", None),
        ("chiptool -definecopy -label 'OSS%' -state full -set_label dc.skip -set_workdir neb://x/dc.skip "
         "-set_data_group dc.g -set_dist_group NULL -set_note n", has_copy_label),
        (f"chiptool -definecopy -label 'OSS%' -label 'MSS%' -data_group '%' -filter '{mss_filter[:1]}%' "
         f"-ra_min 1 -set_label dc.more -set_tess_id RINGS.V3 -set_end_stage warp "
         "-set_reduction R -set_expgroup E -set_dvodb V", None),
        (f"chiptool -definebyquery -comment '{exp[0][3][:3]}%' -ra_min {ra - 1:.4f} -ra_max {ra + 1:.4f} "
         f"-airmass_max {exp[0][2] + 0.01:.4f} -set_label sel.test -set_workdir neb://x/sel.test "
         "-set_tess_id RINGS.V3 -set_dist_group NULL", None),
        (f"warptool -definebyquery -fake_id {fake[0]} -cam_id {fake[1]} -set_mode warp "
         "-set_label wq.test -set_workdir neb://w", None),
        (f"chiptool -updaterun -chip_id {chip_full} -set_state goto_cleaned -set_label goto_cleaned", None),
        (f"warptool -updaterun -label 'OSS%' -label 'MSS%' -state full -set_note n1", None),
        (f"difftool -updaterun -diff_id {diff} -set_dist_group dg", None),
        (f"warptool -setskyfiletoupdate -warp_id {warp_full} -set_label ps_ud_WEB", cleaned_warp),
        ("pstamptool -updatereq -set_state stop -req_id %d" % req_run, cleaned_request),
        ("pstamptool -updatereq -set_state goto_cleaned -state stop -timestamp_end 2100-01-01T00:00:00",
         None),
        ("chiptool -revertprocessedimfile -label ps_ud_X", faulted_new_chip),
        (f"warptool -revertwarped -warp_id {warp_free}", faulted_warp),
        (f"warptool -revertoverlap -warp_id {warp_free}", None),
        (f"chiptool -dropprocessedimfile -chip_id {chip_full} -class_id XY05 -set_quality 8", None),
        ("chiptool -block -label blk.test", None),
        ("warptool -unblock -label blk.test", lambda u: q(u, "INSERT INTO warpMask (label) VALUES ('blk.test')")),
        ("pstamptool -revertreq -label rvq",
         lambda u: q(u, "UPDATE pstampRequest SET fault = 12, label = 'rvq', state = 'run' "
                        "WHERE req_id = :r", r=req_job)),
        ("pstamptool -revertjob -label rvq",
         lambda u: (q(u, "UPDATE pstampJob SET fault = 2, state = 'run', fault_count = 1 WHERE req_id = :r",
                      r=req_job),
                    q(u, "UPDATE pstampRequest SET state = 'run' WHERE req_id = :r", r=req_job))),
        (f"difftool -revertdiffskyfile -diff_id {diff}",
         lambda u: (q(u, "UPDATE diffSkyfile SET fault = 4 WHERE diff_id = :d", d=diff),
                    q(u, "UPDATE diffRun SET state = 'new' WHERE diff_id = :d", d=diff))),
    ]
    for legacy_args, prepare in calls:
        before, after = run_both(cli, a, b, legacy_args, prepare)
        assert before != after, f"changed nothing: {legacy_args}"
    # -pretend / --dry-run: nothing written on either side
    before, after = run_both(cli, a, b, "chiptool -definecopy -label 'OSS%' -set_label dc.p -pretend")
    assert before == after
    assert q(a, "SELECT COUNT(*) FROM chipRun WHERE label = 'dc.skip' AND exp_id = "
                "(SELECT exp_id FROM rawExp WHERE exp_name = :e)", e=exp_old)[0][0] == 1
    assert q(a, "SELECT COUNT(*) FROM chipRun n JOIN rawExp r USING (exp_id) WHERE n.label = 'dc.test' "
                "AND n.workdir != r.workdir")[0][0] == 0
    # the C semantics the printed commands had to reproduce
    assert q(a, "SELECT state FROM pstampRequest WHERE req_id = :r", r=req_run)[0][0] in ("stop", "goto_cleaned")
    assert q(a, "SELECT COUNT(*) FROM chipProcessedImfile WHERE chip_id = :c AND class_id IN "
                "('XY01', 'XY02')", c=chip_full)[0][0] == 0
    assert q(a, "SELECT COUNT(*) FROM warpSkyCellMap WHERE warp_id = :w AND skycell_id = 'faulted'",
             w=warp_free)[0][0] == 0   # left by -revertwarped, deleted by -revertoverlap
    assert q(a, "SELECT quality, data_state FROM chipProcessedImfile WHERE chip_id = :c AND class_id = 'XY05'",
             c=chip_full)[0] == (8, "full")


# ---------------------------------------------------------------- output formats

def test_output_formats(cli, demo_pair):
    url = demo_pair[0]
    rid = str(q(url, "SELECT MIN(req_id) FROM pstampRequest")[0][0])
    q(url, "UPDATE pstampRequest SET outdir = NULL, label = 'QUB' WHERE req_id = :r", r=rid)
    r = cli("--db", url, "pstamptool", "-listreq", "-req_id", rid)
    assert r.code == 0
    names = [ln.split()[0] for ln in r.out.splitlines()[2:-2]]
    assert names == [c.name for c in schema.table("pstampRequest").columns]
    assert f"\n   {'outdir':<15}  {'STR':<8}  {'NULL':<15} \n" in r.out
    r = cli("--db", url, "pstamptool", "-listreq", "-req_id", rid, "-simple")
    fields = r.out.rstrip("\n").split(" ")
    cols = [c.name for c in schema.table("pstampRequest").columns]
    assert fields[cols.index("outdir")] == ""
    assert fields[cols.index("label")] == "QUB"
    # warptool -pendingcleanuprun: camera and exp_tag, repeated -label ORed
    w = q(url, "SELECT warp_id, label FROM warpRun ORDER BY warp_id")
    q(url, "UPDATE warpRun SET state = 'goto_cleaned' WHERE warp_id IN (:a, :b)", a=w[0][0], b=w[1][0])
    r = cli("--db", url, "warptool", "-pendingcleanuprun", "-label", w[0][1], "-label", w[1][1], "-simple")
    lines = r.out.splitlines()
    assert len(lines) == 2 and lines[0].split(" ")[0] == str(w[0][0])
    r = cli("--db", url, "warptool", "-pendingcleanuprun", "-label", w[0][1])
    assert "   camera " in r.out and "   exp_tag " in r.out
    # difftool -listrun: difftool_listrun.sql's columns
    r = cli("--db", url, "difftool", "-listrun", "-all", "-limit", "1")
    cols = [ln.split()[0] for ln in r.out.splitlines()[2:-2]]
    assert cols[:14] == ["diff_id", "state", "workdir", "label", "data_group", "dist_group", "reduction",
                         "note", "magicked", "diff_mode", "tess_id", "bothways", "warp1", "warp2"]
    assert "zpt_obs" in cols and "sigma_dec_2" in cols and "stack2" not in cols and len(cols) == 42
    assert "   bothways " in r.out and " BOOL " in r.out.split("bothways", 1)[1].splitlines()[0]


def test_null_selector_matches_sql_null_and_the_string(cli, demo_pair):
    url = demo_pair[0]
    ids = [r[0] for r in q(url, "SELECT chip_id FROM chipRun ORDER BY chip_id")[:2]]
    q(url, "UPDATE chipRun SET dist_group = NULL WHERE chip_id = :c", c=ids[0])
    q(url, "UPDATE chipRun SET dist_group = 'NULL' WHERE chip_id = :c", c=ids[1])
    want = sorted(r[0] for r in q(url, "SELECT chip_id FROM chipRun WHERE dist_group IS NULL "
                                       "OR dist_group = 'NULL'"))
    r = cli("--db", url, "chiptool", "-listrun", "-dist_group", "NULL", "-simple")
    assert r.code == 0
    got = sorted(int(line.split(" ")[0]) for line in r.out.splitlines())
    assert got == want and set(ids) <= set(got)
    r = cli("--db", url, "runs", "chip", "--dist-group", "NULL", "--json", "--limit", "100000")
    assert r.code == 0, r.err
    assert sorted(x["chip_id"] for x in r.json()) == want
