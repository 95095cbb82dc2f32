"""The one output layer: --format table|json|jsonl|csv.

stdout carries data only. JSON is UTF-8, datetimes ISO-8601 UTC ('Z'), an empty
result is ``[]``. Tables use rich on a terminal and plain aligned columns
otherwise (stable for grep and awk).
"""

from __future__ import annotations

import csv
import io
import json
import math
import sys
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Sequence

FORMATS = ("table", "json", "jsonl", "csv")


def jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            from datetime import timezone

            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if isinstance(value, bytes):
        return value.decode("latin-1")
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return jsonable(value.item())
    return value


def dumps_json(obj: Any, *, indent: int | None = 2) -> str:
    return json.dumps(jsonable(obj), indent=indent, ensure_ascii=False)


def _cell(value: Any) -> str:
    value = jsonable(value)
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _columns(rows: Sequence[dict], columns: Sequence[str] | None) -> list[str]:
    if columns:
        return list(columns)
    cols: list[str] = []
    for r in rows:
        for k in r:
            if k not in cols:
                cols.append(k)
    return cols


def render(data: Any, fmt: str = "table", *, columns: Sequence[str] | None = None,
           title: str | None = None, stream=None) -> None:
    """Write *data* (a list of row dicts, or one dict) to stdout in *fmt*."""
    stream = stream or sys.stdout
    if fmt == "json":
        stream.write(dumps_json(data) + "\n")
        return
    if fmt == "jsonl":
        items = data if isinstance(data, list) else [data]
        for item in items:
            stream.write(dumps_json(item, indent=None) + "\n")
        return
    rows = data if isinstance(data, list) else [data]
    if fmt == "csv":
        cols = _columns(rows, columns)
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
        stream.write(buf.getvalue())
        return
    if fmt != "table":
        raise ValueError(f"unknown format {fmt!r}")
    if not isinstance(data, list):
        render_keyvalue(data, title=title, stream=stream)
        return
    render_table(rows, columns=columns, title=title, stream=stream)


def render_table(rows: Sequence[dict], *, columns: Sequence[str] | None = None,
                 title: str | None = None, stream=None) -> None:
    stream = stream or sys.stdout
    cols = _columns(rows, columns)
    if not rows:
        if title and _isatty(stream):
            _rich_console(stream).print(f"[bold]{title}[/bold]: none")
        return
    if _isatty(stream):
        from rich.table import Table

        table = Table(title=title, title_justify="left", header_style="bold")
        for c in cols:
            table.add_column(c, overflow="fold")
        for r in rows:
            table.add_row(*[_cell(r.get(c)) for c in cols])
        _rich_console(stream).print(table)
        return
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    if title:
        stream.write(f"# {title}\n")
    stream.write("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip() + "\n")
    for row in cells:
        stream.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


def render_keyvalue(data: dict, *, title: str | None = None, stream=None) -> None:
    rows = [{"field": k, "value": _cell(v)} for k, v in data.items()]
    render_table(rows, title=title, stream=stream)


def _isatty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _rich_console(stream):
    from rich.console import Console

    return Console(file=stream)
