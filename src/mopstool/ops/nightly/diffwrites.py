"""The writes of the diff stage: ``diffpairs --define`` (the planned pairs as
diffRuns), ``difftool -definewarpwarp`` and ``-definewarpstack``, ``publish``
(publishRuns) and ``revert publish``. The plans they write come from
:mod:`mopstool.ops.nightly.diffpairs`, which only reads."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import and_, func, or_, select, update

from mopstool.config import Config
from mopstool.db import Databases, schema
from mopstool.errors import NotFound, UsageError
from mopstool.ops.nightly.diffpairs import (
    DEFINED, EXISTS, WS, DiffPair, DiffPlan, _dbname, _existing, unpublished_query,
)
from mopstool.ops.nightly.visits import survey_names
from mopstool.ops.writes import WritePlan, execute
from mopstool.stages.vocab import State


def _recheck(conn, plan: DiffPlan, warp_ids: set[int], cfg: Config):
    """Existing diffs of these warps, read again inside the write transaction:
    (field key, visit pair) under the nightly data_group, (exp, skycell) of WS."""
    from mopstool.ops.nightly.visits import diffs_of_warps

    nd = plan.data
    rows = []
    for r in conn.execute(diffs_of_warps(sorted(warp_ids))):
        d = dict(r._mapping)
        rows.append(d)
    groups = nd.groups(None)
    ww, ws = _existing(nd, rows, groups)
    dgs = {t: survey_names(cfg, t, plan.night)["data_group"] for t in nd.targets}
    ws_dgs = {survey_names(cfg, t, plan.night, ws=True)["data_group"] for t in nd.targets}
    ww_keys = {(key, pair) for key, pairs in ww.items() for pair, ds in pairs.items()
               if any(d["data_group"] == dgs.get(key[0]) for d in ds)}
    ws_keys = {k for k, ds in ws.items() if any(d["data_group"] in ws_dgs for d in ds)}
    return ww_keys, ws_keys


@dataclass
class DefinePlan(WritePlan):
    """The diffRuns (and their diffInputSkyfile rows) a --define would create."""

    pairs: list = field(default_factory=list, repr=False, compare=False)
    runs: list = field(default_factory=list, repr=False, compare=False)


def define_diffpairs(dbs: Databases, cfg: Config, plan: DiffPlan, *, dry_run: bool = False,
                     command: list[str] | None = None, confirm=None) -> list[DiffPair]:
    """Create the planned pairs of *plan* (one diffRun each, with one
    diffInputSkyfile per usable common skycell): diffRun state 'new',
    diff_mode 1 bothways for WW (input = earlier exposure), diff_mode 2
    reduction WARPSTACK for WS; registered and note NULL and maskfrac_npix 0
    as difftool leaves them. One INSERT per table whatever the number of
    diffs. Pairs that exist by now (for the same visits, under the nightly
    data_group) are skipped, so a second run defines nothing. The write
    protocol (ops.writes.execute) confirms once through *confirm* and checks
    the existing diffs again under the lock. Returns the pairs that were (or,
    with *dry_run*, would be) defined."""
    todo = [p for p in plan.pairs if p.definable]
    if not todo:
        return todo
    nd = plan.data
    dbname = _dbname(dbs, cfg)
    default_tess = cfg.get("survey.tess_id", "RINGS.V3")
    ws_reduction = cfg.get("survey.ws_reduction", "WARPSTACK")
    warps = {p.input.warp_id for p in todo} | {p.template.warp_id for p in todo if p.template}

    def make_plan(conn) -> DefinePlan:
        ww_keys, ws_keys = _recheck(conn, plan, warps, cfg)
        out = DefinePlan(action="diffpairs.define", title=f"diff pairs of {plan.night}")
        seen, keys = set(), set()
        for p in todo:
            if p.kind == WS:
                key = (p.input.exp_id, p.skycell_id)
                found = key in ws_keys or key in seen
            else:
                fkey = (p.target, p.object or "", p.chunk, p.filter or "")
                key = (fkey, tuple(sorted((p.input_visit, p.template_visit))))
                found = key in ww_keys or key in seen
            if found:
                p.status = EXISTS
                continue
            seen.add(key)
            keys.add((p.kind, p.input.exp_id, p.template.exp_id if p.template else p.stack_id,
                      p.skycell_id))
            tcfg = nd.targets[p.target]
            names = survey_names(cfg, p.target, plan.night, ws=p.kind == WS, dbname=dbname)
            tess = p.input.warp_tess_id or default_tess
            out.runs.append(dict(
                state=State.NEW, workdir=names["workdir"], label=names["label"],
                data_group=names["data_group"], dist_group=tcfg.get("dist_group") or p.target,
                reduction=ws_reduction if p.kind == WS else (tcfg.get("reduction") or None),
                registered=None, tess_id=tess, bothways=0 if p.kind == WS else 1, exposure=1,
                magicked=0, diff_mode=2 if p.kind == WS else 1, maskfrac_npix=0, note=None))
            out.pairs.append(p)
        out.rows = {"diffRun": len(out.pairs), "diffInputSkyfile": sum(len(p.skycells) for p in out.pairs)}
        out.sample = [p.to_dict() for p in out.pairs[:20]]
        out.keys = frozenset(keys)
        return out

    def apply(conn, fresh: DefinePlan):
        inputs = []
        for p in fresh.pairs:
            tess = p.input.warp_tess_id or default_tess
            inputs.append([dict(skycell_id=sc, tess_id=sc_tess or tess, warp1=p.input.warp_id, stack1=None,
                                warp2=None if p.kind == WS else p.template.warp_id,
                                stack2=p.stack_id if p.kind == WS else None)
                           for sc, sc_tess in p.skycells])
        diff_ids = insert_diffs(conn, fresh.runs, inputs)
        for p, run, diff_id in zip(fresh.pairs, fresh.runs, diff_ids):
            p.status, p.diff_id = DEFINED, diff_id
            p.data_group = run["data_group"]
            p.label = run["label"]
            p.note = f"defined with {len(p.skycells)} skycells"
        inputs = [x for xs in inputs for x in xs]
        done = fresh.pairs
        return len(done) + len(inputs), {
            "night": plan.night.isoformat(), "diffRun": len(done), "diffInputSkyfile": len(inputs),
            "diff_ids": [p.diff_id for p in done],
            "pairs": [f"{p.kind}:{p.input.exp_name}-{p.template.exp_name if p.template else p.stack_id}"
                      for p in done]}

    res = execute(dbs, "diffpairs.define", make_plan, apply, dry_run=dry_run, confirm=confirm,
                  command=command)
    return res.pairs if (res.applied or dry_run) else []


def insert_diffs(conn, runs: list[dict], inputs: list[list[dict]]) -> list[int]:
    """Insert diffRuns and their diffInputSkyfile rows (``inputs[i]`` belongs to
    ``runs[i]``; diff_skyfile_id numbered in that order): one INSERT per table
    whatever the number of runs. Returns the new diff_ids in the order of *runs*."""
    import uuid

    dr, dis = schema.diffRun, schema.diffInputSkyfile
    marker = f"mopstool.diffs.{uuid.uuid4().hex[:16]}."
    top = conn.execute(select(func.max(dr.c.diff_id))).scalar() or 0
    conn.execute(dr.insert(), [dict(r, note=f"{marker}{i}") for i, r in enumerate(runs)])
    ids = {r.note: int(r.diff_id) for r in conn.execute(
        select(dr.c.diff_id, dr.c.note).where(dr.c.diff_id > top, dr.c.note.like(marker + "%")))}
    diff_ids = [ids[f"{marker}{i}"] for i in range(len(runs))]
    rows = [dict(x, diff_id=d) for d, xs in zip(diff_ids, inputs) for x in xs]
    if rows:
        conn.execute(dis.insert(), rows)
    notes: dict[Any, list[int]] = {}
    for r, d in zip(runs, diff_ids):
        notes.setdefault(r.get("note"), []).append(d)
    for value, group in notes.items():
        conn.execute(update(dr).where(dr.c.diff_id.in_(group)).values(note=value))
    return diff_ids


# ---------------------------------------------------------------------- difftool -definewarpwarp

#: rawExp range columns the warp-warp selection takes (-X_min: >=, -X_max: <)
WW_RANGE_COLUMNS = ("ra", "decl", "airmass", "exp_time", "sat_pixel_frac", "bg", "bg_stdev", "bg_mean_stdev",
                    "alt", "az", "ccd_temp", "posang", "sun_angle")
#: MySQL's TIMEDIFF clamps at 838:59:59
_TIMEDIFF_MAX = 838 * 3600 + 59 * 60 + 59


@dataclass
class WarpWarpQuery:
    """difftool -definewarpwarp's selection. ``terms``: (side, column, op, value)
    with side 'input' or 'template' and op '=', '>=', '<', '<=' or 'LIKE' on the
    side's warpRun/rawExp columns; the rest as difftool applies them."""

    terms: list[tuple[str, str, str, Any]] = field(default_factory=list)
    rotdiff: float | None = None
    timediff: float | None = None
    mintimediff: float | None = None
    distance: float | None = None
    backwards: bool = False
    rerun: bool = False
    good_frac: float | None = None


@dataclass
class WarpWarpSetters:
    workdir: str
    label: str | None = None
    reduction: str | None = None
    data_group: str | None = None
    dist_group: str | None = None
    note: str | None = None
    registered: datetime | None = None
    bothways: bool = True


@dataclass
class WarpWarpPlan(WritePlan):
    """The warp pairs a -definewarpwarp selects and the diffRuns it would create."""

    selected: list = field(default_factory=list, repr=False, compare=False)
    runs: list = field(default_factory=list, repr=False, compare=False)
    inputs: list = field(default_factory=list, repr=False, compare=False)


def _warp_side(name: str):
    from mopstool.stages.joins import exposure_chain

    w, f, c, ch, r = schema.warpRun, schema.fakeRun, schema.camRun, schema.chipRun, schema.rawExp
    cols = [w.c.warp_id, w.c.tess_id, w.c.state, w.c.label, w.c.data_group, f.c.fake_id, c.c.cam_id,
            ch.c.chip_id, r.c.exp_id, r.c.filter, r.c.obs_mode, r.c.dateobs, r.c.comment,
            *(r.c[x] for x in WW_RANGE_COLUMNS if x not in ("ra", "decl", "posang")),
            r.c.ra, r.c.decl, r.c.posang]
    return select(*cols).select_from(exposure_chain("warp")).subquery(name)


def _op(col, op: str, value):
    import operator

    if op == "LIKE":
        return col.like(value)
    return {"=": operator.eq, ">=": operator.ge, "<": operator.lt, "<=": operator.le}[op](col, value)


def select_warpwarp(conn, q: WarpWarpQuery, label: str | None) -> list[dict[str, Any]]:
    """The rows of difftool_definewarpwarp_select.sql: for every full input warp
    (without a whole-exposure diff, under *label* when given, unless ``rerun``)
    the nearest full warp of another exposure with the same filter and
    tessellation, taken earlier (later with ``backwards``), ordered by input warp."""
    import math

    from mopstool.stages.joins import exposure_ids

    i, t = _warp_side("inputWarp"), _warp_side("templateWarp")
    side = {"input": i, "template": t}
    on = and_(t.c.warp_id != i.c.warp_id, t.c.tess_id == i.c.tess_id, t.c.fake_id != i.c.fake_id,
              t.c.cam_id != i.c.cam_id, t.c.chip_id != i.c.chip_id, t.c.filter == i.c.filter,
              t.c.exp_id != i.c.exp_id)
    conds = [i.c.state == State.FULL, t.c.state == State.FULL,
             t.c.dateobs > i.c.dateobs if q.backwards else t.c.dateobs < i.c.dateobs]
    conds += [_op(side[s].c[col], op, v) for s, col, op, v in q.terms]
    if q.rotdiff is not None:
        conds.append(func.abs(i.c.posang - t.c.posang) <= q.rotdiff)
    if not q.rerun:
        dr, dis = schema.diffRun, schema.diffInputSkyfile
        lab = [dr.c.label == label] if label is not None else []
        frm = dis.join(dr, dr.c.diff_id == dis.c.diff_id)
        warps = select(dis.c.warp1).select_from(frm).where(dis.c.warp1.is_not(None), dr.c.exposure == 1, *lab)\
            .union(select(dis.c.warp2).select_from(frm).where(dis.c.warp2.is_not(None), dr.c.exposure == 1,
                                                             dr.c.bothways == 1, *lab))
        done = exposure_ids("warp", select(warps.subquery().c[0])).subquery()
        conds.append(i.c.exp_id.not_in(select(done.c.exp_id)))
    rows = conn.execute(select(i.c.warp_id, i.c.tess_id, i.c.exp_id, i.c.data_group, i.c.ra, i.c.decl,
                               i.c.dateobs, t.c.warp_id.label("t_warp"), t.c.ra.label("t_ra"),
                               t.c.decl.label("t_decl"), t.c.dateobs.label("t_dateobs"))
                        .select_from(i.join(t, on)).where(*conds)
                        .order_by(i.c.warp_id, t.c.warp_id)).all()

    def hav(r, half: float):
        if None in (r.ra, r.decl, r.t_ra, r.t_decl):
            return None
        v = (math.sin(half * (r.decl - r.t_decl)) ** 2
             + math.cos(r.decl) * math.cos(r.t_decl) * math.sin(half * (r.ra - r.t_ra)) ** 2)
        return math.asin(math.sqrt(v)) if 0 <= v <= 1 else None

    best: dict[int, tuple] = {}
    for r in rows:
        if q.timediff is not None or q.mintimediff is not None:
            secs = abs(max(-_TIMEDIFF_MAX, min(_TIMEDIFF_MAX, (r.dateobs - r.t_dateobs).total_seconds())))
            if (q.timediff is not None and not secs <= q.timediff) or \
                    (q.mintimediff is not None and not secs >= q.mintimediff):
                continue
        if q.distance is not None:
            d = hav(r, 1.0)
            if d is None or not math.degrees(2 * d) <= q.distance:
                continue
        d = hav(r, 0.5)
        key = -1.0 if d is None else abs(d)       # NULL sorts first, as in GROUP_CONCAT(... ORDER BY)
        if r.warp_id not in best or key < best[r.warp_id][0]:
            best[r.warp_id] = (key, r)
    return [{"input_warp_id": int(r.warp_id), "tess_id": r.tess_id, "input_exp_id": int(r.exp_id),
             "input_data_group": r.data_group, "template_warp_id": str(r.t_warp)}
            for _, r in (best[w] for w in sorted(best))]


def define_warpwarp(dbs: Databases, q: WarpWarpQuery, setters: WarpWarpSetters, *, limit: int | None = None,
                    dry_run: bool = False, confirm=None, audit_detail: dict | None = None) -> WarpWarpPlan:
    """difftool -definewarpwarp: one diffRun (diff_mode 1, exposure 1) per selected
    pair with one diffInputSkyfile per skycell both warps have at quality 0 (and
    good_frac >= ``q.good_frac``), state 'new'; a pair without a common skycell
    gets a 'full' run with one NULL skycell ('dummy run - no overlap'), so it is
    not selected again. data_group: the setter, else the first selected input
    warp's data_group (difftool keeps it for the following runs), else the label.
    At most *limit* runs. The pairs are selected again under the write lock."""
    dis = schema.warpSkyfile

    def make_plan(conn) -> WarpWarpPlan:
        out = WarpWarpPlan(action="difftool.definewarpwarp", title="warp-warp diffs")
        out.selected = select_warpwarp(conn, q, setters.label)
        todo = out.selected[:limit] if limit else out.selected
        warps = {r["input_warp_id"] for r in todo} | {int(r["template_warp_id"]) for r in todo}
        cond = [dis.c.warp_id.in_(warps), dis.c.quality == 0]
        if q.good_frac is not None:
            cond.append(dis.c.good_frac >= q.good_frac)
        sky: dict[int, list[tuple[str, str]]] = {}
        if warps:
            for w, sc, tess in conn.execute(select(dis.c.warp_id, dis.c.skycell_id, dis.c.tess_id)
                                            .where(*cond).order_by(dis.c.skycell_id, dis.c.tess_id)):
                sky.setdefault(int(w), []).append((sc, tess))
        data_group = setters.data_group
        for r in todo:
            if data_group is None:
                data_group = r["input_data_group"]
            w1, w2 = r["input_warp_id"], int(r["template_warp_id"])
            common = set(sky.get(w2, []))
            cells = [(sc, tess) for sc, tess in sky.get(w1, []) if (sc, tess) in common]
            run = dict(state=State.NEW if cells else State.FULL, workdir=setters.workdir, label=setters.label,
                       data_group=data_group if data_group is not None else setters.label,
                       dist_group=setters.dist_group if cells else None, reduction=setters.reduction,
                       dvodb=None, registered=setters.registered, tess_id=r["tess_id"],
                       bothways=1 if setters.bothways else 0, exposure=1, magicked=0, software_ver=None,
                       maskfrac_npix=0, diff_mode=1,
                       note=setters.note if cells else "dummy run - no overlap")
            out.runs.append(run)
            out.inputs.append([dict(skycell_id=sc, tess_id=tess, warp1=w1, stack1=None, warp2=w2, stack2=None)
                               for sc, tess in cells]
                              or [dict(skycell_id=None, tess_id=r["tess_id"], warp1=w1, stack1=None,
                                       warp2=w2, stack2=None)])
        out.rows = {"diffRun": len(out.runs), "diffInputSkyfile": sum(len(x) for x in out.inputs)}
        out.sample = todo[:20]
        out.keys = frozenset((r["input_warp_id"], r["template_warp_id"]) for r in todo)
        if not out.runs:
            out.notes.append("no warp pair to define")
        return out

    def apply(conn, fresh: WarpWarpPlan):
        diff_ids = insert_diffs(conn, fresh.runs, fresh.inputs)
        for run, d in zip(fresh.runs, diff_ids):
            run["diff_id"] = d
        return len(diff_ids) + sum(len(x) for x in fresh.inputs), {
            **(audit_detail or {}), "diffRun": len(diff_ids), "diff_ids": diff_ids}

    return execute(dbs, "difftool.definewarpwarp", make_plan, apply, dry_run=dry_run, confirm=confirm)


# ---------------------------------------------------------------------- difftool -definewarpstack

#: the tables a warp-stack selection term may name (-definewarpstack's selectors)
WS_TERM_TABLES = ("rawExp", "warpRun", "warpSkyfile", "stackRun")


@dataclass
class WarpStackQuery:
    """difftool -definewarpstack's selection. ``terms``: (table, column, op, value),
    table one of WS_TERM_TABLES, op '=', '>=', '<', '<=' or 'LIKE'. ``rerun``
    (-rerun, -new-templates): also pairs that have a diff. ``lap``: the
    difftool_definewarpstack.sql selection (-lap_query) instead of
    difftool_definewarpstack_old.sql."""

    terms: list[tuple[str, str, str, Any]] = field(default_factory=list)
    rerun: bool = False
    lap: bool = False


def _ws_term(table: str, column: str, op: str, value):
    if table not in WS_TERM_TABLES:
        raise UsageError(f"a warp-stack selection term names {table!r}; one of {', '.join(WS_TERM_TABLES)}")
    col = schema.table(table).c[column]
    if op in ("=", "LIKE") and value == "":
        return col.is_(None)             # psDB: an empty string compares with NULL
    return _op(col, op, value)


def _ws_diff_conds(dr, setters: WarpWarpSetters) -> list:
    """The conditions on the diffRun a pair is checked against (difftool appends
    them for the label, and the data_group and reduction when given)."""
    out = [or_(dr.c.label == setters.label, dr.c.label.is_(None))]
    if setters.data_group is not None:
        out.append(or_(dr.c.data_group == setters.data_group, dr.c.data_group.is_(None)))
    if setters.reduction is not None:
        out.append(or_(dr.c.reduction == setters.reduction, dr.c.reduction.is_(None)))
    return out


def select_warpstack(conn, q: WarpStackQuery, setters: WarpWarpSetters) -> list[dict[str, Any]]:
    """The rows of difftool_definewarpstack_old.sql (``q.lap``: _definewarpstack.sql):
    per exposure, warp and skycell of a full warp with a fault-0 quality-0 skyfile,
    the newest full stack of the skycell, filter and tessellation with a fault-0
    quality-0 sum. Without ``rerun``: the old selection leaves out the stacks the
    warp already has a diff with (then takes the newest of the others), the LAP
    one the newest stack when a warp-stack diff of it exists under the
    label (and data_group, reduction when given). Ordered by exposure, warp,
    skycell, as MySQL groups them. Columns as the C SQL (warpLabel, warpDataGroup,
    stackLabel, stackDataGroup, diff_id, diffLabel: the chosen stack's and the
    newest matching diff's, where MySQL leaves open which row's they are)."""
    from mopstool.stages.joins import exposure_chain

    w, r, ws, sr, ss = schema.warpRun, schema.rawExp, schema.warpSkyfile, schema.stackRun, schema.stackSumSkyfile
    dr, dis = schema.diffRun, schema.diffInputSkyfile
    frm = (exposure_chain("warp").join(ws, ws.c.warp_id == w.c.warp_id)
           .join(sr, and_(sr.c.skycell_id == ws.c.skycell_id, sr.c.filter == r.c.filter,
                          sr.c.tess_id == w.c.tess_id))
           .join(ss, ss.c.stack_id == sr.c.stack_id))
    conds = [w.c.state == State.FULL, sr.c.state == State.FULL, ws.c.fault == 0, ws.c.quality == 0,
             ss.c.fault == 0, ss.c.quality == 0, r.c.exp_id.is_not(None),
             *(_ws_term(*t) for t in q.terms)]
    keys = [r.c.exp_id, w.c.warp_id, ws.c.skycell_id]
    same = [r.c.filter, w.c.label, w.c.data_group, w.c.tess_id]      # one value per warp
    cols = [r.c.exp_id, w.c.warp_id, r.c.filter, w.c.label.label("warpLabel"),
            w.c.data_group.label("warpDataGroup"), w.c.tess_id, ws.c.skycell_id]
    if not q.lap:
        frm = (frm.outerjoin(dis, and_(dis.c.warp1 == w.c.warp_id, dis.c.stack2 == sr.c.stack_id,
                                       dis.c.skycell_id == sr.c.skycell_id, dis.c.tess_id == sr.c.tess_id))
               .outerjoin(dr, dr.c.diff_id == dis.c.diff_id))
        conds += _ws_diff_conds(dr, setters)
        if not q.rerun:
            conds.append(dis.c.diff_id.is_(None))
        stmt = (select(*cols, func.max(sr.c.stack_id).label("stack_id"), func.max(dis.c.diff_id).label("diff_id"))
                .select_from(frm).where(*conds).group_by(*keys, *same).order_by(*keys))
        rows = [dict(x._mapping) for x in conn.execute(stmt)]
    else:
        inputs = (select(*cols, func.max(sr.c.stack_id).label("stack_id")).select_from(frm).where(*conds)
                  .group_by(*keys, *same).subquery("Inputs"))
        diffs = (select(dr.c.diff_id, dis.c.warp1, dis.c.stack2, dis.c.skycell_id, dis.c.tess_id)
                 .select_from(dr.join(dis, and_(dis.c.diff_id == dr.c.diff_id, dis.c.tess_id == dr.c.tess_id)))
                 .where(dr.c.diff_mode == 2, *_ws_diff_conds(dr, setters)).subquery("Diffs"))
        i = inputs.c
        stmt = (select(i.exp_id, i.warp_id, i.filter, i.warpLabel, i.warpDataGroup, i.tess_id, i.skycell_id,
                       i.stack_id, diffs.c.diff_id)
                .select_from(inputs.outerjoin(diffs, and_(i.warp_id == diffs.c.warp1, i.stack_id == diffs.c.stack2,
                                                          diffs.c.skycell_id == i.skycell_id,
                                                          diffs.c.tess_id == i.tess_id)))
                .order_by(i.exp_id, i.warp_id, i.skycell_id, diffs.c.diff_id))
        if not q.rerun:
            stmt = stmt.where(diffs.c.diff_id.is_(None))
        rows = [dict(x._mapping) for x in conn.execute(stmt)]
    stacks = {int(x.stack_id): x for x in conn.execute(
        select(sr.c.stack_id, sr.c.label, sr.c.data_group).where(
            sr.c.stack_id.in_(sorted({int(x["stack_id"]) for x in rows}))))} if rows else {}
    labels = {int(x.diff_id): x.label for x in conn.execute(
        select(dr.c.diff_id, dr.c.label).where(
            dr.c.diff_id.in_(sorted({int(x["diff_id"]) for x in rows if x["diff_id"] is not None}))))} \
        if any(x["diff_id"] is not None for x in rows) else {}
    out = []
    for x in rows:
        st = stacks[int(x["stack_id"])]
        out.append({"exp_id": int(x["exp_id"]), "warp_id": int(x["warp_id"]), "filter": x["filter"],
                    "warpLabel": x["warpLabel"], "warpDataGroup": x["warpDataGroup"], "tess_id": x["tess_id"],
                    "skycell_id": x["skycell_id"], "stack_id": int(x["stack_id"]), "stackLabel": st.label,
                    "stackDataGroup": st.data_group,
                    "diff_id": None if x["diff_id"] is None else int(x["diff_id"]),
                    "diffLabel": None if x["diff_id"] is None else labels.get(int(x["diff_id"]))})
    return out


def define_warpstack(dbs: Databases, q: WarpStackQuery, setters: WarpWarpSetters, *, dry_run: bool = False,
                     confirm=None, audit_detail: dict | None = None) -> WarpWarpPlan:
    """difftool -definewarpstack: per exposure of the selection (select_warpstack)
    one diffRun (state 'new', diff_mode 2, exposure 1, tess_id of its first row,
    data_group the setter else the first row's warp data_group) with one
    diffInputSkyfile (warp1, stack2) per selected row. The selection is made again
    under the write lock; one transaction (difftool commits run by run)."""
    if setters.label is None:
        raise UsageError("a warp-stack diff needs a label (-set_label)")

    def make_plan(conn) -> WarpWarpPlan:
        out = WarpWarpPlan(action="difftool.definewarpstack", title="warp-stack diffs")
        out.selected = select_warpstack(conn, q, setters)
        for x in out.selected:
            if not out.runs or out.runs[-1]["_exp_id"] != x["exp_id"]:
                out.runs.append(dict(
                    _exp_id=x["exp_id"], state=State.NEW, workdir=setters.workdir, label=setters.label,
                    data_group=setters.data_group if setters.data_group is not None else x["warpDataGroup"],
                    dist_group=setters.dist_group, reduction=setters.reduction, dvodb=None,
                    registered=setters.registered, tess_id=x["tess_id"], bothways=1 if setters.bothways else 0,
                    exposure=1, magicked=0, software_ver=None, maskfrac_npix=0, diff_mode=2, note=setters.note))
                out.inputs.append([])
            out.inputs[-1].append(dict(skycell_id=x["skycell_id"], tess_id=x["tess_id"], warp1=x["warp_id"],
                                       stack1=None, warp2=None, stack2=x["stack_id"]))
        out.rows = {"diffRun": len(out.runs), "diffInputSkyfile": sum(len(x) for x in out.inputs)}
        out.sample = out.selected[:20]
        out.keys = frozenset((x["exp_id"], x["warp_id"], x["skycell_id"], x["stack_id"], x["diff_id"])
                             for x in out.selected)
        if not out.runs:
            out.notes.append("no warp-stack pair to define")
        return out

    def apply(conn, fresh: WarpWarpPlan):
        runs = [{k: v for k, v in run.items() if not k.startswith("_")} for run in fresh.runs]
        diff_ids = insert_diffs(conn, runs, fresh.inputs)
        for run, d in zip(fresh.runs, diff_ids):
            run["diff_id"] = d
        return len(diff_ids) + sum(len(x) for x in fresh.inputs), {
            **(audit_detail or {}), "diffRun": len(diff_ids), "diff_ids": diff_ids}

    return execute(dbs, "difftool.definewarpstack", make_plan, apply, dry_run=dry_run, confirm=confirm)


def _check_diff_ids(conn, diff_ids: list[int] | None) -> None:
    if not diff_ids:
        return
    dr = schema.diffRun
    found = {int(r[0]) for r in conn.execute(select(dr.c.diff_id).where(dr.c.diff_id.in_(diff_ids)))}
    missing = sorted(set(int(d) for d in diff_ids) - found)
    if missing:
        raise NotFound("no diffRun with diff_id " + ", ".join(str(m) for m in missing))


@dataclass
class RowsPlan(WritePlan):
    """A write plan over result rows (publishRuns to define)."""

    items: list = field(default_factory=list, repr=False, compare=False)


def publish_diffs(dbs: Databases, *, diff_ids: list[int] | None = None, night: date | None = None,
                  labels: list[str] | None = None, client: str | None = None, rerun: bool = False,
                  set_label: str | None = None, dry_run: bool = False,
                  data_groups: list[str] | None = None, exclude_ids: Iterable[int] | None = None,
                  command: list[str] | None = None, confirm=None) -> list[dict[str, Any]]:
    """Define publishRuns (state 'new', label = --set-label or the diff's label),
    all in one INSERT, through the write protocol (confirmed once by *confirm*,
    selected again under the lock)."""
    if not (diff_ids or night or labels):
        raise UsageError("say which diffs to publish: --diff-id, --night or --label")
    q = unpublished_query(diff_ids=diff_ids, night=night, labels=labels, client=client, rerun=rerun,
                          data_groups=data_groups, exclude_ids=exclude_ids)
    pr = schema.publishRun

    def plan(conn) -> RowsPlan:
        _check_diff_ids(conn, diff_ids)
        rows = [dict(r._mapping) for r in conn.execute(q)]
        for r in rows:
            r.update(pub_id=None, status="planned")
        return RowsPlan(action="publish.define", rows={"publishRun": len(rows)}, sample=rows[:20],
                        items=rows, keys=frozenset((int(r["client_id"]), int(r["diff_id"])) for r in rows))

    def apply(conn, fresh: RowsPlan):
        rows = fresh.items
        top = conn.execute(select(func.max(pr.c.pub_id))).scalar() or 0
        conn.execute(pr.insert(), [dict(client_id=r["client_id"], stage_id=r["diff_id"],
                                        label=set_label or r["label"], state=State.NEW) for r in rows])
        ids = {(int(x.client_id), int(x.stage_id)): int(x.pub_id) for x in conn.execute(
            select(pr.c.pub_id, pr.c.client_id, pr.c.stage_id).where(
                pr.c.pub_id > top, pr.c.stage_id.in_(sorted({r["diff_id"] for r in rows}))))}
        for r in rows:
            r.update(pub_id=ids.get((int(r["client_id"]), int(r["diff_id"]))), status="defined")
        return len(rows), {"pub_ids": [r["pub_id"] for r in rows], "diff_ids": [r["diff_id"] for r in rows]}

    res = execute(dbs, "publish.define", plan, apply, dry_run=dry_run, confirm=confirm, command=command)
    return res.items if (res.applied or dry_run) else []


def _publish_pub_ids(conn, diff_ids: list[int] | None, client: str | None) -> list[int]:
    """publishRuns of these diffs and/or this client (the selectors `revert publish` lacks)."""
    pr, pc = schema.publishRun, schema.publishClient
    conds = []
    if diff_ids:
        conds.append(pr.c.stage_id.in_([int(d) for d in diff_ids]))
    if client:
        conds.append(pc.c.client_id == int(client) if str(client).isdigit() else pc.c.name == client)
    q = (select(pr.c.pub_id).select_from(pr.join(pc, pc.c.client_id == pr.c.client_id))
         .where(*conds).order_by(pr.c.pub_id))
    return [int(x) for x in conn.execute(q).scalars()]


def revert_publish(dbs: Databases, *, diff_ids: list[int] | None = None, night: date | None = None,
                   labels: list[str] | None = None, client: str | None = None, dry_run: bool = False,
                   command: list[str] | None = None, confirm=None) -> list[dict[str, Any]]:
    """``publish --revert``, the older spelling of ``revert publish`` (pubtool
    -revert: delete the faulted publishDone rows of publishRuns still 'new' of
    active diff clients, so the publisher tries them again): --diff-id and
    --client are turned into the publishRuns they name, then the stage graph's
    revert does the work. The rows keep the publish --revert form."""
    from mopstool.ops.runs.manage import RevertFilter, revert

    if not (diff_ids or night or labels):
        raise UsageError("say which publish faults to revert: --diff-id, --night or --label")
    ids: list[int] = []
    with dbs.connect() as conn:
        _check_diff_ids(conn, diff_ids)
        if diff_ids or client:
            ids = _publish_pub_ids(conn, diff_ids, client)
            if not ids:
                return []
    res = revert(dbs, "publish", RevertFilter(ids=ids, labels=list(labels or []), night=night),
                 dry_run=dry_run, confirm=confirm,
                 audit_detail={"diff_ids": list(diff_ids or [])[:50], "client": client})
    pub_ids = sorted({c["id"] for c in res.changed})
    if not pub_ids or not (res.applied or dry_run):
        return []
    pr, pc = schema.publishRun, schema.publishClient
    with dbs.connect() as conn:
        info = {int(r.pub_id): r for r in conn.execute(
            select(pr.c.pub_id, pr.c.stage_id, pr.c.label, pc.c.name)
            .select_from(pr.join(pc, pc.c.client_id == pr.c.client_id)).where(pr.c.pub_id.in_(pub_ids)))}
    status = "would revert" if dry_run else "reverted"
    return [{"pub_id": c["id"], "diff_id": info[c["id"]].stage_id if c["id"] in info else None,
             "label": info[c["id"]].label if c["id"] in info else None, "fault": c["fault"],
             "client": info[c["id"]].name if c["id"] in info else None, "status": status}
            for c in res.changed]
