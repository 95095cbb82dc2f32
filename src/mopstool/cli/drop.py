"""mopstool drop: let a run complete without a hopeless component."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import DryRunOpt, FormatOpt, JsonOpt, YesOpt, confirmer, emit_result, info, state


def drop_cmd(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help="Stage: chip.", show_default=False)],
    class_id: Annotated[list[str], typer.Option("--class-id", help="Component (XY33); repeat.",
                                                show_default=False)],
    quality: Annotated[int, typer.Option("--quality", help="Quality to record (non-zero: done but bad).",
                                         show_default=False)],
    chip_id: Annotated[Optional[list[int]], typer.Option("--chip-id", help="chip_id; repeat.",
                                                         show_default=False)] = None,
    cam_id: Annotated[Optional[list[int]], typer.Option("--cam-id", help="cam_id: the chip run of this "
                                                        "camera run; repeat.", show_default=False)] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Mark processed components as done but bad (chiptool -dropprocessedimfile):
    quality set, data_state full, fault and magicked 0, so the run can complete."""
    from mopstool.errors import UsageError
    from mopstool.ops.runs.components import drop_imfiles
    from mopstool.stages import choices, stages_that

    if stage not in stages_that("drop"):
        raise UsageError(f"drop supports the {choices('drop', last=' or ')} stage, not {stage!r}")
    st = state(ctx)
    plan = drop_imfiles(st.dbs, chip_ids=chip_id, cam_ids=cam_id, class_ids=class_id, quality=quality,
                        dry_run=dry_run, confirm=confirmer(ctx, "drop", yes=yes))
    emit_result(ctx, plan, fmt, as_json)
    counts = ", ".join(f"{t} {n}" for t, n in plan.rows.items())
    if dry_run:
        info(f"dry run: would change {counts}; nothing written")
    elif plan.applied:
        info(f"dropped: {counts}")
    else:
        info("nothing to change")


def register(app: typer.Typer) -> None:
    app.command("drop")(drop_cmd)
