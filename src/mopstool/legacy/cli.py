"""The C tools' single-dash recipes: mopstool chiptool|warptool|difftool|pstamptool ..."""

from __future__ import annotations

import sys

import typer

from mopstool.cli.common import info, state


def _make(tool: str):
    def command(ctx: typer.Context) -> None:
        from mopstool.db import Databases
        from mopstool.legacy import modes as legacy

        call = legacy.parse(tool, list(ctx.args))
        info(f"# modern equivalent: {legacy.modern_equivalent(call)}")
        st = state(ctx)
        env = st.config.env
        pstamp = tool == "pstamptool"
        explicit = (st.pstamp_db or env.get("MOPSTOOL_PSTAMP_DB") or st.db or env.get("MOPSTOOL_DB")) \
            if pstamp else (st.db or env.get("MOPSTOOL_DB"))
        url, source = legacy.resolve_url(st.config, call, explicit)
        dbs = Databases(url, url, gpc1_source=source, pstamp_source=source)
        from mopstool.legacy.run import run

        rows, rowname, types, notes = run(call, dbs, st.config)
        for note in notes:
            info(note)
        if rows is None:
            return
        if call.get("simple"):
            sys.stdout.write(legacy.format_simple(rows, types))
        else:
            sys.stdout.write(legacy.format_mdc(rows, rowname, types))

    command.__doc__ = (f"Run a {tool} recipe unchanged (single-dash options, exactly one mode). "
                       f"Prints the modern equivalent on stderr and the IPP text output on stdout.")
    return command


_SETTINGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]}


def register(app: typer.Typer) -> None:
    from mopstool.legacy.modes import TOOLS

    for tool in TOOLS:
        app.command(tool, context_settings=_SETTINGS, add_help_option=True)(_make(tool))


def _command(tool: str):
    """The click command of one tool (the command table in cli/main.py names these)."""
    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    holder.command(tool, context_settings=_SETTINGS, add_help_option=True)(_make(tool))
    return typer.main.get_command(holder)


chiptool, warptool, difftool, pstamptool = (_command(t) for t in ("chiptool", "warptool", "difftool",
                                                                   "pstamptool"))
