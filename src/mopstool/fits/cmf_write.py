"""Writing diff CMFs in the IPP's layout, and synthetic CMF data for the tests,
the benchmark and the demo."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Iterable

from mopstool.fits.cmf import (FLAG_AP_MAGS, FLAG_BLEND, FLAG_FITTED, FLAG_PSFMODEL,
                               FLAGS2_DIFF_WITH_DOUBLE, FLAGS2_DIFF_WITH_SINGLE, GPC1_CHIP_NUMS,
                               PSF_COLUMNS, XFIT_COLUMNS, DV_VERSIONS, psf_columns, xfit_columns)
from mopstool.fits.skycell import SkycellGeometry, format_dec, format_ra, skycell_geometry

# --------------------------------------------------------------------- writing
def _card_list(cards) -> list[dict]:
    out = []
    items = cards.items() if isinstance(cards, dict) else cards
    for item in items:
        if isinstance(item, dict):
            out.append(item)
            continue
        if len(item) == 2:
            name, value = item
            comment = ""
        else:
            name, value, comment = item
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if hasattr(value, "item"):
            value = value.item()
        out.append({"name": name, "value": value, "comment": comment or ""})
    return out


def write_cmf(path: str | os.PathLike, *, primary: Any, psf: dict[str, Any], version: int,
              xfit: dict[str, Any] | str | None = None, hdr_cards: Any = None) -> Path:
    """Write a diff CMF: primary header, SkyChip.hdr, SkyChip.psf (EXTTYPE
    PS1_DV<version>) and, when given, SkyChip.xfit (*xfit* 'blank': the
    header-only HDU psphot writes when nothing has an extended fit). Columns of
    *psf* are written in the DV layout order (extra names after them)."""
    import fitsio

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    order = [n for n, _, _ in PSF_COLUMNS if n in psf] + [n for n in psf if n not in
                                                            {c for c, _, _ in PSF_COLUMNS}]
    table = _structured(psf, order)
    tmp = p.with_name(p.name + ".tmp")
    with fitsio.FITS(str(tmp), "rw", clobber=True, ignore_empty=True) as f:
        f.write(None, header=_card_list(primary))
        f.create_image_hdu(dims=[0], dtype="u1", extname="SkyChip.hdr")
        if hdr_cards:
            f[-1].write_keys(_card_list(hdr_cards))
        f.write(table, extname="SkyChip.psf", header=_card_list([
            ("EXTTYPE", f"PS1_DV{version}", "CMF format"), ("EXTHEAD", "SkyChip.hdr", "")]))
        if isinstance(xfit, str) and xfit == "blank":
            # psphot's SkyChip.xfit when no source has a model fit: a header-only HDU
            f.write(None, extname="SkyChip.xfit", header=_card_list([
                ("EXTTYPE", f"PS1_DV{version}_XFIT", ""), ("EXTHEAD", "SkyChip.hdr", "")]))
        elif xfit is not None:
            xorder = [n for n, _, _ in XFIT_COLUMNS if n in xfit]
            f.write(_structured(xfit, xorder), extname="SkyChip.xfit", header=_card_list([
                ("EXTTYPE", f"PS1_DV{version}_XFIT", "CMF extended-fit format"),
                ("EXTHEAD", "SkyChip.hdr", "")]))
    os.replace(tmp, p)
    return p


def _structured(cols: dict[str, Any], order: list[str]):
    import numpy as np

    arrays = [np.asarray(cols[n]) for n in order]
    n = len(arrays[0]) if arrays else 0
    dtype = []
    for name, a in zip(order, arrays):
        if a.dtype.kind == "U":
            dtype.append((name, f"S{max(1, a.dtype.itemsize // 4)}"))
        else:
            dtype.append((name, a.dtype.newbyteorder("=") if a.dtype.byteorder == ">" else a.dtype))
    out = np.zeros(n, dtype=dtype)
    for name, a in zip(order, arrays):
        out[name] = a
    return out


# --------------------------------------------------------------------- synthetic data
def _rng(seed):
    import numpy as np

    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def posangle_at(geom: SkycellGeometry, x, y, ra, dec):
    """Angle (degrees) between the +y axis and north at each position."""
    import numpy as np

    x2, y2 = geom.sky_to_pix(ra, np.minimum(dec + 1e-4, 89.9999))
    return np.degrees(np.arctan2(x2 - x, y2 - y))


def synthetic_psf_table(geom: SkycellGeometry, n: int, *, version: int = 5, seed: Any = 0,
                        ws: bool = False, x=None, y=None, inst_mag=None,
                        chip_nums: Iterable[int] | None = None) -> dict[str, Any]:
    """Realistic SkyChip.psf columns for *n* diff detections on *geom*.

    Positions are uniform on the skycell unless *x*/*y* are given; instrumental
    magnitudes run from the saturation level to the detection limit (S/N 5).
    All detections pass the ppMops cuts (WS cuts too when *ws*): callers plant
    flagged rows, NaNs or failing ratios themselves."""
    import numpy as np

    rng = _rng(seed)
    if version not in DV_VERSIONS:
        raise ValueError(f"unknown CMF version {version}")
    if x is None:
        x = rng.uniform(4.0, geom.naxis1 - 4.0, n)
    if y is None:
        y = rng.uniform(4.0, geom.naxis2 - 4.0, n)
    x = np.asarray(x, dtype="f8")
    y = np.asarray(y, dtype="f8")
    n = len(x)
    ra, dec = geom.pix_to_sky(x, y)
    m = np.asarray(inst_mag, dtype="f8") if inst_mag is not None else -7.0 - 4.5 * rng.power(2.5, n)
    flux = 10 ** (-0.4 * m)
    sn = 5.0 * 10 ** (-0.4 * (m - (-7.0)))
    msig = 1.0857 / sn
    fwhm = rng.normal(4.6, 0.15, n).clip(3.5, 6.0)
    xsig = (fwhm / 2.355) / sn * 1.4 * rng.uniform(0.8, 1.2, n)
    ysig = xsig * rng.uniform(0.8, 1.25, n)
    pos = posangle_at(geom, x, y, ra, dec)
    sky = rng.normal(0.0, 2.0, n)
    ap_mag = m + rng.normal(0, 1, n) * msig - 0.03
    mxx = rng.normal(4.2, 0.4, n).clip(2.3, 8)
    myy = rng.normal(4.1, 0.4, n).clip(2.3, 8)
    rp = np.where(rng.uniform(size=n) < 0.15, rng.uniform(0.2, 3.5, n), np.nan)
    snp = np.where(np.isfinite(rp), rng.uniform(3, 30, n), np.nan)
    rm = np.where(rng.uniform(size=n) < 0.1, rng.uniform(5, 40, n), np.nan)
    snm = np.where(np.isfinite(rm), rng.uniform(3, 30, n), np.nan)
    if chip_nums:
        nums = np.asarray(list(chip_nums), dtype="i2")
        src_chip = nums[rng.integers(0, len(nums), n)]
    else:
        src_chip = np.asarray(GPC1_CHIP_NUMS, dtype="i2")[rng.integers(0, len(GPC1_CHIP_NUMS), n)]
    flags = np.full(n, FLAG_PSFMODEL | FLAG_FITTED, dtype="u4")
    flags[rng.uniform(size=n) < 0.5] |= FLAG_AP_MAGS
    flags[rng.uniform(size=n) < 0.05] |= FLAG_BLEND
    values: dict[str, Any] = {
        "IPP_IDET": np.arange(n, dtype="u4"),
        "X_PSF": x, "Y_PSF": y, "X_PSF_SIG": xsig, "Y_PSF_SIG": ysig, "POSANGLE": pos,
        "PLTSCALE": np.full(n, geom.plate_scale),
        "PSF_INST_MAG": m, "PSF_INST_MAG_SIG": msig, "PSF_INST_FLUX": flux,
        "PSF_INST_FLUX_SIG": flux / sn, "AP_MAG": ap_mag, "AP_MAG_RAW": ap_mag + 0.012,
        "AP_MAG_RADIUS": np.full(n, 12.0), "AP_FLUX": 10 ** (-0.4 * ap_mag),
        "AP_FLUX_SIG": 10 ** (-0.4 * ap_mag) / sn, "AP_NPIX": np.full(n, 452),
        "PEAK_FLUX_AS_MAG": m + 1.9, "CAL_PSF_MAG": m + 28.7, "CAL_PSF_MAG_SIG": np.full(n, 0.02),
        "RA_PSF": ra, "DEC_PSF": dec, "SKY": sky, "SKY_SIGMA": np.full(n, 11.0),
        "PSF_CHISQ": 1.0 + np.abs(rng.normal(0, 0.3, n)), "CR_NSIGMA": rng.normal(0, 1, n),
        "EXT_NSIGMA": rng.normal(0, 1, n), "PSF_MAJOR": fwhm / 2.2, "PSF_MINOR": fwhm / 2.35,
        "PSF_THETA": rng.uniform(-90, 90, n), "PSF_CORE": np.full(n, 0.5), "PSF_FWHM_MAJ": fwhm,
        "PSF_FWHM_MIN": fwhm * 0.93, "PSF_QF": rng.uniform(0.85, 1.0, n),
        "PSF_QF_PERFECT": rng.uniform(0.8, 1.0, n), "PSF_NDOF": rng.integers(380, 440, n),
        "PSF_NPIX": rng.integers(390, 450, n), "MOMENTS_XX": mxx, "MOMENTS_XY": rng.normal(0, 0.2, n),
        "MOMENTS_YY": myy, "MOMENTS_R1": rng.normal(2.6, 0.2, n), "MOMENTS_RH": rng.normal(1.6, 0.1, n),
        "KRON_FLUX": flux * 0.97, "KRON_FLUX_ERR": flux / sn * 1.2, "KRON_FLUX_INNER": flux * 0.6,
        "KRON_FLUX_OUTER": flux * 0.12, "SRC_CHIP_NUM": src_chip,
        "SRC_CHIP_X": rng.integers(10, 4830, n), "SRC_CHIP_Y": rng.integers(10, 4860, n),
        "PADDING3": np.zeros(n), "DIFF_NPOS": rng.integers(12, 80, n),
        "DIFF_FRATIO": rng.uniform(0.75, 1.0, n), "DIFF_NRATIO_BAD": rng.uniform(0.7, 1.0, n),
        "DIFF_NRATIO_MASK": rng.uniform(0.75, 1.0, n), "DIFF_NRATIO_ALL": rng.uniform(0.6, 0.95, n),
        "DIFF_R_P": rp, "DIFF_SN_P": snp, "DIFF_R_M": rm, "DIFF_SN_M": snm, "FLAGS": flags,
        "FLAGS2": np.full(n, FLAGS2_DIFF_WITH_SINGLE if ws else FLAGS2_DIFF_WITH_DOUBLE),
        "N_FRAMES": np.full(n, 1 if ws else 2), "PADDING": np.zeros(n),
    }
    return {name: np.asarray(values[name]).astype(t) for name, t in psf_columns(version)}


def synthetic_xfit_table(geom: SkycellGeometry, psf: dict[str, Any], *, version: int = 5,
                         seed: Any = 1, fraction: float = 0.3) -> dict[str, Any]:
    """SkyChip.xfit rows (trail fits) for a random *fraction* of the psf rows."""
    import numpy as np

    rng = _rng(seed)
    n = len(psf["IPP_IDET"])
    sel = np.flatnonzero(rng.uniform(size=n) < fraction)
    k = len(sel)
    x = psf["X_PSF"][sel].astype("f8") + rng.normal(0, 0.3, k)
    y = psf["Y_PSF"][sel].astype("f8") + rng.normal(0, 0.3, k)
    ra, dec = geom.pix_to_sky(x, y)
    mag = psf["PSF_INST_MAG"][sel].astype("f8") + rng.normal(-0.05, 0.05, k)
    sig = psf["PSF_INST_MAG_SIG"][sel].astype("f8") * 1.3
    length = rng.uniform(2.0, 25.0, k)
    values = {
        "IPP_IDET": psf["IPP_IDET"][sel], "X_EXT": x, "Y_EXT": y,
        "X_EXT_SIG": psf["X_PSF_SIG"][sel] * 1.5, "Y_EXT_SIG": psf["Y_PSF_SIG"][sel] * 1.7,
        "RA_EXT": ra, "DEC_EXT": dec, "EXT_INST_MAG": mag, "EXT_INST_MAG_SIG": sig,
        "EXT_INST_FLUX": 10 ** (-0.4 * mag), "EXT_CAL_MAG": mag + 28.7,
        "POSANGLE": psf["POSANGLE"][sel], "PLTSCALE": psf["PLTSCALE"][sel],
        "NPARAMS": np.full(k, 7), "EXT_WIDTH_MAJ": length, "EXT_WIDTH_MIN": rng.uniform(1.5, 2.5, k),
        "EXT_THETA": rng.uniform(-180, 180, k), "EXT_WIDTH_MAJ_ERR": length * 0.08,
        "EXT_WIDTH_MIN_ERR": np.zeros(k), "EXT_THETA_ERR": rng.uniform(0.5, 5, k),
        "EXT_CHISQ": 1.0 + np.abs(rng.normal(0, 0.3, k)), "EXT_NDOF": rng.integers(380, 440, k),
    }
    return {name: np.asarray(values[name]).astype(t) for name, t in xfit_columns(version)}


def cmf_primary_header(geom: SkycellGeometry, *, imageid: int, exp_name: str = "o8309g0262o",
                       ra_deg: float | None = None, dec_deg: float | None = None,
                       filter: str = "w.00000", airmass: float = 1.1, exptime: float = 45.0,
                       posangle: float = 0.0, alt: float = 65.0, az: float = 180.0,
                       mjd_obs: float = 58309.27, fwhm_maj: float = 4.6, refcat: str = "PS1_REF",
                       wcs: bool = True, wcs_style: str = "cd",
                       extra: Any = None) -> list[tuple[str, Any, str]]:
    """Primary-header cards of a synthetic diff CMF (ppMops reads these)."""
    from datetime import datetime, timedelta

    if ra_deg is None or dec_deg is None:
        ra_deg, dec_deg = geom.centre_sky()
    start = datetime(1858, 11, 17) + timedelta(days=mjd_obs)
    end = start + timedelta(seconds=exptime)

    def iso(t):
        return t.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]

    cards: list[tuple[str, Any, str]] = [
        ("IMAGEID", int(imageid), "diff skyfile identifier"),
        ("SKYCELL", geom.skycell_id, "skycell name"),
        ("TESS_ID", geom.tess_id, "tessellation"),
        ("FPA.OBS", exp_name, "exposure name"),
        ("FPA.RA", format_ra(ra_deg), "boresight RA"),
        ("FPA.DEC", format_dec(dec_deg), "boresight Dec"),
        ("FPA.FILTER", filter, "filter"),
        ("AIRMASS", float(airmass), "airmass"),
        ("EXPTIME", float(exptime), "exposure time, s"),
        ("FPA.POSANGLE", float(posangle), "rotator position angle, degrees"),
        ("FPA.ALT", float(alt), "telescope altitude, degrees"),
        ("FPA.AZ", float(az), "telescope azimuth, degrees"),
        ("MJD-OBS", float(mjd_obs), "MJD at shutter open"),
        ("FWHM_MAJ", float(fwhm_maj), "PSF FWHM major axis"),
        ("FPA.SHUTOUTC", iso(start), "shutter open"),
        ("FPA.SHUTCUTC", iso(end), "shutter close"),
        ("FPA.SHMDOUTC", iso(start + timedelta(seconds=0.5)), "shutter open mid-fp"),
        ("FPA.SHMDCUTC", iso(end + timedelta(seconds=0.5)), "shutter close mid-fp"),
        ("PSREFCAT", refcat, "reference catalog"),
    ]
    if wcs:
        cards += geom.header_cards(style=wcs_style)
    else:
        cards += [("IMNAXIS1", geom.naxis1, "skycell width"), ("IMNAXIS2", geom.naxis2, "skycell height")]
    if extra:
        cards += list(extra.items()) if isinstance(extra, dict) else list(extra)
    return cards


def write_synthetic_cmf(path: str | os.PathLike, skycell_id: str, *, imageid: int, n: int = 200,
                        version: int = 5, seed: Any = 0, ws: bool = False, xfit: bool | str = True,
                        wcs: bool = True, wcs_style: str = "cd", geometry: SkycellGeometry | None = None,
                        header: dict | None = None, chip_nums: Iterable[int] | None = None,
                        psf_overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write one realistic diff CMF for *skycell_id* and return its psf columns.

    *wcs_style* 'pslib' writes the WCS as psLib does (CDELT with PC001001..);
    *geometry* replaces the synthetic tessellation's; *xfit* 'blank' writes the
    header-only SkyChip.xfit; *psf_overrides* replaces psf columns (after the
    RA/Dec of the rows were computed)."""
    import numpy as np

    geom = geometry or skycell_geometry(skycell_id)
    rng = _rng(seed)
    psf = synthetic_psf_table(geom, n, version=version, seed=rng, ws=ws, chip_nums=chip_nums)
    for k, v in (psf_overrides or {}).items():
        psf[k] = np.broadcast_to(np.asarray(v), psf[k].shape).astype(psf[k].dtype)
    if xfit == "blank":
        xf: Any = "blank"
    else:
        xf = synthetic_xfit_table(geom, psf, version=version, seed=rng) if xfit and version >= 2 else None
    write_cmf(path, primary=cmf_primary_header(geom, imageid=imageid, wcs=wcs, wcs_style=wcs_style,
                                               **(header or {})),
              psf=psf, version=version, xfit=xf,
              hdr_cards=geom.header_cards(style=wcs_style) if wcs else [])
    return psf
