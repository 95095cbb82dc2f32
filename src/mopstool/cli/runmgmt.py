"""Run management: definebyquery, updaterun, setupdate, revert, faults."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import (ColumnsOpt, DataGroupOpt, DistGroupOpt, DryRunOpt, FormatOpt, IdOpt, JsonOpt,
                                 LabelOpt, LimitOpt, NightOpt, StateOpt, YesOpt, concurrent_notes,
                                 confirmer, emit_result, info, old_spelling, output_format, renamed,
                                 state)
from mopstool.stages import choices

SetStr = Optional[str]


def _opt(name: str, help: str, *aliases: str):
    return typer.Option(name, *aliases, help=help, show_default=False)


def _runs_touched(result) -> int:
    """The size of a component change in runs (a whole chip run with its 60
    imfiles is one change)."""
    return len({c["id"] for c in result.changed} | {r["id"] for r in result.runs
                                                     if r.get("new_state", r.get("state")) != r.get("state")})


def _night(value):
    if not value:
        return None
    from mopstool.config import parse_night

    return parse_night(value)


# ====================================================================== definebyquery

def definebyquery(
    ctx: typer.Context,
    exp_name: Annotated[Optional[list[str]], _opt(
        "--exp-name", "Exposure name (=); repeat, or a file / '-' (stdin) with one name per line.",
        "-e")] = None,
    exp_id: Annotated[Optional[list[int]], _opt("--exp-id", "rawExp.exp_id; repeat for several.")] = None,
    night: NightOpt = None,
    dateobs_begin: Annotated[SetStr, _opt("--dateobs-begin", "dateobs >= this UTC time (ISO).")] = None,
    dateobs_end: Annotated[SetStr, _opt("--dateobs-end", "dateobs <= this UTC time (ISO).")] = None,
    filter_: Annotated[Optional[list[str]], _opt("--filter", "Filter (SQL LIKE, e.g. 'w%'); repeat to OR.")] = None,
    obs_mode: Annotated[Optional[list[str]], _opt("--obs-mode", "obs_mode (SQL LIKE); repeat to OR.")] = None,
    object_: Annotated[Optional[list[str]], _opt("--object", "Object (SQL LIKE); repeat to OR.")] = None,
    comment: Annotated[Optional[list[str]], _opt("--comment", "Exposure comment (SQL LIKE); repeat to OR.")] = None,
    comment_skip: Annotated[SetStr, _opt("--comment-skip", "Exclude comments matching this (NOT LIKE).")] = None,
    inst: Annotated[SetStr, _opt("--inst", "rawExp.camera (=).")] = None,
    telescope: Annotated[SetStr, _opt("--telescope", "rawExp.telescope (=).")] = None,
    exp_tag: Annotated[SetStr, _opt("--exp-tag", "rawExp.exp_tag (=).")] = None,
    filelevel: Annotated[SetStr, _opt("--filelevel", "rawExp.filelevel (=).")] = None,
    data_state: Annotated[SetStr, _opt("--data-state", "rawExp.state (=).")] = None,
    exp_type: Annotated[str, typer.Option("--exp-type", help="rawExp.exp_type ('any' for every type).")] = "object",
    label: Annotated[Optional[list[str]], _opt(
        "--label", "Chip: newExp.label; warp: fakeRun.label (SQL LIKE); repeat to OR.", "-l")] = None,
    unique: Annotated[bool, typer.Option("--unique", help="Skip exposures that already have a run with "
                                                          "the new label.")] = False,
    copy: Annotated[bool, typer.Option("--copy", help="Chip: define copies of the exposures' existing chip "
                                                      "runs (chiptool -definecopy): one new run per matching "
                                                      "old run; implied by --copy-of-*.")] = False,
    copy_of_label: Annotated[Optional[list[str]], _opt(
        "--copy-of-label", "Copy: the old chipRun's label (SQL LIKE); repeat to OR. Implies --copy.")] = None,
    copy_of_data_group: Annotated[Optional[list[str]], _opt(
        "--copy-of-data-group", "Copy: the old chipRun's data_group (SQL LIKE); repeat to OR. "
                               "Implies --copy.")] = None,
    copy_of_state: Annotated[SetStr, _opt(
        "--copy-of-state", "Copy: the old chipRun's state (=). Implies --copy.")] = None,
    limit: LimitOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="Allow a selection with no search term.")] = False,
    stage: Annotated[str, typer.Option("--stage", help="chip (chiptool) or warp (warptool variant: "
                                                       "from full fakeRuns).")] = "chip",
    fake_id: Annotated[Optional[list[int]], _opt("--fake-id", "Warp: fakeRun.fake_id; repeat.")] = None,
    cam_id: Annotated[Optional[list[int]], _opt("--cam-id", "Warp: camRun.cam_id; repeat.")] = None,
    chip_id: Annotated[Optional[list[int]], _opt("--chip-id", "Warp: chipRun.chip_id; repeat.")] = None,
    reduction: Annotated[Optional[list[str]], _opt("--reduction", "Warp: fakeRun.reduction; repeat.")] = None,
    preset: Annotated[SetStr, _opt("--preset", "Setter preset from the config [presets.NAME] "
                                               "(nomasktest, mehtest, lapfix, wfix).")] = None,
    date_: Annotated[SetStr, typer.Option(
        "--label-date", metavar="YYYY-MM-DD", show_default=False,
        help="{date} of preset values, YYYY-MM-DD or YYYYMMDD (default today UTC).")] = None,
    old_date: Annotated[SetStr, old_spelling("--date", "--label-date")] = None,
    set_label: Annotated[SetStr, _opt("--set-label", "Label of the new runs (required unless a preset "
                                                     "gives it).")] = None,
    set_workdir: Annotated[SetStr, _opt("--set-workdir", "Workdir, e.g. neb://@HOST@.0/gpc1/{label} "
                                                         "(required unless a preset gives it; with --copy "
                                                         "default rawExp.workdir).")] = None,
    set_data_group: Annotated[SetStr, _opt("--set-data-group", "data_group (default: the label).")] = None,
    set_dist_group: Annotated[SetStr, _opt("--set-dist-group", "dist_group (NULL stores SQL NULL).")] = None,
    set_tess_id: Annotated[SetStr, _opt("--set-tess-id", "tess_id (default: inherited), e.g. RINGS.V3.")] = None,
    set_end_stage: Annotated[SetStr, _opt("--set-end-stage", "end_stage (default: inherited).")] = None,
    set_reduction: Annotated[SetStr, _opt("--set-reduction", "reduction (default: inherited).")] = None,
    set_expgroup: Annotated[SetStr, _opt("--set-expgroup", "expgroup.")] = None,
    set_dvodb: Annotated[SetStr, _opt("--set-dvodb", "dvodb (default: inherited).")] = None,
    set_note: Annotated[SetStr, _opt("--set-note", "note.")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
    **ranges: Optional[float],
) -> None:
    """Define new chip runs from raw exposures (chiptool -definebyquery), or warp runs
    from full fakeRuns with --stage warp.

    Selectors are ANDed; repeated values of one selector are ORed. Setter values
    'NULL' store SQL NULL. --preset fills the setters from the config; explicit
    --set-* options win. Workdir/label templates expand {label} and {date}.

    --copy (chiptool -definecopy) selects the exposures through their existing
    chip runs (--copy-of-label, --copy-of-data-group, --copy-of-state, with the
    exposure selectors): one new run per matching old run, never for an exposure
    that already has a run with the new label; an exposure reached through two old
    runs is refused."""
    from mopstool.errors import UsageError
    from mopstool.ops.runs.define import (CopyOf, DefineSelection, DefineSetters, define_runs,
                                          define_stages, parse_time, read_name_args, resolve_setters)

    st = state(ctx)
    output_format(ctx, fmt, as_json)
    if stage not in define_stages():
        raise UsageError(f"--stage must be {' or '.join(define_stages())}, not {stage!r}")
    copy_given = [n for n, v in (("--copy", copy), ("--copy-of-label", copy_of_label),
                                 ("--copy-of-data-group", copy_of_data_group),
                                 ("--copy-of-state", copy_of_state)) if v not in (None, False, [])]
    if copy_given and stage != "chip":
        raise UsageError(f"{copy_given[0]} copies existing chip runs: chip stage only, not --stage {stage}")
    copy_of = (CopyOf(labels=copy_of_label or [], data_groups=copy_of_data_group or [], state=copy_of_state)
               if copy_given else None)
    names = read_name_args(exp_name or [])
    if exp_name and not names:
        raise UsageError("--exp-name gave no exposure names")
    sel = DefineSelection(
        exp_names=names, exp_ids=exp_id or [], night=_night(night),
        dateobs_begin=parse_time(dateobs_begin, "--dateobs-begin"),
        dateobs_end=parse_time(dateobs_end, "--dateobs-end"), filters=filter_ or [],
        obs_modes=obs_mode or [], objects=object_ or [], comments=comment or [],
        exp_type=None if exp_type.lower() == "any" else exp_type, labels=label or [], unique=unique,
        limit=limit, all=all_, fake_ids=fake_id or [], cam_ids=cam_id or [], chip_ids=chip_id or [],
        reductions=reduction or [], raw_terms=_raw_terms(
            comment_skip=comment_skip, camera=inst, telescope=telescope, exp_tag=exp_tag,
            filelevel=filelevel, state=data_state, ranges=ranges), copy_of=copy_of)
    explicit = DefineSetters(label=set_label, workdir=set_workdir, data_group=set_data_group,
                             dist_group=set_dist_group, tess_id=set_tess_id, end_stage=set_end_stage,
                             reduction=set_reduction, expgroup=set_expgroup, dvodb=set_dvodb,
                             note=set_note)
    preset_values = st.config.preset(preset) if preset else None
    date_ = renamed(date_, old_date, "--label-date", "--date")
    setters = resolve_setters(explicit, preset_values, preset_name=preset or "", date_value=date_)
    for name in ("label",) if copy_of is not None else ("label", "workdir"):
        if getattr(setters, name) is None:
            raise UsageError(f"--set-{name} is required (or a --preset that gives it)")
    from mopstool.cli.progress import progress_bar

    with progress_bar(fmt=output_format(ctx, fmt, as_json)) as progress:
        res = define_runs(st.dbs, sel, setters, stage=stage, dry_run=dry_run,
                          confirm=confirmer(ctx, "definebyquery", yes=yes, count=lambda r: len(r.runs)),
                          audit_detail={"preset": preset} if preset else None, progress=progress)
    for u in res.unmatched:
        info(f"not defined: {u.get('exp_name') or u.get('exp_id')}: {u['reason']}")
    for s in res.skipped[:20]:
        info(f"skipped: {s['exp_name']}: {s['reason']}")
    if len(res.skipped) > 20:
        info(f"skipped: ... and {len(res.skipped) - 20} more")
    emit_result(ctx, res, fmt, as_json)
    concurrent_notes(res)
    counts = ", ".join(f"{t} {n}" for t, n in res.rows.items())
    if dry_run:
        info(f"dry run: would define {len(res.runs)} {stage} run(s) ({counts}); nothing written")
    elif res.applied:
        info(f"defined {len(res.runs)} {stage} run(s) with label {setters.label!r} ({counts})")
    else:
        why = [n for n in res.notes if not n.startswith("another")]
        info(f"nothing defined ({'; '.join(why) or 'no match'})")


def _raw_terms(*, comment_skip, ranges, **eq) -> list:
    """DefineSelection.raw_terms from the --inst ... and --COL-min/--COL-max options."""
    import math

    terms = [(col, "=", v) for col, v in eq.items() if v is not None]
    if comment_skip is not None:
        terms.append(("comment", "NOT LIKE", comment_skip))
    for key, value in ranges.items():
        if value is None:
            continue
        col, bound = key.rsplit("_", 1)
        if col in ("ra", "decl"):
            value = math.radians(value)
        terms.append((col, ">=" if bound == "min" else "<", value))
    return terms


def _with_range_options(fn):
    """Add --COL-min (>=) and --COL-max (<) for every rawExp range column of
    chiptool -definebyquery to *fn*'s signature (RA/Dec in degrees)."""
    import inspect

    from mopstool.ops.runs.rawexp import RAWEXP_RANGE_COLUMNS

    import typing

    sig = inspect.signature(fn)
    hints = typing.get_type_hints(fn, include_extras=True)
    params = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in sig.parameters.values()
              if p.kind is not inspect.Parameter.VAR_KEYWORD]
    for col in RAWEXP_RANGE_COLUMNS:
        unit = " (degrees)" if col in ("ra", "decl") else ""
        for bound, op in (("min", ">="), ("max", "<")):
            name = f"{col}_{bound}"
            params.append(inspect.Parameter(
                name, inspect.Parameter.KEYWORD_ONLY, default=None,
                annotation=Annotated[Optional[float], _opt(
                    f"--{col.replace('_', '-')}-{bound}", f"rawExp.{col} {op} this{unit}.")]))
    fn.__signature__ = sig.replace(parameters=params)
    return fn


definebyquery = _with_range_options(definebyquery)


# ====================================================================== updaterun

def updaterun(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=f"Stage: {choices('updaterun')}.",
                                         show_default=False)],
    id_: IdOpt = None,
    label: LabelOpt = None,
    state_: StateOpt = None,
    data_group: DataGroupOpt = None,
    dist_group: DistGroupOpt = None,
    night: NightOpt = None,
    set_state: Annotated[SetStr, _opt("--set-state", "New run state (new, full, update, goto_cleaned, "
                                                     "drop, ...).")] = None,
    set_label: Annotated[SetStr, _opt("--set-label", "New label.")] = None,
    set_data_group: Annotated[SetStr, _opt("--set-data-group", "New data_group (NULL: SQL NULL).")] = None,
    set_dist_group: Annotated[SetStr, _opt("--set-dist-group", "New dist_group (NULL: SQL NULL).")] = None,
    set_note: Annotated[SetStr, _opt("--set-note", "New note (NULL: SQL NULL).")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change run columns in bulk (chiptool/warptool/difftool -updaterun): one UPDATE.

    Needs a selector other than --state alone, and at least one --set-*. No
    state-transition rules: any valid state can be written."""
    from mopstool.ops.runs.manage import RunSetters, update_runs
    from mopstool.stages.joins import RunFilter

    st = state(ctx)
    output_format(ctx, fmt, as_json)
    flt = RunFilter(ids=id_ or [], labels=label or [], states=state_ or [], data_groups=data_group or [],
                    dist_groups=dist_group or [], night=_night(night))
    setters = RunSetters(state=set_state, label=set_label, data_group=set_data_group,
                         dist_group=set_dist_group, note=set_note)
    plan = update_runs(st.dbs, stage, flt, setters, dry_run=dry_run,
                       confirm=confirmer(ctx, f"updaterun {stage}", yes=yes))
    emit_result(ctx, plan, fmt, as_json)
    for note in plan.notes:
        info(note)
    counts = ", ".join(f"{t} {n}" for t, n in plan.rows.items())
    if dry_run:
        info(f"dry run: would update {counts}; nothing written")
    elif plan.applied:
        info(f"updated {counts}")


# ====================================================================== setupdate

def setupdate(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=f"Stage: {choices('setupdate', last=' or ')}.",
                                         show_default=False)],
    chip_id: Annotated[Optional[list[int]], _opt("--chip-id", "chip_id (chip stage); repeat.")] = None,
    warp_id: Annotated[Optional[list[int]], _opt("--warp-id", "warp_id (warp stage); repeat.")] = None,
    diff_id: Annotated[Optional[list[int]], _opt("--diff-id", "diff_id (diff stage); repeat.")] = None,
    id_: IdOpt = None,
    class_id: Annotated[Optional[list[str]], _opt("--class-id", "Chip component (XY33); repeat. "
                                                               "Default: the whole run.")] = None,
    skycell_id: Annotated[Optional[list[str]], _opt("--skycell-id", "Warp/diff component; repeat. "
                                                                   "Default: the whole run.")] = None,
    update_mode: Annotated[Optional[int], _opt("--update-mode", "chipRun.update_mode (chip; always "
                                                                "written, default 0).")] = None,
    set_label: Annotated[SetStr, _opt("--set-label", "Label of the updated runs, e.g. ps_ud_WEB.")] = None,
    from_goto_cleaned: Annotated[bool, typer.Option(
        "--from-goto-cleaned", help="First move goto_cleaned runs to update (the pstamp recipe).")] = False,
    fault: Annotated[Optional[int], _opt("--fault", "Only 26: also take components with fault 26 (gone).")] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue cleaned components for regeneration (chiptool -setimfiletoupdate,
    warptool/difftool -setskyfiletoupdate).

    Components in cleaned runs with quality 0 and fault != 26 go to
    data_state update; without --class-id/--skycell-id, bad-quality components
    are set to full (chip, warp). Reports per component what changed and why
    anything was skipped."""
    from mopstool.errors import UsageError
    from mopstool.ops.runs.manage import set_update
    from mopstool.stages import FAULT_GONE, STAGES, get_stage, stages_that

    st = state(ctx)
    output_format(ctx, fmt, as_json)
    sg = get_stage(stage, capability="setupdate")
    # the per-stage id options (--chip-id ...) and component options (--class-id ...)
    given = {"chip_id": chip_id, "warp_id": warp_id, "diff_id": diff_id}
    for col, vals in given.items():
        if vals and col != sg.id_col:
            raise UsageError(f"--{col.replace('_', '-')} does not apply to stage {sg.name}; "
                             f"use {sg.id_option} or --id")
    ids = list(given.get(sg.id_col) or []) + list(id_ or [])
    comp_opts = {"class_id": class_id, "skycell_id": skycell_id}
    key = sg.component_key[0] if sg.component_key else None
    for col, vals in comp_opts.items():
        if vals and col != key:
            users = [n for n in stages_that("setupdate") if STAGES[n].component_key[:1] == (col,)]
            right = f"; use --{key.replace('_', '-')} for {sg.name}" if key else ""
            raise UsageError(f"--{col.replace('_', '-')} applies to {' and '.join(users)}{right}")
    if fault is not None and fault != FAULT_GONE:
        raise UsageError(f"setupdate --fault only accepts {int(FAULT_GONE)} (also take gone components)")
    comps = (class_id or []) + (skycell_id or [])
    res = set_update(st.dbs, sg, ids, components=comps, set_label=set_label, update_mode=update_mode,
                     from_goto_cleaned=from_goto_cleaned, include_gone=fault == FAULT_GONE,
                     dry_run=dry_run,
                     confirm=confirmer(ctx, f"setupdate {sg.name}", yes=yes, count=_runs_touched))
    emit_result(ctx, res, fmt, as_json)
    concurrent_notes(res)
    said = set()
    for c in res.skipped:
        if any(k in c["reason"] for k in ("fault 26", "goto_cleaned", "no such", f"no {sg.name} run")):
            msg = f"{sg.id_col} {c['id']}: {c['reason']}"
            if msg not in said:
                said.add(msg)
                info(msg)
    counts = ", ".join(f"{t} {n}" for t, n in res.rows.items())
    if dry_run:
        info(f"dry run: would change {counts}; nothing written")
    elif res.applied:
        info(f"changed {counts}")
    else:
        info("nothing to change")


# ====================================================================== revert

def revert_cmd(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(help=f"Stage: {choices('revert')}.",
                                         show_default=False)],
    id_: IdOpt = None,
    label: LabelOpt = None,
    data_group: DataGroupOpt = None,
    night: NightOpt = None,
    fault: Annotated[Optional[list[int]], _opt("--fault", "Only this fault code; repeat to OR. "
                                                          "26 (gone) only when named.")] = None,
    component: Annotated[Optional[list[str]], _opt("--component", "class_id / skycell_id; repeat.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Allow reverting without a selector.")] = False,
    delete_gone: Annotated[bool, typer.Option(
        "--delete-gone", help="Also delete fault-26 (gone) components of new runs, as "
                              "chiptool -revertprocessedimfile does.")] = False,
    skyfiles_only: Annotated[bool, typer.Option(
        "--skyfiles-only", help="Warp: leave faulted overlap rows (warpSkyCellMap) alone, as "
                                "warptool -revertwarped does.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revert faulted components (chiptool -revertprocessedimfile, warptool -revertwarped,
    difftool -revertdiffskyfile): delete them in new runs so they are queued again,
    clear the fault of components being updated. Fault 26 only with --fault 26."""
    from mopstool.ops.runs.manage import RevertFilter, revert
    from mopstool.stages import FAULT_GONE

    st = state(ctx)
    output_format(ctx, fmt, as_json)
    flt = RevertFilter(ids=id_ or [], labels=label or [], data_groups=data_group or [],
                       night=_night(night), faults=fault or [], components=component or [], all=all_)
    res = revert(st.dbs, stage, flt, dry_run=dry_run, gone_in_new_runs=delete_gone,
                 overlaps=not skyfiles_only,
                 confirm=confirmer(ctx, f"revert {stage}", yes=yes, count=_runs_touched))
    emit_result(ctx, res, fmt, as_json)
    concurrent_notes(res)
    counts = ", ".join(f"{t} {n}" for t, n in res.rows.items())
    gone = [c for c in res.skipped if c["fault"] == FAULT_GONE]
    if gone:
        info(f"{len(gone)} component(s) with fault 26 (gone) left alone; --fault 26 reverts them")
    if dry_run:
        info(f"dry run: would change {counts}; nothing written")
    elif res.applied:
        info(f"reverted: {counts}")
    else:
        info("nothing to revert")


# ====================================================================== faults

def faults_cmd(
    ctx: typer.Context,
    night: NightOpt = None,
    label: LabelOpt = None,
    data_group: DataGroupOpt = None,
    stage: Annotated[Optional[list[str]], _opt("--stage", f"Stage ({choices('faults')}); "
                                                           "repeat.")] = None,
    fault: Annotated[Optional[list[int]], _opt("--fault", "Fault code; repeat to OR.")] = None,
    id_: IdOpt = None,
    components: Annotated[bool, typer.Option("--components", help="One row per faulted component "
                                                                    "instead of groups.")] = False,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Faulted components across stages, grouped by fault code with meanings,
    counts and the command that fixes each group. Exits 3 when there are faults."""
    from mopstool.ops.results import Listing
    from mopstool.ops.runs.faults import FaultFilter, collect_faults, summarize_faults
    from mopstool.stages import get_stage

    st = state(ctx)
    output_format(ctx, fmt, as_json)
    stages = tuple(dict.fromkeys(get_stage(s, capability="faults").name for s in stage)) if stage \
        else ()
    flt = FaultFilter(stages=stages, night=_night(night), labels=label or [],
                      data_groups=data_group or [], ids=id_ or [], faults=fault or [])
    rows = collect_faults(st.dbs, flt)
    if components:
        emit_result(ctx, Listing(rows, columns=("stage", "id", "component", "fault", "meaning", "state",
                                                "data_state", "label", "fix"),
                                 title="faulted components"), fmt, as_json)
        _faults_found(rows)
        return
    groups = summarize_faults(rows, flt)
    shown = [dict(g, ids=" ".join(map(str, g["ids"][:5])) + (" ..." if g["runs"] > 5 else ""),
                  labels=",".join(g["labels"][:3])) for g in groups]
    emit_result(ctx, Listing(groups, table_rows=shown, title="faults",
                             columns=("stage", "fault", "meaning", "components", "runs", "ids", "labels",
                                      "fix")), fmt, as_json)
    if not rows:
        info("no faulted components")
    _faults_found(rows)


def _faults_found(rows: list) -> None:
    """Faults found: exit 3 (CHECK_FAILED), as czar does, so cron can act on it."""
    if rows:
        from mopstool.errors import CheckFailed

        runs = len({(r["stage"], r["id"]) for r in rows})
        raise CheckFailed(f"{len(rows)} faulted component(s) in {runs} run(s)")


def register(app: typer.Typer) -> None:
    app.command("definebyquery")(definebyquery)
    app.command("updaterun")(updaterun)
    app.command("setupdate")(setupdate)
    app.command("revert")(revert_cmd)
    app.command("faults")(faults_cmd)
