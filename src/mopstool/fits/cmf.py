"""Diff CMF catalogs (psphot output for difference images): reading, and a
synthetic writer used by the tests, the benchmark and the demo.

A diff CMF is a multi-extension FITS file: a primary header (IMAGEID, FPA.*
exposure keywords, IMNAXIS1/2, ...), an optional ``SkyChip.hdr`` header, the
detection table ``SkyChip.psf`` whose EXTTYPE names the format (PS1_DV1 ..
PS1_DV5) and, from PS1_DV2 on, an optional ``SkyChip.xfit`` table of extended
(trail) fits keyed by IPP_IDET.

Skycell geometry: the RINGS.V3 tessellation table is not available here, so
:func:`skycell_geometry` defines a synthetic one with the same structure (see
its docstring). The synthetic writer puts that geometry into the CMF headers
as a TAN WCS; the reader uses the header WCS when there is one and falls back
to :func:`skycell_geometry` when a header lacks it.

Pixel convention: X_PSF/Y_PSF are CMF pixel coordinates in which the image
spans 0..NAXIS, so FITS pixel coordinate = x + 0.5 and the skycell centre is
(NAXIS1/2, NAXIS2/2), the point ppMops measures distances from.
"""

from __future__ import annotations

import math
import os
import re
import zlib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

from mopstool.errors import DataError

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
    ("Y_EXT_SIG", "f4", 2), ("RA_EXT", "f8", 3), ("DEC_EXT", "f8", 3), ("EXT_INST_MAG", "f4", 2),
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


# --------------------------------------------------------------------- skycell geometry
PLATE_SCALE = 0.25            #: arcsec per skycell pixel
PROJ_CELL_DEG = 4.0           #: projection cell size and declination ring spacing, degrees
SKYCELL_GRID = 10             #: a projection cell holds 10 x 10 skycells
SKYCELL_STEP = int(round(PROJ_CELL_DEG * 3600 / PLATE_SCALE / SKYCELL_GRID))   # 5760 px
SKYCELL_MARGIN = 120          #: overlap with each neighbour, px (240 px = 60" shared strip)
SKYCELL_NAXIS = SKYCELL_STEP + 2 * SKYCELL_MARGIN                              # 6000 px
DEFAULT_TESS = "RINGS.V3"

_SKYCELL_RE = re.compile(r"skycell\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class SkycellGeometry:
    """A skycell image: size and a gnomonic (TAN) WCS with a CD matrix (degrees/px).

    crpix is in FITS convention (1-based); pixel methods take CMF coordinates
    (FITS = CMF + 0.5)."""

    skycell_id: str
    naxis1: int
    naxis2: int
    crval1: float
    crval2: float
    crpix1: float
    crpix2: float
    cd11: float
    cd12: float
    cd21: float
    cd22: float
    tess_id: str = DEFAULT_TESS
    source: str = "synthetic"     # 'synthetic' (skycell_geometry) or 'header'

    @property
    def centre_pixel(self) -> tuple[float, float]:
        return self.naxis1 / 2.0, self.naxis2 / 2.0

    @property
    def plate_scale(self) -> float:
        """arcsec per pixel (geometric mean of the CD matrix)."""
        return math.sqrt(abs(self.cd11 * self.cd22 - self.cd12 * self.cd21)) * 3600.0

    def centre_sky(self) -> tuple[float, float]:
        ra, dec = self.pix_to_sky(*self.centre_pixel)
        return float(ra), float(dec)

    def pix_to_sky(self, x, y):
        """CMF pixel coordinates -> (RA, Dec) in degrees (numpy arrays or scalars)."""
        import numpy as np

        dx = np.asarray(x, dtype="f8") + 0.5 - self.crpix1
        dy = np.asarray(y, dtype="f8") + 0.5 - self.crpix2
        xi = np.radians(self.cd11 * dx + self.cd12 * dy)
        eta = np.radians(self.cd21 * dx + self.cd22 * dy)
        a0, d0 = math.radians(self.crval1), math.radians(self.crval2)
        den = math.cos(d0) - eta * math.sin(d0)
        ra = np.degrees(a0 + np.arctan2(xi, den)) % 360.0
        dec = np.degrees(np.arctan2(math.sin(d0) + eta * math.cos(d0), np.hypot(xi, den)))
        return ra, dec

    def sky_to_pix(self, ra, dec):
        """(RA, Dec) in degrees -> CMF pixel coordinates."""
        import numpy as np

        a = np.radians(np.asarray(ra, dtype="f8"))
        d = np.radians(np.asarray(dec, dtype="f8"))
        a0, d0 = math.radians(self.crval1), math.radians(self.crval2)
        cosc = math.sin(d0) * np.sin(d) + math.cos(d0) * np.cos(d) * np.cos(a - a0)
        xi = np.degrees(np.cos(d) * np.sin(a - a0) / cosc)
        eta = np.degrees((math.cos(d0) * np.sin(d) - math.sin(d0) * np.cos(d) * np.cos(a - a0)) / cosc)
        det = self.cd11 * self.cd22 - self.cd12 * self.cd21
        dx = (self.cd22 * xi - self.cd12 * eta) / det
        dy = (-self.cd21 * xi + self.cd11 * eta) / det
        return dx + self.crpix1 - 0.5, dy + self.crpix2 - 0.5

    def contains(self, x, y):
        import numpy as np

        x, y = np.asarray(x), np.asarray(y)
        return (x >= 0) & (x < self.naxis1) & (y >= 0) & (y < self.naxis2)

    def header_cards(self) -> list[tuple[str, Any, str]]:
        """TAN WCS and image-size keywords for a CMF header."""
        return [
            ("IMNAXIS1", self.naxis1, "skycell image width, pixels"),
            ("IMNAXIS2", self.naxis2, "skycell image height, pixels"),
            ("CTYPE1", "RA---TAN", "gnomonic projection"),
            ("CTYPE2", "DEC--TAN", "gnomonic projection"),
            ("CRVAL1", self.crval1, "projection centre RA, degrees"),
            ("CRVAL2", self.crval2, "projection centre Dec, degrees"),
            ("CRPIX1", self.crpix1, "reference pixel x"),
            ("CRPIX2", self.crpix2, "reference pixel y"),
            ("CD1_1", self.cd11, "degrees per pixel"),
            ("CD1_2", self.cd12, "degrees per pixel"),
            ("CD2_1", self.cd21, "degrees per pixel"),
            ("CD2_2", self.cd22, "degrees per pixel"),
            ("CUNIT1", "deg", ""),
            ("CUNIT2", "deg", ""),
        ]


def parse_skycell_id(text: str) -> tuple[int, int] | None:
    """'skycell.1234.056' (or a path holding it) -> (1234, 56)."""
    m = _SKYCELL_RE.search(text or "")
    if not m:
        return None
    return int(m.group(1)), int(m.group(2))


@lru_cache(maxsize=1)
def _rings() -> tuple[tuple[float, int, int], ...]:
    """(declination, number of cells, first cell number) of each declination ring."""
    rings = []
    first = 0
    n_rings = int(round(180 / PROJ_CELL_DEG))
    for r in range(n_rings + 1):
        dec = -90.0 + PROJ_CELL_DEG * r
        n = 1 if abs(dec) >= 90.0 else int(math.ceil(360.0 * math.cos(math.radians(dec)) / PROJ_CELL_DEG))
        rings.append((dec, n, first))
        first += n
    return tuple(rings)


def projection_cell_count() -> int:
    dec, n, first = _rings()[-1]
    return first + n


def projection_cell_centre(cell: int) -> tuple[float, float]:
    """(RA, Dec) of a synthetic projection cell's tangent point, degrees."""
    for dec, n, first in _rings():
        if first <= cell < first + n:
            return (360.0 * (cell - first) / n, dec)
    raise DataError(f"skycell projection cell {cell} is outside the synthetic "
                    f"{DEFAULT_TESS} tessellation (0..{projection_cell_count() - 1})")


def skycell_geometry(skycell_id: str, tess_id: str = DEFAULT_TESS) -> SkycellGeometry:
    """The synthetic RINGS.V3-like geometry of ``skycell.PPPP.SSS``.

    Projection cells lie on declination rings 4 degrees apart (ring 0 at the
    south pole, one cell at each pole), with ceil(360 cos(dec) / 4) cells per
    ring numbered from 0 upward in RA from the south pole. Each projection cell
    is one TAN projection about its centre, divided into 10 x 10 skycells;
    skycell SSS sits in row SSS // 10 and column SSS % 10 (row 0 at the south,
    column 0 at the west, so RA falls as x grows). A skycell is 6000 x 6000
    pixels of 0.25" that share the projection of their cell: the pitch is
    5760 px and neighbouring skycells overlap by 240 px (60")."""
    parsed = parse_skycell_id(skycell_id)
    if parsed is None:
        raise DataError(f"cannot place skycell {skycell_id!r}: expected a name like skycell.1234.056")
    cell, sub = parsed
    if not 0 <= sub < SKYCELL_GRID * SKYCELL_GRID:
        raise DataError(f"skycell {skycell_id!r}: sub-cell {sub} is outside 0..99")
    ra0, dec0 = projection_cell_centre(cell)
    row, col = divmod(sub, SKYCELL_GRID)
    half = SKYCELL_GRID * SKYCELL_STEP / 2.0
    # CMF coordinate of the tangent point in this skycell; FITS crpix = that + 0.5
    x0 = half - (col * SKYCELL_STEP - SKYCELL_MARGIN)
    y0 = half - (row * SKYCELL_STEP - SKYCELL_MARGIN)
    scale = PLATE_SCALE / 3600.0
    return SkycellGeometry(skycell_id=f"skycell.{cell:04d}.{sub:03d}", naxis1=SKYCELL_NAXIS,
                           naxis2=SKYCELL_NAXIS, crval1=ra0, crval2=dec0, crpix1=x0 + 0.5,
                           crpix2=y0 + 0.5, cd11=-scale, cd12=0.0, cd21=0.0, cd22=scale,
                           tess_id=tess_id, source="synthetic")


def geometry_from_header(header: dict, skycell_id: str | None = None) -> SkycellGeometry | None:
    """The TAN WCS of a header (CD matrix or CDELT/PC), or None when it has none."""
    ctype1 = str(header.get("CTYPE1", "")).upper()
    if not ctype1.startswith("RA---TAN"):
        return None
    try:
        crval1, crval2 = float(header["CRVAL1"]), float(header["CRVAL2"])
        crpix1, crpix2 = float(header["CRPIX1"]), float(header["CRPIX2"])
        if "CD1_1" in header:
            cd = [float(header.get(k, 0.0) or 0.0) for k in ("CD1_1", "CD1_2", "CD2_1", "CD2_2")]
        else:
            c1, c2 = float(header["CDELT1"]), float(header["CDELT2"])
            pc = [float(header.get(k, d)) for k, d in (("PC1_1", 1.0), ("PC1_2", 0.0),
                                                        ("PC2_1", 0.0), ("PC2_2", 1.0))]
            cd = [c1 * pc[0], c1 * pc[1], c2 * pc[2], c2 * pc[3]]
        naxis1 = int(header.get("IMNAXIS1") or header.get("ZNAXIS1") or header.get("NAXIS1") or 0)
        naxis2 = int(header.get("IMNAXIS2") or header.get("ZNAXIS2") or header.get("NAXIS2") or 0)
    except (KeyError, TypeError, ValueError):
        return None
    if cd[0] * cd[3] - cd[1] * cd[2] == 0:
        return None
    return SkycellGeometry(skycell_id=skycell_id or "", naxis1=naxis1, naxis2=naxis2, crval1=crval1,
                           crval2=crval2, crpix1=crpix1, crpix2=crpix2, cd11=cd[0], cd12=cd[1],
                           cd21=cd[2], cd22=cd[3], source="header")


# --------------------------------------------------------------------- sexagesimal
def format_ra(deg: float) -> str:
    """Degrees -> 'HH:MM:SS.sss'."""
    total = round((deg % 360.0) / 15.0 * 3600.0 * 1000)
    h, rest = divmod(total, 3600 * 1000)
    m, rest = divmod(rest, 60 * 1000)
    return f"{int(h) % 24:02d}:{int(m):02d}:{rest / 1000:06.3f}"


def format_dec(deg: float) -> str:
    """Degrees -> '+DD:MM:SS.ss'."""
    sign = "-" if deg < 0 else "+"
    total = round(abs(deg) * 3600.0 * 100)
    d, rest = divmod(total, 3600 * 100)
    m, rest = divmod(rest, 60 * 100)
    return f"{sign}{int(d):02d}:{int(m):02d}:{rest / 100:05.2f}"


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
             read_xfit: bool = True) -> CmfCatalog:
    """Read a diff CMF. *columns* limits the SkyChip.psf columns read (all by
    default; missing ones are simply absent). *imageid* / *skycell_id* are
    used when the header lacks IMAGEID / SKYCELL. Any unreadable or malformed
    file raises DataError naming the path."""
    import fitsio
    import numpy as np

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
                xfit_names = {n.upper() for n in xh.get_colnames()}
                if xh.get_nrows() > 0:
                    xfit_raw = xh.read()
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
              xfit: dict[str, Any] | None = None, hdr_cards: Any = None) -> Path:
    """Write a diff CMF: primary header, SkyChip.hdr, SkyChip.psf (EXTTYPE
    PS1_DV<version>) and, when given, SkyChip.xfit. Columns of *psf* are
    written in the DV layout order (extra names after them)."""
    import fitsio
    import numpy as np

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    order = [n for n, _, _ in PSF_COLUMNS if n in psf] + [n for n in psf if n not in
                                                            {c for c, _, _ in PSF_COLUMNS}]
    table = _structured(psf, order)
    tmp = p.with_name(p.name + ".tmp")
    with fitsio.FITS(str(tmp), "rw", clobber=True) as f:
        f.write(None, header=_card_list(primary))
        f.create_image_hdu(dims=[0], dtype="u1", extname="SkyChip.hdr")
        if hdr_cards:
            f[-1].write_keys(_card_list(hdr_cards))
        f.write(table, extname="SkyChip.psf", header=_card_list([
            ("EXTTYPE", f"PS1_DV{version}", "CMF format"), ("EXTHEAD", "SkyChip.hdr", "")]))
        if xfit is not None:
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
                       wcs: bool = True, extra: Any = None) -> list[tuple[str, Any, str]]:
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
        cards += geom.header_cards()
    else:
        cards += [("IMNAXIS1", geom.naxis1, "skycell width"), ("IMNAXIS2", geom.naxis2, "skycell height")]
    if extra:
        cards += list(extra.items()) if isinstance(extra, dict) else list(extra)
    return cards


def write_synthetic_cmf(path: str | os.PathLike, skycell_id: str, *, imageid: int, n: int = 200,
                        version: int = 5, seed: Any = 0, ws: bool = False, xfit: bool = True,
                        wcs: bool = True, header: dict | None = None,
                        chip_nums: Iterable[int] | None = None) -> dict[str, Any]:
    """Write one realistic diff CMF for *skycell_id* and return its psf columns."""
    geom = skycell_geometry(skycell_id)
    rng = _rng(seed)
    psf = synthetic_psf_table(geom, n, version=version, seed=rng, ws=ws, chip_nums=chip_nums)
    xf = synthetic_xfit_table(geom, psf, version=version, seed=rng) if xfit and version >= 2 else None
    write_cmf(path, primary=cmf_primary_header(geom, imageid=imageid, wcs=wcs, **(header or {})),
              psf=psf, version=version, xfit=xf, hdr_cards=geom.header_cards() if wcs else [])
    return psf


# --------------------------------------------------------------------- the demo
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


def write_demo_cmfs(conn, files_dir: str | os.PathLike) -> int:
    """Write synthetic diff CMFs for the demo's diffs and return how many files.

    Every diffSkyfile with data_state 'full', fault 0 and a path_base under
    *files_dir* gets ``<path_base>.cmf`` (PS1_DV5) and, for diffs made both
    ways, ``<path_base>.inv.cmf`` (the second exposure's detections). WS diffs
    (diff_mode 2) get PS1_DV5 tables with some rows failing the WS DIFF_* cuts.
    Detections are placed on the skycell's area with a seed from diff_id and
    skycell, with a few flagged rows, a few NaNs, and a few sources repeated
    in the overlap of neighbouring skycells of the same diff."""
    import numpy as np
    from sqlalchemy import and_, select

    from mopstool.db import schema
    from mopstool.ops.mopscat.build import exposures_for_warps, skycell_chips

    prefix = str(files_dir)
    ds, di, dr = schema.diffSkyfile, schema.diffInputSkyfile, schema.diffRun
    rows = conn.execute(
        select(ds.c.diff_id, ds.c.skycell_id, ds.c.path_base, ds.c.sources, di.c.diff_skyfile_id,
               di.c.warp1, di.c.warp2, dr.c.diff_mode, dr.c.bothways, dr.c.tess_id)
        .select_from(ds.join(dr, dr.c.diff_id == ds.c.diff_id).outerjoin(
            di, and_(di.c.diff_id == ds.c.diff_id, di.c.skycell_id == ds.c.skycell_id)))
        .where(ds.c.data_state == "full", ds.c.fault == 0,
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
    for (warp, mode, suffix), items in catalogs.items():
        geoms = {}
        for r in items:
            try:
                geoms[r["skycell_id"]] = skycell_geometry(r["skycell_id"], r["tess_id"] or DEFAULT_TESS)
            except DataError:
                continue
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
            n = int(min(max(r["sources"] or 500, 50), 3000))
            seed = _stable_seed(r["diff_id"], sc, suffix)
            psf = _demo_table(geom, n, ws=mode == 2, seed=seed, chip_nums=nums or None, shared=sh_arr)
            xf = synthetic_xfit_table(geom, psf, version=5, seed=seed + 1, fraction=0.2)
            hdr = cmf_primary_header(geom, imageid=int(r["diff_skyfile_id"] or 0),
                                     **_demo_exposure_header(exp))
            write_cmf(f"{r['path_base']}.{suffix}", primary=hdr, psf=psf, version=5, xfit=xf,
                      hdr_cards=geom.header_cards())
            written += 1
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
