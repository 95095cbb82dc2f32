"""Source images for stamps: an image and its mask/variance planes opened for
ROI reads, and a synthetic image writer for the tests and the benchmark."""

from __future__ import annotations

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
        from astropy.io import fits

        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"{self.path}: no such file")
        self.planes: dict[str, Plane] = {}
        try:
            with fits.open(self.path, memmap=False, lazy_load_hdus=True) as hdul:
                self.phu = hdul[0].header.copy()
                headers = []
                for i, h in enumerate(hdul):
                    if _is_image(h):
                        headers.append((i, str(h.header.get("EXTNAME", "")).strip().upper(),
                                        h.header.copy(), _shape(h.header)))
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
        self.planes["image"] = Plane(str(self.path), chosen[0], chosen[1], chosen[2])
        for role, names in (("mask", MASK_NAMES), ("variance", VARIANCE_NAMES)):
            for i, name, hdr, shape in headers:
                if name in names and shape == chosen[2]:
                    self.planes[role] = Plane(str(self.path), i, hdr, shape)
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
    def wcs(self):
        if self._wcs is None:
            import warnings

            from astropy.wcs import FITSFixedWarning, WCS

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FITSFixedWarning)
                try:
                    w = WCS(self.header, naxis=2)
                except Exception as exc:  # noqa: BLE001
                    raise DataError(f"{self.path}: unusable WCS ({exc})") from None
            if not w.has_celestial:
                raise DataError(f"{self.path}: no celestial WCS; give pixel centres instead")
            self._wcs = w
        return self._wcs

    def keyword(self, *names: str) -> Any:
        for n in names:
            for h in (self.header, self.phu):
                if n in h and h[n] not in (None, ""):
                    return h[n]
        return None

    @property
    def filter(self) -> str | None:
        v = self.keyword("FILTER", "FILTERID", "FPA.FILTER", "HIERARCH FPA.FILTER")
        return str(v).strip() if v is not None else None

    @property
    def mjd(self) -> float | None:
        v = self.keyword("MJD-OBS", "MJD_OBS", "MJD")
        try:
            return float(v) if v is not None else None
        except (TypeError, ValueError):
            return None

    def pixels(self, ra, dec):
        """0-based pixel coordinates of sky positions (arrays)."""
        import numpy as np

        x, y = self.wcs.all_world2pix(np.atleast_1d(ra), np.atleast_1d(dec), 0)
        return x, y

    def sky(self, x, y):
        import numpy as np

        ra, dec = self.wcs.all_pix2world(np.atleast_1d(x), np.atleast_1d(y), 0)
        return ra, dec

    def contains(self, x: float, y: float) -> bool:
        return -0.5 <= x < self.nx - 0.5 and -0.5 <= y < self.ny - 0.5

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

    def read(self, role: str, x0: int, y0: int, width: int, height: int, fill: float):
        """The ROI [x0, x0+width) x [y0, y0+height) of a plane, *fill* outside the image."""
        import numpy as np

        plane = self.planes[role]
        ny, nx = plane.shape
        xa, xb = max(x0, 0), min(x0 + width, nx)
        ya, yb = max(y0, 0), min(y0 + height, ny)
        part = None
        if xa < xb and ya < yb:
            part = self._handle(plane)[ya:yb, xa:xb]
        if role != "mask":
            dtype = part.dtype if part is not None and part.dtype.kind == "f" else np.float32
        else:
            dtype = part.dtype if part is not None else np.int32
        if part is not None and xa == x0 and ya == y0 and xb == x0 + width and yb == y0 + height:
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
    try:
        with fits.open(path, memmap=False, lazy_load_hdus=True) as hdul:
            for i, h in enumerate(hdul):
                if _is_image(h):
                    s = _shape(h.header)
                    if s != shape:
                        raise DataError(f"{path}: shape {s[1]}x{s[0]} differs from the image's "
                                        f"{shape[1]}x{shape[0]}")
                    return Plane(str(path), i, h.header.copy(), s)
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path}: not a readable FITS image ({exc})") from None
    raise DataError(f"{path}: no 2-D image in the file")




# ------------------------------------------------------------------ synthetic images
def write_synthetic_image(path: str | Path, nx: int, ny: int, *, ra: float = 150.0, dec: float = 2.0,
                          scale: float = 0.25, rotation_deg: float = 0.0, chunk_rows: int = 500,
                          extra: dict | None = None) -> Path:
    """A float32 image with a TAN WCS (centre *ra*, *dec*; *scale* arcsec/pixel), written
    with fitsio in row chunks so memory stays small whatever the size (tests, benchmarks).

    Pixel (x, y) (0-based) holds ``(y % 1000) * 10000 + x``, so every stamp can be
    checked against its position."""
    import fitsio
    import numpy as np

    path = Path(path)
    s = scale / 3600.0
    th = math.radians(rotation_deg)
    cards = [
        {"name": "CTYPE1", "value": "RA---TAN"}, {"name": "CTYPE2", "value": "DEC--TAN"},
        {"name": "CRVAL1", "value": float(ra)}, {"name": "CRVAL2", "value": float(dec)},
        {"name": "CRPIX1", "value": nx / 2.0 + 0.5}, {"name": "CRPIX2", "value": ny / 2.0 + 0.5},
        {"name": "CD1_1", "value": -s * math.cos(th)}, {"name": "CD1_2", "value": s * math.sin(th)},
        {"name": "CD2_1", "value": s * math.sin(th)}, {"name": "CD2_2", "value": s * math.cos(th)},
        {"name": "CUNIT1", "value": "deg"}, {"name": "CUNIT2", "value": "deg"},
        {"name": "PSREFCAT", "value": "PS1.REF.20170919", "comment": "reference catalog"},
        {"name": "ZPT_OBS", "value": 24.41, "comment": "observed zero point"},
        {"name": "FILTER", "value": "w.00000"}, {"name": "MJD-OBS", "value": 58309.5},
    ]
    for k, v in (extra or {}).items():
        cards.append({"name": k, "value": v})
    x = np.arange(nx, dtype=np.float32)
    with fitsio.FITS(str(path), "rw", clobber=True) as f:
        f.create_image_hdu(dims=[ny, nx], dtype="f4")
        f[0].write_keys(cards)
        for y0 in range(0, ny, chunk_rows):
            y1 = min(y0 + chunk_rows, ny)
            ys = (np.arange(y0, y1) % 1000).astype(np.float32) * 10000.0
            f[0].write(ys[:, None] + x[None, :], start=[y0, 0])
    return path
