"""Every join between stages, written once over the stage graph.

* ``exposure_join(stage)``        - FROM the run table along its path to rawExp
* ``night_condition(night)``      - rawExp rows of a UTC night (index-bounded)
* ``run_ids_for_night(stage, n)`` - SELECT of the stage's run ids of a night
* ``night_run_condition(stage, n)`` - the same as ``run.<link> IN (...)``, usable in an
  UPDATE of the run table on MySQL
* ``RunFilter`` / ``run_conditions`` - the selectors every run command shares
* ``component_exists(stage, ...)``  - EXISTS a component of the run
* ``downstream_active(conn, stage, ids)`` - runs whose downstream runs still read them
  (``downstream_readers``: and which stage reads them)
* ``exposure_ids(stage, ids)``     - (run id, exp_id) of the exposures behind runs
* ``stamp_dependents_waiting(pconn, stage, ids)`` - runs a stamp dependent still waits for
* ``exposure_chain(stage)``        - FROM the run table up to rawExp with every run table
  on the way (warp -> fake -> cam -> chip -> rawExp), for commands that need the
  intermediate ids
* ``chain_join(start, end)``       - FROM one run table to another along the exposure path
* ``exposure_stages(capability)``  - the stages whose runs are one per exposure (the chain)
* ``diffs_of_warps(warps)``        - diff rows using any of the warps as input or template
* ``guard_conditions(stage)``      - the rows a run needs before a writer touches it
  (``guard_row_conditions``: the same on the guard table's own rows)
* ``with_components(frm, stage)``  - a FROM holding the run table joined with its components
* ``component_input_on(stage)``    - a component and its input-table row (diffSkyfile, diffInputSkyfile)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Iterable

from sqlalchemy import and_, exists, literal, or_, select, union
from sqlalchemy.sql import ColumnElement, Select

from mopstool.db import schema
from mopstool.errors import UsageError
from mopstool.stages import ACTIVE_STATES, STAGES, Stage
from mopstool.util import chunks


@dataclass
class RunFilter:
    """The run selection options of a command (ids, labels, states, groups, night)."""

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

    def detail(self) -> dict:
        """The selection as an audit detail (lists cut at 50)."""
        out = {}
        for name in ("ids", "labels", "states", "data_groups", "dist_groups"):
            v = getattr(self, name)
            if v:
                out[name] = v[:50]
        if self.night:
            out["night"] = self.night.isoformat()
        return out


def like_any(column, patterns: list[str]) -> ColumnElement:
    """IPP semantics: repeated values of one option are ORed; '%' is the user's wildcard.
    An empty string selects NULL; the word NULL selects SQL NULL and the string
    'NULL' (the C tools store the string where mopstool stores SQL NULL)."""
    conds = [column.is_(None) if p == "" else
             or_(column.is_(None), column == "NULL") if p == "NULL" else column.like(p)
             for p in patterns]
    return or_(*conds) if len(conds) > 1 else conds[0]


def eq_any(column, values: list) -> ColumnElement:
    values = list(values)
    return column.in_(values) if len(values) > 1 else column == values[0]


def night_condition(night: date) -> ColumnElement:
    """rawExp rows of a UTC night. GPC1 exposure names start with 'o' and the
    MJD-50000 of the UTC date (o8309g0262o is MJD 58309 = 2018-07-10), so a
    prefix match on the indexed exp_name bounds the scan to the night (on
    SQLite too: db.dialect.prefix_match); the dateobs range makes it exact."""
    from mopstool.util import night_bounds
    from mopstool.db.dialect import prefix_match

    start, end = night_bounds(night)
    mjd = (datetime(night.year, night.month, night.day) - datetime(1858, 11, 17)).days
    raw = schema.rawExp
    return and_(prefix_match(raw.c.exp_name, f"o{mjd - 50000}"), raw.c.dateobs >= start, raw.c.dateobs < end)


def _table(name: str, stage: Stage):
    return schema.table(name, pstamp_db=stage.pstamp_db)


def exposure_join(stage: Stage, *, outer: bool = False):
    """FROM clause joining the stage's run table along its path to rawExp
    (outer joins keep runs whose upstream rows are missing)."""
    frm = _table(stage.run_table, stage)
    for link in stage.exposure_path:
        left, right = schema.table(link.table), schema.table(link.to_table)
        on = left.c[link.column] == right.c[link.to_column]
        frm = frm.outerjoin(right, on) if outer else frm.join(right, on)
    return frm


def _path_tables(stage: Stage) -> list[str]:
    return [stage.run_table] + [link.to_table for link in stage.exposure_path]


def _table_of(name: str) -> str:
    return "rawExp" if name == "exposure" else STAGES[name].run_table


def chain_join(start: str, end: str, *, outer: bool = False):
    """FROM clause from the run table of *start* to that of *end* along the
    exposure path (either direction; "exposure" is rawExp), e.g.
    ``chain_join("warp", "chip")`` = warpRun JOIN fakeRun JOIN camRun JOIN chipRun,
    ``chain_join("exposure", "warp", outer=True)`` = rawExp LEFT JOIN chipRun ...
    LEFT JOIN warpRun. Columns of every table on the way can be selected."""
    ta, tb = _table_of(start), _table_of(end)
    if start != "exposure" and tb in _path_tables(STAGES[start]):
        links, reverse, first = STAGES[start].exposure_path, False, ta
    elif end != "exposure" and ta in _path_tables(STAGES[end]):
        links, reverse, first = STAGES[end].exposure_path, True, ta
    else:
        raise ValueError(f"no exposure path joins {start} and {end}")
    tables = _path_tables(STAGES[end if reverse else start])
    lo, hi = sorted((tables.index(ta), tables.index(tb)))
    steps = list(links[lo:hi])
    frm = schema.table(first)
    for link in (reversed(steps) if reverse else steps):
        left, right = schema.table(link.table), schema.table(link.to_table)
        new = left if reverse else right
        on = left.c[link.column] == right.c[link.to_column]
        frm = frm.outerjoin(new, on) if outer else frm.join(new, on)
    return frm


def exposure_chain(stage: Stage | str, *, outer: bool = False):
    """FROM the stage's run table up to rawExp with every run table on the way
    (warp -> fake -> cam -> chip -> rawExp)."""
    name = stage if isinstance(stage, str) else stage.name
    return chain_join(name, "exposure", outer=outer)


def _no_night(stage: Stage) -> UsageError:
    return UsageError(f"--night does not apply to stage {stage.name}; use --label or --data-group")


def run_ids_for_night(stage: Stage, night: date) -> Select:
    """SELECT of the stage's run ids whose input exposure is from *night*."""
    if not stage.exposure_path:
        raise _no_night(stage)
    run = _table(stage.run_table, stage)
    return select(run.c[stage.id_col]).select_from(exposure_join(stage)).where(night_condition(night))


def night_run_condition(stage: Stage, night: date) -> ColumnElement:
    """``run.<link> IN (SELECT ... WHERE <night>)`` without naming the run table
    inside the subquery, so it can drive an UPDATE of the run table on MySQL."""
    if not stage.exposure_path:
        raise _no_night(stage)
    first = stage.exposure_path[0]
    start = schema.table(first.to_table)
    frm = start
    for link in stage.exposure_path[1:]:
        left, right = schema.table(link.table), schema.table(link.to_table)
        frm = frm.join(right, left.c[link.column] == right.c[link.to_column])
    sub = select(start.c[first.to_column]).select_from(frm).where(night_condition(night))
    return _table(stage.run_table, stage).c[first.column].in_(sub)


def run_conditions(stage: Stage, flt: RunFilter, *, for_update: bool = False) -> list[ColumnElement]:
    """WHERE conditions of *flt* on the stage's run table (parameterized, indexed).
    *for_update*: the night as :func:`night_run_condition` (MySQL UPDATE-safe)."""
    run = _table(stage.run_table, stage)
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
        conds.append(night_run_condition(stage, flt.night) if for_update
                     else run.c[stage.id_col].in_(run_ids_for_night(stage, flt.night)))
    return conds


def run_filter_conditions(stage: Stage, flt: RunFilter) -> list[ColumnElement]:
    """run_conditions() safe inside an UPDATE/DELETE of the run's own tables."""
    return run_conditions(stage, flt, for_update=True)


def without_night(flt: RunFilter) -> RunFilter:
    return replace(flt, night=None)


def component_exists(stage: Stage, *conds) -> ColumnElement:
    """EXISTS (a component of the run matching *conds*)."""
    run = _table(stage.run_table, stage)
    comp = _table(stage.component_table, stage)
    return exists().where(comp.c[stage.component_link] == run.c[stage.id_col], *conds)


# ---------------------------------------------------------------------- downstream

def _children(stage: Stage) -> list[tuple[Stage, object]]:
    """(downstream stage, Input) pairs reading *stage*."""
    out = []
    for s in STAGES.values():
        for inp in s.inputs:
            if inp.stage == stage.name:
                out.append((s, inp))
    return out


def _via(inp, link_table) -> list[ColumnElement]:
    """The EXISTS condition of an input's ``via`` row (none without one)."""
    g = inp.via
    if g is None:
        return []
    t = schema.table(g.table)
    conds = [t.c[g.column] == link_table.c[g.run_col]]
    conds += [t.c[c] != 0 for c in g.nonzero]
    conds += [t.c[c] == v for c, v in g.equals]
    return [exists().where(*conds)]


def _reading(stage: Stage, child: Stage, inp, up_ids, states: list[str] | None, *, follow: bool):
    """SELECT of *stage* run ids (in *up_ids*) read by a *child* run in *states*
    (default: each run's ``reading_states``), or, following one-to-one children
    further down, whose descendants are."""

    def reading(st: Stage, tab):
        return tab.c[st.state_col].in_(states if states is not None else [str(x) for x in st.reading_states])

    run = schema.table(child.run_table)
    if inp.table == child.run_table:
        frm, up_col = run, run.c[inp.up_col]
        chain = [(child, run)]
        # one run per upstream run: follow the one-to-one chain (cam -> fake -> warp)
        cur, cur_tab = child, run
        while follow:
            nxt = [(s, i) for s, i in _children(cur) if i.table == s.run_table]
            if not nxt:
                break
            s, i = nxt[0]
            t = schema.table(s.run_table)
            on = and_(t.c[i.up_col] == cur_tab.c[cur.id_col], *_via(i, t))
            frm = frm.outerjoin(t, on)
            chain.append((s, t))
            cur, cur_tab = s, t
        conds = [or_(*[reading(s, t) for s, t in chain]), *_via(inp, run)]
    else:
        link = schema.table(inp.table)
        frm = link.join(run, run.c[child.id_col] == link.c[inp.run_col])
        up_col = link.c[inp.up_col]
        conds = [reading(child, run), *_via(inp, link)]
    return select(up_col).select_from(frm).where(up_col.in_(up_ids), *conds).distinct()


def downstream_readers(conn, stage: Stage | str, ids: Iterable[int], *,
                       states: Iterable[str] | None = None, size: int = 1000) -> dict[int, Stage]:
    """Run ids of *stage* that a downstream run still reads -> the child stage
    (the first one found, in registration order) whose run reads them.

    A run reads its inputs while it is in its stage's ``reading_states`` (or
    *states*). One-to-one children are followed down their chain (a chip run
    is held by a cam, fake or warp run of it still being processed); children
    through an input table (diffs and stacks of a warp) count one level down;
    a link with a ``via`` row needs it (a publishRun reads a diff only through a
    diff client)."""
    stage = STAGES[stage] if isinstance(stage, str) else stage
    ids = list(ids)
    wanted = None if states is None else [str(s) for s in states]
    found: dict[int, Stage] = {}
    kids = _children(stage)
    for chunk in chunks(ids, size):
        for child, inp in kids:
            q = _reading(stage, child, inp, chunk, wanted, follow=True)
            for (x,) in conn.execute(q):
                if x is not None:
                    found.setdefault(int(x), child)
    return found


def downstream_active(conn, stage: Stage | str, ids: Iterable[int], *,
                      states: Iterable[str] = ACTIVE_STATES, size: int = 1000) -> set[int]:
    """Run ids of *stage* that a downstream run in *states* still reads
    (see :func:`downstream_readers`)."""
    return set(downstream_readers(conn, stage, ids, states=states, size=size))


def exposure_ids(stage: Stage | str, ids) -> Select:
    """SELECT (run id, exp_id) of every exposure behind the runs *ids*: along the
    exposure path for a one-per-exposure stage, otherwise through each input
    whose stage has an exposure (a diff has its input's and its template's)."""
    stage = STAGES[stage] if isinstance(stage, str) else stage
    raw = schema.rawExp
    run = _table(stage.run_table, stage)
    if stage.flat_exposure:
        idc = run.c[stage.id_col]
        return select(idc, raw.c.exp_id).select_from(exposure_join(stage)).where(idc.in_(ids))
    parts = []
    for inp in stage.inputs:
        up = STAGES.get(inp.stage)
        if up is None or not up.exposure_path:
            continue
        link = schema.table(inp.table)
        up_run = schema.table(up.run_table)
        frm = link.join(exposure_join(up), up_run.c[up.id_col] == link.c[inp.up_col])
        parts.append(select(link.c[inp.run_col], raw.c.exp_id).select_from(frm)
                     .where(link.c[inp.run_col].in_(ids), *_via(inp, link)))
    if not parts:
        raise _no_night(stage)
    return union(*parts) if len(parts) > 1 else parts[0].distinct()


def stamp_dependents_waiting(pconn, stage: Stage | str, ids: Iterable[int], *,
                             size: int = 1000) -> set[int]:
    """Run ids of *stage* with a stamp dependent (pstampDependent.stage/stage_id)
    not 'full' yet: the stamp server still waits for their images."""
    from mopstool.stages.vocab import DependentState

    name = stage if isinstance(stage, str) else stage.name
    dep = schema.table("pstampDependent", pstamp_db=True)
    found: set[int] = set()
    for chunk in chunks(list(ids), size):
        q = select(dep.c.stage_id).where(dep.c.stage == name, dep.c.stage_id.in_(chunk),
                                         dep.c.state != DependentState.FULL).distinct()
        found.update(int(x) for (x,) in pconn.execute(q))
    return found


# ---------------------------------------------------------------------- nightly chains

def exposure_stages(capability: str = "runs") -> tuple[str, ...]:
    """Stages with *capability* whose runs are one per exposure (chip, cam,
    fake, warp): their run ids can sit beside the exposure in one row."""
    from mopstool.stages import stages_that

    return tuple(n for n in stages_that(capability) if STAGES[n].flat_exposure)


def diffs_of_warps(warps):
    """Diffs using any of *warps* (a SELECT or a list of ids) as input or
    template: a UNION of the warp1 and the warp2 lookups (each indexed; an OR of
    the two would scan diffInputSkyfile). WW rows once per run, WS/SW rows once
    per skycell."""
    dis, dr = schema.diffInputSkyfile, schema.diffRun
    cols = [dr.c.diff_id, dr.c.state, dr.c.label, dr.c.data_group, dr.c.diff_mode,
            dis.c.warp1, dis.c.warp2, dis.c.stack1, dis.c.stack2]
    frm = dis.join(dr, dr.c.diff_id == dis.c.diff_id)
    parts = []
    for col in (dis.c.warp1, dis.c.warp2):
        parts.append(select(*cols, literal(None).label("skycell_id")).select_from(frm)
                     .where(col.in_(warps), dis.c.warp1.is_not(None), dis.c.warp2.is_not(None)))
        parts.append(select(*cols, dis.c.skycell_id).select_from(frm)
                     .where(col.in_(warps), or_(dis.c.warp1.is_(None), dis.c.warp2.is_(None))))
    return union(*parts)


def guard_conditions(stage: Stage) -> list[ColumnElement]:
    """EXISTS conditions of the stage's guards on its run table (publish: the
    run's client is an active diff client)."""
    run = _table(stage.run_table, stage)
    out: list[ColumnElement] = []
    for g in stage.guards:
        t = _table(g.table, stage)
        conds = [t.c[g.column] == run.c[g.run_col]]
        conds += _guard_row(g, t)
        out.append(exists().where(*conds))
    return out


def with_components(frm, stage: Stage | str, *, outer: bool = False):
    """*frm* (holding the stage's run table) joined with the stage's component
    rows (camRun LEFT JOIN camProcessedExp, warpRun JOIN warpSkyfile)."""
    stage = STAGES[stage] if isinstance(stage, str) else stage
    run = _table(stage.run_table, stage)
    comp = _table(stage.component_table, stage)
    on = comp.c[stage.component_link] == run.c[stage.id_col]
    return frm.outerjoin(comp, on) if outer else frm.join(comp, on)


def component_input_on(stage: Stage | str) -> ColumnElement:
    """ON clause pairing a component with its row of the stage's input table
    (diffSkyfile and the diffInputSkyfile row of the same diff and skycell)."""
    stage = STAGES[stage] if isinstance(stage, str) else stage
    table = next(i.table for i in stage.inputs if i.table != stage.run_table)
    comp, inp = _table(stage.component_table, stage), _table(table, stage)
    return and_(*[comp.c[c] == inp.c[c] for c in (stage.component_link, *stage.component_key)])


def guard_row_conditions(stage: Stage | str, table: str) -> list[ColumnElement]:
    """The conditions the stage's guards put on the rows of *table* itself, for
    a query that joins that table (publishClient: active diff clients)."""
    stage = STAGES[stage] if isinstance(stage, str) else stage
    return [c for g in stage.guards if g.table == table for c in _guard_row(g, _table(g.table, stage))]


def _guard_row(g, t) -> list[ColumnElement]:
    return [t.c[c] != 0 for c in g.nonzero] + [t.c[c] == v for c, v in g.equals]


def component_join(stage: Stage):
    """FROM the stage's component table JOIN its run table (pstampJob JOIN
    pstampRequest), so a query over components can filter on their runs."""
    run = _table(stage.run_table, stage)
    comp = _table(stage.component_table, stage)
    return comp.join(run, comp.c[stage.component_link] == run.c[stage.id_col])


def related_join(frm, stage: Stage, name: str, *, outer: bool = False):
    """*frm* (holding the stage's run or ``through`` table) joined with the rows
    ``show`` lists as *name* (the dependents of a request's jobs:
    pstampDependent.dep_id = pstampJob.dep_id)."""
    rel = next((r for r in stage.related if r.name == name), None)
    if rel is None:
        raise ValueError(f"stage {stage.name} has no related rows {name!r}")
    t = _table(rel.table, stage)
    if rel.through:
        on = t.c[rel.column] == _table(rel.through, stage).c[rel.through_col]
    else:
        on = t.c[rel.column] == _table(stage.run_table, stage).c[stage.id_col]
    return frm.outerjoin(t, on) if outer else frm.join(t, on)
