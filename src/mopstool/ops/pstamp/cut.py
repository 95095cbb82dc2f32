"""Cutting stamps from local images: given centres on given images, or every row
of a request file matched to a set of images, serially, in worker processes or
on a Dask distributed cluster (:mod:`mopstool.ops.parallel`).

Planning (reading the headers, matching rows to images, naming the stamps) is
done here, once; each image's stamps are then one task, or several tasks of
contiguous runs of them when there are fewer images than workers to keep busy
(:func:`plan_tasks`). A task opens its image, cuts its stamps and returns their
results, so the products do not depend on how the tasks were run.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from mopstool.errors import DataError
from mopstool.fits.image import ImageSource, is_sibling_plane
from mopstool.fits.provenance import run_time
from mopstool.fits.stamp import StampResult, StampSpec, assign_names, cut_stamps
from mopstool.ops.parallel import Execution, Progress, run_tasks
from mopstool.stages.vocab import Fault, PstampFault


@functools.lru_cache(maxsize=256)
def _like_rx(pattern: str) -> re.Pattern:
    rx = "^" + "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern) + "$"
    return re.compile(rx, re.IGNORECASE)


def _like(value: str | None, pattern: str) -> bool:
    if value is None:
        return False
    return _like_rx(pattern).match(value) is not None


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


@dataclass(frozen=True)
class CutOptions:
    """What every task of a run shares."""

    outdir: str
    split: bool = False
    allow_offchip: bool = False
    mask_blank: int = 1
    when: str = ""
    hdu: Any = None
    mask: str | None = None
    variance: str | None = None
    #: a source whose pixels cannot be read: raise (a direct cut, exit 65) or give its
    #: stamps the fault ppstamp's job would get (a request)
    fail_jobs: bool = False


def cut_image_task(image: str, specs: list[StampSpec], opts: CutOptions) -> list[StampResult]:
    """One task: the stamps *specs* of *image* (picklable; runs in any process)."""
    try:
        with ImageSource(image, hdu=opts.hdu, mask=opts.mask, variance=opts.variance) as src:
            return cut_stamps(src, specs, opts.outdir, split=opts.split, allow_offchip=opts.allow_offchip,
                              mask_blank=opts.mask_blank, when=opts.when)
    except DataError as exc:
        if not opts.fail_jobs:
            raise
        # ppstamp cannot read its input: the job fails with PS_EXIT_DATA_ERROR
        return [StampResult(name=s.name or "", image=str(image), rownum=s.rownum, fault=int(Fault.DATA),
                            message=exc.message) for s in specs]


#: the fewest stamps an image's stamps are split down to: a task opens its image,
#: its WCS and formats the carried header (about 2 ms, some 6 stamps of 64 x 64 px),
#: which stays within about 5% of the task's own work from here on
MIN_CHUNK = 128
#: tasks per slot aimed at when an image's stamps are split (an even finish, a live progress bar)
CHUNKS_PER_SLOT = 4


def plan_tasks(per_image: list[tuple[str, list[StampSpec]]], opts: CutOptions,
               slots: int) -> list[tuple[str, list[StampSpec], CutOptions]]:
    """The tasks of a cut for *slots* tasks running at once: each image's stamps one
    task (``cut_image_task`` arguments) or, with more than one slot, split into
    contiguous runs of at least MIN_CHUNK stamps, about CHUNKS_PER_SLOT tasks per slot
    over the whole cut; so an image is split only when the images alone would not
    keep the slots busy. In order: the merged results are the serial run's."""
    if slots <= 1:
        return [(img, specs, opts) for img, specs in per_image]
    total = sum(len(specs) for _, specs in per_image)
    size = max(MIN_CHUNK, -(-total // (slots * CHUNKS_PER_SLOT)))
    tasks = []
    for img, specs in per_image:
        pieces = max(1, len(specs) // size)
        for j in range(pieces):
            tasks.append((img, specs[len(specs) * j // pieces:len(specs) * (j + 1) // pieces], opts))
    return tasks


def _run(per_image: list[tuple[str, list[StampSpec]]], opts: CutOptions, execution: Execution,
         progress: Progress | None) -> list[StampResult]:
    """Cut the planned stamps as *execution* says; the results in the order planned."""
    parts = run_tasks(cut_image_task, functools.partial(plan_tasks, per_image, opts), execution,
                      progress=progress, what="cutting stamps", weight=lambda args: len(args[1]))
    return [r for part in parts for r in part]


def cut_images(images: list[str], specs: list[StampSpec], outdir: str | Path, *, split: bool = False,
               allow_offchip: bool = False, mask_blank: int = 1, hdu: Any = None, mask: str | None = None,
               variance: str | None = None, execution: Execution = Execution(),
               progress: Progress | None = None) -> list[StampResult]:
    """The same stamps cut from each of *images* (names get the image's stem when
    there are several images); an unreadable image raises DataError naming it."""
    per_image = []
    taken: set[str] = set()
    for img in images:
        these = [StampSpec(**s.__dict__) for s in specs]
        if len(images) > 1:
            for i, s in enumerate(these):
                from mopstool.fits.stamp import default_name

                s.name = f"{s.name or default_name(s, i)}_{Path(img).stem}"
        assign_names(these, taken)
        per_image.append(these)
    opts = CutOptions(outdir=str(outdir), split=split, allow_offchip=allow_offchip, mask_blank=mask_blank,
                      when=run_time(), hdu=hdu, mask=mask, variance=variance)
    return _run([(str(img), these) for img, these in zip(images, per_image)], opts, execution, progress)


def _bulk_pixels(sources: list[ImageSource], rows: list[dict], checked: list) -> dict[int, Any]:
    """Pixel centres of the valid sky-centred rows on each source, one WCS call per
    source where that gives exactly the per-row values (``ImageSource.pixels_exact_in_bulk``):
    {source index: {row index: (x, y)}, or None for a source without a WCS}; sources
    left out are converted row by row."""
    import numpy as np

    from mopstool.fits.request import CENTER_IN_PIXELS

    sky = [i for i, (row, bad) in enumerate(zip(rows, checked))
           if not bad and not int(float(row.get("COORD_MASK") or 0)) & CENTER_IN_PIXELS]
    out: dict[int, Any] = {}
    if not sky:
        return out
    ra = np.array([float(rows[i].get("CENTER_X")) for i in sky])
    dec = np.array([float(rows[i].get("CENTER_Y")) for i in sky])
    for k, src in enumerate(sources):
        try:
            if not src.pixels_exact_in_bulk():
                continue
            px, py = src.pixels(ra, dec)
        except DataError:
            out[k] = None
            continue
        out[k] = dict(zip(sky, zip(px.tolist(), py.tolist())))
    return out


def cut_request(request, images: Iterable[str | Path], outdir: str | Path, *,
                compress: str | None = None, split: bool = False, allow_offchip: bool = False,
                mask_blank: int = 1, projects: Iterable[str] | None = None,
                execution: Execution = Execution(), progress: Progress | None = None) -> list[StampResult]:
    """Cut the stamps of a whole request (a :class:`~mopstool.fits.request.StampRequest`)
    from local images, as the stamp server would for the matching images.

    A row matches an image when its centre lies on the image (sky centre) or the
    image names its COMPONENT (pixel centre), when the image filter matches
    REQFILT (a single letter matches any filter starting with it) and its MJD-OBS
    lies within MJD_MIN..MJD_MAX (0 = open). The database lookup fields
    (PROJECT, REQ_TYPE, ID, DATA_GROUP, TESS_ID ...) are not used locally.
    Output names follow the server: <ROWNUM>_<job>_<filter letter>_<image base>
    (``_2``, ``_3`` ... appended should two jobs get the same name).
    A row the parser would reject gets its fault; a row without an image 23. An
    image whose header cannot be read matches no row (a result with fault 5 names
    it); one whose pixels cannot be read fails only its own jobs (fault 5)."""
    from mopstool.fits.request import CENTER_IN_PIXELS, RANGE_IN_PIXELS, check_row

    files = find_images(images)
    sources: list[ImageSource] = []
    results: list[StampResult] = []
    for f in files:
        try:
            sources.append(ImageSource(f))
        except DataError as exc:
            results.append(StampResult(name="", image=str(f), fault=int(Fault.DATA), message=exc.message))
    todo: dict[int, list[StampSpec]] = {}
    job_counter: dict[Any, int] = {}
    try:
        checked = [check_row(row, projects=projects) for row in request.rows]
        bulk = _bulk_pixels(sources, request.rows, checked)
        for i, row in enumerate(request.rows):
            rownum = row.get("ROWNUM")
            bad = checked[i]
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
                    if k in bulk:
                        if bulk[k] is None:             # no WCS
                            continue
                        x, y = bulk[k][i]
                    else:
                        try:
                            px, py = src.pixels(spec.ra, spec.dec)
                        except DataError:
                            continue
                        x, y = float(px[0]), float(py[0])
                    if not (allow_offchip or src.contains(x, y)):
                        continue
                    spec.pixel = (x, y)
                job = job_counter.get(rownum, 0) + 1
                job_counter[rownum] = job
                letter = (src.filter or "X")[:1]
                base = re.sub(r"\.fits?(\.fz)?$", "", src.path.name)
                spec.name = f"{rownum}_{job}_{letter}_{base}"
                todo.setdefault(k, []).append(spec)
                matched = True
            if not matched:
                results.append(StampResult(name="", image="", rownum=rownum,
                                           fault=int(PstampFault.NO_IMAGE_MATCH),
                                           message="no image matches the row"))
    finally:
        for s in sources:
            s.close()
    taken: set[str] = set()
    order = sorted(todo)
    for k in order:
        assign_names(todo[k], taken)
    opts = CutOptions(outdir=str(outdir), split=split, allow_offchip=allow_offchip, mask_blank=mask_blank,
                      when=run_time(), fail_jobs=True)
    results.extend(_run([(str(sources[k].path), todo[k]) for k in order], opts, execution, progress))
    return results
