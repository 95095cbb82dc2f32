"""Cutting postage stamps from uncompressed images, the way ppstamp does.

* The ROI is whole pixels: the pixel containing the requested centre is the
  stamp's pixel ``(W // 2, H // 2)`` and the ROI is ``[cx - W//2, cx - W//2 + W)``
  (likewise in y). Sizes in arcseconds become the pixel bounding box of the
  four corners of the requested box in the tangent plane. Width and height are
  capped at 8000 pixels; WIDTH = HEIGHT = 0 means the whole image.
* Pixels outside the image are NaN in image and variance stamps and the BLANK
  mask value in mask stamps. A centre off the image is fault 28 (NO_OVERLAP); a
  float stamp without a finite pixel is fault 30 (NO_VALID_PIXELS).
* The source header is carried (primary header, then the image extension's),
  with the WCS reference pixel (CRPIXn, and LTVn) shifted by the ROI origin so
  every sky position keeps its pixel; RA_DEG/DEC_DEG (the requested centre) and
  HISTORY lines describing the cut are added.
* Only the rows of the ROI are read (fitsio subset reads), never whole images.

Pixel coordinates here are 0-based with pixel centres on integers (the
astropy/numpy convention): a pixel centre given as X, Y names array element
``[Y, X]``; FITS (1-based) pixel X+1, Y+1.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

from mopstool.errors import DataError, UsageError

MAX_STAMP = 8000
NO_IMAGE_MATCH = 23
NO_OVERLAP = 28
NO_VALID_PIXELS = 30

#: extension names recognised for the three planes
IMAGE_NAMES = ("IMAGE", "SCI", "SCIENCE", "PRIMARY", "")
MASK_NAMES = ("MASK", "MK", "BPM", "FLAGS")
VARIANCE_NAMES = ("VARIANCE", "VAR", "WEIGHT", "WT", "WHT")
#: sibling files of an image holding its mask / variance
MASK_SUFFIXES = (".mk.fits", ".mask.fits")
VARIANCE_SUFFIXES = (".wt.fits", ".var.fits", ".variance.fits", ".weight.fits")

#: header keywords never carried from the source (structure, checksums, compression)
_STRUCTURAL = re.compile(
    r"^(SIMPLE|XTENSION|BITPIX|NAXIS\d*|EXTEND|PCOUNT|GCOUNT|GROUPS|BSCALE|BZERO|BLANK|BUNIT_|"
    r"CHECKSUM|DATASUM|EXTNAME|EXTVER|EXTLEVEL|INHERIT|TFIELDS|TTYPE\d+|TFORM\d+|TUNIT\d+|THEAP|"
    r"ZIMAGE|ZSIMPLE|ZTENSION|ZEXTEND|ZBLOCKED|ZBITPIX|ZNAXIS\d*|ZTILE\d+|ZCMPTYPE|ZNAME\d+|ZVAL\d+|"
    r"ZMASKCMP|ZQUANTIZ|ZDITHER0|ZPCOUNT|ZGCOUNT|ZHECKSUM|ZDATASUM|ZBLANK|ZSCALE|ZZERO|"
    r"DATASEC|TRIMSEC|BIASSEC|END)$")


@dataclass
class StampSpec:
    """One stamp to cut: a sky centre (ra, dec in degrees) or a pixel centre (x, y)."""

    ra: float | None = None
    dec: float | None = None
    x: float | None = None
    y: float | None = None
    width: float = 100.0
    height: float = 100.0
    arcsec: bool = False
    name: str | None = None
    rownum: Any = None
    planes: tuple[str, ...] = ("image", "mask", "variance")
    compress: str | None = None

    @property
    def sky(self) -> bool:
        return self.ra is not None and self.dec is not None

    @property
    def whole(self) -> bool:
        return float(self.width) == 0 and float(self.height) == 0


@dataclass
class StampResult:
    name: str
    image: str
    rownum: Any = None
    path: str | None = None
    files: list[str] = field(default_factory=list)
    x0: int | None = None
    y0: int | None = None
    width: int | None = None
    height: int | None = None
    center_x: float | None = None   # the requested centre in source pixels (0-based)
    center_y: float | None = None
    ra: float | None = None
    dec: float | None = None
    partial: bool = False
    capped: bool = False
    fault: int = 0
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# ------------------------------------------------------------------ source images
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


# ------------------------------------------------------------------ geometry
def _tangent_offsets(ra0: float, dec0: float, xi: float, eta: float) -> tuple[float, float]:
    """Sky position of tangent-plane offsets (xi east, eta north; radians) from (ra0, dec0)."""
    a0, d0 = math.radians(ra0), math.radians(dec0)
    denom = math.cos(d0) - eta * math.sin(d0)
    ra = a0 + math.atan2(xi, denom)
    dec = math.atan2(math.sin(d0) + eta * math.cos(d0), math.hypot(xi, denom))
    return math.degrees(ra) % 360.0, math.degrees(dec)


def plan_roi(src: ImageSource, spec: StampSpec, *, allow_offchip: bool = False) -> StampResult:
    """Where a stamp lies on the source (no pixels read)."""
    res = StampResult(name=spec.name or "", image=str(src.path), rownum=spec.rownum)
    if spec.sky:
        px, py = src.pixels(spec.ra, spec.dec)
        cx, cy = float(px[0]), float(py[0])
        res.ra, res.dec = float(spec.ra), float(spec.dec)
    else:
        if spec.x is None or spec.y is None:
            raise UsageError("a stamp needs a sky centre (ra, dec) or a pixel centre (x, y)")
        cx, cy = float(spec.x), float(spec.y)
        try:
            ra, dec = src.sky(cx, cy)
            res.ra, res.dec = float(ra[0]), float(dec[0])
        except DataError:
            res.ra = res.dec = None
    res.center_x, res.center_y = cx, cy
    if not (math.isfinite(cx) and math.isfinite(cy)):
        res.fault, res.message = NO_OVERLAP, "the centre does not project onto the image"
        return res
    if spec.whole:
        res.x0, res.y0, res.width, res.height = 0, 0, src.nx, src.ny
        return res
    if not src.contains(cx, cy) and not allow_offchip:
        res.fault = NO_OVERLAP
        res.message = f"centre ({cx:.1f}, {cy:.1f}) is off the {src.nx}x{src.ny} image"
        return res
    if spec.arcsec:
        if not spec.sky:
            ra, dec = res.ra, res.dec
            if ra is None:
                raise DataError(f"{src.path}: sizes in arcseconds need a WCS")
        else:
            ra, dec = spec.ra, spec.dec
        hw = math.radians(float(spec.width) / 3600.0) / 2.0
        hh = math.radians(float(spec.height) / 3600.0) / 2.0
        corners = [_tangent_offsets(ra, dec, sx * hw, sy * hh) for sx in (-1, 1) for sy in (-1, 1)]
        xs, ys = src.pixels([c[0] for c in corners], [c[1] for c in corners])
        w = int(round(float(xs.max() - xs.min())))
        h = int(round(float(ys.max() - ys.min())))
    else:
        w, h = int(abs(float(spec.width))), int(abs(float(spec.height)))
    if w > MAX_STAMP or h > MAX_STAMP:
        res.capped = True
        w, h = min(w, MAX_STAMP), min(h, MAX_STAMP)
    w, h = max(w, 1), max(h, 1)
    ix, iy = math.floor(cx + 0.5), math.floor(cy + 0.5)
    res.x0, res.y0, res.width, res.height = ix - w // 2, iy - h // 2, w, h
    res.partial = (res.x0 < 0 or res.y0 < 0 or res.x0 + w > src.nx or res.y0 + h > src.ny)
    if res.x0 + w <= 0 or res.y0 + h <= 0 or res.x0 >= src.nx or res.y0 >= src.ny:
        res.fault, res.message = NO_OVERLAP, "the stamp does not overlap the image"
    return res


# ------------------------------------------------------------------ headers
_SHIFTED = re.compile(r"^(CRPIX[12][A-Z]?|LTV[12]|RA_DEG|DEC_DEG|STAMPX0|STAMPY0)$")


class StampHeader:
    """The carried source header, formatted once per source image.

    Keywords come from the primary header, then the image header (later wins);
    structural, checksum and compression keywords are dropped. Per stamp only
    the WCS reference pixel (CRPIXn, CRPIXna), LTVn, RA_DEG/DEC_DEG, STAMPX0/Y0
    and the HISTORY of the cut are (re)written."""

    def __init__(self, src: ImageSource, *, version: str, when: str):
        from astropy.io import fits

        self.src, self.version, self.when = src, version, when
        merged: dict[str, Any] = {}        # keyword -> Card (original card images kept)
        history: list[Any] = []
        layers = [src.phu] if src.planes["image"].hdu != 0 else []
        layers.append(src.header)
        for hdr in layers:
            for card in hdr.cards:
                key = card.keyword
                if key == "HISTORY":
                    history.append(card)
                elif key not in ("COMMENT", "") and not _STRUCTURAL.match(key):
                    merged.pop(key, None)
                    merged[key] = card
        self.shifted: dict[str, float] = {}
        self.cards: list[str] = []
        for key, card in list(merged.items()) + [("HISTORY", c) for c in history]:
            if _SHIFTED.match(key):
                if key.startswith(("CRPIX", "LTV")):
                    try:
                        self.shifted[key] = float(card.value)
                    except (TypeError, ValueError):
                        pass
                continue
            try:
                image = card.image
                fits.Card.fromstring(image).verify("exception")
                self.cards.append(image)
            except Exception:  # noqa: BLE001 - an unwritable source card is dropped
                continue
        self.has_ltm = "LTM1_1" in merged
        #: the mask plane's bit names (MSKNAMnn / MSKVALnn) go with the mask stamp
        self.mask_cards: list[str] = []
        if "mask" in src.planes:
            for card in src.planes["mask"].header.cards:
                if re.match(r"^MSK(NAM|VAL)\d+$", card.keyword) and card.keyword not in merged:
                    self.mask_cards.append(card.image)

    def stamp_cards(self, res: StampResult) -> list[str]:
        from astropy.io.fits import Card

        new = []
        for key, val in self.shifted.items():
            if key.startswith("CRPIX"):
                off = res.x0 if key[5] == "1" else res.y0
                new.append(Card(key, val - off))
        for axis, off in (("1", res.x0), ("2", res.y0)):
            new.append(Card(f"LTV{axis}", self.shifted.get(f"LTV{axis}", 0.0) - off,
                            "offset of the stamp in the source (IRAF)"))
        if not self.has_ltm:
            new += [Card("LTM1_1", 1.0), Card("LTM2_2", 1.0)]
        if res.ra is not None:
            new.append(Card("RA_DEG", res.ra, "Right Ascension of stamp center"))
            new.append(Card("DEC_DEG", res.dec, "Declination of stamp center"))
        new.append(Card("STAMPX0", res.x0, "stamp origin: source pixel x (0-based)"))
        new.append(Card("STAMPY0", res.y0, "stamp origin: source pixel y (0-based)"))
        src = self.src
        hist = [f"mopstool {self.version} pstamp-req cut at {self.when}",
                f"source {src.path.name}[{src.planes['image'].hdu}] {src.nx}x{src.ny}",
                f"ROI x {res.x0}:{res.x0 + res.width} y {res.y0}:{res.y0 + res.height} "
                "(0-based, end exclusive)"]
        if res.center_x is not None:
            hist.append(f"centre pixel {res.center_x:.3f} {res.center_y:.3f} (0-based)"
                        + (", ROI partly off the image, filled" if res.partial else ""))
        new += [Card("HISTORY", h) for h in hist]
        return self.cards + [c.image for c in new]

    def header(self, res: StampResult):
        """The stamp header as an astropy Header."""
        from astropy.io import fits

        return fits.Header.fromstring("".join(self.stamp_cards(res)))


def stamp_header(src: ImageSource, res: StampResult, *, version: str = "", when: str = ""):
    """The header a stamp of *src* at *res* gets (astropy Header)."""
    return StampHeader(src, version=version, when=when).header(res)


def _mask_fill(src: ImageSource, default: int) -> int:
    """The BLANK mask value: from MSKNAMnn/MSKVALnn keywords when present."""
    if "mask" not in src.planes:
        return default
    hdr = src.planes["mask"].header
    for key in list(hdr.keys()):
        m = re.match(r"^MSKNAM(\d+)$", key)
        if m and str(hdr[key]).strip().upper() == "BLANK":
            val = hdr.get(f"MSKVAL{m.group(1)}")
            if val is not None:
                try:
                    return int(val)
                except (TypeError, ValueError):
                    pass
    return default


# ------------------------------------------------------------------ cutting
def cut_stamps(src: ImageSource, specs: list[StampSpec], outdir: str | Path, *,
               split: bool = False, overwrite: bool = True, allow_offchip: bool = False,
               mask_blank: int = 1, version: str | None = None) -> list[StampResult]:
    """Cut each spec from *src* into *outdir*; returns one result per spec.

    Output (uncompressed unless spec.compress == 'rice'): the image stamp in the
    primary HDU with MASK and VARIANCE extensions when those planes exist; with
    *split* ppstamp's layout instead (<name>.fits, <name>.mk.fits, <name>.wt.fits).
    With RICE compression the stamps are tile-compressed extensions after an
    empty primary HDU."""
    import numpy as np

    from mopstool import __version__

    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    when = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    header = None
    blank = _mask_fill(src, mask_blank)
    results = []
    for n, spec in enumerate(specs):
        res = plan_roi(src, spec, allow_offchip=allow_offchip)
        if not res.name:
            res.name = default_name(spec, n)
        results.append(res)
        if res.fault:
            continue
        data = {}
        for role in ("image", "mask", "variance"):
            if role in src.planes and role in spec.planes:
                fill = blank if role == "mask" else np.nan
                data[role] = src.read(role, res.x0, res.y0, res.width, res.height, fill)
        img = data["image"]
        if img.dtype.kind == "f" and not np.isfinite(img).any():
            res.fault, res.message = NO_VALID_PIXELS, "the stamp has no finite pixel"
            continue
        if header is None:
            header = StampHeader(src, version=version or __version__, when=when)
        files = _write(outdir, res.name, data, header, res, compress=spec.compress, split=split,
                       overwrite=overwrite)
        res.files = [str(f) for f in files]
        res.path = res.files[0]
    return results


_EXT = {"image": ".fits", "mask": ".mk.fits", "variance": ".wt.fits"}
_EXTNAME = {"image": "IMAGE", "mask": "MASK", "variance": "VARIANCE"}
_BLOCK = 2880


def _card(key: str, value: Any, comment: str = "") -> str:
    from astropy.io.fits import Card

    return Card(key, value, comment).image


def _fits_data(arr) -> tuple[int, list[str], bytes]:
    """(BITPIX, scaling cards, big-endian bytes) of an array."""
    import numpy as np

    kind, size = arr.dtype.kind, arr.dtype.itemsize
    extra: list[str] = []
    if kind == "f":
        bitpix = -32 if size == 4 else -64
        data = arr.astype(">f4" if size == 4 else ">f8", copy=False)
    elif kind == "u" and size == 1:
        bitpix, data = 8, arr.astype("u1", copy=False)
    elif kind == "u" and size in (2, 4, 8):
        bitpix = 8 * size
        zero = 1 << (bitpix - 1)
        data = (arr.astype(np.int64 if size < 8 else np.uint64) - zero).astype(f">i{size}")
        extra = [_card("BZERO", zero), _card("BSCALE", 1)]
    elif kind == "i" and size == 1:
        bitpix, data = 16, arr.astype(">i2")
    elif kind in "ib":
        bitpix = 8 * max(size, 1)
        data = arr.astype(f">i{max(size, 1)}", copy=False)
    else:
        raise DataError(f"cannot write pixels of type {arr.dtype}")
    return bitpix, extra, np.ascontiguousarray(data).tobytes()


def _hdu_bytes(arr, cards: list[str], *, primary: bool, extname: str | None, extend: bool) -> bytes:
    bitpix, scale, raw = _fits_data(arr)
    ny, nx = arr.shape
    head = ([_card("SIMPLE", True, "conforms to FITS standard")] if primary
            else [_card("XTENSION", "IMAGE", "image extension")])
    head += [_card("BITPIX", bitpix), _card("NAXIS", 2), _card("NAXIS1", nx), _card("NAXIS2", ny)]
    if primary:
        head.append(_card("EXTEND", bool(extend)))
    else:
        head += [_card("PCOUNT", 0), _card("GCOUNT", 1)]
    if extname:
        head.append(_card("EXTNAME", extname))
    text = "".join(head + scale + cards) + "END".ljust(80)
    text += " " * (-len(text) % _BLOCK)
    return text.encode("ascii") + raw + b"\0" * (-len(raw) % _BLOCK)


def _write(outdir: Path, name: str, data: dict, header: StampHeader, res: StampResult, *,
           compress: str | None, split: bool, overwrite: bool) -> list[Path]:
    comp = (compress or "").lower() or None
    if comp == "none":
        comp = None
    if comp not in (None, "rice"):
        raise UsageError(f"unknown compression {compress!r}; use rice or none")
    groups = [[role] for role in data] if split else [list(data)]
    written = []
    for roles in groups:
        path = outdir / f"{name}{_EXT[roles[0]]}"
        if path.exists() and not overwrite:
            raise UsageError(f"{path} exists")
        if comp:
            _write_compressed(path, data, roles, header.header(res))
        else:
            cards = header.stamp_cards(res)
            parts = []
            for i, role in enumerate(roles):
                parts.append(_hdu_bytes(data[role], cards + (header.mask_cards if role == "mask" else []),
                                        primary=i == 0,
                                        extname=None if i == 0 else _EXTNAME[role],
                                        extend=len(roles) > 1))
            tmp = path.with_name(path.name + ".part")
            tmp.write_bytes(b"".join(parts))
            tmp.replace(path)
        written.append(path)
    return written


def _write_compressed(path: Path, data: dict, roles: list[str], hdr) -> None:
    from astropy.io import fits

    hdus = [fits.PrimaryHDU()]
    for role in roles:
        hdus.append(fits.CompImageHDU(data[role], header=hdr.copy(), name=_EXTNAME[role],
                                      compression_type="RICE_1"))
    fits.HDUList(hdus).writeto(path, overwrite=True, output_verify="silentfix")


def default_name(spec: StampSpec, n: int) -> str:
    if spec.sky:
        return f"stamp_{spec.ra:.5f}_{spec.dec:+.5f}"
    return f"stamp_x{spec.x:g}_y{spec.y:g}_{n + 1}"


# ------------------------------------------------------------------ whole requests
def _like(value: str | None, pattern: str) -> bool:
    if value is None:
        return False
    rx = "^" + "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern) + "$"
    return re.match(rx, value, re.IGNORECASE) is not None


def find_images(paths: Iterable[str | Path]) -> list[Path]:
    """Image files from files and directories (mask/variance siblings left out)."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            for f in sorted(p.iterdir()):
                if f.is_file() and f.name.lower().endswith((".fits", ".fit", ".fits.fz")) \
                        and not is_sibling_plane(f):
                    out.append(f)
        elif p.is_file():
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or directory")
    return out


def cut_request(request, images: Iterable[str | Path], outdir: str | Path, *,
                compress: str | None = None, split: bool = False, allow_offchip: bool = False,
                mask_blank: int = 1, projects: Iterable[str] | None = None) -> list[StampResult]:
    """Cut the stamps of a whole request (a :class:`~mopstool.fits.request.StampRequest`)
    from local images, as the stamp server would for the matching images.

    A row matches an image when its centre lies on the image (sky centre) or the
    image names its COMPONENT (pixel centre), when the image filter matches
    REQFILT (a single letter matches any filter starting with it) and its MJD-OBS
    lies within MJD_MIN..MJD_MAX (0 = open). The database lookup fields
    (PROJECT, REQ_TYPE, ID, DATA_GROUP, TESS_ID ...) are not used locally.
    Output names follow the server: <ROWNUM>_<job>_<filter letter>_<image base>.
    A row the parser would reject gets its fault; a row without an image 23."""
    from mopstool.fits.request import CENTER_IN_PIXELS, RANGE_IN_PIXELS, check_row

    files = find_images(images)
    sources = [ImageSource(f) for f in files]
    todo: dict[int, list[StampSpec]] = {}
    results: list[StampResult] = []
    job_counter: dict[Any, int] = {}
    try:
        for row in request.rows:
            rownum = row.get("ROWNUM")
            bad = check_row(row, projects=projects)
            if bad:
                results.append(StampResult(name="", image="", rownum=rownum, fault=bad[0], message=bad[1]))
                continue
            coord = int(float(row.get("COORD_MASK") or 0))
            pixcenter = bool(coord & CENTER_IN_PIXELS)
            options = int(float(row.get("OPTION_MASK") or 0)) | 1
            planes = ["image"] + (["mask"] if options & 2 else []) + (["variance"] if options & 4 else [])
            comp = None if options & 512 else compress
            filt = str(row.get("REQFILT") or "null").strip()
            if filt.lower() == "null":
                filt = ""
            elif len(filt) == 1:
                filt += "%"
            mjd_min = float(row.get("MJD_MIN") or 0)
            mjd_max = float(row.get("MJD_MAX") or 0)
            component = str(row.get("COMPONENT") or "null").strip()
            matched = False
            for k, src in enumerate(sources):
                if filt and not _like(src.filter, filt):
                    continue
                mjd = src.mjd
                if mjd is not None and ((mjd_min and mjd < mjd_min) or (mjd_max and mjd > mjd_max)):
                    continue
                spec = StampSpec(width=float(row.get("WIDTH") or 0), height=float(row.get("HEIGHT") or 0),
                                 arcsec=not (coord & RANGE_IN_PIXELS), rownum=rownum,
                                 planes=tuple(planes), compress=comp)
                if pixcenter:
                    if component.lower() not in ("null", "all", "") and component not in src.path.name \
                            and component != str(src.keyword("CLASS_ID", "SKYCELL", "EXTNAME") or ""):
                        continue
                    spec.x, spec.y = float(row.get("CENTER_X")), float(row.get("CENTER_Y"))
                    if spec.x == 0 and spec.y == 0:
                        spec.width = spec.height = 0
                else:
                    spec.ra, spec.dec = float(row.get("CENTER_X")), float(row.get("CENTER_Y"))
                    try:
                        px, py = src.pixels(spec.ra, spec.dec)
                    except DataError:
                        continue
                    if not (allow_offchip or src.contains(float(px[0]), float(py[0]))):
                        continue
                job = job_counter.get(rownum, 0) + 1
                job_counter[rownum] = job
                letter = (src.filter or "X")[:1]
                base = re.sub(r"\.fits?(\.fz)?$", "", src.path.name)
                spec.name = f"{rownum}_{job}_{letter}_{base}"
                todo.setdefault(k, []).append(spec)
                matched = True
            if not matched:
                results.append(StampResult(name="", image="", rownum=rownum, fault=NO_IMAGE_MATCH,
                                           message="no image matches the row"))
        for k, specs in todo.items():
            results.extend(cut_stamps(sources[k], specs, outdir, split=split,
                                      allow_offchip=allow_offchip, mask_blank=mask_blank))
    finally:
        for s in sources:
            s.close()
    return results


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
