"""Run selection written once over the stage descriptions.

``RunFilter`` holds the selectors every run command shares (--id, --label,
--state, --data-group, --dist-group, --night); ``run_conditions`` turns them
into parameterized, index-friendly WHERE conditions on a stage's run table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.sql import ColumnElement, Select

from mopstool.config import night_bounds
from mopstool.db import schema
from mopstool.errors import UsageError
from mopstool.stages import Stage


@dataclass
class RunFilter:
    ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)        # LIKE, ORed
    states: list[str] = field(default_factory=list)        # =, ORed
    data_groups: list[str] = field(default_factory=list)   # LIKE, ORed
    dist_groups: list[str] = field(default_factory=list)   # LIKE, ORed
    night: date | None = None
    limit: int | None = None

    def is_empty(self) -> bool:
        return not (self.ids or self.labels or self.states or self.data_groups
                    or self.dist_groups or self.night)

    def only_state(self) -> bool:
        return bool(self.states) and not (self.ids or self.labels or self.data_groups
                                          or self.dist_groups or self.night)


def like_any(column, patterns: list[str]) -> ColumnElement:
    """IPP semantics: repeated values of one option are ORed; '%' is the user's wildcard.
    An empty string selects NULL; the word NULL selects SQL NULL and the string
    'NULL' (the C tools store the string where mopstool stores SQL NULL)."""
    conds = [column.is_(None) if p == "" else
             or_(column.is_(None), column == "NULL") if p == "NULL" else column.like(p)
             for p in patterns]
    return or_(*conds) if len(conds) > 1 else conds[0]


def eq_any(column, values: list) -> ColumnElement:
    return column.in_(values) if len(values) > 1 else column == values[0]


def night_condition(night: date) -> ColumnElement:
    """rawExp rows of a UTC night. GPC1 exposure names start with 'o' and the
    MJD-50000 of the UTC date (o8309g0262o is MJD 58309 = 2018-07-10), so a
    prefix match on the indexed exp_name bounds the scan to the night; the
    dateobs range makes it exact."""
    start, end = night_bounds(night)
    mjd = (datetime(night.year, night.month, night.day) - datetime(1858, 11, 17)).days
    raw = schema.rawExp
    return and_(raw.c.exp_name.like(f"o{mjd - 50000}%"), raw.c.dateobs >= start, raw.c.dateobs < end)


def exposure_names_for_night(night: date) -> Select:
    return select(schema.rawExp.c.exp_id).where(night_condition(night))


def exposure_join(stage: Stage, *, outer: bool = False):
    """FROM clause joining the stage's run table along its path to rawExp
    (outer joins keep runs whose upstream rows are missing)."""
    frm = schema.table(stage.run_table)
    for link in stage.exposure_path:
        left = schema.table(link.table)
        right = schema.table(link.to_table)
        on = left.c[link.column] == right.c[link.to_column]
        frm = frm.outerjoin(right, on) if outer else frm.join(right, on)
    return frm


def run_ids_for_night(stage: Stage, night: date) -> Select:
    """SELECT of the stage's run ids whose input exposure is from *night*."""
    if not stage.exposure_path:
        raise UsageError(f"--night does not apply to stage {stage.name}; use --data-group or --label")
    run = schema.table(stage.run_table)
    return select(run.c[stage.id_col]).select_from(exposure_join(stage)).where(night_condition(night))


def run_conditions(stage: Stage, flt: RunFilter) -> list[ColumnElement]:
    run = schema.table(stage.run_table, pstamp_db=stage.pstamp_db)
    conds: list[ColumnElement] = []
    if flt.ids:
        conds.append(eq_any(run.c[stage.id_col], flt.ids))
    for attr, col in (("labels", "label"), ("data_groups", "data_group"), ("dist_groups", "dist_group")):
        values = getattr(flt, attr)
        if values:
            if col not in stage.run_columns:
                raise UsageError(f"stage {stage.name} has no {col} column; drop --{col.replace('_', '-')}")
            conds.append(like_any(run.c[col], values))
    if flt.states:
        conds.append(eq_any(run.c[stage.state_col], flt.states))
    if flt.night:
        conds.append(run.c[stage.id_col].in_(run_ids_for_night(stage, flt.night)))
    return conds


def component_exists(stage: Stage, *conds) -> ColumnElement:
    """EXISTS (a component of the run matching *conds*)."""
    run = schema.table(stage.run_table, pstamp_db=stage.pstamp_db)
    comp = schema.table(stage.component_table, pstamp_db=stage.pstamp_db)
    link = stage.id_col if stage.id_col in comp.c else "req_id"
    return exists().where(comp.c[link] == run.c[stage.id_col], *conds)
