"""Every script in bench/ runs, at tiny sizes, so none of them rots.

Smoke runs only: no timing is asserted, only that each script completes and
prints its report. The MariaDB ones work in a scratch database named with the
test prefix (conftest.scratch_db_name) and drop it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from conftest import scratch_db_name

BENCH = Path(__file__).resolve().parents[1] / "bench"
pytestmark = pytest.mark.slow


def _bench(script: str, *args: str, env=None) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, str(BENCH / script), *args], capture_output=True, text=True,
                       timeout=600, env=env or dict(os.environ))
    assert r.returncode == 0, (script, r.stdout[-2000:], r.stderr[-2000:])
    return r


def test_every_bench_script_has_a_smoke_test():
    here = Path(__file__).read_text()
    for script in BENCH.glob("*.py"):
        assert f'"{script.name}"' in here, f"{script.name} has no smoke run in {Path(__file__).name}"


def test_bench_startup_smoke():
    r = _bench("bench_startup.py", "--repeat", "1", "--json")
    doc = json.loads(r.stdout)
    assert {row["command"] for row in doc["results"]} >= {"mopstool --help", "mopstool czar --help"}
    assert doc["floor"] == 'python -c "import typer"'


def test_bench_reports_smoke():
    r = _bench("bench_reports.py", "--repeat", "1", "--json")
    rows = {row["report"]: row for row in json.loads(r.stdout)["results"]}
    assert set(rows) == {"runs chip --json", "lostvisits --json", "czar --json"}
    assert all(row["statements"] > 0 and row["ratio"] > 0 for row in rows.values())


def test_bench_mopscat_smoke(tmp_path):
    r = _bench("bench_mopscat.py", "--skycells", "2", "--rows", "40", "--repeat", "1", "--dir", str(tmp_path))
    assert "mopscat build" in r.stdout


def test_bench_stamps_smoke(tmp_path):
    r = _bench("bench_stamps.py", "--cases", "3x16,2x8,9x16", "--npix", "128", "--rounds", "1", "--workdir",
               str(tmp_path))
    assert "stamps/s" in r.stdout and r.stdout.count("whole process: cli / floor+wcs") == 3
    assert "throughput and start-up of a whole process, from 3 and 9 stamps of 16x16 px" in r.stdout
    assert r.stdout.count("throughput and start-up") == 1          # one size has two counts


@pytest.fixture
def scratch_mysql(mysql_url):
    """A database name on the test server (the script creates it); dropped after."""
    server = mysql_url.rsplit("/", 1)[0]
    name = scratch_db_name("bench")
    yield server, name
    eng = create_engine(server + "/")
    with eng.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    eng.dispose()


def test_bench_cleanup_smoke(scratch_mysql, isolated_home):
    server, name = scratch_mysql
    r = _bench("bench_cleanup.py", f"{server}/{name}", "--nights", "3", "--per-night", "4", "--recent", "1")
    assert "plan:" in r.stdout and "status:" in r.stdout


def test_bench_scale_smoke(tmp_path, isolated_home):
    # on SQLite: the run is the same, only the history loader's few SQL spellings differ
    r = _bench("bench_scale.py", "--sqlite", str(tmp_path / "scale.sqlite"), "--days", "2", "--per-night", "3",
               "--repeat", "1", "--only", "czar,night,report,cleanup")
    assert "with history" in r.stdout and "report (new page)" in r.stdout and "cleanup status" in r.stdout


def test_bench_testchunk_smoke(tmp_path):
    r = _bench("bench_testchunk.py", "--skycells", "2", "--rows", "30", "--repeat", "1", "--dir", str(tmp_path))
    assert "compare" in r.stdout
    r = _bench("bench_testchunk.py", "--reuse", "--repeat", "1", "--dir", str(tmp_path))
    assert "compare" in r.stdout and "cells per side 4," in r.stdout      # the files written above
    # options --reuse would not apply are refused by name
    for args, named in ((["--reuse"], "--dir"), (["--reuse", "--dir", str(tmp_path), "--rows", "9"], "--rows"),
                        (["--reuse", "--dir", str(tmp_path / "none")], "no A and B")):
        r = subprocess.run([sys.executable, str(BENCH / "bench_testchunk.py"), *args], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2 and named in r.stderr, (args, r.stderr)


def test_bench_million_smoke(scratch_mysql, isolated_home):
    server, name = scratch_mysql
    r = _bench("bench_million.py", "--server", server + "/", "--name", name, "--exposures", "300",
               "--components", "1", "--requests", "50", "--only", "pstamp-req", "--keep")
    assert "history added" in r.stdout and "pstamp-req backlog" in r.stdout
    url = f"{server}/{name}"
    r = _bench("bench_million.py", "--handwritten", url, "--only", "czar")
    assert "czar" in r.stdout and "faults of the night" in r.stdout       # the hand-written rows matched
    r = _bench("bench_million.py", "--in-process", "--measure", url, url, "--only", "faults")
    assert "faults" in r.stdout
    r = _bench("bench_million.py", "--handwritten", url)                 # every report's shapes match
    for shape in ("runs of the night", "cleanup candidates, chip", "runs in motion, counted",
                  "backlog, plain fault test", "run ids of the night"):
        assert shape in r.stdout
    r = _bench("bench_million.py", "--cleanup-apply", url, "--runs", "100", "--writers", "0.2")
    assert "cleanup --yes: 98 of the 98 history runs put in scope moved" in r.stdout, r.stdout
    # and the whole set of start-up and cost targets in one output
    r = _bench("bench_startup.py", "--repeat", "1", "--million", url, url, "--million-rounds", "1", "--json")
    sections = {row["section"] for row in json.loads(r.stdout)["more"]}
    assert sections == {"1 M exposures: whole process, big / small",
                        "1 M exposures: SQL time against hand-written SQL"}
