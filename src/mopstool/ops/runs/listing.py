"""Listing and showing runs of any stage (``mopstool runs`` / ``mopstool show``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, select

from mopstool.db import Databases, schema
from mopstool.errors import NotFound
from mopstool.ops.results import Listing, Table
from mopstool.stages import Stage, fault_meaning, quality_meaning
from mopstool.stages.joins import RunFilter, exposure_join, run_conditions
from mopstool.util import chunks

def _list_columns(stage: Stage, run) -> list[str]:
    if stage.list_columns:
        return list(stage.list_columns)
    cols = [stage.id_col] + ([stage.parent[1]] if stage.parent else []) + [stage.state_col]
    return [c for c in dict.fromkeys(cols + list(stage.run_columns)) if c in run.c]


def runs_listing(dbs: Databases, stage: Stage, flt: RunFilter) -> Listing:
    """list_runs() as a result (JSON and table form: the rows; *total* when the limit cut them)."""
    total: list[int] = []
    rows = list_runs(dbs, stage, flt, total=total)
    return Listing(rows, title=f"{stage.name} runs", total=total[0] if total else None)


def list_runs(dbs: Databases, stage: Stage, flt: RunFilter,
              total: list[int] | None = None) -> list[dict[str, Any]]:
    """Runs newest first, at most flt.limit; when the limit cuts the list and
    *total* is given, the number of matching runs is appended to it."""
    run = schema.table(stage.run_table, pstamp_db=stage.pstamp_db)
    cols = [run.c[c] for c in _list_columns(stage, run)]
    frm = run
    if stage.flat_exposure:
        raw = schema.rawExp
        frm = exposure_join(stage, outer=True)
        cols += [raw.c.exp_name, raw.c.filter, raw.c.dateobs, raw.c.comment]
    q = select(*cols).select_from(frm).where(*run_conditions(stage, flt))
    q = q.order_by(run.c[stage.id_col].desc())
    count_q = select(func.count()).select_from(frm).where(*run_conditions(stage, flt))
    if flt.limit:
        q = q.limit(flt.limit + 1)
    with dbs.connect(stage.pstamp_db) as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if flt.limit and len(rows) > flt.limit:
            rows = rows[:flt.limit]
            if total is not None:
                total.append(int(conn.execute(count_q).scalar() or 0))
        if rows and stage.component_table:
            counts = _component_counts(conn, stage, [r[stage.id_col] for r in rows])
            for r in rows:
                r.update(counts.get(r[stage.id_col], {"components": 0, "faulted": 0, "bad_quality": 0}))
    return rows


def _component_counts(conn, stage: Stage, ids: list[int]) -> dict[int, dict[str, int]]:
    comp = schema.table(stage.component_table, pstamp_db=stage.pstamp_db)
    link = comp.c[stage.component_link]
    fault = comp.c[stage.fault_col] if stage.fault_col and stage.fault_col in comp.c else None
    qual = comp.c[stage.quality_col] if stage.quality_col and stage.quality_col in comp.c else None
    exprs = [link.label("id"), func.count().label("components")]
    exprs.append(func.sum(case((fault != 0, 1), else_=0)).label("faulted") if fault is not None
                 else func.sum(0).label("faulted"))
    exprs.append(func.sum(case((qual != 0, 1), else_=0)).label("bad_quality") if qual is not None
                 else func.sum(0).label("bad_quality"))
    out = {}
    for chunk in chunks(ids):
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

    # result protocol (mopstool.ops.results); csv: the components
    def json_form(self) -> dict[str, Any]:
        return self.to_dict()

    def table_form(self) -> list[Table]:
        from mopstool.stages import STAGES

        st = STAGES.get(self.stage)
        id_col = st.id_col if st else "id"
        tables = []
        if st is not None and st.component_table:
            tables.append(Table(self.components, title=f"components ({st.component_table})"))
        tables.insert(0, Table(self.run, title=f"{self.stage} {id_col} {self.run.get(id_col)}"))
        if self.exposure:
            tables.insert(1, Table(self.exposure, title="exposure"))
        tables += [Table(rows, title=name) for name, rows in self.related.items()]
        return tables

    def csv_form(self) -> Table:
        return Table(self.components)


def show_run(dbs: Databases, stage: Stage, run_id: int) -> RunDetail:
    run = schema.table(stage.run_table, pstamp_db=stage.pstamp_db)
    with dbs.connect(stage.pstamp_db) as conn:
        row = conn.execute(select(run).where(run.c[stage.id_col] == run_id)).first()
        if row is None:
            raise NotFound(f"no {stage.name} run with {stage.id_col} {run_id}")
        detail = RunDetail(stage=stage.name, run=dict(row._mapping))
        if stage.flat_exposure:
            raw = schema.rawExp
            q = (select(raw.c.exp_id, raw.c.exp_name, raw.c.dateobs, raw.c.filter, raw.c.object,
                        raw.c.comment, raw.c.obs_mode, raw.c.exp_time)
                 .select_from(exposure_join(stage, outer=True)).where(run.c[stage.id_col] == run_id))
            exp = conn.execute(q).first()
            if exp is not None and exp.exp_id is not None:
                detail.exposure = dict(exp._mapping)
        if stage.component_table:
            detail.components = _components(conn, stage, run_id)
        for rel in stage.related:
            detail.related[rel.name] = _related(conn, stage, rel, run_id)
        if "fault" in detail.run and stage.pstamp_db:
            detail.run["fault_meaning"] = fault_meaning(detail.run.get("fault"), pstamp=True)
    return detail


def _related(conn, stage: Stage, rel, run_id: int) -> list[dict[str, Any]]:
    tab = schema.table(rel.table, pstamp_db=stage.pstamp_db)
    if rel.through:
        via = schema.table(rel.through, pstamp_db=stage.pstamp_db)
        cond = tab.c[rel.column].in_(select(via.c[rel.through_col]).where(
            and_(via.c[rel.through_run_col] == run_id, via.c[rel.through_col] != 0)))
    else:
        cond = tab.c[rel.column] == run_id
    q = select(tab).where(cond).order_by(*[tab.c[c] for c in rel.order_by])
    rows = [dict(r._mapping) for r in conn.execute(q)]
    if stage.pstamp_db:
        for d in rows:
            if "fault" in d:
                d["fault_meaning"] = fault_meaning(d.get("fault"), pstamp=True)
    return rows


def _components(conn, stage: Stage, run_id: int) -> list[dict[str, Any]]:
    comp = schema.table(stage.component_table, pstamp_db=stage.pstamp_db)
    link = comp.c[stage.component_link]
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
