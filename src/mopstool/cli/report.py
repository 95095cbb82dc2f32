"""mopstool night / report: the night at a glance, as a table and as a page."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated, Any, Optional

import typer

from mopstool.cli.common import ColumnsOpt, FormatOpt, command_prefix, JsonOpt, NightOpt, info, output_format, state
from mopstool.cli.nightly import ChunkOpt, TargetOpt
from mopstool.output import render

WatchOpt = Annotated[bool, typer.Option(
    "--watch", help="Refresh in place on the terminal (Ctrl-C stops); needs a terminal.")]
EveryOpt = Annotated[Optional[str], typer.Option(
    "--every", help="Refresh interval of --watch: 30s, 5m (default), 1h.", show_default=False)]

#: cell status -> rich style
STYLE = {"done": "green", "pending": "cyan", "todo": "magenta", "bad": "yellow", "faulted": "bold red",
         "none": "dim"}


def with_connection(ctx: typer.Context):
    """A function that starts a printed mopstool command with this invocation's
    connection options, so it runs as printed against the same databases."""
    from mopstool.ops.commands import with_prefix

    prefix = command_prefix(ctx)
    return lambda cmd: with_prefix(cmd, prefix)


def _night(night: Optional[str]):
    from mopstool.config import parse_night

    return parse_night(night)


def ready_events(command):
    """events(previous, data) for --watch: a line when a chunk becomes ready
    for its desperate diffs (every ready chunk at the first refresh)."""
    def events(previous, data) -> list[str]:
        before = {(r["target"], r["chunk"]) for r in previous["desperate_ready"]} if previous else set()
        out = []
        for r in data["desperate_ready"]:
            if (r["target"], r["chunk"]) not in before:
                fix = command(f"mopstool diffpairs --define --desperate --night {data['night']} "
                              f"--chunk {shlex.quote(r['chunk'])}")
                out.append(f"{r['target']} chunk {r['chunk']} is ready for its desperate diffs "
                           f"({', '.join(r['pairs'])}): {fix}")
        return out
    return events


# ---------------------------------------------------------------------- night

def _contract(tbl, add) -> dict[str, Any]:
    """The JSON form, with the fixes runnable as printed (connection options added)."""
    data = tbl.to_dict()
    for r in data["exposures"]:
        for c in r["stages"].values():
            c["fix"] = add(c["fix"])
            for f in c.get("faults", []):
                f["fix"] = add(f["fix"])
    return data


_WATCH_COLUMNS = ("exp_name", "target", "object", "visit", "fwhm", "visit_status")


def _night_view(data: dict, previous: dict | None, header: str):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from mopstool.cli.watch import CHANGED
    from mopstool.ops.report.night import STAGE_COLUMNS

    prev = {r["exp_name"]: r for r in previous["exposures"]} if previous else None
    t = Table(title=f"night {data['night']}", title_justify="left", header_style="bold")
    for c in _WATCH_COLUMNS:
        # names and ids never wrap or shrink inside a cell
        width = max([len(c)] + [len(f"{r[c]:.2f}" if isinstance(r[c], float) else str(r[c] or ""))
                                for r in data["exposures"]])
        t.add_column(c, no_wrap=True, min_width=width)
    for c in STAGE_COLUMNS:  # words in the stage cells are shortened with an ellipsis
        t.add_column(c, no_wrap=True, overflow="ellipsis")
    for r in data["exposures"]:
        old = prev.get(r["exp_name"]) if prev is not None else None
        cells = []
        for c in _WATCH_COLUMNS:
            v = r[c]
            text = f"{v:.2f}" if isinstance(v, float) else "" if v is None else str(v)
            changed = prev is not None and (old is None or old[c] != v)
            cells.append(Text(text, style=CHANGED if changed else ""))
        for s in STAGE_COLUMNS:
            cell = r["stages"][s]
            changed = prev is not None and (old is None or old["stages"][s] != cell)
            cells.append(Text(cell["text"], style=CHANGED if changed else STYLE[cell["status"]]))
        t.add_row(*cells)
    lost = ", ".join(f"{x['object']} v{x['visit']} {x['status']}" for x in data["lost_visits"]) or "none"
    return Group(Text(header, style="bold"), t, Text(f"lost visits: {lost}"))


def night(
    ctx: typer.Context,
    night: NightOpt = None,
    target: TargetOpt = None,
    chunk: ChunkOpt = None,
    watch: WatchOpt = False,
    every: EveryOpt = None,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The by-exposure status table of the night: one row per exposure (exp_name,
    target, object, chunk, filter, visit, dateobs, exp_time, airmass, FWHM, zpt_obs),
    one column per stage (chip, cam, warp, WW diff, WS diff, publish) with the state,
    fault or quality in words, the visit's status and the pairs the exposure is in;
    then the lost visits. --json is a documented contract (docs/night.md)."""
    from mopstool.cli.watch import check_watch_options, watch as run_watch
    from mopstool.ops.report.night import night_table

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    interval = check_watch_options(watch, every, fmt_)
    d = _night(night)
    add = with_connection(ctx)

    def fetch() -> dict[str, Any]:
        return _contract(night_table(st.dbs, st.config, d, targets=target, chunk=chunk), add)

    if interval is not None:
        run_watch(fetch, _night_view, every=interval, events=ready_events(add), title=f"mopstool night {d}")
        return
    tbl = night_table(st.dbs, st.config, d, targets=target, chunk=chunk)
    for note in tbl.notes:
        info(note)
    if fmt_ in ("json", "jsonl"):
        data = _contract(tbl, add)
        render(data if fmt_ == "json" else data["exposures"], fmt_)
    elif fmt_ == "csv":
        render(tbl.flat_rows(), fmt_)
    else:
        render(tbl.flat_rows(), "table", title=f"night {d}: {len(tbl.rows)} exposures")
        if tbl.lost_visits:
            sys.stdout.write("\n")
            render([{k: x[k] for k in ("target", "object", "chunk", "filter", "visit", "status", "exp_name",
                                        "reason")} for x in tbl.lost_visits], "table", title="lost visits")
    if not tbl.rows:
        info(f"no exposures of the selected targets on {d}")
    for line in ready_events(add)(None, {"night": d.isoformat(), "desperate_ready": tbl.ready}):
        info(line)


# ---------------------------------------------------------------------- czar --watch

def _problem_key(p: dict) -> tuple:
    return (p["kind"], p["stage"], p["id"], str(p["component"]), p.get("night"))


def _czar_view(data: dict, previous: dict | None, header: str):
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    from mopstool.cli.nightly import _stage_cell, group_lines
    from mopstool.cli.watch import CHANGED

    prev = {t["target"]: t["stages"] for t in previous["targets"]} if previous else None
    summary = Table(title=f"czar {data['night']}: done/total (p pending, f faulted, q bad quality)",
                    title_justify="left", header_style="bold")
    summary.add_column("target")
    stages = list(data["targets"][0]["stages"]) if data["targets"] else []
    for s in stages:
        summary.add_column(s)
    for t in data["targets"]:
        cells = [Text(t["target"])]
        for s, c in t["stages"].items():
            changed = prev is not None and prev.get(t["target"], {}).get(s) != c
            style = CHANGED if changed else "bold red" if c["faulted"] else "green" if c["done"] == c["total"] \
                else "cyan"
            cells.append(Text(_stage_cell(c), style=style))
        summary.add_row(*cells)
    old = {_problem_key(p) for p in previous["problems"]} if previous else None
    new_groups = {(g["fix"], g["person"]) for g in data.get("groups", [])} - (
        {(g["fix"], g["person"]) for g in previous.get("groups", [])} if previous else set())
    problems = Text(f"{len(data['problems'])} problems, {len(data.get('groups', []))} fixes\n", style="bold")
    for g in data.get("groups", []):
        style = CHANGED if previous is not None and (g["fix"], g["person"]) in new_groups else ""
        problems.append("\n".join(group_lines([g])) + "\n", style=style)
    parts = [Text(header, style="bold"), summary, problems]
    if old is not None:
        gone = len(old - {_problem_key(p) for p in data["problems"]})
        if gone:
            parts.append(Text(f"{gone} problem{'' if gone == 1 else 's'} cleared since the last refresh",
                              style="green"))
    return Group(*parts)


def watch_czar(ctx: typer.Context, d, *, watch: bool, every: Optional[str], fmt: str,
               targets: Optional[list[str]] = None, chunk: Optional[str] = None) -> None:
    """czar --watch: the czar report refreshed in place."""
    from mopstool.cli.watch import check_watch_options, watch as run_watch
    from mopstool.ops.nightly.czar import czar_report, fault_stages
    from mopstool.ops.nightly.diffpairs import plan_diffpairs
    from mopstool.ops.nightly.visits import load_night, utcnow
    from mopstool.ops.report.night import desperate_ready

    st = state(ctx)
    interval = check_watch_options(watch, every, fmt)
    add = with_connection(ctx)

    def fetch() -> dict[str, Any]:
        now = utcnow()
        nd = load_night(st.dbs, st.config, d, fault_stages=fault_stages(), stats=True, diffs=True)
        rep = czar_report(st.dbs, st.config, d, now=now, data=nd, prefix=command_prefix(ctx),
                          targets=targets, chunk=chunk)
        rep["desperate_ready"] = desperate_ready(plan_diffpairs(st.dbs, st.config, d, ws=True, now=now, data=nd))
        return rep

    run_watch(fetch, _czar_view, every=interval, events=ready_events(add), title=f"mopstool czar {d}")


# ---------------------------------------------------------------------- report

def report(
    ctx: typer.Context,
    output: Annotated[str, typer.Option(
        "--output", "-o", help="HTML file to write (replaced atomically); - for stdout.")],
    night: NightOpt = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite the file even if mopstool report did not write it.")] = False,
) -> None:
    """Write the night report: one self-contained HTML page (no network: inline CSS,
    script and plots) with per target the quad grid and stage progress, the problems
    with their fix commands, FWHM / zero point / detections plots and the sortable,
    filterable exposure table. Refuses to overwrite a file it did not write unless
    --force; cron can rewrite it every few minutes."""
    from mopstool.ops.nightly.czar import czar_report, fault_stages
    from mopstool.ops.nightly.visits import load_night, utcnow
    from mopstool.ops.report.html import check_output, diffs_for_plot, previous_plots, render_page, write_page
    from mopstool.ops.report.night import night_table
    from mopstool.ops.report.plots import night_plots

    st = state(ctx)
    d = _night(night)
    if output != "-":
        check_output(output, force=force)  # refuse before reading the night
    now = utcnow()
    nd = load_night(st.dbs, st.config, d, fault_stages=fault_stages(), stats=True, diffs=True)
    tbl = night_table(st.dbs, st.config, d, now=now, data=nd)
    rep = czar_report(st.dbs, st.config, d, now=now, data=nd)
    # cron rewrites the page every few minutes: plots whose data did not change are kept
    plots = night_plots(tbl.rows, diffs_for_plot(tbl), reuse=previous_plots(output) if output != "-" else None)
    add = with_connection(ctx)
    page = render_page(tbl, rep, plots, command=add)
    if output == "-":
        sys.stdout.write(page)
        return
    path = write_page(output, page, force=force)
    info(f"wrote {path} ({len(tbl.rows)} exposures, {len(rep['problems'])} problems)")


def register(app: typer.Typer) -> None:
    app.command("night")(night)
    app.command("report")(report)
