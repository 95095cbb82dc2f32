"""Entry point: the root typer app, global options and error handling."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Optional

import typer

from mopstool import __version__
from mopstool.cli.common import AppState
from mopstool.errors import ExitCode, MopsError

try:  # typer >= 0.26 bundles its own copy of click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover
    from click import exceptions as click_exc  # type: ignore[no-redef]

app = typer.Typer(
    name="mopstool",
    help="Operations toolkit for the Pan-STARRS IPP nightly MOPS products: runs, faults, "
         "lost visits, diff pairs, cleanup, postage stamps and .mops catalogs.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)

#: modules that add commands; each defines register(app)
COMMAND_MODULES = [
    "mopstool.cli.runs",
    "mopstool.cli.dbcmd",
    "mopstool.cli.configcmd",
    "mopstool.cli.demo",
    "mopstool.cli.nightly",
    "mopstool.cli.cleanup",
    "mopstool.cli.fixbroken",
    "mopstool.legacy.cli",
    "mopstool.cli.docgen",
    "mopstool.cli.pstamp",
    "mopstool.cli.runmgmt",
    "mopstool.cli.labels",
    "mopstool.cli.mopscat",
    "mopstool.cli.drop",
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mopstool {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option(
        "--db", help="Image database URL (env MOPSTOOL_DB), e.g. mysql+pymysql://ipp@ippdb01/gpc1.",
        show_default=False)] = None,
    pstamp_db: Annotated[Optional[str], typer.Option(
        "--pstamp-db", help="Stamp request database URL (env MOPSTOOL_PSTAMP_DB); default: --db.",
        show_default=False)] = None,
    dbname: Annotated[Optional[str], typer.Option(
        "--dbname", help="Database profile [database.NAME] of the config (default gpc1).",
        show_default=False)] = None,
    config: Annotated[Optional[str], typer.Option(
        "--config", help="Extra config file (env MOPSTOOL_CONFIG).", show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (env MOPSTOOL_DEBUG=1).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    ctx.obj = AppState(db=db, pstamp_db=pstamp_db, dbname=dbname, config_file=config,
                       debug=debug or os.environ.get("MOPSTOOL_DEBUG") in ("1", "true", "yes"))


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)


_load_commands()


def _error(message: str) -> None:
    sys.stderr.write(f"mopstool: error: {message}\n")


#: root options that may also be written after the subcommand (mopstool demo --db URL)
_GLOBAL_VALUE_OPTS = ("--db", "--pstamp-db", "--dbname", "--config")
_GLOBAL_FLAGS = ("--debug",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move root options found after the subcommand to the front."""
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            rest.extend(args[i:])
            break
        name = a.split("=", 1)[0]
        if name in _GLOBAL_VALUE_OPTS:
            if "=" in a:
                front.append(a)
            elif i + 1 < len(args):
                front.extend(args[i:i + 2])
                i += 1
            else:
                rest.append(a)
        elif a in _GLOBAL_FLAGS:
            front.append(a)
        else:
            rest.append(a)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> None:
    args = hoist_global_options(sys.argv[1:] if argv is None else list(argv))
    debug = "--debug" in args or os.environ.get("MOPSTOOL_DEBUG") in ("1", "true", "yes")
    command = typer.main.get_command(app)
    code = 0
    try:
        rv = command.main(args=args, prog_name="mopstool", standalone_mode=False)
        code = rv if isinstance(rv, int) else 0
    except typer.Exit as exc:
        code = exc.exit_code
    except click_exc.ClickException as exc:
        exc.show()
        code = ExitCode.USAGE if isinstance(exc, click_exc.UsageError) else exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        _error("interrupted")
        code = ExitCode.INTERRUPTED
    except MopsError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        _error(exc.message)
        code = exc.code
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        from mopstool.errors import classify_db_error

        mapped = classify_db_error(exc)
        if debug:
            import traceback

            traceback.print_exc()
        if mapped is not None:
            _error(mapped.message)
            code = mapped.code
        else:
            _error(f"{type(exc).__name__}: {exc}" + ("" if debug else " (use --debug for a traceback)"))
            code = ExitCode.UNEXPECTED
    sys.exit(int(code))
