"""The .mops catalog: build it from diff CMFs, write it, read it, check it.

Layout of a .mops file (see docs/mopscat.md for every keyword and column):

* an empty primary HDU;
* ``MOPS_TRANSIENT_DETECTIONS``: one row per detection of the exposure, after
  the ppMops cuts and the cross-skycell duplicate resolution, with the ppMops
  header keywords and columns (per CMFVERSION) plus the revision columns
  (ID, EXP_ID, EXP_NAME, DIFF_ID, DIFFTYPE, DIFF_POS, SKYCELL_ID, X_PSF, Y_PSF,
  CHIP_ID, CHIP_X, CHIP_Y);
* ``MOPS_ALL_DETECTIONS``: every detection that passed the cuts, the chosen
  (PRIMARY) ones and the duplicates, with its skycell, chip position, distance
  to the skycell centre and the direct path of its CMF;
* ``MOPS_SKYCELLS``: one row per input skycell catalog (also the empty ones)
  with the counts of rows read, cut and kept.

The numerical work is column-wise numpy; duplicates are found with a KD-tree
on unit vectors (no Python loop per detection).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mopstool.errors import DataError
from mopstool.fits.cmf import SOURCE_MASK, CmfCatalog, chip_class_id, read_cmf

MOPS_EXT = "MOPS_TRANSIENT_DETECTIONS"
ALL_EXT = "MOPS_ALL_DETECTIONS"
SKYCELL_EXT = "MOPS_SKYCELLS"
MOPS_REVISION = 1
MATCH_RADIUS_ARCSEC = 1.0
OBSCODES = {"GPC1": "F51", "GPC2": "F52"}
DIFFTYPES = {1: "WW", 2: "WS", 3: "SW", 4: "SS"}
#: SOURCE_MASK2 of ppMops is PM_SOURCE_MODE2_DEFAULT = 0: the FLAGS2 test never fires
SOURCE_MASK2 = 0

# ------------------------------------------------------------------ output columns
# (name, numpy type, unit, first CMFVERSION, kind, source column)
# kind: psf = copied from SkyChip.psf, xfit = copied from SkyChip.xfit,
#       calc = computed by the builder, nan = always NaN
_V1 = [
    ("RA", "f8", "deg", 1, "psf", "RA_PSF"),
    ("RA_ERR", "f8", "deg", 1, "calc", None),
    ("DEC", "f8", "deg", 1, "psf", "DEC_PSF"),
    ("DEC_ERR", "f8", "deg", 1, "calc", None),
    ("MAG", "f4", "mag", 1, "calc", None),
    ("MAG_ERR", "f4", "mag", 1, "psf", "PSF_INST_MAG_SIG"),
    ("PSF_CHI2", "f4", "", 1, "psf", "PSF_CHISQ"),
    ("PSF_DOF", "i4", "", 1, "psf", "PSF_NDOF"),
    ("CR_SIGNIFICANCE", "f4", "", 1, "psf", "CR_NSIGMA"),
    ("EXT_SIGNIFICANCE", "f4", "", 1, "psf", "EXT_NSIGMA"),
    ("PSF_MAJOR", "f4", "pix", 1, "psf", "PSF_MAJOR"),
    ("PSF_MINOR", "f4", "pix", 1, "psf", "PSF_MINOR"),
    ("PSF_THETA", "f4", "deg", 1, "psf", "PSF_THETA"),
    ("PSF_QUALITY", "f4", "", 1, "psf", "PSF_QF"),
    ("PSF_NPIX", "i4", "pix", 1, "psf", "PSF_NPIX"),
    ("MOMENTS_XX", "f4", "pix2", 1, "psf", "MOMENTS_XX"),
    ("MOMENTS_XY", "f4", "pix2", 1, "psf", "MOMENTS_XY"),
    ("MOMENTS_YY", "f4", "pix2", 1, "psf", "MOMENTS_YY"),
    ("N_POS", "i4", "pix", 1, "psf", "DIFF_NPOS"),
    ("F_POS", "f4", "", 1, "psf", "DIFF_FRATIO"),
    ("RATIO_BAD", "f4", "", 1, "psf", "DIFF_NRATIO_BAD"),
    ("RATIO_MASK", "f4", "", 1, "psf", "DIFF_NRATIO_MASK"),
    ("RATIO_ALL", "f4", "", 1, "psf", "DIFF_NRATIO_ALL"),
    ("FLAGS", "u4", "", 1, "psf", "FLAGS"),
    ("DIFF_SKYFILE_ID", "i8", "", 1, "calc", None),
]
_V2 = [(n, t, u, 2, "psf", n) for n, t, u in (
    ("IPP_IDET", "u4", ""), ("PSF_INST_FLUX", "f4", "count"), ("PSF_INST_FLUX_SIG", "f4", "count"),
    ("AP_MAG", "f4", "mag"), ("AP_MAG_RAW", "f4", "mag"), ("AP_MAG_RADIUS", "f4", "pix"),
    ("AP_FLUX", "f4", "count"), ("AP_FLUX_SIG", "f4", "count"), ("PEAK_FLUX_AS_MAG", "f4", "mag"),
    ("CAL_PSF_MAG", "f4", "mag"), ("CAL_PSF_MAG_SIG", "f4", "mag"), ("SKY", "f4", "count/s"),
    ("SKY_SIGMA", "f4", "count/s"), ("PSF_QF_PERFECT", "f4", ""), ("MOMENTS_R1", "f4", "pix"),
    ("MOMENTS_RH", "f4", "pix(1/2)"), ("KRON_FLUX", "f4", "count"), ("KRON_FLUX_ERR", "f4", "count"),
    ("KRON_FLUX_INNER", "f4", "count"), ("KRON_FLUX_OUTER", "f4", "count"), ("DIFF_R_P", "f4", "pix"),
    ("DIFF_SN_P", "f4", ""), ("DIFF_R_M", "f4", "pix"), ("DIFF_SN_M", "f4", ""), ("FLAGS2", "u4", ""),
    ("N_FRAMES", "u2", ""), ("PADDING", "i2", ""))] + [(n, t, u, 2, "xfit", n) for n, t, u in (
    ("X_EXT", "f4", "pix"), ("Y_EXT", "f4", "pix"), ("X_EXT_SIG", "f4", "pix"), ("Y_EXT_SIG", "f4", "pix"),
    ("EXT_INST_MAG", "f4", "mag"), ("EXT_INST_MAG_SIG", "f4", "mag"), ("NPARAMS", "i4", ""),
    ("EXT_WIDTH_MAJ", "f4", "pix"), ("EXT_WIDTH_MIN", "f4", "pix"), ("EXT_THETA", "f4", "deg"),
    ("EXT_WIDTH_MAJ_ERR", "f4", "pix"))] + [
    # psphot writes an undefined 0 here; like ppMops, the column is NaN
    ("EXT_WIDTH_MIN_ERR", "f4", "pix", 2, "nan", None),
    ("EXT_THETA_ERR", "f4", "deg", 2, "xfit", "EXT_THETA_ERR")]
_V3 = [
    ("RA_EXT", "f8", "deg", 3, "xfit", "RA_EXT"),
    ("RA_EXT_SIGMA", "f8", "deg", 3, "calc", None),
    ("DEC_EXT", "f8", "deg", 3, "xfit", "DEC_EXT"),
    ("DEC_EXT_SIGMA", "f8", "deg", 3, "calc", None),
    ("POSANG_EXT", "f4", "deg", 3, "xfit", "POSANGLE"),
    ("EXT_FLUX", "f4", "count", 3, "xfit", "EXT_INST_FLUX"),
    ("EXT_CAL_MAG", "f4", "mag", 3, "xfit", "EXT_CAL_MAG"),
    ("EXT_MAG_SIG", "f4", "mag", 3, "xfit", "EXT_INST_MAG_SIG"),
    ("EXT_CHISQ", "f4", "", 3, "xfit", "EXT_CHISQ"),
    ("EXT_NDOF", "i4", "", 3, "xfit", "EXT_NDOF"),
]
#: added by this revision for PS1_DV4 and later inputs
_V4 = [
    ("AP_NPIX", "i4", "pix", 4, "psf", "AP_NPIX"),
    ("PSF_CORE", "f4", "", 4, "psf", "PSF_CORE"),
    ("PSF_FWHM_MAJ", "f4", "pix", 4, "psf", "PSF_FWHM_MAJ"),
    ("PSF_FWHM_MIN", "f4", "pix", 4, "psf", "PSF_FWHM_MIN"),
]
#: (name, numpy type or 'S' for a string sized to its longest value, unit)
REVISION_COLUMNS = [
    ("ID", "i8", ""), ("EXP_ID", "i8", ""), ("EXP_NAME", "S", ""), ("DIFF_ID", "i8", ""),
    ("DIFFTYPE", "S", ""), ("DIFF_POS", "?", ""), ("SKYCELL_ID", "S", ""), ("X_PSF", "f4", "pix"),
    ("Y_PSF", "f4", "pix"), ("CHIP_ID", "S", ""), ("CHIP_X", "f4", "pix"), ("CHIP_Y", "f4", "pix"),
]
ALL_COLUMNS = [
    ("ID", "i8", ""), ("PRIMARY", "?", ""), ("PRIMARY_ID", "i8", ""), ("DIFF_ID", "i8", ""),
    ("DIFFTYPE", "S", ""), ("DIFF_POS", "?", ""), ("DIFF_SKYFILE_ID", "i8", ""), ("SKYCELL_ID", "S", ""),
    ("IPP_IDET", "u4", ""), ("RA", "f8", "deg"), ("DEC", "f8", "deg"), ("MAG", "f4", "mag"),
    ("X_PSF", "f4", "pix"), ("Y_PSF", "f4", "pix"), ("R_CENTER", "f4", "pix"), ("CHIP_ID", "S", ""),
    ("CHIP_X", "f4", "pix"), ("CHIP_Y", "f4", "pix"), ("PATH", "S", ""),
]
SKYCELL_COLUMNS = [
    ("DIFF_ID", "i8", ""), ("DIFFTYPE", "S", ""), ("DIFF_POS", "?", ""), ("DIFF_SKYFILE_ID", "i8", ""),
    ("SKYCELL_ID", "S", ""), ("CMFVERSION", "S", ""), ("NAXIS1", "i4", "pix"), ("NAXIS2", "i4", "pix"),
    ("RA_CENTER", "f8", "deg"), ("DEC_CENTER", "f8", "deg"), ("N_INPUT", "i4", ""),
    ("N_FLAGGED", "i4", ""), ("N_WSCUT", "i4", ""), ("N_NONFINITE", "i4", ""),
    ("N_DUPLICATE", "i4", ""), ("N_KEPT", "i4", ""), ("CHIP_IDS", "S", ""), ("PATH", "S", ""),
]


def version_columns(version: int, *, revision: bool = True) -> list[tuple]:
    """The ppMops table columns of a CMFVERSION (plus this revision's DV4 extras)."""
    cols = list(_V1)
    if version >= 2:
        cols += _V2
    if version >= 3:
        cols += _V3
    if version >= 4 and revision:
        cols += _V4
    return cols


#: header keywords of MOPS_TRANSIENT_DETECTIONS that every .mops file has (ppMops set)
REQUIRED_KEYWORDS = (
    "SWSOURCE", "SWVERSN", "EXP_NAME", "EXP_ID", "CHIP_ID", "CAM_ID", "FAKE_ID", "WARP_ID", "DIFF_ID",
    "DIFF_POS", "MJD-OBS", "RA", "DEC", "TEL_ALT", "TEL_AZ", "EXPTIME", "ROTANGLE", "FILTER",
    "AIRMASS", "SEEING", "FWHM", "OBSCODE", "MAGZP", "ZEROPOINT", "MAGZPERR", "ASTRORMS", "CMMTOBS",
    "OBS_MODE", "DIFFTYPE", "SKY", "SHUTOUTC", "PLTSCALE_EXT", "PLTSCALE", "FPA.SHUTOUTC",
    "FPA.SHUTCUTC", "FPA.SHMDOUTC", "FPA.SHMDCUTC", "PSREFCAT", "CMFVERSION",
)
REVISION_KEYWORDS = ("MOPSREV", "MATCHRAD", "NDIFFS", "NSKYCELL", "NENTRIES", "NDUPS")


# ------------------------------------------------------------------ inputs
@dataclass
class SkycellInput:
    """One diff skycell catalog to read."""

    path: str
    skycell_id: str | None = None
    diff_skyfile_id: int | None = None
    #: OTAs that fed this skycell (warpSkyCellMap), for CHIP_ID when DV5 SRC_CHIP_* is absent
    chip_candidates: tuple[str, ...] = ()


@dataclass
class DiffInput:
    """One direction of one diff of the exposure."""

    difftype: str = "WW"
    diff_id: int = 0
    positive: bool = True
    warp_id: int = 0
    zp: float = float("nan")
    zp_err: float = float("nan")
    skycells: list[SkycellInput] = field(default_factory=list)


@dataclass
class ExposureMeta:
    """Exposure-level header values that do not come from the CMF headers."""

    exp_name: str = ""
    exp_id: int = 0
    chip_id: int = 0
    cam_id: int = 0
    fake_id: int = 0
    warp_id: int = 0
    camera: str = "GPC1"
    astrom_rms: float = float("nan")
    comment: str = ""
    obs_mode: str = ""
    sky: float = float("nan")
    shutoutc: str = ""


@dataclass
class BuildResult:
    output: str
    rows: int
    entries: int
    duplicates: int
    cut: int
    version: int
    difftype: str
    exp_name: str
    exp_id: int
    diff_ids: list[int]
    zp: float
    skycells: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


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
def _unit_vectors(ra, dec):
    import numpy as np

    a, d = np.radians(ra), np.radians(dec)
    cd = np.cos(d)
    return np.column_stack((cd * np.cos(a), cd * np.sin(a), np.sin(d)))


def _chord(radius_arcsec: float) -> float:
    return 2.0 * math.sin(math.radians(radius_arcsec / 3600.0) / 2.0)


def cross_pairs(ra, dec, group, radius_arcsec: float = MATCH_RADIUS_ARCSEC):
    """Index pairs (i, j), i < j, closer than *radius_arcsec* whose *group*
    (skycell) differs; found with a KD-tree on unit vectors."""
    import numpy as np
    from scipy.spatial import cKDTree

    if len(ra) < 2:
        return np.zeros((0, 2), dtype=np.intp)
    tree = cKDTree(_unit_vectors(ra, dec), leafsize=16)
    pairs = tree.query_pairs(_chord(radius_arcsec), output_type="ndarray")
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
    """Concatenated inputs of one difftype."""

    difftype: str
    cats: list[CmfCatalog]
    diffs: list[DiffInput]            # per cat
    inputs: list[SkycellInput]        # per cat
    offsets: Any = None
    src: Any = None
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

    def per_cat(self, values, dtype=None):
        import numpy as np

        return np.asarray(values, dtype=dtype)[self.src]


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

    th = np.radians(np.asarray(posangle_deg, dtype="f8"))
    c2, s2 = np.cos(th) ** 2, np.sin(th) ** 2
    sx2 = np.asarray(sig_x, dtype="f8") ** 2
    sy2 = np.asarray(sig_y, dtype="f8") ** 2
    scale = np.asarray(pltscale, dtype="f8") / 3600.0
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


@dataclass
class _GroupResult:
    columns: dict            # entry-level output columns (transient columns + extras)
    primary: Any
    primary_of: Any          # index into entries
    counts: dict             # per-cat arrays
    n_entries: int
    scales: Any = None       # finite PLTSCALE values of the kept rows
    ext_scales: Any = None   # finite SkyChip.xfit PLTSCALE values of the kept rows


def _process_group(g: _Group, version: int, radius: float) -> _GroupResult:
    import numpy as np

    reason = apply_cuts(g)
    ent = np.flatnonzero(reason == 0)
    src = g.src[ent]
    x = g.psf("X_PSF", "f4")[ent].astype("f8")
    y = g.psf("Y_PSF", "f4")[ent].astype("f8")
    nx = np.array([c.naxis1 for c in g.cats], dtype="f8")[src]
    ny = np.array([c.naxis2 for c in g.cats], dtype="f8")[src]
    r_center = np.hypot(x - nx / 2.0, y - ny / 2.0)
    ra = g.psf("RA_PSF", "f8")[ent]
    dec = g.psf("DEC_PSF", "f8")[ent]
    pairs = cross_pairs(ra, dec, src, radius)
    order = np.lexsort((np.arange(len(ent)), r_center))
    rank = np.empty(len(ent), dtype=np.int64)
    rank[order] = np.arange(len(ent))
    primary, primary_of = resolve_duplicates(pairs, rank, len(ent))

    cols: dict[str, Any] = {}
    for name, dtype, _unit, _v, kind, source in version_columns(version):
        if kind == "psf":
            cols[name] = g.psf(source, dtype)[ent]
        elif kind == "xfit":
            cols[name] = g.xfit(source, dtype)[ent]
        elif kind == "nan":
            cols[name] = np.full(len(ent), np.nan, dtype=dtype)
    ra_err, dec_err = radec_errors(g.psf("X_PSF_SIG", "f8")[ent], g.psf("Y_PSF_SIG", "f8")[ent],
                                   g.psf("POSANGLE", "f8")[ent], g.psf("PLTSCALE", "f8")[ent])
    cols["RA_ERR"], cols["DEC_ERR"] = ra_err, dec_err
    zp = np.array([d.zp for d in g.diffs], dtype="f8")[src]
    inst = g.psf("PSF_INST_MAG", "f8")[ent]
    cols["MAG"] = np.where(np.isfinite(zp), inst + zp, inst).astype("f4")
    cols["DIFF_SKYFILE_ID"] = np.array([c.imageid or 0 for c in g.cats], dtype="i8")[src]
    if version >= 3:
        e_ra, e_dec = radec_errors(g.xfit("X_EXT_SIG", "f8")[ent], g.xfit("Y_EXT_SIG", "f8")[ent],
                                   g.xfit("POSANGLE", "f8")[ent], g.xfit("PLTSCALE", "f8")[ent])
        cols["RA_EXT_SIGMA"], cols["DEC_EXT_SIGMA"] = e_ra, e_dec
    # revision columns
    num = g.psf("SRC_CHIP_NUM", "i4", -1)[ent]
    valid = (num >= 0) & (num < 100)
    lut = _chip_lookup()
    from_src = lut[np.clip(num, 0, 99)]
    has_src = valid & (from_src != b"")
    fallback = _bytes_array([",".join(i.chip_candidates) for i in g.inputs])[src]
    cols["CHIP_ID"] = np.where(has_src, from_src, fallback)
    cols["CHIP_X"] = np.where(has_src, g.psf("SRC_CHIP_X", "f4", np.nan)[ent], np.nan).astype("f4")
    cols["CHIP_Y"] = np.where(has_src, g.psf("SRC_CHIP_Y", "f4", np.nan)[ent], np.nan).astype("f4")
    cols["X_PSF"] = x.astype("f4")
    cols["Y_PSF"] = y.astype("f4")
    cols["R_CENTER"] = r_center.astype("f4")
    cols["SKYCELL_ID"] = _bytes_array([c.skycell_id for c in g.cats])[src]
    cols["PATH"] = _bytes_array([os.path.abspath(c.path) for c in g.cats])[src]
    cols["DIFF_ID"] = np.array([d.diff_id for d in g.diffs], dtype="i8")[src]
    cols["DIFFTYPE"] = _bytes_array([g.difftype])[np.zeros(len(ent), dtype=np.intp)]
    cols["DIFF_POS"] = np.array([d.positive for d in g.diffs], dtype=bool)[src]
    if "IPP_IDET" not in cols:
        cols["IPP_IDET"] = g.psf("IPP_IDET", "u4")[ent]

    ncat = len(g.cats)
    counts = {
        "N_INPUT": np.array([c.nrows for c in g.cats], dtype="i4"),
        "N_FLAGGED": np.bincount(g.src[reason == 1], minlength=ncat).astype("i4"),
        "N_WSCUT": np.bincount(g.src[reason == 2], minlength=ncat).astype("i4"),
        "N_NONFINITE": np.bincount(g.src[reason == 3], minlength=ncat).astype("i4"),
        "N_DUPLICATE": np.bincount(src[~primary], minlength=ncat).astype("i4"),
        "N_KEPT": np.bincount(src[primary], minlength=ncat).astype("i4"),
    }
    pl = g.psf("PLTSCALE", "f8")[ent]
    xpl = g.xfit("PLTSCALE", "f8")[ent]
    return _GroupResult(columns=cols, primary=primary, primary_of=primary_of, counts=counts,
                        n_entries=len(ent), scales=pl[np.isfinite(pl)], ext_scales=xpl[np.isfinite(xpl)])


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


def _cards(items) -> list[dict]:
    out = []
    for name, value, comment in items:
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        if hasattr(value, "item"):
            value = value.item()
            if isinstance(value, float) and not math.isfinite(value):
                value = None
        out.append({"name": name, "value": value, "comment": comment})
    return out


def build_mops(diffs: list[DiffInput], meta: ExposureMeta, output: str | os.PathLike, *,
               version: int | None = None, match_radius: float = MATCH_RADIUS_ARCSEC,
               consistency: bool = True) -> BuildResult:
    """Read the diff CMFs of *diffs*, apply the cuts, resolve duplicates and
    write the .mops file *output*. Diffs of the same difftype are resolved
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
    cats: list[CmfCatalog] = []
    owners: list[tuple[DiffInput, SkycellInput]] = []
    for d in diffs:
        seen: dict[int, str] = {}
        for sc in sorted(d.skycells, key=lambda s: (s.skycell_id or "", s.path)):
            cat = read_cmf(sc.path, imageid=sc.diff_skyfile_id, skycell_id=sc.skycell_id)
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
            owners.append((d, sc))
    if consistency:
        check_consistency(cats)
    in_versions = sorted({c.version for c in cats})
    out_version = version or max(in_versions)
    if len(in_versions) > 1:
        notes.append(f"inputs have CMF versions {', '.join(f'PS1_DV{v}' for v in in_versions)}; "
                     f"writing PS1_DV{out_version} (missing columns are NaN or 0)")
    elif version and version != in_versions[0]:
        notes.append(f"inputs are PS1_DV{in_versions[0]}; writing PS1_DV{version} as asked")

    # groups by difftype, in order of first appearance
    order: list[str] = []
    members: dict[str, list[int]] = {}
    for i, (d, _sc) in enumerate(owners):
        key = d.difftype.upper()
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append(i)
    results = []
    groups = []
    for key in order:
        idx = members[key]
        g = _Group(difftype=key, cats=[cats[i] for i in idx], diffs=[owners[i][0] for i in idx],
                   inputs=[owners[i][1] for i in idx])
        groups.append(g)
        results.append(_process_group(g, out_version, match_radius))

    # entries (ALL) and transient rows
    tspec = [(c[0], c[1], c[2]) for c in version_columns(out_version)] + REVISION_COLUMNS
    entries: dict[str, list] = {}
    start = 0
    id_parts, pid_parts, prim_parts = [], [], []
    for res in results:
        for k, v in res.columns.items():
            entries.setdefault(k, []).append(v)
        ids = np.arange(start, start + res.n_entries, dtype="i8")
        id_parts.append(ids)
        pid_parts.append(ids[res.primary_of])
        prim_parts.append(res.primary)
        start += res.n_entries
    ent = {k: (v[0] if len(v) == 1 else np.concatenate(v)) for k, v in entries.items()}
    n_ent = start
    ent["ID"] = np.concatenate(id_parts) if id_parts else np.zeros(0, "i8")
    ent["PRIMARY_ID"] = np.concatenate(pid_parts) if pid_parts else np.zeros(0, "i8")
    ent["PRIMARY"] = np.concatenate(prim_parts) if prim_parts else np.zeros(0, bool)
    ent["EXP_ID"] = np.full(n_ent, int(meta.exp_id or 0), dtype="i8")
    ent["EXP_NAME"] = _bytes_array([meta.exp_name])[np.zeros(n_ent, dtype=np.intp)]
    for g, res in zip(groups, results):
        g._cache.clear()                   # the inputs are no longer needed
    for k in ("DIFFTYPE", "SKYCELL_ID", "CHIP_ID", "PATH"):
        if k not in ent:
            ent[k] = np.zeros(n_ent, dtype="S1")
    sel = np.flatnonzero(ent["PRIMARY"])
    trans = {name: ent[name][sel] for name, _t, _u in tspec}
    all_cols = {name: ent[name] for name, _t, _u in ALL_COLUMNS}

    # skycell table
    sky_rows: list[dict] = []
    for g, res in zip(groups, results):
        for j, (cat, d, sc) in enumerate(zip(g.cats, g.diffs, g.inputs)):
            ra_c, dec_c = cat.geometry.centre_sky() if cat.geometry else (float("nan"), float("nan"))
            row = {"DIFF_ID": d.diff_id, "DIFFTYPE": g.difftype, "DIFF_POS": d.positive,
                   "DIFF_SKYFILE_ID": int(cat.imageid or 0), "SKYCELL_ID": cat.skycell_id or "",
                   "CMFVERSION": cat.exttype, "NAXIS1": cat.naxis1, "NAXIS2": cat.naxis2,
                   "RA_CENTER": ra_c, "DEC_CENTER": dec_c, "CHIP_IDS": ",".join(sc.chip_candidates),
                   "PATH": os.path.abspath(cat.path)}
            for k, arr in res.counts.items():
                row[k] = int(arr[j])
            sky_rows.append(row)
    sky_cols = {name: [r[name] for r in sky_rows] for name, _t, _u in SKYCELL_COLUMNS}

    # header
    first = cats[0].header
    exptime = _f(first.get("EXPTIME"))
    mjd = _f(first.get("MJD-OBS"))
    mjd_mid = mjd + (exptime / 2.0 / 86400.0 if math.isfinite(exptime) else 0.0)
    fwhms = [_f(c.header.get("FWHM_MAJ")) for c in cats]
    fwhms = [v for v in fwhms if math.isfinite(v)]
    seeing = sum(fwhms) / len(fwhms) if fwhms else float("nan")
    scales = [r.scales for r in results if len(r.scales)]
    ext_scales = [r.ext_scales for r in results if len(r.ext_scales)] if out_version >= 3 else []
    pltscale = float(np.median(np.concatenate(scales))) if scales else float("nan")
    if scales:
        allv = np.concatenate(scales)
        if float(allv.max() - allv.min()) > 1e-4:
            notes.append(f"plate scales differ between detections ({allv.min():.5f}..{allv.max():.5f} "
                         "arcsec/px); PLTSCALE is their median")
    pltscale_ext = float(np.median(np.concatenate(ext_scales))) if ext_scales else pltscale
    d0 = diffs[0]
    difftype = "+".join(order)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    items: list[tuple[str, Any, str]] = [
        ("SWSOURCE", "mopstool", "Software source"),
        ("SWVERSN", f"mopstool {__version__}", "Software version"),
        ("HISTORY", f"mopstool mopscat build at {now}Z", ""),
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
        ("NDUPS", int(n_ent - len(sel)), "cross-skycell duplicates dropped"),
    ]
    for i, d in enumerate(diffs, start=1):
        items += [(f"DIFFID{i}", int(d.diff_id or 0), f"diff {i}: diff_id"),
                  (f"DIFTYP{i}", d.difftype.upper(), f"diff {i}: difftype"),
                  (f"DIFPOS{i}", bool(d.positive), f"diff {i}: positive subtraction?"),
                  (f"WARPID{i}", int(d.warp_id or 0), f"diff {i}: warp_id of the exposure"),
                  (f"MAGZP{i}", d.zp, f"diff {i}: magnitude zero point")]
    tables = [_column_list(trans, tspec), _column_list(all_cols, ALL_COLUMNS),
              _column_list(sky_cols, SKYCELL_COLUMNS)]
    side = [("EXP_NAME", meta.exp_name or "", "Exposure name"),
            ("EXP_ID", int(meta.exp_id or 0), "Exposure identifier"),
            ("DIFF_ID", int(d0.diff_id or 0), "Diff stage identifier"),
            ("DIFFTYPE", difftype, "diff type(s)"),
            ("MOPSREV", MOPS_REVISION, ".mops format revision")]
    write_mops_file(output, _cards(items), _cards(side), tables)
    return BuildResult(
        output=str(output), rows=int(len(sel)), entries=int(n_ent), duplicates=int(n_ent - len(sel)),
        cut=int(sum(c.nrows for c in cats) - n_ent), version=out_version, difftype=difftype,
        exp_name=meta.exp_name or "", exp_id=int(meta.exp_id or 0),
        diff_ids=[int(d.diff_id or 0) for d in diffs], zp=float(d0.zp),
        skycells=[{k.lower(): v for k, v in r.items() if k not in ("RA_CENTER", "DEC_CENTER", "CHIP_IDS",
                                                                   "NAXIS1", "NAXIS2")}
                  for r in sky_rows],
        notes=notes)


def write_mops_file(output, tcards: list[dict], side_cards: list[dict], tables: list[tuple]) -> None:
    """Write the .mops file atomically: empty primary HDU, then the three
    tables given as (arrays, names, units) with their header cards.

    fitsio writes the headers (of zero-row tables); the rows are then laid
    down as one big-endian block per table, which is several times faster
    than writing column by column. Any layout mismatch falls back to fitsio."""
    import fitsio

    out = Path(output)
    if out.parent and not out.parent.exists():
        raise DataError(f"output directory {out.parent} does not exist")
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    exts = (MOPS_EXT, ALL_EXT, SKYCELL_EXT)
    cards = (tcards, side_cards, side_cards)
    try:
        with fitsio.FITS(str(tmp), "rw", clobber=True) as f:
            f.write(None)
            for (arrays, names, units), ext, hdr in zip(tables, exts, cards):
                f.write([a[:0] for a in arrays], names=names, extname=ext, header=hdr, units=units)
        if not _fill_rows(tmp, tables):
            with fitsio.FITS(str(tmp), "rw", clobber=True) as f:
                f.write(None)
                for (arrays, names, units), ext, hdr in zip(tables, exts, cards):
                    f.write(arrays, names=names, extname=ext, header=hdr, units=units)
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {out}: {' '.join(str(exc).split())[:200]}") from None


_BLOCK = 2880


def _fits_rows(arrays) -> Any:
    """Rows of a binary table in FITS storage: big-endian, unsigned integers
    offset by TZERO, logicals as 'T'/'F'."""
    import numpy as np

    fields, values = [], []
    for i, a in enumerate(arrays):
        k, size = a.dtype.kind, a.dtype.itemsize
        name = f"c{i}"
        if k == "b":
            fields.append((name, "S1"))
            values.append(np.where(a, b"T", b"F"))
        elif k == "u" and size in (2, 4, 8):
            bias = np.array(1 << (8 * size - 1), dtype=a.dtype)
            fields.append((name, f">i{size}"))
            values.append((a ^ bias).view(f"i{size}"))
        elif k in ("i", "f"):
            fields.append((name, f">{k}{size}"))
            values.append(a)
        elif k == "S":
            fields.append((name, f"S{size}"))
            values.append(a)
        else:
            return None
    rows = np.empty(len(arrays[0]) if arrays else 0, dtype=fields)
    for (name, _t), v in zip(fields, values):
        rows[name] = v
    return rows


def _fill_rows(path: Path, tables: list[tuple]) -> bool:
    """Give the zero-row tables of *path* their rows; False if the layout
    fitsio declared differs from the rows built here (nothing changed then)."""
    raw = path.read_bytes()
    pos = 0
    headers: list[bytes] = []
    while pos < len(raw):
        end = None
        for i in range(pos, len(raw), 80):
            if raw[i:i + 8] == b"END     ":
                end = i + 80
                break
        if end is None:
            return False
        hlen = -(-(end - pos) // _BLOCK) * _BLOCK
        headers.append(raw[pos:pos + hlen])
        pos += hlen
    if len(headers) != len(tables) + 1:
        return False
    patched = []
    for hdr, (arrays, _names, _units) in zip(headers[1:], tables):
        cards = [hdr[i:i + 80] for i in range(0, len(hdr), 80)]
        naxis1 = next((int(c[10:30]) for c in cards if c.startswith(b"NAXIS1  =")), None)
        if naxis1 != _row_size(arrays):
            return False
        nrows = len(arrays[0]) if arrays else 0
        patched.append(b"".join(b"NAXIS2  = " + f"{nrows:>20d}".encode() + c[30:]
                                if c.startswith(b"NAXIS2  =") else c for c in cards))
    with open(path, "wb") as fh:
        fh.write(headers[0])
        for hdr, (arrays, _names, _units) in zip(patched, tables):
            fh.write(hdr)
            rows = _fits_rows(arrays)
            if rows is None:
                return False
            fh.write(memoryview(rows).cast("B"))
            fh.write(b"\0" * (-rows.nbytes % _BLOCK))
            del rows
    return True


def _row_size(arrays) -> int | None:
    size = 0
    for a in arrays:
        if a.dtype.kind not in "biufS":
            return None
        size += a.dtype.itemsize
    return size


# ------------------------------------------------------------------ reading
@dataclass
class MopsFile:
    path: str
    primary: dict
    headers: dict           # extname -> header dict
    tables: dict            # extname -> structured array (None when absent)
    naxis0: int = 0

    @property
    def header(self) -> dict:
        return self.headers.get(MOPS_EXT, {})

    @property
    def revision(self) -> int:
        try:
            return int(self.header.get("MOPSREV") or 0)
        except (TypeError, ValueError):
            return 0

    @property
    def version(self) -> int | None:
        from mopstool.fits.cmf import dv_version

        return dv_version(str(self.header.get("CMFVERSION") or ""))


def read_mops(path: str | os.PathLike) -> MopsFile:
    """Read every extension of a .mops file (DataError when it is not readable FITS)."""
    import fitsio

    from mopstool.fits.cmf import _header_dict, _native

    p = str(path)
    if not os.path.exists(p):
        raise DataError(f".mops file not found: {p}")
    try:
        with fitsio.FITS(p) as f:
            primary = _header_dict(f[0].read_header())
            headers, tables = {}, {}
            for hdu in f[1:]:
                name = hdu.get_extname() or f"HDU{hdu.get_extnum()}"
                hdr = hdu.read_header()
                headers[name] = _header_dict(hdr)
                if hdu.get_exttype() in ("BINARY_TBL", "ASCII_TBL"):
                    tables[name] = hdu.read() if hdu.get_nrows() > 0 else _empty_table(hdu)
                else:
                    tables[name] = None
            history = [str(r.get("value")) for r in f[MOPS_EXT].read_header().records()
                       if r.get("name") == "HISTORY"] if MOPS_EXT in f else []
            if history:
                headers.setdefault(MOPS_EXT, {})["HISTORY"] = history
    except (OSError, IOError, ValueError) as exc:
        raise DataError(f"cannot read {p}: {' '.join(str(exc).split())[:200]}") from None
    out = {}
    for k, v in tables.items():
        if v is not None and v.dtype.names:
            v = _native_struct(v)
        out[k] = v
    return MopsFile(path=p, primary=primary, headers=headers, tables=out,
                    naxis0=int(primary.get("NAXIS") or 0))


def _empty_table(hdu):
    """A typed zero-row array for an empty table HDU."""
    import numpy as np

    try:
        data = hdu.read()
    except (OSError, ValueError):
        data = None
    if data is not None and data.dtype.names:
        return data[:0]
    return np.zeros(0, dtype=[(n, "f8") for n in hdu.get_colnames()])


def _native_struct(arr):
    import numpy as np

    dt = arr.dtype.newbyteorder("=")
    return arr.astype(dt) if dt != arr.dtype else arr


def column(table, name: str):
    """A column of a structured array with strings decoded, or None."""
    import numpy as np

    if table is None or not table.dtype.names or name not in table.dtype.names:
        return None
    col = table[name]
    if col.dtype.kind == "S":
        col = np.char.strip(np.char.decode(col, "ascii"))
    elif col.dtype.kind == "U":
        col = np.char.strip(col)
    return col


# ------------------------------------------------------------------ checking
@dataclass
class CheckReport:
    file: str
    format: str
    cmfversion: str
    rows: int
    problems: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, check: str, message: str) -> None:
        self.problems.append({"check": check, "message": message})

    def to_dict(self) -> dict:
        return {"file": self.file, "ok": self.ok, "format": self.format, "cmfversion": self.cmfversion,
                "rows": self.rows, "problems": self.problems, "notes": self.notes}


def _groups_of(table, header) -> Any:
    """Group label per row for the duplicate test: difftype (+ direction)."""
    import numpy as np

    n = len(table)
    dt = column(table, "DIFFTYPE")
    pos = column(table, "DIFF_POS")
    if dt is None:
        dt = np.full(n, str(header.get("DIFFTYPE") or ""))
    if pos is None:
        pos = np.full(n, bool(header.get("DIFF_POS", True)))
    return np.char.add(dt.astype("U8"), np.where(pos, "+", "-"))


def check_mops(path: str | os.PathLike, *, match_radius: float = MATCH_RADIUS_ARCSEC) -> CheckReport:
    """Validate a .mops file: extensions, keywords, columns per CMFVERSION, no
    flagged or non-finite rows, WS cuts on WS rows, no pair of rows from
    different skycells within *match_radius*, and for mopstool files the
    revision columns, exposure uniqueness and MOPS_ALL_DETECTIONS."""
    import numpy as np

    m = read_mops(path)
    hdr = m.header
    rev = m.revision
    rep = CheckReport(file=str(path), format=f"mopstool revision {rev}" if rev else "ppMops",
                      cmfversion=str(hdr.get("CMFVERSION") or ""), rows=0)
    if m.naxis0 != 0:
        rep.problem("primary", f"the primary HDU has data (NAXIS={m.naxis0}); it must be empty")
    table = m.tables.get(MOPS_EXT)
    if MOPS_EXT not in m.headers:
        rep.problem("extension", f"no {MOPS_EXT} extension")
        return rep
    if table is None:
        rep.problem("extension", f"{MOPS_EXT} is not a table")
        return rep
    rep.rows = n = len(table)
    missing = [k for k in REQUIRED_KEYWORDS if k not in hdr]
    if rev:
        missing += [k for k in REVISION_KEYWORDS if k not in hdr]
    if missing:
        rep.problem("keywords", f"missing header keyword(s): {', '.join(missing)}")
    version = m.version
    if version is None:
        rep.problem("keywords", f"CMFVERSION {hdr.get('CMFVERSION')!r} is not PS1_DV1..PS1_DV5")
        version = 1
    names = set(table.dtype.names or ())
    need = [c[0] for c in version_columns(version, revision=bool(rev))]
    if rev:
        need += [c[0] for c in REVISION_COLUMNS]
    lacking = [c for c in need if c not in names]
    if lacking and not rev and n == 0 and version >= 3 and \
            all(c[0] in names for c in _V1):
        rep.notes.append("empty ppMops file with only the version-1 columns (a known ppMops quirk)")
        lacking = []
    if lacking:
        rep.problem("columns", f"missing column(s) for PS1_DV{version}: {', '.join(lacking)}")
    for name in ("RA", "DEC"):
        if name in names and table.dtype[name].kind != "f":
            rep.problem("columns", f"column {name} is not floating point")
    if not rev:
        rep.notes.append("ppMops format: no revision columns or MOPS_ALL_DETECTIONS to check")
    if n == 0:
        rep.notes.append("no detections")
    if n:
        flags = column(table, "FLAGS")
        if flags is not None:
            bad = int(np.count_nonzero((flags.astype("u8") & SOURCE_MASK) != 0))
            if bad:
                rep.problem("flags", f"{bad} row(s) with FLAGS & 0x{SOURCE_MASK:X} set")
        for name in ("RA", "DEC", "RA_ERR", "DEC_ERR", "MAG", "MAG_ERR"):
            col = column(table, name)
            if col is not None:
                bad = int(np.count_nonzero(~np.isfinite(col.astype("f8"))))
                if bad:
                    rep.problem("finite", f"{bad} row(s) with a non-finite {name}")
        _check_ws(rep, table, hdr)
        _check_duplicates(rep, table, hdr, match_radius)
    if rev:
        _check_revision(rep, m, table)
    return rep


def _check_ws(rep: CheckReport, table, hdr) -> None:
    import numpy as np

    dt = column(table, "DIFFTYPE")
    if dt is None:
        ws = np.full(len(table), str(hdr.get("DIFFTYPE") or "").upper() == "WS")
    else:
        ws = np.char.upper(dt) == "WS"
    if not ws.any():
        return

    def col(name):
        c = column(table, name)
        return None if c is None else c[ws].astype("f8")

    fpos, rbad, rmask, rall = col("F_POS"), col("RATIO_BAD"), col("RATIO_MASK"), col("RATIO_ALL")
    mxx, myy = col("MOMENTS_XX"), col("MOMENTS_YY")
    if any(c is None for c in (fpos, rbad, rmask, rall, mxx, myy)):
        return
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(fpos) & np.isfinite(rbad) & np.isfinite(rmask) & np.isfinite(rall))
        bad |= (fpos <= 0.6) | (rbad <= 0.5) | (rmask <= 0.6) | (rall <= 0.5)
        bad |= ~(np.isfinite(mxx) & np.isfinite(myy))
        bad |= ((mxx <= 2) | (myy <= 2)) & (rmask > 0.2)
        rp, snp, rm, snm = col("DIFF_R_P"), col("DIFF_SN_P"), col("DIFF_R_M"), col("DIFF_SN_M")
        if rp is not None and snp is not None:
            bad |= np.isfinite(rp) & np.isfinite(snp) & (rp > 4) & (snp > 5)
        if rm is not None and snm is not None:
            bad |= np.isfinite(rm) & np.isfinite(snm) & (rm < 4) & (snm > 5)
    k = int(np.count_nonzero(bad))
    if k:
        rep.problem("ws_cuts", f"{k} WS row(s) fail the warp-stack DIFF_*/moments cuts")


def _check_duplicates(rep: CheckReport, table, hdr, radius: float) -> None:
    import numpy as np

    ra, dec = column(table, "RA"), column(table, "DEC")
    skyfile = column(table, "DIFF_SKYFILE_ID")
    if ra is None or dec is None or skyfile is None:
        return
    ra, dec = ra.astype("f8"), dec.astype("f8")
    ok = np.isfinite(ra) & np.isfinite(dec)
    groups = _groups_of(table, hdr)
    total = 0
    example = None
    for gname in np.unique(groups):
        idx = np.flatnonzero((groups == gname) & ok)
        pairs = cross_pairs(ra[idx], dec[idx], skyfile[idx], radius)
        total += len(pairs)
        if len(pairs) and example is None:
            i, j = idx[pairs[0, 0]], idx[pairs[0, 1]]
            example = (f"rows {i} and {j} (diff skyfiles {skyfile[i]} and {skyfile[j]}) at "
                       f"RA {ra[i]:.6f} Dec {dec[i]:.6f}")
    if total:
        rep.problem("duplicates", f"{total} pair(s) of rows from different skycells within "
                                  f"{radius:g} arcsec, e.g. {example}")


def _check_revision(rep: CheckReport, m: MopsFile, table) -> None:
    import numpy as np

    hdr = m.header
    exp_id = column(table, "EXP_ID")
    if exp_id is not None and len(exp_id):
        if len(np.unique(exp_id)) != 1 or int(exp_id[0]) != int(hdr.get("EXP_ID") or 0):
            rep.problem("exposure", "EXP_ID is not the header EXP_ID in every row")
    exp_name = column(table, "EXP_NAME")
    if exp_name is not None and len(exp_name):
        if len(np.unique(exp_name)) != 1 or str(exp_name[0]) != str(hdr.get("EXP_NAME") or ""):
            rep.problem("exposure", "EXP_NAME is not the header EXP_NAME in every row")
    dt = column(table, "DIFFTYPE")
    if dt is not None and len(dt):
        odd = sorted(set(np.unique(dt).tolist()) - set(DIFFTYPES.values()))
        if odd:
            rep.problem("difftype", f"unknown DIFFTYPE value(s): {', '.join(odd)}")
    alld = m.tables.get(ALL_EXT)
    if ALL_EXT not in m.headers or alld is None:
        rep.problem("all_detections", f"no {ALL_EXT} extension")
        return
    names = set(alld.dtype.names or ())
    lacking = [c[0] for c in ALL_COLUMNS if c[0] not in names]
    if lacking:
        rep.problem("all_detections", f"{ALL_EXT} lacks column(s): {', '.join(lacking)}")
        return
    ids = column(alld, "ID")
    prim = column(alld, "PRIMARY").astype(bool)
    pid = column(alld, "PRIMARY_ID")
    if int(prim.sum()) != len(table):
        rep.problem("all_detections", f"{int(prim.sum())} PRIMARY entries but {len(table)} detections")
    tid = column(table, "ID")
    if tid is not None and not np.array_equal(np.sort(tid), np.sort(ids[prim])):
        rep.problem("all_detections", "the IDs of the detections are not the PRIMARY entries' IDs")
    if len(ids) and len(np.unique(ids)) != len(ids):
        rep.problem("all_detections", "IDs are not unique")
    if len(pid):
        primary_ids = ids[prim]
        bad = ~np.isin(pid, primary_ids)
        if bad.any():
            rep.problem("all_detections", f"{int(bad.sum())} entries name a PRIMARY_ID that is not primary")
        selfref = prim & (pid != ids)
        if selfref.any():
            rep.problem("all_detections", f"{int(selfref.sum())} primary entries do not point to themselves")
    paths = column(alld, "PATH")
    if paths is not None and len(paths):
        neb = int(np.count_nonzero(np.char.startswith(paths, "neb://")))
        if neb:
            rep.problem("all_detections", f"{neb} entries have a neb:// PATH instead of a direct path")
    if SKYCELL_EXT not in m.headers:
        rep.notes.append(f"no {SKYCELL_EXT} extension")


# ------------------------------------------------------------------ summary
def summarize_mops(path: str | os.PathLike) -> dict:
    """Rows, rows per skycell and the header of a .mops file."""
    import numpy as np

    m = read_mops(path)
    hdr = {k: v for k, v in m.header.items() if k not in ("XTENSION", "BITPIX", "NAXIS", "NAXIS1",
                                                          "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS")
           and not k.startswith(("TTYPE", "TFORM", "TUNIT", "TZERO", "TSCAL"))}
    table = m.tables.get(MOPS_EXT)
    rows = 0 if table is None else len(table)
    skycells: list[dict] = []
    sk = m.tables.get(SKYCELL_EXT)
    if sk is not None and len(sk):
        for i in range(len(sk)):
            skycells.append({
                "skycell_id": str(column(sk, "SKYCELL_ID")[i]),
                "diff_skyfile_id": int(column(sk, "DIFF_SKYFILE_ID")[i]),
                "difftype": str(column(sk, "DIFFTYPE")[i]),
                "diff_id": int(column(sk, "DIFF_ID")[i]),
                "input": int(column(sk, "N_INPUT")[i]),
                "flagged": int(column(sk, "N_FLAGGED")[i]),
                "ws_cut": int(column(sk, "N_WSCUT")[i]),
                "nonfinite": int(column(sk, "N_NONFINITE")[i]),
                "duplicates": int(column(sk, "N_DUPLICATE")[i]),
                "rows": int(column(sk, "N_KEPT")[i]),
            })
    elif table is not None and rows:
        ids = column(table, "DIFF_SKYFILE_ID")
        names = column(table, "SKYCELL_ID")
        uniq, first, counts = np.unique(ids, return_index=True, return_counts=True)
        for u, f, c in zip(uniq, first, counts):
            skycells.append({"skycell_id": str(names[f]) if names is not None else "",
                             "diff_skyfile_id": int(u), "rows": int(c)})
    per_type: dict[str, int] = {}
    dt = column(table, "DIFFTYPE") if table is not None else None
    if dt is not None and len(dt):
        u, c = np.unique(dt, return_counts=True)
        per_type = {str(a): int(b) for a, b in zip(u, c)}
    elif rows:
        per_type = {str(m.header.get("DIFFTYPE") or ""): rows}
    alld = m.tables.get(ALL_EXT)
    return {
        "file": str(path),
        "format": f"mopstool revision {m.revision}" if m.revision else "ppMops",
        "cmfversion": str(m.header.get("CMFVERSION") or ""),
        "exp_name": str(m.header.get("EXP_NAME") or ""),
        "exp_id": m.header.get("EXP_ID"),
        "difftype": str(m.header.get("DIFFTYPE") or ""),
        "rows": rows,
        "entries": None if alld is None else len(alld),
        "rows_by_difftype": per_type,
        "extensions": list(m.headers),
        "skycells": skycells,
        "header": hdr,
    }
