"""Building a .mops catalog from diff CMFs: the ppMops cuts, positional errors,
cross-skycell duplicate resolution and the header.

The numerical work is column-wise numpy; duplicates are found with a KD-tree
on unit vectors (no Python loop per detection). The build streams: a first
pass over the skycells keeps only the cut counts and the duplicate keys of the
kept rows, a second reads each skycell again and writes its rows in place
(see :func:`build_mops`).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

from mopstool.errors import DataError
from mopstool.fits.cmf import SOURCE_MASK, CmfCatalog, chip_class_id, read_cmf, read_cmf_tables
from mopstool.fits.mops import (ALL_COLUMNS, ALL_EXT, DIFFTYPES, MATCH_RADIUS_ARCSEC, MOPS_REVISION, OBSCODES,
                                REVISION_COLUMNS, SKYCELL_COLUMNS, SKYCELL_EXT, SOURCE_MASK2, BuildResult,
                                DiffInput, ExposureMeta, SkycellInput, version_columns)
from mopstool.fits.mops_write import write_mops_file
from mopstool.fits.provenance import run_time

# ------------------------------------------------------------------ header helpers
_TOL = {"AIRMASS": 1e-3, "EXPTIME": 1e-3, "FPA.POSANGLE": 1 / 3600.0, "FPA.ALT": 1 / 3600.0,
        "FPA.AZ": 1 / 3600.0}


def _f(v) -> float:
    try:
        return float(v) if v not in (None, "") else float("nan")
    except (TypeError, ValueError):
        return float("nan")


def _s(v) -> str:
    return "" if v is None else str(v).strip()


def check_consistency(cats: list[CmfCatalog]) -> None:
    """All inputs must describe the same exposure (the ppMops merge check):
    identical FPA.RA/FPA.DEC strings and filter, airmass and exposure time
    within 1e-3, rotator angle, altitude and azimuth within 1 arcsec, and
    mid-exposure MJD within 1 s (a check ppMops means to make but never does)."""
    if len(cats) < 2:
        return
    ref = cats[0]
    r = ref.header
    ref_mjd = _f(r.get("MJD-OBS")) + _f(r.get("EXPTIME")) / 2 / 86400.0
    for c in cats[1:]:
        h = c.header
        for key in ("FPA.RA", "FPA.DEC", "FPA.FILTER"):
            if _s(h.get(key)) != _s(r.get(key)):
                raise DataError(f"{c.path}: {key} {_s(h.get(key))!r} differs from {_s(r.get(key))!r} "
                                f"in {ref.path} (inputs of different exposures?)")
        for key, tol in _TOL.items():
            a, b = _f(h.get(key)), _f(r.get(key))
            if math.isfinite(a) and math.isfinite(b) and abs(a - b) > tol:
                raise DataError(f"{c.path}: {key} {a} differs from {b} in {ref.path} by more than {tol:g}")
        mjd = _f(h.get("MJD-OBS")) + _f(h.get("EXPTIME")) / 2 / 86400.0
        if math.isfinite(mjd) and math.isfinite(ref_mjd) and abs(mjd - ref_mjd) * 86400.0 > 1.0:
            raise DataError(f"{c.path}: MJD-OBS differs from {ref.path} by "
                            f"{abs(mjd - ref_mjd) * 86400.0:.1f} s (more than 1 s)")


# ------------------------------------------------------------------ the core
def cross_pairs(ra, dec, group, radius_arcsec: float = MATCH_RADIUS_ARCSEC):
    """Index pairs (i, j), i < j, closer than *radius_arcsec* whose *group*
    (skycell) differs; found with a KD-tree on unit vectors."""
    import numpy as np
    from scipy.spatial import cKDTree

    if len(ra) < 2:
        return np.zeros((0, 2), dtype=np.intp)
    from mopstool.sky import chord_arcsec, unit_vectors

    tree = cKDTree(unit_vectors(ra, dec), leafsize=16)
    pairs = tree.query_pairs(chord_arcsec(radius_arcsec), output_type="ndarray")
    if len(pairs) == 0:
        return np.zeros((0, 2), dtype=np.intp)
    group = np.asarray(group)
    return pairs[group[pairs[:, 0]] != group[pairs[:, 1]]]


def resolve_duplicates(pairs, rank, n: int):
    """Greedy choice over conflicting detections.

    Detections are taken in order of *rank* (smaller first: nearer its skycell
    centre); one is kept unless a detection already kept lies within the match
    radius in another skycell (a pair in *pairs*). Computed in rounds: every
    undecided detection that ranks before all its undecided neighbours is
    kept and its undecided neighbours become duplicates, which gives exactly
    the sequential greedy result. Returns (primary bool array, primary_of
    index array: the kept detection a duplicate gave way to, or itself)."""
    import numpy as np

    primary = np.ones(n, dtype=bool)
    primary_of = np.arange(n)
    if len(pairs) == 0:
        return primary, primary_of
    src = np.concatenate([pairs[:, 0], pairs[:, 1]])
    dst = np.concatenate([pairs[:, 1], pairs[:, 0]])
    state = np.zeros(n, dtype=np.int8)          # 0 undecided, 1 kept, 2 duplicate
    involved = np.zeros(n, dtype=bool)
    involved[src] = True
    state[~involved] = 1
    big = np.iinfo(np.int64).max
    rank = np.asarray(rank, dtype=np.int64)
    while True:
        und = state == 0
        if not und.any():
            break
        live = und[src] & und[dst]
        best = np.full(n, big, dtype=np.int64)
        np.minimum.at(best, src[live], rank[dst[live]])
        win = und & (rank < best)
        state[win] = 1
        lose = win[src] & (state[dst] == 0)
        state[dst[lose]] = 2
    primary = state == 1
    dups = np.flatnonzero(~primary)
    if len(dups):
        e = (~primary[src]) & primary[dst]
        s, d = src[e], dst[e]
        order = np.lexsort((rank[d], s))
        s, d = s[order], d[order]
        first = np.ones(len(s), dtype=bool)
        first[1:] = s[1:] != s[:-1]
        primary_of[s[first]] = d[first]
    return primary, primary_of


@dataclass
class _Group:
    """Inputs of one difftype, concatenated (the build uses groups of one catalog)."""

    difftype: str
    cats: list[CmfCatalog]
    diffs: list[DiffInput]            # per cat
    inputs: list[SkycellInput]        # per cat
    offsets: Any = None
    src: Any = None
    keep: list = field(default_factory=list)      # per catalog: rows that passed the cuts
    _cache: dict = field(default_factory=dict)

    def __post_init__(self):
        import numpy as np

        sizes = np.array([c.nrows for c in self.cats], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(sizes)])
        self.src = np.repeat(np.arange(len(self.cats)), sizes)

    @property
    def n(self) -> int:
        return int(self.offsets[-1])

    def psf(self, name: str, dtype: str, fill: Any = None):
        import numpy as np

        key = ("psf", name, dtype)
        if key not in self._cache:
            if fill is None:
                fill = np.nan if np.dtype(dtype).kind == "f" else 0
            parts = [c.column(name, dtype, fill) for c in self.cats]
            self._cache[key] = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
        return self._cache[key]

    def xfit(self, name: str, dtype: str):
        import numpy as np

        key = ("xfit", name, dtype)
        if key not in self._cache:
            fill = np.nan if np.dtype(dtype).kind == "f" else 0
            parts = [c.xcolumn(name, dtype, fill) for c in self.cats]
            self._cache[key] = np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)
        return self._cache[key]

    def take(self, name: str, dtype: str, fill: Any = None, *, xfit: bool = False, release: bool = False):
        """Column *name* of the kept rows (``self.keep``, per catalog), gathered catalog
        by catalog without a full-length copy; *release* frees the input column."""
        import numpy as np

        if fill is None:
            fill = np.nan if np.dtype(dtype).kind == "f" else 0
        parts = []
        for c, keep in zip(self.cats, self.keep):
            col = c.xcolumn(name, dtype, fill) if xfit else c.column(name, dtype, fill)
            parts.append(col[keep])
            if release:
                (c.xfit if xfit else c.columns).pop(name, None)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def apply_cuts(g: _Group):
    """ppMops row cuts; returns a reason code per row: 0 kept, 1 FLAGS,
    2 WS DIFF_*/moments cuts (difftype WS only), 3 non-finite values."""
    import numpy as np

    n = g.n
    reason = np.zeros(n, dtype=np.int8)
    flags = g.psf("FLAGS", "u8")
    reason[(flags & SOURCE_MASK) != 0] = 1
    if g.difftype.upper() == "WS":
        # single-precision values compared in double precision, as the C code does
        rp, snp = g.psf("DIFF_R_P", "f8"), g.psf("DIFF_SN_P", "f8")
        rm, snm = g.psf("DIFF_R_M", "f8"), g.psf("DIFF_SN_M", "f8")
        fpos, rbad = g.psf("DIFF_FRATIO", "f8"), g.psf("DIFF_NRATIO_BAD", "f8")
        rmask, rall = g.psf("DIFF_NRATIO_MASK", "f8"), g.psf("DIFF_NRATIO_ALL", "f8")
        mxx, myy = g.psf("MOMENTS_XX", "f8"), g.psf("MOMENTS_YY", "f8")
        with np.errstate(invalid="ignore"):
            ws = (g.psf("FLAGS2", "u8") & SOURCE_MASK2) != 0
            ws |= np.isfinite(rp) & np.isfinite(snp) & (rp > 4.0) & (snp > 5.0)
            ws |= np.isfinite(rm) & np.isfinite(snm) & (rm < 4.0) & (snm > 5.0)
            ratios_ok = np.isfinite(fpos) & np.isfinite(rbad) & np.isfinite(rmask) & np.isfinite(rall)
            ws |= ~ratios_ok
            ws |= ratios_ok & ((fpos <= 0.6) | (rbad <= 0.5) | (rmask <= 0.6) | (rall <= 0.5))
            mom_ok = np.isfinite(mxx) & np.isfinite(myy)
            ws |= ~mom_ok
            ws |= mom_ok & ((mxx <= 2.0) | (myy <= 2.0)) & (rmask > 0.2)
        reason[(reason == 0) & ws] = 2
    finite = np.ones(n, dtype=bool)
    for name in ("X_PSF", "Y_PSF", "X_PSF_SIG", "Y_PSF_SIG", "PSF_INST_MAG", "PSF_INST_MAG_SIG",
                 "PLTSCALE", "POSANGLE"):
        finite &= np.isfinite(g.psf(name, "f4"))
    finite &= np.isfinite(g.psf("RA_PSF", "f8")) & np.isfinite(g.psf("DEC_PSF", "f8"))
    reason[(reason == 0) & ~finite] = 3
    return reason


def radec_errors(sig_x, sig_y, posangle_deg, pltscale):
    """(RA error, Dec error) in degrees from pixel errors, the position angle
    at the source (degrees) and the plate scale (arcsec/pixel)."""
    import numpy as np

    # cos^2 and sin^2 of the angle from t = tan(angle): 1 / (1 + t^2) and t^2 / (1 + t^2)
    # (numpy's tan is vectorised, its cos and sin several times slower; within
    # a few units in the last place)
    t2 = np.array(posangle_deg, dtype="f8")
    np.radians(t2, out=t2)
    np.tan(t2, out=t2)
    t2 *= t2
    c2 = 1.0 / (1.0 + t2)
    s2 = t2 * c2
    sx2 = np.asarray(sig_x, dtype="f8") ** 2
    sy2 = np.asarray(sig_y, dtype="f8") ** 2
    # psphot's PLTSCALE is negative where the image is mirrored on the sky; errors use |scale|
    scale = np.abs(np.asarray(pltscale, dtype="f8")) / 3600.0
    return scale * np.sqrt(c2 * sx2 + s2 * sy2), scale * np.sqrt(s2 * sx2 + c2 * sy2)


def _bytes_array(values) -> Any:
    """Per-input strings as a fixed-width byte-string array (at least 1 wide)."""
    import numpy as np

    enc = [str(v or "").encode("ascii", "replace") for v in values]
    width = max([1] + [len(b) for b in enc])
    return np.array(enc, dtype=f"S{width}")


def _chip_lookup():
    """SRC_CHIP_NUM -> OTA name, '' where the number names no GPC1 OTA."""
    return _bytes_array([chip_class_id(i) or "" for i in range(100)])


#: SkyChip.psf / SkyChip.xfit columns the first pass reads: the cuts, the
#: duplicate keys (position, distance to the skycell centre, IPP_IDET) and the
#: plate scales of the header
_SCAN_PSF = ("IPP_IDET", "FLAGS", "FLAGS2", "DIFF_R_P", "DIFF_SN_P", "DIFF_R_M", "DIFF_SN_M", "DIFF_FRATIO",
             "DIFF_NRATIO_BAD", "DIFF_NRATIO_MASK", "DIFF_NRATIO_ALL", "MOMENTS_XX", "MOMENTS_YY", "X_PSF",
             "Y_PSF", "X_PSF_SIG", "Y_PSF_SIG", "PSF_INST_MAG", "PSF_INST_MAG_SIG", "PLTSCALE", "POSANGLE",
             "RA_PSF", "DEC_PSF")
_SCAN_XFIT = ("PLTSCALE",)


@dataclass
class _Part:
    """What the first pass keeps of one skycell catalog: its header and
    geometry (no columns), the counts of the cuts and, for the rows that passed
    them, only what duplicate resolution needs."""

    cat: CmfCatalog
    diff: DiffInput
    sc: SkycellInput
    difftype: str
    counts: dict
    n_kept: int
    ra: Any
    dec: Any
    r_center: Any
    idet: Any
    scales: Any                # finite PLTSCALE values of the kept rows
    ext_scales: Any            # finite SkyChip.xfit PLTSCALE values of the kept rows
    first_id: int = 0          # ID of its first entry
    primary: Any = None
    primary_id: Any = None


def _kept(g: _Group):
    """The cut reasons of a one-catalog group; sets ``g.keep``."""
    reason = apply_cuts(g)
    g._cache.clear()
    g.keep = [reason == 0]
    return reason


def _scan(cat: CmfCatalog, d: DiffInput, sc: SkycellInput) -> _Part:
    """First pass over one catalog (read with the _SCAN_* columns only)."""
    import numpy as np

    g = _Group(difftype=d.difftype.upper(), cats=[cat], diffs=[d], inputs=[sc])
    reason = _kept(g)
    x = g.take("X_PSF", "f4").astype("f8")
    y = g.take("Y_PSF", "f4").astype("f8")
    r_center = np.hypot(x - float(cat.naxis1) / 2.0, y - float(cat.naxis2) / 2.0)
    pl = g.take("PLTSCALE", "f8")
    xpl = g.take("PLTSCALE", "f8", xfit=True)
    part = _Part(cat=cat, diff=d, sc=sc, difftype=g.difftype,
                 counts={"N_INPUT": cat.nrows, "N_FLAGGED": int(np.count_nonzero(reason == 1)),
                         "N_WSCUT": int(np.count_nonzero(reason == 2)),
                         "N_NONFINITE": int(np.count_nonzero(reason == 3))},
                 n_kept=int(np.count_nonzero(reason == 0)), ra=g.take("RA_PSF", "f8"),
                 dec=g.take("DEC_PSF", "f8"), r_center=r_center, idet=g.take("IPP_IDET", "i8", 0),
                 scales=pl[np.isfinite(pl)], ext_scales=xpl[np.isfinite(xpl)])
    cat.columns.clear()
    cat.xfit.clear()
    return part


def _resolve(parts: list[_Part], first_id: int, radius: float) -> int:
    """Duplicate resolution over the parts of one difftype (in their order);
    sets each part's IDs, PRIMARY and PRIMARY_ID; returns the next free ID."""
    import numpy as np

    n = sum(p.n_kept for p in parts)
    src = np.repeat(np.arange(len(parts)), [p.n_kept for p in parts])
    cat_ = (lambda name: np.concatenate([getattr(p, name) for p in parts]) if parts
            else np.zeros(0, "f8"))
    pairs = cross_pairs(cat_("ra"), cat_("dec"), src, radius)
    # nearest its skycell centre first; ties broken by (IMAGEID, IPP_IDET), never by input order
    imageid = np.array([p.cat.imageid or 0 for p in parts], dtype="i8")[src]
    order = np.lexsort((cat_("idet").astype("i8"), imageid, cat_("r_center")))
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    primary, primary_of = resolve_duplicates(pairs, rank, n)
    ids = np.arange(first_id, first_id + n, dtype="i8")
    at = 0
    for p in parts:
        p.first_id = first_id + at
        p.primary = primary[at:at + p.n_kept]
        p.primary_id = ids[primary_of[at:at + p.n_kept]]
        p.counts["N_DUPLICATE"] = int(p.n_kept - np.count_nonzero(p.primary))
        p.counts["N_KEPT"] = int(np.count_nonzero(p.primary))
        p.ra = p.dec = p.r_center = p.idet = None
        at += p.n_kept
    return first_id + n


def _entry_columns(g: _Group, version: int) -> dict[str, Any]:
    """Output columns of the kept rows (``g.keep``) of a one-catalog group."""
    import numpy as np

    (cat,), (d,), (sc,) = g.cats, g.diffs, g.inputs
    n = int(np.count_nonzero(g.keep[0]))
    each = np.zeros(n, dtype=np.intp)
    x = g.take("X_PSF", "f4").astype("f8")
    y = g.take("Y_PSF", "f4").astype("f8")
    r_center = np.hypot(x - float(cat.naxis1) / 2.0, y - float(cat.naxis2) / 2.0)
    cols: dict[str, Any] = {}
    ra_err, dec_err = radec_errors(g.take("X_PSF_SIG", "f8"), g.take("Y_PSF_SIG", "f8"),
                                   g.take("POSANGLE", "f8"), g.take("PLTSCALE", "f8"))
    cols["RA_ERR"], cols["DEC_ERR"] = ra_err, dec_err
    zp = np.array([d.zp], dtype="f8")[each]
    inst = g.take("PSF_INST_MAG", "f8")
    cols["MAG"] = np.where(np.isfinite(zp), inst + zp, inst).astype("f4")
    cols["DIFF_SKYFILE_ID"] = np.full(n, cat.imageid or 0, dtype="i8")
    if version >= 3:
        e_ra, e_dec = radec_errors(g.take("X_EXT_SIG", "f8", xfit=True), g.take("Y_EXT_SIG", "f8", xfit=True),
                                   g.take("POSANGLE", "f8", xfit=True), g.take("PLTSCALE", "f8", xfit=True))
        cols["RA_EXT_SIGMA"], cols["DEC_EXT_SIGMA"] = e_ra, e_dec
    # revision columns
    num = g.take("SRC_CHIP_NUM", "i4", -1)
    valid = (num >= 0) & (num < 100)
    lut = _chip_lookup()
    from_src = lut[np.clip(num, 0, 99)]
    has_src = valid & (from_src != b"")
    fallback = _bytes_array([",".join(sc.chip_candidates)])[each]
    cols["CHIP_ID"] = np.where(has_src, from_src, fallback)
    cols["CHIP_X"] = np.where(has_src, g.take("SRC_CHIP_X", "f4", np.nan), np.nan).astype("f4")
    cols["CHIP_Y"] = np.where(has_src, g.take("SRC_CHIP_Y", "f4", np.nan), np.nan).astype("f4")
    cols["X_PSF"] = x.astype("f4")
    cols["Y_PSF"] = y.astype("f4")
    cols["R_CENTER"] = r_center.astype("f4")
    cols["SKYCELL_ID"] = _bytes_array([cat.skycell_id])[each]
    cols["PATH"] = _bytes_array([os.path.abspath(cat.path)])[each]
    cols["DIFF_ID"] = np.full(n, d.diff_id, dtype="i8")
    cols["DIFFTYPE"] = _bytes_array([g.difftype])[each]
    cols["DIFF_POS"] = np.full(n, d.positive, dtype=bool)
    # the table columns last, each input column freed once copied
    for name, dtype, _unit, _v, kind, source in version_columns(version):
        if kind == "psf":
            cols[name] = g.take(source, dtype, release=True)
        elif kind == "xfit":
            cols[name] = g.take(source, dtype, xfit=True, release=True)
        elif kind == "nan":
            cols[name] = np.full(n, np.nan, dtype=dtype)
    if "IPP_IDET" not in cols:
        cols["IPP_IDET"] = g.take("IPP_IDET", "u4")
    return cols


def _column_list(cols: dict[str, Any], spec: list[tuple]):
    """(arrays, names, units) in *spec* order, each array in its declared type;
    strings as byte strings (at least 1 character wide)."""
    import numpy as np

    arrays, names, units = [], [], []
    for item in spec:
        name, t, unit = item[0], item[1], item[2]
        a = np.asarray(cols[name])
        if t == "S":
            if a.dtype.kind == "U":
                a = np.char.encode(a, "ascii")
            elif a.dtype.kind != "S":
                a = a.astype(bytes)
            if a.dtype.itemsize == 0:
                a = a.astype("S1")
        else:
            a = a.astype(t, copy=False)
        arrays.append(a)
        names.append(name)
        units.append(unit)
    return arrays, names, units


def _nonfinite_text(value: float) -> str:
    """A non-finite float keyword as psLib writes it (ppMops headers): 'NaN', 'Inf', '-Inf'."""
    if math.isnan(value):
        return "NaN"
    return "Inf" if value > 0 else "-Inf"


def _cards(items) -> list[dict]:
    out = []
    for name, value, comment in items:
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float) and not math.isfinite(value):
            value = _nonfinite_text(value)
        out.append({"name": name, "value": value, "comment": comment})
    return out


def build_mops(diffs: list[DiffInput], meta: ExposureMeta, output: str | os.PathLike, *,
               version: int | None = None, match_radius: float = MATCH_RADIUS_ARCSEC,
               consistency: bool = True) -> BuildResult:
    """Read the diff CMFs of *diffs*, apply the cuts, resolve duplicates and
    write the .mops file *output*, holding one skycell's rows at a time (two
    passes over the inputs: keys first, then the rows). Diffs of the same difftype are resolved
    together (one exposure, one catalog per difftype); several difftypes make
    a merged product whose rows carry their DIFFTYPE."""
    import numpy as np

    from mopstool import __version__

    if not diffs or not any(d.skycells for d in diffs):
        raise DataError("no diff skycell catalogs to read")
    if version is not None and version not in (1, 2, 3, 4, 5):
        raise DataError(f"unsupported CMF version {version} (1..5)")
    obscode = OBSCODES.get((meta.camera or "GPC1").upper())
    if obscode is None:
        raise DataError(f"unknown camera {meta.camera!r}: no IAU observatory code (GPC1 -> F51, GPC2 -> F52)")
    notes: list[str] = []
    # first pass, skycell by skycell: the cuts, and of the rows that pass them only
    # what duplicate resolution and the header need
    cats: list[CmfCatalog] = []
    parts: list[_Part] = []
    for d in diffs:
        seen: dict[int, str] = {}
        for sc in sorted(d.skycells, key=lambda s: (s.skycell_id or "", s.path)):
            cat = read_cmf(sc.path, imageid=sc.diff_skyfile_id, skycell_id=sc.skycell_id,
                           columns=_SCAN_PSF, xcolumns=_SCAN_XFIT)
            if sc.diff_skyfile_id and cat.imageid and int(cat.imageid) != int(sc.diff_skyfile_id):
                raise DataError(f"{cat.path}: IMAGEID {cat.imageid} does not match "
                                f"diff_skyfile_id {sc.diff_skyfile_id} of skycell {sc.skycell_id}")
            if not cat.imageid:
                raise DataError(f"{cat.path}: no IMAGEID in the header (give --diff-skyfile-id)")
            if cat.imageid in seen:
                raise DataError(f"{cat.path}: IMAGEID {cat.imageid} already read from {seen[cat.imageid]}")
            seen[cat.imageid] = cat.path
            if cat.nrows and not (cat.naxis1 and cat.naxis2):
                raise DataError(f"{cat.path}: no IMNAXIS1/IMNAXIS2 and an unknown skycell geometry; "
                                "the skycell centre is needed to resolve duplicates")
            cats.append(cat)
            parts.append(_scan(cat, d, sc))
    if consistency:
        check_consistency(cats)
    in_versions = sorted({c.version for c in cats})
    out_version = version or max(in_versions)
    if len(in_versions) > 1:
        notes.append(f"inputs have CMF versions {', '.join(f'PS1_DV{v}' for v in in_versions)}; "
                     f"writing PS1_DV{out_version} (missing columns are NaN or 0)")
    elif version and version != in_versions[0]:
        notes.append(f"inputs are PS1_DV{in_versions[0]}; writing PS1_DV{version} as asked")

    # groups by difftype (WW, WS, SW, SS), inputs by IMAGEID: the product does not
    # depend on the order the inputs were given in
    rank_of = {v: k for k, v in DIFFTYPES.items()}
    members: dict[str, list[_Part]] = {}
    for part in parts:
        members.setdefault(part.difftype, []).append(part)
    order = sorted(members, key=lambda k: (rank_of.get(k, 99), k))
    for key in order:
        members[key].sort(key=lambda p: (int(p.cat.imageid or 0), not p.diff.positive, p.cat.path))
    n_ent = 0
    for key in order:
        n_ent = _resolve(members[key], n_ent, match_radius)
    in_order = [p for key in order for p in members[key]]
    n_primary = sum(p.counts["N_KEPT"] for p in in_order)

    # the output tables: string widths of the whole product, known from the first pass
    tspec = [(c[0], c[1], c[2]) for c in version_columns(out_version)] + REVISION_COLUMNS
    widths = {
        "EXP_NAME": _bytes_array([meta.exp_name]).itemsize,
        "DIFFTYPE": _bytes_array(order).itemsize,
        "SKYCELL_ID": _bytes_array([p.cat.skycell_id for p in in_order]).itemsize,
        "PATH": _bytes_array([os.path.abspath(p.cat.path) for p in in_order]).itemsize,
        "CHIP_ID": max(_chip_lookup().itemsize,
                       _bytes_array([",".join(p.sc.chip_candidates) for p in in_order]).itemsize),
    }

    def layout(spec):
        import numpy as np

        return ([np.zeros(0, dtype=f"S{widths[name]}" if t == "S" else t) for name, t, _u in spec],
                [item[0] for item in spec], [item[2] for item in spec])

    def chunk(cols, spec, sel=None):
        out = []
        for name, t, _u in spec:
            a = cols[name] if sel is None else cols[name][sel]
            out.append(a.astype(f"S{widths[name]}" if t == "S" else t, copy=False))
        return out

    def rows():
        """Second pass, skycell by skycell in the order of the product: each
        catalog read again in full, its rows of both detection tables built
        and handed to the writer."""
        import numpy as np

        for p in in_order:
            cat = read_cmf_tables(p.cat)
            g = _Group(difftype=p.difftype, cats=[cat], diffs=[p.diff], inputs=[p.sc])
            _kept(g)
            if cat.nrows != p.cat.nrows or int(np.count_nonzero(g.keep[0])) != p.n_kept:
                raise DataError(f"{cat.path}: the file changed while the catalog was built")
            cols = _entry_columns(g, out_version)
            del g, cat
            cols["ID"] = np.arange(p.first_id, p.first_id + p.n_kept, dtype="i8")
            cols["PRIMARY"] = p.primary
            cols["PRIMARY_ID"] = p.primary_id
            cols["EXP_ID"] = np.full(p.n_kept, int(meta.exp_id or 0), dtype="i8")
            cols["EXP_NAME"] = _bytes_array([meta.exp_name])[np.zeros(p.n_kept, dtype=np.intp)]
            yield 0, chunk(cols, tspec, p.primary)
            yield 1, chunk(cols, ALL_COLUMNS)
        yield 2, sky_table[0]

    # skycell table
    sky_rows: list[dict] = []
    for p in in_order:
        cat, d, sc = p.cat, p.diff, p.sc
        ra_c, dec_c = cat.geometry.centre_sky() if cat.geometry else (float("nan"), float("nan"))
        row = {"DIFF_ID": d.diff_id, "DIFFTYPE": p.difftype, "DIFF_POS": d.positive,
               "DIFF_SKYFILE_ID": int(cat.imageid or 0), "SKYCELL_ID": cat.skycell_id or "",
               "CMFVERSION": cat.exttype, "NAXIS1": cat.naxis1, "NAXIS2": cat.naxis2,
               "RA_CENTER": ra_c, "DEC_CENTER": dec_c, "CHIP_IDS": ",".join(sc.chip_candidates),
               "PATH": os.path.abspath(cat.path)}
        for k in ("N_INPUT", "N_FLAGGED", "N_WSCUT", "N_NONFINITE", "N_DUPLICATE", "N_KEPT"):
            row[k] = p.counts[k]
        sky_rows.append(row)
    sky_cols = {name: [r[name] for r in sky_rows] for name, _t, _u in SKYCELL_COLUMNS}
    sky_table = _column_list(sky_cols, SKYCELL_COLUMNS)

    # header
    first = cats[0].header
    exptime = _f(first.get("EXPTIME"))
    mjd = _f(first.get("MJD-OBS"))
    mjd_mid = mjd + (exptime / 2.0 / 86400.0 if math.isfinite(exptime) else 0.0)
    fwhms = [_f(c.header.get("FWHM_MAJ")) for c in cats]
    fwhms = [v for v in fwhms if math.isfinite(v)]
    seeing = sum(fwhms) / len(fwhms) if fwhms else float("nan")
    scales = [p.scales for p in in_order if len(p.scales)]
    ext_scales = [p.ext_scales for p in in_order if len(p.ext_scales)] if out_version >= 3 else []
    pltscale = float(np.median(np.concatenate(scales))) if scales else float("nan")
    if scales:
        allv = np.concatenate(scales)
        if float(allv.max() - allv.min()) > 1e-4:
            notes.append(f"plate scales differ between detections ({allv.min():.5f}..{allv.max():.5f} "
                         "arcsec/px); PLTSCALE is their median")
    pltscale_ext = float(np.median(np.concatenate(ext_scales))) if ext_scales else pltscale
    d0 = diffs[0]
    difftype = "+".join(order)
    now = run_time()
    items: list[tuple[str, Any, str]] = [
        ("SWSOURCE", "mopstool", "Software source"),
        ("SWVERSN", f"mopstool {__version__}", "Software version"),
        ("HISTORY", f"mopstool mopscat build at {now}", ""),
        ("EXP_NAME", meta.exp_name or "", "Exposure name"),
        ("EXP_ID", int(meta.exp_id or 0), "Exposure identifier"),
        ("CHIP_ID", int(meta.chip_id or 0), "Chip stage identifier"),
        ("CAM_ID", int(meta.cam_id or 0), "Cam stage identifier"),
        ("FAKE_ID", int(meta.fake_id or 0), "Fake stage identifier"),
        ("WARP_ID", int(meta.warp_id or d0.warp_id or 0), "Warp stage identifier"),
        ("DIFF_ID", int(d0.diff_id or 0), "Diff stage identifier"),
        ("DIFF_POS", bool(d0.positive), "Positive subtraction?"),
        ("MJD-OBS", mjd_mid, "MJD of exposure midpoint"),
        ("RA", _s(first.get("FPA.RA")), "Right Ascension of boresight"),
        ("DEC", _s(first.get("FPA.DEC")), "Declination of boresight"),
        ("TEL_ALT", _f(first.get("FPA.ALT")), "Telescope altitude"),
        ("TEL_AZ", _f(first.get("FPA.AZ")), "Telescope azimuth"),
        ("EXPTIME", exptime, "Exposure time (sec)"),
        ("ROTANGLE", _f(first.get("FPA.POSANGLE")), "Rotator position angle"),
        ("FILTER", _s(first.get("FPA.FILTER")), "Filter name"),
        ("AIRMASS", _f(first.get("AIRMASS")), "Airmass of exposure"),
        ("SEEING", seeing, "Mean FWHM_MAJ of the inputs"),
        ("FWHM", seeing, "Mean seeing"),
        ("OBSCODE", obscode, "IAU Observatory code"),
        ("MAGZP", d0.zp, "Magnitude zero point"),
        ("ZEROPOINT", d0.zp, "Magnitude zero point"),
        ("MAGZPERR", d0.zp_err, "Error in magnitude zero point"),
        ("ASTRORMS", meta.astrom_rms, "RMS of astrometric fit"),
        ("CMMTOBS", meta.comment or "", "Exposure comment"),
        ("OBS_MODE", meta.obs_mode or "", "Exposure observation mode"),
        ("DIFFTYPE", difftype, "WW, WS, SW or SS (+ when merged)"),
        ("SKY", meta.sky, "Exposure avg sky background"),
        ("SHUTOUTC", meta.shutoutc or "", "Shutter open (UTC, database)"),
        ("PLTSCALE_EXT", pltscale_ext, "Plate scale at centroid"),
        ("PLTSCALE", pltscale, "Plate scale at centroid"),
        ("FPA.SHUTOUTC", _s(first.get("FPA.SHUTOUTC")), "Time shutter open"),
        ("FPA.SHUTCUTC", _s(first.get("FPA.SHUTCUTC")), "Time shutter close"),
        ("FPA.SHMDOUTC", _s(first.get("FPA.SHMDOUTC")), "Time shutter open mid-fp"),
        ("FPA.SHMDCUTC", _s(first.get("FPA.SHMDCUTC")), "Time shutter close mid-fp"),
        ("PSREFCAT", _s(first.get("PSREFCAT")), "Reference catalog used"),
        ("CMFVERSION", f"PS1_DV{out_version}", "CMF version"),
        ("MOPSREV", MOPS_REVISION, ".mops format revision"),
        ("MATCHRAD", float(match_radius), "duplicate match radius, arcsec"),
        ("NDIFFS", len(diffs), "diff directions in this product"),
        ("NSKYCELL", len(cats), "skycell catalogs read"),
        ("NENTRIES", n_ent, "rows of MOPS_ALL_DETECTIONS"),
        ("NDUPS", int(n_ent - n_primary), "cross-skycell duplicates dropped"),
    ]
    for i, d in enumerate(diffs, start=1):
        items += [(f"DIFFID{i}", int(d.diff_id or 0), f"diff {i}: diff_id"),
                  (f"DIFTYP{i}", d.difftype.upper(), f"diff {i}: difftype"),
                  (f"DIFPOS{i}", bool(d.positive), f"diff {i}: positive subtraction?"),
                  (f"WARPID{i}", int(d.warp_id or 0), f"diff {i}: warp_id of the exposure"),
                  (f"MAGZP{i}", d.zp, f"diff {i}: magnitude zero point")]
    tables = [layout(tspec), layout(ALL_COLUMNS), sky_table]
    side = [("EXP_NAME", meta.exp_name or "", "Exposure name"),
            ("EXP_ID", int(meta.exp_id or 0), "Exposure identifier"),
            ("DIFF_ID", int(d0.diff_id or 0), "Diff stage identifier"),
            ("DIFFTYPE", difftype, "diff type(s)"),
            ("MOPSREV", MOPS_REVISION, ".mops format revision")]
    neb = any(p.sc.neb_key for p in in_order)
    path_comment = ("Nebulous key read under [mopscat] neb_root, not an instance path" if neb
                    else "the CMF file read")
    notes += write_mops_file(output, _cards(items), _cards(side), tables,
                             column_comments={ALL_EXT: {"PATH": path_comment},
                                              SKYCELL_EXT: {"PATH": path_comment}},
                             nrows=[n_primary, n_ent, len(sky_rows)], rows=rows())
    return BuildResult(
        output=str(output), rows=int(n_primary), entries=int(n_ent), duplicates=int(n_ent - n_primary),
        cut=int(sum(c.nrows for c in cats) - n_ent), version=out_version, difftype=difftype,
        exp_name=meta.exp_name or "", exp_id=int(meta.exp_id or 0),
        diff_ids=[int(d.diff_id or 0) for d in diffs], zp=float(d0.zp),
        skycells=[{k.lower(): v for k, v in r.items() if k not in ("RA_CENTER", "DEC_CENTER", "CHIP_IDS",
                                                                   "NAXIS1", "NAXIS2")}
                  for r in sky_rows],
        notes=notes)


