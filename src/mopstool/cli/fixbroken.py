"""mopstool fixbroken: reprocess exposures behind broken products, then retire the originals."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import (DryRunOpt, FormatOpt, JsonOpt, LimitOpt, YesOpt, command_with_modes,
                                 confirmer, emit_result, info, old_spelling, output_format,
                                 refuse_options, renamed, state)
from mopstool.errors import UsageError

_PLAN_COLUMNS = ("exp_name", "filter", "preset", "label", "reduction", "broken", "chip_id",
                 "action", "note")
_STATUS_COLUMNS = ("fix_id", "state", "broken", "exp_name", "preset", "chip_id", "chip_state",
                   "warp_id", "warp_state", "progress")
_FINISH_COLUMNS = ("fix_id", "broken", "exp_name", "chip_id", "progress", "action")


def _again(st, *args: str) -> str:
    """A mopstool command line with the connection options of this invocation."""
    import shlex

    parts = ["mopstool"]
    for opt, value in (("--config", st.config_file), ("--db", st.db), ("--pstamp-db", st.pstamp_db),
                       ("--dbname", st.dbname)):
        if value is not None:
            parts += [opt, shlex.quote(str(value))]
    return " ".join(parts + list(args))


def fixbroken_run(
    ctx: typer.Context,
    exp_name: Annotated[Optional[list[str]], typer.Option(
        "--exp-name", help="Reprocess this exposure; repeat for several.", show_default=False)] = None,
    chip_id: Annotated[Optional[list[int]], typer.Option(
        "--chip-id", help="This broken chip run; repeat for several.", show_default=False)] = None,
    warp_id: Annotated[Optional[list[int]], typer.Option(
        "--warp-id", help="This broken warp run; repeat for several.", show_default=False)] = None,
    diff_id: Annotated[Optional[list[int]], typer.Option(
        "--diff-id", help="This broken diff run (its input and template exposures are "
                          "reprocessed); repeat for several.", show_default=False)] = None,
    fix_date: Annotated[Optional[str], typer.Option(
        "--label-date", metavar="YYYY-MM-DD",
        help="The {date} of the fix label/workdir, YYYY-MM-DD (default today UTC).",
        show_default=False)] = None,
    old_date: Annotated[Optional[str], old_spelling("--date", "--label-date")] = None,
    status: Annotated[bool, typer.Option(
        "--status", hidden=True, help="Old spelling of 'fixbroken status'.")] = False,
    open_only: Annotated[bool, typer.Option(
        "--open", hidden=True, help="Old spelling of 'fixbroken status --open'.")] = False,
    finish: Annotated[bool, typer.Option(
        "--finish", hidden=True, help="Old spelling of 'fixbroken finish'.")] = False,
    limit: LimitOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find broken products (fault 26, error_* data states, stamp jobs stopped with
    fault 25/26 on a broken image) and define replacement runs with the recipe of
    each exposure's filter (LAP.PV3 grizy: preset lapfix; w-band: preset wfix).

    Use --dry-run first. The pairing broken -> replacement is recorded in the
    replacement chip run's note (no table of mopstool's own is needed);
    'fixbroken status' shows the progress and 'fixbroken finish' retires the
    broken originals once their replacements' warps are full. Re-running is
    idempotent."""
    if ctx.invoked_subcommand and not (status or finish):
        return      # 'fixbroken status' / 'fixbroken finish' run below
    from mopstool.ops.disk import fixbroken as fb

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    selected = bool(exp_name or chip_id or warp_id or diff_id)
    if status and finish:
        raise UsageError("--status and --finish do not go together")
    if (status or finish) and selected:
        raise UsageError("--status and --finish work on every recorded fix; drop the selectors")
    if status:
        refuse_options(ctx, {"status", "open_only", "limit", "fmt", "as_json"}, "fixbroken status")
    elif finish:
        refuse_options(ctx, {"finish", "dry_run", "yes", "fmt", "as_json"}, "fixbroken finish")
    else:
        refuse_options(ctx, {"exp_name", "chip_id", "warp_id", "diff_id", "fix_date", "old_date", "dry_run",
                             "yes", "fmt", "as_json"}, "fixbroken (status: --open, --limit)")
    if status:
        rows = fb.fix_status(st.dbs, st.config, open_only=open_only, limit=limit)
        emit_result(ctx, _listing(rows, _STATUS_COLUMNS, "fixbroken fixes"), fmt, as_json)
        if not rows:
            info("no fixes recorded")
        ready = sum(1 for r in rows if r["progress"].startswith("warp full"))
        if ready:
            info(f"{ready} fix(es) ready: run '{_again(st, 'fixbroken', 'finish')}'")
        return
    if finish:
        res = fb.finish_fixes(st.dbs, st.config, dry_run=dry_run,
                              confirm=confirmer(ctx, "fixbroken finish", yes=yes))
        emit_result(ctx, _listing(res.rows, _FINISH_COLUMNS,
                                  "fixbroken finish" + (" (dry run)" if dry_run else "")), fmt, as_json)
        retired = ", ".join(f"{s} {' '.join(map(str, ids))}" for s, ids in res.retired.items() if ids)
        if res.retired:
            verb = "would send" if dry_run else "sent"
            info(f"{verb} to cleanup (goto_cleaned): {retired or 'nothing (already retired)'}")
        elif not res.rows:
            info("no open fixes")
        else:
            info("no fix is ready yet: replacements' warps are not all full")
        return
    fix_date = renamed(fix_date, old_date, "--label-date", "--date")
    sel = fb.Selection(exp_names=list(exp_name or []), chip_ids=list(chip_id or []),
                       warp_ids=list(warp_id or []), diff_ids=list(diff_id or []))
    from mopstool.cli.progress import progress_bar

    with progress_bar(fmt=fmt_) as progress:
        plan = fb.fix(st.dbs, st.config, sel, fix_date=fix_date, dry_run=dry_run, progress=progress,
                      confirm=confirmer(ctx, "fixbroken", yes=yes, count=lambda p: len(p.to_define)))
    for note in plan.notes:
        info(note)
    rows = plan.to_list()
    from mopstool.ops.results import Report, Table

    shown = [dict(r, broken="; ".join(_describe(b) for b in r["broken"])) for r in rows]
    cols = _PLAN_COLUMNS if rows else None
    emit_result(ctx, Report(rows, [Table(shown, cols, title="fixbroken" + (" (dry run)" if dry_run else ""))],
                            csv=Table(shown, cols)), fmt, as_json)
    if not rows:
        info("no broken products found")
    elif dry_run:
        n = sum(1 for r in plan.rows if r.action == "define")
        if n:
            info(f"would define {n} replacement chip run(s); run without --dry-run to define them")
        else:
            info("nothing to define: the broken products found already have fixes or no recipe")
    else:
        n = sum(1 for r in plan.rows if r.action in ("defined", "adopted", "paired"))
        if n:
            info(f"recorded {n} fix(es); follow them with '{_again(st, 'fixbroken', 'status')}', "
                 f"then '{_again(st, 'fixbroken', 'finish')}'")


def _listing(rows: list[dict], columns: tuple[str, ...], title: str):
    """A fixbroken listing: the rows as they are; tables show *columns*, csv every column."""
    from mopstool.ops.results import Listing

    return Listing(rows, columns=columns if rows else None, title=title, table_rows=rows)


def _describe(b: dict) -> str:
    if b["stage"] == "exposure":
        return "exposure"
    comps = f" {','.join(b['components'])}" if b["components"] else ""
    return f"{b['stage']} {b['id']}{comps}"


def register(app: typer.Typer) -> None:
    app.command("fixbroken")(fixbroken)


# ------------------------------------------------------------------ the command and its modes
fixbroken = command_with_modes(fixbroken_run)


@fixbroken.command("status")
def status_cmd(
    ctx: typer.Context,
    open_only: Annotated[bool, typer.Option("--open", help="Only fixes not finished yet.")] = False,
    limit: LimitOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every recorded fix and its replacement's progress."""
    fixbroken_run(ctx.parent, status=True, open_only=open_only, limit=limit, fmt=fmt, as_json=as_json)


@fixbroken.command("finish")
def finish_cmd(
    ctx: typer.Context,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Send broken originals whose replacements' warps are full to cleanup
    (goto_cleaned, label goto_cleaned)."""
    fixbroken_run(ctx.parent, finish=True, dry_run=dry_run, yes=yes, fmt=fmt, as_json=as_json)
