"""What a report costs beyond its SQL: mopstool against a minimal script.

For each report (`runs chip --json`, `lostvisits --json`, `czar --json`) the
statements mopstool sends are captured once (an engine event, in a process of
their own); a minimal typer + SQLAlchemy script then replays exactly those
statements on the same database and prints the rows as JSON. Both run as whole
processes, interleaved in one run, and the median CPU time (user + sys) of
each is compared. Target (docs/benchmarks.md): at most 1.3x the minimal script.

Both run with bytecode caches, as an installed tool does: the processes write
and read their compiled modules under the scratch directory
(PYTHONPYCACHEPREFIX), also when the environment sets PYTHONDONTWRITEBYTECODE,
which would otherwise make every mopstool run compile its own modules from
source (the libraries keep the caches their installation wrote). ``--no-cache``
keeps the environment's setting.

    python bench/bench_reports.py                       # the demo, 11 rounds
    python bench/bench_reports.py --db URL --repeat 3   # another database
    python bench/bench_reports.py --json                # figures as JSON
    python bench/bench_reports.py --no-cache            # the environment's bytecode setting
    python bench/bench_reports.py --minimal-gc-hold     # the minimal script holds collection too

mopstool's console script holds garbage collection during its start-up (see
mopstool._startup); the minimal script as written does not. ``--minimal-gc-hold``
gives it the same hold, to compare like for like.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPORTS = {
    "runs chip --json": ["runs", "chip", "--json"],
    "lostvisits --json": ["lostvisits", "--night", "2018-07-10", "--json"],
    "czar --json": ["czar", "--night", "2018-07-10", "--json"],
}
TARGET = 1.3

#: runs one mopstool command in-process and writes the statements it sent (JSON)
CAPTURE = r"""
import json, sys
from sqlalchemy import event
from sqlalchemy.engine import Engine
seen = []
@event.listens_for(Engine, "before_cursor_execute")
def _keep(conn, cursor, statement, parameters, context, executemany):
    if not executemany:
        seen.append([statement, list(parameters) if isinstance(parameters, (list, tuple)) else parameters])
from mopstool.cli.main import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
json.dump(seen, open(sys.argv[1], "w"), default=str)
"""

#: the floor: typer, an engine, the same statements, the rows printed as JSON
#: (with --minimal-gc-hold, {hold} and {resume} hold garbage collection until the
#: engine exists, as mopstool's console script does: see mopstool._startup)
MINIMAL = r"""
import json, sys
{hold}
import typer
from sqlalchemy import create_engine

app = typer.Typer()

@app.command()
def run(url: str, statements: str):
    stmts = json.load(open(statements))
    eng = create_engine(url)
    {resume}
    out = []
    with eng.connect() as conn:
        for sql, params in stmts:
            res = conn.exec_driver_sql(sql, tuple(params) if isinstance(params, list) else params)
            if res.returns_rows:
                out.append([list(r) for r in res])
    print(json.dumps(out, default=str))

app()
"""


def _cpu(argv: list[str], env: dict) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode not in (0, 3):
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(db: str | None = None, repeat: int = 11, no_cache: bool = False,
            minimal_gc_hold: bool = False) -> list[dict]:
    """Per report: statements, median CPU seconds of mopstool and of the minimal
    script, their ratio and the target (also used by bench_startup.py)."""
    args = argparse.Namespace(db=db, repeat=repeat, no_cache=no_cache, minimal_gc_hold=minimal_gc_hold)
    work = Path(tempfile.mkdtemp(prefix="bench_reports_"))
    env = dict(os.environ, HOME=str(work), XDG_CONFIG_HOME=str(work / ".config"))
    (work / ".config").mkdir()
    for var in ("MOPSTOOL_DB", "MOPSTOOL_CONFIG", "IPPRC", "MOPSTOOL_DBNAME"):
        env.pop(var, None)
    if not args.no_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    url = args.db or f"sqlite:///{work / 'demo.sqlite'}"
    if not args.db:
        subprocess.run([sys.executable, "-m", "mopstool", "demo", "--db", url, "--files", str(work / "f")],
                       check=True, stdout=subprocess.DEVNULL, env=env)
    (work / "capture.py").write_text(CAPTURE)
    hold = ("import gc", "gc.disable()") if args.minimal_gc_hold else ("", "")
    (work / "minimal.py").write_text(MINIMAL.replace("{hold}", "\n".join(hold)).replace(
        "{resume}", "gc.freeze(); gc.enable()" if args.minimal_gc_hold else "pass"))
    cases = {}
    for label, argv in REPORTS.items():
        stmts = work / f"{len(cases)}.json"
        subprocess.run([sys.executable, str(work / "capture.py"), str(stmts), "--db", url, *argv],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        cases[label] = ([sys.executable, "-m", "mopstool", "--db", url, *argv],
                        [sys.executable, str(work / "minimal.py"), url, str(stmts)],
                        len(json.loads(stmts.read_text())))
    samples = {label: ([], []) for label in cases}
    for label, (tool, floor, _n) in cases.items():  # warm caches
        _cpu(tool, env), _cpu(floor, env)
    for _ in range(args.repeat):
        for label, (tool, floor, _n) in cases.items():
            samples[label][0].append(_cpu(tool, env))
            samples[label][1].append(_cpu(floor, env))
    rows = []
    for label, (t, f) in samples.items():
        mt, mf = statistics.median(t), statistics.median(f)
        rows.append({"report": label, "statements": cases[label][2], "mopstool_cpu_s": round(mt, 3),
                     "minimal_cpu_s": round(mf, 3), "ratio": round(mt / mf, 2), "target": TARGET})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", help="database URL (default: a scratch SQLite demo)")
    ap.add_argument("--repeat", type=int, default=11, help="rounds (the median is kept)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-cache", action="store_true",
                    help="keep the environment's bytecode setting (PYTHONDONTWRITEBYTECODE)")
    ap.add_argument("--minimal-gc-hold", action="store_true",
                    help="the minimal script also holds garbage collection until its engine exists "
                         "(like for like with mopstool's start-up)")
    args = ap.parse_args()
    if args.repeat < 1:
        ap.error("--repeat must be at least 1")
    rows = measure(args.db, args.repeat, args.no_cache, args.minimal_gc_hold)
    if args.json:
        print(json.dumps({"database": "given" if args.db else "the SQLite demo", "rounds": args.repeat,
                          "bytecode_cache": not args.no_cache, "minimal_gc_hold": args.minimal_gc_hold,
                          "results": rows}, indent=2))
    else:
        print(f"{'report':<20} {'stmts':>5} {'mopstool':>9} {'minimal':>8} {'ratio':>6}  (CPU s, median of "
              f"{args.repeat}{', no bytecode cache' if args.no_cache else ''}"
              f"{', minimal script with the gc hold' if args.minimal_gc_hold else ''})")
        for r in rows:
            print(f"{r['report']:<20} {r['statements']:>5} {r['mopstool_cpu_s']:>9.3f} {r['minimal_cpu_s']:>8.3f} "
                  f"{r['ratio']:>5.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
