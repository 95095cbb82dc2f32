"""mopstool runs STAGE / mopstool show STAGE ID."""

from __future__ import annotations

from typing import Annotated

import typer

from mopstool.cli.common import (ColumnsOpt, DataGroupOpt, DistGroupOpt, FormatOpt, IdOpt, JsonOpt, LabelOpt,
                                 LimitOpt, NightOpt, StateOpt, emit_result, output_format, state)
from mopstool.stages import choices

STAGE_HELP = f"Stage: {choices('runs')}."


def runs(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=STAGE_HELP, show_default=False)],
    label: LabelOpt = None,
    state_: StateOpt = None,
    data_group: DataGroupOpt = None,
    dist_group: DistGroupOpt = None,
    night: NightOpt = None,
    id_: IdOpt = None,
    limit: LimitOpt = 500,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List runs of a stage, newest first, with component, fault and bad-quality counts."""
    from mopstool.config import parse_night
    from mopstool.ops.runs.listing import runs_listing
    from mopstool.stages import get_stage
    from mopstool.stages.joins import RunFilter

    st = get_stage(stage, capability="runs")
    flt = RunFilter(ids=id_ or [], labels=label or [], states=state_ or [],
                    data_groups=data_group or [], dist_groups=dist_group or [],
                    night=parse_night(night) if night else None, limit=limit)
    output_format(ctx, fmt, as_json)
    emit_result(ctx, runs_listing(state(ctx).dbs, st, flt), fmt, as_json)


def show(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=STAGE_HELP, show_default=False)],
    run_id: Annotated[int, typer.Argument(help="Run id (chip_id, warp_id, diff_id, req_id...).",
                                          show_default=False)],
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one run with its components, states, and faults with their meanings."""
    from mopstool.ops.runs.listing import show_run
    from mopstool.stages import get_stage

    st = get_stage(stage, capability="runs")
    output_format(ctx, fmt, as_json)
    emit_result(ctx, show_run(state(ctx).dbs, st, run_id), fmt, as_json)


def register(app: typer.Typer) -> None:
    app.command("runs")(runs)
    app.command("show")(show)
