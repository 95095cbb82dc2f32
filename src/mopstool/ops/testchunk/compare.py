"""``testchunk compare A B``: the diff products of two processings of a test set.

A side is a diff label in the database (its diffs' CMFs, forward
``<path_base>.cmf`` for the input exposure and, for WW diffs made both ways,
``<path_base>.inv.cmf`` for the template exposure), a directory (every
``*.cmf`` and ``*.mops`` under it), one such file, or a text file listing
paths one per line.

Each side becomes a set of *cells*: the detections of one exposure on one
skycell. CMFs are read with ``fits.cmf.read_cmf`` (exposure from FPA.OBS,
skycell from SKYCELL, mid-exposure time MJD-OBS + EXPTIME/2, RA/Dec errors
as ppMops computes them from X/Y_PSF_SIG, POSANGLE and PLTSCALE), ``.mops``
files with ``fits.mops.read_mops`` (EXP_NAME, SKYCELL_ID when the file has it,
MJD-OBS, RA_ERR/DEC_ERR). Cells of A and B with the same exposure and skycell
are matched; the definitions of every reported number are in
docs/testchunk.md.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mopstool.errors import DataError, NotFound, UsageError

#: the SkyChip.psf columns a cell is made of
CMF_COLUMNS = ("RA_PSF", "DEC_PSF", "X_PSF_SIG", "Y_PSF_SIG", "POSANGLE", "PLTSCALE", "PSF_INST_MAG", "FLAGS")
CATALOG_SUFFIXES = (".cmf", ".mops")

THRESHOLDS = {
    "max_median_offset_arcsec": ("offset_median_arcsec", "median separation of matched detections, arcsec"),
    "max_p90_offset_sigma": ("offset_p90_sigma", "90th percentile separation / quoted error"),
    "max_median_mag_offset": ("mag_offset_median_abs", "|median MAG(B) - MAG(A)|"),
    "max_only_a_fraction": ("only_a_fraction", "detections of A not in B / detections of A"),
    "max_only_b_fraction": ("only_b_fraction", "detections of B not in A / detections of B"),
    "max_flag_rate_change": ("flag_rate_change_abs", "|flag rate B - flag rate A|"),
    "max_gcr_ratio": ("gcr_ratio_median", "median GCR of B / median GCR of A"),
}


@dataclass
class Cell:
    exposure: str
    skycell: str
    mjd: float
    path: str
    ra: Any
    dec: Any
    ra_err: Any       #: degrees on the sky
    dec_err: Any
    mag: Any
    flags: Any
    _xyz: Any = field(default=None, repr=False, compare=False)
    _cos_dec: Any = field(default=None, repr=False, compare=False)

    @property
    def n(self) -> int:
        return len(self.ra)

    def rows(self):
        """Unit vectors of the detections as three rows x, y, z (computed once;
        matching and linking share them)."""
        if self._xyz is None:
            from mopstool.sky import unit_rows

            self._xyz, self._cos_dec = unit_rows(self.ra, self.dec, with_cos_dec=True)
        return self._xyz

    def cos_dec(self):
        """cos(Dec) of the detections (with ``rows``)."""
        self.rows()
        return self._cos_dec


@dataclass
class Side:
    name: str
    kind: str           #: label | files
    cells: dict[tuple[str, str], Cell] = field(default_factory=dict)
    files: int = 0

    def add(self, cell: Cell) -> None:
        key = (cell.exposure, cell.skycell)
        old = self.cells.get(key)
        if old is None:
            self.cells[key] = cell
            return
        import numpy as np

        self.cells[key] = Cell(cell.exposure, cell.skycell, old.mjd, old.path + "," + cell.path,
                               *(np.concatenate([getattr(old, a), getattr(cell, a)])
                                 for a in ("ra", "dec", "ra_err", "dec_err", "mag", "flags")))

    @property
    def detections(self) -> int:
        return sum(c.n for c in self.cells.values())


# ------------------------------------------------------------------ reading
def _finite_rows(ra, dec):
    import numpy as np

    return np.isfinite(ra) & np.isfinite(dec)


def _cell(exposure, skycell, mjd, path, ra, dec, ra_err, dec_err, mag, flags) -> Cell:
    import numpy as np

    ok = _finite_rows(ra, dec)
    cols = [np.asarray(x, "f8") for x in (ra, dec, ra_err, dec_err, mag)] + [np.asarray(flags).astype("u8", copy=False)]
    if not ok.all():
        cols = [c[ok] for c in cols]
    return Cell(exposure, skycell, mjd, path, *cols)


def _float(v, default=math.nan) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def _stem(path: str) -> str:
    name = os.path.basename(path)
    for suf in (".inv.cmf", ".cmf", ".mops"):
        if name.endswith(suf):
            return name[:-len(suf)]
    return name


def _read_psf_fitsio(path: str, columns):
    """``fits.bintable.read_table`` of SkyChip.psf done with fitsio, for the
    files outside the lean reader's plain case (same result)."""
    import fitsio

    from mopstool.fits.bintable import Hdu, Table, header_cards

    def hdu_of(fh, hdu, name):
        off = hdu.get_offsets()
        fh.seek(off["header_start"])
        raw = fh.read(off["data_start"] - off["header_start"]).decode("ascii", "replace")
        return Hdu(name=name, cards=header_cards(raw), data_start=off["data_start"], data_bytes=0)

    with fitsio.FITS(path) as f, open(path, "rb") as fh:
        hdus = {"": hdu_of(fh, f[0], "")}
        if "SkyChip.psf" not in f:
            raise DataError(f"{path}: no SkyChip.psf extension (not a psphot CMF?)")
        if "SkyChip.hdr" in f:
            hdus["SkyChip.hdr"] = hdu_of(fh, f["SkyChip.hdr"], "SkyChip.hdr")
        hdu = f["SkyChip.psf"]
        hdus["SkyChip.psf"] = hdu_of(fh, hdu, "SkyChip.psf")
        exttype = hdu.get_exttype()
        if exttype not in ("BINARY_TBL", "ASCII_TBL"):
            raise DataError(f"{path}: SkyChip.psf is not a table")
        colnames = list(hdu.get_colnames())
        names = {n.upper(): n for n in colnames}
        out = Table(hdus=hdus, exttype=exttype, colnames=colnames, nrows=int(hdu.get_nrows()))
        wanted = [names[c] for c in columns if c in names]
        if out.nrows > 0 and wanted:
            data = hdu.read(columns=wanted)
            for n in data.dtype.names:
                col = data[n]
                out.columns[n.upper()] = col.astype(col.dtype.newbyteorder("="))
    return out


def read_cmf_cell(path: str, *, exposure: str | None = None, skycell: str | None = None,
                  mjd: float | None = None) -> Cell:
    """One diff CMF as a cell. Reads only the SkyChip.psf columns compare uses
    (``CMF_COLUMNS``) and, from the raw header blocks, only the keywords it
    needs (exposure, time, skycell, EXTTYPE), with ``fits.bintable.read_table``
    (fitsio for files outside its plain case); the checks are those of
    ``fits.cmf.read_cmf`` (a PS1_DV table with the required columns)."""
    import numpy as np

    from mopstool.fits.bintable import read_table
    from mopstool.fits.cmf import REQUIRED_COLUMNS, dv_version
    from mopstool.fits.mops_build import radec_errors
    from mopstool.fits.skycell import parse_skycell_id

    if not os.path.exists(path):
        raise DataError(f"CMF file not found: {path}")
    try:
        t = read_table(path, "SkyChip.psf", CMF_COLUMNS)
        if t is None or (not skycell and t.hdus[""].get("SKYCELL") in (None, "")
                         and "SkyChip.hdr" not in t.hdus):
            t = _read_psf_fitsio(path, CMF_COLUMNS)
    except DataError:
        raise
    except (OSError, IOError, ValueError, KeyError, UnicodeError) as exc:
        raise DataError(f"cannot read CMF {path}: {' '.join(str(exc).split())[:200] or type(exc).__name__}") \
            from None
    h, psf = t.hdus[""], t.hdus["SkyChip.psf"]
    exttype = str(psf.get("EXTTYPE") or "")
    if exttype and dv_version(exttype) is None and not exttype.upper().startswith("PS1_DV"):
        raise DataError(f"{path}: SkyChip.psf has EXTTYPE {exttype!r}, not a difference-image "
                        "format (PS1_DV1..PS1_DV5)")
    names = {n.upper() for n in t.colnames}
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise DataError(f"{path}: SkyChip.psf lacks column(s) {', '.join(missing)}")
    sky = skycell or h.get("SKYCELL")
    if not sky and "SkyChip.hdr" in t.hdus:
        sky = t.hdus["SkyChip.hdr"].get("SKYCELL")
    if not sky:
        parsed = parse_skycell_id(os.path.basename(path))
        sky = f"skycell.{parsed[0]:04d}.{parsed[1]:03d}" if parsed else "-"
    exp = exposure or str(h.get("FPA.OBS") or h.get("EXP_NAME") or _stem(path))
    tm = mjd
    if tm is None:
        tm = _float(h.get("MJD-OBS")) + _float(h.get("EXPTIME"), 0.0) / 2 / 86400.0
    n = t.nrows if t.columns else 0

    def col(name, fill):
        c = t.columns.get(name)
        return np.full(n, fill, dtype="f8") if c is None else c.astype("f8", copy=False)

    ra_err, dec_err = radec_errors(col("X_PSF_SIG", math.nan), col("Y_PSF_SIG", math.nan),
                                   col("POSANGLE", 0.0), col("PLTSCALE", math.nan))
    flags = t.columns["FLAGS"].astype("u8") if "FLAGS" in t.columns else np.zeros(n, dtype="u8")
    return _cell(exp, str(sky), tm, path, col("RA_PSF", math.nan), col("DEC_PSF", math.nan),
                 ra_err, dec_err, col("PSF_INST_MAG", math.nan), flags)


def read_mops_cells(path: str) -> list[Cell]:
    import numpy as np

    from mopstool.fits.mops import MOPS_EXT
    from mopstool.fits.mops_read import column, read_mops

    m = read_mops(path)
    table = m.tables.get(MOPS_EXT)
    if table is None:
        raise DataError(f"{path}: no {MOPS_EXT} table (not a .mops file?)")
    h = m.header
    exp = str(h.get("EXP_NAME") or _stem(path))
    t = _float(h.get("MJD-OBS"))

    def col(name, fill=math.nan):
        c = column(table, name)
        return np.full(len(table), fill) if c is None else c

    sky = column(table, "SKYCELL_ID")
    parts = [("-", np.ones(len(table), dtype=bool))] if sky is None else \
        [(str(s), sky == s) for s in np.unique(sky)]
    return [_cell(exp, s, t, path, col("RA")[sel], col("DEC")[sel], col("RA_ERR")[sel], col("DEC_ERR")[sel],
                  col("MAG")[sel], col("FLAGS", 0)[sel]) for s, sel in parts]


def _catalog_files(spec: str) -> list[str] | None:
    """The catalog files a side argument names, or None when it is not a path."""
    p = Path(spec)
    if p.is_dir():
        files = sorted(str(f) for f in p.rglob("*") if f.is_file() and f.name.endswith(CATALOG_SUFFIXES))
        if not files:
            raise DataError(f"{spec}: no *.cmf or *.mops files in this directory")
        return files
    if p.is_file():
        if p.name.endswith(CATALOG_SUFFIXES) or p.suffix.lower() in (".fits", ".fit"):
            return [str(p)]
        base = p.parent
        out = []
        for line in p.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                out.append(str(base / line) if not os.path.isabs(line) else line)
        if not out:
            raise DataError(f"{spec}: the file list is empty")
        return out
    if os.sep in spec or spec.endswith(CATALOG_SUFFIXES):
        raise DataError(f"{spec}: no such file or directory")
    return None


def load_files(name: str, files: list[str]) -> Side:
    side = Side(name=name, kind="files", files=len(files))
    for f in files:
        if f.endswith(".mops"):
            for c in read_mops_cells(f):
                side.add(c)
        else:
            side.add(read_cmf_cell(f))
    return side


def label_products(dbs, cfg, label: str) -> list[dict[str, Any]]:
    """The diff CMFs of a label: one row per (diff, skycell, direction) with the
    path, the exposure whose detections it holds and its mid-exposure MJD."""
    from sqlalchemy import select

    from mopstool.db import schema
    from mopstool.ops.mopscat.build import exposures_for_warps, resolve_path
    from mopstool.stages.joins import component_input_on

    dr, di, ds = schema.diffRun, schema.diffInputSkyfile, schema.diffSkyfile
    from mopstool.ops.mopscat.build import DEFAULT_DATA_STATES

    states = list(cfg.get("mopscat.data_states") or DEFAULT_DATA_STATES)
    neb_root = cfg.get("mopscat.neb_root") or None
    q = (select(dr.c.diff_id, dr.c.diff_mode, dr.c.bothways, di.c.skycell_id, di.c.warp1, di.c.warp2,
                ds.c.path_base)
         .select_from(dr.join(di, di.c.diff_id == dr.c.diff_id)
                      .join(ds, component_input_on("diff")))
         .where(dr.c.label == label, ds.c.data_state.in_(states), ds.c.fault == 0, ds.c.quality == 0,
                ds.c.path_base.is_not(None))
         .order_by(dr.c.diff_id, di.c.skycell_id))
    with dbs.connect() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
        if not rows:
            n = conn.execute(select(dr.c.diff_id).where(dr.c.label == label).limit(1)).first()
            if n is None:
                raise NotFound(f"no diff run with label {label!r} (and no such file or directory)")
            raise DataError(f"label {label}: no diff skycell is done (data_state in "
                            f"{', '.join(states)}, fault 0, quality 0)")
        chains = exposures_for_warps(conn, [w for r in rows for w in (r["warp1"], r["warp2"]) if w])
    out = []
    for r in rows:
        mode = int(r["diff_mode"] or 1)
        dirs = [(".cmf", r["warp1"] if mode != 3 else r["warp2"])]
        if mode == 1 and r["bothways"] and r["warp2"]:
            dirs.append((".inv.cmf", r["warp2"]))
        for suffix, warp in dirs:
            ch = chains.get(int(warp)) if warp else None
            if ch is None:
                continue
            mjd = None
            if ch.get("dateobs") is not None:
                from datetime import datetime

                dt = ch["dateobs"] if isinstance(ch["dateobs"], datetime) else datetime.fromisoformat(str(ch["dateobs"]))
                mjd = (dt - datetime(1858, 11, 17)).total_seconds() / 86400.0 + \
                    float(ch.get("exp_time") or 0) / 2 / 86400.0
            out.append({"diff_id": r["diff_id"], "skycell_id": r["skycell_id"], "exp_name": ch["exp_name"],
                        "mjd": mjd, "path": resolve_path(r["path_base"], suffix, neb_root=neb_root)})
    return out


def load_side(spec: str, *, dbs_factory=None, cfg=None) -> Side:
    files = _catalog_files(spec)
    if files is not None:
        return load_files(spec, files)
    if dbs_factory is None:
        raise UsageError(f"{spec}: not a file or directory, and no database to look the label up in")
    products = label_products(dbs_factory(), cfg, spec)
    side = Side(name=spec, kind="label", files=len(products))
    for p in products:
        side.add(read_cmf_cell(p["path"], exposure=p["exp_name"], skycell=p["skycell_id"], mjd=p["mjd"]))
    return side


# ------------------------------------------------------------------ matching
def _link_rows(side: Side):
    """How ``side_tracklets`` gives the side's detections to ``link``: the
    cells in side order, per cell its mask of the detections that link uses
    (no SOURCE_MASK flag; None: all), per cell how many, and per cell the
    link row of its first."""
    import numpy as np

    from mopstool.fits.cmf import SOURCE_MASK

    cells = list(side.cells.values())
    oks = [(c.flags & SOURCE_MASK) == 0 for c in cells]
    oks = [None if ok.all() else ok for ok in oks]
    counts = [c.n if ok is None else int(np.count_nonzero(ok)) for c, ok in zip(cells, oks)]
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if cells else np.zeros(0, np.int64)
    return cells, oks, counts, starts


def _row_maps(side: Side) -> dict[tuple[str, str], Any]:
    """Per cell key: the ``link`` row of each detection, -1 for those linking
    does not use (flagged, or a cell without a finite time)."""
    import numpy as np

    cells, oks, _, starts = _link_rows(side)
    out = {}
    for c, ok, start in zip(cells, oks, starts.tolist()):
        if not math.isfinite(c.mjd):
            m = np.full(c.n, -1, dtype=np.int64)
        elif ok is None:
            m = np.arange(start, start + c.n, dtype=np.int64)
        else:
            m = np.cumsum(ok, dtype=np.int64) + (start - 1)
            m[~ok] = -1
        out[(c.exposure, c.skycell)] = m
    return out


def exposure_searches(a: Side, b: Side, radius_arcsec: float, params):
    """Matching and the duplicates for linking, from one close-pair search per
    exposure over the detections of both sides (``tracklets.exposure_pairs``,
    at the larger of the match radius and ``tracklet_dedup_arcsec``):

    * for each cell of A with a counterpart in B (same exposure and skycell):
      the mutual nearest neighbours within the radius, each detection paired
      only with those of its counterpart cell: (indices in a, indices in b);
    * for each side, the ``link`` rows (``_row_maps``) that linking drops as
      duplicates: of two detections of one exposure that linking uses, closer
      than the dedup distance, the later.

    An exposure whose detections spread too far for one plane is matched cell
    by cell, and linking looks for the duplicates itself (None for both
    sides). Returns ({cell key: (ia, jb)}, duplicates of A, duplicates of B)."""
    import numpy as np

    from mopstool.ops.testchunk import neighbours as nb
    from mopstool.ops.testchunk.tracklets import exposure_pairs
    from mopstool.sky import ARCSEC, chord

    # the tests on squared chords, as ``neighbours.within`` makes them
    r = chord(radius_arcsec * ARCSEC)
    dedup = params.dedup_arcsec if params.dedup_arcsec > 0 else 0.0
    r_dup = chord(dedup * ARCSEC) if dedup else 0.0
    r2, d2_dup = r * r, (r_dup * r_dup if dedup else -1.0)
    angle, chord_max = max(radius_arcsec, dedup) * ARCSEC, max(r, r_dup)
    maps = (_row_maps(a), _row_maps(b))
    sides = (a, b)
    empty = np.zeros(0, dtype=np.int64)
    matches: dict[tuple[str, str], tuple[Any, Any]] = {}
    drops: tuple[list, list] = ([], [])

    def search(matched: list, only: tuple[list, list], dups: bool) -> None:
        """One search over the *matched* keys (both sides) and the keys of one
        side only: the matches of *matched*, and with *dups* the duplicates."""
        keys = tuple(matched + only[s] for s in (0, 1))
        cells = [[sides[s].cells[k] for k in keys[s]] for s in (0, 1)]
        sizes = [np.array([c.n for c in cells[s]], dtype=np.int64) for s in (0, 1)]
        n_a = int(sizes[0].sum())
        i, j, d2 = exposure_pairs([c.rows() for c in cells[0] + cells[1]], angle, chord_max)
        if matched:
            # the cells' codes: the matched ones numbered alike on both sides, -1 the others
            code = [np.repeat(np.concatenate([np.arange(len(matched)), np.full(len(only[s]), -1)]), sizes[s])
                    for s in (0, 1)]
            x = np.flatnonzero((i < n_a) & (j >= n_a) & (d2 <= r2))
            ia, jb, dc = i.take(x), j.take(x) - n_a, d2.take(x)
            same = code[0].take(ia)
            x = np.flatnonzero((same >= 0) & (same == code[1].take(jb)))
            ia, jb, dc = ia.take(x), jb.take(x), np.sqrt(dc.take(x))
            n_b = int(sizes[1].sum())
            bi, bj, _ = nb.nearest(ia, jb, dc, n_a)      # each a's nearest b
            cj, ci, _ = nb.nearest(jb, ia, dc, n_b)      # each b's nearest a
            best_a = np.full(n_b, -1, dtype=np.int64)
            best_a[cj] = ci
            mutual = best_a[bj] == bi
            ia, jb = bi[mutual], bj[mutual]         # ascending ia (``nearest``), so cell by cell
            sa = np.concatenate([[0], np.cumsum(sizes[0][:len(matched)])])
            sb = np.concatenate([[0], np.cumsum(sizes[1][:len(matched)])])
            bounds = np.searchsorted(ia, sa)
            for q, k in enumerate(matched):
                lo, hi = bounds[q], bounds[q + 1]
                matches[k] = (ia[lo:hi] - sa[q], jb[lo:hi] - sb[q])
        if dups and dedup:
            for s, part in ((0, j < n_a), (1, i >= n_a)):
                if not keys[s]:
                    continue
                row = np.concatenate([maps[s][k] for k in keys[s]])
                x = np.flatnonzero(part & (d2 <= d2_dup))
                off = 0 if s == 0 else n_a
                li, lj = row.take(i.take(x) - off), row.take(j.take(x) - off)
                ok = (li >= 0) & (lj >= 0)
                drops[s].append(np.maximum(li[ok], lj[ok]))

    # per exposure: the cells to match, and those of one side only (for the duplicates)
    by_exp: dict[str, tuple[list, list, list]] = {}
    for k in sorted(set(a.cells) | set(b.cells)):
        ca, cb = a.cells.get(k), b.cells.get(k)
        matched, only_a, only_b = by_exp.setdefault(k[0], ([], [], []))
        if ca is not None and cb is not None and ca.n and cb.n:
            matched.append(k)
            continue
        if ca is not None and cb is not None:
            matches[k] = (empty, empty)     # no detections on one side: nothing to match
        if ca is not None:
            only_a.append(k)
        if cb is not None:
            only_b.append(k)
    spread = False
    for matched, only_a, only_b in by_exp.values():
        try:
            search(matched, (only_a, only_b), True)
        except ValueError:          # the exposure spreads too far for one plane: cell by cell
            spread = True
            for k in matched:
                try:
                    search([k], ([], []), False)
                except ValueError:
                    raise DataError(f"{a.cells[k].path}: the detections of one cell spread over more "
                                    "than 20 degrees") from None
    if spread:
        return matches, None, None
    dup = tuple(np.unique(np.concatenate(d)) if d else empty for d in drops)
    return matches, dup[0], dup[1]


#: below this many values the order statistics come from one partition
_BAND_MIN = 20000


def _order_values(x, ranks: tuple[int, ...]) -> dict[int, float]:
    """The values at positions *ranks* (two or more, adjacent) of sorted *x*,
    exactly. Small sets: one partition. Large ones: a strided sample
    (about 4,096 values) bounds the ranks with a margin of several standard
    deviations of a sample rank; the values within the bounds (a few per
    cent) are partitioned, offset by the count below them; should the
    bounds miss (a sample far from its expectation), the whole set is
    partitioned. Two array passes and a small partition instead of a
    partition of every value: 2-3 times faster for 300,000 offsets."""
    import numpy as np

    n = len(x)
    if n < _BAND_MIN:
        part = np.partition(x, list(ranks))
        return {r: part[r] for r in ranks}
    sample = x[::max(1, n // 4096)]
    m = len(sample)
    margin = 3.0 * math.sqrt(m) + 4.0
    a = max(0, math.floor(ranks[0] / (n - 1) * (m - 1) - margin))
    b = min(m - 1, math.ceil(ranks[-1] / (n - 1) * (m - 1) + margin))
    sp = np.partition(sample, [a, b] if b > a else [a, min(a + 1, m - 1)])
    lo, hi = sp[a], sp[b]
    below = int(np.count_nonzero(x < lo))
    band = x[(x >= lo) & (x <= hi)]
    if below <= ranks[0] and ranks[-1] < below + len(band):
        part = np.partition(band, [r - below for r in ranks])
        return {r: part[r - below] for r in ranks}
    part = np.partition(x, list(ranks))
    return {r: part[r] for r in ranks}


def _ranks(n: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """The positions of sorted values (n >= 2) that the median and the 90th
    percentile need: two each (numpy's partition at a single position is
    several times slower, and on many equal values, a magnitude offset of 0,
    about 70 times slower)."""
    lo = math.floor((n - 1) * 0.9)
    return (n // 2 - 1, n // 2), (lo, lo + 1)


def _from_order(at, n: int, median: bool, p90: bool) -> tuple[float | None, float | None]:
    """``numpy.median`` and ``numpy.percentile(.., 90)`` (linear
    interpolation) of *n* values from the order statistics ``at[rank]`` at
    ``_ranks(n)`` (numpy's formulas: the mean of the middle two; the previous
    order statistic plus gamma times the step, from the next one when
    gamma >= 0.5)."""
    (_, h), (lo, _) = _ranks(n)
    med = pct = None
    if median:
        med = float(at[h]) if n % 2 else float((at[h - 1] + at[h]) / 2.0)
    if p90:
        a, b, g = float(at[lo]), float(at[lo + 1]), (n - 1) * 0.9 - lo
        d = b - a
        pct = b - d * (1 - g) if g >= 0.5 else a + d * g
    return med, pct


def _order_stats(x, median: bool = True, p90: bool = False) -> tuple[float | None, float | None]:
    """``numpy.median(x)`` and ``numpy.percentile(x, 90)`` of finite values,
    the same numbers from the order statistics they need (``_from_order``),
    each pair of them from ``_order_values``: a selection is linear in the
    values, a sort is not (3-5 times faster for the 5,000 to 300,000 offsets
    of a compare)."""
    n = len(x)
    if n == 0:
        return None, None
    if n == 1:
        v = float(x[0])
        return (v if median else None), (v if p90 else None)
    at: dict[int, float] = {}
    for want, ranks in zip((median, p90), _ranks(n)):
        if want:
            at.update(_order_values(x, ranks))
    return _from_order(at, n, median, p90)


def _order_stats_rows(rows) -> list[tuple[float | None, float | None]]:
    """``_order_stats(row, p90=True)`` of every row of a 2-D array of fewer
    than ``_BAND_MIN`` columns, from one partition of all rows (one call
    instead of one per statistic: the cells of a compare are many and small)."""
    import numpy as np

    n = rows.shape[1]
    if n < 2:
        return [_order_stats(r, p90=True) for r in rows]
    ranks = sorted(set(sum(_ranks(n), ())))
    part = np.partition(rows, ranks, axis=1)
    return [_from_order(r, n, True, True) for r in part]


@dataclass
class Offsets:
    dra: Any      #: (RA_B - RA_A) cos Dec_A, arcsec
    ddec: Any     #: Dec_B - Dec_A, arcsec
    sep: Any      #: arcsec
    sigma: Any    #: separation in units of the combined quoted errors
    dmag: Any     #: MAG_B - MAG_A
    mag_a: Any

    @staticmethod
    def of_many(items) -> "Offsets":
        """The offsets of the matched pairs (ia, jb) of every (a, b, ia, jb), in turn."""
        import numpy as np

        if not items:
            return Offsets(*(np.zeros(0) for _ in range(6)))

        def cat(side, name, idx):
            return np.concatenate([getattr(it[side], name)[it[idx]] for it in items])

        def norm(x, y):
            # sqrt(x^2 + y^2): numpy's hypot is several times slower (and
            # differs by at most one unit in the last place)
            out = x * x
            out += y * y
            return np.sqrt(out, out=out)

        ra_a, dec_a, ra_b, dec_b = cat(0, "ra", 2), cat(0, "dec", 2), cat(1, "ra", 3), cat(1, "dec", 3)
        cos_a = np.concatenate([it[0].cos_dec()[it[2]] for it in items])
        dra = ra_b - ra_a
        dra += 540.0
        if bool(((dra >= 360.0) & (dra < 720.0)).all()):
            # no pair across RA 0 (the usual case): the remainder is dra - 360,
            # exact, and less 180 the same number as dra - 540 (fmod is slow)
            dra -= 540.0
        else:
            dra %= 360.0
            dra -= 180.0
        dra *= cos_a
        dra *= 3600.0
        ddec = (dec_b - dec_a) * 3600.0
        sra = norm(cat(0, "ra_err", 2), cat(1, "ra_err", 3)) * 3600.0
        sdec = norm(cat(0, "dec_err", 2), cat(1, "dec_err", 3)) * 3600.0
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            x, y = dra / sra, ddec / sdec
            sig = norm(x, y)
            # hypot where x^2 + y^2 is not representable (an error of 0, or an
            # overflow or underflow): inf where an error is 0
            odd = np.flatnonzero(~((sig >= 1e-150) & (sig <= 1e150)))
            if len(odd):
                sig[odd] = np.hypot(x.take(odd), y.take(odd))
        mag_a = cat(0, "mag", 2)
        return Offsets(dra, ddec, norm(dra, ddec), sig, cat(1, "mag", 3) - mag_a, mag_a)

    def part(self, lo: int, hi: int) -> "Offsets":
        return Offsets(*(getattr(self, f)[lo:hi] for f in ("dra", "ddec", "sep", "sigma", "dmag", "mag_a")))

    @staticmethod
    def concat(items: list["Offsets"]) -> "Offsets":
        import numpy as np

        if not items:
            return Offsets(*(np.zeros(0) for _ in range(6)))
        return Offsets(*(np.concatenate([getattr(o, f) for o in items])
                         for f in ("dra", "ddec", "sep", "sigma", "dmag", "mag_a")))

    def stats(self) -> dict[str, Any]:
        import numpy as np

        def finite(x):
            ok = np.isfinite(x)
            return x if ok.all() else x[ok]

        sig = finite(self.sigma)
        dm = finite(self.dmag)
        rows = (self.dra, self.ddec, self.sep, sig, dm, np.abs(dm))
        n = len(self.sep)
        if 1 < n < _BAND_MIN and all(len(r) == n for r in rows):
            # a cell: all six from one partition of the six rows
            (dra, _), (ddec, _), (sep_med, sep_p90), (sig_med, sig_p90), (dm_med, _), (_, adm_p90) = \
                _order_stats_rows(np.stack(rows))
        else:
            dra, ddec, dm_med = (_order_stats(r)[0] for r in (self.dra, self.ddec, dm))
            (sep_med, sep_p90), (sig_med, sig_p90) = _order_stats(self.sep, p90=True), _order_stats(sig, p90=True)
            adm_p90 = _order_stats(rows[5], median=False, p90=True)[1]
        return {"dra_median_arcsec": dra, "ddec_median_arcsec": ddec,
                "offset_median_arcsec": sep_med, "offset_p90_arcsec": sep_p90,
                "offset_median_sigma": sig_med, "offset_p90_sigma": sig_p90,
                "mag_offset_median": dm_med, "mag_offset_p90_abs": adm_p90}


def _flag_rate(flags) -> float | None:
    import numpy as np

    from mopstool.fits.cmf import SOURCE_MASK

    return float(np.count_nonzero(flags & SOURCE_MASK)) / len(flags) if len(flags) else None


def _diff(b, a):
    return None if a is None or b is None else b - a


@dataclass
class CompareResult:
    a: str
    b: str
    radius_arcsec: float
    cells: list[dict[str, Any]]
    summary: dict[str, Any]
    tracklets: dict[str, Any]
    checks: list[dict[str, Any]]
    offsets: Offsets | None = None
    gcr_a: Any = None
    gcr_b: Any = None

    @property
    def exceeded(self) -> list[dict[str, Any]]:
        return [c for c in self.checks if c["ok"] is False]

    @property
    def status(self) -> str:
        return "exceeded" if self.exceeded else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "radius_arcsec": self.radius_arcsec, "status": self.status,
                "summary": self.summary, "tracklets": self.tracklets, "checks": self.checks,
                "cells": self.cells}


def _fields(side: Side) -> dict[str, int]:
    """Exposure -> field number: exposures that share a skycell are one field."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    exps = sorted({e for e, _ in side.cells})
    cells = sorted({s for _, s in side.cells})
    if not exps:
        return {}
    ei = {e: i for i, e in enumerate(exps)}
    si = {s: len(exps) + i for i, s in enumerate(cells)}
    u = np.array([ei[e] for e, s in side.cells])
    v = np.array([si[s] for e, s in side.cells])
    n = len(exps) + len(cells)
    _, comp = connected_components(coo_matrix((np.ones(len(u)), (u, v)), shape=(n, n)), directed=False)
    return {e: int(comp[ei[e]]) for e in exps}


def side_tracklets(side: Side, params, duplicates=None):
    """``tracklets.link`` of a side's detections without a SOURCE_MASK flag
    (in ``_link_rows`` order); *duplicates*: the rows to drop, found by
    ``exposure_searches`` (else link looks for them)."""
    import numpy as np

    from mopstool.ops.testchunk.tracklets import link

    fields = _fields(side)
    exp_code = {e: i for i, e in enumerate(sorted(fields))}
    cells, oks, counts, _ = _link_rows(side)
    if not cells:
        return link([], [], [], [], [], params)

    def cat(get):
        return np.concatenate([get(c) if ok is None else get(c)[..., ok] for c, ok in zip(cells, oks)], axis=-1)

    return link(cat(lambda c: c.ra), cat(lambda c: c.dec), np.repeat([c.mjd for c in cells], counts),
                np.repeat([exp_code[c.exposure] for c in cells], counts),
                np.repeat([fields[c.exposure] for c in cells], counts), params, xyz_rows=cat(lambda c: c.rows()),
                duplicates=duplicates)


def thresholds_from(cfg, overrides: dict[str, float] | None = None) -> dict[str, float]:
    out = {k: float(v) for k, v in (cfg.get("testchunk.thresholds") or {}).items()}
    unknown = sorted(set(out) - set(THRESHOLDS))
    if unknown:
        from mopstool.errors import ConfigError

        raise ConfigError(f"[testchunk.thresholds] has unknown keys: {', '.join(unknown)}; "
                          f"known: {', '.join(THRESHOLDS)}")
    for k, v in (overrides or {}).items():
        if k not in THRESHOLDS:
            raise UsageError(f"--threshold {k}: unknown; known: {', '.join(THRESHOLDS)}")
        out[k] = float(v)
    return out


def parse_threshold_args(values: list[str] | None) -> dict[str, float]:
    out = {}
    for v in values or []:
        if "=" not in v:
            raise UsageError(f"--threshold {v!r}: use NAME=VALUE (e.g. max_gcr_ratio=1.5)")
        k, _, x = v.partition("=")
        try:
            out[k.strip()] = float(x)
        except ValueError:
            raise UsageError(f"--threshold {v!r}: {x!r} is not a number") from None
    return out


def compare_sides(a: Side, b: Side, *, radius_arcsec: float, params, thresholds: dict[str, float]) -> CompareResult:
    import numpy as np

    if radius_arcsec <= 0:
        raise UsageError("--radius must be > 0 arcsec")
    params.check()
    keys = sorted(set(a.cells) | set(b.cells))
    rows = []
    tot = {"a": 0, "b": 0, "matched": 0, "only_a": 0, "only_b": 0}
    flags_a, flags_b = [], []
    both = [k for k in keys if k in a.cells and k in b.cells]
    matches, dup_a, dup_b = exposure_searches(a, b, radius_arcsec, params)
    allo = Offsets.of_many([(a.cells[k], b.cells[k], *matches[k]) for k in both])
    at, pos = {}, 0
    for k in both:
        at[k] = (pos, pos + len(matches[k][0]))
        pos = at[k][1]
    none = Offsets.concat([]).stats()
    for key in keys:
        ca, cb = a.cells.get(key), b.cells.get(key)
        na, nb = (ca.n if ca else 0), (cb.n if cb else 0)
        if ca is not None and cb is not None:
            lo, hi = at[key]
            st = allo.part(lo, hi).stats()
            nm = hi - lo
        else:
            st, nm = dict(none), 0
        fa = _flag_rate(ca.flags) if ca else None
        fb = _flag_rate(cb.flags) if cb else None
        if ca:
            flags_a.append(ca.flags)
        if cb:
            flags_b.append(cb.flags)
        row = {"exposure": key[0], "skycell": key[1], "a": na, "b": nb, "matched": nm,
               "only_a": na - nm, "only_b": nb - nm, **st, "flag_rate_a": fa, "flag_rate_b": fb,
               "flag_rate_change": _diff(fb, fa)}
        for k in tot:
            tot[k] += row[k]
        rows.append(row)
    fa = _flag_rate(np.concatenate(flags_a)) if flags_a else None
    fb = _flag_rate(np.concatenate(flags_b)) if flags_b else None
    summary = {"exposures": len({k[0] for k in keys}), "cells": len(keys),
               "cells_only_a": sum(1 for k in keys if k not in b.cells),
               "cells_only_b": sum(1 for k in keys if k not in a.cells),
               "files_a": a.files, "files_b": b.files, **tot, **allo.stats(),
               "only_a_fraction": tot["only_a"] / tot["a"] if tot["a"] else None,
               "only_b_fraction": tot["only_b"] / tot["b"] if tot["b"] else None,
               "flag_rate_a": fa, "flag_rate_b": fb, "flag_rate_change": _diff(fb, fa)}
    ta, tb = side_tracklets(a, params, dup_a), side_tracklets(b, params, dup_b)
    sa, sb = ta.summary(), tb.summary()

    def ratio(x, y):
        return None if x in (None, 0) or y is None else y / x

    tracklets = {"a": sa, "b": sb, "gcr_ratio_median": ratio(sa["gcr_median_arcsec"], sb["gcr_median_arcsec"]),
                 "gcr_ratio_p90": ratio(sa["gcr_p90_arcsec"], sb["gcr_p90_arcsec"]),
                 "params": params.__dict__}
    values = dict(summary, gcr_ratio_median=tracklets["gcr_ratio_median"],
                  mag_offset_median_abs=abs(summary["mag_offset_median"])
                  if summary["mag_offset_median"] is not None else None,
                  flag_rate_change_abs=abs(summary["flag_rate_change"])
                  if summary["flag_rate_change"] is not None else None)
    checks = []
    for name, limit in thresholds.items():
        metric, meaning = THRESHOLDS[name]
        v = values.get(metric)
        if limit < 0:
            ok = None
            note = "disabled"
        elif v is None:
            ok, note = None, "no data"
        else:
            ok = bool(v <= limit)
            note = "" if ok else "exceeded"
        checks.append({"check": name, "metric": metric, "value": v, "limit": limit if limit >= 0 else None,
                       "ok": ok, "note": note or meaning})
    return CompareResult(a=a.name, b=b.name, radius_arcsec=radius_arcsec, cells=rows, summary=summary,
                         tracklets=tracklets, checks=checks, offsets=allo, gcr_a=ta.gcr, gcr_b=tb.gcr)


def compare(spec_a: str, spec_b: str, cfg, *, dbs_factory=None, radius_arcsec: float | None = None,
            thresholds: dict[str, float] | None = None) -> CompareResult:
    from mopstool.ops.testchunk.tracklets import TrackletParams

    radius = float(radius_arcsec if radius_arcsec is not None else cfg.get("testchunk.match_radius_arcsec", 1.0))
    if radius <= 0:
        raise UsageError("--radius must be > 0 arcsec")
    th = thresholds_from(cfg, thresholds)
    params = TrackletParams.from_config(cfg)
    params.check()
    from mopstool._memory import keep_freed_memory

    keep_freed_memory()     # numpy's temporaries reuse freed memory (see mopstool._memory)
    a = load_side(spec_a, dbs_factory=dbs_factory, cfg=cfg)
    b = load_side(spec_b, dbs_factory=dbs_factory, cfg=cfg)
    return compare_sides(a, b, radius_arcsec=radius, params=params, thresholds=th)


# ------------------------------------------------------------------ plots
def write_plots(res: CompareResult, outdir: str | os.PathLike) -> list[str]:
    """PNG plots of a comparison: offsets.png, counts.png, offset_vs_mag.png, gcr.png."""
    try:
        import matplotlib
    except ImportError:
        from mopstool.errors import ConfigError

        raise ConfigError("--plots needs matplotlib (a dependency of mopstool): pip install matplotlib") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out = Path(outdir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--plots {outdir}: {exc.strerror}") from None
    o = res.offsets
    written = []

    def save(fig, name):
        p = out / name
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        written.append(str(p))

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, data, title in ((axes[0], o.dra, "RA cos Dec offset B-A (arcsec)"),
                            (axes[1], o.ddec, "Dec offset B-A (arcsec)"),
                            (axes[2], o.sigma[np.isfinite(o.sigma)], "separation / quoted error")):
        if len(data):
            ax.hist(data, bins=60, color="tab:blue")
        ax.set_title(title, fontsize=9)
    save(fig, "offsets.png")

    cells = res.cells[:80]
    fig, ax = plt.subplots(figsize=(max(6, 0.18 * len(cells) + 2), 3.8))
    x = np.arange(len(cells))
    for off, k, lab in ((-0.3, "a", "A"), (0.0, "b", "B"), (0.3, "matched", "matched")):
        ax.bar(x + off, [c[k] for c in cells], width=0.3, label=lab)
    ax.set_xticks(x)
    ax.set_xticklabels([f"{c['exposure']} {c['skycell']}" for c in cells], rotation=90, fontsize=5)
    ax.set_ylabel("detections")
    ax.legend(fontsize=8)
    save(fig, "counts.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    if len(o.sep):
        ax.scatter(o.mag_a, o.sep, s=2, alpha=0.5)
    ax.set_xlabel("magnitude (A)")
    ax.set_ylabel("separation B-A (arcsec)")
    save(fig, "offset_vs_mag.png")

    fig, ax = plt.subplots(figsize=(6, 4))
    ga, gb = np.asarray(res.gcr_a), np.asarray(res.gcr_b)
    both = np.concatenate([ga, gb])
    if both.size:
        bins = np.linspace(0, float(np.percentile(both, 99)) or 1.0, 40)
        ax.hist(ga, bins=bins, histtype="step", label=f"A ({len(ga)})")
        ax.hist(gb, bins=bins, histtype="step", label=f"B ({len(gb)})")
        ax.legend(fontsize=8)
    ax.set_xlabel("tracklet GCR (arcsec)")
    save(fig, "gcr.png")
    return written
