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

This module holds the layout (columns, keywords) and the build inputs and
result; building is in :mod:`mopstool.fits.mops_build`, writing in
:mod:`mopstool.fits.mops_write`, reading, checking and summarising in
:mod:`mopstool.fits.mops_read`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


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
    # F32 as ppMops writes them (SkyChip.xfit holds them in F32 in the IPP's files)
    ("RA_EXT", "f4", "deg", 3, "xfit", "RA_EXT"),
    ("RA_EXT_SIGMA", "f8", "deg", 3, "calc", None),
    ("DEC_EXT", "f4", "deg", 3, "xfit", "DEC_EXT"),
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
    #: the neb:// key *path* was derived from ('' for a plain path)
    neb_key: str = ""


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


