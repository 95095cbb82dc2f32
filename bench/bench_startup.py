"""Start-up cost of mopstool against the floor of `python -c "import typer"`.

Whole processes, interleaved in one run (so a busy machine slows floor and
mopstool alike), median wall time and median CPU time (user + sys) of each.
Targets (docs/benchmarks.md): `mopstool --help` and `mopstool czar --help`
at most 2.5x the floor.

    python bench/bench_startup.py               # 21 rounds
    python bench/bench_startup.py --repeat 3    # quicker, noisier
    python bench/bench_startup.py --check       # exit 3 when a target is missed
    python bench/bench_startup.py --json        # the figures as JSON on stdout
    python bench/bench_startup.py --reports     # also the reports against a minimal script
    python bench/bench_startup.py --reports --million SMALL_URL BIG_URL   # and the 1 M-exposure targets

``--reports`` adds bench_reports.py's comparison (runs chip, lostvisits, czar
on the SQLite demo against a minimal typer + SQLAlchemy script replaying
their statements; target 1.3x CPU). ``--million`` adds, on two MariaDB
databases built as docs/benchmarks.md says (the demo night alone, and with a
1 M-exposure history), each report's whole-process time on the big one
against the small one (target 1.5x) and its SQL time on the big one against
hand-written SQL returning the same rows (target 2x): bench_million.py's
measurements. Every target of the start-up issue is then in one output, and
``--check`` exits 3 when any is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

FLOOR = "import typer"
#: (label, argv after the interpreter, target ratio to the floor or None)
CASES = [
    ("python -c pass", ["-c", "pass"], None),
    ('python -c "import typer"', ["-c", FLOOR], None),
    ("mopstool --help", ["-m", "mopstool", "--help"], 2.5),
    ("mopstool czar --help", ["-m", "mopstool", "czar", "--help"], 2.5),
    ("mopstool --version", ["-m", "mopstool", "--version"], 2.5),
    ("mopstool runs --help", ["-m", "mopstool", "runs", "--help"], None),
    ("mopstool cleanup --help", ["-m", "mopstool", "cleanup", "--help"], None),
]


def run_once(argv: list[str]) -> tuple[float, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({r.returncode}): {r.stderr.decode()[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure(repeat: int) -> dict[str, dict[str, float]]:
    samples: dict[str, list[tuple[float, float]]] = {label: [] for label, _, _ in CASES}
    for label, argv, _ in CASES:  # warm the file cache and the byte-code cache
        run_once(argv)
    for _ in range(repeat):
        for label, argv, _ in CASES:
            samples[label].append(run_once(argv))
    return {label: {"wall_s": statistics.median(w for w, _ in s), "cpu_s": statistics.median(c for _, c in s)}
            for label, s in samples.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeat", type=int, default=21, help="interleaved rounds (the median is kept)")
    ap.add_argument("--check", action="store_true", help="exit 3 when a target is missed")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--reports", action="store_true",
                    help="also the reports against a minimal script (bench_reports.py, --report-rounds)")
    ap.add_argument("--report-rounds", type=int, help="rounds of --reports (default 11)")
    ap.add_argument("--million", nargs=2, metavar=("SMALL_URL", "BIG_URL"),
                    help="also every report on the 1 M-exposure MariaDB against the small one and "
                         "against hand-written SQL (bench_million.py, --million-rounds)")
    ap.add_argument("--million-rounds", type=int, help="rounds of --million (default 7)")
    a = ap.parse_args()
    if a.report_rounds is not None and not a.reports:
        ap.error("--report-rounds goes with --reports")
    if a.million_rounds is not None and not a.million:
        ap.error("--million-rounds goes with --million")
    res = measure(max(1, a.repeat))
    floor = res['python -c "import typer"']
    missed = []
    rows = []
    for label, _, target in CASES:
        r = res[label]
        ratio_wall = r["wall_s"] / floor["wall_s"]
        ratio_cpu = r["cpu_s"] / floor["cpu_s"] if floor["cpu_s"] else float("nan")
        ok = target is None or ratio_wall <= target
        if not ok:
            missed.append(label)
        rows.append(dict(command=label, wall_s=r["wall_s"], cpu_s=r["cpu_s"], wall_ratio=ratio_wall,
                         cpu_ratio=ratio_cpu, target=target, ok=ok))
    info = dict(machine=f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
                        f"{platform.python_version()}, load {os.getloadavg()[0]:.1f}",
                repeat=a.repeat, floor='python -c "import typer"', results=rows)
    more = []  # (section, label, figure, ratio, target)
    if a.reports:
        import bench_reports

        for r in bench_reports.measure(repeat=max(1, a.report_rounds or 11)):
            more.append(("reports against a minimal script, CPU (SQLite demo)", r["report"],
                         f"{r['mopstool_cpu_s'] * 1000:.0f} / {r['minimal_cpu_s'] * 1000:.0f} ms",
                         r["mopstool_cpu_s"] / r["minimal_cpu_s"], bench_reports.TARGET))
    if a.million:
        import bench_million

        rounds = max(1, a.million_rounds or 7)
        small, big = bench_million.measure_pair(a.million[0], a.million[1], rounds)
        for name in small:
            more.append(("1 M exposures: whole process, big / small", name,
                         f"{big[name][0] * 1000:.0f} / {small[name][0] * 1000:.0f} ms",
                         big[name][0] / small[name][0], 1.5))
        for r in bench_million.handwritten(a.million[1], rounds, quiet=True):
            more.append(("1 M exposures: SQL time against hand-written SQL", r["report"],
                         f"{r['sql_s'] * 1000:.1f} / {r['handwritten_s'] * 1000:.1f} ms", r["ratio"], 2.0))
    for section, label, figure, ratio, target in more:
        ok = ratio <= target
        if not ok:
            missed.append(f"{section}: {label}")
        info.setdefault("more", []).append(dict(section=section, command=label, figure=figure, ratio=ratio,
                                                target=target, ok=ok))
    if a.json:
        print(json.dumps(info, indent=2))
    else:
        print(f"{info['machine']}; median of {a.repeat} interleaved rounds; floor: {info['floor']}")
        print(f"{'command':<28}{'wall ms':>9}{'cpu ms':>9}{'x floor':>9}{'target':>8}")
        for r in rows:
            tgt = f"<={r['target']}" if r["target"] else ""
            mark = "" if r["ok"] else "  MISSED"
            print(f"{r['command']:<28}{r['wall_s'] * 1000:>9.0f}{r['cpu_s'] * 1000:>9.0f}"
                  f"{r['wall_ratio']:>9.2f}{tgt:>8}{mark}")
        section = None
        for r in info.get("more", []):
            if r["section"] != section:
                section = r["section"]
                print(f"\n{section}")
                print(f"{'command':<28}{'figure':>24}{'ratio':>8}{'target':>8}")
            mark = "" if r["ok"] else "  MISSED"
            print(f"{r['command']:<28}{r['figure']:>24}{r['ratio']:>8.2f}{'<=' + str(r['target']):>8}{mark}")
    if a.check and missed:
        sys.exit(3)


if __name__ == "__main__":
    main()
