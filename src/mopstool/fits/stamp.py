"""Cutting postage stamps from uncompressed images exactly the way ppstamp does.

Pixel convention (psLib's, see :mod:`mopstool.fits.image`): source pixel ``i``
spans ``[i, i + 1)``, and a sky position's pixel coordinate is astropy's with
origin 1 (CRPIX applied without an offset).

* Centre: a sky centre becomes a psLib coordinate through the WCS; a pixel
  centre is truncated to an integer first (ppstamp reads it with ``atoi``:
  100.7 -> 100, -3.5 -> -3). A sky centre must lie in [0, NAXIS) on both axes
  (else fault 28 NO_OVERLAP, unless --center-off-chip); a pixel centre is taken
  as given.
* ROI: with a size in pixels (truncated to integers, absolute values, each
  capped at 8000) the ROI is ``x0 = cx - W // 2``, ``x1 = x0 + W``; with a size
  in arcseconds it is the bounding box of the four corners of the requested box
  in the tangent plane (half-sizes capped at 8000 pixels), ``W = int(x1 - x0 + 0.5)``.
  WIDTH = HEIGHT = 0 is the whole image.
* Cut: the stamp's pixel (0, 0) is source pixel ``(int(x0), int(y0))``, the
  ROI origin truncated toward zero; source columns ``max(int(x0), 0)`` up to
  ``min(int(x1), NAXIS1)`` are copied (rows likewise), the rest is fill: NaN in
  float planes, BLANK (or 0) in integer image planes, the mask's BLANK value in
  masks. (For an origin left of or below the image with a fractional part this
  leaves ppstamp's last column or row blank too.) A ROI without any source
  pixel is fault 28; a float32 image stamp without a finite pixel is fault 30
  (NO_VALID_PIXELS; ppstamp tests float32 images only).
* Types: every plane keeps its stored type; integer planes carry BSCALE, BZERO
  and BLANK.
* Header: the source header is carried (primary header, then the image
  extension's) with CRPIXn and LTVn shifted by the stamp origin, so every sky
  position keeps its pixel; RA_DEG/DEC_DEG (the requested centre) and HISTORY
  lines describing the cut are added. The HISTORY time is the run's time
  (``SOURCE_DATE_EPOCH`` when set, for reproducible output).
* Only the rows of the ROI are read (fitsio subset reads); files are written
  with fitsio.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mopstool.errors import DataError, UsageError
from mopstool.fits.image import ImageSource
from mopstool.fits.provenance import run_time

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
    #: psLib pixel coordinate of the sky centre on the image it is cut from, when
    #: already computed (by :func:`sky_to_pixels`); computed per stamp otherwise
    pixel: tuple[float, float] | None = None

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
    center_x: float | None = None   # the centre in psLib source pixel coordinates
    center_y: float | None = None
    ra: float | None = None
    dec: float | None = None
    partial: bool = False
    capped: bool = False
    fault: int = 0
    message: str = ""
    #: source window copied: (xa, xb, ya, yb), end exclusive
    window: tuple[int, int, int, int] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "window"}


# ------------------------------------------------------------------ geometry
def _c_int(value: float) -> int:
    """C's conversion of a double to int: truncation toward zero."""
    return int(math.trunc(value))


def extract_window(x0: float, x1: float, y0: float, y1: float, nx: int, ny: int):
    """ppstamp's extraction of the ROI [x0, x1) x [y0, y1) (psLib coordinates) from
    an nx x ny image: (origin x, origin y, width, height, (xa, xb, ya, yb)), the
    source window copied being [xa, xb) x [ya, yb) (empty when xa >= xb or ya >= yb)."""
    width, height = _c_int(x1 - x0 + 0.5), _c_int(y1 - y0 + 0.5)
    ox, oy = _c_int(x0), _c_int(y0)

    def axis(origin: int, hi: float, n: int, size: int) -> tuple[int, int]:
        last = min(_c_int(hi), n)
        src = max(origin, 0)
        dst = src - origin
        copy = min(last - src, size - dst)
        return src, src + max(copy, 0)

    xa, xb = axis(ox, x1, nx, width)
    ya, yb = axis(oy, y1, ny, height)
    return ox, oy, width, height, (xa, xb, ya, yb)


def plan_roi(src: ImageSource, spec: StampSpec, *, allow_offchip: bool = False) -> StampResult:
    """Where a stamp lies on the source, as ppstamp computes it (no pixels read)."""
    import numpy as np

    res = StampResult(name=spec.name or "", image=str(src.path), rownum=spec.rownum)
    if spec.whole:
        x0, x1, y0, y1 = 0.0, float(src.nx), 0.0, float(src.ny)
        cx, cy = (src.nx + 1) / 2.0, (src.ny + 1) / 2.0
    elif spec.sky and spec.pixel is not None:
        cx, cy = spec.pixel
    elif spec.sky:
        px, py = src.pixels(spec.ra, spec.dec)
        cx, cy = float(px[0]), float(py[0])
    else:
        if spec.x is None or spec.y is None:
            raise UsageError("a stamp needs a sky centre (ra, dec) or a pixel centre (x, y)")
        cx, cy = float(_c_int(float(spec.x))), float(_c_int(float(spec.y)))
    if spec.sky:
        res.ra, res.dec = float(spec.ra), float(spec.dec)
    else:
        try:
            ra, dec = src.sky(cx, cy)
            res.ra, res.dec = float(ra[0]), float(dec[0])
        except DataError:
            res.ra = res.dec = None
    res.center_x, res.center_y = cx, cy
    if not (math.isfinite(cx) and math.isfinite(cy)):
        res.fault, res.message = NO_OVERLAP, "the centre does not project onto the image"
        return res
    if spec.sky and not spec.whole and not src.contains(cx, cy) and not allow_offchip:
        res.fault = NO_OVERLAP
        res.message = f"centre ({cx:.2f}, {cy:.2f}) is off the {src.nx}x{src.ny} image"
        return res
    if spec.whole:
        pass
    elif spec.arcsec:
        if res.ra is None:
            raise DataError(f"{src.path}: sizes in arcseconds need a WCS")
        hw = abs(float(spec.width)) / 3600.0 / 2.0
        hh = abs(float(spec.height)) / 3600.0 / 2.0
        inv = np.abs(np.asarray(src.wcs.wcs.imgpix_matrix, dtype="f8"))   # degrees -> pixels
        ex, ey = float(inv[0, 0] * hw + inv[0, 1] * hh), float(inv[1, 0] * hw + inv[1, 1] * hh)
        if ex > MAX_STAMP or ey > MAX_STAMP:
            res.capped = True
            ex, ey = min(ex, MAX_STAMP), min(ey, MAX_STAMP)
        x0, x1, y0, y1 = cx - ex, cx + ex, cy - ey, cy + ey
    else:
        w, h = abs(_c_int(float(spec.width))), abs(_c_int(float(spec.height)))
        if w > MAX_STAMP or h > MAX_STAMP:
            res.capped = True
            w, h = min(w, MAX_STAMP), min(h, MAX_STAMP)
        x0, y0 = cx - w // 2, cy - h // 2
        x1, y1 = x0 + w, y0 + h
    ox, oy, w, h, window = extract_window(x0, x1, y0, y1, src.nx, src.ny)
    res.x0, res.y0, res.width, res.height = ox, oy, w, h
    res.window = window
    xa, xb, ya, yb = window
    res.partial = (xa, xb, ya, yb) != (ox, ox + w, oy, oy + h)
    if w <= 0 or h <= 0 or xa >= xb or ya >= yb:
        res.fault, res.message = NO_OVERLAP, "the stamp does not overlap the image"
    return res


def sky_to_pixels(src: ImageSource, specs: list[StampSpec]) -> None:
    """Set ``pixel`` of the sky-centred *specs* lacking it in one WCS call, when
    that gives exactly the per-stamp values (:meth:`ImageSource.pixels_exact_in_bulk`);
    otherwise leave them to :func:`plan_roi`. A source without a WCS is left alone."""
    import numpy as np

    todo = [s for s in specs if s.sky and s.pixel is None and not s.whole]
    if not todo:
        return
    try:
        if not src.pixels_exact_in_bulk():
            return
        px, py = src.pixels(np.array([float(s.ra) for s in todo]), np.array([float(s.dec) for s in todo]))
    except DataError:
        return
    for s, x, y in zip(todo, px.tolist(), py.tolist()):
        s.pixel = (x, y)


# ------------------------------------------------------------------ headers
_SHIFTED = re.compile(r"^(CRPIX[12][A-Z]?|LTV[12]|RA_DEG|DEC_DEG|STAMPX0|STAMPY0)$")


def _format_value(value: Any) -> str:
    """A fixed-format FITS value as astropy.io.fits writes it: integers as they are,
    floats from their shortest repr with an upper-case, two-digit exponent and a
    '.0' when they would read back as integers, cut to 20 characters."""
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, int):
        return str(value)
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"a FITS header value must be finite, not {v}")
    text = str(v).replace("e", "E")
    if "E" in text:
        mant, exp = text.split("E")
        sign = exp[0] if exp[0] in "+-" else ""
        text = f"{mant}E{sign}{int(exp.lstrip('+-')):02d}"
    elif "." not in text:
        text += ".0"
    if len(text) > 20:
        at = text.find("E")
        text = text[:20] if at < 0 else text[:20 - (len(text) - at)] + text[at:]
    return text


def card(key: str, value: Any, comment: str = "") -> str:
    """The 80-character image of a numeric header card, exactly as astropy.io.fits
    formats ``Card(key, value, comment)`` (the comment cut to fit)."""
    text = f"{key:<8}= {_format_value(value):>20}"
    if comment:
        text += f" / {comment}"
    return f"{text[:80]:<80}"


def history_cards(text: str) -> list[str]:
    """HISTORY cards of *text*, 72 characters a card (as astropy splits it)."""
    return [f"HISTORY {text[i:i + 72]:<72}" for i in range(0, max(len(text), 1), 72)]


class StampHeader:
    """The carried source header, formatted once per source image.

    Keywords come from the primary header, then the image header (later wins);
    structural, checksum and compression keywords are dropped. Per stamp only
    the WCS reference pixel (CRPIXn, CRPIXna), LTVn, RA_DEG/DEC_DEG, STAMPX0/Y0
    and the HISTORY of the cut are (re)written; every card goes down as a ready
    80-character image (:func:`card`), the constant ones formatted here once."""

    def __init__(self, src: ImageSource, *, version: str, when: str):
        from astropy.io import fits

        self.src, self.version, self.when = src, version, when
        merged: dict[str, Any] = {}        # keyword -> Card (original card images kept)
        history: list[Any] = []
        layers = [src.phu] if src.planes["image"].hdu != 0 else []
        layers.append(src.header)
        for hdr in layers:
            for c in hdr.cards:
                key = c.keyword
                if key == "HISTORY":
                    history.append(c)
                elif key not in ("COMMENT", "") and not _STRUCTURAL.match(key):
                    merged.pop(key, None)
                    merged[key] = c
        self.shifted: dict[str, float] = {}
        self.cards: list[str] = []
        for key, c in list(merged.items()) + [("HISTORY", c) for c in history]:
            if _SHIFTED.match(key):
                if key.startswith(("CRPIX", "LTV")):
                    try:
                        self.shifted[key] = float(c.value)
                    except (TypeError, ValueError):
                        pass
                continue
            try:
                image = c.image
                fits.Card.fromstring(image).verify("exception")
                self.cards.append(image)
            except Exception:  # noqa: BLE001 - an unwritable source card is dropped
                continue
        self.has_ltm = "LTM1_1" in merged
        if "PC001001" in merged and "CD1_1" not in merged:
            # psLib's spelling: add the equivalent CD matrix, which FITS readers (astropy)
            # use; psLib itself keeps preferring PC001001
            from mopstool.fits.skycell import normalise_wcs

            norm = normalise_wcs({k: c.value for k, c in merged.items()})
            if norm is not None:
                self.cards += [fits.Card(k, norm[k], "CDELT x PC00i00j, as psLib reads them").image
                               for k in ("CD1_1", "CD1_2", "CD2_1", "CD2_2")]
        #: the mask plane's bit names (MSKNAMnn / MSKVALnn) go with the mask stamp
        self.mask_cards: list[str] = []
        if "mask" in src.planes:
            for c in src.planes["mask"].header.cards:
                if re.match(r"^MSK(NAM|VAL)\d+$", c.keyword) and c.keyword not in merged:
                    self.mask_cards.append(c.image)
        # the per-stamp cards' constant parts
        self._crpix = [(key, val, 1 if key[5] == "1" else 2) for key, val in self.shifted.items()
                       if key.startswith("CRPIX")]
        self._ltv = (self.shifted.get("LTV1", 0.0), self.shifted.get("LTV2", 0.0))
        self._ltm = [] if self.has_ltm else [card("LTM1_1", 1.0), card("LTM2_2", 1.0)]
        self._history = (history_cards(f"mopstool {version} pstamp-req cut at {when}")
                         + history_cards(f"source {src.path.name}[{src.planes['image'].hdu}] {src.nx}x{src.ny}"))
        #: BSCALE/BZERO/BLANK of each plane, written after its pixels
        self.scale_cards = {role: [card(k, v) for k, v in plane.scale_cards()]
                            for role, plane in src.planes.items()}

    def own_cards(self, res: StampResult) -> list[str]:
        """The cards of this stamp alone (after the carried ones): the shifted
        reference pixel and LTV, RA_DEG/DEC_DEG, STAMPX0/Y0 and the HISTORY of the cut."""
        x0, y0 = res.x0, res.y0
        out = [card(key, val - (x0 if axis == 1 else y0)) for key, val, axis in self._crpix]
        out.append(card("LTV1", self._ltv[0] - x0, "offset of the stamp in the source (IRAF)"))
        out.append(card("LTV2", self._ltv[1] - y0, "offset of the stamp in the source (IRAF)"))
        out += self._ltm
        if res.ra is not None:
            out.append(card("RA_DEG", res.ra, "Right Ascension of stamp center"))
            out.append(card("DEC_DEG", res.dec, "Declination of stamp center"))
        out.append(card("STAMPX0", x0, "stamp origin: source pixel x (array index)"))
        out.append(card("STAMPY0", y0, "stamp origin: source pixel y (array index)"))
        out += self._history
        out += history_cards(f"ROI x {x0}:{x0 + res.width} y {y0}:{y0 + res.height} "
                             "(array indices, end exclusive)")
        if res.center_x is not None:
            out += history_cards(f"centre {res.center_x:.3f} {res.center_y:.3f} (psLib pixel coordinates)"
                                 + (", ROI partly off the image, filled" if res.partial else ""))
        return out

    def stamp_cards(self, res: StampResult) -> list[str]:
        """The whole stamp header as card images (the carried cards, then the stamp's)."""
        return self.cards + self.own_cards(res)

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
               split: bool = False, allow_offchip: bool = False, mask_blank: int = 1,
               version: str | None = None, when: str | None = None,
               written: set[str] | None = None) -> list[StampResult]:
    """Cut each spec from *src* into *outdir*; returns one result per spec.

    Output (uncompressed unless spec.compress == 'rice'): the image stamp in the
    primary HDU with MASK and VARIANCE extensions when those planes exist; with
    *split* ppstamp's layout instead (<name>.fits, <name>.mk.fits, <name>.wt.fits).
    With RICE compression the stamps are tile-compressed extensions after an
    empty primary HDU. Specs need unique names (:func:`assign_names`); a file
    name already in *written* (this run's files) is refused, never overwritten.
    A source whose pixels cannot be read raises DataError naming the file."""
    import numpy as np

    from mopstool import __version__

    outdir = str(Path(outdir).absolute())
    os.makedirs(outdir, exist_ok=True)
    when = when or run_time()
    written = set() if written is None else written
    header = None
    blank = _mask_fill(src, mask_blank)
    sky_to_pixels(src, specs)
    results = []
    for n, spec in enumerate(specs):
        res = plan_roi(src, spec, allow_offchip=allow_offchip)
        res.name = spec.name or default_name(spec, n)
        results.append(res)
        if res.fault:
            continue
        data = {}
        for role in ("image", "mask", "variance"):
            if role in src.planes and role in spec.planes:
                plane = src.planes[role]
                if role == "mask":
                    fill: Any = blank
                elif plane.bitpix < 0:
                    fill = np.nan
                else:
                    fill = plane.scaling[2] if plane.scaling[2] is not None else 0
                data[role] = src.read(role, res.x0, res.y0, res.width, res.height, fill, res.window)
        img = data["image"]
        if img.dtype == np.float32 and not np.isfinite(img).any():
            res.fault, res.message = NO_VALID_PIXELS, "the stamp has no finite pixel"
            continue
        if header is None:
            header = StampHeader(src, version=version or __version__, when=when)
        files = _write(outdir, res.name, data, header, res, compress=spec.compress, split=split,
                       written=written)
        res.files = files
        res.path = files[0]
    return results


_EXT = {"image": ".fits", "mask": ".mk.fits", "variance": ".wt.fits"}
_EXTNAME = {"image": "IMAGE", "mask": "MASK", "variance": "VARIANCE"}


def _write(outdir: str, name: str, data: dict, header: StampHeader, res: StampResult, *,
           compress: str | None, split: bool, written: set[str]) -> list[str]:
    comp = (compress or "").lower() or None
    if comp == "none":
        comp = None
    if comp not in (None, "rice"):
        raise UsageError(f"unknown compression {compress!r}; use rice or none")
    groups = [[role] for role in data] if split else [list(data)]
    out = []
    for roles in groups:
        path = os.path.join(outdir, name + _EXT[roles[0]])
        if path in written:
            raise DataError(f"{path}: written already in this run (stamp names must be unique)")
        written.add(path)
        _write_fits(path, data, roles, header, res, rice=bool(comp))
        out.append(path)
    return out


def _write_fits(path: str, data: dict, roles: list[str], header: StampHeader, res: StampResult, *,
                rice: bool) -> None:
    """One stamp file with fitsio: the planes of *roles* (image first) with the stamp
    header; each integer plane gets its source's BSCALE/BZERO/BLANK after its pixels
    (so the raw values are stored as read).

    Every header card is a ready card image (:class:`StampHeader`) written with
    fitsio's record writer; room for all of them is reserved when the HDU is
    created, so the header never grows past its blocks and the pixels are never
    moved. The file is written as ``<path>.part`` and renamed into place, so a
    reader sees a whole stamp or none."""
    import fitsio

    own = header.own_cards(res)
    tmp = path + ".part"
    try:
        with fitsio.FITS(tmp, "rw", clobber=True) as f:
            if rice:
                f.write(None)
            for i, role in enumerate(roles):
                records = (header.cards + (header.mask_cards if role == "mask" else []) + own
                           + header.scale_cards.get(role, []))
                extname = None if (i == 0 and not rice) else _EXTNAME[role]
                # header= only reserves room for the records here; they are written below
                if rice:
                    f.create_image_hdu(data[role], extname=extname, header=records, compress="RICE")
                else:
                    f.create_image_hdu(data[role], extname=extname, header=records)
                hdu = f[-1]
                write, ext = hdu._FITS.write_record, hdu._ext + 1
                for rec in records:
                    write(ext, rec)
        os.replace(tmp, path)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise DataError(f"cannot write {path}: {' '.join(str(exc).split())[:200]}") from None


def default_name(spec: StampSpec, n: int) -> str:
    """A stamp's name from its centre (8 decimals of a degree: about 0.04 mas)."""
    if spec.sky:
        return f"stamp_{spec.ra:.8f}_{spec.dec:+.8f}"
    return f"stamp_x{spec.x:g}_y{spec.y:g}_{n + 1}"


def assign_names(specs: list[StampSpec], taken: set[str] | None = None) -> None:
    """Give every spec a name unique within the run (and not in *taken*): the
    spec's own name or :func:`default_name`, with ``_2``, ``_3`` ... appended to
    repeats. *taken* is updated."""
    taken = set() if taken is None else taken
    for n, spec in enumerate(specs):
        base = spec.name or default_name(spec, n)
        name, k = base, 1
        while name in taken:
            k += 1
            name = f"{base}_{k}"
        taken.add(name)
        spec.name = name
