"""Broken products: find them, reprocess their exposures, retire the originals.

A product is broken when a component has fault 26 (GONE: never reverted or
updated) or a data_state error_cleaned / error_purged / error_scrubbed, or a
stamp job stopped with fault 25 (NOT_AVAILABLE) or 26 (GONE) waits on an image
that is broken in that sense.

The fix follows the requirement notes' recipes, per exposure, by filter:

* LAP.PV3 grizy-band exposures: preset ``lapfix`` (reduction LAP_SCIENCE);
* w-band exposures (not in LAP.PV3): preset ``wfix`` (reduction SWEETSPOT);

both tess RINGS.V3, end_stage warp, workdir under the fix label and date
(config ``[fixbroken]`` and ``[presets.*]``). The replacement chip run is
defined with :func:`mopstool.ops.runs.define.define_runs` (chiptool -definebyquery
semantics) and the pairing broken -> replacement is kept in the database's own
columns: the replacement chip run's ``note`` (which chiptool leaves NULL) reads

    mopstool.fixbroken open preset:wfix chip:1600123 warp:1400456 diff:1300789

(``done`` instead of ``open`` once --finish retired the originals). It is found
again by exposure (chipRun.exp_id, indexed) when planning, and by the fix
presets' labels (chipRun.label, indexed) for fixbroken status/finish and cleanup, so
fixbroken needs no table of mopstool's own. :func:`fix` follows the write
protocol (:func:`mopstool.ops.writes.execute`): planned, confirmed once,
planned again under the lock, and in one transaction the replacement is
defined with the marker note set and the broken run list is added to it. A
marked replacement whose note lists no broken run yet is found by its exposure
and completed: never a second replacement. ``finish_fixes`` sends a broken original (its chip run
and the chain's warp runs; or the diff run) to goto_cleaned with label
goto_cleaned only once every replacement's warp runs are 'full', so nothing
usable is lost before its replacement exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable, Iterable

from sqlalchemy import case, or_, select, update

from mopstool.config import Config
from mopstool.db import Databases, schema
from mopstool.errors import NotFound
from mopstool.ops.writes import execute
from mopstool.stages import (ERROR_CLEANUP_STATES, FAULT_GONE, STAGES, JobState, PstampFault,
                             RequestState, Stage, State, stage_order)
from mopstool.stages.joins import chain_join
from mopstool.util import chunks

# the pairing of broken runs with their replacements, read from the replacement's note
from mopstool.ops.disk.fixnotes import (  # noqa: F401  (re-exported)
    _IN_CHUNK, _NOTE_WORD, FIX_FINISHED, FIX_OPEN, NOTE_MAX, NOTE_PREFIX, _end, _exposures_of, _root,
    _root_run, broken_stages, chain_stages, fix_label_patterns, fix_note, fixes_for_exposures,
    open_replacements, parse_fix_note, recorded_fixes,
)

#: stamp faults that mean "the image is not there" (NOT_AVAILABLE, GONE)
STAMP_BROKEN_FAULTS = (PstampFault.NOT_AVAILABLE, PstampFault.GONE)


def _run_and_components(stage: str):
    """(run table, component table, run id column, component key column) of a broken stage."""
    st = STAGES[stage]
    return (schema.table(st.run_table), schema.table(st.component_table), st.id_col,
            st.component_key[0])


#: run states --finish leaves alone (already on the way out, or gone)
_RETIRED_STATES = (State.GOTO_CLEANED, State.CLEANED, State.GOTO_PURGED, State.PURGED,
                   State.GOTO_SCRUBBED, State.SCRUBBED)
RETIRE_STATE = State.GOTO_CLEANED


# ---------------------------------------------------------------------- chains

def _along(conn, start: str, end: str, ids: Iterable[int], *, state: bool = False) -> list[tuple]:
    """(start id, end id[, end state]) along the exposure chain, for these start ids."""
    st, en = STAGES[start], STAGES[end]
    a, b = schema.table(st.run_table), schema.table(en.run_table)
    cols = [a.c[st.id_col], b.c[en.id_col]] + ([b.c[en.state_col]] if state else [])
    out = []
    for chunk in chunks(sorted(set(ids)), _IN_CHUNK):
        q = (select(*cols).select_from(chain_join(start, end)).where(a.c[st.id_col].in_(chunk))
             .order_by(b.c[en.id_col]))
        out += [tuple(r) for r in conn.execute(q)]
    return out


def warps_of_chips(conn, chip_ids: Iterable[int]) -> dict[int, list[tuple[int, str]]]:
    """Replacement-chain root run id -> [(end run id, state)]: chip_id -> [(warp_id, state)]."""
    out: dict[int, list[tuple[int, str]]] = {}
    for root_id, end_id, st in _along(conn, _root().name, _end().name, chip_ids, state=True):
        out.setdefault(int(root_id), []).append((int(end_id), st))
    return out


def _next_stage(stage: Stage) -> Stage | None:
    """The one-to-one child of *stage* on its chain (chip -> cam)."""
    return next((s for s in STAGES.values() if s.parent and s.parent[0] == stage.name), None)


def chain_states(conn, chip_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """chip_id -> {chip_state, cam_state, warps: [(warp_id, state)]} of replacement chains
    (the chain's first stage, the one after it, and its last)."""
    root = _root()
    cr = _root_run()
    ids = sorted(set(i for i in chip_ids if i is not None))
    out: dict[int, dict[str, Any]] = {i: {"chip_state": None, "cam_state": None, "warps": []} for i in ids}
    for chunk in chunks(ids, _IN_CHUNK):
        for cid, st in conn.execute(select(cr.c[root.id_col], cr.c[root.state_col])
                                    .where(cr.c[root.id_col].in_(chunk))):
            out[int(cid)]["chip_state"] = st
    nxt = _next_stage(root)
    if nxt is not None:
        for cid, _, st in _along(conn, root.name, nxt.name, ids, state=True):
            out[int(cid)]["cam_state"] = st
    for cid, warps in warps_of_chips(conn, ids).items():
        out[cid]["warps"] = warps
    return out


def chips_of_warps(conn, warp_ids: Iterable[int]) -> dict[int, int]:
    """End run id -> root run id of a chain (warp_id -> chip_id)."""
    return {int(w): int(c) for w, c in _along(conn, _end().name, _root().name, warp_ids)}


# ---------------------------------------------------------------------- finding

@dataclass
class BrokenRun:
    """One broken original run (or, stage 'exposure', an exposure named by hand)."""

    stage: str
    run_id: int | None
    state: str | None = None
    label: str | None = None
    components: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int | None]:
        return (self.stage, self.run_id)

    def describe(self) -> str:
        comps = f" {','.join(self.components)}" if self.components else ""
        if self.stage == "exposure":
            return "exposure (named by hand)"
        return f"{self.stage} {self.run_id}{comps}"


def _broken_components(conn, stage: str, run_ids: list[int] | None) -> dict[int, BrokenRun]:
    """Runs of *stage* with a fault-26 or error_* component (all, or among *run_ids*)."""
    run, comp, id_col, key = _run_and_components(stage)
    st = STAGES[stage]
    broken = or_(comp.c[st.fault_col] == FAULT_GONE,
                 comp.c[st.data_state_col].in_([str(x) for x in ERROR_CLEANUP_STATES]))
    out: dict[int, BrokenRun] = {}
    batches = [None] if run_ids is None else list(chunks(sorted(set(run_ids)), _IN_CHUNK))
    for chunk in batches:
        if chunk is not None and not chunk:
            continue
        conds = [broken] + ([comp.c[id_col].in_(chunk)] if chunk is not None else [])
        q = (select(run.c[id_col], run.c[st.state_col], run.c.label, comp.c[key], comp.c[st.fault_col],
                    comp.c[st.data_state_col])
             .select_from(comp.join(run, run.c[id_col] == comp.c[id_col])).where(*conds)
             .order_by(run.c[id_col], comp.c[key]))
        for rid, state, label, component, fault, data_state in conn.execute(q):
            b = out.setdefault(int(rid), BrokenRun(stage, int(rid), state, label))
            b.components.append(component)
            why = f"fault {fault}" if fault == FAULT_GONE else f"data_state {data_state}"
            src = f"{component} {why}"
            if src not in b.sources:
                b.sources.append(src)
    return out


def _stamp_broken(dbs: Databases, conn) -> list[tuple[str, int, str, str]]:
    """(stage, run id, component, source) of images stamp jobs stopped on with fault 25/26."""
    job = schema.table("pstampJob", pstamp_db=True)
    dep = schema.table("pstampDependent", pstamp_db=True)
    req = schema.table("pstampRequest", pstamp_db=True)
    q = (select(job.c.job_id, job.c.fault, dep.c.stage, dep.c.stage_id, dep.c.component)
         .select_from(job.join(dep, dep.c.dep_id == job.c.dep_id).join(req, req.c.req_id == job.c.req_id))
         .where(job.c.state == JobState.STOP, job.c.fault.in_([int(f) for f in STAMP_BROKEN_FAULTS]),
                job.c.dep_id != 0, req.c.state.notin_([RequestState.GOTO_CLEANED, RequestState.CLEANED]))
         .order_by(job.c.job_id))
    if dbs.same:
        rows = conn.execute(q).all()
    else:
        with dbs.connect(pstamp_db=True) as pconn:
            rows = pconn.execute(q).all()
    return [(stage, int(sid), comp, f"stamp job {jid} fault {fault}")
            for jid, fault, stage, sid, comp in rows if stage in broken_stages() and sid is not None]


def _stamp_images_broken(conn, items: list[tuple[str, int, str, str]]) -> dict[tuple, BrokenRun]:
    """The stamp jobs' images that really are broken (component gone/error, or run error_*)."""
    out: dict[tuple, BrokenRun] = {}
    by_stage: dict[str, list] = {}
    for it in items:
        by_stage.setdefault(it[0], []).append(it)
    for stage, its in by_stage.items():
        run, comp, id_col, key = _run_and_components(stage)
        sd = STAGES[stage]
        ids = sorted({i[1] for i in its})
        info: dict[tuple, tuple] = {}
        states: dict[int, tuple] = {}
        for chunk in chunks(ids, _IN_CHUNK):
            for rid, st, lab in conn.execute(select(run.c[id_col], run.c[sd.state_col], run.c.label)
                                             .where(run.c[id_col].in_(chunk))):
                states[int(rid)] = (st, lab)
            for rid, c, fault, ds in conn.execute(
                    select(comp.c[id_col], comp.c[key], comp.c[sd.fault_col], comp.c[sd.data_state_col])
                    .where(comp.c[id_col].in_(chunk))):
                info[(int(rid), c)] = (fault, ds)
        for _, rid, component, source in its:
            if rid not in states:
                continue
            st, lab = states[rid]
            fault, ds = info.get((rid, component), (None, None))
            if fault == FAULT_GONE or ds in ERROR_CLEANUP_STATES or st in ERROR_CLEANUP_STATES:
                b = out.setdefault((stage, rid), BrokenRun(stage, rid, st, lab))
                if component and component not in b.components:
                    b.components.append(component)
                b.sources.append(source)
    return out


@dataclass
class Selection:
    exp_names: list[str] = field(default_factory=list)
    chip_ids: list[int] = field(default_factory=list)
    warp_ids: list[int] = field(default_factory=list)
    diff_ids: list[int] = field(default_factory=list)

    def explicit(self) -> bool:
        return bool(self.exp_names or any(self.ids_of(s) for s in broken_stages()))

    def ids_of(self, stage: str) -> list[int]:
        """The run ids named for *stage* (--chip-id ...: the field named after its id column)."""
        return list(getattr(self, STAGES[stage].id_col + "s", None) or [])


def find_broken(dbs: Databases, sel: Selection | None = None) -> list[tuple[BrokenRun, list[int]]]:
    """Broken runs with the exposures behind them: [(BrokenRun, [exp_id...])].

    Without a selection: every run with a fault-26 / error_* component, plus the
    images stamp jobs stopped on with fault 25/26. With --chip-id / --warp-id /
    --diff-id / --exp-name: those (a named run counts as broken even when no
    component says so)."""
    with dbs.connect() as conn:
        return _find_broken(dbs, conn, sel)


def _find_broken(dbs: Databases, conn, sel: Selection | None) -> list[tuple[BrokenRun, list[int]]]:
    sel = sel or Selection()
    found: dict[tuple, BrokenRun] = {}
    exps: dict[tuple, list[int]] = {}
    if not sel.explicit():
        for stage in broken_stages():
            for rid, b in _broken_components(conn, stage, None).items():
                found[(stage, rid)] = b
        for key, b in _stamp_images_broken(conn, _stamp_broken(dbs, conn)).items():
            if key in found:
                found[key].sources += [s for s in b.sources if s not in found[key].sources]
                found[key].components += [c for c in b.components if c not in found[key].components]
            else:
                found[key] = b
    else:
        _explicit(conn, sel, found, exps)
    by_stage: dict[str, list[int]] = {}
    for (stage, rid) in found:
        if stage != "exposure":
            by_stage.setdefault(stage, []).append(rid)
    for stage, ids in by_stage.items():
        for rid, e in _exposures_of(conn, stage, ids).items():
            exps[(stage, rid)] = e
    out = []
    order = stage_order()
    for key in sorted(found, key=lambda k: (order.get(k[0], len(order)), k[1] or 0)):
        out.append((found[key], exps.get(key, [])))
    return out


def _explicit(conn, sel: Selection, found: dict, exps: dict) -> None:
    for stage in broken_stages():
        ids = sel.ids_of(stage)
        if not ids:
            continue
        sd = STAGES[stage]
        run, id_col = schema.table(sd.run_table), sd.id_col
        rows = {int(r[0]): r for r in conn.execute(
            select(run.c[id_col], run.c[sd.state_col], run.c.label)
            .where(run.c[id_col].in_(sorted(set(ids)))))}
        missing = [i for i in ids if i not in rows]
        if missing:
            raise NotFound(f"no {stage} run {', '.join(map(str, missing))}")
        comps = _broken_components(conn, stage, list(rows))
        for rid, (_, st, lab) in rows.items():
            b = comps.get(rid) or BrokenRun(stage, rid, st, lab)
            b.sources.append(sd.id_option)
            found[(stage, rid)] = b
    if sel.exp_names:
        raw = schema.rawExp
        names = {r.exp_name: int(r.exp_id) for r in conn.execute(
            select(raw.c.exp_name, raw.c.exp_id).where(raw.c.exp_name.in_(sel.exp_names)))}
        missing = [n for n in sel.exp_names if n not in names]
        if missing:
            raise NotFound(f"no exposure {', '.join(missing)}")
        for name, exp_id in names.items():
            hit = False
            for stage in chain_stages():
                sd = STAGES[stage]
                col = schema.table(sd.run_table).c[sd.id_col]
                ids = [int(x) for x in conn.execute(select(col).select_from(chain_join("exposure", stage))
                                                    .where(raw.c.exp_id == exp_id)).scalars()]
                for rid, b in _broken_components(conn, stage, ids).items():
                    b.sources.append(f"--exp-name {name}")
                    found.setdefault((stage, rid), b)
                    hit = True
            if not hit:
                found[("exposure", exp_id)] = BrokenRun("exposure", None, sources=[f"--exp-name {name}"])
                exps[("exposure", exp_id)] = [exp_id]


# ---------------------------------------------------------------------- recipes

def recipe_for(cfg: Config, filter_value: str | None) -> str | None:
    """The preset that reprocesses an exposure of this filter (None: no recipe)."""
    band = (filter_value or "").split(".", 1)[0].strip().lower()
    lap = [str(f).lower() for f in (cfg.get("fixbroken.lap_filters") or [])]
    if band and band in lap:
        return cfg.get("fixbroken.lap_preset", "lapfix")
    w_bands = [str(f).lower() for f in (cfg.get("fixbroken.w_filters") or ["w"])]
    if band in w_bands:
        return cfg.get("fixbroken.w_preset", "wfix")
    return None


@dataclass
class FixPlanRow:
    exp_id: int
    exp_name: str | None
    filter: str | None
    preset: str | None
    broken: list[BrokenRun]
    setters: dict[str, Any] = field(default_factory=dict)
    action: str = "define"
    chip_id: int | None = None
    fix_ids: list[int] = field(default_factory=list)
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = {"exp_id": self.exp_id, "exp_name": self.exp_name, "filter": self.filter,
             "preset": self.preset}
        for k in ("label", "data_group", "workdir", "reduction", "tess_id", "end_stage"):
            d[k] = self.setters.get(k)
        d["broken"] = [{"stage": b.stage, "id": b.run_id, "state": b.state, "label": b.label,
                        "components": b.components, "sources": b.sources} for b in self.broken]
        d.update(chip_id=self.chip_id, action=self.action, fix_ids=self.fix_ids, note=self.note)
        return d


@dataclass
class FixResult:
    rows: list[FixPlanRow] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def to_define(self) -> list[FixPlanRow]:
        return [r for r in self.rows if r.action == "define"]

    @property
    def to_record(self) -> list[FixPlanRow]:
        """The rows that define a replacement or pair broken runs with an open fix's."""
        return [r for r in self.rows if r.action in ("define", "pair")]

    @property
    def total(self) -> int:
        return len(self.to_record)

    def keys(self) -> frozenset:
        """(exposure, broken stage, broken run id) of every pairing the plan records."""
        return frozenset((r.exp_id, b.stage, b.run_id) for r in self.to_record for b in r.broken)

    def to_list(self) -> list[dict[str, Any]]:
        return [r.to_dict() for r in self.rows]


def _setters_for(cfg: Config, preset: str, fix_date) -> dict[str, Any]:
    from mopstool.ops.runs.define import resolve_setters, sql_value

    s = resolve_setters(preset=cfg.preset(preset), preset_name=preset, date_value=fix_date)
    return {k: (sql_value(v) if k not in ("label", "workdir") else v) for k, v in s.given().items()}


def plan_fixes(dbs: Databases, cfg: Config, sel: Selection | None = None, *,
               fix_date: str | date | None = None) -> FixResult:
    """What fixbroken would do for each exposure behind a broken run (read-only)."""
    with dbs.connect() as conn:
        return _plan_fixes(dbs, conn, cfg, sel, fix_date=fix_date)


def _plan_fixes(dbs: Databases, conn, cfg: Config, sel: Selection | None, *,
                fix_date: str | date | None) -> FixResult:
    broken = _find_broken(dbs, conn, sel)
    result = FixResult(dry_run=True)
    by_exp: dict[int, list[BrokenRun]] = {}
    no_exp: list[BrokenRun] = []
    for b, exps in broken:
        if not exps:
            no_exp.append(b)
        for e in exps:
            by_exp.setdefault(e, []).append(b)
    for b in no_exp:
        result.notes.append(f"{b.describe()}: no exposure found behind it; cannot reprocess")
    if not by_exp:
        return result
    raw = schema.rawExp
    info = {}
    for chunk in chunks(sorted(by_exp), _IN_CHUNK):
        for r in conn.execute(select(raw.c.exp_id, raw.c.exp_name, raw.c.filter, raw.c.fault)
                              .where(raw.c.exp_id.in_(chunk))):
            info[int(r.exp_id)] = r
    fixes = fixes_for_exposures(conn, by_exp)
    fixes_of: dict[int, list[dict]] = {}
    for f in fixes:
        fixes_of.setdefault(f["exp_id"], []).append(f)
    open_repl = {f["chip_id"] for f in fixes if f["state"] == FIX_OPEN}
    root = _root().name
    setter_cache: dict[str, dict] = {}
    for exp_id in sorted(by_exp):
        r = info.get(exp_id)
        preset = recipe_for(cfg, r.filter if r else None)
        row = FixPlanRow(exp_id=exp_id, exp_name=r.exp_name if r else None,
                         filter=r.filter if r else None, preset=preset, broken=by_exp[exp_id])
        if preset:
            if preset not in setter_cache:
                setter_cache[preset] = _setters_for(cfg, preset, fix_date)
            row.setters = setter_cache[preset]
        mine = fixes_of.get(exp_id, [])
        listed = {b for f in mine for b in f["broken"]}
        # a replacement that is itself being processed is not a broken original of its own fix
        new = [b for b in row.broken
               if not (b.stage == root and b.run_id in open_repl)
               and ((b.stage, b.run_id) not in listed if b.run_id is not None else not mine)]
        opened = [f for f in mine if f["state"] == FIX_OPEN]
        if not new:
            f = (opened or mine or [None])[-1]
            if f is None:  # only the replacement itself is broken while it is processed
                row.action, row.note = "skip", "the broken run is an open fix's replacement"
            else:
                row.action, row.chip_id = "exists", f["chip_id"]
                row.fix_ids = sorted({x["fix_id"] for x in mine})
                row.note = f"fix already {f['state']}"
                row.preset = f["preset"] or row.preset
                row.setters = dict(row.setters, label=f["label"], data_group=f["data_group"],
                                   workdir=f["workdir"], reduction=f["reduction"])
        elif r is None:
            row.action, row.note = "skip", "exposure not found"
        elif r.fault:
            row.action, row.note = "skip", f"rawExp fault {r.fault}: the raw exposure is not usable"
        elif opened:
            f = opened[-1]
            row.action, row.chip_id = "pair", f["chip_id"]
            row.note = f"reuses replacement chip {f['chip_id']} of an open fix"
            row.broken = new
            row.preset = f["preset"] or row.preset
            row.setters = dict(row.setters, label=f["label"], data_group=f["data_group"],
                               workdir=f["workdir"], reduction=f["reduction"])
            row.fix_ids = [f["fix_id"]]
        elif not preset:
            row.action = "skip"
            row.note = f"no recipe for filter {r.filter!r} (config [fixbroken])"
        else:
            row.broken = new
        if row.action in ("define", "pair"):
            prior = next((f["broken"] for f in mine if f["chip_id"] == row.chip_id), [])
            note = fix_note(FIX_OPEN, row.preset, prior + [(b.stage, b.run_id) for b in row.broken
                                                          if b.run_id is not None])
            if len(note) > NOTE_MAX:
                row.action = "skip"
                row.note = (f"{len(row.broken)} broken runs do not fit in one chipRun.note "
                            f"({NOTE_MAX} characters); fix them with fewer --chip-id/--warp-id/--diff-id")
        result.rows.append(row)
    return result


def fix(dbs: Databases, cfg: Config, sel: Selection | None = None, *,
        fix_date: str | date | None = None, dry_run: bool = False,
        confirm: Callable[[FixResult], bool] | None = None,
        progress: Callable[[str, int, int | None], None] | None = None) -> FixResult:
    """Plan the fixes, confirm once, then (planned again under the write lock, in
    one transaction with its audit record) define the replacement chip runs
    with their fix note and write the broken runs they replace into that note.
    *progress(what, done, total)* follows the exposures defined."""

    def plan(conn) -> FixResult:
        return _plan_fixes(dbs, conn, cfg, sel, fix_date=fix_date)

    def apply(conn, result: FixResult) -> tuple[int, dict]:
        todo = result.to_record
        defined, details = _define_replacements(conn, result, progress)
        changed, recorded = _record_pairings(conn, todo)
        mine = {id(r) for r in recorded}
        for r in result.rows:
            if r.action == "pair" and id(r) in mine:
                r.action = "paired"
        return defined + len(changed), {
            "definitions": details,
            "fixes": [{"exp_name": r.exp_name, "chip_id": r.chip_id, "preset": r.preset,
                       "broken": [b.describe() for b in r.broken]} for r in recorded]}

    return execute(dbs, "fixbroken", plan, apply, dry_run=dry_run, confirm=confirm)


def _define_replacements(conn, result: FixResult, progress) -> tuple[int, list[dict]]:
    """Define the replacement chip runs of the 'define' rows (one definition per
    preset, in this transaction), marked with the fix note: (rows written, the
    definitions' audit details). A row whose exposure already has a run with
    the preset's label adopts it."""
    from mopstool.ops.runs.define import DefineSelection, DefineSetters, define_writer

    by_preset: dict[str, list[FixPlanRow]] = {}
    for r in result.to_define:
        by_preset.setdefault(r.preset, []).append(r)
    ndefine, done, written, details = sum(len(rows) for rows in by_preset.values()), 0, 0, []
    root = _root()
    for preset, rows in by_preset.items():
        if progress is not None:
            progress("defining replacement runs (exposures)", done, ndefine)
        done += len(rows)
        values = {k: (v if v is not None else "NULL") for k, v in rows[0].setters.items()}
        values["note"] = fix_note(FIX_OPEN, preset, [])
        setters = DefineSetters(**values)
        selection = DefineSelection(exp_ids=[r.exp_id for r in rows], exp_type=None, unique=True)
        plan, apply = define_writer(selection, setters, stage=root.name,
                                    audit_detail={"preset": preset}, progress=progress)
        try:
            res = plan(conn)
        except NotFound as exc:
            for r in rows:
                r.action, r.note = "skip", str(exc)
            continue
        if res.total:
            n, detail = apply(conn, res)
            written += n
            details.append(detail)
        made = {int(x["exp_id"]): x[root.id_col] for x in res.runs}
        existing = {int(x["exp_id"]): x.get("existing") for x in res.skipped}
        unmatched = {x.get("exp_id"): x.get("reason") for x in res.unmatched}
        for r in rows:
            broken_chips = {b.run_id for b in r.broken if b.stage == root.name}
            if r.exp_id in made:
                r.chip_id, r.action = int(made[r.exp_id]), "defined"
            elif existing.get(r.exp_id) and int(existing[r.exp_id]) not in broken_chips:
                r.chip_id, r.action = int(existing[r.exp_id]), "adopted"
                r.note = f"chip run {r.chip_id} with label {setters.label} already existed"
            elif existing.get(r.exp_id):
                r.action = "skip"
                r.note = (f"the chip run with label {setters.label} is itself broken; "
                          "give another label in the preset")
            else:
                r.action, r.note = "skip", unmatched.get(r.exp_id) or "not defined"
    if progress is not None and ndefine:
        progress("defining replacement runs (exposures)", ndefine, ndefine)
    return written, details


def _record_pairings(conn, rows: list[FixPlanRow]) -> tuple[dict[int, str], list[FixPlanRow]]:
    """Write the broken runs into the replacements' fix notes: ({chip_id: new
    note} changed, the rows recorded)."""
    to_record = [r for r in rows if r.chip_id is not None and r.action in ("defined", "adopted", "pair")]
    if not to_record:
        return {}, []
    cr = _root_run()
    idc = cr.c[_root().id_col]
    ids = sorted({r.chip_id for r in to_record})
    current = {int(c): n for c, n in conn.execute(select(idc, cr.c.note).where(idc.in_(ids)))}
    notes: dict[int, str] = {}
    for r in to_record:
        note = notes.get(r.chip_id, current.get(r.chip_id))
        parsed = parse_fix_note(note)
        if note and parsed is None:
            r.action = "skip"
            r.note = f"chip run {r.chip_id} has a note of its own ({note!r}); not adopted"
            continue
        prior = parsed["broken"] if parsed else []
        preset = (parsed or {}).get("preset") or r.preset
        new = fix_note(FIX_OPEN, preset, prior + [(b.stage, b.run_id) for b in r.broken
                                                  if b.run_id is not None])
        if len(new) > NOTE_MAX:
            r.action, r.note = "skip", f"the broken runs do not fit in chipRun.note of {r.chip_id}"
            continue
        notes[r.chip_id] = new
        r.fix_ids = [r.chip_id]
    changed = {c: n for c, n in notes.items() if current.get(c) != n}
    if changed:
        conn.execute(update(cr).where(idc.in_(sorted(changed)))
                     .values(note=case(changed, value=idc, else_=cr.c.note)))
    return changed, [r for r in to_record if r.action != "skip"]


# ---------------------------------------------------------------------- status / finish

def _progress(chain: dict[str, Any] | None) -> tuple[str, bool]:
    """(human progress, replacement warps all full)."""
    root, end = _root().name, _end().name
    if not chain or chain.get("chip_state") is None:
        return f"replacement {root} run missing", False
    warps = chain["warps"]
    if warps:
        states = sorted({s for _, s in warps})
        if states == [State.FULL]:
            return f"{end} full: ready for fixbroken finish", True
        return f"{end} " + "/".join(states), False
    nxt = _next_stage(_root())
    if chain["cam_state"] and nxt is not None:
        return f"{root} {chain['chip_state']}, {nxt.name} {chain['cam_state']}", False
    return f"{root} {chain['chip_state']}", False


def _broken_text(broken: list[tuple[str, int]]) -> str:
    return " ".join(f"{s} {i}" for s, i in broken) or "exposure"


def fix_status(dbs: Databases, cfg: Config, *, open_only: bool = False,
               limit: int | None = None) -> list[dict[str, Any]]:
    """Every recorded fix (newest first) with the progress of its replacement chain."""
    with dbs.connect() as conn:
        fixes = recorded_fixes(conn, cfg, open_only=open_only)
        fixes.sort(key=lambda f: f["fix_id"], reverse=True)
        if limit:
            fixes = fixes[:limit]
        chains = chain_states(conn, [f["chip_id"] for f in fixes if f["state"] == FIX_OPEN])
    rows = []
    for f in fixes:
        chain = chains.get(f["chip_id"]) if f["state"] == FIX_OPEN else None
        progress = "finished: original sent to cleanup" if f["state"] == FIX_FINISHED else _progress(chain)[0]
        warps = chain["warps"] if chain else []
        first = f["broken"][0] if f["broken"] else ("exposure", None)
        rows.append({
            "fix_id": f["fix_id"], "state": f["state"], "stage": first[0], "broken_id": first[1],
            "broken": _broken_text(f["broken"]), "exp_name": f["exp_name"], "filter": f["filter"],
            "preset": f["preset"], "label": f["label"], "chip_id": f["chip_id"],
            "chip_state": chain["chip_state"] if chain else f["chip_run_state"],
            "warp_id": warps[0][0] if warps else None,
            "warp_state": "/".join(sorted({s for _, s in warps})) if warps else None,
            "progress": progress,
        })
    return rows


def _originals(conn, broken: Iterable[tuple[str, int]]) -> dict[str, set[int]]:
    """The runs to retire for these broken runs: {stage: ids}. A broken run of
    the replacement chain takes its whole chain with it (the chip run and every
    warp run of it); a run of another stage (a diff) only itself."""
    out: dict[str, set[int]] = {s: set() for s in broken_stages()}
    for stage, rid in broken:
        out.setdefault(stage, set()).add(int(rid))
    root, chain = _root().name, chain_stages()
    for stage in chain[1:]:
        out[root] |= {int(r) for _, r in _along(conn, stage, root, out[stage])}
    for stage in chain[1:]:
        out[stage] |= {int(e) for _, e in _along(conn, root, stage, out[root])}
    return out


def protected_runs(conn, cfg: Config) -> dict[str, set[int]]:
    """Runs cleanup must leave alone while a fix is open: the broken originals
    (until --finish) and the replacement chains."""
    fixes = recorded_fixes(conn, cfg, open_only=True)
    if not fixes:
        return {}
    out = _originals(conn, [b for f in fixes for b in f["broken"]])
    repl = [f["chip_id"] for f in fixes]
    root = _root().name
    out[root] |= set(repl)
    for stage in chain_stages()[1:]:
        out[stage] |= {int(e) for _, e in _along(conn, root, stage, repl)}
    return out


@dataclass
class FinishResult:
    rows: list[dict[str, Any]] = field(default_factory=list)
    retired: dict[str, list[int]] = field(default_factory=dict)
    dry_run: bool = False
    applied: bool = False
    notes: list[str] = field(default_factory=list)
    #: the fixes ready to be marked done: {replacement chip_id: its new note}
    done: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.retired.values()) + len(self.done)

    def keys(self) -> frozenset:
        """The runs the finish retires and the fixes it marks done."""
        return frozenset([(s, i) for s, ids in self.retired.items() for i in ids]
                         + [("fix", c) for c in self.done])


def finish_fixes(dbs: Databases, cfg: Config, *, dry_run: bool = False,
                 confirm: Callable[[FinishResult], bool] | None = None) -> FinishResult:
    """Retire the broken originals whose replacements' warps are all full.

    A broken original listed by several open fixes (a diff whose input and
    template are both reprocessed) waits for all of them; a fix is marked done
    once every original it lists is retired. Planned, confirmed once, planned
    again under the write lock and applied in one transaction: the runs go to
    goto_cleaned with label goto_cleaned and the replacements' notes say done.
    Finished fixes are never touched again."""
    set_label = cfg.get("cleanup.set_label", RETIRE_STATE) or RETIRE_STATE

    def plan(conn) -> FinishResult:
        out = FinishResult(dry_run=dry_run)
        fixes = recorded_fixes(conn, cfg, open_only=True)
        chains = chain_states(conn, [f["chip_id"] for f in fixes])
        progress = {f["fix_id"]: _progress(chains.get(f["chip_id"])) for f in fixes}
        listing: dict[tuple[str, int], list[int]] = {}
        for f in fixes:
            for b in f["broken"]:
                listing.setdefault(b, []).append(f["fix_id"])
        retire_ok = {b: all(progress[i][1] for i in ids) for b, ids in listing.items()}
        ready = [f for f in fixes if progress[f["fix_id"]][1] and all(retire_ok[b] for b in f["broken"])]
        ready_ids = {f["fix_id"] for f in ready}
        for f in fixes:
            first = f["broken"][0] if f["broken"] else ("exposure", None)
            out.rows.append({"fix_id": f["fix_id"], "stage": first[0], "broken_id": first[1],
                             "broken": _broken_text(f["broken"]), "exp_name": f["exp_name"],
                             "chip_id": f["chip_id"], "progress": progress[f["fix_id"]][0],
                             "action": ("finish" if dry_run else "finished") if f["fix_id"] in ready_ids
                             else "wait"})
        if ready:
            broken = sorted({b for f in ready for b in f["broken"]})
            out.retired = {k: v for k, v in _not_retired(conn, _originals(conn, broken)).items() if v}
            out.done = {f["chip_id"]: fix_note(FIX_FINISHED, f["preset"], f["broken"]) for f in ready}
        return out

    def apply(conn, fresh: FinishResult) -> tuple[int, dict]:
        total = 0
        for stage, ids in fresh.retired.items():
            t, col, state_col = _run_columns(stage)
            total += conn.execute(t.update().where(col.in_(ids))
                                  .values({state_col.name: RETIRE_STATE, "label": set_label})).rowcount
        cr = _root_run()
        idc = cr.c[_root().id_col]
        open_like = cr.c.note.like(f"{NOTE_PREFIX} {_NOTE_WORD[FIX_OPEN]}%")
        conn.execute(update(cr).where(idc.in_(sorted(fresh.done)), open_like)
                     .values(note=case(fresh.done, value=idc, else_=cr.c.note)))
        return total + len(fresh.done), {"fixes": sorted(fresh.done), "retired": fresh.retired,
                                         "set_state": RETIRE_STATE, "set_label": set_label}

    return execute(dbs, "fixbroken.finish", plan, apply, dry_run=dry_run, confirm=confirm)


def _run_columns(stage: str):
    """(run table, id column, state column) of a stage."""
    sd = STAGES[stage]
    t = schema.table(sd.run_table)
    return t, t.c[sd.id_col], t.c[sd.state_col]


def _not_retired(conn, originals: dict[str, set[int]]) -> dict[str, list[int]]:
    """The runs among *originals* not retired yet: {stage: sorted ids}."""
    found = {}
    retired = [str(x) for x in _RETIRED_STATES]
    for stage, ids in originals.items():
        t, col, state_col = _run_columns(stage)
        found[stage] = sorted(int(x) for x in conn.execute(
            select(col).where(col.in_(sorted(ids)), state_col.notin_(retired))).scalars()) if ids else []
    return found
