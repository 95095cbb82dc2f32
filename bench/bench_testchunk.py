"""Time of `testchunk compare` against reading both sides with fitsio.

Writes two synthetic versions (A, B) of the diff CMFs of one quad: the
skycells are split evenly over four visits (``--skycells`` cells in all per
side), each cell holding ``--rows`` true transients plus the moving objects
that fall on it (B: twice A's centroid scatter, a bias and edge junk). Then
it runs, ``--repeat`` times in turn (so that a busy machine slows both
alike), and reports the median wall clock and CPU (process) time of each and
the median of the per-round ratios (on a shared machine the CPU ratio is the
steadier one):

* floor: fitsio reads SkyChip.psf (every column) of every file of both sides;
* compare: mopstool.ops.testchunk.compare.compare (reading the CMFs,
  matching per cell, offsets, tracklet linking and GCR of both sides, the
  checks).

    python bench/bench_testchunk.py [--skycells 60] [--rows 5000] [--repeat 7] [--dir DIR [--reuse]]

``--reuse`` keeps the A and B already written under DIR (the same files for
runs of two versions of the code). Run by hand; the results are reported in
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from mopstool.config import load_config
from mopstool.ops.testchunk.compare import compare
from mopstool.ops.testchunk.synth import VersionSpec, quad, write_versions


def timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU (process) seconds of one call."""
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skycells", type=int, help="cells (exposure x skycell) per side (default 60)")
    ap.add_argument("--rows", type=int, help="transients per cell (default 5000)")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed after)")
    ap.add_argument("--reuse", action="store_true", help="keep the versions already under --dir")
    args = ap.parse_args()
    if args.reuse:
        if not args.dir:
            ap.error("--reuse needs --dir (the directory holding A and B)")
        if not ((Path(args.dir) / "A").is_dir() and (Path(args.dir) / "B").is_dir()):
            ap.error(f"--reuse: no A and B under {args.dir} (run once without --reuse to write them)")
        given = [o for o, v in (("--skycells", args.skycells), ("--rows", args.rows)) if v is not None]
        if given:
            ap.error(f"--reuse takes the files as they are: {' and '.join(given)} would not apply")
    args.skycells = 60 if args.skycells is None else args.skycells
    args.rows = 5000 if args.rows is None else args.rows
    import statistics

    import fitsio

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_testchunk."))
    try:
        per_visit = max(1, args.skycells // 4)
        cells = [f"skycell.1200.{i:03d}" for i in range(per_visit)]
        t = time.perf_counter()
        if args.reuse:
            files_a = sorted(str(p) for p in (work / "A").glob("*.cmf"))
            files_b = sorted(str(p) for p in (work / "B").glob("*.cmf"))
            dir_a, dir_b = str(work / "A"), str(work / "B")
        else:
            res = write_versions(work / "A", work / "B", quad(cells),
                                 VersionSpec(transients=args.rows, movers=200))
            files_a, files_b, dir_a, dir_b = res.files_a, res.files_b, res.dir_a, res.dir_b
        t_write = time.perf_counter() - t
        files = files_a + files_b
        rows = sum(fitsio.FITS(f)["SkyChip.psf"].get_nrows() for f in files)

        def floor():
            for f in files:
                fitsio.read(f, ext="SkyChip.psf")

        cfg = load_config()
        out = {}

        def run():
            out["r"] = compare(dir_a, dir_b, cfg)

        import scipy.sparse.csgraph  # noqa: F401  (import time is not compare's)
        import scipy.spatial  # noqa: F401

        floor()
        run()
        rounds = [(timed(floor), timed(run)) for _ in range(args.repeat)]
        med = statistics.median
        fw, fc = med(f[0] for f, _ in rounds), med(f[1] for f, _ in rounds)
        cw, cc = med(c[0] for _, c in rounds), med(c[1] for _, c in rounds)
        rw, rc = med(c[0] / f[0] for f, c in rounds), med(c[1] / f[1] for f, c in rounds)
        r = out["r"]
        print(f"cells per side {len(files_a)}, files {len(files)}, rows both sides {rows:,} "
              f"(write {t_write:.2f} s), {args.repeat} rounds, medians")
        print(f"fitsio read of both sides: {fw:.3f} s wall, {fc:.3f} s CPU")
        print(f"testchunk compare:         {cw:.3f} s wall, {cc:.3f} s CPU  "
              f"(ratio {rw:.2f} wall, {rc:.2f} CPU)")
        print(f"matched {r.summary['matched']:,}, tracklets A {r.tracklets['a']['tracklets']} "
              f"B {r.tracklets['b']['tracklets']}, GCR ratio {r.tracklets['gcr_ratio_median']:.2f}, "
              f"max rate {cfg.get('testchunk.max_rate_deg_per_day', 1.5)} deg/day")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
