"""Listing and showing runs of any stage (``mopstool runs`` / ``mopstool show``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select

from mopstool.db import Databases, schema
from mopstool.errors import NotFound
from mopstool.ops.select import RunFilter, exposure_join, run_conditions
from mopstool.stages import Stage, fault_meaning, quality_meaning

#: stages whose path to rawExp is one row per run (no fan-out through skycells)
_FLAT_EXPOSURE = ("chip", "cam", "fake", "warp")

_RUN_COLUMNS = {
    "chip": ("chip_id", "exp_id", "state", "label", "data_group", "dist_group", "reduction",
             "tess_id", "end_stage", "workdir"),
    "cam": ("cam_id", "chip_id", "state", "label", "data_group", "dist_group", "reduction", "workdir"),
    "fake": ("fake_id", "cam_id", "state", "label", "data_group", "dist_group", "workdir"),
    "warp": ("warp_id", "fake_id", "state", "label", "data_group", "dist_group", "tess_id",
             "reduction", "workdir"),
    "stack": ("stack_id", "state", "label", "data_group", "skycell_id", "tess_id", "filter",
              "reduction"),
    "diff": ("diff_id", "state", "label", "data_group", "dist_group", "diff_mode", "reduction",
             "tess_id", "bothways", "workdir"),
    "publish": ("pub_id", "client_id", "stage_id", "label", "state"),
    "pstamp-request": ("req_id", "name", "state", "label", "reqType", "fault", "username",
                       "registered", "timestamp"),
    "pstamp-job": ("job_id", "req_id", "rownum", "state", "jobType", "fault", "fault_count",
                   "exp_id", "dep_id"),
    "pstamp-dependent": ("dep_id", "state", "stage", "stage_id", "component", "imagedb", "rlabel",
                         "fault", "fault_count"),
}


def list_runs(dbs: Databases, stage: Stage, flt: RunFilter) -> list[dict[str, Any]]:
    run = schema.table(stage.run_table, pstamp_db=stage.pstamp_db)
    cols = [run.c[c] for c in _RUN_COLUMNS[stage.name]]
    frm = run
    if stage.name in _FLAT_EXPOSURE:
        raw = schema.rawExp
        frm = exposure_join(stage, outer=True)
        cols += [raw.c.exp_name, raw.c.filter, raw.c.dateobs, raw.c.comment]
    q = select(*cols).select_from(frm).where(*run_conditions(stage, flt))
    q = q.order_by(run.c[stage.id_col].desc())
    if flt.limit:
        q = q.limit(flt.limit)
    with dbs.connect(stage.pstamp_db) as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if rows and stage.component_table:
            counts = _component_counts(conn, stage, [r[stage.id_col] for r in rows])
            for r in rows:
                r.update(counts.get(r[stage.id_col], {"components": 0, "faulted": 0, "bad_quality": 0}))
    return rows


def _component_counts(conn, stage: Stage, ids: list[int]) -> dict[int, dict[str, int]]:
    comp = schema.table(stage.component_table, pstamp_db=stage.pstamp_db)
    link = comp.c[stage.id_col] if stage.id_col in comp.c else comp.c.req_id
    fault = comp.c[stage.fault_col] if stage.fault_col and stage.fault_col in comp.c else None
    qual = comp.c[stage.quality_col] if stage.quality_col and stage.quality_col in comp.c else None
    exprs = [link.label("id"), func.count().label("components")]
    exprs.append(func.sum(case((fault != 0, 1), else_=0)).label("faulted") if fault is not None
                 else func.sum(0).label("faulted"))
    exprs.append(func.sum(case((qual != 0, 1), else_=0)).label("bad_quality") if qual is not None
                 else func.sum(0).label("bad_quality"))
    out = {}
    for chunk_start in range(0, len(ids), 1000):
        chunk = ids[chunk_start:chunk_start + 1000]
        q = select(*exprs).where(link.in_(chunk)).group_by(link)
        for r in conn.execute(q):
            out[r.id] = {"components": int(r.components or 0), "faulted": int(r.faulted or 0),
                         "bad_quality": int(r.bad_quality or 0)}
    return out


@dataclass
class RunDetail:
    stage: str
    run: dict[str, Any]
    exposure: dict[str, Any] | None = None
    components: list[dict[str, Any]] = field(default_factory=list)
    related: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "run": self.run, "exposure": self.exposure,
                "components": self.components, "related": self.related}


def show_run(dbs: Databases, stage: Stage, run_id: int) -> RunDetail:
    run = schema.table(stage.run_table, pstamp_db=stage.pstamp_db)
    with dbs.connect(stage.pstamp_db) as conn:
        row = conn.execute(select(run).where(run.c[stage.id_col] == run_id)).first()
        if row is None:
            raise NotFound(f"no {stage.name} run with {stage.id_col} {run_id}")
        detail = RunDetail(stage=stage.name, run=dict(row._mapping))
        if stage.name in _FLAT_EXPOSURE:
            raw = schema.rawExp
            q = (select(raw.c.exp_id, raw.c.exp_name, raw.c.dateobs, raw.c.filter, raw.c.object,
                        raw.c.comment, raw.c.obs_mode, raw.c.exp_time)
                 .select_from(exposure_join(stage, outer=True)).where(run.c[stage.id_col] == run_id))
            exp = conn.execute(q).first()
            if exp is not None and exp.exp_id is not None:
                detail.exposure = dict(exp._mapping)
        if stage.component_table:
            detail.components = _components(conn, stage, run_id)
        if stage.name == "diff":
            inp = schema.diffInputSkyfile
            detail.related["inputs"] = [dict(r._mapping) for r in conn.execute(
                select(inp).where(inp.c.diff_id == run_id).order_by(inp.c.skycell_id))]
        if stage.name == "pstamp-request":
            dep = schema.table("pstampDependent", pstamp_db=True)
            job = schema.table("pstampJob", pstamp_db=True)
            q = (select(dep).where(dep.c.dep_id.in_(
                select(job.c.dep_id).where(and_(job.c.req_id == run_id, job.c.dep_id != 0))))
                 .order_by(dep.c.dep_id))
            deps = [dict(r._mapping) for r in conn.execute(q)]
            for d in deps:
                d["fault_meaning"] = fault_meaning(d.get("fault"), pstamp=True)
            detail.related["dependents"] = deps
        if "fault" in detail.run and stage.pstamp_db:
            detail.run["fault_meaning"] = fault_meaning(detail.run.get("fault"), pstamp=True)
    return detail


def _components(conn, stage: Stage, run_id: int) -> list[dict[str, Any]]:
    comp = schema.table(stage.component_table, pstamp_db=stage.pstamp_db)
    link = comp.c[stage.id_col] if stage.id_col in comp.c else comp.c.req_id
    wanted = list(stage.component_key)
    for c in (stage.data_state_col, stage.quality_col, stage.fault_col):
        if c and c in comp.c and c not in wanted:
            wanted.append(c)
    for c in ("rownum", "jobType", "fault_count", "dep_id", "exp_id", "good_frac", "fwhm_major",
              "zpt_obs", "path_base"):
        if c in comp.c and c not in wanted:
            wanted.append(c)
    q = select(*[comp.c[c] for c in wanted]).where(link == run_id)
    q = q.order_by(*[comp.c[c] for c in stage.component_key]) if stage.component_key else q
    out = []
    for r in conn.execute(q):
        d = dict(r._mapping)
        if stage.fault_col and stage.fault_col in d:
            d["fault_meaning"] = fault_meaning(d[stage.fault_col], pstamp=stage.pstamp_db)
        if stage.quality_col and stage.quality_col in d:
            d["quality_meaning"] = quality_meaning(d[stage.quality_col])
        out.append(d)
    return out
