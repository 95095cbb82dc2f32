"""Dispatch of parsed legacy calls to the ops library."""

from __future__ import annotations

from mopstool.db import Databases
from mopstool.legacy import modes as legacy
from mopstool.legacy.modes import LegacyCall


def run(call: LegacyCall, dbs: Databases, cfg):
    """Execute *call*; returns (rows or None, row name, MDC types, notes for stderr)."""
    spec = legacy.MODES[call.tool][call.mode]
    handler = globals()[f"_do_{spec.handler}"]
    notes: list[str] = []
    rows, rowname, types = handler(call, dbs, cfg, spec, notes.append)
    return rows, rowname, types, notes


def _do_listrun(call, dbs, cfg, spec, note):
    with dbs.connect() as conn:
        rows, types = legacy.listrun(conn, call)
    return rows, spec.rowname, types


def _do_pendingcleanuprun(call, dbs, cfg, spec, note):
    with dbs.connect() as conn:
        rows, types = legacy.pendingcleanuprun(conn, call)
    return rows, spec.rowname, types


def _ids(call, name):
    return [call.get(name)] if call.has(name) else []


def _list(call, name):
    v = call.get(name)
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def _do_definebyquery(call, dbs, cfg, spec, note):
    from mopstool.ops.runs.define import DefineSelection, DefineSetters, define_runs

    o = call.opts
    stage = "warp" if call.tool == "warptool" else "chip"
    sel = DefineSelection(
        exp_names=_list(call, "exp_name"), exp_ids=_ids(call, "exp_id"),
        dateobs_begin=o.get("dateobs_begin"), dateobs_end=o.get("dateobs_end"),
        filters=_list(call, "filter"), obs_modes=_list(call, "obs_mode"),
        objects=_list(call, "object"), comments=_list(call, "comment"),
        exp_type=o.get("exp_type", "object" if stage == "chip" else None),
        labels=_list(call, "label"), unique=bool(o.get("unique")), limit=o.get("limit"),
        all=bool(o.get("all")), fake_ids=_ids(call, "fake_id"), cam_ids=_ids(call, "cam_id"),
        chip_ids=_ids(call, "chip_id"), reductions=_list(call, "reduction"))
    setters = DefineSetters(**{k[4:]: o[k] for k in o if k.startswith("set_") and k != "set_mode"
                               and k[4:] in DefineSetters.__dataclass_fields__})
    res = define_runs(dbs, sel, setters, stage=stage, dry_run=bool(o.get("pretend")),
                      audit_detail={"legacy": " ".join([call.tool] + call.argv)})
    for u in res.unmatched:
        note(f"{call.tool}: {u}")
    return res.runs, spec.rowname, {}


def _do_updaterun(call, dbs, cfg, spec, note):
    from mopstool.ops.runs.manage import RunSetters, update_runs
    from mopstool.ops.select import RunFilter

    o = call.opts
    stage = {"chiptool": "chip", "warptool": "warp", "difftool": "diff"}[call.tool]
    idc = f"{stage}_id"
    flt = RunFilter(ids=_ids(call, idc), labels=_list(call, "label"), states=_list(call, "state"),
                    data_groups=_list(call, "data_group"), dist_groups=_list(call, "dist_group"))
    setters = RunSetters(state=o.get("set_state"), label=o.get("set_label"),
                         data_group=o.get("set_data_group"), dist_group=o.get("set_dist_group"),
                         note=o.get("set_note"))
    plan = update_runs(dbs, stage, flt, setters, dry_run=bool(o.get("pretend")),
                       audit_detail={"legacy": " ".join([call.tool] + call.argv)})
    note(f"{call.tool} -updaterun: {plan.total} {stage} runs "
          f"{'would change' if plan.dry_run else 'changed'}")
    return None, spec.rowname, {}


def _do_setupdate(call, dbs, cfg, spec, note):
    from mopstool.ops.runs.manage import set_update

    o = call.opts
    stage = {"chiptool": "chip", "warptool": "warp", "difftool": "diff"}[call.tool]
    idc = f"{stage}_id"
    if not call.has(idc):
        from mopstool.errors import UsageError

        raise UsageError(f"{call.tool} -{call.mode}: -{idc} is required")
    comp = o.get("class_id") or o.get("skycell_id")
    kw = {}
    if stage == "chip":
        kw["update_mode"] = int(o.get("set_update_mode", 0))
    res = set_update(dbs, stage, [o[idc]], components=[comp] if comp else None,
                     set_label=o.get("set_label"), dry_run=bool(o.get("pretend")),
                     audit_detail={"legacy": " ".join([call.tool] + call.argv)}, **kw)
    for c in res.skipped:
        note(f"{call.tool}: {c.get('component')}: {c.get('reason')}")
    return None, spec.rowname, {}


def _do_revert(call, dbs, cfg, spec, note):
    from mopstool.ops.runs.manage import RevertFilter, revert

    o = call.opts
    stage = {"chiptool": "chip", "warptool": "warp", "difftool": "diff"}[call.tool]
    comp = o.get("class_id") or o.get("skycell_id")
    flt = RevertFilter(ids=_ids(call, f"{stage}_id"), labels=_list(call, "label"),
                       data_groups=_list(call, "data_group"), faults=_ids(call, "fault"),
                       components=[comp] if comp else [], all=bool(o.get("all")))
    res = revert(dbs, stage, flt, dry_run=bool(o.get("pretend")),
                 audit_detail={"legacy": " ".join([call.tool] + call.argv)})
    note(f"{call.tool} -{call.mode}: {res.total} rows {'would change' if res.dry_run else 'changed'}")
    return None, spec.rowname, {}


def _request_selector(call):
    from mopstool.ops.pstamp.requests import RequestSelector

    o = call.opts
    return RequestSelector(
        req_ids=_ids(call, "req_id"), not_req_ids=_ids(call, "not_req_id"),
        req_id_max=o.get("req_id_max"), states=_list(call, "state"), labels=_list(call, "label"),
        names=_list(call, "name"), usernames=_list(call, "username"), faults=_ids(call, "fault"),
        req_types=_list(call, "reqType"), timestamp_begin=o.get("timestamp_begin"),
        timestamp_end=o.get("timestamp_end"))


def _do_updatereq(call, dbs, cfg, spec, note):
    from mopstool.errors import UsageError
    from mopstool.ops.pstamp.requests import update_requests

    o = call.opts
    sel = _request_selector(call)
    if sel.is_empty():
        raise UsageError("pstamptool -updatereq: a selection option is required")
    if o.get("set_fault") is not None and o.get("clearfault"):
        raise UsageError("pstamptool -updatereq: -set_fault and -clearfault are exclusive")
    res = update_requests(
        dbs, sel, set_state=o.get("set_state"), set_label=o.get("set_label"),
        set_fault=o.get("set_fault"), clear_fault=bool(o.get("clearfault")),
        set_outProduct=o.get("set_outProduct"), set_outdir=o.get("set_outdir"),
        set_uri=o.get("set_uri"), set_name=o.get("set_name"), set_username=o.get("set_username"),
        set_reqType=o.get("set_reqType"), dry_run=bool(o.get("pretend")), ipp_semantics=True,
        action="pstamptool.updatereq")
    for sk in res.skipped:
        note(f"pstamptool: req_id {sk.get('req_id')}: {sk.get('reason')}")
    note(f"pstamptool -updatereq: {res.count} requests {'would change' if res.dry_run else 'changed'}")
    return None, spec.rowname, {}


def _do_listreq(call, dbs, cfg, spec, note):
    from mopstool.ops.pstamp.requests import list_requests
    from mopstool.db import schema

    rows = list_requests(dbs, _request_selector(call), limit=call.get("limit"), require_filter=True,
                         require_match=True, with_jobs=False)
    req = schema.table("pstampRequest", pstamp_db=True)
    cols = [c.name for c in req.columns]
    rows = [{c: r.get(c) for c in cols if c in r} for r in rows]
    return rows, spec.rowname, legacy.column_types(req.columns)


def _do_revertreq(call, dbs, cfg, spec, note):
    from mopstool.errors import UsageError
    from mopstool.ops.pstamp.requests import revert_requests

    sel = _request_selector(call)
    if sel.is_empty():
        raise UsageError("pstamptool -revertreq: a selection option is required")
    res = revert_requests(dbs, sel, max_fault=None, dry_run=bool(call.get("pretend")))
    note(f"pstamptool -revertreq: {res.count} requests {'would change' if res.dry_run else 'changed'}")
    return None, spec.rowname, {}

