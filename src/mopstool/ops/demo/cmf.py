"""Synthetic diff CMFs for the demo night's diffs (files matching its database rows)."""

from __future__ import annotations

import math
import os
import zlib
from typing import Any

from mopstool.errors import DataError
from mopstool.fits.cmf import (FLAG_BADPSF, FLAG_CR_LIMIT, FLAG_DEFECT, FLAG_FAIL, FLAG_SATURATED,
                               FLAG_SKY_FAILURE, chip_num)
from mopstool.fits.cmf_write import _rng, synthetic_psf_table, synthetic_xfit_table, cmf_primary_header, write_cmf
from mopstool.fits.skycell import (DEFAULT_TESS, SKYCELL_GRID, SKYCELL_MARGIN, SkycellGeometry,
                                   parse_skycell_id, skycell_geometry)
from mopstool.stages.vocab import State

#: at most this many detections in one demo skycell catalog: enough for mopscat
#: and testchunk to have work, small enough that the demo loads in seconds
DEMO_MAX_ROWS = 160


def _stable_seed(*parts: Any) -> int:
    return zlib.crc32(":".join(str(p) for p in parts).encode())


def _neighbours(skycells: list[str]) -> list[tuple[str, str]]:
    """Pairs of skycells of one projection cell that share an edge."""
    parsed = {s: parse_skycell_id(s) for s in skycells}
    out = []
    for a in skycells:
        for b in skycells:
            pa, pb = parsed[a], parsed[b]
            if a >= b or not pa or not pb or pa[0] != pb[0]:
                continue
            ra_, ca = divmod(pa[1], SKYCELL_GRID)
            rb, cb = divmod(pb[1], SKYCELL_GRID)
            if abs(ra_ - rb) + abs(ca - cb) == 1:
                out.append((a, b))
    return out


def _overlap_sources(ga: SkycellGeometry, gb: SkycellGeometry, k: int, rng):
    """Sky positions of *k* sources in the strip shared by two neighbouring skycells."""
    import numpy as np

    # candidates over a's image, kept where both contain them (away from the edges)
    xs, ys = [], []
    tries = 0
    while sum(len(v) for v in xs) < k and tries < 20:
        tries += 1
        cx, cy = (ga.sky_to_pix(*gb.centre_sky()))
        # the shared strip lies on the side of a facing b's centre
        if abs(cx - ga.naxis1 / 2) > abs(cy - ga.naxis2 / 2):
            lo = ga.naxis1 - 2 * SKYCELL_MARGIN if cx > ga.naxis1 / 2 else 0
            x = rng.uniform(lo + 20, lo + 2 * SKYCELL_MARGIN - 20, 4 * k)
            y = rng.uniform(40, ga.naxis2 - 40, 4 * k)
        else:
            lo = ga.naxis2 - 2 * SKYCELL_MARGIN if cy > ga.naxis2 / 2 else 0
            y = rng.uniform(lo + 20, lo + 2 * SKYCELL_MARGIN - 20, 4 * k)
            x = rng.uniform(40, ga.naxis1 - 40, 4 * k)
        ra, dec = ga.pix_to_sky(x, y)
        bx, by = gb.sky_to_pix(ra, dec)
        ok = gb.contains(bx, by) & (bx > 5) & (by > 5) & (bx < gb.naxis1 - 5) & (by < gb.naxis2 - 5)
        xs.append(ra[ok])
        ys.append(dec[ok])
    ra = np.concatenate(xs)[:k] if xs else np.zeros(0)
    dec = np.concatenate(ys)[:k] if ys else np.zeros(0)
    return ra, dec


def _demo_table(geom, n, *, ws, seed, chip_nums, shared, version=5):
    """A demo skycell table: regular detections, shared overlap sources, a few
    flagged rows, a few NaNs and (WS) a few rows failing the WS cuts; rows in
    brightness order with IPP_IDET = row number, like psphot writes them."""
    import numpy as np

    rng = _rng(seed)
    psf = synthetic_psf_table(geom, n, version=version, seed=rng, ws=ws, chip_nums=chip_nums)
    if shared is not None and len(shared[0]):
        ra, dec, mags = shared
        jit = rng.normal(0, 0.1 / 3600.0, (2, len(ra)))
        sx, sy = geom.sky_to_pix(ra + jit[0] / max(math.cos(math.radians(float(np.mean(dec)))), 0.01),
                                 dec + jit[1])
        extra = synthetic_psf_table(geom, len(ra), version=version, seed=rng, ws=ws, x=sx, y=sy,
                                    inst_mag=mags + rng.normal(0, 0.03, len(ra)), chip_nums=chip_nums)
        psf = {k: np.concatenate([psf[k], extra[k]]) for k in psf}
    total = len(psf["X_PSF"])
    pick = rng.permutation(total)
    nflag = max(1, total // 60)
    bits = np.array([FLAG_FAIL, FLAG_DEFECT, FLAG_SATURATED, FLAG_SKY_FAILURE, FLAG_CR_LIMIT,
                     FLAG_BADPSF], dtype="u4")
    psf["FLAGS"][pick[:nflag]] |= bits[rng.integers(0, len(bits), nflag)]
    nnan = max(1, total // 150)
    for i, row in enumerate(pick[nflag:nflag + nnan]):
        col = ("X_PSF_SIG", "PSF_INST_MAG_SIG", "PSF_INST_MAG", "Y_PSF_SIG")[i % 4]
        psf[col][row] = np.nan
    if ws:
        nbad = max(1, total // 25)
        rows = pick[nflag + nnan:nflag + nnan + nbad]
        psf["DIFF_FRATIO"][rows[0::3]] = rng.uniform(0.3, 0.6, len(rows[0::3]))
        psf["DIFF_NRATIO_MASK"][rows[1::3]] = rng.uniform(0.2, 0.55, len(rows[1::3]))
        psf["DIFF_R_M"][rows[2::3]] = rng.uniform(0.5, 3.0, len(rows[2::3]))
        psf["DIFF_SN_M"][rows[2::3]] = rng.uniform(6, 20, len(rows[2::3]))
    order = np.argsort(psf["PSF_INST_MAG"], kind="stable")   # NaN magnitudes sort last
    psf = {k: v[order] for k, v in psf.items()}
    psf["IPP_IDET"] = np.arange(total, dtype="u4")
    return psf


def write_demo_cmfs(conn, files_dir: str | os.PathLike, progress=None) -> int:
    """Write synthetic diff CMFs for the demo's diffs and return how many files.

    Every diffSkyfile with data_state 'full', fault 0 and a path_base under
    *files_dir* gets ``<path_base>.cmf`` (PS1_DV5) and, for diffs made both
    ways, ``<path_base>.inv.cmf`` (the second exposure's detections). WS diffs
    (diff_mode 2) get PS1_DV5 tables with some rows failing the WS DIFF_* cuts.
    Detections are placed on the skycell's area with a seed from diff_id and
    skycell, with a few flagged rows, a few NaNs, and a few sources repeated
    in the overlap of neighbouring skycells of the same diff. *progress(what,
    done, total)* hears of each file written."""
    import numpy as np
    from sqlalchemy import select

    from mopstool.db import schema
    from mopstool.ops.mopscat.build import exposures_for_warps, skycell_chips
    from mopstool.stages.joins import component_input_on

    prefix = str(files_dir)
    ds, di, dr = schema.diffSkyfile, schema.diffInputSkyfile, schema.diffRun
    rows = conn.execute(
        select(ds.c.diff_id, ds.c.skycell_id, ds.c.path_base, ds.c.sources, di.c.diff_skyfile_id,
               di.c.warp1, di.c.warp2, dr.c.diff_mode, dr.c.bothways, dr.c.tess_id)
        .select_from(ds.join(dr, dr.c.diff_id == ds.c.diff_id).outerjoin(di, component_input_on("diff")))
        .where(ds.c.data_state == State.FULL, ds.c.fault == 0,
               ds.c.path_base.startswith(prefix, autoescape=True))
        .order_by(ds.c.diff_id, ds.c.skycell_id)).mappings().all()
    if not rows:
        return 0
    warps = sorted({r["warp1"] for r in rows if r["warp1"]} | {r["warp2"] for r in rows if r["warp2"]})
    exps = exposures_for_warps(conn, warps)
    chips = skycell_chips(conn, [(r["warp1"], r["skycell_id"]) for r in rows if r["warp1"]]
                          + [(r["warp2"], r["skycell_id"]) for r in rows if r["warp2"]])
    # one catalog per (exposure warp, diff mode, direction): all its skycells, from one
    # diff or from several (warp-stack diffs may hold one skycell each)
    catalogs: dict[tuple, list] = {}
    for r in rows:
        mode = int(r["diff_mode"] or 1)
        directions = [("cmf", "warp1")]
        if r["bothways"] and mode == 1:
            directions.append(("inv.cmf", "warp2"))
        for suffix, wcol in directions:
            if r[wcol]:
                catalogs.setdefault((r[wcol], mode, suffix), []).append(r)
    written = 0
    todo = sum(1 for items in catalogs.values() for _ in items)
    step = progress or (lambda what, done, total=None: None)
    step("CMF files", 0, todo)
    known: dict[tuple, Any] = {}     # one geometry (and WCS) per skycell for the whole night
    for (warp, mode, suffix), items in catalogs.items():
        geoms = {}
        for r in items:
            key = (r["skycell_id"], r["tess_id"] or DEFAULT_TESS)
            if key not in known:
                try:
                    known[key] = skycell_geometry(*key)
                except DataError:
                    known[key] = None
            if known[key] is not None:
                geoms[r["skycell_id"]] = known[key]
        shared: dict[str, list] = {s: [] for s in geoms}
        for a, b in _neighbours(sorted(geoms)):
            rng = _rng(_stable_seed(warp, mode, suffix, a, b))
            k = int(rng.integers(4, 9))
            ra, dec = _overlap_sources(geoms[a], geoms[b], k, rng)
            mags = -7.5 - 3.5 * rng.power(2.0, len(ra))
            shared[a].append((ra, dec, mags))
            shared[b].append((ra, dec, mags))
        exp = exps.get(warp) or {}
        for r in items:
            sc = r["skycell_id"]
            if sc not in geoms:
                continue
            geom = geoms[sc]
            sh = shared.get(sc) or []
            sh_arr = (np.concatenate([s[0] for s in sh]), np.concatenate([s[1] for s in sh]),
                      np.concatenate([s[2] for s in sh])) if sh else None
            nums = [c for c in (chip_num(x) for x in chips.get((warp, sc), [])) if c]
            n = int(min(max((r["sources"] or 500) // 6, 40), DEMO_MAX_ROWS))
            seed = _stable_seed(r["diff_id"], sc, suffix)
            psf = _demo_table(geom, n, ws=mode == 2, seed=seed, chip_nums=nums or None, shared=sh_arr)
            xf = synthetic_xfit_table(geom, psf, version=5, seed=seed + 1, fraction=0.2)
            hdr = cmf_primary_header(geom, imageid=int(r["diff_skyfile_id"] or 0),
                                     **_demo_exposure_header(exp))
            write_cmf(f"{r['path_base']}.{suffix}", primary=hdr, psf=psf, version=5, xfit=xf,
                      hdr_cards=geom.header_cards())
            written += 1
            step("CMF files", written, todo)
    step("CMF files", written, written)
    return written


def _demo_exposure_header(exp: dict) -> dict:
    from datetime import datetime

    out: dict[str, Any] = {}
    if not exp:
        return out
    if exp.get("exp_name"):
        out["exp_name"] = exp["exp_name"]
    if exp.get("ra") is not None and exp.get("decl") is not None:
        out["ra_deg"] = math.degrees(float(exp["ra"]))
        out["dec_deg"] = math.degrees(float(exp["decl"]))
    for key, col in (("filter", "filter"), ("airmass", "airmass"), ("exptime", "exp_time"),
                     ("posangle", "posang"), ("alt", "alt"), ("az", "az"), ("fwhm_maj", "fwhm_major")):
        if exp.get(col) is not None:
            out[key] = exp[col]
    if isinstance(exp.get("dateobs"), datetime):
        out["mjd_obs"] = (exp["dateobs"] - datetime(1858, 11, 17)).total_seconds() / 86400.0
    return out
