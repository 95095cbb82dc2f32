"""Source images for stamps: an image and its mask/variance planes opened for
ROI reads, and a synthetic image writer for the tests and the benchmark.

Pixel coordinates are psLib's (ppstamp's): pixel ``i`` spans ``[i, i + 1)``
(centre ``i + 0.5``) and the WCS applies to ``x - CRPIX`` without an offset, so
a psLib coordinate is an astropy pixel coordinate with origin 1. psLib's WCS
spelling (CDELT with PC001001..PC002002) is normalised before astropy.wcs sees
it (:func:`mopstool.fits.skycell.normalise_wcs`).

Integer planes are read as stored: BZERO/BSCALE are undone after the read so a
stamp keeps the source's type and scaling; unsigned 16/32-bit images (the
BZERO = 2^(n-1) convention) come back unsigned.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mopstool.errors import DataError, UsageError

#: extension names recognised for the three planes
IMAGE_NAMES = ("IMAGE", "SCI", "SCIENCE", "PRIMARY", "")
MASK_NAMES = ("MASK", "MK", "BPM", "FLAGS")
VARIANCE_NAMES = ("VARIANCE", "VAR", "WEIGHT", "WT", "WHT")
#: sibling files of an image holding its mask / variance
MASK_SUFFIXES = (".mk.fits", ".mask.fits")
VARIANCE_SUFFIXES = (".wt.fits", ".var.fits", ".variance.fits", ".weight.fits")

@dataclass
class Plane:
    path: str
    hdu: int
    header: Any          # astropy Header
    shape: tuple[int, int]
    truncated: str = ""  # why the pixels cannot be read in full ('' when they can)

    def __post_init__(self):
        h = self.header
        #: BITPIX and (BSCALE, BZERO, BLANK) of the plane, read once
        self.bitpix = int(h.get("BITPIX", -32))
        self.scaling = (float(h.get("BSCALE", 1.0) or 1.0), float(h.get("BZERO", 0.0) or 0.0), h.get("BLANK"))

    @property
    def unsigned(self) -> bool:
        """The BZERO = 2^(BITPIX-1), BSCALE = 1 convention: fitsio reads it unsigned."""
        bscale, bzero, _ = self.scaling
        return self.bitpix in (16, 32, 64) and bscale == 1.0 and bzero == float(1 << (self.bitpix - 1))

    @property
    def scaled(self) -> bool:
        bscale, bzero, _ = self.scaling
        return self.bitpix > 0 and not self.unsigned and (bscale != 1.0 or bzero != 0.0)

    @property
    def raw_dtype(self):
        import numpy as np

        if self.bitpix < 0:
            return np.dtype("f4" if self.bitpix == -32 else "f8")
        if self.unsigned:
            return np.dtype(f"u{self.bitpix // 8}")
        return np.dtype("u1" if self.bitpix == 8 else f"i{self.bitpix // 8}")

    def scale_cards(self) -> list[tuple[str, Any]]:
        """BSCALE/BZERO/BLANK a stamp of this plane carries (the unsigned convention
        is written by fitsio itself)."""
        if self.bitpix < 0:
            return []
        bscale, bzero, blank = self.scaling
        out = []
        if self.scaled:
            out += [("BSCALE", bscale), ("BZERO", bzero)]
        if blank is not None:
            out.append(("BLANK", int(blank)))
        return out


def _truncation(hdu, size: int) -> str:
    """'' when the data of an uncompressed image HDU lie within the file, else why not."""
    from astropy.io import fits

    if isinstance(hdu, fits.CompImageHDU):
        return ""
    try:
        loc = int(hdu.fileinfo()["datLoc"])
    except Exception:  # noqa: BLE001 - no file information: nothing to check
        return ""
    h = hdu.header
    need = abs(int(h.get("BITPIX", 8))) // 8 * int(h.get("NAXIS1", 0)) * int(h.get("NAXIS2", 0))
    if loc + need > size:
        return f"truncated: {size} bytes, the header needs {loc + need}"
    return ""


def _sibling(path: Path, suffixes: tuple[str, ...]) -> Path | None:
    name = path.name
    for ext in (".fits", ".fit", ".fits.fz"):
        if name.endswith(ext):
            base = name[: -len(ext)]
            for s in suffixes:
                cand = path.with_name(base + s)
                if cand.is_file() and cand != path:
                    return cand
    return None


def is_sibling_plane(path: Path) -> bool:
    name = Path(path).name.lower()
    return name.endswith(MASK_SUFFIXES + VARIANCE_SUFFIXES)


class ImageSource:
    """An image (and its mask/variance when present) opened for ROI reads.

    Headers are read with astropy (no pixel data); pixels with fitsio subset
    reads of just the rows and columns of each stamp."""

    def __init__(self, path: str | Path, *, hdu: int | str | None = None,
                 mask: str | Path | None = None, variance: str | Path | None = None,
                 siblings: bool = True):
        import warnings

        from astropy.io import fits
        from astropy.utils.exceptions import AstropyUserWarning

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file")
        self.planes: dict[str, Plane] = {}
        try:
            size = self.path.stat().st_size
            with warnings.catch_warnings():
                # a truncated file is reported below, naming the file
                warnings.simplefilter("ignore", AstropyUserWarning)
                hdul = fits.open(self.path, memmap=False, lazy_load_hdus=True)
                hdus = list(hdul)
            with hdul:
                self.phu = hdul[0].header.copy()
                headers = []
                cut: dict[int, str] = {}
                for i, h in enumerate(hdus):
                    if _is_image(h):
                        headers.append((i, str(h.header.get("EXTNAME", "")).strip().upper(),
                                        h.header.copy(), _shape(h.header)))
                        cut[i] = _truncation(h, size)
        except Exception as exc:  # noqa: BLE001 - unreadable file
            raise DataError(f"{self.path}: not a readable FITS image ({exc})") from None
        if not headers:
            raise DataError(f"{self.path}: no 2-D image in the file")
        chosen = None
        if hdu is not None:
            for i, name, hdr, shape in headers:
                if str(hdu).upper() in (str(i), name):
                    chosen = (i, hdr, shape)
            if chosen is None:
                raise UsageError(f"{self.path}: no image HDU {hdu!r}")
        else:
            for i, name, hdr, shape in headers:
                if name in IMAGE_NAMES or not (name in MASK_NAMES or name in VARIANCE_NAMES):
                    chosen = (i, hdr, shape)
                    break
            if chosen is None:
                chosen = headers[0][0], headers[0][2], headers[0][3]
        self.planes["image"] = Plane(str(self.path), chosen[0], chosen[1], chosen[2], cut[chosen[0]])
        for role, names in (("mask", MASK_NAMES), ("variance", VARIANCE_NAMES)):
            for i, name, hdr, shape in headers:
                if name in names and shape == chosen[2]:
                    self.planes[role] = Plane(str(self.path), i, hdr, shape, cut[i])
                    break
        for role, given, suffixes in (("mask", mask, MASK_SUFFIXES), ("variance", variance, VARIANCE_SUFFIXES)):
            if given:
                self.planes[role] = _first_plane(Path(given), chosen[2])
            elif role not in self.planes and siblings:
                sib = _sibling(self.path, suffixes)
                if sib is not None:
                    self.planes[role] = _first_plane(sib, chosen[2])
        self.header = self.planes["image"].header
        self.ny, self.nx = self.planes["image"].shape
        self._wcs = None
        self._fits: dict[str, Any] = {}

    # ---------------------------------------------------------------- metadata
    @property
    def truncated(self) -> str:
        """Why some plane's pixels cannot be read in full ('' when all can)."""
        return "; ".join(f"{Path(p.path).name}: {p.truncated}" for p in self.planes.values() if p.truncated)

    @property
    def wcs(self):
        if self._wcs is None:
            self._wcs = header_wcs(self.header, self.path)
        return self._wcs

    def keyword(self, *names: str) -> Any:
        for n in names:
            for h in (self.header, self.phu):
                if n in h and h[n] not in (None, ""):
                    return h[n]
        return None

    def pixels_exact_in_bulk(self) -> bool:
        """Whether pixels() of many positions at once gives exactly the values of one call
        per position: true without distortion terms, where astropy's conversion is the
        plain per-point WCS (the iterative distortion inversion depends on its batch)."""
        return not self.wcs.has_distortion

    @functools.cached_property
    def filter(self) -> str | None:
        v = self.keyword("FILTER", "FILTERID", "FPA.FILTER", "HIERARCH FPA.FILTER")
        return str(v).strip() if v is not None else None

    @functools.cached_property
    def mjd(self) -> float | None:
        v = self.keyword("MJD-OBS", "MJD_OBS", "MJD")
        try:
            return float(v) if v is not None else None
        except (TypeError, ValueError):
            return None

    def pixels(self, ra, dec):
        """psLib pixel coordinates of sky positions (arrays; see the module docstring)."""
        import numpy as np

        x, y = self.wcs.all_world2pix(np.atleast_1d(ra), np.atleast_1d(dec), 1)
        return x, y

    def sky(self, x, y):
        """Sky positions of psLib pixel coordinates."""
        import numpy as np

        ra, dec = self.wcs.all_pix2world(np.atleast_1d(x), np.atleast_1d(y), 1)
        return ra, dec

    def contains(self, x: float, y: float) -> bool:
        """ppstamp's test: the psLib coordinate lies in [0, NAXIS1) x [0, NAXIS2)."""
        return 0 <= x < self.nx and 0 <= y < self.ny

    # ---------------------------------------------------------------- pixels
    def _handle(self, plane: Plane):
        import fitsio

        key = plane.path
        if key not in self._fits:
            try:
                self._fits[key] = fitsio.FITS(plane.path)
            except Exception as exc:  # noqa: BLE001
                raise DataError(f"{plane.path}: cannot open ({exc})") from None
        return self._fits[key][plane.hdu]

    def read(self, role: str, x0: int, y0: int, width: int, height: int, fill: Any,
             window: tuple[int, int, int, int] | None = None):
        """A *width* x *height* stamp of a plane whose pixel (0, 0) is source pixel
        (*x0*, *y0*): the source pixels in *window* (xa, xb, ya, yb; default the
        overlap of the stamp with the image) are copied, the rest is *fill*. The
        stamp has the plane's stored type (see the module docstring)."""
        import numpy as np

        plane = self.planes[role]
        ny, nx = plane.shape
        if window is None:
            window = (max(x0, 0), min(x0 + width, nx), max(y0, 0), min(y0 + height, ny))
        xa, xb, ya, yb = window
        if plane.truncated:
            raise DataError(f"{plane.path}: {plane.truncated}")
        dtype = plane.raw_dtype
        part = None
        if xa < xb and ya < yb:
            try:
                part = self._handle(plane)[ya:yb, xa:xb]
            except (OSError, IOError, ValueError, RuntimeError) as exc:
                raise DataError(f"{plane.path}: cannot read pixels [{ya}:{yb}, {xa}:{xb}] of HDU "
                                f"{plane.hdu} ({' '.join(str(exc).split())[:160]})") from None
            if plane.scaled:
                bscale, bzero, _ = plane.scaling
                part = np.rint((part.astype("f8") - bzero) / bscale).astype(dtype)
        if part is not None and (xa, ya, xb, yb) == (x0, y0, x0 + width, y0 + height):
            return np.ascontiguousarray(part, dtype=dtype)
        out = np.full((height, width), fill, dtype=dtype)
        if part is not None:
            out[ya - y0:yb - y0, xa - x0:xb - x0] = part
        return out

    def close(self) -> None:
        for f in self._fits.values():
            try:
                f.close()
            except Exception:  # noqa: BLE001
                pass
        self._fits.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def header_wcs(header, path: Any = ""):
    """The celestial astropy WCS of an image header (psLib's PC001001 spelling
    normalised first); DataError when there is none."""
    import warnings

    from astropy.wcs import FITSFixedWarning, WCS

    from mopstool import _startup
    from mopstool.fits.skycell import normalise_wcs

    _startup.resume()  # the heaviest library a FITS command loads is imported by now

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            if "PC001001" in header:
                norm = normalise_wcs(dict(header))
                if norm is None:
                    raise ValueError("incomplete CDELT/PC001001 keywords")
                w = WCS(naxis=2)
                w.wcs.ctype = [norm["CTYPE1"], norm["CTYPE2"]]
                w.wcs.crval = [norm["CRVAL1"], norm["CRVAL2"]]
                w.wcs.crpix = [norm["CRPIX1"], norm["CRPIX2"]]
                w.wcs.cd = [[norm["CD1_1"], norm["CD1_2"]], [norm["CD2_1"], norm["CD2_2"]]]
                w.wcs.set()
            else:
                w = WCS(header, naxis=2)
        except Exception as exc:  # noqa: BLE001
            raise DataError(f"{path}: unusable WCS ({exc})") from None
    if not w.has_celestial:
        raise DataError(f"{path}: no celestial WCS; give pixel centres instead")
    return w


def _shape(hdr) -> tuple[int, int]:
    return int(hdr["NAXIS2"]), int(hdr["NAXIS1"])


def _is_image(hdu) -> bool:
    """A 2-D image HDU (plain or tile-compressed; astropy shows the image header)."""
    from astropy.io import fits

    return (isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU, fits.CompImageHDU))
            and int(hdu.header.get("NAXIS", 0) or 0) == 2)


def _first_plane(path: Path, shape: tuple[int, int]) -> Plane:
    from astropy.io import fits

    if not path.is_file():
        raise DataError(f"{path}: no such file")
    import warnings

    from astropy.utils.exceptions import AstropyUserWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            hdul = fits.open(path, memmap=False, lazy_load_hdus=True)
            hdus = list(hdul)
        with hdul:
            for i, h in enumerate(hdus):
                if _is_image(h):
                    s = _shape(h.header)
                    if s != shape:
                        raise DataError(f"{path}: shape {s[1]}x{s[0]} differs from the image's "
                                        f"{shape[1]}x{shape[0]}")
                    return Plane(str(path), i, h.header.copy(), s, _truncation(h, path.stat().st_size))
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: not a readable FITS image ({exc})") from None
    raise DataError(f"{path}: no 2-D image in the file")




# ------------------------------------------------------------------ synthetic images
def synthetic_value(x, y, dtype: str = "f4"):
    """The value :func:`write_synthetic_image` stores at source pixel (x, y) (0-based
    array indices): ``(y % 1000) * 10000 + x`` for floats, ``(y % 100) * 300 + x % 300``
    (raw, before BSCALE/BZERO) for integers."""
    import numpy as np

    x, y = np.asarray(x), np.asarray(y)
    if np.dtype(dtype).kind == "f":
        return (y % 1000) * 10000.0 + x
    return (y % 100) * 300 + x % 300


def write_synthetic_image(path: str | Path, nx: int, ny: int, *, ra: float = 150.0, dec: float = 2.0,
                          scale: float = 0.25, rotation_deg: float = 0.0, chunk_rows: int = 500,
                          extra: dict | None = None, dtype: str = "f4", bscale: float | None = None,
                          bzero: float | None = None, blank: int | None = None,
                          wcs_style: str = "cd", crpix: tuple[float, float] | None = None) -> Path:
    """An image with a TAN WCS (centre *ra*, *dec*; *scale* arcsec/pixel), written
    with fitsio in row chunks so memory stays small whatever the size (tests, benchmarks).

    Pixel values: :func:`synthetic_value`. *dtype* 'i2'/'i4'/'u2' with *bscale*,
    *bzero* and *blank* writes an integer image with those keywords (raw values
    stored); *wcs_style* 'pslib' spells the WCS as psLib does (CDELT + PC001001..)."""
    import fitsio
    import numpy as np

    path = Path(path)
    s = scale / 3600.0
    th = math.radians(rotation_deg)
    cd = [-s * math.cos(th), s * math.sin(th), s * math.sin(th), s * math.cos(th)]
    cp1, cp2 = crpix if crpix is not None else (nx / 2.0 + 0.5, ny / 2.0 + 0.5)
    cards = [
        {"name": "CTYPE1", "value": "RA---TAN"}, {"name": "CTYPE2", "value": "DEC--TAN"},
        {"name": "CRVAL1", "value": float(ra)}, {"name": "CRVAL2", "value": float(dec)},
        {"name": "CRPIX1", "value": float(cp1)}, {"name": "CRPIX2", "value": float(cp2)},
    ]
    if wcs_style == "pslib":
        c1, c2 = math.hypot(cd[0], cd[2]), math.hypot(cd[1], cd[3])
        cards += [{"name": "CDELT1", "value": c1}, {"name": "CDELT2", "value": c2},
                  {"name": "PC001001", "value": cd[0] / c1}, {"name": "PC001002", "value": cd[1] / c2},
                  {"name": "PC002001", "value": cd[2] / c1}, {"name": "PC002002", "value": cd[3] / c2}]
    else:
        cards += [{"name": n, "value": v} for n, v in zip(("CD1_1", "CD1_2", "CD2_1", "CD2_2"), cd)]
    cards += [
        {"name": "CUNIT1", "value": "deg"}, {"name": "CUNIT2", "value": "deg"},
        {"name": "PSREFCAT", "value": "PS1.REF.20170919", "comment": "reference catalog"},
        {"name": "ZPT_OBS", "value": 24.41, "comment": "observed zero point"},
        {"name": "FILTER", "value": "w.00000"}, {"name": "MJD-OBS", "value": 58309.5},
    ]
    for k, v in (extra or {}).items():
        cards.append({"name": k, "value": v})
    scale_cards = [{"name": k, "value": v} for k, v in (("BSCALE", bscale), ("BZERO", bzero),
                                                        ("BLANK", blank)) if v is not None]
    x = np.arange(nx)
    with fitsio.FITS(str(path), "rw", clobber=True) as f:
        f.create_image_hdu(dims=[ny, nx], dtype=dtype)
        f[0].write_keys(cards)
        for y0 in range(0, ny, chunk_rows):
            y1 = min(y0 + chunk_rows, ny)
            ys = np.arange(y0, y1)
            f[0].write(synthetic_value(x[None, :], ys[:, None], dtype).astype(dtype), start=[y0, 0])
        if scale_cards:
            # after the pixels, so the raw values are stored unscaled
            f[0].write_keys(scale_cards)
    return path
