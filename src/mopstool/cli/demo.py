"""mopstool demo: a realistic synthetic night on the embedded SQLite database."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import info, state


def demo(
    ctx: typer.Context,
    reset: Annotated[bool, typer.Option("--reset", help="Drop and recreate the demo database.")] = False,
    night: Annotated[Optional[str], typer.Option(
        "--night", metavar="YYYY-MM-DD", help="UTC date of the demo night (default 2018-07-10).",
        show_default=False)] = None,
    files_dir: Annotated[Optional[str], typer.Option(
        "--files", metavar="DIR", help="Directory for the demo's CMF files (default: beside the database).",
        show_default=False)] = None,
) -> None:
    """Load a synthetic night (and the night before) with the troubles the czar meets.

    Uses the embedded SQLite database unless --db names another one explicitly."""
    from mopstool.cli.progress import progress_bar
    from mopstool.config import parse_night
    from mopstool.ops.demo.night import run_demo

    st = state(ctx)
    with progress_bar() as progress:
        summary = run_demo(st.config, db_url=st.db, reset=reset,
                           night=parse_night(night or "2018-07-10"), files_dir=files_dir,
                           progress=progress)
    from mopstool.cli.common import command_prefix

    for line in summary.lines(command_prefix(ctx)):
        typer.echo(line)
    info(f"demo database: {summary.database}")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
