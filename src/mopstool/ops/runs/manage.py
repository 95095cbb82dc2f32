"""Run management written once over the stage descriptions.

* ``update_runs``  - ``-updaterun``: change run columns in bulk (one UPDATE per
  call, however many runs match).
* ``set_update``   - ``-setimfiletoupdate`` / ``-setskyfiletoupdate``: queue
  cleaned components of chip, warp or diff runs for regeneration, with the
  bad-quality sweep and the fault 26 exclusion.
* ``revert``       - ``-revertprocessedimfile`` / ``-revertwarped`` /
  ``-revertdiffskyfile`` (and the camera, fake and stack equivalents): delete
  faulted components of 'new' runs so they are queued again, clear the fault
  of components being updated; fault 26 only when asked for.

Every writer plans first (read-only), returns the plan under ``dry_run``,
lets an optional *confirm* callback see the plan, then writes under the named
lock in one transaction with an audit record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Callable

from sqlalchemy import and_, delete, exists, func, literal, null, select, update
from sqlalchemy.engine import Connection

from mopstool.db import Databases, schema
from mopstool.errors import NotFound, UsageError
from mopstool.ops.select import RunFilter, eq_any, night_condition, run_conditions
from mopstool.ops.writes import Plan, record_audit, write_transaction
from mopstool.stages import (FAULT_GONE, STAGES, UPDATABLE_STAGES, Stage, fault_meaning,
                             get_stage)

#: the word that stands for SQL NULL in a setter
NULL_WORD = "NULL"
#: rows of a plan shown as a sample
SAMPLE = 20
#: stages whose components setupdate can queue
SETUPDATE_STAGES = tuple(n for n, s in STAGES.items() if s.update_from_data_states)
#: stages whose faulted components revert handles
REVERT_STAGES = ("chip", "cam", "fake", "warp", "stack", "diff")
#: run states from which setupdate queues components
UPDATABLE_RUN_STATES = ("cleaned", "update")


def _null(value: str | None) -> str | None:
    if value is None:
        return None
    return None if value.strip().upper() == NULL_WORD else value


def _stage(stage: str | Stage, allowed: tuple[str, ...]) -> Stage:
    if isinstance(stage, Stage):
        if stage.name not in allowed:
            raise UsageError(f"stage {stage.name} not supported here; choose one of: {', '.join(allowed)}")
        return stage
    return get_stage(stage, allowed=allowed)


def run_table(stage: Stage):
    return schema.table(stage.run_table)


def night_run_condition(stage: Stage, night: date):
    """``run.<link> IN (SELECT ... WHERE <night>)`` without naming the run table
    inside the subquery, so it can drive an UPDATE of the run table on MySQL."""
    if not stage.exposure_path:
        raise UsageError(f"--night does not apply to stage {stage.name}; use --label or --data-group")
    first = stage.exposure_path[0]
    start = schema.table(first.to_table)
    frm = start
    for link in stage.exposure_path[1:]:
        left, right = schema.table(link.table), schema.table(link.to_table)
        frm = frm.join(right, left.c[link.column] == right.c[link.to_column])
    sub = select(start.c[first.to_column]).select_from(frm).where(night_condition(night))
    return run_table(stage).c[first.column].in_(sub)


def run_filter_conditions(stage: Stage, flt: RunFilter) -> list:
    conds = run_conditions(stage, replace(flt, night=None))
    if flt.night:
        conds.append(night_run_condition(stage, flt.night))
    return conds


# ====================================================================== updaterun

@dataclass
class RunSetters:
    """-set_state / -set_label / -set_data_group / -set_dist_group / -set_note.
    The word NULL stores SQL NULL."""

    state: str | None = None
    label: str | None = None
    data_group: str | None = None
    dist_group: str | None = None
    note: str | None = None

    def values(self) -> dict[str, Any]:
        out = {}
        for name in ("state", "label", "data_group", "dist_group", "note"):
            v = getattr(self, name)
            if v is not None:
                out[name] = _null(v)
        return out


def update_runs(dbs: Databases, stage: str | Stage, flt: RunFilter, setters: RunSetters, *,
                dry_run: bool = False, confirm: Callable[[Plan], bool] | None = None,
                audit_detail: dict | None = None) -> Plan:
    """``-updaterun``: set columns of every run matching *flt* (one UPDATE).

    No transition rules (any valid state may be written). Refuses a selection
    by state alone, an empty selection and a call without a setter."""
    st = _stage(stage, UPDATABLE_STAGES)
    if flt.is_empty():
        raise UsageError("updaterun needs a selector: --id, --label, --data-group, --dist-group or --night")
    if flt.only_state():
        raise UsageError("selection by --state alone is not allowed; add --id, --label, "
                         "--data-group, --dist-group or --night")
    values = setters.values()
    if not values:
        raise UsageError("updaterun needs a setter: --set-state, --set-label, --set-data-group, "
                         "--set-dist-group or --set-note")
    if "state" in values:
        if values["state"] is None:
            raise UsageError("--set-state cannot be NULL")
        st.validate_state(values["state"])
    run = run_table(st)
    for col in values:
        if col not in run.c:
            raise UsageError(f"stage {st.name} has no {col} column")
    conds = run_filter_conditions(st, flt)
    plan = Plan(action=f"updaterun {st.name}", dry_run=dry_run)
    show = [c for c in (st.id_col, "state", "label", "data_group", "dist_group", "note") if c in run.c]
    with dbs.connect() as conn:
        n = conn.execute(select(func.count()).select_from(run).where(*conds)).scalar() or 0
        sample = conn.execute(select(*[run.c[c] for c in show]).where(*conds)
                              .order_by(run.c[st.id_col]).limit(SAMPLE)).all()
    plan.rows = {run.name: int(n)}
    plan.sample = [dict(r._mapping, **{f"new_{k}": v for k, v in values.items()}) for r in sample]
    plan.notes.append("set " + ", ".join(f"{k}={'NULL' if v is None else v}" for k, v in values.items()))
    if not n:
        plan.notes.append(f"no {st.name} run matches; nothing to change")
        return plan
    if n > SAMPLE:
        plan.notes.append(f"showing {SAMPLE} of {n} runs")
    if dry_run:
        return plan
    if confirm is not None and not confirm(plan):
        plan.notes.append("declined; nothing written")
        return plan
    with write_transaction(dbs, "updaterun") as conn:
        res = conn.execute(update(run).where(*conds).values(**values))
        changed = res.rowcount if res.rowcount is not None and res.rowcount >= 0 else n
        plan.rows = {run.name: int(changed)}
        record_audit(conn, f"updaterun.{st.name}", int(changed), dict(
            audit_detail or {}, stage=st.name, set=values, selector=_filter_detail(flt)))
    plan.applied = True
    return plan


def _filter_detail(flt: RunFilter) -> dict[str, Any]:
    out = {}
    for name in ("ids", "labels", "states", "data_groups", "dist_groups"):
        v = getattr(flt, name)
        if v:
            out[name] = v[:50]
    if flt.night:
        out["night"] = flt.night.isoformat()
    return out


# ====================================================================== setupdate

@dataclass
class ComponentResult:
    stage: str
    id: int
    component: str | None
    run_state: str | None
    data_state: str | None
    quality: int | None
    fault: int | None
    action: str                   # update | full | clear_fault | skip
    new_data_state: str | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ComponentChange:
    """What a component-level command did (or would do)."""

    action: str
    stage: str
    components: list[dict[str, Any]] = field(default_factory=list)
    runs: list[dict[str, Any]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    @property
    def changed(self) -> list[dict[str, Any]]:
        return [c for c in self.components if c["action"] != "skip"]

    @property
    def skipped(self) -> list[dict[str, Any]]:
        return [c for c in self.components if c["action"] == "skip"]

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "stage": self.stage, "dry_run": self.dry_run,
                "applied": self.applied, "rows": self.rows, "total": self.total, "runs": self.runs,
                "components": self.components, "notes": self.notes}


def _sweep_condition(stage: Stage, comp):
    """Bad-quality components a whole-run setupdate moves to 'full' (chip:
    cleaned/update; warp: anything but full). None where there is no sweep."""
    if not stage.bad_quality_sweep:
        return None
    ds = comp.c[stage.data_state_col]
    if stage.name == "chip":
        return and_(comp.c.quality != 0, ds.in_(("cleaned", "update")))
    return and_(comp.c.quality != 0, ds != "full")


def _in_sweep(stage: Stage, data_state: str | None, quality: int | None) -> bool:
    if not stage.bad_quality_sweep or not quality or data_state is None:
        return False
    if stage.name == "chip":
        return data_state in ("cleaned", "update")
    return data_state != "full"


def set_update(dbs: Databases, stage: str | Stage, run_ids: list[int], *,
               components: list[str] | None = None, set_label: str | None = None,
               update_mode: int | None = None, from_goto_cleaned: bool = False,
               include_gone: bool = False, dry_run: bool = False,
               confirm: Callable[[ComponentChange], bool] | None = None,
               audit_detail: dict | None = None) -> ComponentChange:
    """Queue cleaned components of the given runs for regeneration.

    For runs in cleaned/update, components in the stage's update-from data
    states with quality 0 and fault != 26 (optionally only *components*) go to
    data_state 'update' with fault 0, and their run to state 'update' (label
    and, for chip, update_mode written). Without *components*, bad-quality
    components are swept to 'full' (chip, warp). *from_goto_cleaned* first
    moves goto_cleaned runs to 'update'; *include_gone* also takes fault 26
    components (and clears fault 26 on components already being updated)."""
    st = _stage(stage, SETUPDATE_STAGES)
    if not run_ids:
        raise UsageError(f"setupdate needs --{st.id_col.replace('_', '-')}")
    if update_mode is not None and not st.update_mode_col:
        raise UsageError(f"--update-mode applies to chip runs only, not {st.name}")
    if st.update_mode_col and update_mode is None:
        update_mode = 0          # the C tool always writes it; 0 unless given
    label = _null(set_label) if set_label is not None else None
    if set_label is not None and label is None:
        raise UsageError("--set-label cannot be NULL")
    comps = list(dict.fromkeys(components or []))
    ids = list(dict.fromkeys(int(i) for i in run_ids))
    run = run_table(st)
    comp = schema.table(st.component_table)
    key = comp.c[st.component_key[0]]
    ds_col = comp.c[st.data_state_col]
    result = ComponentChange(action=f"setupdate {st.name}", stage=st.name, dry_run=dry_run)

    # ---------------------------------------------------------------- plan
    with dbs.connect() as conn:
        onclause = comp.c[st.id_col] == run.c[st.id_col]
        if comps:
            onclause = and_(onclause, key.in_(comps))
        q = (select(run.c[st.id_col].label("id"), run.c.state, run.c.label, key.label("component"),
                    ds_col.label("data_state"), comp.c.quality, comp.c.fault)
             .select_from(run.outerjoin(comp, onclause))
             .where(run.c[st.id_col].in_(ids)).order_by(run.c[st.id_col], key))
        rows = [dict(r._mapping) for r in conn.execute(q)]
    found = {r["id"] for r in rows}
    missing = [i for i in ids if i not in found]
    if not found:
        raise NotFound(f"no {st.name} run with {st.id_col} {', '.join(map(str, missing))}")
    for i in missing:
        result.components.append(ComponentResult(st.name, i, None, None, None, None, None, "skip", None,
                                                 f"no {st.name} run {i}").to_dict())
    run_state = {r["id"]: r["state"] for r in rows}
    run_label = {r["id"]: r["label"] for r in rows}
    seen_comp: dict[int, set] = {}
    effective = {}
    for rid, s in run_state.items():
        effective[rid] = "update" if (from_goto_cleaned and s == "goto_cleaned") else s
    update_runs_set: set[int] = set()
    for r in rows:
        rid = r["id"]
        if r["component"] is None:
            if not comps:
                result.components.append(ComponentResult(
                    st.name, rid, None, r["state"], None, None, None, "skip", None,
                    "the run has no processed components").to_dict())
            continue
        seen_comp.setdefault(rid, set()).add(r["component"])
        action, new_ds, reason = _classify_update(st, effective[rid], r, comps, include_gone, rid)
        if action == "update":
            update_runs_set.add(rid)
        result.components.append(ComponentResult(
            st.name, rid, r["component"], r["state"], r["data_state"], r["quality"], r["fault"],
            action, new_ds, reason).to_dict())
    if comps:
        for rid in sorted(found):
            for c in comps:
                if c not in seen_comp.get(rid, set()):
                    result.components.append(ComponentResult(
                        st.name, rid, c, run_state[rid], None, None, None, "skip", None,
                        f"{c}: no such component of {st.name} run {rid}").to_dict())
    moved = [rid for rid, s in run_state.items() if from_goto_cleaned and s == "goto_cleaned"]
    for rid in sorted(found):
        new_state = "update" if (rid in update_runs_set or rid in moved) else run_state[rid]
        entry = {"id": rid, "state": run_state[rid], "new_state": new_state, "label": run_label[rid],
                 "new_label": label if (label is not None and (rid in update_runs_set or rid in moved))
                 else run_label[rid]}
        if st.update_mode_col:
            entry["update_mode"] = update_mode if rid in update_runs_set else None
        result.runs.append(entry)
    n_update = sum(1 for c in result.components if c["action"] == "update")
    n_full = sum(1 for c in result.components if c["action"] == "full")
    n_clear = sum(1 for c in result.components if c["action"] == "clear_fault")
    result.rows = {run.name: len(update_runs_set | set(moved)), comp.name: n_update + n_full + n_clear}
    if not result.total:
        result.notes.append("nothing to change")
        return result
    if dry_run:
        return result
    if confirm is not None and not confirm(result):
        result.notes.append("declined; nothing written")
        return result

    # ---------------------------------------------------------------- write
    id_in = run.c[st.id_col].in_(ids)
    comp_id_in = comp.c[st.id_col].in_(ids)
    match = [ds_col.in_(st.update_from_data_states), comp.c.quality == 0]
    if not include_gone:
        match.append(func.coalesce(comp.c.fault, 0) != FAULT_GONE)
    if comps:
        match.append(key.in_(comps))
    with write_transaction(dbs, "setupdate") as conn:
        counts = {run.name: 0, comp.name: 0}
        if from_goto_cleaned:
            vals = {"state": "update"}
            if label is not None:
                vals["label"] = label
            counts[run.name] += _rowcount(conn.execute(
                update(run).where(id_in, run.c.state == "goto_cleaned").values(**vals)))
        vals = {"state": "update"}
        if label is not None:
            vals["label"] = label
        if st.update_mode_col:
            vals[st.update_mode_col] = update_mode
        has_match = exists().where(comp.c[st.id_col] == run.c[st.id_col], *match)
        conn.execute(update(run).where(id_in, run.c.state.in_(UPDATABLE_RUN_STATES), has_match)
                     .values(**vals))
        # runs moved from goto_cleaned may be updated again above: count each run once
        counts[run.name] = result.rows[run.name]
        runs_ok = select(run.c[st.id_col]).where(id_in, run.c.state.in_(UPDATABLE_RUN_STATES))
        counts[comp.name] += _rowcount(conn.execute(
            update(comp).where(comp_id_in, comp.c[st.id_col].in_(runs_ok), *match)
            .values({st.data_state_col: "update", "fault": 0})))
        if include_gone and "update" not in st.update_from_data_states:
            gone = [ds_col == "update", comp.c.fault == FAULT_GONE]
            if comps:
                gone.append(key.in_(comps))
            upd_runs = select(run.c[st.id_col]).where(id_in, run.c.state == "update")
            counts[comp.name] += _rowcount(conn.execute(
                update(comp).where(comp_id_in, comp.c[st.id_col].in_(upd_runs), *gone).values(fault=0)))
        sweep = _sweep_condition(st, comp)
        if sweep is not None and not comps:
            counts[comp.name] += _rowcount(conn.execute(
                update(comp).where(comp_id_in, sweep).values({st.data_state_col: "full", "fault": 0})))
        result.rows = counts
        record_audit(conn, f"setupdate.{st.name}", result.total, dict(
            audit_detail or {}, stage=st.name, ids=ids[:50], components=comps[:50], label=label,
            update_mode=update_mode, from_goto_cleaned=from_goto_cleaned, include_gone=include_gone))
    result.applied = True
    return result


def _rowcount(res) -> int:
    n = res.rowcount
    return int(n) if n is not None and n >= 0 else 0


def _classify_update(st: Stage, state: str, r: dict, comps: list[str], include_gone: bool,
                     rid: int) -> tuple[str, str | None, str]:
    """What setupdate does to one component: (action, new data_state, reason)."""
    name = r["component"]
    ds, q, fault = r["data_state"], r["quality"], r["fault"]
    if not comps and _in_sweep(st, ds, q):
        return "full", "full", f"bad quality {q}: set to full so it does not block the run"
    gone = fault == FAULT_GONE
    if gone and not include_gone:
        return "skip", None, f"{name}: fault 26, gone — use --fault 26 to force"
    if q:
        return "skip", None, f"{name}: bad quality {q} (done but bad): never updated"
    if state not in UPDATABLE_RUN_STATES:
        if state == "goto_cleaned":
            return "skip", None, f"run {rid} is goto_cleaned — use --from-goto-cleaned"
        if state == "full" and ds == "full":
            return "skip", None, f"{name}: run and component are full: nothing to regenerate"
        return "skip", None, f"run state {state}: only cleaned or update runs can be updated"
    if ds in st.update_from_data_states:
        if gone:
            return "update", "update", f"{name}: fault 26 forced: {ds} -> update"
        return "update", "update", f"{name}: {ds} -> update"
    if ds == "update":
        if gone and include_gone and state == "update":
            return "clear_fault", "update", f"{name}: fault 26 cleared (forced); queued for update"
        if fault:
            return "skip", None, (f"{name}: already queued for update with fault {fault} — "
                                  f"use mopstool revert {st.name} --id {rid}")
        return "skip", None, f"{name}: already queued for update"
    if ds == "full":
        return "skip", None, f"{name}: data_state full: nothing to regenerate"
    return "skip", None, f"{name}: data_state {ds}: cannot be regenerated"


# ====================================================================== revert

@dataclass
class RevertFilter:
    ids: list[int] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)          # LIKE, ORed
    data_groups: list[str] = field(default_factory=list)     # LIKE, ORed
    night: date | None = None
    #: fault codes (=, ORed); empty: every fault but 26
    faults: list[int] = field(default_factory=list)
    #: class_id / skycell_id
    components: list[str] = field(default_factory=list)
    all: bool = False

    def has_terms(self) -> bool:
        return bool(self.ids or self.labels or self.data_groups or self.night or self.faults
                    or self.components)


def revert(dbs: Databases, stage: str | Stage, flt: RevertFilter, *, dry_run: bool = False,
           confirm: Callable[[ComponentChange], bool] | None = None,
           gone_in_new_runs: bool = False, overlaps: bool = True,
           audit_detail: dict | None = None) -> ComponentChange:
    """The -revert* modes: DELETE faulted components of 'new' runs (they are
    queued again); clear the fault of data_state 'update' components of
    'update' runs. Fault 26 (gone) only when *flt.faults* names it
    (*gone_in_new_runs* reverts it in new runs too, as the C tools do).
    Warp: faulted overlap rows (warpSkyCellMap) of new runs are deleted too
    unless *overlaps* is False (warptool -revertwarped leaves them alone)."""
    st = _stage(stage, REVERT_STAGES)
    if not flt.has_terms() and not flt.all:
        raise UsageError("revert needs a selector (--id, --label, --data-group, --night, --fault) "
                         "or --all")
    if flt.components and not st.component_key:
        raise UsageError(f"stage {st.name} has one component per run; drop --component")
    run = run_table(st)
    comp = schema.table(st.component_table)
    link = comp.c[st.id_col]
    key = comp.c[st.component_key[0]] if st.component_key else None
    has_ds = bool(st.data_state_col and st.data_state_col in comp.c)
    rflt = RunFilter(ids=flt.ids, labels=flt.labels,
                     data_groups=flt.data_groups if "data_group" in st.run_columns else [],
                     night=flt.night)
    if flt.data_groups and "data_group" not in st.run_columns:
        raise UsageError(f"stage {st.name} has no data_group column")
    run_conds = run_filter_conditions(st, rflt)
    faulted = eq_any(comp.c.fault, flt.faults) if flt.faults else comp.c.fault != 0
    comp_conds = [faulted]
    if key is not None and flt.components:
        comp_conds.append(key.in_(flt.components))
    not_gone = comp.c.fault != FAULT_GONE
    result = ComponentChange(action=f"revert {st.name}", stage=st.name, dry_run=dry_run)
    explicit_gone = FAULT_GONE in flt.faults

    # ---------------------------------------------------------------- plan
    cols = [run.c[st.id_col].label("id"), run.c.state.label("run_state"),
            (key if key is not None else literal("-")).label("component"),
            (comp.c[st.data_state_col] if has_ds else null()).label("data_state"),
            comp.c.fault]
    q = (select(*cols).select_from(comp.join(run, link == run.c[st.id_col]))
         .where(*comp_conds, *run_conds).order_by(run.c[st.id_col]))
    if key is not None:
        q = q.order_by(key)
    with dbs.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if st.name == "warp" and overlaps and (not flt.components or "overlap" in flt.components):
            m = schema.warpSkyCellMap
            mf = eq_any(m.c.fault, flt.faults) if flt.faults else m.c.fault != 0
            mq = (select(run.c.warp_id.label("id"), run.c.state.label("run_state"), m.c.fault)
                  .select_from(m.join(run, m.c.warp_id == run.c.warp_id))
                  .where(mf, m.c.skycell_id == "faulted", *run_conds))
            maprows = [dict(r._mapping, component="overlap", data_state=None, _map=True)
                       for r in conn.execute(mq)]
        else:
            maprows = []
    n_delete = n_clear = n_map = 0
    for r in rows + maprows:
        fault = int(r["fault"])
        gone = fault == FAULT_GONE
        action, reason = "skip", ""
        if r["run_state"] == "new":
            if gone and not (explicit_gone or gone_in_new_runs):
                reason = f"{r['component']}: fault 26, gone — use --fault 26 to force"
            else:
                action, reason = "delete", "faulted component of a new run: deleted so it is queued again"
        elif r["run_state"] == "update" and has_ds and not r.get("_map"):
            if r["data_state"] != "update":
                reason = f"data_state {r['data_state']} in an update run: not queued"
            elif gone and not explicit_gone:
                reason = f"{r['component']}: fault 26, gone — use --fault 26 to force"
            else:
                action, reason = "clear_fault", "fault cleared: the update is retried"
        else:
            reason = f"run state {r['run_state']}: not being processed — see mopstool show {st.name} {r['id']}"
        if action == "delete":
            if r.get("_map"):
                n_map += 1
            else:
                n_delete += 1
        elif action == "clear_fault":
            n_clear += 1
        result.components.append({"stage": st.name, "id": r["id"], "component": r["component"],
                                  "run_state": r["run_state"], "data_state": r["data_state"],
                                  "fault": fault, "meaning": fault_meaning(fault), "action": action,
                                  "reason": reason})
    result.rows = {comp.name: n_delete + n_clear}
    if st.name == "warp":
        result.rows["warpSkyCellMap"] = n_map
    runs_touched = sorted({c["id"] for c in result.components if c["action"] != "skip"})
    result.runs = [{"id": i} for i in runs_touched]
    if not result.total:
        result.notes.append("nothing to revert")
        return result
    if dry_run:
        return result
    if confirm is not None and not confirm(result):
        result.notes.append("declined; nothing written")
        return result

    # ---------------------------------------------------------------- write
    new_runs = select(run.c[st.id_col]).where(run.c.state == "new", *run_conds)
    upd_runs = select(run.c[st.id_col]).where(run.c.state == "update", *run_conds)
    del_conds = list(comp_conds)
    clr_conds = list(comp_conds)
    if not explicit_gone:
        clr_conds.append(not_gone)
        if not gone_in_new_runs:
            del_conds.append(not_gone)
    with write_transaction(dbs, "revert") as conn:
        counts = {comp.name: _rowcount(conn.execute(delete(comp).where(link.in_(new_runs), *del_conds)))}
        if has_ds:
            counts[comp.name] += _rowcount(conn.execute(
                update(comp).where(link.in_(upd_runs), comp.c[st.data_state_col] == "update", *clr_conds)
                .values(fault=0)))
        if st.name == "warp":
            m = schema.warpSkyCellMap
            if maprows:
                mconds = [eq_any(m.c.fault, flt.faults) if flt.faults else m.c.fault != 0,
                          m.c.skycell_id == "faulted"]
                if not (explicit_gone or gone_in_new_runs):
                    mconds.append(m.c.fault != FAULT_GONE)
                counts["warpSkyCellMap"] = _rowcount(conn.execute(
                    delete(m).where(m.c.warp_id.in_(new_runs), *mconds)))
            else:
                counts["warpSkyCellMap"] = 0
        result.rows = counts
        record_audit(conn, f"revert.{st.name}", result.total, dict(
            audit_detail or {}, stage=st.name, ids=flt.ids[:50], labels=flt.labels, faults=flt.faults,
            night=flt.night.isoformat() if flt.night else None, components=flt.components[:50]))
    result.applied = True
    return result
