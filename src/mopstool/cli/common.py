"""Shared CLI pieces: the invocation state, common options, the one way to
confirm a change (:func:`confirmer`) and the one way to write a result
(:func:`emit_result`)."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Annotated, Any, Optional

import typer

from mopstool.errors import ConfigError, ExitCode, UsageError
from mopstool.output import FORMATS, render


@dataclass
class AppState:
    """The root options of one invocation, and the config and databases made from them on first use."""

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
            # every writer waits this long for the write lock (ops.writes.lock_timeout_of)
            self._dbs.lock_timeout = self.lock_timeout
        return self._dbs

    @property
    def lock_timeout(self) -> float:
        """``general.lock_timeout``: seconds a writer waits for another's lock."""
        value = self.config.get("general.lock_timeout", 0) or 0
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"general.lock_timeout must be a number of seconds >= 0, not {value!r}")
        return float(value)


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


def refuse_options(ctx: typer.Context, allowed: set[str], what: str) -> None:
    """Refuse, naming them, the options given on the command line that *what*
    does not use (every parameter not in *allowed*; --columns is always used)."""
    given = [p.opts[0] for p in ctx.command.params
             if getattr(p, "opts", None) and p.name not in allowed | {"columns"}
             and (src := ctx.get_parameter_source(p.name)) is not None and src.name == "COMMANDLINE"]
    if given:
        raise UsageError(f"{', '.join(given)}: not used by {what}; leave {'them' if len(given) > 1 else 'it'} out")


def command_with_modes(run) -> typer.Typer:
    """A command that does its work itself (*run*, the group's callback) and has
    its modes as subcommands ('fixbroken status', 'cleanup status'). The
    command's own options go with the command, not with a mode: given before
    a mode they are refused by name."""
    import functools

    @functools.wraps(run)
    def callback(ctx: typer.Context, **kwargs):
        if ctx.invoked_subcommand:
            refuse_options(ctx, set(), f"'{ctx.info_name} {ctx.invoked_subcommand}'")
            return None
        return run(ctx, **kwargs)

    app = typer.Typer(add_completion=False, rich_markup_mode=None, invoke_without_command=True,
                      context_settings={"help_option_names": ["-h", "--help"]})
    app.callback(invoke_without_command=True)(callback)
    return app


def old_spelling(name: str, new: str, *aliases: str):
    """A hidden option keeping an old spelling *name* of the option *new* for one
    release (merge it with :func:`renamed`)."""
    return typer.Option(name, *aliases, hidden=True, show_default=False, help=f"Old spelling of {new}.")


def renamed(value, old_value, new: str, old: str):
    """The value of a renamed option from its new and its hidden old spelling:
    lists are joined; for a single value giving both is refused."""
    if old_value is None or old_value == [] or old_value is False:
        return value
    if isinstance(old_value, list):
        return list(value or []) + old_value
    if value not in (None, False) and value != old_value:
        raise UsageError(f"give {new} once (its old spelling {old} says the same)")
    return old_value


def _columns_callback(ctx: typer.Context, value: Optional[str]) -> Optional[str]:
    from mopstool.output import request_columns

    request_columns(value)
    if value is not None:   # the request ends with this invocation, used or not
        ctx.call_on_close(lambda: request_columns(None))
    return value


ColumnsOpt = Annotated[Optional[str], typer.Option(
    "--columns", metavar="FIELDS", callback=_columns_callback, show_default=False,
    help="Comma-separated fields of the listing, in order (table and csv columns; the "
         "fields of json rows). An unknown field is refused and the fields are listed.")]


def output_format(ctx: typer.Context, fmt: Optional[str], as_json: bool = False) -> str:
    if as_json:
        return "json"
    chosen = fmt or state(ctx).config.get("general.format", "table")
    if chosen not in FORMATS:
        raise UsageError(f"unknown format {chosen!r}; choose one of: {', '.join(FORMATS)}")
    return chosen


def emit_result(ctx: typer.Context, result: Any, fmt: Optional[str], as_json: bool = False) -> None:
    """Write an ops result (mopstool.ops.results protocol) in the chosen format:
    its JSON form for json/jsonl, its first table for csv, every table for table."""
    from mopstool.ops.results import as_result

    res = as_result(result)
    chosen = output_format(ctx, fmt, as_json)
    shown_of(res)
    if chosen == "json":
        render(res.json_form(), chosen)
        return
    if chosen == "jsonl":
        jsonl_form = getattr(res, "jsonl_form", None)
        render(jsonl_form() if jsonl_form else res.json_form(), chosen)
        return
    if chosen == "csv":
        csv_form = getattr(res, "csv_form", None)
        tables = [csv_form()] if csv_form else res.table_form()[:1]
        first = tables[0] if tables else None
        render(first.rows if first else [], "csv", columns=first.columns if first else None)
        return
    text = getattr(res, "text_form", None)
    lines = text() if text else None
    if lines is not None:
        sys.stdout.write("".join(x + "\n" for x in lines))
        return
    for t in res.table_form():
        if t.optional and not t.rows:
            continue
        if t.blank_before:
            sys.stdout.write("\n")
        render(t.rows, "table", columns=t.columns, title=t.title)


def shown_of(res: Any) -> None:
    """'showing N of M (use --limit)' on stderr when a limit cut the listing
    (results that know their *total* before the limit)."""
    total = getattr(res, "total", None)
    rows = getattr(res, "rows", None)
    if total is not None and rows is not None and total > len(rows):
        info(f"showing {len(rows)} of {total} (use --limit)")


def emit(ctx: typer.Context, data: Any, fmt: Optional[str], as_json: bool = False, **kw) -> None:
    """Rows or a dict as they are (kept for older commands; new code: emit_result)."""
    from mopstool.ops.results import Listing

    if isinstance(data, (list, dict)):
        emit_result(ctx, Listing(data, columns=kw.get("columns"), title=kw.get("title")), fmt, as_json)
        return
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


def concurrent_notes(result) -> None:
    """Say on stderr what the write protocol found changed by another writer."""
    from mopstool.ops.writes import CONCURRENT_NOTE

    for note in getattr(result, "notes", ()):
        if note.startswith(CONCURRENT_NOTE):
            info(note)


def decline() -> None:
    """The user said no: one line on stderr, exit DECLINED (10), nothing written."""
    info("cancelled; nothing written")
    raise typer.Exit(int(ExitCode.DECLINED))


def confirmer(ctx: typer.Context, what: str, *, yes: bool, count=None):
    """The confirm callback every writer gets (ops.writes.execute calls it once,
    with the plan). *count* sizes the change (default: rows of the plan); a
    change above ``general.confirm_above`` asks; "no" exits DECLINED. The plan's
    ``database`` (set by execute) is named before anything is written."""
    def confirm(plan) -> bool:
        n = count(plan) if count else plan.total
        if not confirm_change(ctx, n, what, yes=yes, dry_run=False,
                              database=getattr(plan, "database", None)):
            decline()
        return True
    return confirm


def confirm_change(ctx: typer.Context, rows: int, what: str, *, yes: bool, dry_run: bool,
                   database: str | None = None) -> bool:
    """Ask before a change that touches more rows than general.confirm_above.

    Before any change the database it goes to is named on stderr (*database*,
    default the image database of this invocation; any password as ``***``), and
    the question names it too. Returns False when the user declines. Without a
    terminal and without --yes a large change is refused (exit 2); it never
    prompts blindly."""
    if dry_run:
        return True
    if database is None:
        database = state(ctx).dbs.describe()
    if rows:
        info(f"{what}: database {database}")
    if yes:
        return True
    threshold = int(state(ctx).config.get("general.confirm_above", 50) or 0)
    if rows <= threshold:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{what} would change {rows} rows (more than {threshold}) in {database}; "
                         "re-run with --yes, or --dry-run to see the plan")
    from mopstool.cli.progress import pause_progress

    pause_progress()
    return typer.confirm(f"{what} will change {rows} rows in {database}. Continue?", default=False,
                         err=True)
