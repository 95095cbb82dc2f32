"""Entry point: the root typer app, global options, the lazy command table, error handling.

The top level knows every command by name, section and one-line summary
without importing the module that implements it (:data:`COMMANDS`); a command's
module is imported only when that command runs, shows its own ``--help``, or
the documentation is generated. ``mopstool --help`` and ``--version`` therefore
import neither SQLAlchemy nor the schema nor the FITS libraries.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Annotated, Any, NamedTuple, Optional

import typer
from typer.core import TyperGroup

from mopstool import __version__
from mopstool.cli.common import AppState
from mopstool.errors import ExitCode, MopsError

try:  # typer >= 0.26 bundles its own copy of click
    from typer import _click as click
    from typer._click import exceptions as click_exc
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]
    from click import exceptions as click_exc  # type: ignore[no-redef]


# ====================================================================== the command table
class Cmd(NamedTuple):
    """One top-level command: what ``mopstool --help`` lists, and where it lives."""

    name: str
    #: "module:attribute" of a typer command function, a typer.Typer (a group) or a click command
    target: str
    section: str
    #: the summary --help lists (one line; shown in full, never cut)
    help: str
    hidden: bool = False


#: sections of ``mopstool --help``, in order
MORNING, RUNS, DISK, STAMPS, CATALOGS, LEGACY, ADMIN = (
    "Morning check", "Run management", "Disk", "Stamps", "Catalogs", "Compatibility", "Admin")
SECTIONS = (MORNING, RUNS, DISK, STAMPS, CATALOGS, LEGACY, ADMIN)

#: every top-level command, one line each; a new command is one more line here
COMMANDS: list[Cmd] = [
    Cmd("czar",          "mopstool.cli.nightly:czar",            MORNING,  "The morning check: what needs attention tonight."),
    Cmd("lostvisits",    "mopstool.cli.nightly:lostvisits",      MORNING,  "Visits of each field group and which are lost."),
    Cmd("diffpairs",     "mopstool.cli.nightly:diffpairs",       MORNING,  "The night's diff plan per field group; define diffs."),
    Cmd("night",         "mopstool.cli.report:night",            MORNING,  "One row per exposure of the night, a cell per stage."),
    Cmd("report",        "mopstool.cli.report:report",           MORNING,  "Write the night's self-contained HTML report page."),
    Cmd("faults",        "mopstool.cli.runmgmt:faults_cmd",      MORNING,  "Faulted components across stages, by fault code."),
    Cmd("runs",          "mopstool.cli.runs:runs",               MORNING,  "List runs of a stage, newest first."),
    Cmd("show",          "mopstool.cli.runs:show",               MORNING,  "One run with its components, states and faults."),
    Cmd("definebyquery", "mopstool.cli.runmgmt:definebyquery",   RUNS,     "Define new chip runs from raw exposures."),
    Cmd("updaterun",     "mopstool.cli.runmgmt:updaterun",       RUNS,     "Change run columns (state, label, ...) in bulk."),
    Cmd("setupdate",     "mopstool.cli.runmgmt:setupdate",       RUNS,     "Queue cleaned components for regeneration."),
    Cmd("revert",        "mopstool.cli.runmgmt:revert_cmd",      RUNS,     "Revert faulted components so they run again."),
    Cmd("fixbroken",     "mopstool.cli.fixbroken:fixbroken",     RUNS,     "Find broken products and queue replacements."),
    Cmd("drop",          "mopstool.cli.drop:drop_cmd",           RUNS,     "Drop hopeless components so their run can complete."),
    Cmd("publish",       "mopstool.cli.nightly:publish",         RUNS,     "Queue finished diffs for the MOPS DataStore."),
    Cmd("labels",        "mopstool.cli.labels:app",              RUNS,     "List, add and update labels and their priority."),
    Cmd("cleanup",       "mopstool.cli.cleanup:cleanup",         DISK,     "Free disk: clean full runs older than the retention."),
    Cmd("pstamp-req",    "mopstool.cli.pstamp:app",              STAMPS,   "Postage-stamp requests: list, create, cut, clean up."),
    Cmd("mopscat",       "mopstool.cli.mopscat:mopscat_app",     CATALOGS, "Build, check and summarise .mops catalogs."),
    Cmd("testchunk",     "mopstool.cli.testchunk:testchunk_app",           CATALOGS, "MOPS test chunks: reprocess a set, compare two processings."),
    Cmd("chiptool",      "mopstool.legacy.cli:chiptool",         LEGACY,   "Run a chiptool recipe unchanged."),
    Cmd("warptool",      "mopstool.legacy.cli:warptool",         LEGACY,   "Run a warptool recipe unchanged."),
    Cmd("difftool",      "mopstool.legacy.cli:difftool",         LEGACY,   "Run a difftool recipe unchanged."),
    Cmd("pstamptool",    "mopstool.legacy.cli:pstamptool",       LEGACY,   "Run a pstamptool recipe unchanged."),
    Cmd("demo",          "mopstool.cli.demo:demo",               ADMIN,    "Load a synthetic night to try mopstool on."),
    Cmd("db",            "mopstool.cli.dbcmd:db_app",            ADMIN,    "Create or check the database schema."),
    Cmd("config",        "mopstool.cli.configcmd:config_app",    ADMIN,    "Show the merged configuration."),
    Cmd("docs",          "mopstool.cli.docgen.command:docs_app",         ADMIN,    "Generate the man pages and shell completions.", hidden=True),
]


# ====================================================================== loading a command
#: option names whose value placeholder is not simply the option name
_PLACEHOLDERS = {"db": "URL", "pstamp-db": "URL", "dbname": "NAME", "config": "FILE",
                 "log-file": "FILE", "format": "FORMAT", "limit": "N", "batch-size": "N"}


def _placeholder(param: Any) -> Optional[str]:
    """The value placeholder --help shows: a word (LABEL, YYYY-MM-DD, a|b), not <list[str]>."""
    if param.param_type_name != "option" or param.is_flag or getattr(param, "count", False):
        return None
    desc = getattr(param, "type_descriptor", None)
    if desc is not None and desc.is_choice and desc.choices:
        from enum import Enum

        return "|".join(str(c.value) if isinstance(c, Enum) else str(c) for c in desc.choices)
    choices = getattr(getattr(param, "type", None), "choices", None)
    if choices:
        return "|".join(str(c) for c in choices)
    if "YYYY-MM-DD" in (param.help or ""):
        return "YYYY-MM-DD"
    longs = [o for o in param.opts if o.startswith("--")] or list(param.opts)
    name = max(longs, key=len).lstrip("-")
    return _PLACEHOLDERS.get(name, name.upper().replace("-", "_"))


def _first_sentence(text: str) -> str:
    import inspect
    import re

    para = inspect.cleandoc(text or "").partition("\f")[0].split("\n\n", 1)[0].replace("\n", " ").strip()
    m = re.search(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)\.(\s|$)", para)
    return (para[:m.start() + 1] if m else para).strip()


def polish(cmd: click.Command) -> click.Command:
    """Help that reads well: placeholders in words, summaries of subcommands in full."""
    if hasattr(cmd, "rich_markup_mode"):
        cmd.rich_markup_mode = None  # plain help, as the root shows it
    _plain_help_option(cmd)
    from mopstool.cli.numbers import bound

    for param in cmd.params:
        bound(param)  # numbers in range, one line and exit 2 otherwise
        if getattr(param, "metavar", None) is None:
            word = param.name.upper() if param.param_type_name == "argument" else _placeholder(param)
            if word:
                param.metavar = word
        if param.param_type_name == "argument" and hasattr(param, "_usage_display_name"):
            # "STAGE" / "[STAGE]" as click writes them, not "{STAGE}" or "STAGE <str>"
            usage = param.metavar if param.required else f"[{param.metavar}]"
            usage += "..." if param.nargs != 1 else ""
            param._usage_display_name = lambda usage=usage: usage
            param.display_type_rich = lambda ctx=None: ""
    for sub in (getattr(cmd, "commands", None) or {}).values():
        if not sub.short_help and sub.help:
            sub.short_help = _first_sentence(sub.help)
        polish(sub)
    return cmd


def resolve(entry: Cmd) -> click.Command:
    """Import the module of one table entry and build its click command."""
    module, _, attr = entry.target.partition(":")
    obj = getattr(importlib.import_module(module), attr)
    if isinstance(obj, typer.Typer):
        cmd = typer.main.get_group(obj)
    elif isinstance(obj, click.Command):
        cmd = obj
    else:
        holder = typer.Typer(add_completion=False, rich_markup_mode=None)
        holder.command(entry.name)(obj)
        cmd = typer.main.get_command(holder)
    cmd.name = entry.name
    cmd.hidden = entry.hidden
    cmd.short_help = entry.help
    return polish(cmd)


class LazyGroup(TyperGroup):
    """The root group: commands from :data:`COMMANDS`, imported on first use."""

    def __init__(self, *args: Any, table: Optional[list[Cmd]] = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._entries = {c.name: c for c in (COMMANDS if table is None else table)}
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self._entries)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Optional[click.Command]:
        if cmd_name not in self._loaded:
            entry = self._entries.get(cmd_name)
            if entry is None:
                return None
            self._loaded[cmd_name] = resolve(entry)
        return self._loaded[cmd_name]

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list:
        """Complete command names from the table (no module imported) and root options."""
        from typer.core import CompletionItem

        items = [CompletionItem(c.name, help=c.help) for c in self._entries.values()
                 if not c.hidden and c.name.startswith(incomplete)]
        return items + click.Command.shell_complete(self, ctx, incomplete)

    @property  # TyperGroup.resolve_command suggests close names from .commands
    def commands(self):  # type: ignore[override]
        return _NamesOnly(self)

    @commands.setter
    def commands(self, value) -> None:  # TyperGroup.__init__ assigns {}
        pass

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Commands grouped by section, each summary in full, without importing any."""
        visible = [c for c in self._entries.values() if not c.hidden]
        for section in SECTIONS:
            rows = [(c.name, c.help) for c in visible if c.section == section]
            if rows:
                with formatter.section(section):
                    formatter.write_dl(rows, col_max=16)
        others = [(c.name, c.help) for c in visible if c.section not in SECTIONS]
        if others:
            with formatter.section("Other commands"):
                formatter.write_dl(others, col_max=16)


class _NamesOnly(dict):
    """``group.commands`` for code that only asks for names; a lookup loads the command."""

    def __init__(self, group: LazyGroup) -> None:
        super().__init__((name, None) for name in group._entries)
        self._group = group

    def __getitem__(self, name: str) -> click.Command:
        cmd = self._group.get_command(None, name)  # type: ignore[arg-type]
        if cmd is None:
            raise KeyError(name)
        return cmd

    def get(self, name, default=None):
        return self._group.get_command(None, name) or default  # type: ignore[arg-type]

    def values(self):
        return [self[n] for n in self]

    def items(self):
        return [(n, self[n]) for n in self]


app = typer.Typer(
    name="mopstool",
    cls=LazyGroup,
    help="Operations toolkit for the Pan-STARRS IPP nightly MOPS products: runs, faults, "
         "lost visits, diff pairs, cleanup, postage stamps and .mops catalogs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mopstool {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    db: Annotated[Optional[str], typer.Option(
        "--db", metavar="URL",
        help="Image database URL (env MOPSTOOL_DB), e.g. mysql+pymysql://ipp@ippdb01/gpc1.",
        show_default=False)] = None,
    pstamp_db: Annotated[Optional[str], typer.Option(
        "--pstamp-db", metavar="URL",
        help="Stamp request database URL (env MOPSTOOL_PSTAMP_DB); default: --db.",
        show_default=False)] = None,
    dbname: Annotated[Optional[str], typer.Option(
        "--dbname", metavar="NAME", help="Database profile [database.NAME] of the config (default gpc1).",
        show_default=False)] = None,
    config: Annotated[Optional[str], typer.Option(
        "--config", metavar="FILE", help="Extra config file (env MOPSTOOL_CONFIG).",
        show_default=False)] = None,
    verbose: Annotated[int, typer.Option(
        "--verbose", "-v", count=True, show_default=False,
        help="More detail on stderr, e.g. which databases are used (-vv: debug detail).")] = 0,
    quiet: Annotated[bool, typer.Option(
        "--quiet", "-q", help="Only errors on stderr: no notes, no progress.")] = False,
    log_file: Annotated[Optional[str], typer.Option(
        "--log-file", metavar="FILE",
        help="Append a JSON-lines record of notes, errors and the exit code to FILE (for cron).",
        show_default=False)] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks (env MOPSTOOL_DEBUG=1).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    from mopstool.cli import logs

    logs.configure(verbose, quiet, log_file)
    ctx.obj = AppState(db=db, pstamp_db=pstamp_db, dbname=dbname, config_file=config,
                       debug=debug or os.environ.get("MOPSTOOL_DEBUG") in ("1", "true", "yes"))


def _plain_values(param: Any) -> None:
    """Give a root option click's plain value handling instead of typer's pydantic coercion.

    The root options are strings, flags and a count; building a pydantic validator
    for each (typer does so for every processed parameter) would cost more than
    the rest of ``mopstool COMMAND --help``."""
    def process_value(ctx: click.Context, value: Any) -> Any:
        if getattr(param, "count", False):
            value = int(value or 0)
        elif param.is_flag:
            value = bool(value)
        elif value is not None:
            value = str(value)
        if param.callback is not None:
            value = param.callback(ctx, param, value)
        return value

    param.process_value = process_value


def _plain_help_option(cmd: Any) -> None:
    """-h/--help of a group is processed with the value None on every run; handle it plainly."""
    original = cmd.get_help_option

    def get_help_option(ctx: click.Context):
        opt = original(ctx)
        if opt is not None and not getattr(opt, "_mopstool_plain", False):
            _plain_values(opt)
            opt._mopstool_plain = True
        return opt

    cmd.get_help_option = get_help_option


_ROOT: Optional[click.Command] = None


def root_command() -> click.Command:
    """The click command tree of mopstool (what docs generation walks); built once."""
    global _ROOT
    if _ROOT is None:
        _ROOT = typer.main.get_command(app)
        for param in _ROOT.params:
            _plain_values(param)
        _plain_help_option(_ROOT)
    return _ROOT


def _error(message: str) -> None:
    from mopstool.cli import logs
    from mopstool.config import mask_secrets

    logs.error_line(f"mopstool: error: {mask_secrets(message)}")


def _check_result(message: str) -> None:
    """Exit 3 is a result (a check found problems), not an error: no 'error:' prefix."""
    from mopstool.cli import logs

    logs.error_line(f"mopstool: {message}")


# ====================================================================== root options anywhere
#: root options that may also be written after the subcommand (mopstool demo --db URL)
_GLOBAL_VALUE_OPTS = ("--db", "--pstamp-db", "--dbname", "--config", "--log-file")
_GLOBAL_FLAGS = ("--debug", "--verbose", "--quiet")
#: short root flags, hoisted only from commands that do not parse their own words
_GLOBAL_SHORT_FLAGS = ("-v", "-vv", "-q")
#: commands whose words after the name are not mopstool options (single-dash recipes)
_VERBATIM = tuple(c.name for c in COMMANDS if c.section == LEGACY)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move root options found after the subcommand to the front."""
    front: list[str] = []
    rest: list[str] = []
    verbatim = False
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
        elif a in _GLOBAL_FLAGS or (a in _GLOBAL_SHORT_FLAGS and not verbatim):
            front.append(a)
        else:
            if not rest and a in _VERBATIM:
                verbatim = True
            rest.append(a)
        i += 1
    return front + rest


# ====================================================================== running
def _run(command: click.Command, args: list[str]) -> int:
    """Parse and invoke like click's main, but let every exception reach main()."""
    command._main_shell_completion({}, "mopstool", None)  # _MOPSTOOL_COMPLETE=...: completes and exits
    try:
        with command.make_context("mopstool", list(args)) as ctx:
            rv = command.invoke(ctx)
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except EOFError:  # end of input at a prompt
        raise KeyboardInterrupt from None
    return rv if isinstance(rv, int) else 0


def main(argv: list[str] | None = None) -> None:
    from mopstool import _interrupt

    args = hoist_global_options(sys.argv[1:] if argv is None else list(argv))
    debug = "--debug" in args or os.environ.get("MOPSTOOL_DEBUG") in ("1", "true", "yes")
    code = 0
    try:
        code = _run(root_command(), args)
    except KeyboardInterrupt:
        _interrupt.say()
        code = ExitCode.INTERRUPTED
    except typer.Abort:
        _interrupt.say()
        code = ExitCode.INTERRUPTED
    except click_exc.ClickException as exc:
        exc.show()
        code = ExitCode.USAGE if isinstance(exc, click_exc.UsageError) else exc.exit_code
    except MopsError as exc:
        if debug:
            import traceback

            from mopstool.config import mask_secrets

            sys.stderr.write(mask_secrets(traceback.format_exc()))
        if exc.code == ExitCode.CHECK_FAILED:
            _check_result(exc.message)
        else:
            _error(exc.message)
        code = exc.code
    except BrokenPipeError:
        code = 0
    except Exception as exc:  # noqa: BLE001 - the last line of defence
        from mopstool.errors import classify_db_error

        mapped = classify_db_error(exc)
        if debug:
            import traceback

            from mopstool.config import mask_secrets

            sys.stderr.write(mask_secrets(traceback.format_exc()))
        if mapped is not None:
            _error(mapped.message)
            code = mapped.code
        else:
            _error(f"{type(exc).__name__}: {exc}" + ("" if debug else " (use --debug for a traceback)"))
            code = ExitCode.UNEXPECTED
    finally:
        if "mopstool.cli.logs" in sys.modules:
            sys.modules["mopstool.cli.logs"].finish(args, int(code))
    sys.exit(int(code))
