"""Diff CMF catalogs (psphot output for difference images): layouts and reading.

A diff CMF is a multi-extension FITS file: a primary header (IMAGEID, FPA.*
exposure keywords, IMNAXIS1/2, ...), an optional ``SkyChip.hdr`` header, the
detection table ``SkyChip.psf`` whose EXTTYPE names the format (PS1_DV1 ..
PS1_DV5) and, from PS1_DV2 on, an optional ``SkyChip.xfit`` table of extended
(trail) fits keyed by IPP_IDET. psphot writes ``SkyChip.xfit`` as a blank
header-only HDU (NAXIS 0, no columns) when no source has an extended fit; that
reads as "no extended fits".

The skycell geometry (WCS, pixel convention) is in :mod:`mopstool.fits.skycell`;
the writers (IPP layout and synthetic data) in :mod:`mopstool.fits.cmf_write`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from mopstool.errors import DataError
from mopstool.fits.skycell import (DEFAULT_TESS, SkycellGeometry, geometry_from_header,
                                   parse_skycell_id, skycell_geometry)

# --------------------------------------------------------------------- flag bits
#: pmSourceMode bits of FLAGS that make ppMops reject a detection:
#: FAIL | BADPSF | DEFECT | SATURATED | CR_LIMIT | SKY_FAILURE
FLAG_FAIL = 0x8
FLAG_BADPSF = 0x400
FLAG_DEFECT = 0x800
FLAG_SATURATED = 0x1000
FLAG_CR_LIMIT = 0x2000
FLAG_SKY_FAILURE = 0x10000
SOURCE_MASK = FLAG_FAIL | FLAG_BADPSF | FLAG_DEFECT | FLAG_SATURATED | FLAG_CR_LIMIT | FLAG_SKY_FAILURE
assert SOURCE_MASK == 0x13C08
FLAG_PSFMODEL = 0x1
FLAG_FITTED = 0x4
FLAG_BLEND = 0x100
FLAG_AP_MAGS = 0x200000
FLAGS2_DIFF_WITH_SINGLE = 0x1
FLAGS2_DIFF_WITH_DOUBLE = 0x2

# --------------------------------------------------------------------- column layouts
#: SkyChip.psf columns of the PS1_DV formats in file order: (name, numpy type,
#: first DV version that has the column).
PSF_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("IPP_IDET", "u4", 1), ("X_PSF", "f4", 1), ("Y_PSF", "f4", 1), ("X_PSF_SIG", "f4", 1),
    ("Y_PSF_SIG", "f4", 1), ("POSANGLE", "f4", 1), ("PLTSCALE", "f4", 1),
    ("PSF_INST_MAG", "f4", 1), ("PSF_INST_MAG_SIG", "f4", 1), ("PSF_INST_FLUX", "f4", 1),
    ("PSF_INST_FLUX_SIG", "f4", 1), ("AP_MAG", "f4", 1), ("AP_MAG_RAW", "f4", 2),
    ("AP_MAG_RADIUS", "f4", 1), ("AP_FLUX", "f4", 2), ("AP_FLUX_SIG", "f4", 2), ("AP_NPIX", "i4", 4),
    ("PEAK_FLUX_AS_MAG", "f4", 1), ("CAL_PSF_MAG", "f4", 1), ("CAL_PSF_MAG_SIG", "f4", 1),
    ("RA_PSF", "f8", 1), ("DEC_PSF", "f8", 1), ("SKY", "f4", 1), ("SKY_SIGMA", "f4", 1),
    ("PSF_CHISQ", "f4", 1), ("CR_NSIGMA", "f4", 1), ("EXT_NSIGMA", "f4", 1), ("PSF_MAJOR", "f4", 1),
    ("PSF_MINOR", "f4", 1), ("PSF_THETA", "f4", 1), ("PSF_CORE", "f4", 4), ("PSF_FWHM_MAJ", "f4", 4),
    ("PSF_FWHM_MIN", "f4", 4), ("PSF_QF", "f4", 1), ("PSF_QF_PERFECT", "f4", 2), ("PSF_NDOF", "i4", 1),
    ("PSF_NPIX", "i4", 1), ("MOMENTS_XX", "f4", 1), ("MOMENTS_XY", "f4", 1), ("MOMENTS_YY", "f4", 1),
    ("MOMENTS_R1", "f4", 2), ("MOMENTS_RH", "f4", 2), ("KRON_FLUX", "f4", 2), ("KRON_FLUX_ERR", "f4", 2),
    ("KRON_FLUX_INNER", "f4", 2), ("KRON_FLUX_OUTER", "f4", 2), ("SRC_CHIP_NUM", "i2", 5),
    ("SRC_CHIP_X", "i2", 5), ("SRC_CHIP_Y", "i2", 5), ("PADDING3", "i2", 5), ("DIFF_NPOS", "i4", 1),
    ("DIFF_FRATIO", "f4", 1), ("DIFF_NRATIO_BAD", "f4", 1), ("DIFF_NRATIO_MASK", "f4", 1),
    ("DIFF_NRATIO_ALL", "f4", 1), ("DIFF_R_P", "f4", 2), ("DIFF_SN_P", "f4", 2), ("DIFF_R_M", "f4", 2),
    ("DIFF_SN_M", "f4", 2), ("FLAGS", "u4", 1), ("FLAGS2", "u4", 2), ("N_FRAMES", "u2", 1),
    ("PADDING", "i2", 1),
)

#: SkyChip.xfit columns (extended / trail fits), same layout as PSF_COLUMNS.
XFIT_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("IPP_IDET", "u4", 2), ("X_EXT", "f4", 2), ("Y_EXT", "f4", 2), ("X_EXT_SIG", "f4", 2),
    ("Y_EXT_SIG", "f4", 2), ("RA_EXT", "f4", 3), ("DEC_EXT", "f4", 3), ("EXT_INST_MAG", "f4", 2),
    ("EXT_INST_MAG_SIG", "f4", 2), ("EXT_INST_FLUX", "f4", 3), ("EXT_CAL_MAG", "f4", 3),
    ("POSANGLE", "f4", 3), ("PLTSCALE", "f4", 3), ("NPARAMS", "i4", 2), ("EXT_WIDTH_MAJ", "f4", 2),
    ("EXT_WIDTH_MIN", "f4", 2), ("EXT_THETA", "f4", 2), ("EXT_WIDTH_MAJ_ERR", "f4", 2),
    ("EXT_WIDTH_MIN_ERR", "f4", 2), ("EXT_THETA_ERR", "f4", 2), ("EXT_CHISQ", "f4", 3),
    ("EXT_NDOF", "i4", 3),
)

DV_VERSIONS = (1, 2, 3, 4, 5)


def psf_columns(version: int) -> list[tuple[str, str]]:
    return [(n, t) for n, t, v in PSF_COLUMNS if v <= version]


def xfit_columns(version: int) -> list[tuple[str, str]]:
    return [(n, t) for n, t, v in XFIT_COLUMNS if v <= version]


#: columns every diff CMF must have for a .mops catalog to be built from it
REQUIRED_COLUMNS = ("IPP_IDET", "X_PSF", "Y_PSF", "X_PSF_SIG", "Y_PSF_SIG", "RA_PSF", "DEC_PSF",
                    "POSANGLE", "PLTSCALE", "PSF_INST_MAG", "PSF_INST_MAG_SIG", "FLAGS")

# --------------------------------------------------------------------- GPC1 chips
#: GPC1 OTAs are XY01..XY76 less the four corners; SRC_CHIP_NUM n is OTA XY<n // 10><n % 10>.
GPC1_CHIP_NUMS: tuple[int, ...] = tuple(10 * x + y for x in range(8) for y in range(8)
                                        if (x, y) not in ((0, 0), (0, 7), (7, 0), (7, 7)))


def chip_class_id(num: int) -> str | None:
    """OTA class_id of a SRC_CHIP_NUM value (23 -> 'XY23'), None if it names no GPC1 OTA."""
    return f"XY{num:02d}" if num in GPC1_CHIP_NUMS else None


def chip_num(class_id: str) -> int | None:
    m = re.fullmatch(r"XY(\d)(\d)", class_id or "")
    if not m:
        return None
    n = int(m.group(1)) * 10 + int(m.group(2))
    return n if n in GPC1_CHIP_NUMS else None


# --------------------------------------------------------------------- reading
@dataclass
class CmfCatalog:
    """One diff CMF: its primary header, the SkyChip.psf columns and the
    SkyChip.xfit columns aligned row by row to them (NaN / 0 where a detection
    has no extended fit)."""

    path: str
    header: dict[str, Any]
    version: int
    exttype: str
    nrows: int
    columns: dict[str, Any]
    xfit: dict[str, Any] = field(default_factory=dict)
    has_xfit: bool = False
    imageid: int | None = None
    skycell_id: str | None = None
    geometry: SkycellGeometry | None = None
    naxis1: int = 0
    naxis2: int = 0

    def column(self, name: str, dtype: str, fill: Any):
        """A psf column as *dtype*, or *fill* values when this version lacks it."""
        import numpy as np

        col = self.columns.get(name)
        if col is None:
            return np.full(self.nrows, fill, dtype=dtype)
        return col.astype(dtype, copy=False)

    def xcolumn(self, name: str, dtype: str, fill: Any):
        import numpy as np

        col = self.xfit.get(name)
        if col is None:
            return np.full(self.nrows, fill, dtype=dtype)
        return col.astype(dtype, copy=False)


def _header_dict(hdr) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for rec in hdr.records():
        name = rec.get("name")
        if not name or name in ("COMMENT", "HISTORY", "CONTINUE"):
            continue
        val = rec.get("value")
        if isinstance(val, str):
            val = val.strip()
        out[name.upper()] = val
    return out


def dv_version(exttype: str) -> int | None:
    m = re.fullmatch(r"PS1_DV(\d+)", (exttype or "").strip().upper())
    return int(m.group(1)) if m else None


def _infer_version(names: set[str], xfit_names: set[str]) -> int:
    if "SRC_CHIP_X" in names:
        return 5
    if "PSF_CORE" in names or "AP_NPIX" in names:
        return 4
    if "DIFF_R_P" in names or "FLAGS2" in names:
        return 3 if "RA_EXT" in xfit_names else 2
    return 1


def _native(arr):
    import numpy as np

    if arr.dtype.byteorder not in ("=", "|") and arr.dtype.byteorder != ("<" if np.little_endian else ">"):
        return arr.astype(arr.dtype.newbyteorder("="))
    return np.ascontiguousarray(arr)


def read_cmf(path: str | os.PathLike, *, columns: Iterable[str] | None = None,
             imageid: int | None = None, skycell_id: str | None = None,
             read_xfit: bool = True, xcolumns: Iterable[str] | None = None) -> CmfCatalog:
    """Read a diff CMF. *columns* limits the SkyChip.psf columns read (all by
    default; missing ones are simply absent), *xcolumns* likewise those of
    SkyChip.xfit (IPP_IDET is always read to align its rows). *imageid* / *skycell_id* are
    used when the header lacks IMAGEID / SKYCELL. Any unreadable or malformed
    file raises DataError naming the path."""
    import fitsio

    p = str(path)
    if not os.path.exists(p):
        raise DataError(f"CMF file not found: {p}")
    try:
        f = fitsio.FITS(p)
    except (OSError, IOError, ValueError) as exc:
        raise DataError(f"cannot read CMF {p}: {_short(exc)}") from None
    with f:
        try:
            header = _header_dict(f[0].read_header())
            if "SkyChip.psf" not in f:
                raise DataError(f"{p}: no SkyChip.psf extension (not a psphot CMF?)")
            hdu = f["SkyChip.psf"]
            if hdu.get_exttype() not in ("BINARY_TBL", "ASCII_TBL"):
                raise DataError(f"{p}: SkyChip.psf is not a table")
            psf_hdr = _header_dict(hdu.read_header())
            names = [n.upper() for n in hdu.get_colnames()]
            nrows = int(hdu.get_nrows())
            hdr_hdu = {}
            if "SkyChip.hdr" in f:
                hdr_hdu = _header_dict(f["SkyChip.hdr"].read_header())
            xfit_raw = None
            xfit_names: set[str] = set()
            if read_xfit and "SkyChip.xfit" in f:
                xh = f["SkyChip.xfit"]
                # psphot writes a blank header-only HDU when no source has a model fit
                if xh.get_exttype() in ("BINARY_TBL", "ASCII_TBL"):
                    xfit_names = {n.upper() for n in xh.get_colnames()}
                    if xh.get_nrows() > 0:
                        if xcolumns is None:
                            xfit_raw = xh.read()
                        else:
                            want = set(xcolumns) | {"IPP_IDET"}
                            xfit_raw = xh.read(columns=[n for n in xh.get_colnames() if n.upper() in want])
            wanted = names if columns is None else [c for c in names if c in set(columns)]
            data = hdu.read(columns=wanted) if nrows > 0 and wanted else None
        except DataError:
            raise
        except (OSError, IOError, ValueError, KeyError) as exc:
            raise DataError(f"cannot read CMF {p}: {_short(exc)}") from None
    exttype = str(psf_hdr.get("EXTTYPE", "") or "")
    version = dv_version(exttype)
    if version is None:
        if exttype and not exttype.upper().startswith("PS1_DV"):
            raise DataError(f"{p}: SkyChip.psf has EXTTYPE {exttype!r}, not a difference-image "
                            "format (PS1_DV1..PS1_DV5)")
        version = _infer_version(set(names), xfit_names)
        exttype = f"PS1_DV{version}"
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise DataError(f"{p}: SkyChip.psf lacks column(s) {', '.join(missing)}")
    cols, xfit = _columns(data, wanted, xfit_raw, nrows)
    img = header.get("IMAGEID")
    try:
        img = int(img) if img not in (None, "") else None
    except (TypeError, ValueError):
        img = None
    if not img:
        img = imageid
    sky = header.get("SKYCELL") or hdr_hdu.get("SKYCELL") or skycell_id
    if not sky:
        parsed = parse_skycell_id(os.path.basename(p))
        if parsed:
            sky = f"skycell.{parsed[0]:04d}.{parsed[1]:03d}"
    sky = str(sky) if sky else None
    geom = geometry_from_header(header, sky) or geometry_from_header({**hdr_hdu, **{
        k: v for k, v in header.items() if k.startswith("IMNAXIS")}}, sky)
    if geom is None and sky and parse_skycell_id(sky):
        try:
            geom = skycell_geometry(sky, str(header.get("TESS_ID") or DEFAULT_TESS))
        except DataError:
            geom = None
    naxis1 = _int(header.get("IMNAXIS1")) or _int(hdr_hdu.get("IMNAXIS1")) or (geom.naxis1 if geom else 0)
    naxis2 = _int(header.get("IMNAXIS2")) or _int(hdr_hdu.get("IMNAXIS2")) or (geom.naxis2 if geom else 0)
    if geom is not None and (geom.naxis1 == 0 or geom.naxis2 == 0):
        from dataclasses import replace

        geom = replace(geom, naxis1=naxis1, naxis2=naxis2)
    return CmfCatalog(path=p, header=header, version=version, exttype=exttype, nrows=nrows,
                      columns=cols, xfit=xfit, has_xfit=xfit_raw is not None, imageid=img,
                      skycell_id=sky, geometry=geom, naxis1=naxis1, naxis2=naxis2)


def _columns(data, wanted: list[str], xfit_raw, nrows: int) -> tuple[dict, dict]:
    """SkyChip.psf columns by name in native byte order, and the SkyChip.xfit
    columns aligned to them."""
    import numpy as np

    cols: dict[str, Any] = {}
    if data is not None:
        for n in data.dtype.names:
            cols[n.upper()] = _native(data[n])
    else:
        # empty table: typed empty columns
        types = {n: t for n, t, _ in PSF_COLUMNS}
        for n in wanted:
            cols[n] = np.zeros(0, dtype=types.get(n, "f4"))
    xfit: dict[str, Any] = {}
    if xfit_raw is not None and nrows > 0 and "IPP_IDET" in cols:
        xfit = _align_xfit(cols["IPP_IDET"], xfit_raw, nrows)
    return cols, xfit


def read_cmf_tables(cat: CmfCatalog) -> CmfCatalog:
    """*cat* (from :func:`read_cmf`) with every SkyChip.psf and SkyChip.xfit
    column read from its file; the headers are not read again. DataError if
    the file cannot be read or no longer has the rows it had."""
    import fitsio

    p = cat.path
    try:
        with fitsio.FITS(p) as f:
            hdu = f["SkyChip.psf"]
            names = [n.upper() for n in hdu.get_colnames()]
            nrows = int(hdu.get_nrows())
            data = hdu.read() if nrows > 0 and names else None
            xfit_raw = None
            if "SkyChip.xfit" in f:
                xh = f["SkyChip.xfit"]
                if xh.get_exttype() in ("BINARY_TBL", "ASCII_TBL") and xh.get_nrows() > 0:
                    xfit_raw = xh.read()
    except (OSError, IOError, ValueError, KeyError) as exc:
        raise DataError(f"cannot read CMF {p}: {_short(exc)}") from None
    if nrows != cat.nrows:
        raise DataError(f"{p}: SkyChip.psf has {nrows} rows, {cat.nrows} when first read (file changed?)")
    cols, xfit = _columns(data, names, xfit_raw, nrows)
    from dataclasses import replace

    return replace(cat, columns=cols, xfit=xfit, has_xfit=xfit_raw is not None)


def _int(v) -> int:
    try:
        return int(v) if v not in (None, "") else 0
    except (TypeError, ValueError):
        return 0


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] if text else type(exc).__name__


def _align_xfit(psf_ids, xfit_raw, nrows: int) -> dict[str, Any]:
    """Spread xfit rows onto the psf rows with the same IPP_IDET."""
    import numpy as np

    names = [n.upper() for n in xfit_raw.dtype.names]
    if "IPP_IDET" not in names:
        return {}
    xids = _native(xfit_raw[xfit_raw.dtype.names[names.index("IPP_IDET")]]).astype("i8")
    pids = psf_ids.astype("i8")
    if len(pids) and np.array_equal(pids, np.arange(len(pids))):
        ok = (xids >= 0) & (xids < nrows)
        target = xids[ok]
    else:
        order = np.argsort(pids, kind="stable")
        pos = np.searchsorted(pids, xids, sorter=order)
        pos = np.clip(pos, 0, max(len(pids) - 1, 0))
        ok = pids[order[pos]] == xids if len(pids) else np.zeros(len(xids), bool)
        target = order[pos[ok]]
    out: dict[str, Any] = {}
    for raw_name, name in zip(xfit_raw.dtype.names, names):
        if name == "IPP_IDET":
            continue
        src = _native(xfit_raw[raw_name])
        if src.ndim != 1:
            continue
        fill = np.nan if src.dtype.kind == "f" else 0
        col = np.full(nrows, fill, dtype=src.dtype)
        col[target] = src[ok]
        out[name] = col
    has = np.zeros(nrows, dtype=bool)
    has[target] = True
    out["_HAS_XFIT"] = has
    return out


