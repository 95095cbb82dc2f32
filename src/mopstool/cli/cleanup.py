"""mopstool cleanup: retention cleanup of old nights (and 'cleanup status')."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import (DryRunOpt, FormatOpt, JsonOpt, YesOpt, command_with_modes, concurrent_notes,
                                 confirmer, emit_result, info, output_format, refuse_options, state)
from mopstool.stages import choices

_GROUP_COLUMNS = ("stage", "night", "target", "label", "retention_days", "runs", "held")

AsOfOpt = Annotated[Optional[str], typer.Option(
    "--as-of", help="Reference UTC date (default today): a night N is cleaned for a stage "
                    "when N <= as-of minus the stage's retention days.", show_default=False)]
StageOpt = Annotated[Optional[list[str]], typer.Option(
    "--stage", help=f"Only this stage ({choices('cleanup')}); repeat for several.",
    show_default=False)]


def cleanup_run(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    stage: StageOpt = None,
    target: Annotated[Optional[list[str]], typer.Option(
        "--target", help="Only this survey target (or ps_update for ps_ud_% runs); repeat.",
        show_default=False)] = None,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", help="Runs per transaction (default [cleanup] batch_size).",
        show_default=False)] = None,
    status: Annotated[bool, typer.Option(
        "--status", hidden=True, help="Old spelling of 'cleanup status'.")] = False,
    show_held: Annotated[bool, typer.Option(
        "--show-held", help="Also list the old runs held back, with the reason.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Move full runs of nights older than the retention to goto_cleaned (label goto_cleaned).

    Every uncleaned night older than the retention is caught up, not only one
    date. Only configured targets' nightly runs and ps_ud_% stamp-update runs
    are touched; runs being processed, runs with outstanding stamp dependents,
    runs whose downstream runs are still processing and runs an open fixbroken
    fix needs are held back. Changes go in bounded batches; an interrupted run
    completes when run again. 'cleanup status' reports counts per stage and
    cleanup state and the oldest uncleaned night."""
    if ctx.invoked_subcommand and not status:
        return      # 'cleanup status' runs below
    from mopstool.cli.progress import progress_bar
    from mopstool.config import parse_night
    from mopstool.ops.disk.cleanup import cleanup as run_cleanup, cleanup_status

    st = state(ctx)
    cfg = st.config
    fmt_ = output_format(ctx, fmt, as_json)
    night = parse_night(as_of) if as_of else parse_night("today")
    stages = [s.lower().replace("camera", "cam") for s in stage] if stage else None
    if status:
        refuse_options(ctx, {"as_of", "stage", "status", "fmt", "as_json"}, "cleanup status")
        report = cleanup_status(st.dbs, cfg, as_of=night, stages=stages)
        from mopstool.ops.results import Listing

        emit_result(ctx, Listing(report["states"], title=f"cleanup status as of {night}",
                                 columns=("stage", "state", "runs", "oldest_night", "note")), fmt, as_json)
        if report["oldest_uncleaned_night"]:
            info(f"oldest uncleaned night: {report['oldest_uncleaned_night']} "
                 f"({report['days_behind']} days before {night})")
        else:
            info(f"no night older than the retention is left uncleaned (as of {night})")
        return
    with progress_bar(fmt=fmt_) as progress:
        plan = run_cleanup(st.dbs, cfg, as_of=night, stages=stages, targets=target,
                           batch_size=batch_size, dry_run=dry_run,
                           confirm=confirmer(ctx, "cleanup", yes=yes), progress=progress)
    if dry_run or not plan.applied:
        _emit(ctx, plan, fmt, as_json, show_held, title=f"cleanup plan as of {night} (dry run)" if dry_run
              else f"cleanup as of {night}")
        if dry_run:
            info(f"would move {plan.total} runs to goto_cleaned in {plan.batches_planned} batches "
                 f"of at most {plan.batch_size}; {len(plan.held)} old runs held back")
        else:
            info(f"nothing to clean as of {night}; {len(plan.held)} old runs held back")
        return
    _emit(ctx, plan, fmt, as_json, show_held, title=f"cleanup as of {night}")
    concurrent_notes(plan)
    if plan.skipped:
        info(f"skipped {len(plan.skipped)} planned runs that changed since the plan "
             "(see --show-held --json)")
    info(f"moved {plan.total_changed} runs to goto_cleaned in {plan.batches_done} batches; "
         f"{len(plan.held)} old runs held back")


def _emit(ctx, plan, fmt, as_json, show_held: bool, *, title: str) -> None:
    from mopstool.ops.results import Report, Table

    groups = plan.groups()
    cols = _GROUP_COLUMNS + (("changed",) if plan.applied else ())
    held_cols = ("stage", "id", "label", "night", "target", "reason")
    tables = [Table(groups, cols if groups else None, title=title)]
    if show_held:
        tables.append(Table(plan.held, held_cols, title="held back", optional=True))
    emit_result(ctx, Report(plan.to_dict() if show_held else groups, tables,
                            csv=Table(plan.held, held_cols) if show_held else None), fmt, as_json)


def register(app: typer.Typer) -> None:
    app.command("cleanup")(cleanup)


# ------------------------------------------------------------------ the command and its modes
cleanup = command_with_modes(cleanup_run)


@cleanup.command("status")
def status_cmd(
    ctx: typer.Context,
    as_of: AsOfOpt = None,
    stage: StageOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Counts per stage and cleanup state, and the oldest uncleaned night."""
    cleanup_run(ctx.parent, as_of=as_of, stage=stage, status=True, fmt=fmt, as_json=as_json)
