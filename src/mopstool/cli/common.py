"""Shared CLI pieces: the invocation state, common options, confirmation."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Annotated, Any, Optional

import typer

from mopstool.errors import UsageError
from mopstool.output import FORMATS, render


@dataclass
class AppState:
    db: Optional[str] = None
    pstamp_db: Optional[str] = None
    dbname: Optional[str] = None
    config_file: Optional[str] = None
    debug: bool = False
    _config: Any = None
    _dbs: Any = None
    _urls: Any = None

    @property
    def config(self):
        if self._config is None:
            from mopstool.config import load_config

            self._config = load_config(self.config_file)
        return self._config

    @property
    def urls(self):
        if self._urls is None:
            from mopstool.config import resolve_database_urls

            self._urls = resolve_database_urls(self.config, db=self.db, pstamp_db=self.pstamp_db,
                                               dbname=self.dbname)
        return self._urls

    @property
    def dbs(self):
        if self._dbs is None:
            from mopstool.db import Databases

            u = self.urls
            self._dbs = Databases(u.gpc1, u.pstamp, gpc1_source=u.gpc1_source,
                                  pstamp_source=u.pstamp_source)
        return self._dbs


def state(ctx: typer.Context) -> AppState:
    obj = ctx.find_root().obj
    if obj is None:
        obj = AppState()
        ctx.find_root().obj = obj
    return obj


# ------------------------------------------------------------------ common options
FormatOpt = Annotated[Optional[str], typer.Option(
    "--format", "-f", help="Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT).",
    show_default=False)]
JsonOpt = Annotated[bool, typer.Option("--json", help="Short for --format json.")]
DryRunOpt = Annotated[bool, typer.Option("--dry-run", "-n", help="Show the plan; write nothing.")]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before changing many rows.")]
LabelOpt = Annotated[Optional[list[str]], typer.Option(
    "--label", "-l", help="Label (SQL LIKE, % wildcard); repeat to OR.", show_default=False)]
StateOpt = Annotated[Optional[list[str]], typer.Option(
    "--state", "-s", help="Run state; repeat to OR.", show_default=False)]
DataGroupOpt = Annotated[Optional[list[str]], typer.Option(
    "--data-group", "-g", help="data_group (SQL LIKE); repeat to OR.", show_default=False)]
DistGroupOpt = Annotated[Optional[list[str]], typer.Option(
    "--dist-group", help="dist_group (SQL LIKE); repeat to OR.", show_default=False)]
NightOpt = Annotated[Optional[str], typer.Option(
    "--night", help="UTC date of the night, YYYY-MM-DD (or today, yesterday).", show_default=False)]
IdOpt = Annotated[Optional[list[int]], typer.Option(
    "--id", help="Run id; repeat for several.", show_default=False)]
LimitOpt = Annotated[Optional[int], typer.Option("--limit", help="At most this many rows.")]


def output_format(ctx: typer.Context, fmt: Optional[str], as_json: bool = False) -> str:
    if as_json:
        return "json"
    chosen = fmt or state(ctx).config.get("general.format", "table")
    if chosen not in FORMATS:
        raise UsageError(f"unknown format {chosen!r}; choose one of: {', '.join(FORMATS)}")
    return chosen


def emit(ctx: typer.Context, data: Any, fmt: Optional[str], as_json: bool = False, **kw) -> None:
    render(data, output_format(ctx, fmt, as_json), **kw)


def command_prefix(ctx: typer.Context) -> str:
    """'mopstool' plus the connection options this invocation was given: the
    start of every command mopstool prints."""
    from mopstool.ops.commands import command_prefix as prefix

    st = state(ctx)
    return prefix(db=st.db, pstamp_db=st.pstamp_db, dbname=st.dbname, config=st.config_file)


def info(message: str) -> None:
    """A progress or notice line on stderr (never on stdout); silent under -q, kept by --log-file."""
    from mopstool.cli.logs import note

    note(message)


def confirm_change(ctx: typer.Context, rows: int, what: str, *, yes: bool, dry_run: bool) -> bool:
    """Ask before a change that touches more rows than general.confirm_above.

    Returns False when the user declines. Without a terminal and without
    --yes a large change is refused (exit 2); it never prompts blindly."""
    if dry_run or yes:
        return True
    threshold = int(state(ctx).config.get("general.confirm_above", 50) or 0)
    if rows <= threshold:
        return True
    if not sys.stdin.isatty() or os.environ.get("CI") == "true" and not sys.stdin.isatty():
        raise UsageError(f"{what} would change {rows} rows (more than {threshold}); "
                         "re-run with --yes, or --dry-run to see the plan")
    return typer.confirm(f"{what} will change {rows} rows. Continue?", default=False, err=True)
