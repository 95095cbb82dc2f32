"""Cutting the stamps of a whole request file from local images, serially, in
worker processes or on a Dask distributed cluster."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from mopstool.errors import DataError
from mopstool.fits.image import ImageSource, is_sibling_plane
from mopstool.fits.stamp import NO_IMAGE_MATCH, StampResult, StampSpec, cut_stamps

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


