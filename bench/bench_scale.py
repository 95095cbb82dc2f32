"""Cost must grow with the night, not with the database.

Loads the demo night into a scratch MariaDB database, then adds years of
history (runs of other nights in cleaned states, old diffs, old faults) with
server-side INSERT ... SELECT from MariaDB's sequence engine, and times the
nightly commands before and after. With indexed, set-based queries the times
stay flat while the tables grow a hundredfold.

    python bench/bench_scale.py [--server mysql+pymysql://root@127.0.0.1/] [--days 1500]
                                [--per-night 80] [--keep]

Run by hand; results are reported in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from sqlalchemy import create_engine, text

COMMANDS = [
    ["runs", "chip", "--night", "2018-07-10", "--json"],
    ["runs", "diff", "--night", "2018-07-10", "--json"],
    ["faults", "--night", "2018-07-10", "--json"],
    ["lostvisits", "--night", "2018-07-10", "--json"],
    ["diffpairs", "--night", "2018-07-10", "--json"],
    ["czar", "--night", "2018-07-10", "--json"],
    ["cleanup", "--dry-run", "--as-of", "2018-07-11", "--json"],
    ["pstamp-req", "backlog", "--json"],
]


def timed(url: str, args: list[str], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mopstool", *args, "--db", url],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - t0)
    return best


def inflate(url: str, days: int, per_night: int) -> dict[str, int]:
    """History before the demo: `days` nights of `per_night` exposures each, fully
    processed and cleaned, with 10 chip components per run and a few old faults."""
    n = days * per_night
    eng = create_engine(url)
    base = 50_000_000
    with eng.begin() as c:
        c.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        seq = f"seq_0_to_{n - 1}"
        night = f"DATE_ADD('2018-07-09', INTERVAL -1 - FLOOR(seq / {per_night}) DAY)"
        c.execute(text(f"INSERT INTO newExp (exp_id, state) SELECT {base} + seq, 'full' FROM {seq}"))
        c.execute(text(
            "INSERT INTO rawExp (exp_id, exp_name, camera, dateobs, exp_type, filter, comment, obs_mode, "
            "object, fault) SELECT {b} + seq, CONCAT('o', DATEDIFF({nt}, '1858-11-17') - 50000, 'g', "
            "LPAD(seq % {p}, 4, '0'), 'o'), 'GPC1', DATE_ADD({nt}, INTERVAL 7 HOUR), 'object', 'w.00000', "
            "CONCAT('OSSR.R00S0.', seq % 7, '.Q.w visit ', 1 + seq % 4), 'OSS', CONCAT('OSS.X.', seq % 20), 0 "
            "FROM {s}".format(b=base, nt=night, p=per_night, s=seq)))
        for tbl, idc, parent, pcol in (("chipRun", "chip_id", "exp_id", None),
                                       ("camRun", "cam_id", "chip_id", None),
                                       ("fakeRun", "fake_id", "cam_id", None),
                                       ("warpRun", "warp_id", "fake_id", None)):
            c.execute(text(
                f"INSERT INTO {tbl} ({idc}, {parent}, state, label, data_group) "
                f"SELECT {base} + seq, {base} + seq, IF(seq % 50 = 0, 'full', 'cleaned'), "
                f"'OSS.nightlyscience', CONCAT('OSS.', DATE_FORMAT({night}, '%Y%m%d')) FROM {seq}"))
        c.execute(text(
            f"INSERT INTO chipProcessedImfile (chip_id, exp_id, class_id, data_state, quality, fault) "
            f"SELECT {base} + s1.seq, {base} + s1.seq, CONCAT('XY', 10 + s2.seq), 'cleaned', 0, "
            f"IF(s1.seq % 997 = 0 AND s2.seq = 0, 2, 0) FROM {seq} s1 JOIN seq_0_to_9 s2"))
        c.execute(text(
            f"INSERT INTO camProcessedExp (cam_id, fault, quality, fwhm_major, zpt_obs) "
            f"SELECT {base} + seq, 0, 0, 4.5, 24.6 FROM {seq}"))
        c.execute(text(
            f"INSERT INTO diffRun (diff_id, state, label, data_group, diff_mode, bothways) "
            f"SELECT {base} + seq, 'cleaned', 'OSS.nightlyscience', "
            f"CONCAT('OSS.', DATE_FORMAT({night}, '%Y%m%d')), 1, 1 FROM {seq} WHERE seq % 2 = 0"))
        c.execute(text(
            f"INSERT INTO diffInputSkyfile (diff_id, skycell_id, warp1, warp2, tess_id) "
            f"SELECT {base} + seq, 'skycell.9999.000', {base} + seq, {base} + seq + 1, 'RINGS.V3' "
            f"FROM {seq} WHERE seq % 2 = 0"))
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
    ap.add_argument("--days", type=int, default=1500)
    ap.add_argument("--per-night", type=int, default=80)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--name", default="mopstool_bench_scale", help="scratch database to create (dropped after)")
    ap.add_argument("--repeat", type=int, default=3, help="runs per command (the best is kept)")
    args = ap.parse_args()
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
    before = {" ".join(a[:2]): timed(url, a, args.repeat) for a in COMMANDS}
    t0 = time.perf_counter()
    counts = inflate(url, args.days, args.per_night)
    load = time.perf_counter() - t0
    after = {" ".join(a[:2]): timed(url, a, args.repeat) for a in COMMANDS}
    print(f"history added in {load:.1f} s: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    print(f"{'command':<24}{'demo only (s)':>15}{'with history (s)':>18}")
    for k in before:
        print(f"{k:<24}{before[k]:>15.2f}{after[k]:>18.2f}")
    if not args.keep:
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE `{name}`"))


if __name__ == "__main__":
    main()
