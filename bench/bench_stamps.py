"""Stamp cutting against the fitsio read+write floor.

Writes a synthetic 6000 x 6000 float32 image with a TAN WCS (144 MB, written in
row chunks) and, per case (``--cases``, default ``1000x64,10000x64``: stamps x
pixels), a request file of that many bycoord stamps on it, then cuts each
request in fresh processes, in two ways.

In process (the library call, libraries loaded before the clock starts):

* ``roi``   - ``mopstool pstamp-req cut --request``: fitsio subset reads of just
              the rows and columns of each stamp;
* ``whole`` - the same cutter, but the image is read whole into memory first and
              the stamps are sliced from the array;
* ``read``  - floor: a bare fitsio loop reading the same ROIs (nothing written);
* ``rw``    - floor: the same reads, each written with fitsio to its own file
              with a header formatted once (no WCS shift, no matching).

The libraries (astropy.io.fits, astropy.wcs, fitsio, numpy) are imported
before the clock starts in every mode; the clock then covers, for ``roi`` and
``whole``, the whole request (validating and matching the rows, opening the
image and its WCS, planning and cutting) and, for the floors, the reads (and
writes) only.

Whole processes (what a user or cron runs, start-up and imports included):

* ``cli``   - ``python -m mopstool pstamp-req cut --request R --images I -o D
              --workers 1 --json``;
* ``cli wN`` - the same with ``--workers N`` (``--workers``, default 2): the
              one image's stamps split over N processes;
* ``floor`` - a minimal script (imports fitsio and numpy only) reading the same
              ROIs (given to it in a JSON file) and writing each to its own file
              with the source header's cards, as ``rw`` does;
* ``floor+wcs`` - the same script also doing the sky conversion a sky-centred
              request needs (astropy.wcs imported, the WCS built from the
              header, the centres converted in one call).

Every child runs with byte code cached, as an installed package has it (under
--workdir, after one warm-up run of each whole process; PYTHONDONTWRITEBYTECODE
is dropped for them): a module imported lazily inside the clock is then not
compiled there. CPU time is user + system of the finished child (getrusage); the output
directory is removed before each run, outside the clock. Every mode runs
``--rounds`` times, all modes interleaved in each round (in the reverse order
every other round), and the MEDIAN of each
is reported, with the median of the per-round ratios to the floor and their
range (lowest-highest), the ratio of the best (lowest) CPU time of each, the
whole processes' throughput (stamps per wall second and per CPU second) and
the load average after each case. A ``cli wN`` run is compared with ``cli``
by wall time (its CPU time is that of all its processes), and beside it the
speed-up the machine itself gives N processes: a pure-Python loop run N
times in one process against once in each of N processes (``spin``, one
pair per round). The image
sits in the page cache for every run; on a shared machine the CPU time is the
steadier figure. An image already in --workdir is reused.

With two stamp counts of one size (as the default cases are) each
whole process's time is split into its start-up and its throughput: the added
stamps over the added CPU time between the two counts (the issue's measure
is the throughput, stamps/s against read+write), the start-up what is left.

    python bench/bench_stamps.py [--cases 1000x64,10000x64] [--rounds 5] [--workers 2] [--workdir DIR] [--keep]

Run by hand; results are reported in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
mode, req_path, image, outdir = sys.argv[1:5]
from mopstool.fits.request import read_request
from mopstool.fits import image as stamp
from mopstool.ops.pstamp import cut
# the libraries every mode uses are loaded before any clock starts (importing
# astropy.wcs alone is about 0.2 s of CPU), so that the modes compare their work
import astropy.io.fits, astropy.wcs, fitsio, numpy


def peak_mb():
    # VmHWM is this process's own peak; ru_maxrss of a child starts from its
    # parent's RSS at the fork (Linux keeps it across exec)
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

if mode == "whole":
    import fitsio

    class WholeImageSource(stamp.ImageSource):
        _cache = {}

        def read(self, role, x0, y0, width, height, fill):
            import numpy as np

            plane = self.planes[role]
            key = (plane.path, plane.hdu)
            if key not in self._cache:
                self._cache[key] = fitsio.read(plane.path, ext=plane.hdu)
            full = self._cache[key]
            ny, nx = full.shape
            out = np.full((height, width), fill, dtype=np.float32 if role != "mask" else full.dtype)
            xa, xb, ya, yb = max(x0, 0), min(x0 + width, nx), max(y0, 0), min(y0 + height, ny)
            if xa < xb and ya < yb:
                out[ya - y0:yb - y0, xa - x0:xb - x0] = full[ya:yb, xa:xb]
            return out

    stamp.ImageSource = WholeImageSource

req = read_request(req_path)
if mode in ("read", "rw"):
    import fitsio
    from mopstool.fits.image import ImageSource
    from mopstool.fits.stamp import StampSpec, plan_roi

    Path(outdir).mkdir(parents=True, exist_ok=True)
    with ImageSource(image) as src:
        rois = [plan_roi(src, StampSpec(ra=r["CENTER_X"], dec=r["CENTER_Y"], width=r["WIDTH"],
                                        height=r["HEIGHT"])) for r in req.rows]
        cards = [c for c in src.header.cards][:40]
    recs = [fitsio.FITSRecord(c.image) for c in cards if c.keyword not in ("SIMPLE", "BITPIX", "NAXIS",
                                                                           "NAXIS1", "NAXIS2", "EXTEND")]
    t0, c0 = time.perf_counter(), time.process_time()
    with fitsio.FITS(image) as f:
        hdu = f[0]
        for i, r in enumerate(rois):
            xa, xb, ya, yb = r.window
            data = hdu[ya:yb, xa:xb]
            if mode == "rw":
                with fitsio.FITS(f"{outdir}/s{i}.fits", "rw", clobber=True) as g:
                    g.write(data, header=recs)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = len(rois)
    res = rois
else:
    t0, c0 = time.perf_counter(), time.process_time()
    res = cut.cut_request(req, [image], outdir)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    ok = sum(1 for r in res if not r.fault)
print(json.dumps({"mode": mode, "stamps": ok, "failed": len(res) - ok, "seconds": dt, "cpu_seconds": cpu,
                  "stamps_per_s": ok / dt if dt else None, "peak_rss_mb": peak_mb()}))
"""

BASELINE = r"""
import json
import mopstool.fits.request, mopstool.fits.stamp, mopstool.ops.pstamp.cut
import astropy.io.fits, astropy.wcs, fitsio, numpy
with open("/proc/self/status") as fh:
    hwm = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print(json.dumps({"peak_rss_mb": hwm / 1024.0}))
"""


FLOOR = r"""
import json, os, sys
import fitsio
image, windows, outdir = sys.argv[1:4]
with open(windows) as fh:
    wins = json.load(fh)
if len(sys.argv) > 4:
    # with the sky conversion a sky-centred request needs: astropy.wcs imported, the
    # WCS built from the header, every centre converted to pixels in one call
    import astropy.wcs
    import numpy as np
    from astropy.io import fits
    with open(sys.argv[4]) as fh:
        ra, dec = np.array(json.load(fh)).T
    astropy.wcs.WCS(fits.getheader(image), naxis=2).all_world2pix(ra, dec, 1)
os.makedirs(outdir, exist_ok=True)
with fitsio.FITS(image) as f:
    hdu = f[0]
    recs = [r for r in hdu.read_header().records()
            if r["name"] not in ("SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND")]
    for i, (xa, xb, ya, yb) in enumerate(wins):
        with fitsio.FITS(os.path.join(outdir, f"s{i}.fits"), "rw", clobber=True) as g:
            g.write(hdu[ya:yb, xa:xb], header=recs)
"""


SPIN = r"""
import sys
from concurrent.futures import ProcessPoolExecutor


def spin(n):
    s = 0
    for i in range(n):
        s += i
    return s


if __name__ == "__main__":
    workers, loops = int(sys.argv[1]), 20_000_000
    if workers == 1:
        for _ in range(int(sys.argv[2])):
            spin(loops)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(spin, [loops] * workers))
"""


#: the environment of the children: byte code cached (under the work directory)
#: as an installed package has it, whatever PYTHONDONTWRITEBYTECODE says here
CHILD_ENV: dict[str, str] = {}


def _child_run(argv: list[str], outdir: Path) -> tuple[float, float]:
    """(wall s, CPU s) of one whole process; *outdir* removed first, off the clock."""
    shutil.rmtree(outdir, ignore_errors=True)
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env=CHILD_ENV or None)
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0,):
        raise SystemExit(f"{argv[:4]}... exited {p.returncode}: {p.stderr.strip()[-400:]}")
    return wall, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime


def _request(work: Path, image: Path, n: int, size: int, npix: int) -> Path:
    import numpy as np

    from mopstool.fits import request as rq
    from mopstool.fits.image import ImageSource

    rng = np.random.default_rng(1)
    xs = rng.uniform(size, npix - size, n)
    ys = rng.uniform(size, npix - size, n)
    with ImageSource(image) as src:
        ra, dec = src.sky(xs, ys)
    rows = [rq.default_row(ROWNUM=i + 1, CENTER_X=float(a), CENTER_Y=float(d), WIDTH=size, HEIGHT=size,
                           SURVEY_NAME="bypass", COMMENT=f"det{i + 1}")
            for i, (a, d) in enumerate(zip(ra, dec))]
    return rq.write_request(rq.StampRequest(req_name="bench.stamps", email="bench@example.org", rows=rows),
                            work / f"bench_{n}x{size}.fits", overwrite=True)


def _centres(req_path: Path, out: Path) -> Path:
    from mopstool.fits.request import read_request

    out.write_text(json.dumps([[r["CENTER_X"], r["CENTER_Y"]] for r in read_request(req_path).rows]))
    return out


def _windows(req_path: Path, image: Path, out: Path) -> Path:
    from mopstool.fits.image import ImageSource
    from mopstool.fits.request import read_request
    from mopstool.fits.stamp import StampSpec, plan_roi

    req = read_request(req_path)
    with ImageSource(image) as src:
        wins = [plan_roi(src, StampSpec(ra=r["CENTER_X"], dec=r["CENTER_Y"], width=r["WIDTH"],
                                        height=r["HEIGHT"])).window for r in req.rows]
    out.write_text(json.dumps(wins))
    return out


def _marginal(summary: list[dict]) -> list[dict]:
    """Throughput and start-up of each whole process, from two cases of one stamp size.

    A process's time is taken as start-up + stamps / throughput: between the
    smallest and the largest stamp count of a size, throughput is the added
    stamps over the added time and start-up what is left of the smaller case's
    time. Round *i* of one case is paired with round *i* of the other; the
    medians over the rounds are printed, with the ratio mopstool / floor of the
    time a stamp takes (the issue's throughput target) per round."""
    out = []
    by_size: dict[int, list[dict]] = {}
    for case in summary:
        by_size.setdefault(case["size"], []).append(case)
    med = statistics.median
    for size, cases in sorted(by_size.items()):
        if len({c["stamps"] for c in cases}) < 2:
            continue
        small = min(cases, key=lambda c: c["stamps"])
        big = max(cases, key=lambda c: c["stamps"])
        dn = big["stamps"] - small["stamps"]
        print(f"\nthroughput and start-up of a whole process, from {small['stamps']} and {big['stamps']} "
              f"stamps of {size}x{size} px (CPU time; median over the paired rounds)")
        print(f"{'mode':18} {'stamps/CPU s':>12} {'start-up CPU s':>15} {'per stamp x floor':>18}")
        rows = {}
        for mode in big["process"]:
            if mode.startswith("cli w"):
                continue
            pairs = list(zip(small["process"][mode], big["process"][mode]))
            per_stamp = [(b[1] - a[1]) / dn for a, b in pairs]
            start = [a[1] - small["stamps"] * p for (a, _), p in zip(pairs, per_stamp)]
            rows[mode] = (per_stamp, start)
        floor = rows["floor"][0]
        for mode, (per_stamp, start) in rows.items():
            ratio = [p / f for p, f in zip(per_stamp, floor)]
            print(f"{mode:18} {1 / med(per_stamp):12.0f} {med(start):15.2f} {med(ratio):8.2f} "
                  f"({min(ratio):.2f}-{max(ratio):.2f})")
            out.append({"size": size, "stamps": [small["stamps"], big["stamps"]], "mode": mode,
                        "stamps_per_cpu_s": 1 / med(per_stamp), "startup_cpu_s": med(start),
                        "per_stamp_ratio": med(ratio), "per_stamp_ratio_range": [min(ratio), max(ratio)]})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cases", default="1000x64,10000x64", help="comma-separated STAMPSxPIXELS")
    ap.add_argument("--npix", type=int, default=6000, help="image width = height")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=5, help="runs of each mode (the median is reported)")
    ap.add_argument("--workers", default="2",
                    help="comma-separated worker counts run as whole processes besides --workers 1 "
                         "('' for none)")
    args = ap.parse_args()

    from mopstool.fits.image import ImageSource, write_synthetic_image

    cases = [tuple(int(v) for v in c.lower().split("x")) for c in args.cases.split(",") if c.strip()]
    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_stamps_"))
    work.mkdir(parents=True, exist_ok=True)
    image = work / "o8309g0262o.wrp.fits"
    t0 = time.perf_counter()
    with_shape = None
    if image.exists():
        try:
            with ImageSource(image) as src:
                with_shape = (src.nx, src.ny)
        except Exception:  # noqa: BLE001 - a broken leftover is written again
            with_shape = None
    if with_shape != (args.npix, args.npix):
        write_synthetic_image(image, args.npix, args.npix, rotation_deg=23.0)
    print(f"image {args.npix}x{args.npix} float32 ({image.stat().st_size / 1e6:.0f} MB) ready in "
          f"{time.perf_counter() - t0:.2f} s; load average {os.getloadavg()[0]:.1f}", file=sys.stderr)

    CHILD_ENV.update({k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
                     PYTHONPYCACHEPREFIX=str(work / "pycache"))
    base = json.loads(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True,
                                     check=True).stdout)
    summary = []
    for n, size in cases:
        req = _request(work, image, n, size, args.npix)
        wins = _windows(req, image, work / f"windows_{n}x{size}.json")
        centres = _centres(req, work / f"centres_{n}x{size}.json")
        inproc: dict[str, list[dict]] = {}
        cli = [sys.executable, "-m", "mopstool", "pstamp-req", "cut", "--request", str(req), "--images",
               str(image), "-o", str(work / "out_cli"), "--json", "--workers"]
        argvs = {
            "cli": cli + ["1"],
            "floor": [sys.executable, "-c", FLOOR, str(image), str(wins), str(work / "out_floor")],
            "floor+wcs": [sys.executable, "-c", FLOOR, str(image), str(wins), str(work / "out_floor"),
                          str(centres)],
            **{f"cli w{w}": cli + [str(w)] for w in workers},
        }
        proc: dict[str, list[tuple[float, float]]] = {mode: [] for mode in argvs}
        spins: dict[int, list[float]] = {}
        for mode, argv in argvs.items():         # warm-up: byte code written, files in the page cache
            _child_run(argv, work / f"out_{mode.split('+')[0].split()[0]}")
        for rnd in range(max(args.rounds, 1)):
            # the order of the modes alternates round by round, so that none always runs
            # right after the same neighbour (page-cache writeback, the whole-image read)
            step = 1 if rnd % 2 == 0 else -1
            for mode in ("roi", "whole", "read", "rw")[::step]:
                out = work / f"out_{mode}"
                shutil.rmtree(out, ignore_errors=True)
                p = subprocess.run([sys.executable, "-c", CHILD, mode, str(req), str(image), str(out)],
                                   capture_output=True, text=True, env=CHILD_ENV)
                if p.returncode:
                    print(p.stderr, file=sys.stderr)
                    return 1
                inproc.setdefault(mode, []).append(json.loads(p.stdout.strip().splitlines()[-1]))
            for mode, argv in list(argvs.items())[::step]:
                proc[mode].append(_child_run(argv, work / f"out_{mode.split('+')[0].split()[0]}"))
            for w in workers:
                spin_file = work / "spin.py"
                spin_file.write_text(SPIN)
                one = _child_run([sys.executable, str(spin_file), "1", str(w)], work / "out_spin")[0]
                many = _child_run([sys.executable, str(spin_file), str(w)], work / "out_spin")[0]
                spins.setdefault(w, []).append(one / many)
        med = statistics.median
        print(f"\n{n} stamps of {size}x{size} px, median of {args.rounds} interleaved rounds")
        print(f"{'mode':6} {'stamps':>6} {'wall s':>8} {'CPU s':>8} {'stamps/s':>9} {'peak RSS MB':>12}")
        for mode, runs in inproc.items():
            wall, cpu = med(r["seconds"] for r in runs), med(r["cpu_seconds"] for r in runs)
            print(f"{mode:6} {runs[0]['stamps']:6d} {wall:8.2f} {cpu:8.2f} {runs[0]['stamps'] / wall:9.0f} "
                  f"{med(r['peak_rss_mb'] for r in runs):12.0f}")
        per_round = [a["cpu_seconds"] / b["cpu_seconds"] for a, b in zip(inproc["roi"], inproc["rw"])]
        ratio_in = (med(a["seconds"] / b["seconds"] for a, b in zip(inproc["roi"], inproc["rw"])),
                    med(per_round))
        print(f"{'whole process':18} {'wall s':>8} {'CPU s':>8} {'stamps/s':>9} {'stamps/CPU s':>12}")
        throughput = {}
        for mode, runs in proc.items():
            wall, cpu = med(w for w, _ in runs), med(c for _, c in runs)
            throughput[mode] = (n / wall, n / cpu)
            print(f"{mode:18} {wall:8.2f} {cpu:8.2f} {n / wall:9.0f} {n / cpu:12.0f}")
        ratio_proc = (med(a[0] / b[0] for a, b in zip(proc["cli"], proc["floor"])),
                      med(a[1] / b[1] for a, b in zip(proc["cli"], proc["floor"])))
        best_in = min(r["cpu_seconds"] for r in inproc["roi"]) / min(r["cpu_seconds"] for r in inproc["rw"])
        print(f"in process: roi / rw floor {ratio_in[0]:.2f} x the wall time, {ratio_in[1]:.2f} x the CPU time "
              f"(per round {min(per_round):.2f}-{max(per_round):.2f}; best of each {best_in:.2f})")
        ratio_wcs = (med(a[0] / b[0] for a, b in zip(proc["cli"], proc["floor+wcs"])),
                     med(a[1] / b[1] for a, b in zip(proc["cli"], proc["floor+wcs"])))
        per_proc = [a[1] / b[1] for a, b in zip(proc["cli"], proc["floor"])]
        per_wcs = [a[1] / b[1] for a, b in zip(proc["cli"], proc["floor+wcs"])]
        print(f"whole process: cli / floor {ratio_proc[0]:.2f} x the wall time, {ratio_proc[1]:.2f} x the CPU time "
              f"(per round {min(per_proc):.2f}-{max(per_proc):.2f})")
        print(f"whole process: cli / floor+wcs {ratio_wcs[0]:.2f} x the wall time, {ratio_wcs[1]:.2f} x the CPU "
              f"time (per round {min(per_wcs):.2f}-{max(per_wcs):.2f}); load average {os.getloadavg()[0]:.1f}")
        speedup = {}
        for w in workers:
            per = [a[0] / b[0] for a, b in zip(proc["cli"], proc[f"cli w{w}"])]
            speedup[w] = (med(per), min(per), max(per))
            spin = (med(spins[w]), min(spins[w]), max(spins[w]))
            speedup[w] += spin
            print(f"whole process: --workers {w} is {speedup[w][0]:.2f} x as fast as --workers 1 in wall time "
                  f"(per round {speedup[w][1]:.2f}-{speedup[w][2]:.2f}); a CPU loop in {w} processes "
                  f"{spin[0]:.2f} x ({spin[1]:.2f}-{spin[2]:.2f})")
        summary.append({"stamps": n, "size": size, "in_process": inproc, "process": proc,
                        "throughput_process": throughput, "workers_speedup": speedup,
                        "ratio_in_process": ratio_in, "ratio_process": ratio_proc,
                        "ratio_process_wcs": ratio_wcs, "ratio_in_process_per_round": per_round,
                        "ratio_in_process_best": best_in,
                        "load_average": os.getloadavg()[0]})
    marginal = _marginal(summary)
    print(f"\n(interpreter + libraries alone: {base['peak_rss_mb']:.0f} MB peak RSS)")
    print(json.dumps({"baseline_rss_mb": base["peak_rss_mb"], "cases": summary, "marginal": marginal}),
          file=sys.stderr)
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
