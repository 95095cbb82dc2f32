"""Retention cleanup: move old ``full`` runs to ``goto_cleaned``.

The policy (config ``[retention]``) gives, per stage and survey target, how many
days a night's products stay on disk. A run of night N is eligible for stage S
when N <= as_of - retention_days(S, target). Unlike nightly_science
``--clean_old``, which cleans exactly one date per day and never catches up a
missed day, every older night that is still uncleaned is found and cleaned.

Scope: only runs whose label is a configured target's nightly label
(``[survey] label`` / ``ws_label``, e.g. ``OSS.nightlyscience``,
``FSS.WS.nightlyscience``) and ``ps_ud_%`` stamp-update runs. Nothing else in
the database is ever touched.

A run is held back (never touched) when

* it is not in state ``full`` (new, reg, update, goto_*, cleaned, drop...);
* a stamp dependent in a state other than ``full`` references it (the stamp
  server is still waiting for it);
* a downstream run that reads its pixels is still being processed (a chip run
  whose cam/fake/warp run, a warp run whose diff or stack run is new/reg/update);
* a diff whose publishRun is still new/pending (the publisher reads its files);
* an open ``mopstool fixbroken`` fix still needs it (the broken original until
  its replacement's warps are full, and the replacement chain itself).

The job follows the write protocol for bulk jobs
(:func:`mopstool.ops.writes.execute_batches`): one plan and one confirmation
for the whole job, then bounded batches. Each batch is one transaction under
the write lock that plans its own slice again (runs that are no longer
``full``, left the scope or became held since the plan are skipped and
reported), sets state and label together for up to ``[cleanup] batch_size``
runs and records an audit row. An interrupted run leaves every run either
changed or untouched; running the command again picks up what is left,
because eligibility is recomputed from the run states.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import func, or_, select, union

from mopstool.config import Config, expand_template
from mopstool.db import Databases, schema
from mopstool.errors import ConfigError, UsageError
from mopstool.ops.writes import execute_batches
from mopstool.stages import (CLEANUP_PENDING_STATES, ERROR_CLEANUP_STATES, STAGES,
                             State, stage_order, stages_that)
from mopstool.stages.joins import downstream_readers, exposure_join, stamp_dependents_waiting
from mopstool.util import chunks

PS_UPDATE_RULE = "ps_update"
CLEAN_STATE = State.GOTO_CLEANED
#: the cleanup states --status counts (runs on their way through the IPP's
#: cleanup task, small sets): the first two are shown even when zero
STATUS_STATES = (State.GOTO_CLEANED, State.ERROR_CLEANED, State.GOTO_PURGED, State.ERROR_PURGED,
                 State.GOTO_SCRUBBED, State.ERROR_SCRUBBED)
_ALWAYS_SHOWN = (State.GOTO_CLEANED, State.ERROR_CLEANED)
_IN_CHUNK = 1000


def cleanup_stages() -> tuple[str, ...]:
    """The stages retention cleanup works on (the registry's "cleanup" capability)."""
    return stages_that("cleanup")


def ps_update_stages() -> tuple[str, ...]:
    """Cleanup stages whose runs stamp updates regenerate (ps_ud_% runs:
    pstamp_queue_update_cleanup), i.e. those ``setupdate`` applies to."""
    return tuple(s for s in stages_that("setupdate") if s in cleanup_stages())


@dataclass(frozen=True)
class Rule:
    """Runs of *stage* labelled *labels* (exact, or LIKE patterns) are kept
    *days* days after their night."""

    stage: str
    name: str              # survey target, or "ps_update"
    labels: tuple[str, ...]
    like: bool
    days: int
    as_of: date
    #: data_group templates of the rule's runs ({yyyymmdd} is the night), target filled in
    data_groups: tuple[str, ...] = ()

    @property
    def last_night(self) -> date:
        """The newest night that is old enough to be cleaned."""
        return self.as_of - timedelta(days=self.days)

    @property
    def cutoff(self) -> datetime:
        """Exposures taken before this instant (UTC) belong to eligible nights."""
        n = self.last_night + timedelta(days=1)
        return datetime(n.year, n.month, n.day)

    def label_condition(self, column):
        if self.like:
            return or_(*[column.like(p) for p in self.labels])
        return column.in_(list(self.labels))

    def matches(self, label: str | None) -> bool:
        if label is None:
            return False
        if not self.like:
            return label in self.labels or label.lower() in {x.lower() for x in self.labels}
        return any(_like_regex(p).fullmatch(label) for p in self.labels)

    def night_of_data_group(self, data_group: str | None) -> date | None:
        """The night a data_group of the rule's templates names (None: not one of them)."""
        if not data_group:
            return None
        for rx in _data_group_regexes(self.data_groups):
            m = rx.fullmatch(data_group)
            if m:
                try:
                    return datetime.strptime(m.group("night"), "%Y%m%d").date()
                except ValueError:
                    return None
        return None


def _like_regex(pattern: str) -> re.Pattern:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


_NIGHT_FIELDS = {"yyyymmdd": "(?P<night>[0-9]{8})", "date": "(?P<night>[0-9]{8})"}


def _data_group_regexes(templates: tuple[str, ...]) -> list[re.Pattern]:
    """Regexes of data_group templates whose only field is the night ({yyyymmdd})."""
    out = []
    for tpl in templates:
        parts = re.split(r"(\{[^}]*\})", tpl)
        fields = [p[1:-1] for p in parts if p.startswith("{") and p.endswith("}")]
        if len(fields) != 1 or fields[0] not in _NIGHT_FIELDS:
            continue
        out.append(re.compile("".join(_NIGHT_FIELDS[p[1:-1]] if p.startswith("{") and p.endswith("}")
                                      else re.escape(p) for p in parts)))
    return out


def cleanup_rules(cfg: Config, as_of: date, *, stages: Iterable[str] | None = None,
                  targets: Iterable[str] | None = None) -> list[Rule]:
    """The retention rules of the config (rules with retention <= 0 are left out)."""
    known_stages = cleanup_stages()
    stages = tuple(stages or known_stages)
    for s in stages:
        if s not in known_stages:
            raise UsageError(f"cleanup does not apply to stage {s!r}; choose from {', '.join(known_stages)}")
    all_targets = cfg.targets()
    wanted = None
    if targets:
        wanted = set()
        known = {t.lower(): t for t in all_targets}
        for t in targets:
            if t.lower() in (PS_UPDATE_RULE, "ps_ud"):
                wanted.add(PS_UPDATE_RULE)
            elif t.lower() in known:
                wanted.add(known[t.lower()])
            else:
                raise UsageError(f"unknown target {t!r}; configured: "
                                 f"{', '.join(list(all_targets) + [PS_UPDATE_RULE])}")
    label_tpl = cfg.get("survey.label", "{target}.nightlyscience")
    ws_tpl = cfg.get("survey.ws_label", "{target}.WS.nightlyscience")
    dg_tpl = cfg.get("survey.data_group", "{target}.{yyyymmdd}")
    ws_dg_tpl = cfg.get("survey.ws_data_group", "{target}.WS.{yyyymmdd}")
    ps_stages = ps_update_stages()
    rules: list[Rule] = []
    for stage in stages:
        warpstack = STAGES[stage].can("warpstack")
        for name, tcfg in all_targets.items():
            if wanted is not None and name not in wanted:
                continue
            if tcfg.get("noclean"):
                continue
            days = cfg.retention_days(stage, name)
            if days <= 0:
                continue
            labels = [expand_template(label_tpl, target=name)]
            groups = [expand_template(dg_tpl, target=name)] if dg_tpl else []
            if warpstack and ws_tpl:
                labels.append(expand_template(ws_tpl, target=name))
                if ws_dg_tpl:
                    groups.append(expand_template(ws_dg_tpl, target=name))
            rules.append(Rule(stage, name, tuple(labels), False, days, as_of, tuple(groups)))
        if stage in ps_stages and (wanted is None or PS_UPDATE_RULE in wanted):
            days = int(cfg.get("retention.ps_update", 0) or 0)
            pattern = cfg.get("retention.ps_update_label", "ps_ud_%") or "ps_ud_%"
            patterns = tuple(pattern) if isinstance(pattern, list) else (pattern,)
            if days > 0:
                rules.append(Rule(stage, PS_UPDATE_RULE, patterns, True, days, as_of))
    return rules


# ---------------------------------------------------------------------- reading

def _night_of(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


def run_nights(conn, stage_name: str, groups: dict[int, str | None],
               rules: list[Rule]) -> dict[int, date | None]:
    """The night of each run ({run id: its data_group}).

    A one-run-per-exposure stage: its exposure's UTC date, by primary keys along
    the exposure path. Another stage (a diff): the night its data_group names
    when that follows a rule's data_group template (the IPP's nightly science
    writes the night there), else the date of its first input exposure."""
    stage = STAGES[stage_name]
    out: dict[int, date | None] = {}
    rest = list(groups)
    if not stage.flat_exposure:
        rest = []
        for rid, dg in groups.items():
            night = next((n for n in (r.night_of_data_group(dg) for r in rules) if n), None)
            if night is None:
                rest.append(rid)
            else:
                out[rid] = night
    if rest:
        run, raw = schema.table(stage.run_table), schema.rawExp
        idc = run.c[stage.id_col]
        for chunk in chunks(sorted(rest), _IN_CHUNK):
            q = (select(idc, func.min(raw.c.dateobs)).select_from(exposure_join(stage))
                 .where(idc.in_(chunk)).group_by(idc))
            out.update({int(rid): _night_of(d) for rid, d in conn.execute(q)})
    return out


@dataclass
class Candidate:
    stage: str
    run_id: int
    label: str
    night: date
    rule: Rule


def find_candidates(conn, stage_name: str, rules: list[Rule], *,
                    states: tuple[str, ...] = (State.FULL,)) -> list[Candidate]:
    """Runs of one stage in *states* whose label and night fall under one of *rules*.

    The run table is entered by its label index (the rules' labels: runs the
    IPP or mopstool sent to cleanup carry the label goto_cleaned, so these are
    the runs not cleaned yet, whatever the history); the nights come from
    :func:`run_nights` for those runs only."""
    rules = [r for r in rules if r.stage == stage_name]
    if not rules:
        return []
    stage = STAGES[stage_name]
    run = schema.table(stage.run_table)
    idc = run.c[stage.id_col]
    state_col = run.c[stage.state_col]
    dg = run.c.data_group if "data_group" in stage.run_columns else None
    in_state = state_col.in_([str(s) for s in states]) if len(states) > 1 else state_col == states[0]
    # one SELECT per label term, so that each is a range on the label index
    # (ORed with the LIKE, MariaDB prefers the state index and reads every
    # full run of any label); a UNION removes a run two terms both match
    parts = [select(idc, run.c.label, dg if dg is not None else idc).where(in_state, term)
             for term in scope_terms(run, rules)]
    q = union(*parts) if len(parts) > 1 else parts[0]
    rows = [(int(rid), label, g if dg is not None else None) for rid, label, g in conn.execute(q)]
    nights = run_nights(conn, stage_name, {rid: g for rid, _, g in rows}, rules)
    out = []
    for rid, label, _ in rows:
        night = nights.get(rid)
        if night is None:
            continue
        for r in rules:
            if r.matches(label) and night <= r.last_night:
                out.append(Candidate(stage_name, rid, label, night, r))
                break
    out.sort(key=lambda c: (c.night, c.run_id))
    return out


def scope_terms(run, rules: list[Rule]) -> list:
    """The labels of the rules as run-table conditions, each a range on the
    label index: label IN (the exact labels), label LIKE 'ps_ud_%'."""
    exact = sorted({lab for r in rules if not r.like for lab in r.labels})
    likes = sorted({p for r in rules if r.like for p in r.labels})
    return ([run.c.label.in_(exact)] if exact else []) + [run.c.label.like(p) for p in likes]


def scope_condition(run, rules: list[Rule]):
    """All labels of the rules as one run-table condition (the terms ORed)."""
    return or_(*scope_terms(run, rules))


def fix_protected(conn, cfg: Config) -> dict[str, set[int]]:
    """Runs open fixbroken fixes still need: {stage: {run ids}}."""
    from mopstool.ops.disk.fixbroken import protected_runs

    return protected_runs(conn, cfg)


def _held_reasons(conn, pconn, stage_name: str, ids: list[int],
                  protected: dict[str, set[int]]) -> dict[int, str]:
    held: dict[int, str] = {}
    for rid in ids:
        if rid in protected.get(stage_name, ()):
            held[rid] = "needed by an open fixbroken fix"
    rest = [i for i in ids if i not in held]
    if rest:
        for rid in stamp_dependents_waiting(pconn, stage_name, rest, size=_IN_CHUNK):
            held[rid] = "stamp dependent outstanding"
    rest = [i for i in rest if i not in held]
    if rest:
        for rid, child in downstream_readers(conn, stage_name, rest, size=_IN_CHUNK).items():
            held[rid] = child.reading_note
    return held


# ---------------------------------------------------------------------- plan and apply

@dataclass
class CleanupPlan:
    as_of: date
    rules: list[Rule]
    batch_size: int
    set_label: str
    dry_run: bool = False
    #: eligible candidates per stage, in batch order
    eligible: dict[str, list[Candidate]] = field(default_factory=dict)
    held: list[dict[str, Any]] = field(default_factory=list)
    changed: dict[tuple[str, int], bool] = field(default_factory=dict)
    batches_done: int = 0
    applied: bool = False
    #: the configuration the plan was made with (each batch re-checks the fixbroken holds with it)
    config: Config | None = None
    notes: list[str] = field(default_factory=list)
    #: planned runs a batch left alone because they changed since the plan: {stage, id, reason}
    skipped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.eligible.values())

    def keys(self) -> frozenset:
        """(stage, run id) of every run the plan moves."""
        return frozenset((s, c.run_id) for s, cands in self.eligible.items() for c in cands)

    @property
    def total_changed(self) -> int:
        return len(self.changed)

    @property
    def batches_planned(self) -> int:
        return sum(-(-len(v) // self.batch_size) for v in self.eligible.values())

    def groups(self) -> list[dict[str, Any]]:
        """Rows per stage, night and label: runs that would change / changed / held."""
        rows: dict[tuple, dict[str, Any]] = {}
        order = stage_order()

        def row(stage, night, target, label, days):
            key = (order[stage], night, target, label)
            if key not in rows:
                rows[key] = {"stage": stage, "night": night, "target": target, "label": label,
                             "retention_days": days, "runs": 0, "held": 0}
                if self.applied:
                    rows[key]["changed"] = 0
            return rows[key]

        for stage, cands in self.eligible.items():
            for c in cands:
                r = row(stage, c.night, c.rule.name, c.label, c.rule.days)
                r["runs"] += 1
                if self.applied and (stage, c.run_id) in self.changed:
                    r["changed"] += 1
        for h in self.held:
            row(h["stage"], h["night"], h["target"], h["label"], h["retention_days"])["held"] += 1
        return [rows[k] for k in sorted(rows)]

    def to_dict(self) -> dict[str, Any]:
        return {"as_of": self.as_of, "dry_run": self.dry_run, "applied": self.applied,
                "runs": self.total, "changed": self.total_changed,
                "batches": self.batches_done, "groups": self.groups(), "held": self.held,
                "skipped": self.skipped}


@dataclass
class CleanupBatch:
    """One batch of a cleanup job: up to batch_size runs of one stage. The
    slice of the confirmed plan, and (planned again under the lock) the runs
    still to move and those skipped with the reason."""

    stage: str
    number: int
    candidates: list[Candidate]
    #: the job's retention rules (a run still in scope matches one of its stage's)
    rules: list[Rule]
    todo: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False

    @property
    def total(self) -> int:
        return len(self.todo)

    @property
    def rows(self) -> dict[str, int]:
        return {STAGES[self.stage].run_table: len(self.todo)}

    def keys(self) -> frozenset:
        return frozenset((self.stage, i) for i in self.todo)


def plan_cleanup(dbs: Databases, cfg: Config, *, as_of: date, stages: Iterable[str] | None = None,
                 targets: Iterable[str] | None = None, batch_size: int | None = None,
                 dry_run: bool = False) -> CleanupPlan:
    """Read-only: the runs cleanup would move, per stage, and those held back."""
    planner = _planner(dbs, cfg, as_of=as_of, stages=stages, targets=targets, batch_size=batch_size,
                       dry_run=dry_run)
    with dbs.connect() as conn:
        return planner(conn)


def _planner(dbs: Databases, cfg: Config, *, as_of: date, stages: Iterable[str] | None,
             targets: Iterable[str] | None, batch_size: int | None,
             dry_run: bool) -> Callable[[Any], CleanupPlan]:
    """The plan of a cleanup job as a function of a connection (options checked first)."""
    rules = cleanup_rules(cfg, as_of, stages=stages, targets=targets)
    size = batch_size if batch_size is not None else cfg.get("cleanup.batch_size", 500)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        if batch_size is not None:
            raise UsageError(f"--batch-size must be a whole number of runs, at least 1, not {size!r}")
        raise ConfigError(f"[cleanup] batch_size must be a whole number of runs, at least 1, not {size!r}")
    set_label = cfg.get("cleanup.set_label", CLEAN_STATE) or CLEAN_STATE

    def plan(conn) -> CleanupPlan:
        out = CleanupPlan(as_of=as_of, rules=rules, batch_size=size, set_label=set_label,
                          dry_run=dry_run, config=cfg)
        protected = fix_protected(conn, cfg)
        with _pstamp_conn(dbs, conn) as pconn:
            for stage_name in cleanup_stages():
                cands = find_candidates(conn, stage_name, rules)
                if not cands:
                    continue
                held = _held_reasons(conn, pconn, stage_name, [c.run_id for c in cands], protected)
                out.eligible[stage_name] = [c for c in cands if c.run_id not in held]
                out.held += [{"stage": stage_name, "id": c.run_id, "label": c.label,
                              "night": c.night, "target": c.rule.name,
                              "retention_days": c.rule.days, "reason": held[c.run_id]}
                             for c in cands if c.run_id in held]
        return out

    return plan


class _pstamp_conn:
    """The stamp database connection (the gpc1 one when both are the same database)."""

    def __init__(self, dbs: Databases, conn):
        self.dbs, self.conn, self._cm = dbs, conn, None

    def __enter__(self):
        if self.dbs.same:
            return self.conn
        self._cm = self.dbs.connect(pstamp_db=True)
        return self._cm.__enter__()

    def __exit__(self, *exc):
        if self._cm is not None:
            return self._cm.__exit__(*exc)
        return False


BatchHook = Callable[[str, int, list[int]], None]
#: the progress callback of long work: (what, done, total)
ProgressHook = Callable[[str, int, "int | None"], None]


def cleanup(dbs: Databases, cfg: Config, *, as_of: date, stages: Iterable[str] | None = None,
            targets: Iterable[str] | None = None, batch_size: int | None = None,
            dry_run: bool = False, confirm: Callable[[CleanupPlan], bool] | None = None,
            progress: ProgressHook | None = None, batch_hook: BatchHook | None = None,
            lock_timeout: float | None = None) -> CleanupPlan:
    """Plan the job, confirm it once (*confirm* sees the whole plan), then move
    its runs to goto_cleaned in bounded batches.

    Each batch is one transaction under the write lock: its runs are planned
    again (still 'full', label still in scope, no stamp dependent outstanding,
    no downstream processing, no open fix needing them) and locked, then state
    and label change together and an audit row is written. Runs that changed
    since the plan are skipped (``plan.skipped``, with the reason).
    *batch_hook(stage, batch_number, ids)* runs inside the transaction after the
    update (tests use it to interrupt a batch); *progress("cleanup", done,
    total)* after each commit."""
    plan = _planner(dbs, cfg, as_of=as_of, stages=stages, targets=targets, batch_size=batch_size,
                    dry_run=dry_run)
    progressed = [0]

    def batches(shown: CleanupPlan) -> list[CleanupBatch]:
        out: list[CleanupBatch] = []
        for stage_name in cleanup_stages():
            for chunk in chunks(shown.eligible.get(stage_name) or [], shown.batch_size):
                out.append(CleanupBatch(stage_name, len(out) + 1, chunk, shown.rules,
                                        todo=[c.run_id for c in chunk]))
        return out

    def batch_plan(conn, part: CleanupBatch) -> CleanupBatch:
        stage = STAGES[part.stage]
        run = schema.table(stage.run_table)
        idc, state_col = run.c[stage.id_col], run.c[stage.state_col]
        label_cond = or_(*[r.label_condition(run.c.label) for r in part.rules if r.stage == part.stage])
        ids = [c.run_id for c in part.candidates]
        lock_q = select(idc).where(idc.in_(ids), state_col == State.FULL, label_cond)
        if conn.dialect.name in ("mysql", "mariadb"):
            lock_q = lock_q.with_for_update()
        still = [int(x) for (x,) in conn.execute(lock_q)]
        with _pstamp_conn(dbs, conn) as pconn:
            held = _held_reasons(conn, pconn, part.stage, still, fix_protected(conn, cfg))
        fresh = CleanupBatch(part.stage, part.number, part.candidates, part.rules,
                             todo=[i for i in still if i not in held])
        present = set(still)
        fresh.skipped = {i: ("changed since the plan: no longer full or relabelled" if i not in present
                             else "changed since the plan: " + held[i])
                         for i in ids if i not in present or i in held}
        return fresh

    def apply(conn, fresh: CleanupBatch) -> tuple[int, dict]:
        stage = STAGES[fresh.stage]
        run = schema.table(stage.run_table)
        idc, state_col = run.c[stage.id_col], run.c[stage.state_col]
        set_label = cfg.get("cleanup.set_label", CLEAN_STATE) or CLEAN_STATE
        todo = fresh.todo
        n = conn.execute(run.update().where(idc.in_(todo), state_col == State.FULL)
                         .values({stage.state_col: CLEAN_STATE, "label": set_label})).rowcount
        if batch_hook is not None:
            batch_hook(fresh.stage, fresh.number, todo)
        mine = set(todo)
        nights = sorted({c.night for c in fresh.candidates if c.run_id in mine})
        return n, {"stage": fresh.stage, "batch": fresh.number, "as_of": as_of.isoformat(),
                   "ids": [min(todo), max(todo)], "runs": len(todo),
                   "nights": [d.isoformat() for d in nights], "set_state": CLEAN_STATE,
                   "set_label": set_label, "skipped": len(fresh.skipped)}

    def done(shown: CleanupPlan, part: CleanupBatch, fresh: CleanupBatch) -> None:
        if fresh.applied:
            for i in fresh.todo:
                shown.changed[(fresh.stage, i)] = True
        shown.skipped += [{"stage": fresh.stage, "id": i, "reason": why}
                          for i, why in sorted(fresh.skipped.items())]
        shown.batches_done = part.number
        progressed[0] += len(part.candidates)
        if progress is not None:
            progress("cleanup", progressed[0], shown.total)

    return execute_batches(dbs, "cleanup", plan, batches, batch_plan, apply, dry_run=dry_run,
                           confirm=confirm, done=done, lock_timeout=lock_timeout, done_words="runs moved")


# ---------------------------------------------------------------------- status

def cleanup_status(dbs: Databases, cfg: Config, *, as_of: date,
                   stages: Iterable[str] | None = None) -> dict[str, Any]:
    """Per stage: the runs on their way through the IPP's cleanup task
    (goto_* / error_*, counts and oldest night), the runs old enough for
    retention cleanup and not cleaned yet (eligible and held, with their oldest
    night), and the oldest uncleaned night of those.

    Every count comes from a small set: the goto_*/error_* runs (the state
    index; they leave it once the IPP's cleanup task has run) and the plan's
    candidates (the label index). Runs already cleaned, purged or scrubbed are
    not counted: their number is the whole history."""
    stages = tuple(stages or cleanup_stages())
    plan = plan_cleanup(dbs, cfg, as_of=as_of, stages=stages, dry_run=True)
    rows: list[dict[str, Any]] = []
    oldest_overall: date | None = None
    with dbs.connect() as conn:
        for stage_name in stages:
            stage = STAGES[stage_name]
            run = schema.table(stage.run_table)
            idc, state_col = run.c[stage.id_col], run.c[stage.state_col]
            dg = run.c.data_group if "data_group" in stage.run_columns else idc
            found = conn.execute(select(state_col, idc, dg).where(
                state_col.in_([str(s) for s in STATUS_STATES]))).all()
            nights = run_nights(conn, stage_name,
                                {int(rid): (g if dg is not idc else None) for _, rid, g in found},
                                [r for r in plan.rules if r.stage == stage_name] or plan.rules)
            counts: dict[str, int] = {}
            oldest: dict[str, date | None] = {}
            for st, rid, _ in found:
                counts[st] = counts.get(st, 0) + 1
                n = nights.get(int(rid))
                if n is not None and (oldest.get(st) is None or n < oldest[st]):
                    oldest[st] = n
            for s in STATUS_STATES:
                n = counts.get(s, 0)
                if n or s in _ALWAYS_SHOWN:
                    rows.append({"stage": stage_name, "state": s, "runs": n,
                                 "oldest_night": oldest.get(s),
                                 "note": _state_note(s, n)})
            cands = plan.eligible.get(stage_name, [])
            held = [h for h in plan.held if h["stage"] == stage_name]
            first = min([c.night for c in cands] + [h["night"] for h in held], default=None)
            if first and (oldest_overall is None or first < oldest_overall):
                oldest_overall = first
            rows.append({"stage": stage_name, "state": State.FULL, "runs": len(cands),
                         "oldest_night": min((c.night for c in cands), default=None),
                         "note": "older than retention: waiting for mopstool cleanup"})
            if held:
                reasons = sorted({h["reason"] for h in held})
                rows.append({"stage": stage_name, "state": State.FULL, "runs": len(held),
                             "oldest_night": min(h["night"] for h in held),
                             "note": "older than retention but held: " + "; ".join(reasons)})
    return {"as_of": as_of, "oldest_uncleaned_night": oldest_overall,
            "days_behind": (as_of - oldest_overall).days if oldest_overall else 0, "states": rows}


def _state_note(state: str, n: int) -> str:
    if state in CLEANUP_PENDING_STATES:
        return "waiting for the IPP cleanup task" if n else ""
    if state in ERROR_CLEANUP_STATES:
        return "cleanup failed: check logs, then revertcleanup" if n else ""
    return ""
