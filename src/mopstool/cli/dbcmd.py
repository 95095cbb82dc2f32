"""mopstool db init / db check."""

from __future__ import annotations

from typing import Annotated

import typer

from mopstool.cli.common import FormatOpt, JsonOpt, info, output_format, state
from mopstool.errors import CheckFailed
from mopstool.output import render

db_app = typer.Typer(help="Create or check the database schema.", no_args_is_help=True)


@db_app.command("init")
def init(
    ctx: typer.Context,
    exists_ok: Annotated[bool, typer.Option(
        "--exists-ok", help="Allow a database that already holds a gpc1 schema (adds missing tables only).")] = False,
) -> None:
    """Create the gpc1 and pstamp schema on an empty (scratch or SQLite) database."""
    from mopstool.ops.dbadmin import init_schema

    st = state(ctx)
    if st.urls.embedded:
        from mopstool.config import embedded_db_path

        embedded_db_path(st.config.env).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    for res in init_schema(st.dbs, exists_ok=exists_ok):
        info(f"{res.database}: created {len(res.created)} tables"
             + (f", {len(res.existing)} already present" if res.existing else ""))


@db_app.command("check")
def check(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Compare the live database(s) with mopstool's models of the IPP tables: tables,
    columns, column types and NULL/NOT NULL (exit 3 on a difference). Also lists
    what a command would need that is missing (e.g. summitExp for the summit
    gate) with the commands affected. Extra tables and columns are fine."""
    from mopstool.ops.dbadmin import check_schema

    results = check_schema(state(ctx).dbs)
    fmt_ = output_format(ctx, fmt, as_json)
    if fmt_ in ("json", "jsonl"):
        render([dict(vars(r), ok=r.ok) for r in results], fmt_)
    else:
        rows = []
        for r in results:
            def add(table, problem, commands=""):
                rows.append({"database": r.database, "table": table, "problem": problem,
                             "commands affected": commands})

            for n in r.needs:
                cols = f" columns {', '.join(n['columns'])}" if n["columns"] else ""
                kind = "missing" if n["required"] else "missing (optional)"
                add(n["table"], f"{kind}{cols or ' table'}" + ("" if n["required"] else f": {n['needed_for']}"),
                    ", ".join(n["commands"]))
            for t, diffs in r.type_mismatches.items():
                add(t, "column types differ: " + ", ".join(
                    f"{d['column']} {d['live']} (IPP: {d['model']})" for d in diffs))
            for t, diffs in r.null_mismatches.items():
                add(t, "nullability differs: " + ", ".join(
                    f"{d['column']} {d['live']} (IPP: {d['model']})" for d in diffs))
        if rows:
            render(rows, fmt_, title="schema problems")
    bad = [r for r in results if not r.ok]
    if bad:
        n = sum(len(r.missing_tables) + len(r.missing_columns) + len(r.type_mismatches)
                + len(r.null_mismatches) for r in bad)
        raise CheckFailed(f"schema check failed: {n} tables missing or different from the IPP schema")
    for r in results:
        info(f"{r.database}: schema ok ({r.tables_checked} tables checked)")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
