"""mopstool config show."""

from __future__ import annotations

import typer

from mopstool.cli.common import FormatOpt, JsonOpt, output_format, state
from mopstool.output import render

config_app = typer.Typer(help="Show the merged configuration.", no_args_is_help=True)


@config_app.command("show")
def show(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Print every configuration value with the layer it came from, and the databases in use."""
    from mopstool.db import describe_url

    st = state(ctx)
    cfg = st.config
    rows = [{"key": k, "value": v, "source": s} for k, v, s in cfg.items()]
    urls = st.urls
    rows.append({"key": "database.url (in use)", "value": describe_url(urls.gpc1), "source": urls.gpc1_source})
    rows.append({"key": "database.pstamp_url (in use)", "value": describe_url(urls.pstamp),
                 "source": urls.pstamp_source})
    render(rows, output_format(ctx, fmt, as_json), title="configuration")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
