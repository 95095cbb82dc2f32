"""The reports on a 1 M-exposure MariaDB history, against the demo night alone.

Loads the demo night into a scratch MariaDB database (named with the test
prefix, ``$MOPSTOOL_TEST_DB_PREFIX`` default ``mopstool_test_``, so the test
session's clean-up and other users recognise it), times every report, then
adds four years of history server-side with INSERT ... SELECT from MariaDB's
SEQUENCE engine and times the reports again:

* 1,000,000 exposures (rawExp, newExp) over 1,460 nights, 685 a night;
* one chipRun, camRun (+ camProcessedExp), fakeRun and warpRun per exposure,
  2 % of them still ``full`` with a label outside the nightly science (held
  out of cleanup scope), the rest ``cleaned`` with the label ``goto_cleaned``
  that the IPP's cleanup (and mopstool's) gives them; the same for diffs;
* ``--components`` chipProcessedImfile rows per chip run (default 4: 4 M rows;
  the production shape is 60, scaled to what builds in minutes here), one
  warpSkyfile per warp;
* 500,000 diffRun with 700,000 diffInputSkyfile (one or two skycells) and
  one diffSkyfile each;
* one publishRun per diff for the demo's publish client (500,000);
* 300,000 finished pstampRequest (2 % faulted) with one pstampJob each.

    python bench/bench_million.py [--server URL] [--exposures 1000000] [--components 4]
                                  [--requests 300000] [--keep] [--no-time] [--name NAME]
    python bench/bench_million.py --measure SMALL_URL BIG_URL [--in-process] [--only PREFIX] [--repeat N]
    python bench/bench_million.py --explain BIG_URL | --handwritten BIG_URL [--repeat N]
    python bench/bench_million.py --cleanup-apply BIG_URL [--runs 50000] [--writers 1] [--lock-timeout 60]

Each command is timed as a whole process (the median of ``--repeat`` runs; with
``--measure`` the runs on the two databases alternate);
its statements are counted by running it once more in a process with a
``before_cursor_execute`` counter. ``--explain URL`` prints the EXPLAIN of
every SELECT each report issues (history tables only); ``--handwritten URL``
compares each report's SQL time with hand-written SQL for its heaviest
statement shapes (the same rows, checked).
Results are recorded in docs/benchmarks.md. Run by hand only, once: it builds
a database of several GB on the shared server.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

NIGHT = "2018-07-10"
#: (name, argv) of every report measured
COMMANDS = [
    ("lostvisits", ["lostvisits", "--night", NIGHT, "--json"]),
    ("diffpairs", ["diffpairs", "--night", NIGHT, "--json"]),
    ("czar", ["czar", "--night", NIGHT, "--json"]),
    ("faults", ["faults", "--night", NIGHT, "--json"]),
    ("night", ["night", "--night", NIGHT, "--json"]),
    ("runs chip", ["runs", "chip", "--night", NIGHT, "--json"]),
    ("cleanup --dry-run", ["cleanup", "--dry-run", "--as-of", "2018-07-11", "--json"]),
    ("cleanup status", ["cleanup", "status", "--json"]),
    ("pstamp-req backlog", ["pstamp-req", "backlog", "--json"]),
    ("updaterun --dry-run", ["updaterun", "chip", "--night", NIGHT, "--set-note", "bench",
                             "--dry-run", "--json"]),
]
BASE = 50_000_000  # history ids start here (the demo's ids are far below)


def run_in_process(argv: list[str], **listeners) -> float:
    """Run mopstool in this process with engine *listeners* (event name -> function)
    attached, its output swallowed; the seconds it took."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from mopstool.cli.main import main as mopstool_main

    for name, fn in listeners.items():
        event.listen(Engine, name, fn)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            t0 = time.perf_counter()
            try:
                mopstool_main(argv)
            except SystemExit:
                pass
            return time.perf_counter() - t0
    finally:
        for name, fn in listeners.items():
            event.remove(Engine, name, fn)


def run_once(url: str, argv: list[str], repeat: int) -> float:
    """The median wall time of *repeat* whole-process runs."""
    import statistics

    took = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mopstool", *argv, "--db", url],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        took.append(time.perf_counter() - t0)
    return statistics.median(took)


def count_statements(url: str, argv: list[str]) -> int:
    """Statements the command issues, counted in-process on the engine."""
    code = (
        "import sys\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.engine import Engine\n"
        "n = [0]\n"
        "event.listen(Engine, 'before_cursor_execute', lambda *a, **k: n.__setitem__(0, n[0] + 1))\n"
        "from mopstool.cli.main import main\n"
        f"sys.argv = ['mopstool', *{argv!r}, '--db', {url!r}]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(f'STATEMENTS {n[0]}\\n')\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    for line in p.stderr.splitlines():
        if line.startswith("STATEMENTS "):
            return int(line.split()[1])
    return -1


def explain(url: str) -> None:
    """Print, per report, the EXPLAIN rows of its SELECTs on history tables
    (type, key, estimated rows), captured with a before_cursor_execute listener."""
    history = {"rawExp", "chipRun", "chipProcessedImfile", "camRun", "fakeRun", "warpRun", "warpSkyfile",
               "diffRun", "diffInputSkyfile", "diffSkyfile", "publishRun", "pstampRequest", "pstampJob"}
    eng = create_engine(url)
    for name, argv in COMMANDS:
        seen: list = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        took = run_in_process([*argv, "--db", url], before_cursor_execute=listener)
        selects = [(st, p) for st, p in seen if st.lstrip().upper().startswith(("SELECT", "WITH", "("))]
        print(f"## {name}: {len(seen)} statements, {len(selects)} SELECT, {took:.2f} s in-process")
        with eng.connect() as c:
            for i, (st, p) in enumerate(selects, 1):
                aliases = dict((a, t) for t, a in __import__("re").findall(
                    r"`?(\w+)`?\s+AS\s+`?(\w+)`?", st) if t in history)
                rows = c.exec_driver_sql("EXPLAIN " + st, p or ()).mappings().all()
                plan = [f"{aliases.get(r['table'], r['table'])}:{r['type']}/{r['key']}/{r['rows']}"
                        for r in rows if aliases.get(r["table"], r["table"]) in history]
                if plan:
                    print(f"  {i:>2}. " + ", ".join(plan))
    eng.dispose()


#: hand-written SQL for the statement shapes the reports send that are more than
#: an indexed lookup of a few rows by id. The nightly ones are plain joins from
#: the night's rawExp rows (night given as %(p)s, %(s)s, %(e)s: its exp_name
#: pattern and dateobs bounds), no nested IN, UNION ALL / UNION. Each returns the
#: same rows as the report's statement of that shape (checked when measured).
_NIGHT = "r.exp_name LIKE %(p)s AND r.dateobs >= %(s)s AND r.dateobs < %(e)s"
_NIGHT_WARPS = ("rawExp r JOIN chipRun c ON c.exp_id = r.exp_id JOIN camRun m ON m.chip_id = c.chip_id "
                "JOIN fakeRun f ON f.cam_id = m.cam_id JOIN warpRun w ON w.fake_id = f.fake_id")
_NIGHT_DIFFS = _NIGHT_WARPS + " JOIN diffInputSkyfile i ON i.warp1 = w.warp_id JOIN diffRun d ON d.diff_id = i.diff_id"
#: the faulted components of a night, per stage (a report asks for some of them)
_FAULT_PARTS = {
    "chip": "SELECT 'chip', c.chip_id, p.class_id, p.fault, c.state, p.data_state, c.label, c.data_group "
            "FROM rawExp r JOIN chipRun c ON c.exp_id = r.exp_id JOIN chipProcessedImfile p ON p.chip_id = c.chip_id "
            "WHERE " + _NIGHT + " AND p.fault != 0",
    "cam": "SELECT 'cam', m.cam_id, '-', e.fault, m.state, NULL, m.label, m.data_group "
           "FROM rawExp r JOIN chipRun c ON c.exp_id = r.exp_id JOIN camRun m ON m.chip_id = c.chip_id "
           "JOIN camProcessedExp e ON e.cam_id = m.cam_id WHERE " + _NIGHT + " AND e.fault != 0",
    "fake": "SELECT 'fake', f.fake_id, p.class_id, p.fault, f.state, p.data_state, f.label, f.data_group "
            "FROM rawExp r JOIN chipRun c ON c.exp_id = r.exp_id JOIN camRun m ON m.chip_id = c.chip_id "
            "JOIN fakeRun f ON f.cam_id = m.cam_id JOIN fakeProcessedImfile p ON p.fake_id = f.fake_id "
            "WHERE " + _NIGHT + " AND p.fault != 0",
    "warp": "SELECT 'warp', w.warp_id, s.skycell_id, s.fault, w.state, s.data_state, w.label, w.data_group "
            "FROM " + _NIGHT_WARPS + " JOIN warpSkyfile s ON s.warp_id = w.warp_id WHERE " + _NIGHT +
            " AND s.fault != 0 UNION ALL "
            "SELECT 'warp', w.warp_id, 'overlap', s.fault, w.state, NULL, w.label, w.data_group "
            "FROM " + _NIGHT_WARPS + " JOIN warpSkyCellMap s ON s.warp_id = w.warp_id WHERE " + _NIGHT +
            " AND s.fault != 0 AND s.skycell_id = 'faulted'",
    "diff": "SELECT 'diff', d.diff_id, s.skycell_id, s.fault, d.state, s.data_state, d.label, d.data_group "
            "FROM (SELECT DISTINCT d.diff_id FROM " + _NIGHT_DIFFS + " WHERE " + _NIGHT + ") n "
            "JOIN diffRun d ON d.diff_id = n.diff_id JOIN diffSkyfile s ON s.diff_id = d.diff_id WHERE s.fault != 0",
    "publish": "SELECT 'publish', p.pub_id, '-', x.fault, p.state, NULL, p.label, NULL "
               "FROM (SELECT DISTINCT d.diff_id FROM " + _NIGHT_DIFFS + " WHERE " + _NIGHT + ") n "
               "JOIN publishRun p ON p.stage_id = n.diff_id JOIN publishClient k ON k.client_id = p.client_id "
               "AND k.active != 0 AND k.stage = 'diff' JOIN publishDone x ON x.pub_id = p.pub_id "
               "WHERE x.fault != 0",
}
_DIFFS_OF_WARP = ("SELECT d.diff_id, d.state, d.label, d.data_group, d.diff_mode, i.warp1, i.warp2, i.stack1, "
                  "i.stack2, IF(i.warp1 IS NOT NULL AND i.warp2 IS NOT NULL, NULL, i.skycell_id) "
                  "FROM " + _NIGHT_WARPS + " JOIN diffInputSkyfile i ON i.{warp} = w.warp_id "
                  "JOIN diffRun d ON d.diff_id = i.diff_id WHERE " + _NIGHT)


def _night_params(params: dict) -> dict:
    """The night of a captured statement as driver parameters."""
    night = _night_of(params)
    return {"p": night["prefix"], "s": night["start"], "e": night["end"]}


def _of_night(sql: str):
    """A rewrite to *sql* (written with the night's parameters)."""
    return lambda st, params: (sql, _night_params(params))


def _faults_of_night(st: str, params: dict):
    # the UNION ALL of _FAULT_PARTS of the stages the report asks for
    asked = set(params.values())
    return " UNION ALL ".join(part for stage, part in _FAULT_PARTS.items() if stage in asked), _night_params(params)


def _runs_of_night(st: str, params: dict):
    # runs chip: the night's runs, newest first, with their exposure
    limit = [v for k, v in params.items() if k.startswith("param_") and isinstance(v, int)][-1]
    return ("SELECT c.chip_id, c.exp_id, c.state, c.label, c.data_group, c.dist_group, c.reduction, "
            "c.tess_id, c.end_stage, c.workdir, r.exp_name, r.filter, r.dateobs, r.comment "
            "FROM rawExp r JOIN chipRun c ON c.exp_id = r.exp_id WHERE " + _NIGHT +
            " ORDER BY c.chip_id DESC LIMIT %(n)s", {**_night_params(params), "n": limit})


def _cleanup_candidates(st: str, params: dict):
    # cleanup: the full runs of the labels in scope, as one statement with OR
    table, key = re.match(r"SELECT `(\w+)`\.(\w+), ", st).groups()
    names = sorted(k for k in params if re.fullmatch(r"label_\d+_\d+", k))
    likes = [k for k in ("label_1", "label_2") if k in params]
    terms = []
    if names:
        terms.append("label IN (" + ", ".join(f"%({k})s" for k in names) + ")")
    terms += [f"label LIKE %({k})s" for k in likes]
    return (f"SELECT {key}, label, data_group FROM {table} WHERE state = %(state_1)s AND ("
            + " OR ".join(terms) + ")", params)


def _status_counts(st: str, params: dict):
    # cleanup status: runs in motion counted per state and data group by the server
    table = re.match(r"SELECT `(\w+)`\.state, ", st).group(1)
    names = [k for k in params if k.startswith("state_1_")]
    return (f"SELECT state, data_group, count(*) FROM {table} WHERE state IN ("
            + ", ".join(f"%({k})s" for k in names) + ") GROUP BY state, data_group", params)


def _count_per_state_group(rows):
    """The report's (state, id, data_group) rows as (state, data_group, count)."""
    from collections import Counter

    return [(s, g, n) for (s, g), n in Counter((r[0], r[2]) for r in rows).items()]


def _plain_fault(st: str, params: dict):
    # the backlog: `fault = 0` as one would write it (the report writes `fault + 0 = 0`
    # to keep MariaDB off an intersection of the state and fault indexes)
    return re.sub(r"(\S+)\.fault \+ %\(\w+\)s = %\(\w+\)s", r"\1.fault = 0", st), params


#: the shapes replaced: name -> (pattern the captured statement matches, whitespace
#: collapsed; needs the night's parameters; rewrite(statement, params) -> (sql,
#: params); reduce(report rows) -> the rows to compare, or None for the rows as they are)
SHAPES = {
    "chip component stats": (r"SELECT `chipProcessedImfile`\.chip_id, count\(\*\) AS n", True, _of_night(
        "SELECT p.chip_id, count(*), sum(coalesce(p.fault, 0) != 0), sum(p.quality != 0), "
        "sum(p.data_state = 'full' AND p.quality = 0 AND coalesce(p.fault, 0) = 0), "
        "avg(CASE WHEN p.quality = 0 AND coalesce(p.fault, 0) = 0 THEN p.fwhm_major END) "
        "FROM rawExp r JOIN chipRun c ON c.exp_id = r.exp_id JOIN chipProcessedImfile p ON p.chip_id = c.chip_id "
        "WHERE " + _NIGHT + " GROUP BY p.chip_id"), None),
    "warp component stats": (r"SELECT `warpSkyfile`\.warp_id, count\(\*\) AS n", True, _of_night(
        "SELECT s.warp_id, count(*), sum(coalesce(s.fault, 0) != 0), sum(s.quality != 0), "
        "sum(s.data_state = 'full' AND s.quality = 0 AND coalesce(s.fault, 0) = 0) "
        "FROM " + _NIGHT_WARPS + " JOIN warpSkyfile s ON s.warp_id = w.warp_id WHERE " + _NIGHT +
        " GROUP BY s.warp_id"), None),
    "faults of the night": (r"SELECT %\(param_1\)s AS stage, `chipRun`\.chip_id AS id", True,
                            _faults_of_night, None),
    "diffs of the night's warps": (
        r"SELECT `diffRun`\.diff_id, `diffRun`\.state, `diffRun`\.label, `diffRun`\.data_group, "
        r"`diffRun`\.diff_mode", True,
        _of_night(_DIFFS_OF_WARP.format(warp="warp1") + " UNION " + _DIFFS_OF_WARP.format(warp="warp2")), None),
    "runs of the night": (r"SELECT `chipRun`\.chip_id, `chipRun`\.exp_id, `chipRun`\.state, `chipRun`\.label, "
                          r"`chipRun`\.data_group, `chipRun`\.dist_group", True, _runs_of_night, None),
    "run ids of the night": (r"SELECT `chipRun`\.chip_id FROM `chipRun` WHERE `chipRun`\.exp_id IN \(SELECT",
                             True, _of_night("SELECT c.chip_id FROM rawExp r JOIN chipRun c ON c.exp_id = r.exp_id "
                                             "WHERE " + _NIGHT + " ORDER BY c.chip_id"), None),
    **{f"cleanup candidates, {stage}": (rf"SELECT `{table}`\.\w+, `{table}`\.label, `{table}`\.data_group "
                                        rf"FROM `{table}` WHERE `{table}`\.state = ", False, _cleanup_candidates, None)
       for stage, table in (("chip", "chipRun"), ("warp", "warpRun"), ("diff", "diffRun"))},
    "runs in motion, counted": (r"SELECT `(\w+)`\.state, `\1`\.\w+, `\1`\.data_group FROM `\1` "
                                r"WHERE `\1`\.state IN", False, _status_counts, _count_per_state_group),
    "backlog, plain fault test": (r"SELECT .*\.fault \+ %\(", False, _plain_fault, None),
}


def shape_of(statement: str, params) -> str | None:
    """The name of the SHAPES entry a captured statement (whitespace collapsed) is, or None."""
    for name, (pattern, nightly, _rewrite, _reduce) in SHAPES.items():
        if re.match(pattern, statement) and (not nightly or _night_of(params) is not None):
            return name
    return None


def _night_of(parameters) -> dict | None:
    """{prefix, start, end} of the night a captured statement selects (its exp_name
    pattern and dateobs bounds), or None."""
    import datetime as dt

    values = list(parameters.values()) if isinstance(parameters, dict) else list(parameters or ())
    prefix = next((v for v in values if isinstance(v, str) and v.startswith("o") and v.endswith("%")), None)
    times = sorted(v for v in values if isinstance(v, dt.datetime))
    if prefix is None or not times:
        return None
    return {"prefix": prefix, "start": times[0], "end": times[-1]}


def handwritten(url: str, repeat: int, quiet: bool = False) -> list[dict]:
    """Per report: the median time of every SELECT it sends (statements captured
    in-process, then each run *repeat* times on a connection of its own), and the
    same with the statements of the shapes in SHAPES replaced by the
    hand-written SQL (whose rows are compared with the report's)."""
    import statistics

    def norm(rows):
        out = []
        for r in rows:
            t = []
            for v in r:
                if isinstance(v, float) or type(v).__name__ == "Decimal":
                    v = round(float(v), 6)
                t.append(str(v))
            out.append(tuple(t))
        return sorted(out)

    def timed(conn, sql, params):
        ts, rows = [], None
        for _ in range(repeat):
            t0 = time.perf_counter()
            rows = conn.exec_driver_sql(sql, params).fetchall()
            ts.append(time.perf_counter() - t0)
        return statistics.median(ts), rows

    eng = create_engine(url)
    out = []
    if not quiet:
        print(f"{'report':<22}{'SELECTs':>8}{'report SQL (ms)':>17}{'hand-written (ms)':>19}{'ratio':>7}  "
              "replaced")
    for name, argv in COMMANDS:
        seen: list = []

        def listener(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        run_in_process([*argv, "--db", url], before_cursor_execute=listener)
        total = hand = 0.0
        replaced, selects = [], 0
        with eng.connect() as c:
            for st, p in seen:
                if not st.lstrip().upper().startswith(("SELECT", "WITH", "(")):
                    continue
                selects += 1
                t, rows = timed(c, st, p or ())
                total += t
                st = " ".join(st.split())
                shape = shape_of(st, p)
                if shape:
                    _pattern, _nightly, rewrite, reduce = SHAPES[shape]
                    sql, params = rewrite(st, dict(p or {}))
                    h, hrows = timed(c, sql, params)
                    want = reduce(rows) if reduce else rows
                    if norm(hrows) != norm(want):
                        raise SystemExit(f"{name}: the hand-written {shape} returns other rows "
                                         f"({len(hrows)} against {len(want)})")
                    hand += h
                    replaced.append(shape)
                else:
                    hand += t
        out.append({"report": name, "selects": selects, "sql_s": total, "handwritten_s": hand,
                    "ratio": total / hand, "replaced": sorted(set(replaced))})
        if not quiet:
            print(f"{name:<22}{selects:>8}{total * 1000:>17.1f}{hand * 1000:>19.1f}{total / hand:>7.2f}  "
                  f"{', '.join(sorted(set(replaced))) or '-'}")
    eng.dispose()
    return out


def inflate(url: str, exposures: int, components: int, requests: int = 300_000,
            quiet: bool = False) -> dict[str, int]:
    """Add the history; returns the row count of every table filled.

    Also used by tests/test_explain.py at a few thousand exposures."""
    per_night = 685
    n = exposures
    seq = f"seq_0_to_{n - 1}"
    night = f"DATE_ADD('2018-07-09', INTERVAL -1 - FLOOR(seq / {per_night}) DAY)"
    dg = f"CONCAT('OSS.', DATE_FORMAT({night}, '%Y%m%d'))"
    state = "IF(seq % 50 = 0, 'full', 'cleaned')"
    # cleaned runs carry the label goto_cleaned, as nightly_science --clean_old and
    # mopstool cleanup leave them (updaterun -set_state goto_cleaned -set_label goto_cleaned)
    label = "IF(seq % 50 = 0, 'LAP.PV3.20180301', 'goto_cleaned')"
    eng = create_engine(url)
    steps = [
        f"INSERT INTO newExp (exp_id, state) SELECT {BASE} + seq, 'full' FROM {seq}",
        "INSERT INTO rawExp (exp_id, exp_name, camera, dateobs, exp_type, filter, comment, obs_mode, "
        "object, fault, state) SELECT {b} + seq, CONCAT('o', DATEDIFF({nt}, '1858-11-17') - 50000, 'g', "
        "LPAD(seq % {p}, 4, '0'), 'o'), 'GPC1', DATE_ADD(DATE_ADD({nt}, INTERVAL 7 HOUR), "
        "INTERVAL (seq % {p}) * 40 SECOND), 'object', ELT(1 + seq % 4, 'w.00000', 'g.00000', "
        "'r.00000', 'i.00000'), CONCAT('OSSR.R00S0.', seq % 7, '.Q.w visit ', 1 + seq % 4), 'OSS', "
        "CONCAT('OSS.X.', seq % 20), IF(seq % 1999 = 0, 3, 0), 'full' FROM {s}".format(
            b=BASE, nt=night, p=per_night, s=seq),
    ]
    for tbl, idc, parent in (("chipRun", "chip_id", "exp_id"), ("camRun", "cam_id", "chip_id"),
                             ("fakeRun", "fake_id", "cam_id"), ("warpRun", "warp_id", "fake_id")):
        steps.append(f"INSERT INTO {tbl} ({idc}, {parent}, state, label, data_group) "
                     f"SELECT {BASE} + seq, {BASE} + seq, {state}, {label}, {dg} FROM {seq}")
    steps += [
        f"INSERT INTO chipProcessedImfile (chip_id, exp_id, class_id, data_state, quality, fault) "
        f"SELECT {BASE} + s1.seq, {BASE} + s1.seq, CONCAT('XY', 10 + s2.seq), "
        f"IF(s1.seq % 50 = 0, 'full', 'cleaned'), 0, IF(s1.seq % 997 = 0 AND s2.seq = 0, 2, 0) "
        f"FROM {seq} s1 JOIN seq_0_to_{components - 1} s2",
        f"INSERT INTO camProcessedExp (cam_id, fault, quality, fwhm_major, zpt_obs) "
        f"SELECT {BASE} + seq, 0, 0, 4.5, 24.6 FROM {seq}",
        f"INSERT INTO warpSkyfile (warp_id, skycell_id, tess_id, data_state, quality, fault) "
        f"SELECT {BASE} + seq, 'skycell.9999.000', 'RINGS.V3', IF(seq % 50 = 0, 'full', 'cleaned'), "
        f"0, 0 FROM {seq}",
        # a diff per two warps: warp1 = this exposure, warp2 = the next
        f"INSERT INTO diffRun (diff_id, state, label, data_group, diff_mode, bothways, tess_id) "
        f"SELECT {BASE} + seq, {state}, {label}, {dg}, 1, 1, 'RINGS.V3' FROM {seq} WHERE seq % 2 = 0",
        f"INSERT INTO diffInputSkyfile (diff_id, skycell_id, warp1, warp2, tess_id) "
        f"SELECT {BASE} + s1.seq, CONCAT('skycell.9999.00', s2.seq), {BASE} + s1.seq, "
        f"{BASE} + s1.seq + 1, 'RINGS.V3' FROM {seq} s1 JOIN seq_0_to_1 s2 "
        f"WHERE s1.seq % 2 = 0 AND (s2.seq = 0 OR s1.seq % 5 < 2)",
        f"INSERT INTO diffSkyfile (diff_id, skycell_id, data_state, quality, fault) "
        f"SELECT diff_id, skycell_id, 'cleaned', 0, 0 FROM diffInputSkyfile WHERE diff_id >= {BASE}",
        f"INSERT INTO publishRun (client_id, stage_id, label, state) "
        f"SELECT (SELECT MIN(client_id) FROM publishClient), {BASE} + seq, 'OSS.nightlyscience', 'full' "
        f"FROM {seq} WHERE seq % 2 = 0",
        "INSERT INTO pstampRequest (req_id, state, name, reqType, label, outProduct, uri, username, "
        "registered, fault) SELECT {b} + seq, 'stop', CONCAT('hist_', seq), 'pstamp', "
        "ELT(1 + seq % 3, 'MOPS', 'WEB', 'QUB'), 'pstamp', 'file:///dev/null', 'mops', "
        "DATE_ADD('2018-07-01', INTERVAL -FLOOR(seq / 200) DAY), IF(seq % 50 = 0, 27, 0) "
        "FROM seq_0_to_{r}".format(b=BASE, r=requests - 1),
        "INSERT INTO pstampJob (job_id, req_id, rownum, state, jobType, fault, exp_id, dep_id, fault_count) "
        "SELECT {b} + seq, {b} + seq, '1', 'stop', 'stamp', 0, {b} + seq, 0, 0 FROM seq_0_to_{r}"
        .format(b=BASE, r=requests - 1),
    ]
    tables = ("rawExp", "chipRun", "chipProcessedImfile", "camRun", "fakeRun", "warpRun", "warpSkyfile",
              "diffRun", "diffInputSkyfile", "diffSkyfile", "publishRun", "pstampRequest", "pstampJob")
    with eng.begin() as c:
        c.execute(text("SET FOREIGN_KEY_CHECKS=0, UNIQUE_CHECKS=0"))
        for sql in steps:
            t0 = time.perf_counter()
            c.execute(text(sql))
            if not quiet:
                print(f"  {time.perf_counter() - t0:6.1f} s  {sql[:60]}", file=sys.stderr, flush=True)
        c.execute(text("SET FOREIGN_KEY_CHECKS=1, UNIQUE_CHECKS=1"))
    with eng.connect() as c:
        c.execute(text("ANALYZE TABLE " + ", ".join(tables) + ", newExp, camProcessedExp"))
        counts = {t: c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables}
    eng.dispose()
    return counts


def cleanup_apply(url: str, runs: int, writers: float, lock_timeout: float) -> None:
    """``cleanup --yes`` of *runs* old chip runs of the history, with other writers.

    Puts the cleaned ones of the first *runs* history chip runs (the newest
    history nights; one in 50 is an out-of-scope full run) back in scope (state full, label OSS.nightlyscience), then runs
    ``cleanup --yes --stage chip`` in this process, counting its statements (and
    the DESCRIBEs among them) and the time between its batches with the write
    lock free, while another process starts every *writers* seconds a small
    writer (``updaterun chip --id ... --set-note ...``, waiting up to
    *lock_timeout* seconds for the lock) and records its exit status and wait.
    Afterwards the runs (and the writers' run's note) are put back as they were."""
    import statistics
    import threading

    first = BASE  # every history night is older than the chip retention as of the demo night
    eng = create_engine(url)
    with eng.begin() as c:
        in_scope = c.execute(text("UPDATE chipRun SET state = 'full', label = 'OSS.nightlyscience' "
                                  "WHERE chip_id >= :a AND chip_id < :b AND state = 'cleaned'"),
                             {"a": first, "b": first + runs}).rowcount
        demo_id = c.execute(text("SELECT MIN(chip_id) FROM chipRun")).scalar()
        demo_note = c.execute(text("SELECT note FROM chipRun WHERE chip_id = :i"), {"i": demo_id}).scalar()
    counts = {"statements": 0, "describe": 0, "batches": 0}
    released: list[float] = []
    acquired: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        counts["statements"] += 1
        head = statement.lstrip()[:40].upper()
        if head.startswith("DESCRIBE"):
            counts["describe"] += 1
        if "RELEASE_LOCK" in head:
            released.append(time.perf_counter())
        if "GET_LOCK" in head:
            acquired.append(time.perf_counter())

    results: list[tuple[int, float]] = []
    stop = threading.Event()
    env = dict(os.environ, MOPSTOOL_GENERAL__LOCK_TIMEOUT=str(lock_timeout))

    def write_now_and_then():
        i = 0
        while not stop.wait(writers):
            i += 1
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "mopstool", "--db", url, "updaterun", "chip", "--id",
                                str(demo_id), "--set-note", f"bench writer {i}", "--yes", "--json"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
            results.append((r.returncode, time.perf_counter() - t0))

    t = threading.Thread(target=write_now_and_then)
    t.start()
    try:
        # as of the day after the history's last night: the demo nights stay within retention
        took = run_in_process(["cleanup", "--yes", "--stage", "chip", "--as-of", "2018-07-09", "--json",
                               "--db", url], before_cursor_execute=before)
    finally:
        stop.set()
        t.join()
    gaps = [b - a for a, b in zip(released, acquired[1:])]
    with eng.begin() as c:
        moved = c.execute(text("SELECT COUNT(*) FROM chipRun WHERE chip_id >= :a AND chip_id < :b "
                               "AND state = 'goto_cleaned'"), {"a": first, "b": first + runs}).scalar()
        # the runs put in scope, moved or not (the out-of-scope full runs among them untouched)
        c.execute(text("UPDATE chipRun SET state = 'cleaned', label = 'goto_cleaned' "
                       "WHERE chip_id >= :a AND chip_id < :b AND (state = 'goto_cleaned' "
                       "OR label = 'OSS.nightlyscience')"), {"a": first, "b": first + runs})
        c.execute(text("UPDATE chipRun SET note = :n WHERE chip_id = :i"), {"n": demo_note, "i": demo_id})
    eng.dispose()
    codes = sorted({r[0] for r in results})
    free = (f"lock free between batches: median {statistics.median(gaps) * 1000:.1f} ms, "
            f"min {min(gaps) * 1000:.1f} ms" if gaps else "one batch")
    print(f"cleanup --yes: {moved:,} of the {in_scope:,} history runs put in scope moved in {took:.1f} s, "
          f"{counts['statements']} statements ({counts['describe']} DESCRIBE), {len(acquired)} lock "
          f"acquisitions; {free}")
    if results:
        print(f"other writers: {len(results)} started, exit statuses {codes}, "
              f"{sum(1 for r in results if r[0] == 0)} succeeded; their time median "
              f"{statistics.median(r[1] for r in results):.2f} s, max {max(r[1] for r in results):.2f} s")


def _in_process_run(url: str, argv: list[str]) -> tuple[float, float, int]:
    """(seconds, seconds inside the database driver, statements) of one run in this process."""
    sql = [0.0, 0]
    started: list[float] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        started.append(time.perf_counter())

    def after(conn, cursor, statement, parameters, context, executemany):
        sql[0] += time.perf_counter() - started.pop()
        sql[1] += 1

    took = run_in_process([*argv, "--db", url], before_cursor_execute=before, after_cursor_execute=after)
    return took, sql[0], sql[1]


def in_process(small: str, big: str, repeat: int) -> tuple[dict, dict]:
    """For each report: (median seconds, median seconds inside the database driver,
    statements) on *small* and on *big*, the two runs alternating (small, big,
    small, ...) so that a change of the machine's load falls on both; *repeat*
    runs of each after one warm-up run of each (the imports and the first
    connection are not counted)."""
    import statistics

    out: tuple[dict, dict] = ({}, {})
    for name, argv in COMMANDS:
        runs: tuple[list, list] = ([], [])
        for i in range(repeat + 1):
            for side, url in enumerate((small, big)):
                r = _in_process_run(url, argv)
                if i:
                    runs[side].append(r)
        for side in (0, 1):
            rs = runs[side]
            out[side][name] = (statistics.median(r[0] for r in rs), statistics.median(r[1] for r in rs), rs[-1][2])
    return out


def report_in_process(before: dict, after: dict) -> None:
    print(f"{'report':<22}{'small (s)':>10}{'big (s)':>9}{'ratio':>7}"
          f"{'SQL small':>11}{'SQL big':>9}{'ratio':>7}{'statements':>12}")
    for k in before:
        (t1, q1, n1), (t2, q2, n2) = before[k], after[k]
        print(f"{k:<22}{t1:>10.3f}{t2:>9.3f}{t2 / t1:>7.2f}{q1:>11.3f}{q2:>9.3f}{q2 / q1:>7.2f}"
              f"{n1:>6}/{n2:<5}")


def measure(url: str, repeat: int) -> dict[str, tuple[float, int]]:
    return {name: (run_once(url, argv, repeat), count_statements(url, argv)) for name, argv in COMMANDS}


def measure_pair(small: str, big: str, repeat: int) -> tuple[dict, dict]:
    """measure() of both databases, the whole-process runs alternating (small,
    big, small, ...) per report so that a change of load falls on both."""
    import statistics

    out: tuple[dict, dict] = ({}, {})
    for name, argv in COMMANDS:
        took: tuple[list, list] = ([], [])
        for _ in range(repeat):
            for side, url in enumerate((small, big)):
                took[side].append(run_once(url, argv, 1))
        for side, url in enumerate((small, big)):
            out[side][name] = (statistics.median(took[side]), count_statements(url, argv))
    return out


def report(before: dict, after: dict) -> None:
    print(f"{'report':<22}{'small (s)':>10}{'big (s)':>9}{'ratio':>7}{'statements':>12}")
    for k in before:
        (t1, n1), (t2, n2) = before[k], after[k]
        print(f"{k:<22}{t1:>10.2f}{t2:>9.2f}{t2 / t1:>7.2f}{n1:>6}/{n2:<5}")


#: the options of each mode (the others are refused in it) and their defaults
_MODE_OPTIONS = {
    "explain": {"only"},
    "handwritten": {"only", "repeat"},
    "cleanup_apply": {"runs", "writers", "lock_timeout"},
    "measure": {"only", "repeat", "in_process"},
    "build": {"server", "exposures", "components", "requests", "name", "repeat", "keep", "no_time", "only"},
}
_DEFAULTS = {
    "server": os.environ.get("MOPSTOOL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1/"),
    "exposures": 1_000_000, "components": 4, "requests": 300_000,
    "name": os.environ.get("MOPSTOOL_TEST_DB_PREFIX", "mopstool_test_") + "million",
    "repeat": 1, "runs": 50_000, "writers": 1.0, "lock_timeout": 60.0,
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", help="the MariaDB server to build on ($MOPSTOOL_TEST_MYSQL_URL)")
    ap.add_argument("--exposures", type=int, help="history exposures (1000000)")
    ap.add_argument("--components", type=int, help="chipProcessedImfile rows per chip run (4)")
    ap.add_argument("--requests", type=int, help="finished pstampRequest rows (300000)")
    ap.add_argument("--name", help="scratch database to create (dropped at the end unless --keep; "
                                   "default: the test prefix + 'million')")
    ap.add_argument("--repeat", type=int, help="runs per figure (the median is kept; 1)")
    ap.add_argument("--keep", action="store_true", help="keep the database for EXPLAIN and measurements")
    ap.add_argument("--no-time", action="store_true", help="only build (with --keep)")
    ap.add_argument("--measure", nargs=2, metavar=("SMALL_URL", "BIG_URL"),
                    help="build nothing: time the reports on two existing databases")
    ap.add_argument("--explain", metavar="URL", help="build nothing: EXPLAIN every report's SELECTs on URL")
    ap.add_argument("--handwritten", metavar="URL",
                    help="build nothing: each report's SQL time on URL against hand-written SQL for the "
                         "heaviest statement shapes (median of --repeat runs of each statement)")
    ap.add_argument("--cleanup-apply", metavar="URL",
                    help="build nothing: cleanup --yes of --runs history chip runs on URL, with another "
                         "writer every --writers seconds (the runs are put back afterwards)")
    ap.add_argument("--runs", type=int, help="with --cleanup-apply: history runs to clean (50000)")
    ap.add_argument("--writers", type=float, help="with --cleanup-apply: seconds between the other writers (1)")
    ap.add_argument("--lock-timeout", type=float,
                    help="with --cleanup-apply: general.lock_timeout of the other writers (60)")
    ap.add_argument("--only", metavar="PREFIX", help="only the reports whose name starts with PREFIX")
    ap.add_argument("--in-process", action="store_true",
                    help="with --measure: time the reports in this process (median of --repeat "
                         "after a warm-up run), with the time spent in the database driver")
    args = ap.parse_args()
    modes = [m for m in ("explain", "handwritten", "cleanup_apply", "measure") if getattr(args, m)]
    if len(modes) > 1:
        ap.error(" and ".join("--" + m.replace("_", "-") for m in modes) + " are separate runs")
    mode = modes[0] if modes else "build"
    for opt in sorted(set().union(*_MODE_OPTIONS.values()) - _MODE_OPTIONS[mode]):
        if getattr(args, opt) is not None and getattr(args, opt) is not False:   # given (0 is a value)
            ap.error(f"--{opt.replace('_', '-')} is not an option of "
                     f"{'building the database' if mode == 'build' else '--' + mode.replace('_', '-')}")
    for opt, value in _DEFAULTS.items():
        if getattr(args, opt) is None:
            setattr(args, opt, value)
    if args.only:
        COMMANDS[:] = [c for c in COMMANDS if c[0].startswith(args.only)]
    if args.explain:
        explain(args.explain)
        return
    if args.handwritten:
        handwritten(args.handwritten, args.repeat)
        return
    if args.cleanup_apply:
        cleanup_apply(args.cleanup_apply, args.runs, args.writers, args.lock_timeout)
        return
    if args.measure and args.in_process:
        report_in_process(*in_process(args.measure[0], args.measure[1], args.repeat))
        return
    if args.measure:
        report(*measure_pair(args.measure[0], args.measure[1], args.repeat))
        return
    server = args.server.rstrip("/")
    admin = create_engine(server + "/")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS `{args.name}`"))
        c.execute(text(f"CREATE DATABASE `{args.name}`"))
    url = f"{server}/{args.name}"
    subprocess.run([sys.executable, "-m", "mopstool", "--db", url, "db", "init"], check=True,
                   stderr=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "mopstool", "demo", "--db", url], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    before = {} if args.no_time else measure(url, args.repeat)
    t0 = time.perf_counter()
    counts = inflate(url, args.exposures, args.components, args.requests)
    load = time.perf_counter() - t0
    print(f"history added in {load:.0f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    if not args.no_time:
        report(before, measure(url, args.repeat))
    if args.keep:
        print(f"kept: {url}")
    else:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE `{args.name}`"))


if __name__ == "__main__":
    main()
