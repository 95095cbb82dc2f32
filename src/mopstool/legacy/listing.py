"""Read-only listings of the legacy front, with the C tools' columns and order.

Each function takes a connection and a LegacyCall and returns (rows, MDC types).
Selections are parameterized; LIKE options keep the user's '%' wildcards.
"""

from __future__ import annotations

from sqlalchemy import and_, func, literal, or_, select

from mopstool.db import schema
from mopstool.legacy.call import RAWEXP_TERMS, LegacyCall, LegacyError
from mopstool.legacy.output import column_types
from mopstool.stages import State

CLEANUP_GOTO = (State.GOTO_CLEANED, State.GOTO_SCRUBBED, State.GOTO_PURGED)


def rawexp_terms(call: LegacyCall) -> list[tuple[str, str, object]]:
    """(column, op, value) for every rawExp option given (values already converted)."""
    return [(col, op, call.opts[name]) for name, (_k, col, op) in RAWEXP_TERMS.items()
            if name in call.opts]


def _null_or(column, v, cond):
    """'' selects SQL NULL (psDB); the word NULL selects SQL NULL and the string 'NULL'."""
    if v == "":
        return column.is_(None)
    if v == "NULL":
        return or_(column.is_(None), column == "NULL")
    return cond


def like_or(column, values: list[str]):
    conds = [_null_or(column, v, column.like(v)) for v in values]
    return or_(*conds) if len(conds) > 1 else conds[0]


def eq_or(column, values: list):
    conds = [_null_or(column, v, column == v) for v in values]
    return or_(*conds) if len(conds) > 1 else conds[0]


def _finish(conn, cols, frm, conds, order, call: LegacyCall, *, distinct: bool = False):
    q = select(*cols).select_from(frm).where(and_(*conds) if conds else literal(True)).order_by(*order)
    if distinct:
        q = q.distinct()
    if call.get("limit"):
        q = q.limit(int(call.get("limit")))
    rows = [dict(r._mapping) for r in conn.execute(q)]
    return rows, column_types(cols)


def _need_terms(call: LegacyCall, conds: list) -> None:
    if not conds and not call.get("all"):
        raise LegacyError(f"{call.tool} -{call.mode}: search parameters are required (or -all)")


# ------------------------------------------------------------------ -listrun

def chip_listrun(conn, call: LegacyCall):
    from mopstool.ops.runs.define import raw_term

    cr, raw, cam, cpe = schema.chipRun, schema.rawExp, schema.camRun, schema.camProcessedExp
    cols = [cr.c.chip_id, cr.c.state, cr.c.workdir, cr.c.label, cr.c.data_group, cr.c.dist_group,
            cr.c.note, cr.c.magicked, cr.c.reduction, cam.c.cam_id, cam.c.state.label("camRun_state"),
            cpe.c.path_base.label("cam_path_base"), raw.c.exp_id, raw.c.exp_name, raw.c.camera,
            raw.c.filter, raw.c.dateobs, raw.c.ra, raw.c.decl, raw.c.exp_time,
            raw.c.magicked.label("raw_magicked")]
    frm = (cr.join(raw, raw.c.exp_id == cr.c.exp_id)
           .outerjoin(cam, cam.c.chip_id == cr.c.chip_id)
           .outerjoin(cpe, cpe.c.cam_id == cam.c.cam_id))
    conds = [raw_term(c, op, v) for c, op, v in rawexp_terms(call)]
    o = call.opts
    if "chip_id" in o:
        conds.append(cr.c.chip_id == o["chip_id"])
    if "reduction" in o:
        conds.append(eq_or(cr.c.reduction, [o["reduction"]]))
    if "state" in o:
        conds.append(eq_or(cr.c.state, [o["state"]]))
    if "tess_id" in o:
        conds.append(like_or(cr.c.tess_id, [o["tess_id"]]))
    for n in ("label", "data_group", "dist_group"):
        if n in o:
            conds.append(like_or(cr.c[n], call.values(n)))
    _need_terms(call, conds)
    order = [raw.c.exp_id, cr.c.chip_id.desc()] if o.get("pstamp_order") else [cr.c.chip_id]
    return _finish(conn, cols, frm, conds, order, call)


def warp_listrun(conn, call: LegacyCall):
    wr, fk, cam, cr, raw = (schema.warpRun, schema.fakeRun, schema.camRun, schema.chipRun,
                            schema.rawExp)
    cols = [*wr.c, cam.c.cam_id, cr.c.chip_id, raw.c.exp_id, raw.c.exp_name, raw.c.camera,
            raw.c.filter, raw.c.dateobs, raw.c.ra, raw.c.decl, raw.c.exp_time]
    frm = (wr.join(fk, fk.c.fake_id == wr.c.fake_id).join(cam, cam.c.cam_id == fk.c.cam_id)
           .join(cr, cr.c.chip_id == cam.c.chip_id).join(raw, raw.c.exp_id == cr.c.exp_id))
    o = call.opts
    conds = []
    for n, col in (("warp_id", wr.c.warp_id), ("tess_id", wr.c.tess_id), ("state", wr.c.state),
                   ("exp_id", raw.c.exp_id), ("exp_name", raw.c.exp_name), ("chip_id", cr.c.chip_id),
                   ("cam_id", cam.c.cam_id), ("fake_id", fk.c.fake_id), ("magicked", wr.c.magicked)):
        if n in o:
            conds.append(eq_or(col, [o[n]]))
    if "dateobs_begin" in o:
        conds.append(raw.c.dateobs >= o["dateobs_begin"])
    if "dateobs_end" in o:
        conds.append(raw.c.dateobs <= o["dateobs_end"])
    if "filter" in o:
        conds.append(like_or(raw.c.filter, [o["filter"]]))
    for n in ("label", "data_group", "dist_group"):
        if n in o:
            conds.append(like_or(wr.c[n], call.values(n)))
    _need_terms(call, conds)
    order = [raw.c.exp_id, wr.c.warp_id.desc()] if o.get("pstamp_order") else [wr.c.warp_id]
    return _finish(conn, cols, frm, conds, order, call)


def diff_listrun(conn, call: LegacyCall):
    """difftool_listrun.sql: one row per distinct (run, input, template) pair,
    the input and template warps traced back to their exposures."""
    dr, di = schema.diffRun, schema.diffInputSkyfile
    side = {}
    for s in ("in", "tp"):
        side[s] = dict(w=schema.warpRun.alias(f"warp_{s}"), f=schema.fakeRun.alias(f"fake_{s}"),
                       c=schema.camRun.alias(f"cam_{s}"), p=schema.camProcessedExp.alias(f"cpe_{s}"),
                       ch=schema.chipRun.alias(f"chip_{s}"), r=schema.rawExp.alias(f"raw_{s}"))
    a, b = side["in"], side["tp"]
    cols = [dr.c.diff_id, dr.c.state, dr.c.workdir, dr.c.label, dr.c.data_group, dr.c.dist_group,
            dr.c.reduction, dr.c.note, dr.c.magicked, dr.c.diff_mode, dr.c.tess_id, dr.c.bothways,
            di.c.warp1, di.c.warp2, a["p"].c.zpt_obs, a["p"].c.zpt_stdev, a["p"].c.zpt_lq,
            a["p"].c.zpt_uq, a["p"].c.fwhm_major, a["r"].c.comment, a["r"].c.exp_time, a["r"].c.camera,
            a["r"].c.exp_name.label("exp_name_1"), a["r"].c.exp_id.label("exp_id_1"),
            a["r"].c.filter.label("filter_1"), a["r"].c.comment.label("comment_1"),
            a["r"].c.dateobs.label("dateobs_1"), a["ch"].c.chip_id.label("chip_id_1"),
            a["c"].c.cam_id.label("cam_id_1"), a["f"].c.fake_id.label("fake_id_1"),
            a["p"].c.sigma_ra.label("sigma_ra_1"), a["p"].c.sigma_dec.label("sigma_dec_1"),
            b["r"].c.exp_name.label("exp_name_2"), b["r"].c.exp_id.label("exp_id_2"),
            # difftool_listrun.sql prints the input's filter as filter_2
            a["r"].c.filter.label("filter_2"), b["r"].c.comment.label("comment_2"),
            b["r"].c.dateobs.label("dateobs_2"), b["ch"].c.chip_id.label("chip_id_2"),
            b["c"].c.cam_id.label("cam_id_2"), b["f"].c.fake_id.label("fake_id_2"),
            b["p"].c.sigma_ra.label("sigma_ra_2"), b["p"].c.sigma_dec.label("sigma_dec_2")]
    frm = dr.join(di, di.c.diff_id == dr.c.diff_id)
    for s, col in ((a, di.c.warp1), (b, di.c.warp2)):
        frm = (frm.outerjoin(s["w"], s["w"].c.warp_id == col)
               .outerjoin(s["f"], s["f"].c.fake_id == s["w"].c.fake_id)
               .outerjoin(s["c"], s["c"].c.cam_id == s["f"].c.cam_id)
               .outerjoin(s["p"], s["p"].c.cam_id == s["c"].c.cam_id)
               .outerjoin(s["ch"], s["ch"].c.chip_id == s["c"].c.chip_id)
               .outerjoin(s["r"], s["r"].c.exp_id == s["ch"].c.exp_id))
    o = call.opts
    conds = []
    for n, col in (("diff_id", dr.c.diff_id), ("state", dr.c.state), ("diff_mode", dr.c.diff_mode),
                   ("magicked", dr.c.magicked), ("exp_id", a["r"].c.exp_id),
                   ("exp_name", a["r"].c.exp_name), ("template_exp_id", b["r"].c.exp_id),
                   ("warp_id", di.c.warp1)):
        if n in o:
            conds.append(eq_or(col, [o[n]]))
    if "tess_id" in o:
        conds.append(like_or(dr.c.tess_id, [o["tess_id"]]))
    if "filter" in o:
        conds.append(like_or(a["r"].c.filter, [o["filter"]]))
    if "dateobs_begin" in o:
        conds.append(a["r"].c.dateobs >= o["dateobs_begin"])
    if "dateobs_end" in o:
        conds.append(a["r"].c.dateobs <= o["dateobs_end"])
    for n in ("label", "data_group", "dist_group"):
        if n in o:
            conds.append(like_or(dr.c[n], call.values(n)))
    _need_terms(call, conds)
    order = ([a["r"].c.exp_id, dr.c.diff_id.desc()] if o.get("pstamp_order")
             else [dr.c.diff_id, di.c.warp1, di.c.warp2])
    return _finish(conn, cols, frm, conds, order, call, distinct=True)


# ------------------------------------------------------------------ -pendingcleanuprun

def chip_pendingcleanuprun(conn, call: LegacyCall):
    """chiptool_pendingcleanuprun.sql (+ repeated -label, '=', ORed)."""
    run, raw, lbl = schema.chipRun, schema.rawExp, schema.Label
    prio = func.coalesce(lbl.c.priority, 10000).label("priority")
    cols = [run.c.chip_id, raw.c.camera, raw.c.exp_tag, run.c.state, run.c.workdir, run.c.label, prio]
    frm = run.join(raw, raw.c.exp_id == run.c.exp_id).outerjoin(lbl, lbl.c.label == run.c.label)
    conds = [run.c.state.in_(CLEANUP_GOTO)]
    if call.has("label"):
        conds.append(eq_or(run.c.label, call.values("label")))
    elif not call.get("all"):
        raise LegacyError("chiptool -pendingcleanuprun: unrestricted query not allowed (try -all)", 2)
    rows, types = _finish(conn, cols, frm, conds, [prio.desc(), run.c.chip_id], call, distinct=True)
    types["priority"] = "S32"
    return rows, types


def warp_pendingcleanuprun(conn, call: LegacyCall):
    """warptool_pendingcleanuprun.sql: warp_id, workdir, camera, exp_tag, state."""
    wr, fk, cam, cr, raw = (schema.warpRun, schema.fakeRun, schema.camRun, schema.chipRun,
                            schema.rawExp)
    cols = [wr.c.warp_id, wr.c.workdir, raw.c.camera, raw.c.exp_tag, wr.c.state]
    frm = (wr.join(fk, fk.c.fake_id == wr.c.fake_id).join(cam, cam.c.cam_id == fk.c.cam_id)
           .join(cr, cr.c.chip_id == cam.c.chip_id).join(raw, raw.c.exp_id == cr.c.exp_id))
    conds = [wr.c.state.in_(CLEANUP_GOTO)]
    if call.has("label"):
        conds.append(eq_or(wr.c.label, call.values("label")))
    return _finish(conn, cols, frm, conds, [wr.c.warp_id], call)


# ------------------------------------------------------------------ pstamptool -listreq

def listreq(conn, call: LegacyCall, selector):
    """SELECT * FROM pstampRequest WHERE <selectors>: every column, table order;
    no match is an error (pstamptool exits 3 and the pstamp scripts rely on it)."""
    req = schema.table("pstampRequest", pstamp_db=True)
    conds = selector.conditions()
    if not conds:
        raise LegacyError("pstamptool -listreq: search parameters are required")
    rows, types = _finish(conn, list(req.c), req, conds, [req.c.req_id], call)
    if not rows:
        raise LegacyError("pstamptool -listreq: request not found")
    return rows, types


# ------------------------------------------------------------------ -definebyquery -pretend

def rawexp_rows(conn, exp_ids: list[int]):
    """rawExp.* and newExp.label of the selected exposures (chiptool -definebyquery
    -pretend prints them as rawExp blocks)."""
    raw, new = schema.rawExp, schema.newExp
    cols = [*raw.c, new.c.label]
    rows: list[dict] = []
    for i in range(0, len(exp_ids), 1000):
        chunk = exp_ids[i:i + 1000]
        q = (select(*cols).select_from(raw.join(new, new.c.exp_id == raw.c.exp_id))
             .where(raw.c.exp_id.in_(chunk)).order_by(raw.c.exp_id))
        rows.extend(dict(r._mapping) for r in conn.execute(q))
    return rows, column_types(cols)


def fakerun_rows(conn, fake_ids: list[int]):
    """warptool_definebyquery.sql's rows for the selected fakeRuns: fakeRun.*, the
    chip_id and the exposure's rawExp columns (warptool -definebyquery -pretend
    prints them as rawExp blocks)."""
    fk, cam, cr, raw = schema.fakeRun, schema.camRun, schema.chipRun, schema.rawExp
    cols = [*fk.c, cr.c.chip_id, *(raw.c[n] for n in (
        "camera", "telescope", "dateobs", "exp_id", "exp_tag", "exp_name", "exp_type", "filelevel",
        "filter", "airmass", "ra", "decl", "exp_time", "sat_pixel_frac", "bg", "bg_stdev",
        "bg_mean_stdev", "alt", "az", "ccd_temp", "posang", "object", "sun_angle"))]
    frm = (fk.join(cam, cam.c.cam_id == fk.c.cam_id).join(cr, cr.c.chip_id == cam.c.chip_id)
           .join(raw, raw.c.exp_id == cr.c.exp_id))
    rows: list[dict] = []
    for i in range(0, len(fake_ids), 1000):
        q = select(*cols).select_from(frm).where(fk.c.fake_id.in_(fake_ids[i:i + 1000])).order_by(fk.c.fake_id)
        rows.extend(dict(r._mapping) for r in conn.execute(q))
    return rows, column_types(cols)


# ------------------------------------------------------------------ component listings

#: the retired destreak columns of chiptool -processedimfile / warptool -scmap:
#: IFNULL(...) over a LEFT JOIN that matches nothing once magic is retired
def _no_magic(*names_types):
    return [literal(0 if t != "STR" else "0").label(n) for n, t in names_types]


_MAGIC_COLS = (("magic_ds_id", "S64"), ("dsRun_state", "STR"), ("dsFile_fault", "S64"),
               ("dsFile_data_state", "STR"))


def chip_processedimfile(conn, call: LegacyCall):
    """chiptool_processedimfile.sql: processed imfiles with their run and exposure."""
    from mopstool.ops.runs.define import raw_term

    cr, ci, pi, raw, ri = (schema.chipRun, schema.chipImfile, schema.chipProcessedImfile, schema.rawExp,
                           schema.rawImfile)
    magic = dict(_MAGIC_COLS)
    names = ("magic_ds_id", "dsRun_state", "dsFile_fault", "dsFile_data_state")
    cols = [pi.c.chip_id, ci.c.chip_imfile_id, pi.c.class_id, pi.c.uri, pi.c.bg, pi.c.bg_stdev,
            pi.c.bg_mean_stdev, pi.c.path_base, pi.c.magicked, pi.c.data_state, pi.c.fault, pi.c.quality,
            cr.c.state, cr.c.workdir, cr.c.label, cr.c.data_group, raw.c.exp_id, raw.c.exp_tag,
            raw.c.exp_name, raw.c.filter, raw.c.camera, raw.c.telescope, raw.c.filelevel, raw.c.dateobs,
            raw.c.ra, raw.c.decl, raw.c.exp_time, ri.c.magicked.label("raw_magicked"), ri.c.burntool_state,
            *_no_magic(*((n, magic[n]) for n in names))]
    frm = (cr.join(ci, ci.c.chip_id == cr.c.chip_id)
           .join(pi, and_(pi.c.chip_id == ci.c.chip_id, pi.c.class_id == ci.c.class_id))
           .join(raw, pi.c.exp_id == raw.c.exp_id)
           .join(ri, and_(ri.c.exp_id == raw.c.exp_id, ri.c.class_id == pi.c.class_id)))
    o = call.opts
    conds = [raw_term(c, op, v) for c, op, v in rawexp_terms(call)]
    for n, col in (("chip_id", cr.c.chip_id), ("chip_imfile_id", ci.c.chip_imfile_id),
                   ("magicked", pi.c.magicked)):
        if call.nonzero(n) is not None:
            conds.append(col == o[n])
    if "class_id" in o:
        conds.append(eq_or(pi.c.class_id, [o["class_id"]]))
    if "reduction" in o:
        conds.append(eq_or(cr.c.reduction, [o["reduction"]]))
    for n in ("label", "data_group"):
        if n in o:
            conds.append(like_or(cr.c[n], call.values(n)))
    faulted = bool(o.get("faulted")) and not o.get("allfiles")
    if not conds and not o.get("all") and not faulted:
        raise LegacyError("chiptool -processedimfile: search parameters (or -all) are required")
    if faulted:
        conds.append(pi.c.fault != 0)
    elif not o.get("allfiles"):
        conds.append(pi.c.fault == 0)
    order = ([raw.c.exp_id, cr.c.chip_id.desc()] if o.get("pstamp_order")
             else [pi.c.chip_id, pi.c.class_id])
    rows, types = _finish(conn, cols, frm, conds, order, call, distinct=True)
    types.update(magic)
    return rows, types


def chip_pendingcleanupimfile(conn, call: LegacyCall):
    """chiptool_pendingcleanupimfile[_all].sql: imfiles of runs waiting for cleanup
    (with -all: every imfile of those runs, whatever its data_state and quality)."""
    cr, pi = schema.chipRun, schema.chipProcessedImfile
    cols = [*pi.c, cr.c.state, cr.c.workdir, cr.c.label, cr.c.reduction, cr.c.expgroup, cr.c.dvodb,
            cr.c.tess_id, cr.c.end_stage]
    frm = cr.join(pi, pi.c.chip_id == cr.c.chip_id)
    if call.get("all"):
        conds = [cr.c.state.in_(CLEANUP_GOTO)]
    else:
        conds = [or_(and_(cr.c.state == State.GOTO_CLEANED,
                          pi.c.data_state.in_((State.FULL, State.UPDATE, State.ERROR_CLEANED)),
                          pi.c.quality == 0),
                     and_(cr.c.state == State.GOTO_SCRUBBED, pi.c.data_state != State.SCRUBBED),
                     and_(cr.c.state == State.GOTO_PURGED, pi.c.data_state != State.PURGED))]
    terms = []
    if call.nonzero("chip_id") is not None:
        terms.append(cr.c.chip_id == call.get("chip_id"))
    if call.has("label"):
        terms.append(eq_or(cr.c.label, call.values("label")))
    if not terms and not call.get("all"):
        raise LegacyError("chiptool -pendingcleanupimfile: unrestricted query not allowed (try -all)", 2)
    return _finish(conn, cols, frm, conds + terms, [pi.c.chip_id, pi.c.class_id], call)


def chip_donecleanup(conn, call: LegacyCall):
    """chiptool_donecleanup.sql: chipRun.* of cleaned runs (-label '=')."""
    cr = schema.chipRun
    conds = [cr.c.state == State.CLEANED]
    if call.has("label"):
        conds.append(eq_or(cr.c.label, [call.get("label")]))
    return _finish(conn, list(cr.c), cr, conds, [cr.c.chip_id], call)


def warp_scmap(conn, call: LegacyCall):
    """warptool_scmap.sql: the skycell <-> chip map of warp runs with the chip and
    camera products each skycell reads (quality-0 imfiles only)."""
    wr, sm, fk, cam, cpe, cr, pi, ri = (schema.warpRun, schema.warpSkyCellMap, schema.fakeRun,
                                        schema.camRun, schema.camProcessedExp, schema.chipRun,
                                        schema.chipProcessedImfile, schema.rawImfile)
    magic = dict(_MAGIC_COLS)
    names = ("magic_ds_id", "dsRun_state", "dsFile_data_state", "dsFile_fault")
    cols = [*sm.c, pi.c.uri, pi.c.path_base.label("chip_path_base"), cpe.c.path_base.label("cam_path_base"),
            cpe.c.fault.label("cam_fault"), cpe.c.background_model.label("cam_background_model"),
            pi.c.chip_id, cr.c.state, cr.c.data_group.label("chip_data_group"), pi.c.data_state,
            pi.c.fault.label("chip_fault"), pi.c.magicked, cam.c.state.label("camState"),
            ri.c.magicked.label("raw_magicked"), *_no_magic(*((n, magic[n]) for n in names))]
    frm = (wr.join(sm, sm.c.warp_id == wr.c.warp_id).join(fk, fk.c.fake_id == wr.c.fake_id)
           .join(cam, cam.c.cam_id == fk.c.cam_id).join(cpe, cpe.c.cam_id == cam.c.cam_id)
           .join(cr, cr.c.chip_id == cam.c.chip_id)
           .join(pi, and_(pi.c.chip_id == cr.c.chip_id, pi.c.class_id == sm.c.class_id, pi.c.quality == 0))
           .join(ri, and_(ri.c.exp_id == cr.c.exp_id, ri.c.class_id == pi.c.class_id)))
    conds = []
    if call.nonzero("warp_id") is not None:
        conds.append(sm.c.warp_id == call.get("warp_id"))
    for n in ("skycell_id", "tess_id", "class_id"):
        if call.has(n):
            conds.append(eq_or(sm.c[n], [call.get(n)]))
    rows, types = _finish(conn, cols, frm, conds, [sm.c.warp_id, sm.c.skycell_id, sm.c.class_id], call)
    types.update(magic)
    return rows, types


def listjob(conn, call: LegacyCall):
    """pstamptool_listjob.sql: pstampJob.* with the request's name and outProduct."""
    job, req = schema.table("pstampJob", pstamp_db=True), schema.table("pstampRequest", pstamp_db=True)
    conds = []
    for n in ("job_id", "req_id", "dep_id", "fault"):
        if call.nonzero(n) is not None:
            conds.append(job.c[n] == call.get(n))
    for n in ("state", "jobType"):
        if call.has(n):
            conds.append(eq_or(job.c[n], [call.get(n)]))
    if not conds:
        raise LegacyError("pstamptool -listjob: search arguments are required", 1)
    cols = [*job.c, req.c.name, req.c.outProduct]
    return _finish(conn, cols, job.join(req, req.c.req_id == job.c.req_id), conds, [job.c.job_id], call)


def diff_pendingcleanuprun(conn, call: LegacyCall):
    """difftool_pendingcleanuprun.sql: diff runs waiting for cleanup with the camera
    of their inputs (warp1, warp2 through their skyfiles, stack1, stack2 through
    the stacks' input warps), -label '=' (repeatable), LIMIT on each part and on all."""
    from sqlalchemy import union

    dr, di, ws, wr, fk, cam, cr, raw, si = (schema.diffRun, schema.diffInputSkyfile, schema.warpSkyfile,
                                            schema.warpRun, schema.fakeRun, schema.camRun, schema.chipRun,
                                            schema.rawExp, schema.stackInputSkyfile)
    conds = [dr.c.state.in_(CLEANUP_GOTO)]
    if call.has("label"):
        conds.append(eq_or(dr.c.label, call.values("label")))
    limit = call.nonzero("limit")

    def part(warp_on):
        frm = (dr.join(di, di.c.diff_id == dr.c.diff_id).join(*warp_on)
               .join(fk, fk.c.fake_id == wr.c.fake_id).join(cam, cam.c.cam_id == fk.c.cam_id)
               .join(cr, cr.c.chip_id == cam.c.chip_id).join(raw, raw.c.exp_id == cr.c.exp_id))
        q = (select(dr.c.diff_id, raw.c.camera, dr.c.state, dr.c.workdir, dr.c.tess_id, dr.c.label)
             .distinct().select_from(frm).where(*conds))
        return q.limit(limit) if limit else q

    def via_skyfile(col):
        return (ws.join(wr, wr.c.warp_id == ws.c.warp_id),
                and_(ws.c.warp_id == col, ws.c.skycell_id == di.c.skycell_id, ws.c.tess_id == di.c.tess_id))

    def via_stack(col):
        return si.join(wr, wr.c.warp_id == si.c.warp_id), si.c.stack_id == col

    parts = [part(via_skyfile(di.c.warp1)), part(via_skyfile(di.c.warp2)),
             part(via_stack(di.c.stack1)), part(via_stack(di.c.stack2))]
    u = union(*(p.subquery().select() for p in parts)).subquery()
    q = select(*u.c).order_by(u.c.diff_id)
    if limit:
        q = q.limit(limit)
    cols = [dr.c.diff_id, raw.c.camera, dr.c.state, dr.c.workdir, dr.c.tess_id, dr.c.label]
    return [dict(r._mapping) for r in conn.execute(q)], column_types(cols)
