"""The IPP text output of ippdbPrintMetadatas: metadata-config blocks or -simple lines.

The blocks are what psLib's psMetadataConfigFormat writes (fixed 15/8/15 column
padding, two spaces apart, see :func:`mdc_line`).

Types follow what the C tools read back from MySQL: BIGINT S64, INT S32,
SMALLINT S16, TINYINT BOOL, FLOAT F32, DOUBLE F64, DATETIME/TIMESTAMP UTC,
strings STR. NULL numbers print as the IPP sentinels (S64 9223372036854775807,
S32 2147483647, S16 32767), NULL floats as nan, NULL times as 'TAI NULL'; a NULL
string is the word NULL in a metadata block and an empty field under -simple
(where underscores in strings print as spaces and floats as %f).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

S64_NULL = 9223372036854775807
S32_NULL = 2147483647
S16_NULL = 32767

_NULL_INT = {"S64": str(S64_NULL), "S32": str(S32_NULL), "S16": str(S16_NULL), "S8": "127",
             "BOOL": "F"}


def column_types(columns) -> dict[str, str]:
    """MDC type tokens for SQLAlchemy columns (or labelled column expressions)."""
    from sqlalchemy import BigInteger, DateTime, Double, Float, Integer, SmallInteger, String

    # most specific first: BigInteger and SmallInteger are Integers, Double is a Float
    codes = ((BigInteger, "S64"), (SmallInteger, "S16"), (Integer, "S32"), (Double, "F64"), (Float, "F32"),
             (DateTime, "UTC"), (String, "STR"))
    out = {}
    for c in columns:
        t = getattr(c, "type", None)
        name = getattr(c, "key", None) or getattr(c, "name", None)
        variants = getattr(t, "_variant_mapping", {}) or {}
        if any(type(v).__name__ == "TINYINT" for v in variants.values()):
            out[name] = "BOOL"
            continue
        code = next((code for kind, code in codes if isinstance(t, kind)), None)
        if code is not None:
            out[name] = code
    return out


def _type(value: Any, declared: str | None) -> str:
    if declared:
        return declared
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "S64"
    if isinstance(value, float):
        return "F64"
    if isinstance(value, datetime):
        return "UTC"
    return "STR"


def _time(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return value
    return value.strftime("%Y-%m-%dT%H:%M:%S.000000")     # psTimeToISO, 6 decimals


def mdc_value(value: Any, typ: str) -> str:
    if typ in ("UTC", "TAI"):
        return _time(value)
    if value is None:
        return _NULL_INT.get(typ, "nan" if typ in ("F32", "F64") else "NULL")
    if typ == "F32":
        return f"{float(value):.7g}"
    if typ == "F64":
        return f"{float(value):.15g}"
    if typ == "BOOL":
        return "T" if value else "F"
    if typ == "STR":
        s = str(value)
        return s if s.strip(" \t") else "NULL"
    return str(int(value))


def mdc_line(name: str, value: Any, typ: str) -> str:
    """One item as psMetadataItemFormat writes it: name, type and value padded to
    15, 8 and 15 columns, two spaces apart; strings end with one more space; a
    time is its ISO string unpadded, a NULL time 'TAI' and NULL."""
    if typ in ("UTC", "TAI"):
        if value is None:
            return f"{name:<15}  {'TAI':<8}  {'NULL':<15}"
        return f"{name:<15}  {typ:<8}  {_time(value)}"
    line = f"{name:<15}  {typ:<8}  {mdc_value(value, typ):<15}"
    return line + " " if typ == "STR" else line


def simple_value(value: Any, typ: str) -> str:
    if typ in ("UTC", "TAI"):
        return _time(value)
    if typ == "STR":
        return "" if value is None else str(value).replace("_", " ")
    if typ in ("F32", "F64"):
        return "nan" if value is None else f"{float(value):f}"
    if value is None:
        return _NULL_INT.get(typ, "")
    if typ == "BOOL":
        return "T" if value else "F"
    return str(int(value))


def format_mdc(rows: list[dict], rowname: str, types: dict[str, str] | None = None) -> str:
    """ippdbPrintMetadatas in metadata-config form (psMetadataConfigFormat): with
    several rows a '<name> MULTI' line; per row a blank line, '<name>  METADATA  ',
    every column as '   ' + mdc_line(), 'END'; then one empty line."""
    if not rows:
        return ""
    types = types or {}
    out = [f"{rowname} MULTI\n"] if len(rows) > 1 else []
    for r in rows:
        lines = "".join("\n   " + mdc_line(k, v, _type(v, types.get(k))) for k, v in r.items())
        out.append(f"\n{rowname}  METADATA  {lines}\nEND\n")
    return "".join(out) + "\n"


def format_simple(rows: list[dict], types: dict[str, str] | None = None) -> str:
    """-simple: one line per row, values separated by single spaces."""
    types = types or {}
    lines = [" ".join(simple_value(v, _type(v, types.get(k))) for k, v in r.items()) for r in rows]
    return "\n".join(lines) + ("\n" if lines else "")
