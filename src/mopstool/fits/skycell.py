"""Skycell geometry: the WCS of a diff skycell and the synthetic RINGS.V3-like tessellation.

Every pixel <-> sky conversion goes through astropy.wcs. IPP headers are
normalised first: psLib writes the rotation as ``PC001001 .. PC002002`` with
``CDELT1/2`` (and prefers them over ``CDi_j`` when both are present); psLib's
matrix scales PC001002 and PC002002 by CDELT2 and PC001001 and PC002001 by
CDELT1 (column scaling), which the normaliser turns into a CD matrix before
astropy sees it. Plain FITS ``PCi_j`` keywords keep their FITS meaning.

Pixel convention: X_PSF/Y_PSF are psLib chip coordinates: the image spans
0..NAXIS, pixel ``i`` has its centre at ``i + 0.5``, and psLib applies the WCS to
``x - CRPIX`` without an offset; so a CMF coordinate is an astropy pixel
coordinate with origin 1. The skycell centre (NAXIS1/2, NAXIS2/2) is the point
ppMops measures distances from.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from mopstool.errors import DataError

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
    """A skycell image: size and a celestial WCS with a CD matrix (degrees/px).

    Pixel methods take and give CMF (psLib) coordinates, converted with astropy.wcs
    at origin 1 (see the module docstring)."""

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
    ctype1: str = "RA---TAN"
    ctype2: str = "DEC--TAN"

    @cached_property
    def wcs(self):
        """The astropy WCS of this geometry."""
        from astropy.wcs import WCS

        w = WCS(naxis=2)
        w.wcs.ctype = [self.ctype1, self.ctype2]
        w.wcs.crval = [self.crval1, self.crval2]
        w.wcs.crpix = [self.crpix1, self.crpix2]
        w.wcs.cd = [[self.cd11, self.cd12], [self.cd21, self.cd22]]
        w.wcs.set()
        return w

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

        ra, dec = self.wcs.all_pix2world(np.asarray(x, dtype="f8"), np.asarray(y, dtype="f8"), 1)
        return np.mod(ra, 360.0), dec

    def sky_to_pix(self, ra, dec):
        """(RA, Dec) in degrees -> CMF pixel coordinates."""
        import numpy as np

        return self.wcs.all_world2pix(np.asarray(ra, dtype="f8"), np.asarray(dec, dtype="f8"), 1)

    def contains(self, x, y):
        import numpy as np

        x, y = np.asarray(x), np.asarray(y)
        return (x >= 0) & (x < self.naxis1) & (y >= 0) & (y < self.naxis2)

    def header_cards(self, *, style: str = "cd") -> list[tuple[str, Any, str]]:
        """WCS and image-size keywords for a CMF header: a CD matrix (*style* 'cd'),
        or psLib's spelling (*style* 'pslib': CDELT1/2 with PC001001..PC002002)."""
        if style == "pslib":
            c1 = math.hypot(self.cd11, self.cd21)
            c2 = math.hypot(self.cd12, self.cd22)
            return [
                ("IMNAXIS1", self.naxis1, "skycell image width, pixels"),
                ("IMNAXIS2", self.naxis2, "skycell image height, pixels"),
                ("CTYPE1", self.ctype1, ""), ("CTYPE2", self.ctype2, ""),
                ("CRVAL1", self.crval1, ""), ("CRVAL2", self.crval2, ""),
                ("CRPIX1", self.crpix1, ""), ("CRPIX2", self.crpix2, ""),
                ("CDELT1", c1, ""), ("CDELT2", c2, ""),
                ("PC001001", self.cd11 / c1, ""), ("PC001002", self.cd12 / c2, ""),
                ("PC002001", self.cd21 / c1, ""), ("PC002002", self.cd22 / c2, ""),
            ]
        return [
            ("IMNAXIS1", self.naxis1, "skycell image width, pixels"),
            ("IMNAXIS2", self.naxis2, "skycell image height, pixels"),
            ("CTYPE1", self.ctype1, "projection"),
            ("CTYPE2", self.ctype2, "projection"),
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
    # CMF coordinate of the tangent point in this skycell (= CRPIX, psLib convention)
    x0 = half - (col * SKYCELL_STEP - SKYCELL_MARGIN)
    y0 = half - (row * SKYCELL_STEP - SKYCELL_MARGIN)
    scale = PLATE_SCALE / 3600.0
    return SkycellGeometry(skycell_id=f"skycell.{cell:04d}.{sub:03d}", naxis1=SKYCELL_NAXIS,
                           naxis2=SKYCELL_NAXIS, crval1=ra0, crval2=dec0, crpix1=x0,
                           crpix2=y0, cd11=-scale, cd12=0.0, cd21=0.0, cd22=scale,
                           tess_id=tess_id, source="synthetic")


def _f(header: dict, key: str, default: float | None = None) -> float:
    v = header.get(key, default)
    if v is None or v == "":
        raise KeyError(key)
    return float(v)


def normalise_wcs(header: dict) -> dict | None:
    """The celestial WCS of a header as CTYPE/CRVAL/CRPIX/CD keywords (psLib's
    precedence: PC00i00j with CDELT, then CDi_j, then FITS PCi_j with CDELT, then
    CDELT with CROTA2), or None when the header has none."""
    try:
        ctype1, ctype2 = str(header["CTYPE1"]).strip(), str(header["CTYPE2"]).strip()
        out = {"CTYPE1": ctype1, "CTYPE2": ctype2, "CRVAL1": _f(header, "CRVAL1"),
               "CRVAL2": _f(header, "CRVAL2"), "CRPIX1": _f(header, "CRPIX1"),
               "CRPIX2": _f(header, "CRPIX2")}
        if "PC001001" in header:
            c1, c2 = _f(header, "CDELT1"), _f(header, "CDELT2")
            if header.get("CROTA2") not in (None, ""):
                rot = math.radians(_f(header, "CROTA2"))
                cd = [c1 * math.cos(rot), -c2 * math.sin(rot), c1 * math.sin(rot), c2 * math.cos(rot)]
            else:
                cd = [c1 * _f(header, "PC001001", 0.0), c2 * _f(header, "PC001002", 0.0),
                      c1 * _f(header, "PC002001", 0.0), c2 * _f(header, "PC002002", 0.0)]
        elif "CD1_1" in header or "CD2_2" in header:
            cd = [_f(header, k, 0.0) for k in ("CD1_1", "CD1_2", "CD2_1", "CD2_2")]
        elif "CDELT1" in header:
            c1, c2 = _f(header, "CDELT1"), _f(header, "CDELT2")
            if any(k in header for k in ("PC1_1", "PC1_2", "PC2_1", "PC2_2")):
                pc = [_f(header, k, d) for k, d in (("PC1_1", 1.0), ("PC1_2", 0.0),
                                                    ("PC2_1", 0.0), ("PC2_2", 1.0))]
                cd = [c1 * pc[0], c1 * pc[1], c2 * pc[2], c2 * pc[3]]
            else:
                rot = math.radians(_f(header, "CROTA2", 0.0))
                cd = [c1 * math.cos(rot), -c2 * math.sin(rot), c1 * math.sin(rot), c2 * math.cos(rot)]
        else:
            return None
    except (KeyError, TypeError, ValueError):
        return None
    if cd[0] * cd[3] - cd[1] * cd[2] == 0:
        return None
    out.update(zip(("CD1_1", "CD1_2", "CD2_1", "CD2_2"), cd))
    return out


def geometry_from_header(header: dict, skycell_id: str | None = None) -> SkycellGeometry | None:
    """The celestial WCS of a header (see :func:`normalise_wcs`), or None when it has none
    or astropy.wcs finds no celestial axes in it."""
    norm = normalise_wcs(header)
    if norm is None:
        return None
    try:
        naxis1 = int(header.get("IMNAXIS1") or header.get("ZNAXIS1") or header.get("NAXIS1") or 0)
        naxis2 = int(header.get("IMNAXIS2") or header.get("ZNAXIS2") or header.get("NAXIS2") or 0)
    except (TypeError, ValueError):
        return None
    geom = SkycellGeometry(skycell_id=skycell_id or "", naxis1=naxis1, naxis2=naxis2,
                           crval1=norm["CRVAL1"], crval2=norm["CRVAL2"], crpix1=norm["CRPIX1"],
                           crpix2=norm["CRPIX2"], cd11=norm["CD1_1"], cd12=norm["CD1_2"],
                           cd21=norm["CD2_1"], cd22=norm["CD2_2"], source="header",
                           ctype1=norm["CTYPE1"], ctype2=norm["CTYPE2"])
    try:
        if not geom.wcs.has_celestial:
            return None
    except Exception:  # noqa: BLE001 - astropy refuses the keywords: no usable WCS
        return None
    return geom


# --------------------------------------------------------------------- sexagesimal
def format_ra(deg: float) -> str:
    """Degrees -> 'HH:MM:SS.sss' (astropy)."""
    import astropy.units as u
    from astropy.coordinates import Longitude

    text = Longitude(float(deg) * u.deg).to_string(unit=u.hourangle, sep=":", precision=3, pad=True)
    # 23:59:59.9996 rounds up to 24:00:00.000, which is 00:00:00.000
    return "00" + text[2:] if text.startswith("24:") else text


def format_dec(deg: float) -> str:
    """Degrees -> '+DD:MM:SS.ss' (astropy)."""
    import astropy.units as u
    from astropy.coordinates import Angle

    return Angle(float(deg) * u.deg).to_string(unit=u.deg, sep=":", precision=2, pad=True,
                                               alwayssign=True)
