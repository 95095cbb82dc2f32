"""mopstool config show."""

from __future__ import annotations

import typer

from mopstool.cli.common import FormatOpt, JsonOpt, output_format, state
from mopstool.output import render

config_app = typer.Typer(help="Show the merged configuration.", no_args_is_help=True)

#: config keys whose values are passwords (shown as ***)
_SECRET_KEYS = ("password", "pstamp_password")


@config_app.command("show")
def show(ctx: typer.Context, fmt: FormatOpt = None, as_json: JsonOpt = False) -> None:
    """Print every configuration value with the layer it came from, the files read
    (config layers and the IPP chain ~/.ipprc -> SITE -> SYSTEM) and the databases
    in use. Passwords are shown as ***."""
    from mopstool.config import mask_secrets
    from mopstool.db import describe_url

    st = state(ctx)
    cfg = st.config
    rows = []
    for k, v, s in cfg.items():
        if k.rsplit(".", 1)[-1] in _SECRET_KEYS and v not in (None, ""):
            v = "***"
        elif isinstance(v, str):
            v = mask_secrets(v)
        rows.append({"key": k, "value": v, "source": s})
    urls = st.urls
    for f in cfg.files:
        rows.append({"key": "file (config, read)", "value": f, "source": "config layer"})
    read = set(urls.ipp_read)
    for f in urls.ipp_searched:
        rows.append({"key": "file (IPP config, read)" if f in read else "file (IPP config, searched)",
                     "value": f, "source": "IPP config chain"})
    rows.append({"key": "database.url (in use)", "value": describe_url(urls.gpc1), "source": urls.gpc1_source})
    rows.append({"key": "database.pstamp_url (in use)", "value": describe_url(urls.pstamp),
                 "source": urls.pstamp_source})
    render(rows, output_format(ctx, fmt, as_json), title="configuration")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
