"""Retention cleanup on a database with years of history.

Builds, in a scratch MariaDB database, a gpc1-like history: many nights of
nightly chip runs already cleaned (state cleaned, label goto_cleaned), as many
out-of-scope 'full' runs (LAP reprocessing), and a few recent nights of 'full'
nightly runs that retention cleanup has to move. Then times the plan
(`plan_cleanup`), the batched apply, and `cleanup status`, and prints the
MariaDB EXPLAIN of the candidate query.

    python bench/bench_cleanup.py mysql+pymysql://root@127.0.0.1/cleanup_bench \\
        [--nights 2000] [--per-night 100] [--recent 5] [--batch-size 500]

The database is (re)created. Run by hand; results are in docs/cleanup.md.
"""

from __future__ import annotations

import argparse
import time
from datetime import date, datetime, timedelta

from sqlalchemy import and_, create_engine, or_, select, text

from mopstool.config import load_config
from mopstool.db import Databases, schema
from mopstool.db.dialect import add_extra_auto_increment
from mopstool.db.own import own
from mopstool.stages import STAGES
from mopstool.ops.disk.cleanup import cleanup, cleanup_rules, cleanup_status, plan_cleanup, scope_condition
from mopstool.ops.select import exposure_join


def build(url: str, nights: int, per_night: int, recent: int, as_of: date) -> int:
    server, name = url.rsplit("/", 1)
    eng = create_engine(server + "/")
    with eng.begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    eng.dispose()
    eng = create_engine(url)
    with eng.begin() as conn:
        schema.gpc1.create_all(conn)
        own.create_all(conn)
        add_extra_auto_increment(conn, list(schema.gpc1.sorted_tables))
    exp_id = chip_id = 1
    recent_full = 0
    targets = ("OSS", "MSS", "ESS", "EU", "FSS")
    with eng.begin() as conn:
        for n in range(nights, 0, -1):
            night = as_of - timedelta(days=n)
            new, raw, chips = [], [], []
            for k in range(per_night):
                t = targets[k % len(targets)]
                dt = datetime(night.year, night.month, night.day, 6) + timedelta(seconds=60 * k)
                mjd = (datetime(night.year, night.month, night.day) - datetime(1858, 11, 17)).days
                ename = f"o{mjd - 50000}g{k:04d}o"
                for lap in (False, True):
                    new.append(dict(exp_id=exp_id, tmp_exp_name=ename, state="full"))
                    raw.append(dict(exp_id=exp_id, exp_name=ename, dateobs=dt, filter="w.00000",
                                    exp_type="object", state="full", fault=0))
                    is_recent = n <= recent
                    if lap:
                        label, state = "LAP.PV3.20180301", "full"
                    elif is_recent:
                        label, state = f"{t}.nightlyscience", "full"
                        recent_full += 1
                    else:
                        label, state = "goto_cleaned", "cleaned"
                    chips.append(dict(chip_id=chip_id, exp_id=exp_id, state=state, label=label,
                                      data_group=f"{t}.{night:%Y%m%d}", workdir="neb://x"))
                    exp_id += 1
                    chip_id += 1
            conn.execute(schema.newExp.insert(), new)
            conn.execute(schema.rawExp.insert(), raw)
            conn.execute(schema.chipRun.insert(), chips)
        conn.execute(text("ANALYZE TABLE chipRun, rawExp"))
    eng.dispose()
    return recent_full


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("--nights", type=int, default=2000)
    ap.add_argument("--per-night", type=int, default=100)
    ap.add_argument("--recent", type=int, default=5)
    ap.add_argument("--batch-size", type=int, default=500)
    a = ap.parse_args()
    as_of = date(2018, 7, 11)
    t0 = time.perf_counter()
    expected = build(a.url, a.nights, a.per_night, a.recent, as_of)
    print(f"built {a.nights} nights x {a.per_night} exposures x 2 chip runs "
          f"({2 * a.nights * a.per_night} chipRun rows) in {time.perf_counter() - t0:.1f} s")
    cfg = load_config()
    dbs = Databases(a.url, a.url)
    rules = [r for r in cleanup_rules(cfg, as_of) if r.stage == "chip"]
    run, raw = schema.chipRun, schema.rawExp
    q = (select(run.c.chip_id, run.c.label, raw.c.dateobs).select_from(exposure_join(STAGES["chip"]))
         .where(run.c.state == "full", scope_condition(run, rules),
                or_(*[and_(r.label_condition(run.c.label), raw.c.dateobs < r.cutoff) for r in rules])))
    sql = str(q.compile(dbs.gpc1, compile_kwargs={"literal_binds": True}))
    with dbs.connect() as conn:
        print("EXPLAIN of the chip candidate query:")
        for row in conn.execute(text("EXPLAIN " + sql)):
            print("  ", tuple(row))
    t0 = time.perf_counter()
    plan = plan_cleanup(dbs, cfg, as_of=as_of, batch_size=a.batch_size)
    t_plan = time.perf_counter() - t0
    print(f"plan: {plan.total} runs eligible (expected {expected}) in {t_plan:.2f} s")
    t0 = time.perf_counter()
    plan = cleanup(dbs, cfg, as_of=as_of, batch_size=a.batch_size)
    t_apply = time.perf_counter() - t0
    print(f"plan + apply: {plan.total_changed} runs in {plan.batches_done} batches in {t_apply:.2f} s")
    t0 = time.perf_counter()
    again = plan_cleanup(dbs, cfg, as_of=as_of)
    print(f"re-plan: {again.total} runs in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    st = cleanup_status(dbs, cfg, as_of=as_of)
    print(f"status: {time.perf_counter() - t0:.2f} s; oldest uncleaned night {st['oldest_uncleaned_night']}")


if __name__ == "__main__":
    main()
