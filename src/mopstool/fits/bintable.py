"""A lean reader of FITS binary tables for the common case.

Walks the header blocks of a file (2880-byte records of 80-character cards),
parses only the keywords asked for (the mandatory ones by their place), and
reads one binary table's rows with one read into its big-endian record
layout (a buffer kept per thread); the columns asked for are then copied
out in native order. Only plain columns are handled
(TFORM ``rL``, ``rB``, ``rI``, ``rJ``, ``rK``, ``rE``, ``rD``, ``rA``; TSCAL 1;
TZERO 0 or the unsigned offsets 2^15, 2^31, 2^63, or -128 for signed bytes);
for anything else (variable-length arrays, scaled columns, a heap, compressed
tables, a file that is not plain FITS) :func:`read_table` returns ``None`` and
the caller reads the file with fitsio. Character (``A``) columns come as bytes. FITS facts used: the FITS Standard 4.0
(header records, END, data size ``|BITPIX|/8 * GCOUNT * (PCOUNT + prod NAXISn)``,
binary table TFORMn codes and the TZEROn convention for unsigned integers).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from typing import Any

BLOCK = 2880
_STRING = re.compile(r"'((?:[^']|'')*)'")
_TFORM = re.compile(r"\s*(\d*)([LBIJKEDA])\s*$")
_TYPES = {"L": "i1", "B": "u1", "I": ">i2", "J": ">i4", "K": ">i8", "E": ">f4", "D": ">f8", "A": "S"}
#: TZERO of the unsigned (or, for B, signed) form of each integer code
_UNSIGNED = {"B": (-128, "i1"), "I": (32768, "u2"), "J": (2147483648, "u4"), "K": (9223372036854775808, "u8")}
_STRUCTURE = ("XTENSION", "EXTNAME", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "PCOUNT", "GCOUNT", "TFIELDS")


def card_value(text: str):
    """The value of a FITS card's value field (the text after '= ')."""
    text = text.strip()
    if text.startswith("'"):
        m = _STRING.match(text)
        return (m.group(1) if m else text[1:]).replace("''", "'").rstrip()
    text = text.split("/", 1)[0].strip()
    if text in ("T", "F"):
        return text == "T"
    try:
        return int(text)
    except ValueError:
        try:
            return float(text.replace("D", "E"))
        except ValueError:
            return None


def header_cards(raw: str) -> dict[str, str]:
    """Keyword -> raw value field of every value card of one header (HIERARCH
    keywords without the prefix); the first occurrence of a keyword wins.
    Nothing after END is read."""
    end = len(raw)
    for i in range(0, len(raw) - 79, 80):
        if raw[i:i + 8] == "END     ":
            end = i
            break
    out: dict[str, str] = {}
    for i in range(0, end, 80):
        if raw[i + 8:i + 10] == "= ":
            k = raw[i:i + 8].rstrip()
            if k not in out:
                out[k] = raw[i + 10:i + 80]
        elif raw.startswith("HIERARCH ", i):
            key, eq, val = raw[i + 9:i + 80].partition("=")
            key = key.strip()
            if eq and key not in out:
                out[key] = val
    return out


_END = "END" + " " * 77


def _end_of(raw: str) -> int:
    """Offset of the END card of a header (its length when there is none)."""
    i = raw.find(_END)
    while i >= 0 and i % 80:
        i = raw.find(_END, i + 1)
    return len(raw) - len(raw) % 80 if i < 0 else i


def find_card(raw: str, key: str, *, hierarch: bool = True) -> str | None:
    """The raw value field of keyword *key* in a header's text up to END, as
    ``header_cards(raw).get(key)`` gives it (the first occurrence, as a
    plain or a HIERARCH card), found without parsing every card.
    ``hierarch=False``: the text is known to hold no HIERARCH card."""
    best, val = len(raw) + 1, None
    if len(key) <= 8:
        pat = key.ljust(8) + "= "
        i = raw.find(pat)
        while i >= 0 and i % 80:
            i = raw.find(pat, i + 1)
        if i >= 0:
            best, val = i, raw[i + 10:i + 80]
    i = raw.find("HIERARCH ") if hierarch else -1
    while 0 <= i < best:
        if i % 80 == 0:
            k, eq, v = raw[i + 9:i + 80].partition("=")
            if eq and k.strip() == key:
                return v
        i = raw.find("HIERARCH ", i + 1)
    return val


#: cards read by position at the start of a header: the mandatory keywords
#: (SIMPLE or XTENSION, BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, TFIELDS) come
#: first, in this order, by the FITS Standard (4.4.1)
_LEADING = 16


def _leading_cards(raw: str) -> dict[str, str]:
    """Keyword -> raw value field of the value cards among a header's first
    ``_LEADING`` cards (plain or HIERARCH), each keyword's first: what
    ``find_card`` gives for it, since its first occurrence is among them."""
    out: dict[str, str] = {}
    for i in range(0, min(len(raw), _LEADING * 80), 80):
        if raw[i + 8:i + 10] == "= ":
            k = raw[i:i + 8].rstrip()
            v = raw[i + 10:i + 80]
        elif raw.startswith("HIERARCH ", i):
            k, eq, v = raw[i + 9:i + 80].partition("=")
            if not eq:
                continue
            k = k.strip()
        else:
            continue
        if k not in out:
            out[k] = v
    return out


class Hdu:
    """One HDU's header: keyword values parsed on demand from its text."""

    def __init__(self, name: str, cards: dict[str, str] | None = None, data_start: int = 0,
                 data_bytes: int = 0, *, raw: str | None = None):
        self.name = name                #: EXTNAME ("" for the primary)
        self.data_start = data_start
        self.data_bytes = data_bytes
        self._cards = cards
        self._raw = raw if raw is None else raw[:_end_of(raw)]
        self._hierarch = self._raw is not None and "HIERARCH " in self._raw
        self._found: dict[str, str | None] = {} if self._raw is None else _leading_cards(self._raw)

    @property
    def cards(self) -> dict[str, str]:
        """Keyword -> raw value field of every value card."""
        if self._cards is None:
            self._cards = header_cards(self._raw or "")
        return self._cards

    @property
    def raw(self) -> str | None:
        """The header's text up to END, when it was read from one."""
        return self._raw

    def raw_value(self, key: str) -> str | None:
        if self._cards is not None or self._raw is None:
            return self.cards.get(key)
        if key not in self._found:
            self._found[key] = find_card(self._raw, key, hierarch=self._hierarch)
        return self._found[key]

    def get(self, key: str, default=None):
        v = self.raw_value(key)
        return default if v is None else card_value(v)


def _has_end(block: str) -> bool:
    i = block.find(_END)
    while i >= 0:
        if i % 80 == 0:
            return True
        i = block.find(_END, i + 1)
    return False


def _hdus(fh, stop_at: str | None):
    """The HDUs of an open binary file, in order, up to the one named *stop_at*."""
    pos = 0
    while True:
        fh.seek(pos)
        chunks = []
        while True:
            blk = fh.read(BLOCK)
            if len(blk) < BLOCK:
                return
            text = blk.decode("ascii", "replace")
            chunks.append(text)
            if _has_end(text):
                break
        raw = "".join(chunks)
        if pos == 0 and not raw.startswith("SIMPLE  ="):
            return
        hdu = Hdu(name="", data_start=pos + len(raw), raw=raw)
        naxis = int(hdu.get("NAXIS", 0) or 0)
        size = 0
        if naxis:
            size = 1
            for n in range(1, naxis + 1):
                size *= int(hdu.get(f"NAXIS{n}", 0) or 0)
        size = abs(int(hdu.get("BITPIX", 8) or 8)) // 8 * int(hdu.get("GCOUNT", 1) or 1) * \
            (int(hdu.get("PCOUNT", 0) or 0) + size)
        hdu.data_bytes = size
        hdu.name = str(hdu.get("EXTNAME", "") or "") if pos else ""
        yield hdu
        if stop_at is not None and hdu.name == stop_at:
            return
        pos = hdu.data_start + (size + BLOCK - 1) // BLOCK * BLOCK


@dataclass
class Table:
    hdus: dict[str, Hdu]                 #: every HDU read, by name ("" the primary)
    exttype: str                         #: XTENSION of the table HDU
    colnames: list[str]                  #: TTYPEn in file order, as written
    nrows: int
    columns: dict[str, Any] = field(default_factory=dict)   #: by upper-case name, native order


_LAYOUTS: dict[tuple, Any] = {}


def _layout(table: Hdu, nfields: int, row_bytes: int, wanted: set[str]):
    """(record dtype of the wanted columns, {name: (field, unsigned type)},
    column names) of a binary table, or False when it is not a plain one."""
    import numpy as np

    names, formats, offsets, conv, colnames = [], [], [], {}, []
    off = 0
    for n in range(1, nfields + 1):
        name = str(table.get(f"TTYPE{n}", f"COL{n}") or f"COL{n}")
        colnames.append(name)
        m = _TFORM.match(str(table.get(f"TFORM{n}", "") or ""))
        if m is None:
            return False
        rep = int(m.group(1) or 1)
        code = m.group(2)
        if code == "A":
            fmt, width = f"S{rep}", rep
        else:
            base = np.dtype(_TYPES[code])
            fmt, width = ((base, (rep,)) if rep != 1 else base), base.itemsize * rep
        up = name.upper()
        if up in wanted and rep and up not in conv:
            scal = table.get(f"TSCAL{n}", 1)
            zero = table.get(f"TZERO{n}", 0)
            if scal not in (None, 1, 1.0):
                return False
            unsigned = None
            if zero not in (None, 0):
                if code not in _UNSIGNED or zero != _UNSIGNED[code][0]:
                    return False
                unsigned = _UNSIGNED[code][1]
            conv[up] = (f"f{n}", unsigned)
            names.append(f"f{n}")
            formats.append(fmt)
            offsets.append(off)
        off += width
    if off != row_bytes:
        return False
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": max(row_bytes, 1)}), \
        conv, colnames


#: tables up to this size are read into one buffer kept per thread (the
#: columns are copied out of it): no new pages to fault in for every file
ROW_BUFFER_MAX = 32 << 20
_BUFFERS = threading.local()


def _row_buffer(nbytes: int):
    """A writable buffer of *nbytes* bytes, reused by the next call of the
    same thread, or None for a table larger than ``ROW_BUFFER_MAX``."""
    if nbytes > ROW_BUFFER_MAX:
        return None
    import numpy as np

    buf = getattr(_BUFFERS, "buf", None)
    if buf is None or len(buf) < nbytes:
        buf = _BUFFERS.buf = np.empty(max(nbytes, 1 << 20), dtype=np.uint8)
    return memoryview(buf)[:nbytes]


def read_table(path: str, extname: str, columns) -> Table | None:
    """The named binary table's *columns* (upper-case names; missing ones are
    left out) and the headers of the HDUs up to it, or None when the file or
    the table is outside the plain case this reader handles (see module doc),
    or has no HDU *extname*. OSError and ValueError propagate."""
    import numpy as np

    with open(path, "rb") as fh:
        hdus: dict[str, Hdu] = {}
        table = None
        for h in _hdus(fh, extname):
            hdus.setdefault(h.name, h)
            if h.name == extname:
                table = h
        if table is None:
            return None
        xt = str(table.get("XTENSION", "") or "").strip()
        if xt != "BINTABLE":
            return None
        if int(table.get("PCOUNT", 0) or 0) != 0 or int(table.get("GCOUNT", 1) or 1) != 1:
            return None
        nfields = int(table.get("TFIELDS", 0) or 0)
        row_bytes = int(table.get("NAXIS1", 0) or 0)
        nrows = int(table.get("NAXIS2", 0) or 0)
        # tables written alike share a layout: the header text less its row count
        text = table.raw
        if text is None:
            c = table.cards
            text = tuple(c.get(f"{k}{n}") for n in range(1, nfields + 1) for k in ("TTYPE", "TFORM", "TSCAL", "TZERO"))
        else:
            i = text.find("NAXIS2  = ")
            while i >= 0 and i % 80:
                i = text.find("NAXIS2  = ", i + 1)
            if i >= 0:
                text = text[:i] + text[i + 80:]
        key = (row_bytes, nfields, frozenset(columns), text)
        layout = _LAYOUTS.get(key)
        if layout is None:
            table.cards          # every card at once for the layout
            layout = _layout(table, nfields, row_bytes, set(columns))
            if len(_LAYOUTS) > 64:
                _LAYOUTS.clear()
            _LAYOUTS[key] = layout
        if layout is False:
            return None
        dtype, conv, colnames = layout
        out = Table(hdus=hdus, exttype=xt, colnames=list(colnames), nrows=nrows)
        if nrows == 0:
            return out
        fh.seek(table.data_start)
        buf = _row_buffer(nrows * dtype.itemsize)
        if buf is None:
            rows = np.fromfile(fh, dtype=dtype, count=nrows)
        else:
            rows = np.frombuffer(buf, dtype=dtype, count=fh.readinto(buf) // dtype.itemsize)
        if len(rows) != nrows:
            raise ValueError(f"{extname}: truncated table ({len(rows)} of {nrows} rows)")
    for up, (field_name, unsigned) in conv.items():
        col = rows[field_name]
        col = col.astype(col.dtype.newbyteorder("="))
        if unsigned is not None:
            # FITS stores these integers offset by TZERO: flipping the sign bit applies it
            col = col.view(unsigned) ^ np.array(1 << (col.dtype.itemsize * 8 - 1), dtype="u8").astype(unsigned)
        out.columns[up] = col
    return out
