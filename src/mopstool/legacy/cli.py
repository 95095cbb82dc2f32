"""The C tools' single-dash recipes: mopstool chiptool|warptool|difftool|pstamptool ..."""

from __future__ import annotations

import sys

import typer

from mopstool.cli.common import info, state

#: exit status of the C tools for mopstool's errors (pxerrors.c / psExit.h): an
#: unusable option, selection, configuration or database is PXTOOLS_ERR_CONFIG (3);
#: a lock held by another writer is a transient system error (2, which the
#: pipeline retries); anything else is 1.
C_STATUS = {2: 3, 3: 3, 65: 3, 69: 3, 77: 3, 78: 3, 75: 2, 130: 130}


def _connection(st, call, source: str) -> list[str]:
    """Root options that make the printed modern command use the same database."""
    out: list[str] = []
    if st.config_file:
        out += ["--config", st.config_file]
    if st.db:
        out += ["--db", st.db]
    if st.pstamp_db:
        out += ["--pstamp-db", st.pstamp_db]
    if not (st.db or st.pstamp_db) and source.startswith("profile") and call.get("dbname") \
            and not call.get("dbserver"):
        out += ["--dbname", call.get("dbname")]
    return out


def _run(tool: str, args: list[str], ctx: typer.Context) -> None:
    from mopstool.db import Databases
    from mopstool.legacy import modes as legacy
    from mopstool.legacy.output import format_mdc, format_simple

    call = legacy.parse(tool, args)
    spec = legacy.MODES[tool][call.mode]
    st = state(ctx)
    env = st.config.env
    pstamp = tool == "pstamptool"
    env_url = (env.get("MOPSTOOL_PSTAMP_DB") or env.get("MOPSTOOL_DB")) if pstamp else env.get("MOPSTOOL_DB")
    given = (st.pstamp_db or st.db) if pstamp else st.db
    explicit = given or env_url
    if call.get("dbname") and not given and env_url:
        info(f"mopstool: warning: {'MOPSTOOL_PSTAMP_DB' if pstamp and env.get('MOPSTOOL_PSTAMP_DB') else 'MOPSTOOL_DB'}"
             f" overrides -dbname {call.get('dbname')}")
    url, source = legacy.resolve_url(st.config, call, explicit)
    from mopstool.config import EMBEDDED_DEMO_SOURCE

    if source == EMBEDDED_DEMO_SOURCE:
        info(f"mopstool: note: no gpc1 database is configured; using the embedded database {url}")
    if not explicit and not source.startswith("profile"):
        from sqlalchemy.engine import make_url

        call.connection = ["--db", make_url(url).render_as_string(hide_password=True)]
    else:
        call.connection = _connection(st, call, source)
    if spec.modern is None:
        info(f"# modern equivalent: none ({spec.no_modern})")
    else:
        printed = spec.modern(call)
        if printed is not None:
            from mopstool.legacy.modern import render

            info(f"# modern equivalent: {render(call, printed)}")
        elif spec.no_modern:
            info(f"# modern equivalent: none ({spec.no_modern})")
    dbs = Databases(url, url, gpc1_source=source, pstamp_source=source)
    out = spec.run(call, dbs, info)
    if out is None:
        return
    rows, types = out
    if not rows:
        return
    if call.get("simple"):
        sys.stdout.write(format_simple(rows, types))
    else:
        sys.stdout.write(format_mdc(rows, spec.rowname, types))


def _make(tool: str):
    def command(ctx: typer.Context) -> None:
        from mopstool.errors import MopsError, classify_db_error

        try:
            _run(tool, list(ctx.args), ctx)
        except MopsError as exc:
            status = getattr(exc, "status", None) or C_STATUS.get(int(exc.code), 1)
            sys.stderr.write(f"mopstool: error: {exc.message}\n")
            raise typer.Exit(status) from None
        except (typer.Exit, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - a database error: the C tools exit 1 (or 3)
            mapped = classify_db_error(exc)
            if mapped is None:
                raise
            sys.stderr.write(f"mopstool: error: {mapped.message}\n")
            raise typer.Exit(C_STATUS.get(int(mapped.code), 1)) from None

    return command


_SETTINGS = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": ["--help"]}


def register(app: typer.Typer) -> None:
    from mopstool.legacy.modes import TOOLS, help_text

    for tool in TOOLS:
        app.command(tool, help=help_text(tool), context_settings=_SETTINGS, add_help_option=True)(_make(tool))


def _command(tool: str):
    """The click command of one tool (the command table in cli/main.py names these)."""
    from mopstool.legacy.modes import help_text

    holder = typer.Typer(add_completion=False, rich_markup_mode=None)
    holder.command(tool, help=help_text(tool), context_settings=_SETTINGS, add_help_option=True)(_make(tool))
    return typer.main.get_command(holder)


chiptool, warptool, difftool, pstamptool = (_command(t) for t in ("chiptool", "warptool", "difftool",
                                                                   "pstamptool"))
