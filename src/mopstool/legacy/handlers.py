"""What each legacy mode does: the same ops calls as the modern commands.

A handler takes (call, dbs, note) and returns (rows, MDC types) to print, or
None when the C tool prints nothing. *note* sends a line to stderr.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mopstool.errors import NotFound
from mopstool.legacy.call import LegacyCall, LegacyError

if TYPE_CHECKING:   # the table of modes imports this module: SQLAlchemy only when a mode runs
    from mopstool.db import Databases

STAGE = {"chiptool": "chip", "warptool": "warp", "difftool": "diff"}
ID_OPT = {"chip": "chip_id", "warp": "warp_id", "diff": "diff_id"}


def _audit(call: LegacyCall) -> dict:
    return {"legacy": call.command_line}


def _ids(call: LegacyCall, name: str) -> list:
    return call.values(name)


# ------------------------------------------------------------------ listings

def _reader(name: str):
    """A handler running ``listing.<name>(conn, call)`` (imported when it runs)."""
    def handler(call: LegacyCall, dbs: Databases, note):
        from mopstool.legacy import listing

        with dbs.connect(pstamp_db=call.tool == "pstamptool") as conn:
            return getattr(listing, name)(conn, call)
    handler.__name__ = name
    return handler


chip_listrun = _reader("chip_listrun")
warp_listrun = _reader("warp_listrun")
diff_listrun = _reader("diff_listrun")
chip_pendingcleanuprun = _reader("chip_pendingcleanuprun")
warp_pendingcleanuprun = _reader("warp_pendingcleanuprun")
chip_processedimfile = _reader("chip_processedimfile")
chip_donecleanup = _reader("chip_donecleanup")
warp_scmap = _reader("warp_scmap")
listjob = _reader("listjob")
diff_pendingcleanuprun = _reader("diff_pendingcleanuprun")


def chip_pendingcleanupimfile(call: LegacyCall, dbs: Databases, note):
    """chiptool -pendingcleanupimfile (-exp_id is accepted and never applied by chiptool)."""
    if call.has("exp_id"):
        note("chiptool: -exp_id is ignored, as chiptool -pendingcleanupimfile ignores it")
    return _reader("chip_pendingcleanupimfile")(call, dbs, note)


def _ignored(call: LegacyCall, note, *names: str, why: str = "") -> None:
    for n in names:
        if call.has(n):
            note(f"{call.tool}: -{n} is ignored{why}, as {call.tool} -{call.mode} ignores it")


def listreq(call: LegacyCall, dbs: Databases, note):
    from mopstool.legacy import listing

    with dbs.connect(pstamp_db=True) as conn:
        return listing.listreq(conn, call, request_selector(call))


# ------------------------------------------------------------------ definebyquery

def _no_wildcards(call: LegacyCall, *names: str) -> None:
    """warptool compares these with '=': a value with LIKE wildcards would widen
    the modern LIKE selection, so it is refused."""
    for n in names:
        for v in call.values(n):
            if "%" in str(v) or "_" in str(v):
                raise LegacyError(f"warptool -definebyquery: -{n} {v!r}: warptool compares -{n} with '=' "
                                  f"and mopstool with LIKE; a value with % or _ is not accepted here")


def define_selection(call: LegacyCall):
    from mopstool.legacy import listing
    from mopstool.ops.runs.define import DefineSelection

    o = call.opts
    stage = STAGE[call.tool]
    if stage == "warp":
        _no_wildcards(call, "filter", "object", "label", "reduction")
    terms = [t for t in listing.rawexp_terms(call)
             if t[0] not in ("exp_id", "exp_name", "dateobs", "filter", "object", "obs_mode", "exp_type")
             and not (t[0] == "comment" and t[1] == "LIKE")]
    return DefineSelection(
        exp_names=call.values("exp_name"), exp_ids=call.values("exp_id"),
        dateobs_begin=o.get("dateobs_begin"), dateobs_end=o.get("dateobs_end"),
        filters=call.values("filter"), obs_modes=call.values("obs_mode"),
        objects=call.values("object"), comments=call.values("comment"),
        exp_type=o.get("exp_type", "object" if stage == "chip" else None),
        labels=call.values("label"), unique=bool(o.get("unique")), limit=o.get("limit"),
        all=bool(o.get("all")), fake_ids=call.values("fake_id"), cam_ids=call.values("cam_id"),
        chip_ids=call.values("chip_id"), reductions=call.values("reduction"), raw_terms=terms)


SETTERS = ("set_label", "set_workdir", "set_data_group", "set_dist_group", "set_tess_id",
           "set_end_stage", "set_reduction", "set_expgroup", "set_dvodb", "set_note")


def definebyquery(call: LegacyCall, dbs: Databases, note):
    """chiptool/warptool -definebyquery: nothing printed; -pretend prints the
    selection as rawExp blocks (chip: rawExp.* and newExp.label; warp: the rows of
    warptool_definebyquery.sql, fakeRun.* with the chip_id and rawExp columns)."""
    from mopstool.legacy import listing
    from mopstool.ops.runs.define import DefineSetters

    stage = STAGE[call.tool]
    if stage == "chip":
        for req in ("set_workdir", "set_label"):
            if not call.has(req):
                raise LegacyError(f"chiptool -definebyquery: -{req} is required")
    if call.has("registered"):
        note("warptool: -registered is ignored, as warptool -definebyquery ignores it")
    setters = DefineSetters(**{k[4:]: call.opts[k] for k in SETTERS if k in call.opts})
    pretend = bool(call.get("pretend"))
    res = _define(call, dbs, note, define_selection(call), setters, stage=stage, dry_run=pretend)
    if res is None or not pretend:
        return None
    with dbs.connect() as conn:
        if stage == "chip":
            return listing.rawexp_rows(conn, [r["exp_id"] for r in res.runs])
        return listing.fakerun_rows(conn, [r["fake_id"] for r in res.runs])


def definecopy(call: LegacyCall, dbs: Databases, note):
    """chiptool -definecopy (chiptool_definecopy.sql + queue_exposures): one chip run
    per exposure reached through a matching old chip run (-label, -data_group LIKE,
    -state =, and the rawExp selectors), skipping exposures that have a run with
    -set_label; nothing printed; -pretend prints the selected rows."""
    from dataclasses import replace

    from mopstool.db import schema
    from mopstool.legacy.output import column_types
    from mopstool.ops.runs.define import CopyOf, DefineSetters, copy_rows

    if not call.has("set_label"):
        raise LegacyError("chiptool -definecopy: -set_label is required")
    sel = replace(define_selection(call), labels=[], unique=False, limit=None,
                  copy_of=CopyOf(labels=call.values("label"), data_groups=call.values("data_group"),
                                 state=call.get("state")))
    if not sel.has_terms() and not sel.all:
        raise LegacyError("chiptool -definecopy: search parameters are required")
    if call.get("pretend"):
        with dbs.connect() as conn:
            rows = copy_rows(conn, sel, call.get("set_label"))
        for r in rows:
            del r["old_chip_id"]
        types = column_types([*schema.rawExp.c, schema.newExp.c.label])
        types.update(old_workdir="STR", old_data_group="STR", old_state="STR")
        return rows, types
    setters = DefineSetters(**{k[4:]: call.opts[k] for k in SETTERS if k in call.opts})
    _define(call, dbs, note, sel, setters, stage="chip", dry_run=False)
    return None


def _define(call: LegacyCall, dbs: Databases, note, sel, setters, *, stage: str, dry_run: bool):
    """define_runs for a legacy definition mode: the exposures not defined or
    skipped said on stderr; no match is success with no output, as in C (None)."""
    from mopstool.ops.runs.define import define_runs

    try:
        res = define_runs(dbs, sel, setters, stage=stage, dry_run=dry_run, audit_detail=_audit(call))
    except NotFound as exc:   # C: "no rows found" is success with no output
        note(f"{call.tool}: {exc.message}")
        return None
    for u in res.unmatched:
        note(f"{call.tool}: not defined: {u.get('exp_name') or u.get('exp_id')}: {u['reason']}")
    for s in res.skipped:
        note(f"{call.tool}: skipped: {s['exp_name']}: {s['reason']}")
    return res


# ------------------------------------------------------------------ run changes

def updaterun(call: LegacyCall, dbs: Databases, note):
    from mopstool.ops.runs.manage import RunSetters, update_runs
    from mopstool.ops.select import RunFilter

    stage = STAGE[call.tool]
    flt = RunFilter(ids=_ids(call, ID_OPT[stage]), labels=call.values("label"),
                    states=call.values("state"), data_groups=call.values("data_group"),
                    dist_groups=call.values("dist_group"))
    setters = RunSetters(state=call.get("set_state"), label=call.get("set_label"),
                         data_group=call.get("set_data_group"), dist_group=call.get("set_dist_group"),
                         note=call.get("set_note"))
    plan = update_runs(dbs, stage, flt, setters, dry_run=bool(call.get("pretend")),
                       audit_detail=_audit(call))
    note(f"{call.tool} -updaterun: {plan.total} {stage} runs "
         f"{'would change' if plan.dry_run else 'changed'}")
    return None


def setupdate(call: LegacyCall, dbs: Databases, note):
    from mopstool.ops.runs.manage import set_update

    stage = STAGE[call.tool]
    idc = ID_OPT[stage]
    if not call.has(idc):
        raise LegacyError(f"{call.tool} -{call.mode}: -{idc} is required")
    comp = call.get("class_id") or call.get("skycell_id")
    kw = {"update_mode": int(call.get("set_update_mode", 0))} if stage == "chip" else {}
    res = set_update(dbs, stage, [call.opts[idc]], components=[comp] if comp else None,
                     set_label=call.get("set_label"), audit_detail=_audit(call), **kw)
    for c in res.skipped:
        note(f"{call.tool}: {c.get('component')}: {c.get('reason')}")
    return None


def revert_filter(call: LegacyCall, dbs: Databases):
    """The RevertFilter of a revert mode. The C tools compare -label with '='
    there: the labels are resolved to the run ids they name exactly (None when
    they name no run)."""
    from sqlalchemy import select

    from mopstool.db import schema
    from mopstool.legacy import listing
    from mopstool.ops.runs.manage import RevertFilter
    from mopstool.stages import State, get_stage

    stage = STAGE[call.tool]
    idc = ID_OPT[stage]
    ids = _ids(call, idc)
    if call.has("label"):
        run = schema.table(get_stage(stage).run_table)
        q = (select(run.c[idc]).where(listing.eq_or(run.c.label, call.values("label")),
                                      run.c.state.in_((State.NEW, State.UPDATE))).order_by(run.c[idc]))
        if ids:
            q = q.where(run.c[idc].in_(ids))
        with dbs.connect() as conn:
            ids = [int(i) for i in conn.execute(q).scalars()]
        if not ids:
            return None
    comp = call.get("class_id") or call.get("skycell_id")
    return RevertFilter(ids=ids, faults=_ids(call, "fault"), components=[comp] if comp else [],
                        all=bool(call.get("all")))


def revertoverlap(call: LegacyCall, dbs: Databases, note):
    """warptool -revertoverlap: delete the faulted overlap rows of new warp runs."""
    from dataclasses import replace

    from mopstool.legacy import modern
    from mopstool.ops.runs.manage import revert as revert_components

    flt = revert_filter(call, dbs)
    if call.has("label") and flt is not None:
        note(f"# modern equivalent: {modern.render(call, modern.revertoverlap(call, flt.ids))}")
    if flt is None:
        note("warptool -revertoverlap: no run in state new or update has that label")
        return None
    if not flt.has_terms() and not flt.all:
        raise LegacyError("warptool -revertoverlap: search parameters are required (or -all)")
    res = revert_components(dbs, "warp", replace(flt, components=["overlap"]), gone_in_new_runs=True,
                            audit_detail=_audit(call))
    note(f"warptool -revertoverlap: {res.rows.get('warpSkyCellMap', 0)} overlap rows deleted")
    return None


def drop(call: LegacyCall, dbs: Databases, note):
    """chiptool -dropprocessedimfile."""
    from mopstool.ops.runs.components import drop_imfiles

    if not call.get("set_quality"):
        raise LegacyError("chiptool -dropprocessedimfile: non-zero quality value is required")
    if not call.has("chip_id") and not call.has("cam_id"):
        raise LegacyError("chiptool -dropprocessedimfile: -chip_id (or -cam_id) and -class_id are required")
    if not call.has("class_id"):
        raise LegacyError("chiptool -dropprocessedimfile: -class_id is required")
    try:
        drop_imfiles(dbs, chip_ids=call.values("chip_id"), cam_ids=call.values("cam_id"),
                     class_ids=call.values("class_id"), quality=int(call.get("set_quality")),
                     audit_detail=_audit(call))
    except NotFound as exc:   # the C UPDATE simply changes no row
        note(f"chiptool: {exc.message}")
    return None


def block(call: LegacyCall, dbs: Databases, note):
    """-block / -unblock: the stage's block table (chipMask, warpMask)."""
    from mopstool.ops.runs.labels import block_labels, unblock_labels

    if not call.has("label"):
        raise LegacyError(f"{call.tool} -{call.mode}: -label is required")
    fn = block_labels if call.mode == "block" else unblock_labels
    plan = fn(dbs, [call.get("label")], [STAGE[call.tool]])
    for n in plan.notes:
        note(f"{call.tool}: {n}")
    return None


def revert(call: LegacyCall, dbs: Databases, note):
    """-revertprocessedimfile / -revertwarped / -revertdiffskyfile, as C: faulted
    components of new runs deleted (fault 26 too), update runs' faults cleared
    (26 only with -fault 26); -revertwarped leaves overlap rows alone."""
    from mopstool.ops.runs.manage import revert as revert_components

    from mopstool.legacy import modern

    stage = STAGE[call.tool]
    flt = revert_filter(call, dbs)
    if call.has("label") and flt is not None:
        note(f"# modern equivalent: {modern.render(call, modern.revert(call, flt.ids))}")
    if flt is None:
        note(f"{call.tool} -{call.mode}: no run in state new or update has that label")
        return None
    if not flt.has_terms() and not flt.all:
        raise LegacyError(f"{call.tool} -{call.mode}: search parameters are required (or -all)")
    res = revert_components(dbs, stage, flt, gone_in_new_runs=True, overlaps=False,
                            audit_detail=_audit(call))
    note(f"{call.tool} -{call.mode}: {res.total} rows {'would change' if res.dry_run else 'changed'}")
    return None


# ------------------------------------------------------------------ pstamptool

def request_selector(call: LegacyCall):
    from mopstool.ops.pstamp.requests import RequestSelector

    o = call.opts
    return RequestSelector(
        req_ids=_ids(call, "req_id"), not_req_ids=_ids(call, "not_req_id"),
        req_id_max=o.get("req_id_max"), states=call.values("state"), labels=call.values("label"),
        names=call.values("name"), usernames=call.values("username"), faults=_ids(call, "fault"),
        req_types=call.values("reqType"), timestamp_begin=o.get("timestamp_begin"),
        timestamp_end=o.get("timestamp_end"))


REQ_SETTERS = ("set_state", "set_label", "set_outProduct", "set_outdir", "set_uri", "set_name",
               "set_username", "set_reqType")


def updatereq(call: LegacyCall, dbs: Databases, note):
    from mopstool.ops.pstamp.requests import update_requests

    o = call.opts
    sel = request_selector(call)
    fault = o.get("set_fault")
    if not any(k in o for k in REQ_SETTERS) and not fault and not o.get("clearfault"):
        raise LegacyError("pstamptool -updatereq: at least one set option is required", 1)
    if sel.is_empty():
        raise LegacyError("pstamptool -updatereq: search parameters are required")
    if fault and o.get("clearfault"):
        raise LegacyError("pstamptool -updatereq: only one of -fault and -clearfault is allowed")
    res = update_requests(
        dbs, sel, set_state=o.get("set_state"), set_label=o.get("set_label"),
        set_fault=fault or None, clear_fault=bool(o.get("clearfault")),
        set_outProduct=o.get("set_outProduct"), set_outdir=o.get("set_outdir"),
        set_uri=o.get("set_uri"), set_name=o.get("set_name"), set_username=o.get("set_username"),
        set_reqType=o.get("set_reqType"), ipp_semantics=True, action="pstamptool.updatereq")
    for sk in res.skipped:
        note(f"pstamptool: req_id {sk.get('req_id')}: {sk.get('reason')}")
    note(f"pstamptool -updatereq: {res.count} requests changed")
    return None


def revertreq(call: LegacyCall, dbs: Databases, note):
    from mopstool.ops.pstamp.requests import revert_requests

    sel = request_selector(call)
    if sel.is_empty():
        raise LegacyError("pstamptool -revertreq: search parameters are required")
    res = revert_requests(dbs, sel, max_fault=None, touch_timestamp=False)
    note(f"pstamptool -revertreq: {res.count} requests changed")
    return None


def revertjob(call: LegacyCall, dbs: Databases, note):
    """pstamptool -revertjob: clear the fault of 'run' jobs of 'run' requests; faults
    < 10 unless -fault, fault_count < 5 unless -clear_fault_count (which zeroes it)."""
    from mopstool.ops.pstamp.requests import RequestSelector, revert_jobs
    from mopstool.stages.vocab import PSTAMP_MAX_FAULT_COUNT

    sel = RequestSelector(req_ids=_ids(call, "req_id"), labels=call.values("label"))
    if sel.is_empty() and not call.has("fault") and not call.get("all"):
        raise LegacyError("pstamptool -revertjob: search parameters or -all are required")
    if call.has("limit"):
        note("pstamptool: -limit is ignored, as pstamptool -revertjob ignores it")
    res = revert_jobs(dbs, sel, fault=call.get("fault"), max_fault_count=PSTAMP_MAX_FAULT_COUNT,
                      clear_fault_count=bool(call.get("clear_fault_count")))
    note(f"pstamptool -revertjob: {res.count} jobs changed")
    return None


# ------------------------------------------------------------------ component setters

def _set_components(call: LegacyCall, dbs: Databases, note, values: dict, *, require_change: bool,
                    roll_up: bool = False):
    from mopstool.ops.runs.components import set_components

    stage = STAGE[call.tool]
    idc, comp = ID_OPT[stage], ("class_id" if stage == "chip" else "skycell_id")
    ids = [call.get(idc)] if call.nonzero(idc) is not None else []
    comps = [call.get(comp)] if call.has(comp) else []
    if not ids and not comps:
        raise LegacyError(f"{call.tool} -{call.mode}: search parameters are required", 1)
    try:
        res = set_components(dbs, stage, ids=ids, components=comps, values=values,
                             require_change=require_change, roll_up=roll_up, audit_detail=_audit(call))
    except NotFound as exc:
        raise LegacyError(f"{call.tool} -{call.mode}: {exc.message}", 1) from None
    note(f"{call.tool} -{call.mode}: {sum(res.rows.values())} rows changed")
    return None


def updateprocessedimfile(call: LegacyCall, dbs: Databases, note):
    """chiptool -updateprocessedimfile: without -set_state, fault (required) and a
    non-zero -set_quality (pxSetFaultCode; no change is an error); with -set_state,
    the data_state (-fault and -set_quality are then ignored, as chiptool does)."""
    from mopstool.stages import get_stage

    if call.has("set_state"):
        _ignored(call, note, "fault", "set_quality", why=" with -set_state")
        state = get_stage("chip").validate_state(call.get("set_state"))
        return _set_components(call, dbs, note, {"data_state": state}, require_change=False)
    return _set_fault(call, dbs, note, "chiptool -updateprocessedimfile")


def _set_fault(call: LegacyCall, dbs: Databases, note, mode: str):
    """The components' fault (-fault, required) and a non-zero -set_quality."""
    if not call.has("fault"):
        raise LegacyError(f"{mode}: -fault is required")
    values = {"fault": int(call.get("fault"))}
    if call.get("set_quality"):
        values["quality"] = int(call.get("set_quality"))
    return _set_components(call, dbs, note, values, require_change=True)


def updateskyfile(call: LegacyCall, dbs: Databases, note):
    """warptool -updateskyfile: -set_background_model (alone); else without
    -set_state the fault (required) and a non-zero -set_quality; else an
    error_cleaned/error_scrubbed/error_purged data_state, which the run takes once
    all its quality-0 skyfiles have it."""
    from mopstool.stages import ERROR_CLEANUP_STATES

    if call.get("set_background_model"):
        _ignored(call, note, "fault", "set_quality", "set_state", why=" with -set_background_model")
        return _set_components(call, dbs, note, {"background_model": int(call.get("set_background_model"))},
                               require_change=True)
    if call.has("set_state"):
        _ignored(call, note, "fault", "set_quality", why=" with -set_state")
        state = call.get("set_state")
        if state not in {str(s) for s in ERROR_CLEANUP_STATES}:
            raise LegacyError(f"warptool -updateskyfile: unhandled state given: {state!r}", 1)
        if call.nonzero("warp_id") is None or not call.has("skycell_id"):
            raise LegacyError("warptool -updateskyfile: -warp_id and -skycell_id are required with -set_state")
        return _set_components(call, dbs, note, {"data_state": state}, require_change=False, roll_up=True)
    return _set_fault(call, dbs, note, "warptool -updateskyfile")


def revertcleanup(call: LegacyCall, dbs: Databases, note):
    """chiptool -revertcleanup: error_cleaned (-state error_purged, error_scrubbed)
    imfiles back to full, their runs to goto_cleaned (goto_purged, goto_scrubbed)."""
    from mopstool.ops.runs.components import revert_cleanup
    from mopstool.stages import ERROR_CLEANUP_STATES, State

    _ignored(call, note, "fault")
    state = call.get("state", State.ERROR_CLEANED)
    if state not in {str(s) for s in ERROR_CLEANUP_STATES}:
        raise LegacyError("chiptool -revertcleanup: -state must be either error_cleaned, error_purged, "
                          "or error_scrubbed")
    ids = [call.get("chip_id")] if call.nonzero("chip_id") is not None else []
    if not ids and not call.has("label") and not call.has("data_group"):
        raise LegacyError("chiptool -revertcleanup: search parameters are required")
    res = revert_cleanup(dbs, "chip", ids=ids, labels=call.values("label"),
                         data_groups=call.values("data_group"), state=state, audit_detail=_audit(call))
    note(f"chiptool -revertcleanup: {sum(res.rows.values())} rows changed")
    return None


def updatejob(call: LegacyCall, dbs: Databases, note):
    """pstamptool -updatejob."""
    from mopstool.errors import UsageError
    from mopstool.ops.pstamp.requests import update_jobs

    _ignored(call, note, "limit")
    nz = {n: ([call.nonzero(n)] if call.nonzero(n) is not None else [])
          for n in ("job_id", "req_id", "dep_id", "fault")}
    try:
        res = update_jobs(dbs, job_ids=nz["job_id"], req_ids=nz["req_id"], dep_ids=nz["dep_id"],
                          faults=nz["fault"], states=call.values("state"), labels=call.values("label"),
                          min_fault_count=call.nonzero("fault_count"), set_state=call.get("set_state"),
                          set_fault=call.nonzero("set_fault"), audit_detail=_audit(call))
    except UsageError as exc:
        raise LegacyError(f"pstamptool -updatejob: {exc.message}", 1) from None
    note(f"pstamptool -updatejob: Updated {res.rows.get('pstampJob', 0)} pstampJobs")
    return None


def updatedependent(call: LegacyCall, dbs: Databases, note):
    """pstamptool -updatedependent."""
    from mopstool.errors import UsageError
    from mopstool.ops.pstamp.requests import update_dependent

    if call.nonzero("dep_id") is None:
        raise LegacyError("pstamptool -updatedependent: -dep_id is required")
    try:
        update_dependent(dbs, call.get("dep_id"), set_state=call.get("set_state"),
                         set_fault=call.nonzero("set_fault"), audit_detail=_audit(call))
    except (UsageError, NotFound) as exc:
        raise LegacyError(f"pstamptool -updatedependent: {exc.message}", 1) from None
    return None


# ------------------------------------------------------------------ diff definition

#: difftool -definewarpwarp selectors: option -> (side, column, op)
WARPWARP_TERMS = {"warp_id": ("input", "warp_id", "="), "exp_id": ("input", "exp_id", "="),
                  "template_exp_id": ("template", "exp_id", "="),
                  "template_warp_id": ("template", "warp_id", "="),
                  "filter": ("input", "filter", "="), "input_label": ("input", "label", "="),
                  "template_label": ("template", "label", "="),
                  "dateobs_begin": ("input", "dateobs", ">="), "dateobs_end": ("input", "dateobs", "<="),
                  "input_comment": ("input", "comment", "LIKE"),
                  "template_comment": ("template", "comment", "LIKE")}


def definewarpwarp(call: LegacyCall, dbs: Databases, note):
    """difftool -definewarpwarp: prints the defined diffRuns (diffRunPrintObjects);
    -pretend prints the selected pairs as diffRun blocks and writes nothing."""
    from mopstool.db import schema
    from mopstool.legacy.output import column_types
    from mopstool.ops.nightly.diffwrites import WW_RANGE_COLUMNS, WarpWarpQuery, WarpWarpSetters, define_warpwarp
    from mopstool.util import utcnow

    if not call.has("set_workdir"):
        raise LegacyError("difftool -definewarpwarp: -set_workdir is required")
    terms = [(*WARPWARP_TERMS[k], call.get(k)) for k in WARPWARP_TERMS if call.nonzero(k) is not None]
    if call.has("obs_mode"):
        terms += [("input", "obs_mode", "=", call.get("obs_mode")),
                  ("template", "obs_mode", "=", call.get("obs_mode"))]
    for col in WW_RANGE_COLUMNS:
        for suffix, op in (("_min", ">="), ("_max", "<")):
            if call.has(col + suffix):
                terms.append(("input", col, op, call.get(col + suffix)))
    q = WarpWarpQuery(terms=terms, rotdiff=call.get("rotdiff"), timediff=call.get("timediff"),
                      mintimediff=call.get("mintimediff"), distance=call.get("distance"),
                      backwards=bool(call.get("backwards")), rerun=bool(call.get("rerun")),
                      good_frac=call.get("good_frac"))
    setters = WarpWarpSetters(workdir=call.get("set_workdir"), label=call.get("set_label"),
                              reduction=call.get("set_reduction"), data_group=call.get("set_data_group"),
                              dist_group=call.get("set_dist_group"), note=call.get("set_note"),
                              registered=call.get("set_registered") or utcnow().replace(microsecond=0),
                              bothways=not call.get("not-bothways"))
    pretend = bool(call.get("pretend"))
    res = define_warpwarp(dbs, q, setters, limit=call.get("limit") or None, dry_run=pretend,
                          audit_detail=_audit(call))
    if pretend:
        return res.selected, {"input_warp_id": "S64", "tess_id": "STR", "input_exp_id": "S64",
                              "input_data_group": "STR", "template_warp_id": "STR"}
    if not res.applied or not res.runs:
        return None
    dr = schema.diffRun
    shown = []
    for run, inputs in zip(res.runs, res.inputs):
        row = {c.name: run.get(c.name) for c in dr.columns}
        if inputs[0]["skycell_id"] is None:     # the printed object keeps the given dist_group and note
            row.update(dist_group=setters.dist_group, note=setters.note)
        for c in ("maskfrac_static", "maskfrac_dynamic", "maskfrac_magic", "maskfrac_advisory"):
            row[c] = None
        shown.append(row)
    return shown, column_types(dr.columns)


#: difftool -definewarpstack selectors: option -> (table, column, op)
WARPSTACK_TERMS = {"exp_id": ("rawExp", "exp_id", "="), "filter": ("rawExp", "filter", "="),
                   "comment": ("rawExp", "comment", "LIKE"), "warp_id": ("warpRun", "warp_id", "="),
                   "warp_label": ("warpRun", "label", "="), "tess_id": ("warpRun", "tess_id", "="),
                   "data_group": ("warpRun", "data_group", "="),
                   "skycell_id": ("warpSkyfile", "skycell_id", "="),
                   "good_frac": ("warpSkyfile", "good_frac", ">="),
                   "stack_label": ("stackRun", "label", "="), "stack_data_group": ("stackRun", "data_group", "="),
                   "ra_min": ("rawExp", "ra", ">="), "ra_max": ("rawExp", "ra", "<="),
                   "dec_min": ("rawExp", "decl", ">="), "dec_max": ("rawExp", "decl", "<=")}


def definewarpstack(call: LegacyCall, dbs: Databases, note):
    """difftool -definewarpstack: prints the defined diffRuns as difftool builds them
    (state 'reg', diffRunPrintObjects); -pretend prints the selected pairs."""
    from mopstool.db import schema
    from mopstool.legacy.output import column_types
    from mopstool.ops.nightly.diffwrites import WarpStackQuery, WarpWarpSetters, define_warpstack
    from mopstool.util import utcnow

    for req in ("set_workdir", "set_label"):
        if not call.has(req):
            raise LegacyError(f"difftool -definewarpstack: -{req} is required")
    _ignored(call, note, "available")
    terms = []
    for k, term in WARPSTACK_TERMS.items():
        v = call.nonzero(k) if k in ("exp_id", "warp_id") else call.get(k)   # an id 0 selects nothing
        if v is not None:
            terms.append((*term, v))
    if not terms:
        # difftool then builds "AND AND ..." and fails with a database error (exit 1)
        raise LegacyError("difftool -definewarpstack: search parameters are required", 1)
    q = WarpStackQuery(terms=terms, rerun=bool(call.get("rerun") or call.get("new-templates")),
                       lap=bool(call.get("lap_query")))
    data_group = call.get("set_data_group")
    setters = WarpWarpSetters(workdir=call.get("set_workdir"), label=call.get("set_label"),
                              reduction=call.get("set_reduction"),
                              data_group=data_group if data_group is not None else call.get("data_group"),
                              dist_group=call.get("set_dist_group"), note=call.get("set_note"),
                              registered=call.get("set_registered") or utcnow().replace(microsecond=0),
                              bothways=bool(call.get("bothways")))
    pretend = bool(call.get("pretend"))
    res = define_warpstack(dbs, q, setters, dry_run=pretend, audit_detail=_audit(call))
    if pretend:
        return res.selected, {"exp_id": "S64", "warp_id": "S64", "filter": "STR", "warpLabel": "STR",
                              "warpDataGroup": "STR", "tess_id": "STR", "skycell_id": "STR", "stack_id": "S64",
                              "stackLabel": "STR", "stackDataGroup": "STR", "diff_id": "S64",
                              "diffLabel": "STR"}
    if not res.applied or not res.runs:
        return None
    dr = schema.diffRun
    shown = []
    for run in res.runs:
        row = {c.name: run.get(c.name) for c in dr.columns}
        row["state"] = "reg"      # difftool prints the object it inserted, before setting it 'new'
        for c in ("maskfrac_static", "maskfrac_dynamic", "maskfrac_magic", "maskfrac_advisory"):
            row[c] = None
        shown.append(row)
    return shown, column_types(dr.columns)
