"""Writing a .mops file: fitsio writes the headers; the rows go down as
big-endian blocks at their place, streamed (see :func:`write_mops_file`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable

from mopstool.errors import DataError
from mopstool.fits.mops import ALL_EXT, MOPS_EXT, SKYCELL_EXT

def write_mops_file(output, tcards: list[dict], side_cards: list[dict], tables: list[tuple],
                    column_comments: dict[str, dict[str, str]] | None = None, *,
                    nrows: list[int] | None = None, rows: Iterable[tuple[int, list]] | None = None) -> list[str]:
    """Write the .mops file atomically: empty primary HDU, then the three
    tables given as (arrays, names, units) with their header cards;
    *column_comments* gives TTYPEn comments per extension and column. Returns
    notes (the fallback below says so).

    Streaming: with *nrows* (rows per table) and *rows* (an iterable of
    (table index, arrays) chunks, each table's chunks in row order, in the
    column types of *tables*), *tables* only gives the layout (zero-length
    arrays will do) and the rows are written as they come, never all held at
    once.

    fitsio writes the headers (of zero-row tables); the rows are then laid
    down as big-endian blocks at their place in the file. Why not fitsio's
    column writer: measured with bench/bench_mopscat.py, the whole build takes
    2.1-3.6 x the CPU time with it at 60 skycells x 5,000 rows (four runs on
    a shared machine), 2.5 x at 6 x 2,000 and 2.7 x at 10 x 5,000
    (docs/benchmarks.md), and it needs whole tables in memory.
    Should the layout fitsio declared ever differ from the blocks built here,
    the rows are gathered and written with fitsio's column writer and a note
    says so."""
    import fitsio

    out = Path(output)
    if out.parent and not out.parent.exists():
        raise DataError(f"output directory {out.parent} does not exist")
    if rows is None:
        nrows = [len(arrays[0]) if arrays else 0 for arrays, _n, _u in tables]
        rows = [(i, arrays) for i, (arrays, _n, _u) in enumerate(tables)]
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    exts = (MOPS_EXT, ALL_EXT, SKYCELL_EXT)
    cards = (tcards, side_cards, side_cards)
    notes: list[str] = []

    def write(f, data) -> None:
        f.write(None)
        for (arrays, names, units), ext, hdr, d in zip(tables, exts, cards, data):
            f.write(d, names=names, extname=ext, header=hdr, units=units)
            for col, comment in (column_comments or {}).get(ext, {}).items():
                if col in names:
                    f[-1].write_key(f"TTYPE{names.index(col) + 1}", col, comment=comment)

    try:
        with fitsio.FITS(str(tmp), "rw", clobber=True) as f:
            write(f, [[a[:0] for a in arrays] for arrays, _n, _u in tables])
        if not _fill_rows(tmp, tables, nrows, rows):
            notes.append("the fast row writer did not match fitsio's table layout; wrote the rows "
                         "with fitsio's column writer instead (slower, same content)")
            with fitsio.FITS(str(tmp), "rw", clobber=True) as f:
                write(f, _gather(tables, rows))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(f"cannot write {out}: {' '.join(str(exc).split())[:200]}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return notes


def _gather(tables: list[tuple], rows) -> list[list]:
    """Whole columns per table from the (table index, arrays) chunks."""
    import numpy as np

    parts: list[list[list]] = [[[] for _ in arrays] for arrays, _n, _u in tables]
    for i, arrays in rows:
        for j, a in enumerate(arrays):
            parts[i][j].append(a)
    return [[np.concatenate([t[:0]] + p) for t, p in zip(arrays, cols)]
            for (arrays, _n, _u), cols in zip(tables, parts)]


_BLOCK = 2880
_SLICE = 65536          #: rows converted to FITS storage at a time


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


def _fill_rows(path: Path, tables: list[tuple], nrows: list[int], rows) -> bool:
    """Give the zero-row tables of *path* their rows; False if the layout
    fitsio declared differs from the rows built here (nothing changed then,
    *rows* not consumed)."""
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
    patched, sizes = [], []
    for hdr, (arrays, _names, _units), n in zip(headers[1:], tables, nrows):
        cards = [hdr[i:i + 80] for i in range(0, len(hdr), 80)]
        naxis1 = next((int(c[10:30]) for c in cards if c.startswith(b"NAXIS1  =")), None)
        size = _row_size(arrays)
        if naxis1 != size or _fits_rows([a[:0] for a in arrays]) is None:
            return False
        patched.append(b"".join(b"NAXIS2  = " + f"{n:>20d}".encode() + c[30:]
                                if c.startswith(b"NAXIS2  =") else c for c in cards))
        sizes.append(n * size)
    # the place of every table's data in the file, known before any row is built
    starts, at = [], len(headers[0])
    for hdr, size in zip(patched, sizes):
        starts.append(at + len(hdr))
        at += len(hdr) + size + (-size % _BLOCK)
    with open(path, "wb") as fh:
        fh.write(headers[0])
        for hdr, start, size in zip(patched, starts, sizes):
            fh.seek(start - len(hdr))
            fh.write(hdr)
            fh.seek(start + size)
            fh.write(b"\0" * (-size % _BLOCK))
        done = [0] * len(tables)
        types = [[a.dtype for a in arrays] for arrays, _n, _u in tables]
        for i, arrays in rows:
            if [a.dtype for a in arrays] != types[i]:
                raise DataError(f"{path}: rows of table {i + 1} do not have the declared column types")
            n = len(arrays[0]) if arrays else 0
            # in slices of rows, so the big-endian copy never holds a whole chunk
            for first in range(0, n, _SLICE):
                block = _fits_rows([a[first:first + _SLICE] for a in arrays])
                fh.seek(starts[i] + done[i])
                fh.write(memoryview(block).cast("B"))
                done[i] += block.nbytes
        if done != sizes:
            raise DataError(f"{path}: rows written {done} differ from the rows declared {sizes}")
    return True


def _row_size(arrays) -> int | None:
    size = 0
    for a in arrays:
        if a.dtype.kind not in "biufS":
            return None
        size += a.dtype.itemsize
    return size


