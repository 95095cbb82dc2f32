"""Changing single processed components (``mopstool drop``).

``drop_imfiles`` is ``chiptool -dropprocessedimfile``: a processed chip imfile
that will never be good is marked done-but-bad (quality Q != 0, data_state
'full', fault 0, magicked 0), so its run can complete without it. The
component is chosen by chip_id (or cam_id, through camRun) and class_id; the
retired destreak bookkeeping of that component (magicDSFile) is deleted where
the table exists.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import delete, inspect, select, update

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
