"""Throughput of `mopscat build` against a plain FITS read+write floor.

Writes one exposure's worth of synthetic diff CMFs (default 60 skycells x
5,000 detections, PS1_DV5 with SkyChip.xfit, a few flagged and NaN rows and
sources repeated in the overlaps of neighbouring skycells), then times

* floor A: fitsio reads SkyChip.psf and SkyChip.xfit of every file,
  concatenates them and writes them back as one file (no cuts, no matching);
* floor B: the same reads, then fitsio writes tables with the columns, types
  and row counts of the .mops output (same bytes out as mopscat);
* mopscat: the full build (cuts, KD-tree duplicate resolution, error
  columns, three output extensions) through mopstool.fits.mops.build_mops.

    python bench/bench_mopscat.py [--skycells 60] [--rows 5000] [--repeat 3] [--dir DIR]

Times are wall and CPU (process) time, best of --repeat; the CPU time is the
steadier figure on a shared machine. The memory is the peak RSS of a fresh
process that imports mopstool and builds the product once (``--rss-of DIR``
runs that process on the CMFs in DIR). Run by hand; the results are reported
in docs/benchmarks.md and docs/mopscat.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

from mopstool.fits import skycell as sky
from mopstool.fits import cmf_write
from mopstool.ops.demo import cmf as democmf
from mopstool.fits.mops import DiffInput, ExposureMeta, SkycellInput
from mopstool.fits.mops_build import build_mops


def make_inputs(directory: str, skycells: int, rows: int) -> list[str]:
    """Skycells of one projection cell (row by row), neighbours sharing sources."""
    names = [f"skycell.1211.{i:03d}" for i in range(skycells)]
    geoms = {s: sky.skycell_geometry(s) for s in names}
    shared: dict[str, list] = {s: [] for s in names}
    for a, b in democmf._neighbours(names):
        rng = np.random.default_rng(democmf._stable_seed(a, b))
        ra, dec = democmf._overlap_sources(geoms[a], geoms[b], 6, rng)
        mags = -7.5 - 3.5 * rng.power(2.0, len(ra))
        shared[a].append((ra, dec, mags))
        shared[b].append((ra, dec, mags))
    paths = []
    header = dict(ra_deg=17.0, dec_deg=-2.0, exptime=45.0, mjd_obs=58309.27)
    for k, s in enumerate(names):
        sh = shared[s]
        arr = (np.concatenate([x[0] for x in sh]), np.concatenate([x[1] for x in sh]),
               np.concatenate([x[2] for x in sh])) if sh else None
        n = rows - (len(arr[0]) if arr else 0)
        psf = democmf._demo_table(geoms[s], n, ws=False, seed=k, chip_nums=None, shared=arr)
        xf = cmf_write.synthetic_xfit_table(geoms[s], psf, version=5, seed=k, fraction=0.2)
        path = os.path.join(directory, f"RINGS.V3.{s}.dif.1.cmf")
        cmf_write.write_cmf(path, primary=cmf_write.cmf_primary_header(geoms[s], imageid=1000 + k, **header),
                      psf=psf, version=5, xfit=xf, hdr_cards=geoms[s].header_cards())
        paths.append(path)
    return paths


def read_inputs(paths: list[str]):
    import fitsio

    psfs, xfits = [], []
    for p in paths:
        with fitsio.FITS(p) as f:
            psfs.append(f["SkyChip.psf"].read())
            xfits.append(f["SkyChip.xfit"].read())
    return np.concatenate(psfs), np.concatenate(xfits)


def floor_roundtrip(paths: list[str], out: str) -> int:
    """Plain fitsio: read the input tables, write them back as one file."""
    import fitsio

    psf, xfit = read_inputs(paths)
    with fitsio.FITS(out, "rw", clobber=True) as f:
        f.write(None)
        f.write(psf, extname="PSF")
        f.write(xfit, extname="XFIT")
    return len(psf)


def output_layout(mops_path: str) -> list:
    """Zero-filled tables with the columns, types and row counts of a .mops file."""
    import fitsio

    tables = []
    with fitsio.FITS(mops_path) as f:
        for hdu in f[1:]:
            d = hdu.read()
            dt = [(n, f"S{d.dtype[n].itemsize // 4}" if d.dtype[n].kind == "U" else d.dtype[n].str)
                  for n in d.dtype.names]
            tables.append((hdu.get_extname(), np.zeros(len(d), dtype=dt)))
    return tables


def floor_layout(paths: list[str], out: str, tables: list) -> int:
    """Plain fitsio: read the input tables, write tables of the .mops layout."""
    import fitsio

    psf, _xfit = read_inputs(paths)
    with fitsio.FITS(out, "rw", clobber=True) as f:
        f.write(None)
        for name, data in tables:
            f.write(data, extname=name)
    return len(psf)


def mopscat(paths: list[str], out: str):
    diff = DiffInput(difftype="WW", diff_id=1, zp=28.7, zp_err=0.02,
                     skycells=[SkycellInput(path=p) for p in paths])
    return build_mops([diff], ExposureMeta(exp_name="o8309g0262o", exp_id=1), out)


def best_of(fn, repeat: int):
    """(best wall s, best CPU s, result) of *repeat* calls."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), result


def rss_of_build(directory: str) -> None:
    """One build of the CMFs in *directory* in this (fresh) process; prints the peak RSS in MB."""
    import glob

    paths = sorted(glob.glob(os.path.join(directory, "*.cmf")))
    mopscat(paths, os.path.join(directory, "rss.mops"))
    # VmHWM is this process's own peak: ru_maxrss of a child started by a big
    # process starts from the parent's RSS at the fork (Linux keeps it across exec)
    with open("/proc/self/status") as fh:
        hwm = next((int(line.split()[1]) for line in fh if line.startswith("VmHWM:")), None)
    if hwm is None:
        hwm = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"{hwm / 1024:.0f}")


def peak_rss(directory: str) -> float:
    import subprocess

    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--rss-of", directory],
                         check=True, capture_output=True, text=True).stdout
    return float(out.split()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skycells", type=int, default=60)
    ap.add_argument("--rows", type=int, default=5000, help="detections per skycell")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--dir", help="work directory (default: a temporary one, removed after)")
    ap.add_argument("--rss-of", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rss_of:
        rss_of_build(args.rss_of)
        return 0
    if args.skycells > 100:
        ap.error("at most 100 skycells (one projection cell)")
    work = args.dir or tempfile.mkdtemp(prefix="bench_mopscat.")
    os.makedirs(work, exist_ok=True)
    try:
        t0 = time.perf_counter()
        paths = make_inputs(work, args.skycells, args.rows)
        size = sum(os.path.getsize(p) for p in paths)
        print(f"inputs: {len(paths)} CMF files, {args.skycells * args.rows} detections, "
              f"{size / 1e6:.1f} MB (written in {time.perf_counter() - t0:.1f} s)")
        mops_path = os.path.join(work, "bench.mops")
        mopscat(paths, mops_path)                     # warm-up (imports, page cache)
        layout = output_layout(mops_path)
        t_round, c_round, n = best_of(lambda: floor_roundtrip(paths, os.path.join(work, "floor1.fits")),
                                      args.repeat)
        t_layout, c_layout, _ = best_of(lambda: floor_layout(paths, os.path.join(work, "floor2.fits"), layout),
                                        args.repeat)
        t_mops, c_mops, res = best_of(lambda: mopscat(paths, mops_path), args.repeat)
        # the same build with fitsio's column writer instead of the block writer
        from mopstool.fits import mops_write

        block = mops_write._fill_rows
        mops_write._fill_rows = lambda *a: False
        try:
            t_fitsio, c_fitsio, _ = best_of(lambda: mopscat(paths, os.path.join(work, "fitsio.mops")),
                                            args.repeat)
        finally:
            mops_write._fill_rows = block
        rss = peak_rss(work)
        out_size = os.path.getsize(mops_path)

        def line(label, wall, cpu, extra=""):
            print(f"{label:<50} {wall:7.3f} s wall {cpu:7.3f} s CPU {n / wall:12,.0f} rows/s{extra}")

        line("floor A: fitsio read + write of the input tables", t_round, c_round)
        line("floor B: fitsio read + write of the .mops layout", t_layout, c_layout)
        line("mopscat build", t_mops, c_mops,
             f"  ({t_mops / t_round:.2f} / {c_mops / c_round:.2f} x floor A, "
             f"{t_mops / t_layout:.2f} / {c_mops / c_layout:.2f} x floor B, wall / CPU)")
        line("mopscat build, fitsio column writer", t_fitsio, c_fitsio,
             f"  ({t_fitsio / t_mops:.2f} / {c_fitsio / c_mops:.2f} x the block writer's build)")
        print(f"output: {res.rows} detections, {res.duplicates} duplicates, {res.cut} cut, "
              f"{out_size / 1e6:.1f} MB; best of {args.repeat}")
        print(f"peak RSS of a process building it once: {rss:.0f} MB")
    finally:
        if not args.dir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
