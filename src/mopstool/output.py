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
    kind = type(value)                   # the common exact types first (a result row has ~20 fields)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is float:
        return None if math.isnan(value) or math.isinf(value) else value
    if kind is dict:
        return {str(k): jsonable(v) for k, v in value.items()}
    if kind is list:
        return [jsonable(v) for v in value]
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
    value = jsonable(obj)
    if indent is None:
        return json.dumps(value, ensure_ascii=False)
    parts: list[str] = []
    _indented(value, indent, 0, parts)
    return "".join(parts)


#: exact scalar types whose encoding the C encoder and the indenting one share
_SCALARS = frozenset({str, int, float, bool, type(None)})
_FLAT_ENCODERS: dict[str, Any] = {}


def _flat_encoder(pad: str):
    """A C-accelerated encoding function whose item separator is ``,`` + *pad*: a
    container of scalars encoded with it is what ``json.dumps(indent=...)``
    writes for it, less the opening and closing newlines. The C encoder is made
    once per separator (``JSONEncoder.encode`` makes one at every call)."""
    enc = _FLAT_ENCODERS.get(pad)
    if enc is None:
        from json import encoder as _json_encoder

        make = _json_encoder.c_make_encoder
        if make is None:                                    # no C accelerator: the encoder itself
            enc = json.JSONEncoder(ensure_ascii=False, separators=("," + pad, ": ")).encode
        else:
            c_enc = make(None, _no_default, _json_encoder.encode_basestring, None, ": ", "," + pad,
                         False, False, True)

            def enc(value, _c=c_enc, _join="".join):
                return _join(_c(value, 0))
        _FLAT_ENCODERS[pad] = enc
    return enc


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _indented(value: Any, indent: int, level: int, out: list[str]) -> None:
    """Append ``json.dumps(value, indent=indent, ensure_ascii=False)`` at *level*.

    The standard library encodes with indentation in pure Python (about three
    times its C encoder's time on a 10,000-row result). Here the layout is
    made directly and the C encoder does the text: a container of scalars is
    encoded whole with the separator its indentation needs; a dict with some
    containers among its values (a result row with its list of files) is
    encoded whole with those values as placeholders, split into its items at
    the separators and the containers' own text put in their place. JSON text
    holds no raw newline inside a string, so a line break is always the
    layout's own and the split is exact; a test compares the output with
    ``json.dumps`` over varied nested values."""
    kind = type(value)
    if (kind is dict and all(type(k) is str for k in value)) or kind is list:
        if not value:
            out.append("{}" if kind is dict else "[]")
            return
        pad = "\n" + " " * (indent * (level + 1))
        close = "\n" + " " * (indent * level) + ("}" if kind is dict else "]")
        sep = "," + pad
        if kind is dict:
            # every container among the values encoded as a placeholder, then put in place
            keys = list(value)
            nested = [i for i, v in enumerate(value.values()) if type(v) not in _SCALARS]
            shallow = value
            if nested:
                shallow = dict(value)
                for i in nested:
                    shallow[keys[i]] = 0
            body = _flat_encoder(pad)(shallow)[1:-1]
            if nested:
                items = body.split(sep)
                for i in nested:
                    part = [_encode_string(keys[i]), ": "]
                    _indented(value[keys[i]], indent, level + 1, part)
                    items[i] = "".join(part)
                body = sep.join(items)
            out.append("{" + pad + body + close)
            return
        if all(type(v) in _SCALARS for v in value):
            text = _flat_encoder(pad)(value)
            out.append("[" + pad + text[1:-1] + close)
            return
        out.append("[" + pad)
        for n, v in enumerate(value):
            if n:
                out.append(sep)
            _indented(v, indent, level + 1, out)
        out.append(close)
        return
    if kind in _SCALARS:
        out.append(json.dumps(value, ensure_ascii=False))
        return
    # anything else (a subclass of a scalar or a container, a tuple, a dict with keys
    # that are not text ...): the standard encoder, its lines moved to this level
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    out.append(text.replace("\n", "\n" + " " * (indent * level)) if level else text)


_encode_string = json.encoder.encode_basestring     # the C string encoder (ensure_ascii=False)


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
    if fmt in ("json", "jsonl") and _requested["columns"] and isinstance(data, list) \
            and data and all(isinstance(r, dict) for r in data):
        keep = _take_requested(_columns(data, None))
        data = [{k: r.get(k) for k in keep} for r in data]
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
        cols = (_take_requested(_columns(rows, None)) if rows else None) or cols
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


#: columns of free text: on a terminal they are cut with an ellipsis to fit
FREE_TEXT = frozenset({
    "meaning", "note", "notes", "comment", "message", "detail", "details", "reason", "problem",
    "description", "labels", "workdir", "uri", "path", "path_base", "outdir", "error", "value",
    "title", "what", "why", "summary", "options",
})
#: columns whose cells are commands: never cut; printed under the row when they do not fit
COMMAND_COLUMNS = frozenset({"fix", "command", "next", "try", "retry", "modern"})
#: narrowest a free-text column is cut to
MIN_FREE = 12
GAP = 2
#: columns kept on the line while others can go
KEEP = frozenset({"status", "state", "fault", "stage"})
#: columns hidden first when a table is too wide (then from the right)
HIDE_FIRST = ("workdir", "uri", "path_base", "outdir", "tess_id", "end_stage", "reduction",
              "dist_group", "comment", "dateobs", "registered", "data_group", "software_ver",
              "hostname", "chunk", "skycell_id", "note", "notes")

_requested: dict[str, Any] = {"columns": None}


def request_columns(spec: str | None) -> None:
    """--columns FIELDS (comma-separated): the columns, in order, of the next
    listing rendered (table or csv; the top-level fields of json/jsonl rows)."""
    if spec is None:
        _requested["columns"] = None
        return
    names = [c.strip() for c in spec.split(",") if c.strip()]
    _requested["columns"] = names or None


def _take_requested(available: Sequence[str]) -> list[str] | None:
    wanted = _requested["columns"]
    if not wanted:
        return None
    _requested["columns"] = None       # the first listing of the command takes it
    unknown = [c for c in wanted if c not in available]
    if unknown:
        from mopstool.errors import UsageError

        raise UsageError(f"--columns: unknown field {unknown[0]!r}; fields of this listing: "
                         f"{', '.join(available)}")
    return list(wanted)


def terminal_width(stream=None) -> int:
    """Columns of the terminal (COLUMNS first, then the window size), 80 if unknown."""
    import os
    import shutil

    env = os.environ.get("COLUMNS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return os.get_terminal_size((stream or sys.stdout).fileno()).columns
    except (OSError, AttributeError, ValueError):
        return shutil.get_terminal_size((80, 24)).columns


def _is_command_column(name: str, cells: Sequence[str]) -> bool:
    return name in COMMAND_COLUMNS or any(c.startswith("mopstool ") for c in cells)


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[:max(width - 1, 0)] + "\u2026"


def fit_columns(cols: Sequence[str], cells: Sequence[Sequence[str]], width: int, *,
                keep_all: bool = False):
    """Lay out a table for a terminal *width* without breaking a cell.

    Returns (inline columns with their widths, command columns printed under
    each row, hidden columns). Ids, names and commands are never cut or
    wrapped: free-text columns (FREE_TEXT) are cut with an ellipsis first,
    command columns that do not fit go under their row, then columns are
    hidden from the right (never the first; none when *keep_all*, i.e. the
    user chose them with --columns)."""
    natural = {c: max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(cols)}
    commands = [c for i, c in enumerate(cols) if _is_command_column(c, [r[i] for r in cells])]
    inline = list(cols)
    widths = dict(natural)

    def total() -> int:
        return sum(widths[c] for c in inline) + GAP * max(len(inline) - 1, 0)

    if total() > width:
        for c in inline:
            if c in FREE_TEXT:
                widths[c] = min(natural[c], max(MIN_FREE, len(c)))
    under: list[str] = []
    if total() > width:
        for c in commands:
            if c in inline and len(inline) > 1:
                inline.remove(c)
                under.append(c)
    hidden: list[str] = []
    if not keep_all:
        for c in HIDE_FIRST:
            if total() <= width:
                break
            if c in inline and inline.index(c) > 0:
                inline.remove(c)
                hidden.append(c)
        for c in reversed(list(inline[1:])):
            if total() <= width:
                break
            if c not in KEEP:
                inline.remove(c)
                hidden.append(c)
    spare = width - total()
    for c in inline:      # give the free text back what the line can hold
        if c in FREE_TEXT and spare > 0:
            extra = min(natural[c] - widths[c], spare)
            widths[c] += extra
            spare -= extra
    hidden.sort(key=list(cols).index)
    return [(c, widths[c]) for c in inline], under, hidden


def render_table(rows: Sequence[dict], *, columns: Sequence[str] | None = None,
                 title: str | None = None, stream=None) -> None:
    stream = stream or sys.stdout
    cols = _columns(rows, columns)
    chosen = _take_requested(_columns(rows, None)) if rows else None
    if chosen:
        cols = chosen
    if not rows:
        if title and _isatty(stream):
            _rich_console(stream).print(f"[bold]{title}[/bold]: none")
        return
    cells = [[_cell(r.get(c)).replace("\n", " ") for c in cols] for r in rows]
    if _isatty(stream):
        _terminal_table(cols, cells, title=title, stream=stream, keep_all=bool(chosen))
        return
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    if title:
        stream.write(f"# {title}\n")
    stream.write("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip() + "\n")
    for row in cells:
        stream.write("  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() + "\n")


def _terminal_table(cols, cells, *, title, stream, keep_all: bool) -> None:
    from rich.text import Text

    console = _rich_console(stream)
    width = terminal_width(stream)
    inline, under, hidden = fit_columns(cols, cells, width, keep_all=keep_all)
    index = {c: i for i, c in enumerate(cols)}
    gap = " " * GAP
    if title:
        console.print(Text(title, style="bold"), soft_wrap=True)
    header = gap.join(c.ljust(w) for c, w in inline).rstrip()
    console.print(Text(header, style="bold underline"), soft_wrap=True)
    for row in cells:
        line = gap.join(_ellipsis(row[index[c]], w).ljust(w) for c, w in inline).rstrip()
        console.print(Text(line), soft_wrap=True)
        for c in under:
            if row[index[c]]:
                console.print(Text(f"    {c}: {row[index[c]]}"), soft_wrap=True)
    if hidden:
        shown = [c for c, _ in inline] + under
        notice(f"{len(hidden)} column(s) hidden at {width} columns: {', '.join(hidden)} "
               f"(choose with --columns {','.join(shown + hidden)})")


#: the level of notices (the CLI's log calls it NOTE: shown unless -q)
NOTICE_LEVEL = 25


def notice(message: str) -> None:
    """A note about the output on stderr, through the 'mopstool' logger when the
    CLI has configured it (so -q and --log-file apply), else straight to stderr."""
    import logging

    log = logging.getLogger("mopstool")
    if not log.handlers:
        sys.stderr.write(f"{message}\n")
        return
    log.log(NOTICE_LEVEL, message)


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

    return Console(file=stream, width=max(terminal_width(stream), 1000), soft_wrap=True)
