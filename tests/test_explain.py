"""No report reads a whole history table: EXPLAIN of every statement they issue, on MariaDB.

Method. The demo night alone is too small to judge a plan: on tables of a few
dozen rows MariaDB rightly prefers a scan to an index, so a plan of type ALL
there says nothing. Disabling index choice (hints) would not help either: it
tests the hint, not the query. So the test builds what the plan must survive:
the demo night plus a history of a few years added server-side with
``bench/bench_million.py``'s INSERT ... SELECT from the SEQUENCE engine
(20,000 exposures with their runs, components, diffs, publishRuns and 6,000
finished stamp requests; a few seconds), runs ANALYZE so the optimizer knows
the sizes, and runs every report in-process. A SQLAlchemy
``before_cursor_execute`` listener records each statement with its
parameters; every SELECT is then EXPLAINed with the same parameters and any
plan row of type ``ALL`` whose table (aliases resolved from the statement) is
a history table fails the test, naming the report, the table and the SQL.
At this size an index that selects the night or the state is far cheaper
than a scan, so the optimizer takes it when the query lets it; a query
written so that no index applies (an OR across columns, a function on the
column, a predicate only a scan can answer) still shows as ALL. For the cleanup reports
(``SMALL_STEPS``) every step must moreover estimate at most 5 % of the rows of
each history table it reads, since their index reads over the cleaned
history (a count of every cleaned run) are no full scans but grow with it
all the same. With EXPLAIN_DUMP=1 (and -s) every plan row on a history
table is printed.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine

from conftest import _create_schema, scratch_db_name

HISTORY = {"rawExp", "chipRun", "chipProcessedImfile", "camRun", "fakeRun", "warpRun", "warpSkyfile",
           "diffRun", "diffInputSkyfile", "diffSkyfile", "publishRun", "pstampRequest", "pstampJob"}
NIGHT = "2018-07-10"
REPORTS = {
    "lostvisits": ["lostvisits", "--night", NIGHT, "--json"],
    "diffpairs": ["diffpairs", "--night", NIGHT, "--json"],
    "czar": ["czar", "--night", NIGHT, "--json"],
    "faults": ["faults", "--night", NIGHT, "--json"],
    "night": ["night", "--night", NIGHT, "--json"],
    "runs": ["runs", "chip", "--night", NIGHT, "--json"],
    "cleanup --dry-run": ["cleanup", "--dry-run", "--as-of", "2018-07-11", "--json"],
    "cleanup --status": ["cleanup", "--status", "--json"],
    "pstamp-req backlog": ["pstamp-req", "backlog", "--json"],
    "updaterun --dry-run": ["updaterun", "chip", "--night", NIGHT, "--set-note", "x", "--dry-run", "--json"],
}
#: reports each of whose steps must read a small part of every history table
#: (EXPLAIN's estimated rows at most this fraction of the table's rows), not
#: only avoid a full scan: cleanup enters the run tables by the label index
#: (cleaned runs carry the label goto_cleaned) and --status counts only the
#: goto_*/error_* states, so an index read over the cleaned history (a count of
#: every cleaned run, an entry by state = 'full' over all labels when the
#: history holds many) fails here although it is no full scan
SMALL_STEPS = {"cleanup --dry-run": 0.05, "cleanup --status": 0.05}
_ALIAS = re.compile(r"`?(\w+)`?\s+AS\s+`?(\w+)`?", re.IGNORECASE)


def _bench_million():
    path = Path(__file__).resolve().parents[1] / "bench" / "bench_million.py"
    spec = importlib.util.spec_from_file_location("bench_million", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def history_url(mysql_url, tmp_path_factory):
    """The demo night plus 20,000 exposures of history, on MariaDB (module scope: built once)."""
    from mopstool.config import load_config, parse_night
    from mopstool.ops.demo.night import run_demo

    base = mysql_url.rsplit("/", 1)[0]
    name = scratch_db_name("explain")
    server = create_engine(base + "/")
    with server.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    url = f"{base}/{name}"
    _create_schema(url)
    root = tmp_path_factory.mktemp("explain")
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MOPSTOOL_CONFIG", "IPPRC"):
            mp.delenv(var, raising=False)
        (root / "home" / ".config").mkdir(parents=True, exist_ok=True)  # astropy warns about a missing one
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("XDG_CONFIG_HOME", str(root / "home" / ".config"))
        run_demo(load_config(), db_url=url, reset=False, night=parse_night(NIGHT), files_dir=str(root / "f"))
    _bench_million().inflate(url, 20_000, 2, requests=6_000, quiet=True)
    yield url
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def _capture(cli, argv: list[str]) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(Engine, "before_cursor_execute", listener)
    try:
        r = cli(*argv)
    finally:
        event.remove(Engine, "before_cursor_execute", listener)
    assert r.code in (0, 1, 3), (argv, r.code, r.err[-2000:])
    return seen


def history_steps(conn, statement: str, parameters) -> list[dict]:
    """The plan rows of one SELECT on history tables (aliases resolved: history_table)."""
    aliases = {alias: tbl for tbl, alias in _ALIAS.findall(statement) if tbl in HISTORY}
    rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters or ()).mappings().all()
    out = []
    for r in rows:
        tbl = aliases.get(r["table"], r["table"])
        if tbl in HISTORY:
            if os.environ.get("EXPLAIN_DUMP"):
                print("PLAN", r["type"], tbl, r["key"], r["rows"], r["Extra"], "|",
                      " ".join(statement.split())[:300])
            out.append(dict(r, history_table=tbl))
    return out


def full_scans(conn, statement: str, parameters) -> list[dict]:
    """Plan rows of type ALL on a history table for one SELECT (aliases resolved)."""
    return [r for r in history_steps(conn, statement, parameters) if r["type"] == "ALL"]


def _rows(row) -> int:
    """EXPLAIN's estimated rows of a plan row ("4001 (2%)" with a rowid filter: 4001)."""
    return int(str(row["rows"] or 0).split()[0])


def _selects(seen):
    return [(s, p) for s, p in seen if s.lstrip().upper().startswith(("SELECT", "WITH", "("))]


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_no_full_scan_of_a_history_table(report, history_url, cli):
    seen = _capture(cli, [*REPORTS[report], "--db", history_url])
    selects = _selects(seen)
    assert selects, f"{report} issued no SELECT (capture broken?)"
    eng = create_engine(history_url)
    problems, big = [], []
    frac = SMALL_STEPS.get(report)
    with eng.connect() as conn:
        sizes = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in HISTORY} if frac else {}
        for statement, parameters in selects:
            for row in history_steps(conn, statement, parameters):
                where = (f"{row['history_table']} (as {row['table']}, {row['type']}/{row['key']}, "
                         f"~{row['rows']} rows): {' '.join(statement.split())[:600]}")
                if row["type"] == "ALL":
                    problems.append(where)
                elif frac and _rows(row) > frac * sizes[row["history_table"]]:
                    big.append(where)
    eng.dispose()
    assert not problems, f"{report}: full scan of a history table:\n" + "\n".join(problems)
    assert not big, (f"{report}: a step reads more than {frac:.0%} of a history table:\n"
                     + "\n".join(big))


def test_the_check_sees_a_full_scan(history_url):
    """The detector itself: a query no index can answer is reported, an indexed one is not."""
    eng = create_engine(history_url)
    with eng.connect() as conn:
        bad = full_scans(conn, "SELECT d.diff_id FROM diffInputSkyfile AS d WHERE d.warp1 + 0 = %s", (1,))
        good = full_scans(conn, "SELECT d.diff_id FROM diffInputSkyfile AS d WHERE d.warp1 = %s", (1,))
    eng.dispose()
    assert [r["history_table"] for r in bad] == ["diffInputSkyfile"]
    assert good == []


def test_sqlite_night_lookup_searches_the_exp_name_index(tmp_path):
    """SQLite's LIKE is case-insensitive and never uses an index of the default
    collation; the night's prefix match is a GLOB there, a range on the index."""
    import sqlite3
    from datetime import date, datetime

    from sqlalchemy import insert, select

    from mopstool.db import schema
    from mopstool.stages.joins import night_condition

    path = tmp_path / "night.sqlite"
    url = f"sqlite:///{path}"
    _create_schema(url)
    raw = schema.rawExp
    rows = [(1, "o8309g0001o", datetime(2018, 7, 10, 6)), (2, "o8309g0002o", datetime(2018, 7, 10, 23)),
            (3, "o8308g0001o", datetime(2018, 7, 10, 7)),    # another night's name: not matched
            (4, "O8309g0003o", datetime(2018, 7, 10, 8)),    # not a GPC1 name (upper case)
            (5, "o8309g0004o", datetime(2018, 7, 11, 1))]    # the name's night, dateobs after it
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(insert(raw), [{"exp_id": i, "exp_name": n, "dateobs": d, "camera": "GPC1", "fault": 0}
                                   for i, n, d in rows])
    q = select(raw.c.exp_id).where(night_condition(date(2018, 7, 10))).order_by(raw.c.exp_id)
    with eng.connect() as conn:
        assert conn.execute(q).scalars().all() == [1, 2]
    compiled = q.compile(eng)
    sql = str(compiled)
    params = [compiled.params[k] for k in compiled.positiontup]
    eng.dispose()
    assert "GLOB" in sql and "LIKE" not in sql
    con = sqlite3.connect(path)
    plan = [r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql, params).fetchall()]
    con.close()
    assert any(p.startswith("SEARCH rawExp") and "ix_rawExp_exp_name" in p for p in plan), plan
    assert not any(p.startswith("SCAN rawExp") for p in plan), plan
