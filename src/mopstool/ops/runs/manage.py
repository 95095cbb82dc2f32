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

Every writer follows the one write protocol (:func:`mopstool.ops.writes.execute`):
a plan function (read-only) and an apply function; the plan is shown for
``dry_run``, confirmed once through *confirm*, then made again under the named
lock inside the transaction that writes, with the audit record.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

from sqlalchemy import and_, delete, exists, func, literal, null, select, update

from mopstool.db import Databases, schema
from mopstool.db.values import check_row
from mopstool.errors import NotFound, UsageError
from mopstool.ops.writes import WritePlan, execute
from mopstool.stages import FAULT_GONE, Stage, State, fault_meaning, get_stage, stages_that
from mopstool.stages.joins import RunFilter, eq_any, guard_conditions, run_filter_conditions

#: the word that stands for SQL NULL in a setter
NULL_WORD = "NULL"
#: rows of a plan shown as a sample
SAMPLE = 20
#: run states from which setupdate queues components (the states 'update' is reached from,
#: goto_cleaned only with --from-goto-cleaned)
UPDATABLE_RUN_STATES = (State.CLEANED, State.UPDATE)

Plan = WritePlan


def _null(value: str | None) -> str | None:
    if value is None:
        return None
    return None if value.strip().upper() == NULL_WORD else value


def run_table(stage: Stage):
    return schema.table(stage.run_table)


def _rowcount(res) -> int:
    n = res.rowcount
    return int(n) if n is not None and n >= 0 else 0


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
                dry_run: bool = False, confirm: Callable[[WritePlan], bool] | None = None,
                audit_detail: dict | None = None, lock_timeout: float | None = None) -> WritePlan:
    """``-updaterun``: set columns of every run matching *flt* (one UPDATE).

    No transition rules (any state of the stage's vocabulary may be written, as
    with the C tools). Refuses a selection by state alone, an empty selection
    and a call without a setter."""
    st = get_stage(stage, capability="updaterun")
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
        values["state"] = st.validate_state(values["state"])
    run = run_table(st)
    for col in values:
        if col not in run.c:
            raise UsageError(f"stage {st.name} has no {col} column")
    check_row(run, values, options={c: f"--set-{c.replace('_', '-')}" for c in values})
    conds = run_filter_conditions(st, flt)
    show = [c for c in (st.id_col, "state", "label", "data_group", "dist_group", "note") if c in run.c]
    idc = run.c[st.id_col]

    def plan(conn) -> WritePlan:
        ids = [int(i) for i in conn.execute(select(idc).where(*conds).order_by(idc)).scalars()]
        out = WritePlan(action=f"updaterun {st.name}", rows={run.name: len(ids)}, keys=frozenset(ids),
                        title=f"{st.name} runs")
        sample = conn.execute(select(*[run.c[c] for c in show]).where(idc.in_(ids[:SAMPLE]))
                              .order_by(idc)).all() if ids else []
        out.sample = [dict(r._mapping, **{f"new_{k}": v for k, v in values.items()}) for r in sample]
        out.notes.append("set " + ", ".join(f"{k}={'NULL' if v is None else v}" for k, v in values.items()))
        if not ids:
            out.notes.append(f"no {st.name} run matches; nothing to change")
        elif len(ids) > SAMPLE:
            out.notes.append(f"showing {SAMPLE} of {len(ids)} runs")
        return out

    def apply(conn, fresh: WritePlan):
        # under the lock the selection matches exactly the fresh plan's runs: one UPDATE
        changed = _rowcount(conn.execute(update(run).where(*conds).values(**values)))
        fresh.rows = {run.name: changed}
        return changed, dict(audit_detail or {}, stage=st.name, set=values, selector=flt.detail())

    return execute(dbs, f"updaterun.{st.name}", plan, apply, dry_run=dry_run, confirm=confirm,
                   lock_timeout=lock_timeout)


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
    #: every row the change touches (the write protocol compares these under the lock)
    keys: frozenset = field(default=frozenset(), repr=False, compare=False)

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

    # result protocol (mopstool.ops.results)
    def json_form(self) -> dict[str, Any]:
        return self.to_dict()

    def table_form(self):
        from mopstool.ops.results import Table

        cols = [c for c in COMPONENT_COLUMNS if any(c in r for r in self.components)] \
            or list(COMPONENT_COLUMNS)
        what = (f"{self.stage} components" if self.action.startswith("setupdate")
                else f"faulted {self.stage} components")
        return [Table(self.components, cols, what + (" (dry run)" if self.dry_run else ""))]


#: columns of a component change in table form
COMPONENT_COLUMNS = ("id", "component", "run_state", "data_state", "quality", "fault", "action",
                     "reason")


def _sweep_condition(stage: Stage, comp):
    """Bad-quality components a whole-run setupdate moves to 'full' (the stage's
    sweep states). None where there is no sweep."""
    if not stage.bad_quality_sweep:
        return None
    ds = comp.c[stage.data_state_col]
    if stage.sweep_in:
        return and_(comp.c[stage.quality_col] != 0, ds.in_(stage.sweep_in))
    return and_(comp.c[stage.quality_col] != 0, ds.notin_(stage.sweep_not_in))


def set_update(dbs: Databases, stage: str | Stage, run_ids: list[int], *,
               components: list[str] | None = None, set_label: str | None = None,
               update_mode: int | None = None, from_goto_cleaned: bool = False,
               include_gone: bool = False, dry_run: bool = False,
               confirm: Callable[[ComponentChange], bool] | None = None,
               audit_detail: dict | None = None, lock_timeout: float | None = None) -> ComponentChange:
    """Queue cleaned components of the given runs for regeneration.

    For runs in cleaned/update, components in the stage's update-from data
    states with quality 0 and fault != 26 (optionally only *components*) go to
    data_state 'update' with fault 0, and their run to state 'update' (label
    and the stage's update-mode column written). Without *components*,
    bad-quality components are swept to 'full' (the stage's sweep states).
    *from_goto_cleaned* first moves goto_cleaned runs to 'update'; *include_gone*
    also takes fault 26 components (and clears fault 26 on components already
    being updated)."""
    st = get_stage(stage, capability="setupdate")
    if not run_ids:
        raise UsageError(f"setupdate needs {st.id_option}")
    if update_mode is not None and not st.update_mode_col:
        raise UsageError(f"--update-mode applies to {', '.join(_update_mode_stages())} runs only, "
                         f"not {st.name}")
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
    upd, full = st.validate_state(State.UPDATE), st.validate_state(State.FULL)
    goto = st.validate_state(State.GOTO_CLEANED)

    def plan(conn) -> ComponentChange:
        result = ComponentChange(action=f"setupdate {st.name}", stage=st.name)
        onclause = comp.c[st.component_link] == run.c[st.id_col]
        if comps:
            onclause = and_(onclause, key.in_(comps))
        q = (select(run.c[st.id_col].label("id"), run.c.state, run.c.label, key.label("component"),
                    ds_col.label("data_state"), comp.c[st.quality_col].label("quality"),
                    comp.c[st.fault_col].label("fault"))
             .select_from(run.outerjoin(comp, onclause))
             .where(run.c[st.id_col].in_(ids)).order_by(run.c[st.id_col], key))
        rows = [dict(r._mapping) for r in conn.execute(q)]
        found = {r["id"] for r in rows}
        missing = [i for i in ids if i not in found]
        if not found:
            raise NotFound(f"no {st.name} run with {st.id_col} {', '.join(map(str, missing))}")
        for i in missing:
            result.components.append(ComponentResult(st.name, i, None, None, None, None, None, "skip",
                                                     None, f"no {st.name} run {i}").to_dict())
        run_state = {r["id"]: r["state"] for r in rows}
        run_label = {r["id"]: r["label"] for r in rows}
        seen_comp: dict[int, set] = {}
        moved = [rid for rid, s in run_state.items() if from_goto_cleaned and s == goto]
        effective = {rid: (upd if rid in moved else s) for rid, s in run_state.items()}
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
        for rid in sorted(found):
            touched = rid in update_runs_set or rid in moved
            entry = {"id": rid, "state": run_state[rid],
                     "new_state": upd if touched else run_state[rid], "label": run_label[rid],
                     "new_label": label if (label is not None and touched) else run_label[rid]}
            if st.update_mode_col:
                entry["update_mode"] = update_mode if rid in update_runs_set else None
            result.runs.append(entry)
        n_changed = sum(1 for c in result.components if c["action"] != "skip")
        result.rows = {run.name: len(update_runs_set | set(moved)), comp.name: n_changed}
        result.keys = frozenset(
            [("run", rid) for rid in update_runs_set | set(moved)]
            + [(c["id"], c["component"], c["action"]) for c in result.components if c["action"] != "skip"])
        if not result.total:
            result.notes.append("nothing to change")
        return result

    def apply(conn, result: ComponentChange):
        id_in = run.c[st.id_col].in_(ids)
        comp_id_in = comp.c[st.component_link].in_(ids)
        fault = comp.c[st.fault_col]
        match = [ds_col.in_(st.update_from_data_states), comp.c[st.quality_col] == 0]
        if not include_gone:
            match.append(func.coalesce(fault, 0) != FAULT_GONE)
        if comps:
            match.append(key.in_(comps))
        counts = {run.name: result.rows[run.name], comp.name: 0}
        vals: dict[str, Any] = {"state": upd}
        if label is not None:
            vals["label"] = label
        if from_goto_cleaned:
            conn.execute(update(run).where(id_in, run.c.state == goto).values(**vals))
        if st.update_mode_col:
            vals[st.update_mode_col] = update_mode
        has_match = exists().where(comp.c[st.component_link] == run.c[st.id_col], *match)
        conn.execute(update(run).where(id_in, run.c.state.in_(UPDATABLE_RUN_STATES), has_match)
                     .values(**vals))
        runs_ok = select(run.c[st.id_col]).where(id_in, run.c.state.in_(UPDATABLE_RUN_STATES))
        counts[comp.name] += _rowcount(conn.execute(
            update(comp).where(comp_id_in, comp.c[st.component_link].in_(runs_ok), *match)
            .values({st.data_state_col: upd, st.fault_col: 0})))
        if include_gone and upd not in st.update_from_data_states:
            gone = [ds_col == upd, fault == FAULT_GONE]
            if comps:
                gone.append(key.in_(comps))
            upd_runs = select(run.c[st.id_col]).where(id_in, run.c.state == upd)
            counts[comp.name] += _rowcount(conn.execute(
                update(comp).where(comp_id_in, comp.c[st.component_link].in_(upd_runs), *gone)
                .values({st.fault_col: 0})))
        sweep = _sweep_condition(st, comp)
        if sweep is not None and not comps:
            counts[comp.name] += _rowcount(conn.execute(
                update(comp).where(comp_id_in, sweep).values({st.data_state_col: full, st.fault_col: 0})))
        result.rows = counts
        return result.total, dict(
            audit_detail or {}, stage=st.name, ids=ids[:50], components=comps[:50], label=label,
            update_mode=update_mode, from_goto_cleaned=from_goto_cleaned, include_gone=include_gone)

    return execute(dbs, f"setupdate.{st.name}", plan, apply, dry_run=dry_run, confirm=confirm,
                   lock_timeout=lock_timeout)


def _update_mode_stages() -> list[str]:
    from mopstool.stages import STAGES

    return [n for n in stages_that("setupdate") if STAGES[n].update_mode_col]


def _classify_update(st: Stage, state: str, r: dict, comps: list[str], include_gone: bool,
                     rid: int) -> tuple[str, str | None, str]:
    """What setupdate does to one component: (action, new data_state, reason)."""
    name = r["component"]
    ds, q, fault = r["data_state"], r["quality"], r["fault"]
    if not comps and st.in_sweep(ds, q):
        return "full", State.FULL, f"bad quality {q}: set to full so it does not block the run"
    gone = fault == FAULT_GONE
    if gone and not include_gone:
        return "skip", None, f"{name}: fault 26, gone — use --fault 26 to force"
    if q:
        return "skip", None, f"{name}: bad quality {q} (done but bad): never updated"
    if state not in UPDATABLE_RUN_STATES:
        if state == State.GOTO_CLEANED:
            return "skip", None, f"run {rid} is goto_cleaned — use --from-goto-cleaned"
        if state == State.FULL and ds == State.FULL:
            return "skip", None, f"{name}: run and component are full: nothing to regenerate"
        return "skip", None, f"run state {state}: only cleaned or update runs can be updated"
    if ds in st.update_from_data_states:
        if gone:
            return "update", State.UPDATE, f"{name}: fault 26 forced: {ds} -> update"
        return "update", State.UPDATE, f"{name}: {ds} -> update"
    if ds == State.UPDATE:
        if gone and include_gone and state == State.UPDATE:
            return "clear_fault", State.UPDATE, f"{name}: fault 26 cleared (forced); queued for update"
        if fault:
            hint = (f" — use mopstool revert {st.name} --id {rid}" if st.can("revert") else "")
            return "skip", None, f"{name}: already queued for update with fault {fault}{hint}"
        return "skip", None, f"{name}: already queued for update"
    if ds == State.FULL:
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
           audit_detail: dict | None = None,
           lock_timeout: float | None = None) -> ComponentChange:
    """The -revert* modes: DELETE faulted components of 'new' runs (they are
    queued again); clear the fault of data_state 'update' components of
    'update' runs. Fault 26 (gone) only when *flt.faults* names it
    (*gone_in_new_runs* reverts it in new runs too, as the C tools do). A
    stage's fault map (warp: the faulted overlap rows) is reverted with it
    unless *overlaps* is False (warptool -revertwarped leaves them alone)."""
    st = get_stage(stage, capability="revert")
    if not flt.has_terms() and not flt.all:
        raise UsageError("revert needs a selector (--id, --label, --data-group, --night, --fault) "
                         "or --all")
    if flt.components and not st.component_key:
        raise UsageError(f"stage {st.name} has one component per run; drop --component")
    if flt.data_groups and "data_group" not in st.run_columns:
        raise UsageError(f"stage {st.name} has no data_group column")
    run = run_table(st)
    comp = schema.table(st.component_table)
    link = comp.c[st.component_link]
    fault = comp.c[st.fault_col]
    key = comp.c[st.component_key[0]] if st.component_key else None
    has_ds = bool(st.data_state_col and st.data_state_col in comp.c)
    rflt = RunFilter(ids=flt.ids, labels=flt.labels, data_groups=flt.data_groups, night=flt.night)
    run_conds = run_filter_conditions(st, rflt) + guard_conditions(st)
    comp_conds = [eq_any(fault, flt.faults) if flt.faults else fault != 0]
    if key is not None and flt.components:
        comp_conds.append(key.in_(flt.components))
    explicit_gone = FAULT_GONE in flt.faults
    new, upd = st.validate_state(State.NEW), st.validate_state(State.UPDATE)
    fmap = st.fault_map
    use_map = overlaps and fmap is not None and (not flt.components or fmap.component in flt.components)
    m = schema.table(fmap.table) if fmap is not None else None

    def map_conds():
        return [eq_any(m.c[st.fault_col], flt.faults) if flt.faults else m.c[st.fault_col] != 0,
                m.c[fmap.key_col] == fmap.marker]

    def plan(conn) -> ComponentChange:
        result = ComponentChange(action=f"revert {st.name}", stage=st.name)
        cols = [run.c[st.id_col].label("id"), run.c.state.label("run_state"),
                (key if key is not None else literal("-")).label("component"),
                (comp.c[st.data_state_col] if has_ds else null()).label("data_state"),
                fault.label("fault")]
        q = (select(*cols).select_from(comp.join(run, link == run.c[st.id_col]))
             .where(*comp_conds, *run_conds).order_by(run.c[st.id_col]))
        if key is not None:
            q = q.order_by(key)
        rows = [dict(r._mapping) for r in conn.execute(q)]
        maprows = []
        if use_map:
            mq = (select(run.c[st.id_col].label("id"), run.c.state.label("run_state"),
                         m.c[st.fault_col].label("fault"))
                  .select_from(m.join(run, m.c[st.id_col] == run.c[st.id_col]))
                  .where(*map_conds(), *run_conds))
            maprows = [dict(r._mapping, component=fmap.component, data_state=None, _map=True)
                       for r in conn.execute(mq)]
        n_delete = n_clear = n_map = 0
        for r in rows + maprows:
            code = int(r["fault"])
            gone = code == FAULT_GONE
            action, reason = "skip", ""
            if r["run_state"] == new:
                if gone and not (explicit_gone or gone_in_new_runs):
                    reason = f"{r['component']}: fault 26, gone — use --fault 26 to force"
                else:
                    action, reason = "delete", "faulted component of a new run: deleted so it is queued again"
            elif r["run_state"] == upd and has_ds and not r.get("_map"):
                if r["data_state"] != upd:
                    reason = f"data_state {r['data_state']} in an update run: not queued"
                elif gone and not explicit_gone:
                    reason = f"{r['component']}: fault 26, gone — use --fault 26 to force"
                else:
                    action, reason = "clear_fault", "fault cleared: the update is retried"
            else:
                reason = (f"run state {r['run_state']}: not being processed — "
                          f"see mopstool show {st.name} {r['id']}")
            if action == "delete":
                if r.get("_map"):
                    n_map += 1
                else:
                    n_delete += 1
            elif action == "clear_fault":
                n_clear += 1
            result.components.append({"stage": st.name, "id": r["id"], "component": r["component"],
                                      "run_state": r["run_state"], "data_state": r["data_state"],
                                      "fault": code, "meaning": fault_meaning(code), "action": action,
                                      "reason": reason})
        result.rows = {comp.name: n_delete + n_clear}
        if fmap is not None:
            result.rows[fmap.table] = n_map
        result.runs = [{"id": i} for i in sorted({c["id"] for c in result.changed})]
        result.keys = frozenset((c["id"], c["component"], c["action"]) for c in result.changed)
        if not result.total:
            result.notes.append("nothing to revert")
        return result

    def apply(conn, result: ComponentChange):
        new_runs = select(run.c[st.id_col]).where(run.c.state == new, *run_conds)
        upd_runs = select(run.c[st.id_col]).where(run.c.state == upd, *run_conds)
        del_conds = list(comp_conds)
        clr_conds = list(comp_conds)
        if not explicit_gone:
            clr_conds.append(fault != FAULT_GONE)
            if not gone_in_new_runs:
                del_conds.append(fault != FAULT_GONE)
        counts = {comp.name: _rowcount(conn.execute(delete(comp).where(link.in_(new_runs), *del_conds)))}
        if has_ds:
            counts[comp.name] += _rowcount(conn.execute(
                update(comp).where(link.in_(upd_runs), comp.c[st.data_state_col] == upd, *clr_conds)
                .values({st.fault_col: 0})))
        if fmap is not None:
            counts[fmap.table] = 0
            if result.rows.get(fmap.table):
                mconds = map_conds()
                if not (explicit_gone or gone_in_new_runs):
                    mconds.append(m.c[st.fault_col] != FAULT_GONE)
                counts[fmap.table] = _rowcount(conn.execute(
                    delete(m).where(m.c[st.id_col].in_(new_runs), *mconds)))
        result.rows = counts
        return result.total, dict(
            audit_detail or {}, stage=st.name, ids=flt.ids[:50], labels=flt.labels, faults=flt.faults,
            night=flt.night.isoformat() if flt.night else None, components=flt.components[:50])

    return execute(dbs, f"revert.{st.name}", plan, apply, dry_run=dry_run, confirm=confirm,
                   lock_timeout=lock_timeout)
