"""The one result protocol: an ops result knows its JSON form and its table form.

    class MyResult:
        def json_form(self): ...          # the JSON contract (--format json/jsonl)
        def table_form(self) -> list[Table]: ...   # --format table
        def csv_form(self) -> Table: ...          # optional; default: the first table
        def jsonl_form(self): ...                 # optional; default: the JSON form
        def text_form(self) -> list[str]: ...     # optional: table output as finished lines

The CLI writes every result through ``mopstool.cli.common.emit_result`` (no
per-command format branches). A plain listing is a :class:`Listing`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence, runtime_checkable


@dataclass
class Table:
    """One table of the table form: rows (a list of dicts, or one dict shown as
    field/value pairs), the columns in order, a title."""

    rows: list[dict[str, Any]] | dict[str, Any]
    columns: Sequence[str] | None = None
    title: str | None = None
    #: skip this table in table output when it has no rows
    optional: bool = False
    #: an empty line before this table in table output
    blank_before: bool = False


@runtime_checkable
class Result(Protocol):
    def json_form(self) -> Any: ...

    def table_form(self) -> list[Table]: ...


@dataclass
class Listing:
    """Rows that are the JSON form as they are; *table_rows* (optional) is a
    view for tables only (e.g. lists joined into one cell, fewer columns): csv
    then writes the rows themselves, every column."""

    rows: list[dict[str, Any]]
    columns: Sequence[str] | None = None
    title: str | None = None
    table_rows: list[dict[str, Any]] | None = None
    json: Any = field(default=None)
    #: rows before a --limit cut them (None: not known or not cut)
    total: int | None = None

    def json_form(self) -> Any:
        return self.rows if self.json is None else self.json

    def table_form(self) -> list[Table]:
        return [Table(self.rows if self.table_rows is None else self.table_rows, self.columns,
                      self.title)]

    def csv_form(self) -> Table:
        if self.table_rows is None:
            return Table(self.rows, self.columns)
        return Table(self.rows)


@dataclass
class Report:
    """A result made of its JSON form and its tables (several, for table output;
    *csv* or the first table for csv); *jsonl*: the JSON-lines items when they
    are not the JSON form's; *text*: table output as finished lines instead of
    tables (a report laid out for reading)."""

    json: Any
    tables: list[Table] = field(default_factory=list)
    csv: Table | None = None
    jsonl: Any = None
    text: list[str] | None = None

    def json_form(self) -> Any:
        return self.json

    def jsonl_form(self) -> Any:
        return self.json if self.jsonl is None else self.jsonl

    def table_form(self) -> list[Table]:
        return self.tables

    def csv_form(self) -> Table:
        return self.csv if self.csv is not None else (self.tables[0] if self.tables else Table([]))

    def text_form(self) -> list[str] | None:
        return self.text


def as_result(data: Any, **kw) -> Result:
    """*data* as a result: results pass through; lists and dicts become a Listing."""
    if isinstance(data, Result):
        return data
    if hasattr(data, "to_dict") and not isinstance(data, (list, dict)):
        return Listing([data.to_dict()], json=data.to_dict(), **kw)
    return Listing(data, **kw)
