"""mopstool labels: the Label table (priority, active) and per-stage blocks."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import (DryRunOpt, FormatOpt, JsonOpt, YesOpt, confirmer, emit_result, info,
                                 state)
from mopstool.stages import choices

app = typer.Typer(
    name="labels",
    help="List, add and update labels (Label: priority, active) and block/unblock labels per "
         "stage (chipMask, camMask, fakeMask, warpMask).",
    no_args_is_help=True,
    rich_markup_mode=None,
)

LabelsArg = Annotated[list[str], typer.Argument(help="Label name(s), exact.", show_default=False)]
StagesOpt = Annotated[Optional[list[str]], typer.Option(
    "--stage", help=f"Stage whose block table to change ({choices('block')}); repeat.",
    show_default=False)]
AllStagesOpt = Annotated[bool, typer.Option("--all-stages", help="Every stage with a block table.")]


def _confirm(ctx, what, yes):
    return confirmer(ctx, what, yes=yes)


def _report(ctx, plan, fmt, as_json, dry_run) -> None:
    emit_result(ctx, plan, fmt, as_json)
    for n in plan.notes:
        info(n)
    counts = ", ".join(f"{t} {n}" for t, n in plan.rows.items())
    if dry_run:
        info(f"dry run: would change {counts}; nothing written")
    elif plan.applied:
        info(f"changed {counts}")


@app.command("list")
def list_cmd(
    ctx: typer.Context,
    label: Annotated[Optional[list[str]], typer.Option(
        "--label", "-l", help="Label (SQL LIKE); repeat to OR.", show_default=False)] = None,
    counts: Annotated[bool, typer.Option("--counts", help="Add run counts per stage.")] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Labels with priority, active flag and the stages that block them."""
    from mopstool.ops.results import Listing
    from mopstool.ops.runs.labels import label_run_counts, list_labels

    st = state(ctx)
    rows = list_labels(st.dbs, label or [])
    if counts and rows:
        per = label_run_counts(st.dbs, [r["label"] for r in rows])
        for r in rows:
            r["runs"] = per.get(r["label"], {})
    emit_result(ctx, Listing(rows, title="labels",
                             table_rows=[dict(r, blocked=",".join(r["blocked"])) for r in rows]),
                fmt, as_json)


@app.command("add")
def add_cmd(
    ctx: typer.Context,
    label: Annotated[str, typer.Argument(help="Label name.", show_default=False)],
    priority: Annotated[Optional[int], typer.Option("--priority", "-p", help="Priority (higher first).",
                                                    show_default=False)] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="Create the label inactive.")] = False,
    comment: Annotated[Optional[str], typer.Option("--comment", help="Comment.", show_default=False)] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Add a Label row (labeltool -definelabel)."""
    from mopstool.ops.runs.labels import add_label

    plan = add_label(state(ctx).dbs, label, priority=priority, active=not inactive, comment=comment,
                     dry_run=dry_run, confirm=_confirm(ctx, "labels add", yes))
    _report(ctx, plan, fmt, as_json, dry_run)


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    labels: LabelsArg,
    priority: Annotated[Optional[int], typer.Option("--priority", "-p", help="New priority.",
                                                    show_default=False)] = None,
    active: Annotated[Optional[bool], typer.Option("--active/--inactive", help="Switch on or off.",
                                                   show_default=False)] = None,
    comment: Annotated[Optional[str], typer.Option("--comment", help="New comment (NULL clears).",
                                                   show_default=False)] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change priority, active flag or comment of labels (labeltool -updatelabel)."""
    from mopstool.ops.runs.labels import update_label

    plan = update_label(state(ctx).dbs, labels, priority=priority, active=active, comment=comment,
                        dry_run=dry_run, confirm=_confirm(ctx, "labels update", yes))
    _report(ctx, plan, fmt, as_json, dry_run)


@app.command("delete")
def delete_cmd(
    ctx: typer.Context,
    labels: LabelsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Delete Label rows (labeltool -deletelabel); runs keep their label."""
    from mopstool.ops.runs.labels import delete_label

    plan = delete_label(state(ctx).dbs, labels, dry_run=dry_run, confirm=_confirm(ctx, "labels delete", yes))
    _report(ctx, plan, fmt, as_json, dry_run)


def _stages(stage, all_stages):
    from mopstool.stages import get_stage, stages_that

    if all_stages:
        return list(stages_that("block"))
    return [get_stage(s, capability="block").name for s in (stage or [])]


@app.command("block")
def block_cmd(
    ctx: typer.Context,
    labels: LabelsArg,
    stage: StagesOpt = None,
    all_stages: AllStagesOpt = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Block labels: their new runs of the stage are not processed (-block)."""
    from mopstool.ops.runs.labels import block_labels

    plan = block_labels(state(ctx).dbs, labels, _stages(stage, all_stages), dry_run=dry_run,
                        confirm=_confirm(ctx, "labels block", yes))
    _report(ctx, plan, fmt, as_json, dry_run)


@app.command("unblock")
def unblock_cmd(
    ctx: typer.Context,
    labels: LabelsArg,
    stage: StagesOpt = None,
    all_stages: AllStagesOpt = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Unblock labels (-unblock)."""
    from mopstool.ops.runs.labels import unblock_labels

    plan = unblock_labels(state(ctx).dbs, labels, _stages(stage, all_stages), dry_run=dry_run,
                          confirm=_confirm(ctx, "labels unblock", yes))
    _report(ctx, plan, fmt, as_json, dry_run)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="labels")


#: seconds a cached list of labels for shell completion stays fresh
LABEL_CACHE_TTL = 300


def label_cache_path():
    """Where shell completion reads the labels: $XDG_CACHE_HOME/mopstool/labels."""
    import os
    from pathlib import Path

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mopstool" / "labels"


@app.command("cache", hidden=True)
def cache_cmd(ctx: typer.Context) -> None:
    """Write the labels of the recent runs to the completion cache (run by the
    completion scripts in the background). Any error leaves an empty list; it
    prints nothing and exits 0."""
    import os

    path = label_cache_path()
    try:
        from mopstool.ops.runs.labels import recent_labels

        words = recent_labels(state(ctx).dbs)
    except BaseException:   # noqa: BLE001 - completion never fails the shell; nothing to offer then
        words = []
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".labels.{os.getpid()}")
        tmp.write_text("".join(w + "\n" for w in words if w.strip() and " " not in w))
        os.replace(tmp, path)
    except OSError:
        pass

