"""The nightly diff plan: regular, desperate and warp-stack pairs per field
group, their status, and defining the missing ones as difftool would.

``plan_diffpairs`` reads the night in a fixed number of statements and returns
every pair with its status: ``exists`` (a diffRun already uses the two
exposures, in either order), ``planned`` (both inputs warped, ready to define),
``waiting`` (an input is not warped yet, or a desperate pair is not due yet).
``define_diffpairs`` (:mod:`mopstool.ops.nightly.diffwrites`, with the other
writers of the diff stage) creates the planned ones exactly as
``difftool -definewarpwarp -backwards`` (and ``-definewarpstack`` for WS)
would, in one transaction under the write lock, with an audit record.

``publish_diffs`` (there too) defines publishRuns for finished diffs as
``pubtool -definerun`` does (the czar's fix for an unpublished diff).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import and_, column, func, not_, or_, select, table as sa_table, true

from mopstool.config import Config
from mopstool.db import Databases, is_mysql, schema
from mopstool.ops.nightly.visits import (
    FieldGroup, NightData, OK, PENDING, Exposure, desdiffdt_hours, end_of_night_time, load_night,
    plan_pairs, survey_names, target_names,
)
from mopstool.stages import STAGES
from mopstool.stages.joins import (guard_row_conditions, like_any, night_condition, run_ids_for_night,
                                   with_components)
from mopstool.stages.vocab import State
from mopstool.util import night_bounds, utcnow

EXISTS, PLANNED, DEFINED, WAITING, UNPLANNED = "exists", "planned", "defined", "waiting", "unplanned"
PAIR_STATUSES = (EXISTS, PLANNED, DEFINED, WAITING, UNPLANNED)
REGULAR, DESPERATE, WS = "regular", "desperate", "ws"
#: a diff of the night's field that the plan does not have (kind), e.g. a .multi diff
EXTRA = "unplanned"


@dataclass
class DiffPair:
    """One diff the night's plan has (or an unplanned one it found): its visits, kind and status."""

    target: str
    object: str | None
    chunk: str
    filter: str | None
    kind: str
    input_visit: int
    input: Exposure | None
    template_visit: int | None = None
    template: Exposure | None = None
    stack_id: int | None = None
    skycell_id: str | None = None
    status: str = PLANNED
    diff_id: int | None = None
    note: str = ""
    #: skycells common to both warps that pass the good_frac cut (None: not checked)
    skycells: list[tuple[str, str]] | None = None
    #: data_group of the existing diff, or the one a new diff gets
    data_group: str | None = None
    label: str | None = None
    #: diffs of the same visits under other labels/data_groups (shown, not counted)
    others: list[dict] = field(default_factory=list)

    @property
    def definable(self) -> bool:
        return self.status == PLANNED and bool(self.skycells)

    def to_dict(self) -> dict[str, Any]:
        def side(visit, e: Exposure | None) -> dict[str, Any]:
            return {"visit": visit, "exp_id": e.exp_id if e else None,
                    "exp_name": e.exp_name if e else None, "warp_id": e.warp_id if e else None}
        return {"target": self.target, "object": self.object, "chunk": self.chunk,
                "filter": self.filter, "kind": self.kind,
                "input": side(self.input_visit, self.input),
                "template": {**side(self.template_visit, self.template), "stack_id": self.stack_id},
                "status": self.status, "diff_id": self.diff_id,
                "label": self.label, "data_group": self.data_group,
                "other_diffs": [{"diff_id": d["diff_id"], "label": d["label"], "data_group": d["data_group"]}
                                for d in self.others],
                "skycell_id": self.skycell_id,
                "skycells": len(self.skycells) if self.skycells is not None else None,
                "note": self.note}


@dataclass
class DiffPlan:
    """The night's diff pairs, whether the night is over, the summit gate and notes."""

    night: date
    pairs: list[DiffPair]
    end_of_night: bool
    summit_gate: dict[str, Any]
    notes: list[str] = field(default_factory=list)
    data: NightData | None = None

    def rows(self) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self.pairs]


# ---------------------------------------------------------------------- night state

def end_of_night(conn, cfg: Config, night: date, now: datetime) -> bool:
    """END_OF_NIGHT: the morning darks are registered, or it is past the
    configured end of night (17:30 UTC of the date, as nightly_science)."""
    if now >= end_of_night_time(cfg, night):
        return True
    raw = schema.rawExp
    conds = [night_condition(night),
             func.upper(raw.c.exp_type) == str(cfg.get("survey.end_of_night_exp_type", "DARK")).upper(),
             raw.c.comment.like(cfg.get("survey.end_of_night_comment", "darks_morn%"))]
    return conn.execute(select(raw.c.exp_id).where(*conds).limit(1)).first() is not None


def summit_gate(conn, cfg: Config, night: date, now: datetime) -> dict[str, Any]:
    """nightly_science's sanity check before desperate diffs: rawExp and the
    summit's exposure list (summitExp) must agree within N exposures and M
    minutes up to 15 minutes ago. Reported; applied only to automatic
    desperate pairs (an explicit --desperate overrides it)."""
    from mopstool.db.own import has_table

    max_count = int(cfg.get("survey.summit_gate_count", 10))
    max_minutes = float(cfg.get("survey.summit_gate_minutes", 10))
    start, end = night_bounds(night)
    upto = min(now - timedelta(minutes=15), end)
    out: dict[str, Any] = {"evaluated": False, "ok": True, "raw_count": None, "summit_count": None,
                           "raw_last": None, "summit_last": None}
    if not has_table(conn, "summitExp"):
        out["note"] = "summit gate not evaluated: this database has no summitExp table"
        return out
    raw = schema.rawExp
    summit = sa_table("summitExp", column("exp_name"), column("dateobs"))
    r = conn.execute(select(func.count(), func.max(raw.c.dateobs)).where(
        night_condition(night), raw.c.dateobs < upto)).first()
    s = conn.execute(select(func.count(), func.max(summit.c.dateobs)).where(
        summit.c.exp_name.like("o%"), summit.c.dateobs >= start, summit.c.dateobs < upto)).first()
    out.update(evaluated=True, raw_count=int(r[0]), summit_count=int(s[0]), raw_last=r[1], summit_last=s[1])
    bad = abs(out["raw_count"] - out["summit_count"]) > max_count
    if r[1] and s[1]:
        bad = bad or abs((_dt(r[1]) - _dt(s[1])).total_seconds()) > max_minutes * 60
    elif bool(r[1]) != bool(s[1]):
        bad = True
    out["ok"] = not bad
    out["note"] = (f"summit gate {'passed' if not bad else 'FAILED'}: rawExp {out['raw_count']} "
                   f"(last {r[1]}) vs summitExp {out['summit_count']} (last {s[1]})")
    return out


def _dt(v) -> datetime:
    return v if isinstance(v, datetime) else datetime.fromisoformat(str(v))


# ---------------------------------------------------------------------- planning

def is_multi(data_group: str | None) -> bool:
    """A multi-date diff (nightly_science's T.YYYYMMDD.multi data_group)."""
    return bool(data_group) and str(data_group).endswith(".multi")


def _visit_index(groups: list[FieldGroup]) -> dict[int, tuple[tuple, int]]:
    """exp_id -> (field key, visit) for every exposure of the groups, repeats too."""
    idx: dict[int, tuple[tuple, int]] = {}
    for g in groups:
        for n, v in g.visits.items():
            for e in ([v.exposure] if v.exposure else []) + v.repeats:
                idx[e.exp_id] = (g.key, n)
    return idx


def _existing(nd: NightData, diff_rows: list[dict], groups: list[FieldGroup]):
    """Existing WW diffs keyed by (field key, unordered visit pair), so a diff
    made from an earlier exposure of a repeated visit still counts for its
    visits; WS diffs keyed by (exposure, skycell). Dropped diffs are left out."""
    idx = _visit_index(groups)
    ww: dict[tuple, dict[tuple[int, int], list[dict]]] = {}
    ws: dict[tuple[int, str], list[dict]] = {}
    for d in diff_rows:
        if d["state"] == State.DROP:
            continue  # a dropped diff is neither made nor extra
        if d["warp1"] is not None and d["warp2"] is not None:
            e1, e2 = nd.run_exp.get(("warp", d["warp1"])), nd.run_exp.get(("warp", d["warp2"]))
            k1, k2 = idx.get(e1), idx.get(e2)
            if k1 is None or k2 is None or k1[0] != k2[0] or k1[1] == k2[1]:
                continue
            pair = tuple(sorted((k1[1], k2[1])))
            ww.setdefault(k1[0], {}).setdefault(pair, []).append(d)
        else:
            w = d["warp1"] if d["warp1"] is not None else d["warp2"]
            e = nd.run_exp.get(("warp", w))
            if e is not None:
                ws.setdefault((e, d["skycell_id"]), []).append(d)
    return ww, ws


def _note_of(d: dict) -> str:
    return f"diff {d['diff_id']} ({d['label']}, {d['data_group']}, state {d['state']})"


def _good_skyfiles(conn, warp_ids: set[int], min_frac: float) -> dict[int, dict[str, tuple[str, float]]]:
    """warp_id -> {skycell_id: (tess_id, good_frac)} of usable skyfiles."""
    if not warp_ids:
        return {}
    w = schema.warpSkyfile
    q = select(w.c.warp_id, w.c.skycell_id, w.c.tess_id, w.c.good_frac).where(
        w.c.warp_id.in_(sorted(warp_ids)), w.c.data_state == State.FULL,
        func.coalesce(w.c.fault, 0) == 0, w.c.quality == 0, w.c.good_frac >= min_frac)
    out: dict[int, dict[str, tuple[str, float]]] = {}
    for r in conn.execute(q):
        out.setdefault(r.warp_id, {})[r.skycell_id] = (r.tess_id, float(r.good_frac or 0))
    return out


def _template_stacks(conn, labels: set[str], skycells: set[str]) -> dict[tuple[str, str, str], int]:
    """(stack label, skycell, filter) -> newest full stack_id with a good sum."""
    if not labels or not skycells:
        return {}
    sr, ss = schema.stackRun, schema.stackSumSkyfile
    q = (select(sr.c.stack_id, sr.c.label, sr.c.skycell_id, sr.c.filter)
         .select_from(with_components(sr, "stack"))
         .where(sr.c.label.in_(sorted(labels)), sr.c.state == State.FULL, sr.c.skycell_id.in_(sorted(skycells)),
                func.coalesce(ss.c.fault, 0) == 0, ss.c.quality == 0))
    out: dict[tuple[str, str, str], int] = {}
    for r in conn.execute(q):
        k = (r.label, r.skycell_id, r.filter)
        out[k] = max(out.get(k, 0), r.stack_id)
    return out


def _chunk_last(nd: NightData) -> dict[tuple[str, str], datetime]:
    out: dict[tuple[str, str], datetime] = {}
    for e in nd.exposures:
        if e.dateobs:
            k = (e.target, e.chunk)
            out[k] = max(out.get(k, e.dateobs), e.dateobs)
    return out


def _ws_filter_ok(tcfg: dict, flt: str | None) -> bool:
    wanted = tcfg.get("ws_filters") or []
    if not wanted:
        return True
    base = (flt or "").split(".", 1)[0]
    return base in wanted or flt in wanted


def _ww_pairs(g: FieldGroup, existing: dict[tuple[int, int], list[dict]], names: dict[str, str], *,
              due: bool, due_note: str) -> list[DiffPair]:
    """The field's regular and desperate pairs with their status, then every
    other diff of the field (a .multi diff, a pair the plan does not have, a
    second diff of a planned pair) as an 'unplanned' row. A pair exists only
    under the target's nightly data_group (as nightly_science checks); diffs of
    the same visits under other labels are shown with it, not counted."""
    reg, des = plan_pairs(g.kept, desperate=g.desperate_enabled)
    pending = {n: g.visits[n] for n in g.pending}
    dg = names["data_group"]
    out = []
    used: set[int] = set()
    for kind, pairs in ((REGULAR, reg), (DESPERATE, sorted(des))):
        for a, b in pairs:
            va, vb = g.visits[a], g.visits[b]
            ea, eb = va.exposure, vb.exposure
            if (ea.dateobs or datetime.min) > (eb.dateobs or datetime.min):
                (a, ea), (b, eb) = (b, eb), (a, ea)
            p = DiffPair(target=g.target, object=g.object, chunk=g.chunk, filter=g.filter, kind=kind,
                         input_visit=a, input=ea, template_visit=b, template=eb, data_group=dg,
                         label=names["label"])
            rows = existing.get(tuple(sorted((a, b))), [])
            mine = sorted((d for d in rows if d["data_group"] == dg), key=lambda d: d["diff_id"])
            p.others = [d for d in rows if d["data_group"] != dg and not is_multi(d["data_group"])]
            used.update(d["diff_id"] for d in p.others)
            if mine:
                d = mine[0]
                used.add(d["diff_id"])
                p.status, p.diff_id, p.label = EXISTS, d["diff_id"], d["label"]
                p.note = _note_of(d)
            elif pending:
                p.status = WAITING
                p.note = "field waits for " + ", ".join(
                    f"visit {n} ({v.status}: {v.reason})" for n, v in sorted(pending.items()))
            elif kind == DESPERATE and not due:
                p.status, p.note = WAITING, due_note
            if p.others:
                p.note += ("; " if p.note else "") + "not counted: " + ", ".join(
                    f"diff {d['diff_id']} under {d['label']}/{d['data_group']}" for d in p.others)
            out.append(p)
    planned = {tuple(sorted((p.input_visit, p.template_visit))): p for p in out}
    for pair, rows in sorted(existing.items()):
        for d in sorted(rows, key=lambda r: r["diff_id"]):
            if d["diff_id"] in used:
                continue
            if not (is_multi(d["data_group"]) or d["data_group"] == dg):
                continue  # another label's diff of visits the plan does not pair: not ours
            a, b = pair
            why = ("a multi-date (.multi) diff made within the night" if is_multi(d["data_group"])
                   else f"a second diff of visits {a}-{b} (diff {planned[pair].diff_id} counts)"
                   if pair in planned else f"visits {a}-{b} are not a pair of the plan")
            ea = g.visits[a].exposure
            eb = g.visits[b].exposure
            out.append(DiffPair(target=g.target, object=g.object, chunk=g.chunk, filter=g.filter,
                                kind=EXTRA, input_visit=a, input=ea, template_visit=b, template=eb,
                                status=UNPLANNED, diff_id=d["diff_id"], label=d["label"],
                                data_group=d["data_group"], note=f"{_note_of(d)}: {why}"))
    return out


def plan_diffpairs(dbs: Databases, cfg: Config, night: date, *, targets: Iterable[str] | None = None,
                   filter: str | None = None, chunk: str | None = None, desperate: bool = False,
                   ws: bool = False, now: datetime | None = None,
                   data: NightData | None = None) -> DiffPlan:
    """The full WW (and with *ws* the WS) plan of the night, with statuses."""
    now = now or utcnow()
    names = target_names(cfg, targets, diffable_only=False)
    nd = data or load_night(dbs, cfg, night, diffs=True)
    all_groups = nd.groups(None)
    ww_exist, ws_exist = _existing(nd, nd.diffs, all_groups)
    chunk_last = _chunk_last(nd)
    good_frac = float(cfg.get("survey.good_frac", 0.1))
    ws_good_frac = float(cfg.get("survey.ws_good_frac", 0.2))
    pairs: list[DiffPair] = []
    notes: list[str] = []
    with dbs.connect() as conn:
        eon = end_of_night(conn, cfg, night, now)
        gate = summit_gate(conn, cfg, night, now)
        groups = nd.groups(names, filter=filter, chunk=chunk)
        for g in groups:
            tcfg = nd.targets[g.target]
            if not tcfg.get("diffable"):
                continue
            hours = desdiffdt_hours(cfg, tcfg)
            last = chunk_last.get((g.target, g.chunk))
            due_at = last + timedelta(hours=hours) if last else None
            timed = eon or (due_at is not None and now >= due_at)
            if desperate:
                due, note = True, ""
            elif timed and not gate["ok"]:
                due, note = False, f"desperate: held by the {gate.get('note')} (use --desperate to override)"
            else:
                due = timed
                note = (f"desperate: due {due_at:%Y-%m-%d %H:%M} UTC ({hours:g} h after the chunk's "
                        f"last visit) or at end of night; --desperate forces it") if due_at else ""
            pairs.extend(_ww_pairs(g, ww_exist.get(g.key, {}), survey_names(cfg, g.target, night),
                                   due=due, due_note=note))
        ws_rows: list[tuple[FieldGroup, int]] = []
        if ws:
            for g in groups:
                tcfg = nd.targets[g.target]
                if tcfg.get("ws") and _ws_filter_ok(tcfg, g.filter):
                    ws_rows.extend((g, n) for n in sorted(g.visits) if g.visits[n].exposure is not None)
        # skycells of the warps that need them, in one statement
        need = {p.input.warp_id for p in pairs if p.status == PLANNED} | \
               {p.template.warp_id for p in pairs if p.status == PLANNED}
        need |= {g.visits[n].exposure.warp_id for g, n in ws_rows if g.visits[n].status == OK}
        need.discard(None)
        sky = _good_skyfiles(conn, need, min(good_frac, ws_good_frac))
        for p in pairs:
            if p.status != PLANNED:
                continue
            a, b = sky.get(p.input.warp_id, {}), sky.get(p.template.warp_id, {})
            p.skycells = [(sc, a[sc][0]) for sc in sorted(set(a) & set(b))
                          if a[sc][1] >= good_frac and b[sc][1] >= good_frac]
            p.note = f"{len(p.skycells)} common skycells with good_frac >= {good_frac:g}"
            if not p.skycells:
                p.note = f"no common skycell with good_frac >= {good_frac:g}: nothing to diff"
        if ws_rows:
            stack_labels = {nd.targets[g.target].get("ws_stack_label") or f"{g.target}.refstack"
                            for g, _ in ws_rows}
            skycells = {sc for g, n in ws_rows for sc in sky.get(g.visits[n].exposure.warp_id, {})}
            stacks = _template_stacks(conn, stack_labels, skycells)
            ws_dgs = {survey_names(cfg, t, night, ws=True)["data_group"] for t in nd.targets}
            ws_mine = {k: [d for d in rows if d["data_group"] in ws_dgs] for k, rows in ws_exist.items()}
            pairs.extend(_ws_pairs(nd, ws_rows, {k: v for k, v in ws_mine.items() if v}, sky, stacks,
                                   ws_good_frac))
    if gate.get("note"):
        notes.append(gate["note"])
    notes.append(f"end of night: {'yes' if eon else 'no'}")
    return DiffPlan(night=night, pairs=pairs, end_of_night=eon, summit_gate=gate, notes=notes, data=nd)


def _ws_pairs(nd: NightData, ws_rows, ws_exist, sky, stacks, ws_good_frac) -> list[DiffPair]:
    out: list[DiffPair] = []
    by_exp: dict[int, dict[str, list[dict]]] = {}
    for (exp, sc), rows in ws_exist.items():
        by_exp.setdefault(exp, {})[sc] = rows
    for g, n in ws_rows:
        v = g.visits[n]
        e = v.exposure
        tcfg = nd.targets[g.target]
        label = tcfg.get("ws_stack_label") or f"{g.target}.refstack"
        base = dict(target=g.target, object=g.object, chunk=g.chunk, filter=g.filter, kind=WS,
                    input_visit=n, input=e)
        existing = by_exp.get(e.exp_id, {})
        if v.status != OK:
            for sc, rows in sorted(existing.items()):
                d = max(rows, key=lambda r: r["diff_id"])
                out.append(DiffPair(**base, skycell_id=sc, stack_id=d["stack2"] or d["stack1"],
                                    status=EXISTS, diff_id=d["diff_id"],
                                    note=f"diff {d['diff_id']} ({d['label']}, state {d['state']})"))
            if v.status in PENDING:
                out.append(DiffPair(**base, status=WAITING, note=f"visit {n} {v.status}: {v.reason}"))
            continue
        cells = sky.get(e.warp_id, {})
        for sc in sorted(set(cells) | set(existing)):
            if sc in existing:
                d = max(existing[sc], key=lambda r: r["diff_id"])
                out.append(DiffPair(**base, skycell_id=sc, stack_id=d["stack2"] or d["stack1"],
                                    status=EXISTS, diff_id=d["diff_id"],
                                    note=f"diff {d['diff_id']} ({d['label']}, state {d['state']})"))
                continue
            tess, frac = cells[sc]
            if frac < ws_good_frac:
                continue
            stack_id = stacks.get((label, sc, g.filter))
            if stack_id is None:
                out.append(DiffPair(**base, skycell_id=sc, status=WAITING,
                                    note=f"no full template stack {label} for {sc} {g.filter}"))
                continue
            out.append(DiffPair(**base, skycell_id=sc, stack_id=stack_id, status=PLANNED,
                                skycells=[(sc, tess)], note=f"template stack {stack_id} ({label})"))
    return out


# ---------------------------------------------------------------------- defining

def _dbname(dbs: Databases, cfg: Config) -> str:
    url = dbs.gpc1.url
    if is_mysql(dbs.gpc1) and url.database:
        return url.database
    return str(cfg.get("general.dbname", "gpc1"))


# ---------------------------------------------------------------------- publishing

def publish_labels(cfg: Config, night: date) -> list[str]:
    """Diff labels whose diffs go to the MOPS DataStore: the nightly label of
    every target with publish on (default: the diffable ones), and the WS
    label of targets with ws_publish."""
    out = []
    for name, t in cfg.targets().items():
        if t.get("publish", bool(t.get("diffable"))):
            out.append(survey_names(cfg, name, night)["label"])
        if t.get("ws") and t.get("ws_publish", False):
            out.append(survey_names(cfg, name, night, ws=True)["label"])
    return out


def publish_data_groups(cfg: Config, night: date) -> list[str]:
    """The nightly data_groups of the publishing targets (T.YYYYMMDD, and
    T.WS.YYYYMMDD with ws_publish): a .multi or .offnight diff is never among them."""
    out = []
    for name, t in cfg.targets().items():
        if t.get("publish", bool(t.get("diffable"))):
            out.append(survey_names(cfg, name, night)["data_group"])
        if t.get("ws") and t.get("ws_publish", False):
            out.append(survey_names(cfg, name, night, ws=True)["data_group"])
    return out


def night_diff_ids(night: date):
    """SELECT of the diff ids whose input warp is of the night."""
    return run_ids_for_night(STAGES["diff"], night).distinct()


def unpublished_query(*, diff_ids: list[int] | None = None, night: date | None = None,
                      labels: list[str] | None = None, client: str | None = None, rerun: bool = False,
                      data_groups: list[str] | None = None, exclude_ids: Iterable[int] | None = None):
    """pubtool -definerun's selection for the diff stage: active diff clients x
    diffs in full/cleaned/goto_cleaned with a quality-0 skycell, the magic rule,
    and (unless rerun) no publishRun yet for the pair. *data_groups* (exact)
    and *exclude_ids* narrow it further (the nightly data_groups; unplanned diffs)."""
    dr, pc, pr, ds = schema.diffRun, schema.publishClient, schema.publishRun, schema.diffSkyfile
    dmag = func.coalesce(dr.c.magicked, 0)
    conds = [*guard_row_conditions("publish", "publishClient"), dr.c.state.in_((State.FULL, State.CLEANED, State.GOTO_CLEANED)),
             select(ds.c.diff_id).where(ds.c.diff_id == dr.c.diff_id, ds.c.quality == 0).exists(),
             or_(dr.c.diff_mode == 4, and_(pc.c.magicked != 0, dmag > 0), and_(pc.c.magicked == 0, dmag <= 0))]
    if not rerun:
        conds.append(not_(select(pr.c.pub_id).where(pr.c.client_id == pc.c.client_id,
                                                    pr.c.stage_id == dr.c.diff_id).exists()))
    if diff_ids:
        conds.append(dr.c.diff_id.in_(diff_ids))
    if night is not None:
        conds.append(dr.c.diff_id.in_(night_diff_ids(night)))
    if labels:
        conds.append(like_any(dr.c.label, labels))
    if data_groups:
        conds.append(dr.c.data_group.in_(sorted(set(data_groups))))
    excl = sorted(set(exclude_ids or ()))
    if excl:
        conds.append(dr.c.diff_id.notin_(excl))
    if client:
        conds.append(pc.c.client_id == int(client) if str(client).isdigit() else pc.c.name == client)
    return (select(pc.c.client_id, pc.c.name.label("client"), dr.c.diff_id, dr.c.label, dr.c.state,
                   dr.c.diff_mode)
            .select_from(dr.join(pc, true()))
            .where(*conds).order_by(dr.c.diff_id, pc.c.client_id))


#: the writers of the diff stage live in mopstool.ops.nightly.diffwrites (a report
#: that only reads never loads them); their names are still found here
_WRITERS = ("DefinePlan", "define_diffpairs", "insert_diffs", "WW_RANGE_COLUMNS", "WarpWarpQuery",
            "WarpWarpSetters", "WarpWarpPlan", "select_warpwarp", "define_warpwarp", "WS_TERM_TABLES",
            "WarpStackQuery", "select_warpstack", "define_warpstack", "RowsPlan", "publish_diffs",
            "revert_publish")


def __getattr__(name: str):
    if name in _WRITERS:
        from mopstool.ops.nightly import diffwrites

        return getattr(diffwrites, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
