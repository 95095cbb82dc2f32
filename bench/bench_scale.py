"""Cost must grow with the night, not with the database.

Loads the demo night into a scratch database (MariaDB, or SQLite with
--sqlite), then adds years of history (runs of other nights in cleaned
states, old diffs, old faults) with server-side INSERT ... SELECT over a
sequence of integers (MariaDB's sequence engine, a recursive CTE on SQLite),
and times the nightly commands before and after, as whole processes (the way
cron runs them): the median of --repeat runs, all commands interleaved in
each round so that a busy machine slows them alike. With indexed, set-based
queries the times stay flat while the tables grow a hundredfold.

Then `night` and `report` are compared with `czar` on the same night (the
target: within 2x): `report` once writing a new page (every plot drawn) and
once rewriting its own page with unchanged data (the plots kept).

    python bench/bench_scale.py [--server mysql+pymysql://root@127.0.0.1/ | --sqlite FILE]
                                [--days 1500] [--per-night 80] [--repeat 5] [--keep]

Run by hand; results are reported in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

NIGHT = "2018-07-10"
COMMANDS = [
    ["runs", "chip", "--night", NIGHT, "--json"],
    ["runs", "diff", "--night", NIGHT, "--json"],
    ["faults", "--night", NIGHT, "--json"],
    ["lostvisits", "--night", NIGHT, "--json"],
    ["diffpairs", "--night", NIGHT, "--json"],
    ["czar", "--night", NIGHT, "--json"],
    ["night", "--night", NIGHT, "--json"],
    ["report", "--night", NIGHT, "-o", "{new}"],
    ["report", "--night", NIGHT, "-o", "{same}"],
    ["cleanup", "--dry-run", "--as-of", "2018-07-11", "--json"],
    ["cleanup", "status", "--as-of", "2018-07-11", "--json"],
    ["pstamp-req", "backlog", "--json"],
]


def label(args: list[str]) -> str:
    if args[0] == "report":
        return "report (new page)" if args[-1] == "{new}" else "report (rewrite)"
    return " ".join(args[:2])


def timed_all(url: str, commands: list[list[str]], repeat: int, workdir: Path) -> dict[str, tuple[float, float]]:
    """label -> (median wall s, median CPU s) of whole processes, interleaved."""
    new, same = workdir / "new.html", workdir / "same.html"
    # the page that "report (rewrite)" rewrites: written once before the timed runs
    subprocess.run([sys.executable, "-m", "mopstool", "report", "--night", NIGHT, "-o", str(same), "--force",
                    "--db", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall: dict[str, list[float]] = {label(a): [] for a in commands}
    cpu: dict[str, list[float]] = {label(a): [] for a in commands}
    for _ in range(repeat):
        for a in commands:
            new.unlink(missing_ok=True)
            argv = [x.replace("{new}", str(new)).replace("{same}", str(same)) for x in a]
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            r = subprocess.run([sys.executable, "-m", "mopstool", *argv, "--db", url],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            if r.returncode not in (0, 3):   # 3: the report found something to say
                raise SystemExit(f"mopstool {' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
            wall[label(a)].append(time.perf_counter() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[label(a)].append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return {k: (statistics.median(wall[k]), statistics.median(cpu[k])) for k in wall}


class Sql:
    """The few expressions that differ between MariaDB and SQLite."""

    def __init__(self, sqlite: bool):
        self.sqlite = sqlite

    def cat(self, *parts: str) -> str:
        return "(" + " || ".join(parts) + ")" if self.sqlite else f"CONCAT({', '.join(parts)})"

    def iff(self, cond: str, a: str, b: str) -> str:
        return f"(CASE WHEN {cond} THEN {a} ELSE {b} END)" if self.sqlite else f"IF({cond}, {a}, {b})"

    def night(self, per_night: int) -> str:
        """The night of history row `seq`: one night back per `per_night` rows, from 2018-07-08."""
        if self.sqlite:
            return f"date('2018-07-09', '-' || (1 + seq / {per_night}) || ' days')"
        return f"DATE_ADD('2018-07-09', INTERVAL -1 - FLOOR(seq / {per_night}) DAY)"

    def mjd(self, day: str) -> str:
        if self.sqlite:
            return f"CAST(julianday({day}) - julianday('1858-11-17') AS INTEGER)"
        return f"DATEDIFF({day}, '1858-11-17')"

    def plus_hours(self, day: str, h: int) -> str:
        return f"datetime({day}, '+{h} hours')" if self.sqlite else f"DATE_ADD({day}, INTERVAL {h} HOUR)"

    def pad4(self, x: str) -> str:
        return f"printf('%04d', {x})" if self.sqlite else f"LPAD({x}, 4, '0')"

    def ymd(self, day: str) -> str:
        return f"strftime('%Y%m%d', {day})" if self.sqlite else f"DATE_FORMAT({day}, '%Y%m%d')"


def inflate(url: str, days: int, per_night: int) -> dict[str, int]:
    """History before the demo: `days` nights of `per_night` exposures each, fully
    processed and cleaned, with 10 chip components per run and a few old faults."""
    n = days * per_night
    eng = create_engine(url)
    q = Sql(eng.dialect.name == "sqlite")
    base = 50_000_000
    with eng.begin() as c:
        if q.sqlite:
            for name, size in (("seq_hist", n), ("seq_0_to_9", 10)):
                c.execute(text(f"CREATE TEMP TABLE {name} AS WITH RECURSIVE s(seq) AS (SELECT 0 UNION ALL "
                               f"SELECT seq + 1 FROM s WHERE seq < {size - 1}) SELECT seq FROM s"))
            seq = "seq_hist"
        else:
            c.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            seq = f"seq_0_to_{n - 1}"
        night = q.night(per_night)
        c.execute(text(f"INSERT INTO newExp (exp_id, state) SELECT {base} + seq, 'full' FROM {seq}"))
        comment = q.cat("'OSSR.R00S0.'", "seq % 7", "'.Q.w visit '", "1 + seq % 4")
        obj = q.cat("'OSS.X.'", "seq % 20")
        state = q.iff("seq % 50 = 0", "'full'", "'cleaned'")
        # cleaned runs carry the label goto_cleaned, as the IPP's cleanup (and
        # mopstool's) leaves them; the runs still full are out-of-scope LAP runs
        label = q.iff("seq % 50 = 0", "'LAP.PV3.20180301'", "'goto_cleaned'")
        group = q.cat("'OSS.'", q.ymd(night))
        class_id = q.cat("'XY'", "10 + s2.seq")
        exp_name = q.cat("'o'", f"({q.mjd(night)} - 50000)", "'g'", q.pad4(f"seq % {per_night}"), "'o'")
        c.execute(text(
            f"INSERT INTO rawExp (exp_id, exp_name, camera, dateobs, exp_type, filter, comment, obs_mode, "
            f"object, fault) SELECT {base} + seq, {exp_name}, 'GPC1', {q.plus_hours(night, 7)}, 'object', "
            f"'w.00000', {comment}, 'OSS', "
            f"{obj}, 0 FROM {seq}"))
        for tbl, idc, parent, pcol in (("chipRun", "chip_id", "exp_id", None),
                                       ("camRun", "cam_id", "chip_id", None),
                                       ("fakeRun", "fake_id", "cam_id", None),
                                       ("warpRun", "warp_id", "fake_id", None)):
            c.execute(text(
                f"INSERT INTO {tbl} ({idc}, {parent}, state, label, data_group) "
                f"SELECT {base} + seq, {base} + seq, {state}, "
                f"{label}, {group} FROM {seq}"))
        c.execute(text(
            f"INSERT INTO chipProcessedImfile (chip_id, exp_id, class_id, data_state, quality, fault) "
            f"SELECT {base} + s1.seq, {base} + s1.seq, {class_id}, 'cleaned', 0, "
            f"{q.iff('s1.seq % 997 = 0 AND s2.seq = 0', '2', '0')} FROM {seq} s1 JOIN seq_0_to_9 s2"))
        c.execute(text(
            f"INSERT INTO camProcessedExp (cam_id, fault, quality, fwhm_major, zpt_obs) "
            f"SELECT {base} + seq, 0, 0, 4.5, 24.6 FROM {seq}"))
        c.execute(text(
            f"INSERT INTO diffRun (diff_id, state, label, data_group, diff_mode, bothways) "
            f"SELECT {base} + seq, 'cleaned', 'goto_cleaned', "
            f"{group}, 1, 1 FROM {seq} WHERE seq % 2 = 0"))
        c.execute(text(
            f"INSERT INTO diffInputSkyfile (diff_id, skycell_id, warp1, warp2, tess_id) "
            f"SELECT {base} + seq, 'skycell.9999.000', {base} + seq, {base} + seq + 1, 'RINGS.V3' "
            f"FROM {seq} WHERE seq % 2 = 0"))
        if q.sqlite:
            c.execute(text("ANALYZE"))
        else:
            c.execute(text("SET FOREIGN_KEY_CHECKS=1"))
            c.execute(text("ANALYZE TABLE rawExp, chipRun, camRun, fakeRun, warpRun, chipProcessedImfile, "
                           "camProcessedExp, diffRun, diffInputSkyfile"))
        counts = {t: c.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar()
                  for t in ("rawExp", "chipRun", "chipProcessedImfile", "warpRun", "diffRun")}
    eng.dispose()
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", default=os.environ.get("MOPSTOOL_TEST_MYSQL_URL",
                                                       "mysql+pymysql://root@127.0.0.1/"))
    ap.add_argument("--sqlite", metavar="FILE", help="use a scratch SQLite file instead of MariaDB (replaced)")
    ap.add_argument("--days", type=int, default=1500)
    ap.add_argument("--per-night", type=int, default=80)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--name", default="mopstool_bench_scale", help="scratch database to create (dropped after)")
    ap.add_argument("--repeat", type=int, default=5, help="runs per command (the median is kept)")
    ap.add_argument("--only", metavar="NAMES", help="only the commands named (comma-separated first words, "
                                                      "e.g. czar,night,report; czar is always timed)")
    args = ap.parse_args()
    commands = COMMANDS
    if args.only:
        names = {n.strip() for n in args.only.split(",")} | {"czar"}
        commands = [c for c in COMMANDS if c[0] in names]
        if len(commands) == 1 and "czar" not in args.only:
            ap.error(f"--only {args.only}: no such command (choices: {', '.join(sorted({c[0] for c in COMMANDS}))})")
    if args.sqlite:
        path = Path(args.sqlite).resolve()
        path.unlink(missing_ok=True)
        url = f"sqlite:///{path}"
        admin = None
    else:
        server = args.server.rstrip("/")
        name = args.name
        admin = create_engine(server + "/")
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
            c.execute(text(f"CREATE DATABASE `{name}`"))
        url = f"{server}/{name}"
    subprocess.run([sys.executable, "-m", "mopstool", "--db", url, "db", "init"], check=True,
                   stderr=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "mopstool", "demo", "--db", url], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with tempfile.TemporaryDirectory(prefix="bench_scale.") as tmp:
        work = Path(tmp)
        before = timed_all(url, commands, args.repeat, work)
        t0 = time.perf_counter()
        counts = inflate(url, args.days, args.per_night)
        load = time.perf_counter() - t0
        after = timed_all(url, commands, args.repeat, work)
    print(f"{create_engine(url).dialect.name}, {args.days} nights x {args.per_night} exposures of history, "
          f"median of {args.repeat} whole processes, load average {os.getloadavg()[0]:.1f}")
    print(f"history added in {load:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"{'command':<24}{'demo only wall/CPU (s)':>24}{'with history wall/CPU (s)':>28}")
    for k in before:
        (bw, bc), (aw, ac) = before[k], after[k]
        print(f"{k:<24}{bw:>15.2f} / {bc:<6.2f}{aw:>19.2f} / {ac:<6.2f}")
    print(f"{'ratio to czar':<24}{'demo only wall/CPU':>24}{'with history wall/CPU':>28}")
    czar = "czar --night"
    for k in ("night --night", "report (new page)", "report (rewrite)"):
        if k not in before:
            continue
        rb = (before[k][0] / before[czar][0], before[k][1] / before[czar][1])
        ra = (after[k][0] / after[czar][0], after[k][1] / after[czar][1])
        print(f"{k:<24}{rb[0]:>15.2f} / {rb[1]:<6.2f}{ra[0]:>19.2f} / {ra[1]:<6.2f}")
    if admin is not None and not args.keep:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE `{args.name}`"))
    elif args.sqlite and not args.keep:
        Path(args.sqlite).unlink(missing_ok=True)


if __name__ == "__main__":
    main()
