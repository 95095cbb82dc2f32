"""mopstool pstamp-req: stamp requests in the request database, request files, local stamps."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import (DryRunOpt, FormatOpt, JsonOpt, LabelOpt, LimitOpt, YesOpt,
                                 concurrent_notes, confirmer, emit_result, info, old_spelling, output_format, renamed,
                                 state)
from mopstool.errors import CheckFailed, DataError, UsageError
from mopstool.ops.results import Listing, Report, Table

app = typer.Typer(
    name="pstamp-req",
    help="Postage-stamp requests: list/show/stop/clean/revert/backlog/cleanup in the request "
         "database (--pstamp-db), create/validate PS1_PS_REQUEST files, cut stamps locally.",
    no_args_is_help=True,
    rich_markup_mode=None,
)

ReqIdsArg = Annotated[list[int], typer.Argument(help="Request ids (req_id).", show_default=False)]
ReqStateOpt = Annotated[Optional[list[str]], typer.Option(
    "--state", "-s", help="Request state (new, run, parsed, stop, goto_cleaned, cleaned); repeat to OR.",
    show_default=False)]


def _fmt(ctx, fmt, as_json):
    return output_format(ctx, fmt, as_json)


def _pstamp_conf(ctx, key: str, default):
    return state(ctx).config.get(f"pstamp.{key}", default)


# ------------------------------------------------------------------ database: listing
@app.command("list")
def list_cmd(
    ctx: typer.Context,
    req_id: Annotated[Optional[list[int]], typer.Option("--id", help="req_id; repeat for several.",
                                                        show_default=False)] = None,
    old_req_id: Annotated[Optional[list[int]], old_spelling("--req-id", "--id")] = None,
    state_: ReqStateOpt = None,
    label: LabelOpt = None,
    name: Annotated[Optional[list[str]], typer.Option(
        "--name", help="Request name (SQL LIKE); repeat to OR.", show_default=False)] = None,
    since: Annotated[Optional[str], typer.Option(
        "--since", metavar="DATE|AGE", help="Registered at or after: UTC date/time, or a duration back (2d, 36h).",
        show_default=False)] = None,
    fault: Annotated[Optional[list[int]], typer.Option(
        "--fault", help="Request fault code; repeat to OR.", show_default=False)] = None,
    username: Annotated[Optional[list[str]], typer.Option(
        "--user", help="Requester (EMAIL); repeat to OR.", show_default=False)] = None,
    limit: LimitOpt = 500,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List stamp requests, newest first, with job counts (pstamptool -listreq)."""
    from mopstool.ops.pstamp.requests import RequestSelector, list_requests, parse_since

    req_id = renamed(req_id, old_req_id, "--id", "--req-id")
    sel = RequestSelector(req_ids=req_id or [], states=state_ or [], labels=label or [],
                          names=name or [], faults=fault or [], usernames=username or [],
                          since=parse_since(since))
    fmt_ = _fmt(ctx, fmt, as_json)
    rows = list_requests(state(ctx).dbs, sel, limit=limit)
    emit_result(ctx, Listing(rows, title="stamp requests",
                             columns=None if fmt_ != "table" else
                             ("req_id", "name", "label", "state", "fault", "jobs", "jobs_run", "jobs_stop",
                              "jobs_faulted", "username", "registered", "timestamp")), fmt, as_json)


@app.command("show")
def show_cmd(
    ctx: typer.Context,
    req_id: Annotated[int, typer.Argument(help="Request id.", show_default=False)],
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one request with its jobs, dependents (image updates), files, and fault meanings."""
    from mopstool.ops.pstamp.requests import show_request

    _fmt(ctx, fmt, as_json)
    d = show_request(state(ctx).dbs, req_id)
    emit_result(ctx, Report(d, [
        Table(d["request"], title=f"request {req_id}"),
        Table(d["datastore"], title="data store", optional=True),
        Table(d["jobs"], ("job_id", "rownum", "state", "jobType", "fault", "fault_meaning", "fault_count",
                          "dep_id", "exp_id", "options", "waiting_on", "outputBase"), title="jobs"),
        Table(d["dependents"], ("dep_id", "state", "stage", "stage_id", "component", "imagedb", "rlabel",
                                "fault", "fault_meaning", "fault_count"), title="dependents (image updates)"),
        Table(d["files"], title="files")], csv=Table(d["jobs"])), fmt, as_json)
    if _fmt(ctx, fmt, as_json) not in ("table",):
        return
    info("jobs: " + (", ".join(f"{n} {k}" for k, n in d["job_summary"].items()) or "none"))


# ------------------------------------------------------------------ database: writes
def _report_update(ctx, res, fmt, as_json, verb: str) -> None:
    rows = [{"req_id": r["req_id"], "name": r["name"], "label": r["label"], "state": r["state"],
             "new_state": res.set_values.get("state", r["state"]), "fault": r["fault"]}
            for r in res.sample]
    emit_result(ctx, Report(res.to_dict(), [Table(rows, title=("would change" if res.dry_run else "changed")),
                                            Table(res.skipped, title="skipped", optional=True)]), fmt, as_json)
    what = ", ".join(f"{k}={v}" for k, v in res.set_values.items())
    if res.dry_run:
        info(f"dry run: would set {what} on {res.count} request(s); nothing written")
    elif not res.count:
        info("nothing to change")
    else:
        info(f"{verb} {res.count} request(s) ({what}); timestamp set to {res.timestamp} UTC")
    for s in res.skipped:
        info(f"skipped req_id {s['req_id']} ({s['name']}): {s['reason']}")
    if len(res.sample) < res.count:
        info(f"({res.count - len(res.sample)} more not shown)")


def _update(ctx, fn, what: str, *, dry_run: bool, yes: bool):
    """Run one writer through the write protocol: planned, confirmed once
    (declined: exit 10), planned again and applied under the lock."""
    res = fn(state(ctx).dbs, dry_run=dry_run, confirm=confirmer(ctx, what, yes=yes))
    concurrent_notes(res)
    return res


@app.command("stop")
def stop_cmd(
    ctx: typer.Context,
    req_ids: ReqIdsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Set requests to 'stop' (pstamptool -updatereq -set_state stop -req_id N).

    Requests already stopped or cleaned are left alone and reported."""
    from mopstool.ops.pstamp.requests import stop_requests

    res = _update(ctx, lambda dbs, **kw: stop_requests(dbs, req_ids, **kw),
                  "pstamp-req stop", dry_run=dry_run, yes=yes)
    _report_update(ctx, res, fmt, as_json, "stopped")


@app.command("clean")
def clean_cmd(
    ctx: typer.Context,
    req_ids: ReqIdsArg,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue requests for cleanup (pstamptool -updatereq -set_state goto_cleaned -req_id N).

    Requests already cleaned or queued (goto_cleaned) are skipped."""
    from mopstool.ops.pstamp.requests import clean_requests

    res = _update(ctx, lambda dbs, **kw: clean_requests(dbs, req_ids, **kw),
                  "pstamp-req clean", dry_run=dry_run, yes=yes)
    _report_update(ctx, res, fmt, as_json, "queued for cleanup")


@app.command("update")
def update_cmd(
    ctx: typer.Context,
    req_id: Annotated[Optional[list[int]], typer.Option("--id", help="req_id; repeat.",
                                                        show_default=False)] = None,
    old_req_id: Annotated[Optional[list[int]], old_spelling("--req-id", "--id")] = None,
    req_id_max: Annotated[Optional[int], typer.Option("--req-id-max", help="req_id <= this.",
                                                      show_default=False)] = None,
    state_: ReqStateOpt = None,
    label: LabelOpt = None,
    name: Annotated[Optional[list[str]], typer.Option("--name", help="Request name (SQL LIKE).",
                                                      show_default=False)] = None,
    fault: Annotated[Optional[list[int]], typer.Option("--fault", help="Request fault code.",
                                                       show_default=False)] = None,
    older_than: Annotated[Optional[str], typer.Option(
        "--older-than", metavar="AGE", help="Last change (timestamp) at least this old (14d, 36h).",
        show_default=False)] = None,
    set_state: Annotated[Optional[str], typer.Option("--set-state", help="New state.",
                                                     show_default=False)] = None,
    set_label: Annotated[Optional[str], typer.Option("--set-label", help="New label.",
                                                     show_default=False)] = None,
    set_fault: Annotated[Optional[int], typer.Option("--set-fault", help="New fault code.",
                                                     show_default=False)] = None,
    clear_fault: Annotated[bool, typer.Option("--clear-fault", help="Set fault to 0.")] = False,
    not_req_id: Annotated[Optional[list[int]], typer.Option("--not-req-id", help="req_id != this.",
                                                            show_default=False)] = None,
    username: Annotated[Optional[list[str]], typer.Option("--username", help="username (=).",
                                                          show_default=False)] = None,
    req_type: Annotated[Optional[list[str]], typer.Option("--req-type", help="reqType (=).",
                                                          show_default=False)] = None,
    timestamp_begin: Annotated[Optional[str], typer.Option(
        "--timestamp-begin", help="timestamp >= this UTC time (ISO).", show_default=False)] = None,
    timestamp_end: Annotated[Optional[str], typer.Option(
        "--timestamp-end", help="timestamp <= this UTC time (ISO).", show_default=False)] = None,
    set_out_product: Annotated[Optional[str], typer.Option("--set-out-product", help="New outProduct.",
                                                           show_default=False)] = None,
    set_outdir: Annotated[Optional[str], typer.Option("--set-outdir", help="New outdir.",
                                                      show_default=False)] = None,
    set_uri: Annotated[Optional[str], typer.Option("--set-uri", help="New uri.", show_default=False)] = None,
    set_name: Annotated[Optional[str], typer.Option("--set-name", help="New name.", show_default=False)] = None,
    set_username: Annotated[Optional[str], typer.Option("--set-username", help="New username.",
                                                        show_default=False)] = None,
    set_req_type: Annotated[Optional[str], typer.Option("--set-req-type", help="New reqType.",
                                                        show_default=False)] = None,
    as_pstamptool: Annotated[bool, typer.Option(
        "--as-pstamptool", help="pstamptool's rules: stop also cleaned requests, bump requests "
                                "already in the state, unknown req_ids are no error.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change requests chosen by selectors (pstamptool -updatereq); always bumps timestamp.

    --set-state goto_cleaned never touches requests already cleaned or goto_cleaned."""
    from mopstool.ops.pstamp.requests import RequestSelector, parse_duration, update_requests
    from mopstool.util import utcnow

    from mopstool.ops.runs.define import parse_time

    if older_than and timestamp_end:
        from mopstool.errors import UsageError

        raise UsageError("give --older-than or --timestamp-end, not both")
    req_id = renamed(req_id, old_req_id, "--id", "--req-id")
    end = (utcnow() - parse_duration(older_than)) if older_than else parse_time(timestamp_end,
                                                                                "--timestamp-end")
    sel = RequestSelector(req_ids=req_id or [], req_id_max=req_id_max, states=state_ or [],
                          labels=label or [], names=name or [], faults=fault or [],
                          not_req_ids=not_req_id or [], usernames=username or [],
                          req_types=req_type or [],
                          timestamp_begin=parse_time(timestamp_begin, "--timestamp-begin"),
                          timestamp_end=end)
    res = _update(ctx, lambda dbs, **kw: update_requests(
        dbs, sel, set_state=set_state, set_label=set_label, set_fault=set_fault, clear_fault=clear_fault,
        set_outProduct=set_out_product, set_outdir=set_outdir, set_uri=set_uri, set_name=set_name,
        set_username=set_username, set_reqType=set_req_type, ipp_semantics=as_pstamptool,
        action="pstamp-req.update", **kw), "pstamp-req update", dry_run=dry_run, yes=yes)
    _report_update(ctx, res, fmt, as_json, "updated")


@app.command("cleanup")
def cleanup_cmd(
    ctx: typer.Context,
    older_than: Annotated[Optional[str], typer.Option(
        "--older-than", metavar="AGE", help="Age of the last change (14d, 36h, 2w; bare number = days). "
                             "Default [pstamp] cleanup_older_than_days.", show_default=False)] = None,
    label: LabelOpt = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Stopped requests unchanged for longer than --older-than -> goto_cleaned
    (what the server's pstamp_queue_cleanup does)."""
    from mopstool.ops.pstamp.requests import cleanup_requests, parse_duration

    age = parse_duration(older_than if older_than is not None
                         else _pstamp_conf(ctx, "cleanup_older_than_days", 14))
    res = _update(ctx, lambda dbs, **kw: cleanup_requests(dbs, age, labels=label or [], **kw),
                  "pstamp-req cleanup", dry_run=dry_run, yes=yes)
    _report_update(ctx, res, fmt, as_json, "queued for cleanup")


@app.command("revert")
def revert_cmd(
    ctx: typer.Context,
    req_ids: Annotated[Optional[list[int]], typer.Argument(
        help="Only these requests (default: all eligible).", show_default=False)] = None,
    req_id_opt: Annotated[Optional[list[int]], typer.Option(
        "--id", help="Same as the REQ_IDS arguments.", show_default=False)] = None,
    old_req_id: Annotated[Optional[list[int]], old_spelling("--req-id", "--id")] = None,
    label: LabelOpt = None,
    state_: ReqStateOpt = None,
    fault: Annotated[Optional[int], typer.Option(
        "--fault", help="Revert this fault code only (also codes >= 10, which are otherwise final).",
        show_default=False)] = None,
    what: Annotated[Optional[list[str]], typer.Option(
        "--what", help="requests, jobs, dependents (repeat; default all three).", show_default=False)] = None,
    clear_fault_count: Annotated[bool, typer.Option(
        "--clear-fault-count", help="Also revert jobs/dependents that failed [pstamp] max_fault_count "
                                    "times, and zero their count.")] = False,
    as_pstamptool: Annotated[bool, typer.Option(
        "--as-pstamptool", help="Requests as pstamptool -revertreq: any fault is cleared and "
                                "timestamp is left alone.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Clear transient faults (< 10) of requests, jobs and dependents, like the server's
    periodic -revertreq / -revertjob / -revertdependent. Jobs and dependents that
    failed max_fault_count (5) times are left alone unless --clear-fault-count."""
    from mopstool.ops.pstamp.requests import RequestSelector, revert_all

    req_ids = list(req_ids or []) + list(renamed(req_id_opt, old_req_id, "--id", "--req-id") or [])
    kinds = [w.strip().lower() for item in (what or ["requests", "jobs", "dependents"])
             for w in item.split(",") if w.strip()]
    for k in kinds:
        if k not in ("requests", "jobs", "dependents"):
            raise UsageError(f"--what {k!r}: use requests, jobs or dependents")
    sel = RequestSelector(req_ids=req_ids or [], labels=label or [], states=state_ or [],
                          faults=[fault] if fault is not None and "requests" in kinds else [])
    max_count = int(_pstamp_conf(ctx, "max_fault_count", 5))
    dbs = state(ctx).dbs

    job_sel = RequestSelector(req_ids=req_ids or [], labels=label or [], states=state_ or [])
    if req_ids:
        from mopstool.ops.pstamp.requests import list_requests

        found = {r["req_id"] for r in list_requests(dbs, RequestSelector(req_ids=req_ids), with_jobs=False)}
        missing = sorted(set(req_ids) - found)
        if missing:
            raise DataError("no stamp request with req_id " + ", ".join(map(str, missing)))
    results = revert_all(dbs, kinds, sel, job_sel, fault=fault, max_fault_count=max_count,
                         clear_fault_count=clear_fault_count, dry_run=dry_run, as_pstamptool=as_pstamptool,
                         confirm=confirmer(ctx, "pstamp-req revert", yes=yes))
    rows = [r.to_dict() for r in results]
    emit_result(ctx, Listing([{"what": r["what"], "reverted": r["count"], "deleted_jobs": r["deleted_jobs"],
                               "by_fault": r["by_fault"], "left_at_max_fault_count": r["skipped_fault_count"],
                               "ids": r["reverted"][:20]} for r in rows], json=rows, title="revert"),
                fmt, as_json)
    info(("dry run: would revert " if dry_run else "reverted ")
         + ", ".join(f"{r.count} {r.what}" for r in results) + ("; nothing written" if dry_run else ""))


# ------------------------------------------------------------------ backlog
@app.command("backlog")
def backlog_cmd(
    ctx: typer.Context,
    label: LabelOpt = None,
    parse_limit: Annotated[Optional[int], typer.Option(
        "--parse-limit", help="Requests the server parses per cycle (default [pstamp] parse_limit, 20).",
        show_default=False)] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Exit 3 also when anything else is stuck (jobs waiting on image updates, "
                        "faults, requests waiting for the finisher).")] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What the stamp server still has to do, per label and state: requests waiting for the
    parser (against the parse limit, and which labels they are behind), jobs waiting on image
    updates (dependents), jobs ready to run, faults.

    Exit 3 when more requests wait for the parser than the parse limit (more than
    one parse cycle), and with --check when anything is stuck."""
    from mopstool.ops.pstamp.backlog import backlog

    limit = parse_limit if parse_limit is not None else int(_pstamp_conf(ctx, "parse_limit", 20))
    _fmt(ctx, fmt, as_json)
    b = backlog(state(ctx).dbs, parse_limit=limit, labels=label or [])
    emit_result(ctx, Report(b.to_dict(), [
        Table(b.rows, ("label", "state", "requests", "faulted", "wait_parse", "queue_position",
                       "parse_batches_before", "ahead", "jobs_wait_dependent", "jobs_wait_run", "jobs_faulted",
                       "jobs_done", "jobs_stopped_faulted", "wait_finish"),
              title=f"stamp backlog (parse queue {b.parse_queue}, parse limit {limit})"),
        Table(b.behind, title="parse queue: labels ahead", optional=True),
        Table(b.dependents, title="image updates (dependents) jobs wait for", optional=True),
        Table(b.faults, title="job faults in active requests", optional=True),
        Table([{"note": n} for n in b.notes], title="notes", optional=True)], csv=Table(b.rows)), fmt, as_json)
    if not b.rows:
        info("no active stamp requests")
    if check and b.problems:
        raise CheckFailed(f"stamp backlog: {len(b.notes)} problem(s)")
    if b.parse_queue > limit:
        raise CheckFailed(f"stamp backlog: {b.parse_queue} requests wait for the parser, more than "
                          f"the parse limit of {limit}")


# ------------------------------------------------------------------ request files
@app.command("create")
def create_cmd(
    ctx: typer.Context,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Request file to write (default <REQ_NAME>.fits).", show_default=False)] = None,
    req_name: Annotated[Optional[str], typer.Option(
        "--req-name", help="REQ_NAME, unique on the server (default: the output file name).",
        show_default=False)] = None,
    email: Annotated[Optional[str], typer.Option(
        "--email", help="EMAIL user@domain (default [pstamp] email).", show_default=False)] = None,
    action: Annotated[str, typer.Option("--action", help="PROCESS or PREVIEW.")] = "PROCESS",
    ra: Annotated[Optional[list[str]], typer.Option(
        "--ra", help="RA (deg or HH:MM:SS); repeat with --dec for several rows.", show_default=False)] = None,
    dec: Annotated[Optional[list[str]], typer.Option(
        "--dec", help="Dec (deg or DD:MM:SS).", show_default=False)] = None,
    from_table: Annotated[Optional[str], typer.Option(
        "--from", help="CSV/ECSV of rows (ra, dec, mjd, filter, size, comment or any request column).",
        show_default=False)] = None,
    mjd: Annotated[Optional[float], typer.Option(
        "--mjd", help="Observation MJD for --ra/--dec rows (MJD_MIN/MAX = MJD -/+ --mjd-window; 0: no date bound).",
        show_default=False)] = None,
    mjd_window: Annotated[Optional[float], typer.Option(
        "--mjd-window", help="Half width of the MJD window in days (default [pstamp] mjd_window).",
        show_default=False)] = None,
    filt: Annotated[Optional[str], typer.Option("--filter", help="REQFILT, e.g. w or w.00000.",
                                                show_default=False)] = None,
    size: Annotated[Optional[float], typer.Option(
        "--size", help="Stamp width = height (pixels; arcsec with --arcsec). Default 100.",
        show_default=False)] = None,
    arcsec: Annotated[bool, typer.Option("--arcsec", help="Sizes in arcseconds (COORD_MASK 0).")] = False,
    img_type: Annotated[Optional[str], typer.Option(
        "--img-type", help="IMG_TYPE: raw, chip, warp, diff, stack, stack_summary (default warp).",
        show_default=False)] = None,
    req_type: Annotated[Optional[str], typer.Option(
        "--req-type", help="REQ_TYPE (default bycoord).", show_default=False)] = None,
    project: Annotated[Optional[str], typer.Option("--project", help="PROJECT (default gpc1).",
                                                   show_default=False)] = None,
    survey: Annotated[Optional[str], typer.Option(
        "--survey", help="SURVEY_NAME, e.g. bypass for nightly data not in a release.",
        show_default=False)] = None,
    release: Annotated[Optional[str], typer.Option("--release", help="IPP_RELEASE.", show_default=False)] = None,
    data_group: Annotated[Optional[str], typer.Option("--data-group", help="DATA_GROUP (LIKE).",
                                                      show_default=False)] = None,
    tess_id: Annotated[Optional[str], typer.Option("--tess-id", help="TESS_ID.", show_default=False)] = None,
    run_type: Annotated[Optional[str], typer.Option("--run-type", help="RUN_TYPE.", show_default=False)] = None,
    options: Annotated[Optional[list[str]], typer.Option(
        "--options", help="OPTION_MASK by names (image,mask,variance,jpeg,uncompressed,do_not_wait,...) "
                          "or a number; repeat or comma-separate. Default image.", show_default=False)] = None,
    comment: Annotated[Optional[str], typer.Option("--comment", help="COMMENT for --ra/--dec rows.",
                                                   show_default=False)] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing file.")] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Write a PS1_PS_REQUEST version-2 request file from coordinates or a CSV/ECSV table
    (e.g. MOPS detections). The rows are checked like the server does before writing."""
    from pathlib import Path

    from mopstool.fits.request import (StampRequest, normalise_rows, option_mask, read_table_rows,
                                       record_mjd, rows_from_records, validate_request, write_request)

    if output is None and req_name is None:
        raise UsageError("give --req-name or --output")
    name = req_name or Path(output).name.removesuffix(".fits")
    out = Path(output) if output else Path(f"{name}.fits")
    mail = email or _pstamp_conf(ctx, "email", "") or None
    if not mail:
        raise UsageError("give --email user@domain (or set [pstamp] email in the config)")
    window = float(mjd_window if mjd_window is not None else _pstamp_conf(ctx, "mjd_window", 0.005))
    base: dict = {}
    for col, val in (("IMG_TYPE", img_type), ("REQ_TYPE", req_type), ("PROJECT", project),
                     ("SURVEY_NAME", survey), ("IPP_RELEASE", release), ("DATA_GROUP", data_group),
                     ("TESS_ID", tess_id), ("RUN_TYPE", run_type), ("REQFILT", filt)):
        if val is not None:
            base[col] = val
    if options:
        base["OPTION_MASK"] = option_mask(options) | 1
    records: list[dict] = []
    if from_table:
        records += read_table_rows(from_table)
    ra, dec = ra or [], dec or []
    if len(ra) != len(dec):
        raise UsageError("give as many --dec as --ra")
    given = [o for o, v in (("--mjd", mjd), ("--comment", comment)) if v is not None]
    if given and not ra:
        raise UsageError(f"{' and '.join(given)} apply to --ra/--dec rows; the rows of --from take "
                         "their own mjd and comment columns")
    for r, d in zip(ra, dec):
        rec = {"ra": r, "dec": d}
        if mjd is not None:
            rec["mjd"] = mjd
        if comment:
            rec["comment"] = comment
        records.append(rec)
    if not records:
        raise UsageError("no rows: give --ra/--dec or --from FILE")
    rows, notes = rows_from_records(records, base=base, mjd_window=window, size=size, arcsec=arcsec)
    if mjd_window is not None and not any(float(record_mjd(r) or 0) > 0 for r in records):
        raise UsageError("--mjd-window: no row has an MJD to put the window about (give --mjd or an mjd column)")
    for n in notes:
        info(n)
    req = StampRequest(req_name=name, email=mail, action=action.upper(), rows=normalise_rows(rows),
                       path=str(out))
    v = validate_request(req, projects=None)
    if not v.ok:
        for p in v.problems:
            info(f"row {p.row} (ROWNUM {p.rownum}): fault {p.fault} {p.name}: {p.message}")
        raise DataError(f"{len(v.problems)} row(s) would be rejected by the server; nothing written")
    for w in v.warnings:
        info(f"warning: {w}")
    path = write_request(req, out, overwrite=overwrite)
    info(f"wrote {path}: REQ_NAME {name}, {len(req.rows)} row(s)")
    summary = {"file": str(path), "req_name": name, "action": req.action, "email": mail,
               "rows": len(req.rows)}
    emit_result(ctx, Report(dict(summary, warnings=v.warnings), [Table(summary)]), fmt, as_json)


@app.command("validate")
def validate_cmd(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help="Request FITS file.", show_default=False)],
    project: Annotated[Optional[list[str]], typer.Option(
        "--project", help="Known PROJECT names (default [pstamp] projects; empty: PROJECT is not "
                          "checked, as only the server knows them); repeat.",
        show_default=False)] = None,
    check_db: Annotated[bool, typer.Option(
        "--check-db", help="Also check against the request database: known projects (pstampProject) "
                           "and REQ_NAME not already used (fault 20).")] = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check a request file like the server's parser: each bad row is listed with the fault
    code the server would give it (21 INVALID_REQUEST, 11, 22 ...). Exit 3 when any row is
    bad, 65 when the file is not a readable PS1_PS_REQUEST."""
    from mopstool.fits.request import read_request, validate_request

    req = read_request(file)
    projects: list[str] | None = list(project or _pstamp_conf(ctx, "projects", []) or []) or None
    existing = None
    if check_db:
        from mopstool.ops.pstamp.requests import request_names_and_projects

        names, known = request_names_and_projects(state(ctx).dbs, req.req_name)
        existing = names
        if known:
            projects = sorted(set(projects or ()) | set(known)) if project else known
    v = validate_request(req, projects=projects, existing_names=existing)
    emit_result(ctx, Report(v.to_dict(), [Table([p.to_dict() for p in v.problems],
                                                 ("row", "rownum", "fault", "fault_name", "problem"),
                                                 title="rows the server would reject")]), fmt, as_json)
    for w in v.warnings:
        info(f"warning: {w}")
    info(f"{file}: REQ_NAME {v.req_name}, {v.rows} row(s), "
         + ("ok" if v.ok else f"{v.bad_rows} bad row(s), {len(v.problems)} problem(s)"))
    if not v.ok:
        raise CheckFailed(f"{file}: the server would reject {len(v.problems)} row(s)/header item(s)")


# ------------------------------------------------------------------ local stamps
@app.command("cut")
def cut_cmd(
    ctx: typer.Context,
    images: Annotated[Optional[list[str]], typer.Argument(
        help="Uncompressed FITS images (with --request also directories).", show_default=False)] = None,
    ra: Annotated[Optional[list[float]], typer.Option("--ra", help="Centre RA (deg); repeat with --dec.",
                                                      show_default=False)] = None,
    dec: Annotated[Optional[list[float]], typer.Option("--dec", help="Centre Dec (deg).",
                                                       show_default=False)] = None,
    x: Annotated[Optional[list[float]], typer.Option(
        "--x", help="Pixel centre x, as ppstamp takes it (truncated to an integer; pixel i spans i..i+1); repeat with --y.", show_default=False)] = None,
    y: Annotated[Optional[list[float]], typer.Option("--y", help="Pixel centre y (as --x).",
                                                     show_default=False)] = None,
    size: Annotated[str, typer.Option(
        "--size", help="Width[xHeight], pixels, or arcsec with a trailing 'arcsec'/'\"' "
                       "(e.g. 100, 64x32, 30arcsec). 0 = whole image.")] = "100",
    request: Annotated[Optional[str], typer.Option(
        "--request", help="Cut every row of this request file instead.", show_default=False)] = None,
    images_dir: Annotated[Optional[list[str]], typer.Option(
        "--images", help="With --request: image files or directories to match rows against.",
        show_default=False)] = None,
    outdir: Annotated[Optional[str], typer.Option(
        "--outdir", metavar="DIR", help="Output directory (default: the current one).",
        show_default=False)] = None,
    old_outdir: Annotated[Optional[str], old_spelling("-o", "--outdir")] = None,
    name: Annotated[Optional[list[str]], typer.Option(
        "--name", help="Output base name per stamp (default from the centre).", show_default=False)] = None,
    hdu: Annotated[Optional[str], typer.Option("--hdu", help="Image HDU (index or EXTNAME).",
                                               show_default=False)] = None,
    mask: Annotated[Optional[str], typer.Option("--mask", help="Mask image (default: MASK extension "
                                                "or <base>.mk.fits).", show_default=False)] = None,
    variance: Annotated[Optional[str], typer.Option(
        "--variance", help="Variance image (default: VARIANCE extension or <base>.wt.fits).",
        show_default=False)] = None,
    planes: Annotated[str, typer.Option(
        "--planes", help="Planes to cut when present: image,mask,variance.")] = "image,mask,variance",
    compress: Annotated[str, typer.Option("--compress", help="none or rice.")] = "none",
    split: Annotated[bool, typer.Option(
        "--split", help="ppstamp file layout: <name>.fits, <name>.mk.fits, <name>.wt.fits.")] = False,
    offchip: Annotated[bool, typer.Option(
        "--center-off-chip", help="Cut even when the centre is off the image (partial overlap).")] = False,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", help="Cut in N processes on this node (default: the cores).",
        show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="Cut on the Dask distributed scheduler at ADDRESS "
                            "(host:port); needs the [dask] extra.", show_default=False)] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Cut stamps from uncompressed images exactly like ppstamp (its pixel convention and
    integer ROI, fill outside the image, 8000 px cap, WCS shifted, source header and pixel
    type carried, RA_DEG/DEC_DEG and HISTORY added). Reads only the rows of each stamp;
    each image's stamps are one task, split when there are fewer images than workers
    (--workers, --scheduler). Exit 3 when some stamp could not be
    made, 65 when an image given as an argument cannot be read."""
    from mopstool.fits.stamp import StampSpec
    from mopstool.ops.parallel import Execution
    from mopstool.ops.pstamp.cut import cut_images, cut_request

    outdir = renamed(outdir, old_outdir, "--outdir", "-o") or "."
    comp = None if compress.lower() in ("none", "") else compress.lower()
    if comp not in (None, "rice"):
        raise UsageError("--compress: none or rice")
    blank = int(_pstamp_conf(ctx, "mask_blank", 1))
    execution = Execution.from_options(workers, scheduler)
    from mopstool.cli.progress import progress_bar

    if request:
        from mopstool.fits.request import read_request

        req = read_request(request)
        sources = list(images or []) + list(images_dir or [])
        if not sources:
            raise UsageError("--request needs --images DIR (or image files)")
        with progress_bar(fmt=_fmt(ctx, fmt, as_json)) as progress:
            results = cut_request(req, sources, outdir, compress=comp, split=split, allow_offchip=offchip,
                                  mask_blank=blank, execution=execution, progress=progress)
    else:
        if images_dir:
            raise UsageError("--images goes with --request; give the images as arguments")
        if not images:
            raise UsageError("give an IMAGE, or --request FILE --images DIR")
        w, h, arc = _parse_size(size)
        want = tuple(p.strip().lower() for p in planes.split(",") if p.strip())
        specs = []
        ra, dec, x, y = ra or [], dec or [], x or [], y or []
        if len(ra) != len(dec) or len(x) != len(y):
            raise UsageError("give --ra with --dec and --x with --y, as many of each")
        for r, d in zip(ra, dec):
            specs.append(StampSpec(ra=r, dec=d, width=w, height=h, arcsec=arc, planes=want, compress=comp))
        for a, b in zip(x, y):
            specs.append(StampSpec(x=a, y=b, width=w, height=h, arcsec=arc, planes=want, compress=comp))
        if not specs:
            raise UsageError("give --ra/--dec or --x/--y (or --size 0 with --x 0 --y 0 for the whole image)")
        if name:
            if len(name) != len(specs):
                raise UsageError("give one --name per stamp")
            for s, n in zip(specs, name):
                s.name = n
        with progress_bar(fmt=_fmt(ctx, fmt, as_json)) as progress:
            results = cut_images(list(images), specs, outdir, split=split, allow_offchip=offchip,
                                 mask_blank=blank, hdu=hdu, mask=mask, variance=variance,
                                 execution=execution, progress=progress)
    from mopstool.stages.vocab import fault_meaning

    rows = []
    for r in results:
        d = r.to_dict()
        d["fault_meaning"] = fault_meaning(r.fault, pstamp=True) if r.fault else ""
        rows.append(d)
    fmt_ = _fmt(ctx, fmt, as_json)
    emit_result(ctx, Listing(rows, title="stamps",
                             columns=None if fmt_ != "table" else ("rownum", "name", "fault", "fault_meaning",
                                                                   "x0", "y0", "width", "height", "partial",
                                                                   "path", "message")), fmt, as_json)
    bad = [r for r in results if r.fault]
    info(f"{len(results) - len(bad)} stamp(s) written to {outdir}" + (f", {len(bad)} failed" if bad else ""))
    if bad:
        raise CheckFailed(f"{len(bad)} stamp(s) could not be made")


def _parse_size(text: str) -> tuple[float, float, bool]:
    t = text.strip().lower().replace(" ", "")
    arc = False
    for suffix in ("arcsec", '"', "as"):
        if t.endswith(suffix):
            t, arc = t[: -len(suffix)], True
            break
    for suffix in ("px", "pix", "pixels"):
        if t.endswith(suffix):
            t = t[: -len(suffix)]
            break
    try:
        if "x" in t:
            a, b = t.split("x", 1)
            return float(a), float(b), arc
        return float(t), float(t), arc
    except ValueError:
        raise UsageError(f"invalid --size {text!r}: use e.g. 100, 64x32 or 30arcsec") from None


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="pstamp-req")
