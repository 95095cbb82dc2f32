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
from typing import Any

from mopstool.errors import DataError, UsageError
from mopstool.fits.image import ImageSource

MAX_STAMP = 8000
NO_IMAGE_MATCH = 23
NO_OVERLAP = 28
NO_VALID_PIXELS = 30


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


