"""Reading, checking and summarising .mops files (ppMops's and mopstool's)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mopstool.errors import DataError
from mopstool.fits.cmf import SOURCE_MASK
from mopstool.fits.mops import (ALL_COLUMNS, ALL_EXT, DIFFTYPES, MATCH_RADIUS_ARCSEC, MOPS_EXT,
                                REQUIRED_KEYWORDS, REVISION_COLUMNS, REVISION_KEYWORDS, SKYCELL_EXT,
                                _V1, version_columns)
from mopstool.fits.mops_build import cross_pairs

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

    from mopstool.fits.cmf import _header_dict

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
        for name in ("RA_ERR", "DEC_ERR", "MAG_ERR", "RA_EXT_SIGMA", "DEC_EXT_SIGMA"):
            col = column(table, name)
            if col is not None:
                with np.errstate(invalid="ignore"):
                    bad = int(np.count_nonzero(col.astype("f8") < 0))
                if bad:
                    rep.problem("errors", f"{bad} row(s) with a negative {name}")
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
