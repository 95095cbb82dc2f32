"""Values checked against the gpc1 column types before they are written.

The IPP's tables are latin1 with fixed VARCHAR widths and sized integers. A
non-strict MariaDB truncates a long string or clamps an integer without an
error, a strict one fails in the middle of a change, and SQLite stores anything
(or cannot bind an integer beyond 64 bits). mopstool checks every value itself,
the same way on every backend:

- :func:`check_value` / :func:`check_row`: one value / one row of a table
  against the column types of ``db/schema.py`` (string width, latin1, integer
  range). Writers call :func:`check_row` on the values they take from the user
  while they plan, so a bad value is refused before the prompt.
- :func:`guard`: installed on every engine mopstool makes (``db.make_engine``);
  before any INSERT or UPDATE reaches the database it runs the same check on
  every value bound to a column of the target table, and before any statement
  it refuses an integer parameter outside the 64-bit range. The error is raised
  inside the writer's transaction, which is rolled back: nothing changes.

Every refusal is a :class:`mopstool.errors.DataError` (exit 65) naming the
table, the column and the limit.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

from mopstool.errors import DataError
from mopstool.util import INT64_MAX, INT64_MIN
#: bits of the integer types of the schema (signed)
_INT_BITS = {"BIGINT": 64, "BIG_INTEGER": 64, "INTEGER": 32, "INT": 32, "MEDIUMINT": 24,
             "SMALLINT": 16, "SMALL_INTEGER": 16, "TINYINT": 8}
_SHOWN = 40


def _shown(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "…")


def _type_name(coltype) -> str:
    """The type the real gpc1 has: the MySQL variant when the column declares one."""
    variants = getattr(coltype, "_variant_mapping", None) or {}
    t = variants.get("mysql", variants.get("mariadb", coltype))
    return str(getattr(t, "__visit_name__", type(t).__name__)).upper()


def _limits(column) -> tuple[int | None, tuple[int, int] | None]:
    """(string width, integer range) of a column; None where it has none."""
    width = getattr(column.type, "length", None)
    bits = _INT_BITS.get(_type_name(column.type))
    return width, ((-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if bits else None)


def check_value(table, column: str, value: Any, *, what: str | None = None) -> None:
    """Refuse (exit 65) a *value* that ``table.column`` of the gpc1 cannot hold.

    *what* names the value for the user (an option such as ``--set-label``);
    default ``table.column``."""
    col = table.c.get(column) if hasattr(table, "c") else None
    if col is None or value is None:
        return
    name = what or f"{table.name}.{column}"
    col_name = "the column" if what is None else f"the column {table.name}.{column}"
    width, int_range = _limits(col)
    if isinstance(value, str):
        try:
            value.encode("latin-1")
        except UnicodeEncodeError as exc:
            bad = value[exc.start]
            raise DataError(f"{name}: {_shown(value)} has the character {bad!r} (U+{ord(bad):04X}), "
                            f"which {col_name} (latin1) cannot store; "
                            "nothing changed") from None
        if width is not None and len(value) > width:
            raise DataError(f"{name}: {_shown(value)} is {len(value)} characters; {col_name} "
                            f"holds at most {width}; nothing changed")
    elif isinstance(value, int) and not isinstance(value, bool) and int_range is not None:
        lo, hi = int_range
        if not lo <= value <= hi:
            raise DataError(f"{name}: {value} is out of range for {col_name} "
                            f"({lo} .. {hi}); nothing changed")


def check_row(table, row: Mapping[str, Any], *, options: Mapping[str, str] | None = None) -> None:
    """:func:`check_value` for each column of *row* (*options*: column -> option name)."""
    for column, value in row.items():
        check_value(table, column, value, what=(options or {}).get(column))


def _check_int64(values: Iterable[Any]) -> None:
    for v in values:
        if type(v) is int:
            if not INT64_MIN <= v <= INT64_MAX:
                raise DataError(f"{v} is outside the 64-bit integer range of the database "
                                f"({INT64_MIN} .. {INT64_MAX}); nothing changed")
        elif isinstance(v, (list, tuple)):
            _check_int64(v)


_TABLE_LIMITS: dict[Any, dict[str, tuple]] = {}


def _table_limits(table) -> dict[str, tuple]:
    """column key -> (width or None, (low, high) or None), for the columns that have a limit."""
    got = _TABLE_LIMITS.get(table)
    if got is None:
        got = {}
        for col in table.c:
            width, int_range = _limits(col)
            if width is not None or int_range is not None:
                got[col.key] = (width, int_range)
        _TABLE_LIMITS[table] = got
    return got


def guard(conn, cursor, statement, parameters, context, executemany) -> None:
    """``before_cursor_execute`` listener: check the values of every statement.

    The common case (a value that fits) costs a type test and a comparison;
    :func:`check_value` words the refusal."""
    if context is None or getattr(context, "_mopstool_checked", False):
        return
    context._mopstool_checked = True
    params = getattr(context, "compiled_parameters", None) or []
    compiled = getattr(context, "compiled", None)
    table = None
    if compiled is not None and (context.isinsert or context.isupdate):
        table = getattr(compiled.statement, "table", None)
    limits = _table_limits(table) if table is not None and hasattr(table, "c") else {}
    for row in params:
        for key, value in row.items():
            t = type(value)
            if t is int:
                if not INT64_MIN <= value <= INT64_MAX:
                    _check_int64((value,))
                lim = limits.get(key)
                if lim is not None and lim[1] is not None and not lim[1][0] <= value <= lim[1][1]:
                    check_value(table, key, value)
            elif t is str:
                lim = limits.get(key)
                if lim is not None and ((lim[0] is not None and len(value) > lim[0])
                                        or not value.isascii()):
                    check_value(table, key, value)
            elif t is list or t is tuple:
                _check_int64(value)


def install(engine) -> None:
    """Check every value *engine* sends (see :func:`guard`)."""
    from sqlalchemy import event

    event.listen(engine, "before_cursor_execute", guard)
