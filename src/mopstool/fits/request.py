"""Postage-stamp request files: PS1_PS_REQUEST version 2 FITS tables.

A request file is an empty primary HDU followed by one binary table named
``PS1_PS_REQUEST`` whose header carries ``EXTVER = '2'`` (a string),
``REQ_NAME``, ``ACTION`` (PROCESS or PREVIEW) and ``EMAIL``; the stamp server
reads only that first extension, by column name. :func:`validate_request`
applies the row checks of the server's parser and gives each bad row the fault
code the server would record (21 INVALID_REQUEST, 11 NOT_IMPLEMENTED,
22 UNKNOWN_PROJECT ...).

astropy and numpy are imported inside the functions that need them.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from mopstool.errors import DataError, UsageError

EXTNAME = "PS1_PS_REQUEST"
DQUERY_EXTNAME = "MOPS_DETECTABILITY_QUERY"
EXTVER = "2"
ACTIONS = ("PROCESS", "PREVIEW")
JOB_TYPES = ("stamp", "get_image")
REQ_TYPES = ("byid", "bycoord", "byexp", "byskycell", "bydiff")
IMG_TYPES = ("raw", "chip", "warp", "diff", "stack", "stack_summary")
RUN_TYPES = ("warp_warp", "warp_stack", "stack_stack", "deep", "reference", "nightly", "notnightly")

#: COORD_MASK bits
CENTER_IN_PIXELS = 1
RANGE_IN_PIXELS = 2

#: OPTION_MASK bits by the names psmkreq uses for its flags
OPTION_BITS: dict[str, int] = {
    "image": 1, "mask": 2, "variance": 4, "cmf": 8, "psf": 16, "backmdl": 32, "jpeg": 64,
    "exptime": 128, "expnum": 256, "uncompressed": 512, "inverse": 1024, "unconvolved": 2048,
    "restorebackground": 4096, "allroi": 8192, "use_imfile_id": 16384, "do_not_wait": 32768,
    "exptimejpeg": 0x10000, "expnumjpeg": 0x20000,
}
USE_IMFILE_ID = OPTION_BITS["use_imfile_id"]

# fault codes the parser records (pstamp.h)
PROG_ERROR = 4
NOT_IMPLEMENTED = 11
INVALID_REQUEST = 21
UNKNOWN_PROJECT = 22
NOT_AUTHORIZED = 29
DUP_REQUEST = 20


@dataclass(frozen=True)
class Col:
    name: str
    tform: str
    kind: str          # int | float | str
    default: Any
    width: int = 0     # characters for strings


#: the 24 version-2 columns in writer order, with the defaults mopstool writes
COLUMNS: tuple[Col, ...] = (
    Col("ROWNUM", "J", "int", None),
    Col("CENTER_X", "D", "float", 0.0),
    Col("CENTER_Y", "D", "float", 0.0),
    Col("WIDTH", "D", "float", 100.0),
    Col("HEIGHT", "D", "float", 100.0),
    Col("COORD_MASK", "J", "int", RANGE_IN_PIXELS),
    Col("JOB_TYPE", "16A", "str", "stamp", 16),
    Col("OPTION_MASK", "J", "int", 1),
    Col("PROJECT", "16A", "str", "gpc1", 16),
    Col("SURVEY_NAME", "16A", "str", "null", 16),
    Col("IPP_RELEASE", "64A", "str", "null", 64),
    Col("REQ_TYPE", "16A", "str", "bycoord", 16),
    Col("IMG_TYPE", "16A", "str", "warp", 16),
    Col("ID", "16A", "str", "null", 16),
    Col("TESS_ID", "64A", "str", "null", 64),
    Col("COMPONENT", "64A", "str", "null", 64),
    Col("DATA_GROUP", "64A", "str", "null", 64),
    Col("REQFILT", "16A", "str", "null", 16),
    Col("MJD_MIN", "D", "float", 0.0),
    Col("MJD_MAX", "D", "float", 0.0),
    Col("RUN_TYPE", "16A", "str", "null", 16),
    Col("FWHM_MIN", "D", "float", 0.0),
    Col("FWHM_MAX", "D", "float", 0.0),
    Col("COMMENT", "64A", "str", "null", 64),
)
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
V1_COLUMNS: tuple[str, ...] = tuple(n for n in COLUMN_NAMES if n not in
                                    ("SURVEY_NAME", "IPP_RELEASE", "RUN_TYPE", "FWHM_MIN", "FWHM_MAX"))
_BY_NAME = {c.name: c for c in COLUMNS}


def option_mask(names: Iterable[str]) -> int:
    """OPTION_MASK from names (image, mask, variance, jpeg, uncompressed ...) or numbers."""
    mask = 0
    for n in names:
        for part in str(n).replace("+", ",").split(","):
            part = part.strip().lower()
            if not part:
                continue
            if part.isdigit() or part.startswith("0x"):
                mask |= int(part, 0)
            elif part in OPTION_BITS:
                mask |= OPTION_BITS[part]
            else:
                raise UsageError(f"unknown stamp option {part!r}; known: {', '.join(OPTION_BITS)}")
    return mask


def option_names(mask: int) -> list[str]:
    return [n for n, b in OPTION_BITS.items() if int(mask) & b]


# ------------------------------------------------------------------ the request object
@dataclass
class StampRequest:
    req_name: str
    email: str | None = None
    action: str | None = "PROCESS"
    extver: Any = EXTVER
    rows: list[dict[str, Any]] = field(default_factory=list)
    extname: str = EXTNAME
    columns: list[str] = field(default_factory=lambda: list(COLUMN_NAMES))
    header: dict[str, Any] = field(default_factory=dict)
    path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.path, "extname": self.extname, "extver": self.extver,
                "req_name": self.req_name, "action": self.action, "email": self.email,
                "columns": self.columns, "rows": self.rows}


def default_row(**values: Any) -> dict[str, Any]:
    row = {c.name: c.default for c in COLUMNS}
    for k, v in values.items():
        key = k.upper()
        if key not in _BY_NAME:
            raise UsageError(f"unknown request column {k!r}")
        row[key] = v
    return row


def _coerce(col: Col, value: Any, rowno: int) -> Any:
    if value is None or (isinstance(value, str) and value.strip() == "" and col.kind != "str"):
        value = col.default
    if col.kind == "int":
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise DataError(f"row {rowno}: {col.name} must be an integer, not {value!r}") from None
        if not math.isfinite(f) or f != int(f):
            raise DataError(f"row {rowno}: {col.name} must be an integer, not {value!r}")
        return int(f)
    if col.kind == "float":
        try:
            return float(value)
        except (TypeError, ValueError):
            raise DataError(f"row {rowno}: {col.name} must be a number, not {value!r}") from None
    text = "null" if value is None else str(value).strip()
    if col.name == "COMMENT":
        text = text.replace("#", "").strip()[:63] or "null"
    if not text:
        text = "null"
    try:
        text.encode("ascii")
    except UnicodeEncodeError:
        raise DataError(f"row {rowno}: {col.name} must be ASCII text, not {text!r}") from None
    if len(text) > col.width:
        raise DataError(f"row {rowno}: {col.name} {text!r} is longer than {col.width} characters")
    return text


def normalise_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Full 24-column rows with types checked; ROWNUM 0/missing numbered 1.. (unique)."""
    out = []
    used: set[int] = set()
    for i, r in enumerate(rows, 1):
        row = {c.name: _coerce(c, r.get(c.name), i) for c in COLUMNS if c.name != "ROWNUM"}
        rn = r.get("ROWNUM")
        row = {"ROWNUM": None if rn in (None, "", 0, "0") else _coerce(_BY_NAME["ROWNUM"], rn, i), **row}
        out.append(row)
        if row["ROWNUM"] is not None:
            if row["ROWNUM"] in used:
                raise DataError(f"row {i}: duplicate ROWNUM {row['ROWNUM']}")
            used.add(row["ROWNUM"])
    nxt = 1
    for row in out:
        if row["ROWNUM"] is None:
            while nxt in used:
                nxt += 1
            row["ROWNUM"] = nxt
            used.add(nxt)
    return out


# ------------------------------------------------------------------ write / read
def write_request(req: StampRequest, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a version-2 request file (all 24 columns, in writer order)."""
    import numpy as np
    from astropy.io import fits

    path = Path(path)
    if path.exists() and not overwrite:
        raise UsageError(f"{path} exists; use --overwrite to replace it")
    if not req.req_name or len(req.req_name) > 64 or re.search(r"\s", req.req_name):
        raise DataError(f"REQ_NAME {req.req_name!r} must be 1-64 characters without spaces")
    action = (req.action or "").upper()
    if action not in ACTIONS:
        raise DataError(f"ACTION must be PROCESS or PREVIEW, not {req.action!r}")
    if not req.email or not _valid_email(req.email):
        raise DataError(f"EMAIL {req.email!r} must look like user@domain")
    rows = normalise_rows(req.rows)
    if not rows:
        raise DataError("a request needs at least one row")
    cols = []
    for c in COLUMNS:
        vals = [r[c.name] for r in rows]
        if c.kind == "int":
            arr = np.array(vals, dtype=np.int32)
        elif c.kind == "float":
            arr = np.array(vals, dtype=np.float64)
        else:
            arr = np.array([v.encode("ascii") for v in vals], dtype=f"S{c.width}")
        cols.append(fits.Column(name=c.name, format=c.tform, array=arr))
    table = fits.BinTableHDU.from_columns(cols, name=EXTNAME)
    h = table.header
    h["EXTVER"] = (EXTVER, "request file format version")
    h["REQ_NAME"] = (req.req_name, "request name (unique on the server)")
    h["ACTION"] = (action, "PROCESS or PREVIEW")
    h["EMAIL"] = (req.email, "requester")
    primary = fits.PrimaryHDU()
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.HDUList([primary, table]).writeto(path, overwrite=overwrite, output_verify="exception")
    return path


def _valid_email(email: str) -> bool:
    """The parser's test: the header is split on spaces (EMAIL is its last word) and the
    address on '@'; the first two parts, user and domain, must be non-empty and not '0'
    (Perl truth). 'a@b@c' passes (user a, domain b)."""
    words = str(email).split()
    if not words:
        return False
    parts = words[0].split("@")
    user = parts[0]
    domain = parts[1] if len(parts) > 1 else ""
    return user not in ("", "0") and domain not in ("", "0")


def _py(value: Any) -> Any:
    """numpy scalars and bytes from a FITS table as plain Python values."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace").rstrip(" \x00")
    if isinstance(value, str):
        return value.rstrip(" \x00")
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, bytes):
            return value.decode("ascii", "replace").rstrip(" \x00")
    return value


def _column_py(data, name: str) -> list:
    """One table column as plain Python values (:func:`_py` of what ``data[i][name]``
    gives). A numeric column's ``tolist`` gives them already; a text column needs
    only the strip."""
    col = data[name]
    if getattr(col, "ndim", 1) != 1:
        return [_py(data[i][name]) for i in range(len(data))]
    values = col.tolist()
    kind = getattr(getattr(col, "dtype", None), "kind", "")
    if kind and kind in "biuf":
        return values
    if kind == "U":
        return [v.rstrip(" \x00") for v in values]
    return [_py(v) for v in values]


def read_request(path: str | Path) -> StampRequest:
    """Read the first extension of a request file (the only one the server reads).

    Raises DataError (exit 65) when the file is not FITS or has no table in
    extension 1 or when that table is not a PS1_PS_REQUEST."""
    from astropy.io import fits

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        with fits.open(path, memmap=False) as hdul:
            if len(hdul) < 2:
                raise DataError(f"{path}: no extension 1 (a request is a binary table in extension 1)")
            hdu = hdul[1]
            header = {k: _py(v) for k, v in hdu.header.items() if k not in ("COMMENT", "HISTORY", "")}
            extname = str(header.get("EXTNAME", "")).strip()
            if extname == DQUERY_EXTNAME:
                raise DataError(f"{path}: a MOPS detectability query ({DQUERY_EXTNAME}), not a stamp request")
            if extname != EXTNAME:
                raise DataError(f"{path}: extension 1 is {extname or 'unnamed'!r}, not {EXTNAME} "
                                f"(the server would fail the request with fault {INVALID_REQUEST})")
            if not isinstance(hdu, fits.BinTableHDU):
                raise DataError(f"{path}: extension 1 is not a binary table")
            names = [n.strip() for n in hdu.columns.names]
            data = hdu.data
            rows = []
            if data is not None and len(data):
                # column by column: a field read per row and column costs more than the cut
                columns = [_column_py(data, raw) for raw in hdu.columns.names]
                rows = [dict(zip(names, values)) for values in zip(*columns)]
    except DataError:
        raise
    except (OSError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise DataError(f"{path}: not a readable FITS request file ({exc})") from None
    return StampRequest(req_name=header.get("REQ_NAME"), email=header.get("EMAIL"),
                        action=header.get("ACTION"), extver=header.get("EXTVER"), rows=rows,
                        extname=extname, columns=names, header=header, path=str(path))


# ------------------------------------------------------------------ input tables (CSV/ECSV)
_ALIASES = {
    "CENTER_X": ("ra", "ra_deg", "raj2000", "ra_j2000"),
    "CENTER_Y": ("dec", "decl", "dec_deg", "dej2000", "dec_j2000"),
    "MJD": ("mjd", "mjd_obs", "mjdobs", "epoch", "epoch_mjd", "obs_mjd"),
    "REQFILT": ("filter", "filter_id", "filt", "reqfilt", "band"),
    "SIZE": ("size", "stamp_size"),
    "WIDTH": ("width",),
    "HEIGHT": ("height",),
    "COMMENT": ("comment", "det_id", "detection_id", "name", "object", "desig"),
}


#: the sky ranges of a centre (degrees)
RA_RANGE = (0.0, 360.0)
DEC_RANGE = (-90.0, 90.0)


def _in_range(deg: float, what: str, bounds: tuple[float, float]) -> float:
    import math

    if not (math.isfinite(deg) and bounds[0] <= deg <= bounds[1]):
        raise ValueError(f"{what} {deg:g} is outside {bounds[0]:g} .. {bounds[1]:g} degrees")
    return deg


def parse_ra(value: Any) -> float:
    """RA in degrees, or HH:MM:SS sexagesimal hours (parsed by astropy); 0 .. 360."""
    if isinstance(value, str) and ":" in value:
        return _in_range(_sexagesimal(value, hours=True), "RA", RA_RANGE)
    return _in_range(float(value), "RA", RA_RANGE)


def parse_dec(value: Any) -> float:
    """Dec in degrees, or [+-]DD:MM:SS (parsed by astropy); -90 .. 90."""
    if isinstance(value, str) and ":" in value:
        return _in_range(_sexagesimal(value, hours=False), "Dec", DEC_RANGE)
    return _in_range(float(value), "Dec", DEC_RANGE)


def _sexagesimal(text: str, *, hours: bool) -> float:
    import astropy.units as u
    from astropy.coordinates import Angle

    try:
        return float(Angle(text.strip(), unit=u.hourangle if hours else u.deg).deg)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{text!r} is not sexagesimal ({exc})") from None


def read_table_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a CSV or ECSV file as dicts (column names as written)."""
    from astropy.table import Table

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        head = path.read_text(errors="replace")[:64]
        fmt = "ascii.ecsv" if head.startswith("# %ECSV") or path.suffix.lower() == ".ecsv" else "ascii.csv"
        t = Table.read(path, format=fmt)
    except Exception as exc:  # noqa: BLE001 - any parse failure is bad input
        raise DataError(f"{path}: cannot read the table ({exc})") from None
    rows = []
    for rec in t:
        row = {}
        for name in t.colnames:
            v = rec[name]
            if hasattr(v, "mask") and bool(getattr(v, "mask", False)):
                v = None
            row[name] = _py(v) if v is not None else None
        rows.append(row)
    return rows


def _alias(lower: dict[str, Any], key: str) -> tuple[str | None, Any]:
    """(input column, value) of the first non-empty alias of *key* in a record
    with lower-case column names, or (None, None)."""
    for a in _ALIASES[key]:
        if lower.get(a) not in (None, ""):
            return a, lower[a]
    return None, None


def record_mjd(rec: dict[str, Any]) -> Any:
    """The observation MJD an input record gives (``rows_from_records``'s MJD column), or None."""
    return _alias({str(k).strip().lower(): v for k, v in rec.items()}, "MJD")[1]


def rows_from_records(records: list[dict[str, Any]], *, base: dict[str, Any] | None = None,
                      mjd_window: float = 0.005, size: float | None = None,
                      arcsec: bool | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """Request rows from input records (e.g. MOPS detections: RA, DEC, MJD, filter, size).

    Any of the 24 request columns may be given by name (any case). Otherwise
    recognised: RA/DEC (degrees or sexagesimal) for CENTER_X/CENTER_Y, MJD (gives
    MJD_MIN/MJD_MAX = MJD -/+ *mjd_window* days; 0 gives none, as 0 is in the
    request file; below 0 is an error), FILTER for REQFILT, SIZE (width =
    height) or WIDTH/HEIGHT, a detection id or name for COMMENT. *size* is the
    default stamp size; *arcsec* sets the size unit (COORD_MASK bit 2).
    Returns (rows, notes)."""
    base = dict(base or {})
    notes: list[str] = []
    rows: list[dict[str, Any]] = []
    ignored: set[str] = set()
    for i, rec in enumerate(records, 1):
        lower = {str(k).strip().lower(): v for k, v in rec.items()}
        used: set[str] = set()
        direct: dict[str, Any] = {}
        for name in COLUMN_NAMES:
            v = lower.get(name.lower())
            if v not in (None, ""):
                direct[name] = v
                used.add(name.lower())

        def alias(key: str) -> Any:
            name, value = _alias(lower, key)
            if name is not None:
                used.add(name)
            return value

        row = dict(base)
        if size is not None:
            row["WIDTH"] = row["HEIGHT"] = float(size)
        try:
            ra = direct.get("CENTER_X", alias("CENTER_X"))
            dec = direct.get("CENTER_Y", alias("CENTER_Y"))
            if ra is None or dec is None:
                raise DataError(f"input row {i}: no RA/DEC (columns ra, dec or CENTER_X, CENTER_Y)")
            row["CENTER_X"], row["CENTER_Y"] = parse_ra(ra), parse_dec(dec)
            mjd = alias("MJD")
            if mjd is not None and float(mjd) < 0:
                raise DataError(f"input row {i}: MJD {mjd} is not an observation date (0 for none)")
            if mjd is not None and float(mjd) > 0:
                # 0: no date, MJD_MIN/MJD_MAX left at 0 (none), as in the request file
                row["MJD_MIN"] = round(float(mjd) - mjd_window, 6)
                row["MJD_MAX"] = round(float(mjd) + mjd_window, 6)
            sz = alias("SIZE")
            if sz is not None:
                row["WIDTH"] = row["HEIGHT"] = float(sz)
            for key in ("WIDTH", "HEIGHT"):
                val = alias(key)
                if val is not None:
                    row[key] = float(val)
        except (TypeError, ValueError) as exc:
            raise DataError(f"input row {i}: bad number ({exc})") from None
        filt = alias("REQFILT")
        if filt is not None:
            row["REQFILT"] = str(filt).strip()
        comment = alias("COMMENT")
        if comment is not None:
            row["COMMENT"] = str(comment)
        if arcsec is not None:
            cm = int(row.get("COORD_MASK", RANGE_IN_PIXELS) or 0)
            row["COORD_MASK"] = (cm & ~RANGE_IN_PIXELS) if arcsec else (cm | RANGE_IN_PIXELS)
        for name, v in direct.items():
            if name not in ("CENTER_X", "CENTER_Y"):
                row[name] = v
        ignored.update(k for k in lower if k not in used)
        rows.append(row)
    if ignored:
        notes.append("ignored input columns: " + ", ".join(sorted(ignored)))
    return rows, notes


# ------------------------------------------------------------------ validation (the parser's checks)
@dataclass
class Problem:
    row: int            # 1-based row of the table; 0 = the request as a whole
    rownum: Any         # the ROWNUM value (as in the file)
    fault: int
    name: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"row": self.row, "rownum": self.rownum, "fault": self.fault, "fault_name": self.name,
                "problem": self.message}


@dataclass
class Validation:
    file: str | None
    req_name: Any
    extver: Any
    action: Any
    email: Any
    rows: int
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def bad_rows(self) -> int:
        return len({p.row for p in self.problems if p.row > 0})

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "req_name": self.req_name, "extver": self.extver,
                "action": self.action, "email": self.email, "rows": self.rows, "ok": self.ok,
                "bad_rows": self.bad_rows, "problems": [p.to_dict() for p in self.problems],
                "warnings": self.warnings}


def _fault_name(code: int) -> str:
    from mopstool.stages.vocab import PSTAMP_FAULTS

    if code == PROG_ERROR:
        return "PROG_ERROR"
    return PSTAMP_FAULTS.get(code, (f"FAULT_{code}", ""))[0]


_NUMBER = re.compile(r"^([+-]?)(?=\d|\.\d)\d*(\.\d*)?([Ee]([+-]?\d+))?$")


_NUM_PREFIX = re.compile(r"^\s*[+-]?(\d+\.?\d*|\.\d+)([Ee][+-]?\d+)?")
_NON_DIGIT = re.compile(r"\D")


def _text(value: Any) -> str | None:
    """A value as the parser sees it after the table dump (text; NaN is 'nan')."""
    kind = type(value)                     # the table's own types first (a row has 20 fields)
    if kind is str:
        return value.strip()
    if kind is float and math.isfinite(value):
        return repr(value)
    if kind is int:
        return str(value)
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value).strip()


def _truthy(text: str | None) -> bool:
    return text not in (None, "", "0")


def valid_number(value: Any) -> bool:
    kind = type(value)                     # the table's own numbers: their text always matches
    if (kind is float and math.isfinite(value)) or kind is int:
        return True
    t = _text(value)
    return t is not None and bool(_NUMBER.match(t))


def valid_id(value: Any) -> bool:
    """A positive integer as the parser checks it: non-empty, not '0', digits only."""
    t = _text(value)
    return _truthy(t) and not _NON_DIGIT.search(t)


_INT64 = 1 << 63


def _num(value: Any) -> float:
    """Numeric value the way a Perl numeric comparison converts it (leading number or 0)."""
    kind = type(value)                     # the table's own numbers read back as themselves
    if kind is float and math.isfinite(value):
        return value
    if kind is int and -_INT64 <= value < _INT64:
        return float(value)
    t = _text(value)
    if t is None:
        return 0.0
    m = _NUM_PREFIX.match(t)
    return float(m.group(0)) if m else 0.0


def check_row(row: dict[str, Any], *, projects: Iterable[str] | None = None) -> tuple[int, str] | None:
    """The parser's checks of one row, in its order: (fault, message) of the first
    failure, or None. *projects*: the names known to pstampProject (None: unchecked)."""
    stage = _text(row.get("IMG_TYPE"))
    if not valid_id(row.get("ROWNUM")):
        return INVALID_REQUEST, f"ROWNUM {_text(row.get('ROWNUM'))!r} is not a positive integer"
    job_type = _text(row.get("JOB_TYPE"))
    if job_type not in JOB_TYPES:
        return INVALID_REQUEST, f"JOB_TYPE {job_type!r} is not one of {', '.join(JOB_TYPES)}"
    req_type = _text(row.get("REQ_TYPE"))
    if req_type not in REQ_TYPES:
        return INVALID_REQUEST, f"REQ_TYPE {req_type!r} is not one of {', '.join(REQ_TYPES)}"
    if job_type == "get_image" and not (req_type in ("byid", "byexp")
                                        or (req_type == "byskycell" and stage == "stack")
                                        or stage == "stack_summary"):
        return INVALID_REQUEST, ("JOB_TYPE get_image needs REQ_TYPE byid or byexp "
                                 f"(or byskycell stack, or stack_summary), not {req_type} {stage}")
    component = _text(row.get("COMPONENT"))
    if component is None or component.lower() in ("null", "all"):
        component = "all" if job_type == "get_image" and stage not in ("stack", "stack_summary") else ""
    for col in ("MJD_MIN", "MJD_MAX", "FWHM_MIN", "FWHM_MAX"):
        if row.get(col) is not None and not valid_number(row.get(col)):
            return INVALID_REQUEST, f"{col} {_text(row.get(col))!r} is not a number"
    options = int(_num(row.get("OPTION_MASK"))) | 1
    skycenter = not (int(_num(row.get("COORD_MASK"))) & CENTER_IN_PIXELS)
    wholefile = ((_num(row.get("WIDTH")) == 0 and _num(row.get("HEIGHT")) == 0)
                 or (not skycenter and _num(row.get("CENTER_X")) == 0 and _num(row.get("CENTER_Y")) == 0))
    if not skycenter and not wholefile and not component and stage != "stack" \
            and not (options & USE_IMFILE_ID):
        return INVALID_REQUEST, "COMPONENT must be given for a pixel-coordinate centre"
    if stage not in IMG_TYPES:
        return INVALID_REQUEST, f"IMG_TYPE {stage!r} is not one of {', '.join(IMG_TYPES)}"
    if job_type == "stamp" or req_type == "bycoord":
        for col in ("CENTER_X", "CENTER_Y", "WIDTH", "HEIGHT"):
            if not valid_number(row.get(col)):
                return INVALID_REQUEST, f"invalid ROI: {col} {_text(row.get(col))!r} is not a number"
    if skycenter and not wholefile and all(valid_number(row.get(c)) for c in ("CENTER_X", "CENTER_Y")):
        for col, what, bounds in (("CENTER_X", "RA", RA_RANGE), ("CENTER_Y", "Dec", DEC_RANGE)):
            if not bounds[0] <= _num(row.get(col)) <= bounds[1]:
                return INVALID_REQUEST, (f"invalid ROI: {col} ({what}) {_text(row.get(col))} is outside "
                                         f"{bounds[0]:g} .. {bounds[1]:g} degrees")
    if req_type == "byexp" and stage in ("stack", "stack_summary"):
        return NOT_IMPLEMENTED, f"byexp is not implemented for {stage}"
    if req_type == "bycoord" and not skycenter:
        return INVALID_REQUEST, "bycoord needs a sky centre (COORD_MASK bit 1 clear)"
    if req_type in ("byid", "bydiff") and not valid_id(row.get("ID")):
        return INVALID_REQUEST, f"ID {_text(row.get('ID'))!r} must be a positive integer for {req_type}"
    if projects is not None:
        proj = _text(row.get("PROJECT"))
        if proj not in set(projects):
            return UNKNOWN_PROJECT, f"PROJECT {proj!r} is not a known project ({', '.join(sorted(projects))})"
    return None


def validate_request(req: StampRequest, *, projects: Iterable[str] | None = None,
                     existing_names: Iterable[str] | None = None) -> Validation:
    """Apply the server's header and row checks; every bad row gets the fault code
    the parser would record. *projects*: the PROJECT names the server knows (its
    pstampProject table); None leaves PROJECT unchecked, as only the server can
    check it. Warnings point at things the server accepts but that probably do
    not do what was meant."""
    v = Validation(file=req.path, req_name=req.req_name, extver=req.extver, action=req.action,
                   email=req.email, rows=len(req.rows))

    def problem(fault: int, msg: str, row: int = 0, rownum: Any = 0) -> None:
        v.problems.append(Problem(row, rownum, fault, _fault_name(fault), msg))

    extver = _text(req.extver)
    if req.extname != EXTNAME:
        problem(INVALID_REQUEST, f"extension 1 is {req.extname!r}, not {EXTNAME}")
    if not _truthy(_text(req.req_name)):
        problem(PROG_ERROR, "REQ_NAME missing: the parser stops (exit 4) and the request stays new, faulted")
    elif re.search(r"\s", str(req.req_name)):
        problem(INVALID_REQUEST, f"REQ_NAME {req.req_name!r} contains a space: the parser splits the header "
                                 "keywords on spaces, so ACTION and EMAIL are read wrong")
    elif len(str(req.req_name)) > 64:
        v.warnings.append(f"REQ_NAME is {len(str(req.req_name))} characters; the server stores at most 64")
    if extver not in ("1", "2"):
        problem(PROG_ERROR, f"EXTVER {extver!r} is not '1' or '2': the parser stops (exit 4)")
    elif extver == "1":
        v.warnings.append("EXTVER '1': version 1 requests are no longer accepted by the server; "
                          "write version 2")
    else:
        if not _truthy(_text(req.email)):
            problem(INVALID_REQUEST, "EMAIL missing (required for version 2)")
        action = _text(req.action)
        if action is None or action == "":
            problem(INVALID_REQUEST, "ACTION missing (required for version 2)")
        elif action.upper() not in ACTIONS:
            problem(INVALID_REQUEST, f"ACTION {action!r} is not PROCESS or PREVIEW")
        elif action not in ACTIONS:
            v.warnings.append(f"ACTION {action!r} is not upper case: the parser accepts it but never "
                              "moves the request to run/parsed")
    if existing_names is not None and req.req_name in set(existing_names):
        problem(DUP_REQUEST, f"REQ_NAME {req.req_name!r} is already used on the server")
    email = _text(req.email)
    if extver == "2" and _truthy(email) and not _valid_email(email):
        problem(NOT_AUTHORIZED, f"EMAIL {email!r} is not user@domain: access is refused")
    if not req.rows:
        problem(INVALID_REQUEST, "the request has no rows")
    if extver == "2":
        missing = [c for c in ("SURVEY_NAME", "IPP_RELEASE", "RUN_TYPE", "FWHM_MIN", "FWHM_MAX")
                   if c not in req.columns]
        if missing:
            v.warnings.append("version 2 columns missing: " + ", ".join(missing))
    if "DATA_GROUP" not in req.columns and "LABEL" not in req.columns:
        v.warnings.append("no DATA_GROUP column")
    if projects is None and req.rows:
        v.warnings.append("PROJECT not checked: only the server's pstampProject table knows the projects "
                          "(give --project NAME or --check-db)")
    seen: dict[str, int] = {}
    for i, row in enumerate(req.rows, 1):
        found = check_row(row, projects=projects)
        rn = row.get("ROWNUM")
        if found:
            problem(found[0], found[1], i, rn)
            continue
        key = _text(rn)
        if key in seen:
            v.warnings.append(f"row {i}: ROWNUM {key} repeats row {seen[key]} (results are keyed by ROWNUM)")
        seen.setdefault(key, i)
        _row_warnings(v, i, row)
    return v


def _row_warnings(v: Validation, i: int, row: dict[str, Any]) -> None:
    req_type = _text(row.get("REQ_TYPE"))
    stage = _text(row.get("IMG_TYPE"))
    nulls = [_text(row.get(c)) in (None, "", "null", "NULL")
             for c in ("IPP_RELEASE", "SURVEY_NAME", "DATA_GROUP", "TESS_ID")]
    if req_type in ("bycoord", "byskycell") and all(nulls):
        v.warnings.append(f"row {i}: no IPP_RELEASE, SURVEY_NAME, DATA_GROUP or TESS_ID: the server looks "
                          "the position up in the 3PI release; set SURVEY_NAME bypass or a DATA_GROUP "
                          "for nightly data")
    comment = _text(row.get("COMMENT")) or ""
    if "#" in comment:
        v.warnings.append(f"row {i}: COMMENT contains '#'")
    if req_type == "bycoord" and stage != "stack" and _num(row.get("MJD_MIN")) == 0:
        v.warnings.append(f"row {i}: MJD_MIN 0 on a bycoord row: the server searches from MJD 54922 on")
    w, h = _num(row.get("WIDTH")), _num(row.get("HEIGHT"))
    if int(_num(row.get("COORD_MASK"))) & RANGE_IN_PIXELS and max(w, h) > 8000:
        v.warnings.append(f"row {i}: stamps are at most 8000 pixels wide; {max(w, h):g} will be cut to 8000")
