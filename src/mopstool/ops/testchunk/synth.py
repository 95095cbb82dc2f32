"""Two synthetic versions of a test set's diff CMFs, for the demo, the tests
and the benchmark.

Every exposure of a field gets one CMF per skycell in each of two output
directories, ``A`` (the reference processing) and ``B`` (the processing
under test). Both hold the same sources: transients of that exposure and
synthetic moving objects that cross the field at constant angular rate along
great circles, seen in every visit. Each version measures them with its own
centroid scatter (both quote A's scatter as their centroid error); B adds a
fixed centroid bias, optionally a magnitude bias
and flagged rows, and extra junk detections along the skycell edges that A
does not have. Detections of A and B stay away from the edges so that the
edge junk never lands near a true source (the counts of a comparison are then
known exactly).
"""

from __future__ import annotations

import math
from datetime import datetime
from dataclasses import dataclass, field
from pathlib import Path

EDGE = 150            #: px kept free of true sources along every skycell edge
JUNK_STRIP = 60       #: px: B's edge junk lies within this of an edge


@dataclass
class SynthExposure:
    exp_name: str
    mjd: float                      #: shutter open (MJD-OBS)
    skycells: list[str]
    exptime: float = 45.0
    filter: str = "w.00000"


@dataclass
class VersionSpec:
    scatter_a_arcsec: float = 0.05     #: per-axis centroid scatter of A
    scatter_b_arcsec: float = 0.10     #: per-axis centroid scatter of B
    bias_arcsec: tuple[float, float] = (0.0, 0.3)   #: B - A offset (RA cos Dec, Dec)
    mag_bias: float = 0.0             #: B - A magnitude offset
    transients: int = 150             #: true transients per exposure and skycell
    movers: int = 60                  #: moving objects per field
    extra_b: int = 25                 #: edge junk per skycell of B
    flag_fraction_b: float = 0.0      #: fraction of B rows flagged DEFECT
    rate_deg_per_day: tuple[float, float] = (0.1, 0.45)   #: within the default linking limit (0.5)
    seed: int = 7


@dataclass
class VersionsResult:
    dir_a: str
    dir_b: str
    files_a: list[str] = field(default_factory=list)
    files_b: list[str] = field(default_factory=list)
    #: (exp_name, skycell) -> {"common": n, "extra_b": m, "flagged_b": k}
    cells: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    movers: int = 0

    @property
    def common(self) -> int:
        return sum(c["common"] for c in self.cells.values())

    @property
    def extra_b(self) -> int:
        return sum(c["extra_b"] for c in self.cells.values())


def _mover_positions(rng, centre_xyz, n: int, rates, mjd0: float, times):
    """(len(times), n) RA and Dec of *n* great-circle movers around a field centre."""
    import numpy as np

    # start points within ~0.15 deg of the centre
    c = centre_xyz / np.linalg.norm(centre_xyz)
    ref = np.array([0.0, 0.0, 1.0]) if abs(c[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(ref, c)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(c, e1)
    r = np.radians(rng.uniform(0, 0.12, n))
    phi = rng.uniform(0, 2 * math.pi, n)
    p0 = (np.cos(r)[:, None] * c + np.sin(r)[:, None] * (np.cos(phi)[:, None] * e1 + np.sin(phi)[:, None] * e2))
    pa = rng.uniform(0, 2 * math.pi, n)
    # unit tangent at p0 in direction pa
    f1 = np.cross(ref, p0)
    f1 /= np.linalg.norm(f1, axis=1)[:, None]
    f2 = np.cross(p0, f1)
    q = np.cos(pa)[:, None] * f1 + np.sin(pa)[:, None] * f2
    rate = np.radians(rng.uniform(rates[0], rates[1], n))      # rad/day
    out_ra, out_dec = [], []
    for t in times:
        w = rate * (t - mjd0)
        p = np.cos(w)[:, None] * p0 + np.sin(w)[:, None] * q
        out_ra.append(np.degrees(np.arctan2(p[:, 1], p[:, 0])) % 360.0)
        out_dec.append(np.degrees(np.arcsin(np.clip(p[:, 2], -1, 1))))
    return np.array(out_ra), np.array(out_dec)


def _perturb(geom, x, y, rng, sigma_arcsec: float, bias=(0.0, 0.0)):
    """Pixel positions moved by a bias (arcsec, RA cos Dec / Dec) and Gaussian scatter."""
    import numpy as np

    ra, dec = geom.pix_to_sky(x, y)
    n = len(x)
    d_dec = (bias[1] + rng.normal(0, sigma_arcsec, n)) / 3600.0
    d_ra = (bias[0] + rng.normal(0, sigma_arcsec, n)) / 3600.0 / np.cos(np.radians(dec))
    return geom.sky_to_pix(ra + d_ra, dec + d_dec)


def write_versions(out_a: str | Path, out_b: str | Path, exposures: list[SynthExposure],
                   spec: VersionSpec | None = None, *, imageid0: int = 1) -> VersionsResult:
    """Write versions A and B of the CMFs of one field's *exposures* (see module doc)."""
    import numpy as np

    from mopstool.fits.cmf import FLAG_DEFECT
    from mopstool.fits.cmf_write import cmf_primary_header, synthetic_psf_table, write_cmf
    from mopstool.fits.skycell import skycell_geometry

    spec = spec or VersionSpec()
    rng = np.random.default_rng(spec.seed)
    out_a, out_b = Path(out_a), Path(out_b)
    res = VersionsResult(dir_a=str(out_a), dir_b=str(out_b))
    cells = sorted({sc for e in exposures for sc in e.skycells})
    geoms = {sc: skycell_geometry(sc) for sc in cells}
    # the field's centre from the cells' centres, with the C library's cosines
    # and sines like every position below: the sets stay the same to the bit
    centres = np.array([(math.cos(d) * math.cos(r), math.cos(d) * math.sin(r), math.sin(d))
                        for r, d in (map(math.radians, geoms[sc].centre_sky()) for sc in cells)])
    centre = centres.mean(axis=0)
    cra = math.degrees(math.atan2(centre[1], centre[0])) % 360.0
    cdec = math.degrees(math.asin(centre[2] / np.linalg.norm(centre)))
    times = [e.mjd + e.exptime / 2 / 86400.0 for e in exposures]
    mjd0 = min(times) if times else 0.0
    mra, mdec = _mover_positions(rng, centre, spec.movers, spec.rate_deg_per_day, mjd0, times)
    mover_mag = -7.5 - 3.0 * rng.power(2.0, spec.movers)
    res.movers = spec.movers
    imageid = imageid0
    for k, e in enumerate(exposures):
        for sc in e.skycells:
            g = geoms[sc]
            lo, hix, hiy = EDGE, g.naxis1 - EDGE, g.naxis2 - EDGE
            tx = rng.uniform(lo, hix, spec.transients)
            ty = rng.uniform(lo, hiy, spec.transients)
            tm = -7.0 - 4.5 * rng.power(2.5, spec.transients)
            mx, my = g.sky_to_pix(mra[k], mdec[k])
            inside = (mx >= lo) & (mx < hix) & (my >= lo) & (my < hiy)
            x = np.concatenate([tx, mx[inside]])
            y = np.concatenate([ty, my[inside]])
            m = np.concatenate([tm, mover_mag[inside]])
            n = len(x)
            ax, ay = _perturb(g, x, y, rng, spec.scatter_a_arcsec)
            bx, by = _perturb(g, x, y, rng, spec.scatter_b_arcsec, spec.bias_arcsec)
            side = rng.integers(0, 4, spec.extra_b)
            along = rng.uniform(EDGE, g.naxis1 - EDGE, spec.extra_b)
            depth = rng.uniform(4, JUNK_STRIP, spec.extra_b)
            jx = np.select([side == 0, side == 1, side == 2], [depth, g.naxis1 - depth, along], along)
            jy = np.select([side == 0, side == 1, side == 2], [along, along, depth], g.naxis2 - depth)
            jm = -7.0 - 1.5 * rng.power(1.0, spec.extra_b)
            hdr = cmf_primary_header(g, imageid=imageid, exp_name=e.exp_name, ra_deg=cra, dec_deg=cdec,
                                     filter=e.filter, exptime=e.exptime, mjd_obs=e.mjd)
            imageid += 1
            psf_a = synthetic_psf_table(g, n, seed=rng, x=ax, y=ay, inst_mag=m)
            psf_b = synthetic_psf_table(g, n + spec.extra_b, seed=rng, x=np.concatenate([bx, jx]),
                                        y=np.concatenate([by, jy]),
                                        inst_mag=np.concatenate([m + spec.mag_bias, jm]))
            # both versions quote A's centroid error (B does not know it got worse)
            quoted = spec.scatter_a_arcsec / g.plate_scale
            for psf in (psf_a, psf_b):
                psf["X_PSF_SIG"][:] = quoted
                psf["Y_PSF_SIG"][:] = quoted
            nflag = int(round(spec.flag_fraction_b * (n + spec.extra_b)))
            if nflag:
                psf_b["FLAGS"][rng.choice(n + spec.extra_b, nflag, replace=False)] |= FLAG_DEFECT
            name = f"{e.exp_name}.{sc}.cmf"
            res.files_a.append(str(write_cmf(out_a / name, primary=hdr, psf=psf_a, version=5,
                                             hdr_cards=g.header_cards())))
            res.files_b.append(str(write_cmf(out_b / name, primary=hdr, psf=psf_b, version=5,
                                             hdr_cards=g.header_cards())))
            res.cells[(e.exp_name, sc)] = {"common": n, "extra_b": spec.extra_b, "flagged_b": nflag}
    return res


def quad(skycells: list[str], *, mjd: float = 58309.30, cadence_min: float = 17.0, visits: int = 4,
         prefix: str = "o8309g", first: int = 262) -> list[SynthExposure]:
    """The exposures of one synthetic quad on *skycells*."""
    return [SynthExposure(exp_name=f"{prefix}{first + 15 * v:04d}o", mjd=mjd + v * cadence_min / 1440.0,
                          skycells=list(skycells)) for v in range(visits)]


def demo_exposures(conn, cfg) -> list[SynthExposure]:
    """The exposures of the demo's test set ([testchunk.sets.demo]) with the
    skycells of their warps, read from the demo database."""
    from sqlalchemy import select

    from mopstool.db import schema
    from mopstool.ops.testchunk.sets import get_set
    from mopstool.stages.joins import chain_join, like_any, night_condition, with_components

    ts = get_set(cfg, "demo")
    raw, wsf = schema.rawExp, schema.warpSkyfile
    conds = [night_condition(ts.night), like_any(raw.c.comment, [ts.comment_pattern])]
    if ts.object:
        conds.append(raw.c.object == ts.object)
    q = (select(raw.c.exp_name, raw.c.dateobs, raw.c.exp_time, raw.c.filter, wsf.c.skycell_id)
         .select_from(with_components(chain_join("exposure", "warp"), "warp"))
         .where(*conds).order_by(raw.c.dateobs, wsf.c.skycell_id).distinct())
    out: dict[str, SynthExposure] = {}
    for r in conn.execute(q):
        mjd = (r.dateobs - datetime(1858, 11, 17)).total_seconds() / 86400.0
        e = out.setdefault(r.exp_name, SynthExposure(exp_name=r.exp_name, mjd=mjd, skycells=[],
                                                     exptime=float(r.exp_time or 45.0),
                                                     filter=r.filter or "w.00000"))
        if r.skycell_id not in e.skycells:
            e.skycells.append(r.skycell_id)
    return list(out.values())


def write_demo_versions(conn, cfg, files_dir: str | Path) -> VersionsResult | None:
    """The demo's two versions of its test set's diff CMFs, under
    ``<files_dir>/testchunk/A`` and ``.../B`` (None when the set has no exposures)."""
    exps = demo_exposures(conn, cfg)
    if not exps:
        return None
    root = Path(files_dir) / "testchunk"
    return write_versions(root / "A", root / "B", exps, VersionSpec())
