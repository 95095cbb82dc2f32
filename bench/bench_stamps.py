"""Stamp cutting: ROI reads against a whole-image read.

Writes a synthetic 6000 x 6000 float32 image with a TAN WCS (144 MB, written in
row chunks), a request file of N bycoord stamps on it (default 1000, 64 x 64
pixels), then cuts the whole request twice, each run in its own process:

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
writes) only. Reported per mode: wall and CPU (process) time, stamps per second, peak
resident memory of the process (ru_maxrss). The image sits in the page cache
for every run; on a shared machine the CPU time is the steadier figure.
``--rounds N`` runs the four modes N times, interleaved, and reports the best
of each; an image already in --workdir is reused.

    python bench/bench_stamps.py [--stamps 1000] [--size 64] [--workdir DIR] [--keep]

Run by hand; results are reported in docs/pstamp.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--stamps", type=int, default=1000)
    ap.add_argument("--size", type=int, default=64, help="stamp width = height in pixels")
    ap.add_argument("--npix", type=int, default=6000, help="image width = height")
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--rounds", type=int, default=1, help="runs of each mode (best reported)")
    args = ap.parse_args()

    import numpy as np

    from mopstool.fits import request as rq
    from mopstool.fits.image import ImageSource, write_synthetic_image

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench_stamps_"))
    work.mkdir(parents=True, exist_ok=True)
    image = work / "o8309g0262o.wrp.fits"
    t0 = time.perf_counter()
    with_shape = None
    if image.exists():
        with ImageSource(image) as src:
            with_shape = (src.nx, src.ny)
    if with_shape != (args.npix, args.npix):
        write_synthetic_image(image, args.npix, args.npix, rotation_deg=23.0)
    t_img = time.perf_counter() - t0
    rng = np.random.default_rng(1)
    margin = args.size
    xs = rng.uniform(margin, args.npix - margin, args.stamps)
    ys = rng.uniform(margin, args.npix - margin, args.stamps)
    with ImageSource(image) as src:
        ra, dec = src.sky(xs, ys)
    rows = [rq.default_row(ROWNUM=i + 1, CENTER_X=float(a), CENTER_Y=float(d), WIDTH=args.size,
                           HEIGHT=args.size, SURVEY_NAME="bypass", COMMENT=f"det{i + 1}")
            for i, (a, d) in enumerate(zip(ra, dec))]
    req = rq.write_request(rq.StampRequest(req_name="bench.stamps", email="bench@example.org", rows=rows),
                           work / "bench.fits", overwrite=True)
    print(f"image {args.npix}x{args.npix} float32 ({image.stat().st_size / 1e6:.0f} MB) written in "
          f"{t_img:.2f} s; request of {args.stamps} stamps of {args.size}x{args.size} px", file=sys.stderr)

    base = json.loads(subprocess.run([sys.executable, "-c", BASELINE], capture_output=True, text=True,
                                     check=True).stdout)
    best: dict[str, dict] = {}
    for _ in range(max(args.rounds, 1)):
        for mode in ("roi", "whole", "read", "rw"):
            out = work / f"out_{mode}"
            shutil.rmtree(out, ignore_errors=True)
            p = subprocess.run([sys.executable, "-c", CHILD, mode, str(req), str(image), str(out)],
                               capture_output=True, text=True)
            if p.returncode:
                print(p.stderr, file=sys.stderr)
                return 1
            r = json.loads(p.stdout.strip().splitlines()[-1])
            old = best.setdefault(mode, r)
            old["seconds"] = min(old["seconds"], r["seconds"])
            old["cpu_seconds"] = min(old["cpu_seconds"], r["cpu_seconds"])
            old["stamps_per_s"] = old["stamps"] / old["seconds"]
    results = list(best.values())
    print(f"{'mode':6} {'stamps':>6} {'wall s':>8} {'CPU s':>8} {'stamps/s':>9} {'peak RSS MB':>12}")
    for r in results:
        print(f"{r['mode']:6} {r['stamps']:6d} {r['seconds']:8.2f} {r['cpu_seconds']:8.2f} "
              f"{r['stamps_per_s']:9.0f} {r['peak_rss_mb']:12.0f}")
    print(f"(interpreter + libraries alone: {base['peak_rss_mb']:.0f} MB peak RSS; best of {args.rounds})")
    by = {r["mode"]: r for r in results}
    print(f"roi / read+write floor: {by['roi']['seconds'] / by['rw']['seconds']:.2f} x the wall time, "
          f"{by['roi']['cpu_seconds'] / by['rw']['cpu_seconds']:.2f} x the CPU time")
    print(json.dumps({"baseline_rss_mb": base["peak_rss_mb"], "results": results}), file=sys.stderr)
    if not args.keep and not args.workdir:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
