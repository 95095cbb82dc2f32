"""Changing single processed components (``mopstool drop``, and the legacy
component modes: ``set_components``, ``revert_cleanup``).

``drop_imfiles`` is ``chiptool -dropprocessedimfile``: a processed chip imfile
that will never be good is marked done-but-bad (quality Q != 0, data_state
'full', fault 0, magicked 0), so its run can complete without it. The
component is chosen by chip_id (or cam_id, through camRun) and class_id; the
retired destreak bookkeeping of that component (magicDSFile) is deleted where
the table exists.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import delete, inspect, or_, select, update

from mopstool.db import Databases, schema
from mopstool.errors import NotFound, UsageError
from mopstool.ops.writes import WritePlan, execute
from mopstool.stages import State


def _imfile_keys(conn, chip_ids: list[int], cam_ids: list[int], class_ids: list[str]) -> list[tuple]:
    pi, cam = schema.chipProcessedImfile, schema.camRun
    q = select(pi.c.chip_id, pi.c.class_id, pi.c.quality, pi.c.fault, pi.c.data_state)
    conds = [pi.c.class_id.in_(class_ids)]
    if chip_ids:
        conds.append(pi.c.chip_id.in_(chip_ids))
    if cam_ids:
        conds.append(pi.c.chip_id.in_(select(cam.c.chip_id).where(cam.c.cam_id.in_(cam_ids))))
    return [tuple(r) for r in conn.execute(q.where(*conds).order_by(pi.c.chip_id, pi.c.class_id))]


def drop_imfiles(dbs: Databases, *, chip_ids: list[int] | None = None, cam_ids: list[int] | None = None,
                 class_ids: list[str], quality: int, dry_run: bool = False,
                 confirm: Callable[[WritePlan], bool] | None = None,
                 audit_detail: dict | None = None, lock_timeout: float | None = None) -> WritePlan:
    """Mark processed chip imfiles as done but bad (quality != 0), through the
    one write protocol (planned again under the lock, one transaction)."""
    chip_ids, cam_ids = list(chip_ids or []), list(cam_ids or [])
    if not class_ids:
        raise UsageError("give the component (--class-id)")
    if not chip_ids and not cam_ids:
        raise UsageError("give the run (--chip-id or --cam-id)")
    if not quality:
        raise UsageError("a non-zero quality is required")
    with dbs.connect() as conn:
        if not _imfile_keys(conn, chip_ids, cam_ids, class_ids):
            raise NotFound("no processed imfile matches (chipProcessedImfile has no such chip_id/class_id)")

    def plan(conn) -> WritePlan:
        keys = _imfile_keys(conn, chip_ids, cam_ids, class_ids)
        return WritePlan(action="drop chip", rows={"chipProcessedImfile": len(keys)} if keys else {},
                         sample=[dict(chip_id=k[0], class_id=k[1], quality=k[2], fault=k[3], data_state=k[4],
                                      new_quality=quality) for k in keys[:20]],
                         keys=frozenset(k[:2] for k in keys), title="imfiles")

    def apply(conn, fresh: WritePlan) -> tuple[int, dict]:
        pi = schema.chipProcessedImfile
        keys = sorted(fresh.keys)
        chips = sorted({k[0] for k in keys})
        n = conn.execute(update(pi).where(pi.c.chip_id.in_(chips), pi.c.class_id.in_(class_ids))
                         .values(quality=int(quality), data_state=State.FULL, magicked=0, fault=0)).rowcount or 0
        names = set(inspect(conn).get_table_names())
        if {"magicDSRun", "magicDSFile"} <= names:
            md, mr = table_of(conn, "magicDSFile"), table_of(conn, "magicDSRun")
            conn.execute(delete(md).where(md.c.component.in_(class_ids), md.c.magic_ds_id.in_(
                select(mr.c.magic_ds_id).where(mr.c.stage == "chip", mr.c.stage_id.in_(chips)))))
        fresh.rows = {"chipProcessedImfile": n}
        return n, dict(audit_detail or {}, quality=int(quality), components=[list(k) for k in keys[:200]])

    return execute(dbs, "drop.chip", plan, apply, dry_run=dry_run, confirm=confirm, lock_timeout=lock_timeout)


def table_of(conn, name: str):
    """A reflected table the schema models do not declare (retired IPP tables)."""
    from sqlalchemy import MetaData, Table

    return Table(name, MetaData(), autoload_with=conn)


# ------------------------------------------------------------------ component columns

def _component_selection(stage, ids: list[int], components: list[str]):
    tbl = schema.table(stage.component_table)
    conds = []
    if ids:
        conds.append(tbl.c[stage.id_col].in_(ids))
    if components:
        conds.append(tbl.c[stage.component_key[0]].in_(components))
    return tbl, conds


def set_components(dbs: Databases, stage_name: str, *, ids: list[int] | None = None,
                   components: list[str] | None = None, values: dict, require_change: bool = False,
                   roll_up: bool = False, dry_run: bool = False,
                   confirm: Callable[[WritePlan], bool] | None = None,
                   audit_detail: dict | None = None, lock_timeout: float | None = None) -> WritePlan:
    """Set columns (fault, quality, data_state, background_model) of the processed
    components chosen by run id and/or component name (``chiptool
    -updateprocessedimfile``, ``warptool -updateskyfile``).

    *require_change*: no row whose values differ is an error (NotFound), as the C
    tools' pxSetFaultCode reports "zero rows were affected". *roll_up*: after a
    data_state change, a run whose quality-0 components all have that data_state
    takes it as its state (warptool_change_run_state.sql)."""
    from mopstool.stages import get_stage

    stage = get_stage(stage_name)
    ids, components = list(ids or []), list(components or [])
    if not ids and not components:
        raise UsageError("search parameters are required (a run id or a component)")
    if not values:
        raise UsageError("nothing to set")
    if "data_state" in values:
        values = dict(values, data_state=stage.validate_state(values["data_state"]))
    key = stage.component_key[0]

    def plan(conn) -> WritePlan:
        tbl, conds = _component_selection(stage, ids, components)
        differs = [or_(tbl.c[c].is_(None), tbl.c[c] != v) for c, v in values.items()]
        cols = [tbl.c[stage.id_col], tbl.c[key], *(tbl.c[c] for c in values)]
        rows = conn.execute(select(*cols).where(*conds, or_(*differs))
                            .order_by(tbl.c[stage.id_col], tbl.c[key])).all()
        if not rows and require_change:
            raise NotFound(f"zero rows were affected: no {stage.component_table} row matches or the "
                           f"fields already have the values being set")
        return WritePlan(action=f"set {stage.component_table}",
                         rows={stage.component_table: len(rows)} if rows else {},
                         sample=[dict(r._mapping) for r in rows[:20]],
                         keys=frozenset((r[0], r[1]) for r in rows), title="components")

    def apply(conn, fresh: WritePlan) -> tuple[int, dict]:
        tbl, conds = _component_selection(stage, ids, components)
        n = conn.execute(update(tbl).where(*conds).values(**values)).rowcount or 0
        counts = {stage.component_table: n}
        if roll_up and "data_state" in values:
            run = schema.table(stage.run_table)
            runs = sorted({k[0] for k in fresh.keys})
            pending = (select(tbl.c[stage.id_col]).where(
                tbl.c[stage.id_col] == run.c[stage.id_col], tbl.c.data_state != values["data_state"],
                tbl.c[stage.quality_col] == 0))
            m = conn.execute(update(run).where(run.c[stage.id_col].in_(runs), ~pending.exists())
                             .values(state=values["data_state"])).rowcount or 0
            if m:
                counts[stage.run_table] = m
        fresh.rows = counts
        return n, dict(audit_detail or {}, values={k: str(v) for k, v in values.items()},
                       components=[list(k) for k in sorted(fresh.keys)[:200]])

    return execute(dbs, f"set.{stage_name}", plan, apply, dry_run=dry_run, confirm=confirm,
                   lock_timeout=lock_timeout)


def revert_cleanup(dbs: Databases, stage_name: str, *, ids: list[int] | None = None,
                   labels: list[str] | None = None, data_groups: list[str] | None = None,
                   state: str = State.ERROR_CLEANED, dry_run: bool = False,
                   confirm: Callable[[WritePlan], bool] | None = None,
                   audit_detail: dict | None = None, lock_timeout: float | None = None) -> WritePlan:
    """``chiptool -revertcleanup``: components left in error_cleaned (error_purged,
    error_scrubbed) by a failed cleanup go back to 'full' and their runs to
    goto_cleaned (goto_purged, goto_scrubbed), so cleanup tries again. Only runs
    in the error state with a component in it change (the C multi-table UPDATE)."""
    from mopstool.stages import ERROR_CLEANUP_STATES, get_stage
    from mopstool.stages.joins import like_any

    stage = get_stage(stage_name)
    error = stage.validate_state(state)
    if error not in ERROR_CLEANUP_STATES:
        raise UsageError("-state must be either error_cleaned, error_purged, or error_scrubbed")
    goto = State("goto_" + error.value.split("_", 1)[1])
    ids, labels, data_groups = list(ids or []), list(labels or []), list(data_groups or [])
    if not (ids or labels or data_groups):
        raise UsageError("search parameters are required")
    run, comp = schema.table(stage.run_table), schema.table(stage.component_table)
    key = stage.component_key[0]

    def selection():
        conds = [run.c.state == error, comp.c.data_state == error]
        if ids:
            conds.append(run.c[stage.id_col].in_(ids))
        if labels:
            conds.append(like_any(run.c.label, labels))
        if data_groups:
            conds.append(like_any(run.c.data_group, data_groups))
        return (select(comp.c[stage.id_col], comp.c[key])
                .select_from(comp.join(run, run.c[stage.id_col] == comp.c[stage.id_col])).where(*conds))

    def plan(conn) -> WritePlan:
        keys = [tuple(r) for r in conn.execute(selection().order_by(comp.c[stage.id_col], comp.c[key]))]
        runs = {k[0] for k in keys}
        return WritePlan(action=f"revert cleanup {stage_name}",
                         rows={stage.component_table: len(keys), stage.run_table: len(runs)} if keys else {},
                         sample=[dict(zip((stage.id_col, key), k)) for k in keys[:20]],
                         keys=frozenset(keys), title="components")

    def apply(conn, fresh: WritePlan) -> tuple[int, dict]:
        keys = sorted(fresh.keys)
        runs = sorted({k[0] for k in keys})
        # the planned runs are exactly the selected ones: every component of theirs
        # still in the error state is one the selection named
        n = conn.execute(update(comp).where(comp.c[stage.id_col].in_(runs), comp.c.data_state == error)
                         .values(data_state=State.FULL)).rowcount or 0
        m = conn.execute(update(run).where(run.c[stage.id_col].in_(runs), run.c.state == error)
                         .values(state=goto)).rowcount or 0
        fresh.rows = {stage.component_table: n, stage.run_table: m}
        return n + m, dict(audit_detail or {}, state=str(error), runs=runs[:200])

    return execute(dbs, f"revertcleanup.{stage_name}", plan, apply, dry_run=dry_run, confirm=confirm,
                   lock_timeout=lock_timeout)
