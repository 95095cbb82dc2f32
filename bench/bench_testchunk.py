"""Time of `testchunk compare` against reading both sides with fitsio.

Writes two synthetic versions (A, B) of the diff CMFs of one quad: the
skycells are split evenly over four visits (``--skycells`` cells in all per
side), each cell holding ``--rows`` true transients plus the moving objects
that fall on it (B: twice A's centroid scatter, a bias and edge junk). Then
it times, best of ``--repeat`` (wall clock and CPU time: on a shared machine
the CPU ratio is the steadier one):

* floor: fitsio reads SkyChip.psf (every column) of every file of both sides;
* compare: mopstool.ops.testchunk.compare.compare (reading with
  fits.cmf.read_cmf, per-cell KD-tree matching, offsets, tracklet linking
  and GCR of both sides, the checks).

    python bench/bench_testchunk.py [--skycells 60] [--rows 5000] [--repeat 3] [--dir DIR]

Run by hand; the results are reported in docs/benchmarks.md.
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


def best(fn, repeat: int) -> tuple[float, float]:
    """Best wall-clock and best CPU (process) time of *repeat* runs."""
    wall, cpu = [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skycells", type=int, default=60, help="cells (exposure x skycell) per side")
    ap.add_argument("--rows", type=int, default=5000, help="transients per cell")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed after)")
    args = ap.parse_args()
    import fitsio

    work = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_testchunk."))
    try:
        per_visit = max(1, args.skycells // 4)
        cells = [f"skycell.1200.{i:03d}" for i in range(per_visit)]
        t = time.perf_counter()
        res = write_versions(work / "A", work / "B", quad(cells),
                             VersionSpec(transients=args.rows, movers=200))
        t_write = time.perf_counter() - t
        files = res.files_a + res.files_b
        rows = sum(fitsio.FITS(f)["SkyChip.psf"].get_nrows() for f in files)

        def floor():
            for f in files:
                fitsio.read(f, ext="SkyChip.psf")

        cfg = load_config()
        out = {}

        def run():
            out["r"] = compare(res.dir_a, res.dir_b, cfg)

        import scipy.sparse.csgraph  # noqa: F401  (import time is not compare's)
        import scipy.spatial  # noqa: F401

        t_floor, c_floor = best(floor, args.repeat)
        t_cmp, c_cmp = best(run, args.repeat)
        r = out["r"]
        print(f"cells per side {len(res.files_a)}, files {len(files)}, rows both sides {rows:,} "
              f"(write {t_write:.2f} s)")
        print(f"fitsio read of both sides: {t_floor:.3f} s wall, {c_floor:.3f} s CPU")
        print(f"testchunk compare:         {t_cmp:.3f} s wall, {c_cmp:.3f} s CPU  "
              f"(ratio {t_cmp / t_floor:.2f} wall, {c_cmp / c_floor:.2f} CPU)")
        print(f"matched {r.summary['matched']:,}, tracklets A {r.tracklets['a']['tracklets']} "
              f"B {r.tracklets['b']['tracklets']}, GCR ratio {r.tracklets['gcr_ratio_median']:.2f}")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
