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

Writes go in bounded batches: each batch is one transaction under the write
lock that sets state and label together for up to ``[cleanup] batch_size`` runs
and records an audit row. An interrupted run leaves every run either changed or
untouched; running the command again picks up what is left, because
eligibility is recomputed from the run states.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import and_, func, or_, select

from mopstool.config import Config, expand_template
from mopstool.db import Databases, schema
from mopstool.errors import ConfigError, UsageError
from mopstool.ops.select import exposure_join
from mopstool.ops.writes import record_audit, write_transaction
from mopstool.stages import (ACTIVE_STATES, CLEANED_LIKE_STATES, CLEANUP_PENDING_STATES,
                             ERROR_CLEANUP_STATES, STAGES, Stage, State)

#: stages retention cleanup works on, in pipeline order
CLEAN_STAGES = ("chip", "cam", "warp", "diff")
#: stages of stamp-update runs (pstamp_queue_update_cleanup: chip, warp, diff)
PS_UPDATE_STAGES = ("chip", "warp", "diff")
PS_UPDATE_RULE = "ps_update"
CLEAN_STATE = "goto_cleaned"
#: the cleanup states --status reports (always shown even when zero: the first three)
STATUS_STATES = ("goto_cleaned", "cleaned", "error_cleaned", "goto_purged", "purged",
                 "error_purged", "goto_scrubbed", "scrubbed", "error_scrubbed")
_IN_CHUNK = 1000
#: seconds the write lock stays free between two cleanup batches
BATCH_GAP = 0.05


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


def _like_regex(pattern: str) -> re.Pattern:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def cleanup_rules(cfg: Config, as_of: date, *, stages: Iterable[str] | None = None,
                  targets: Iterable[str] | None = None) -> list[Rule]:
    """The retention rules of the config (rules with retention <= 0 are left out)."""
    stages = tuple(stages or CLEAN_STAGES)
    for s in stages:
        if s not in CLEAN_STAGES:
            raise UsageError(f"cleanup does not apply to stage {s!r}; choose from {', '.join(CLEAN_STAGES)}")
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
    rules: list[Rule] = []
    for stage in stages:
        for name, tcfg in all_targets.items():
            if wanted is not None and name not in wanted:
                continue
            if tcfg.get("noclean"):
                continue
            days = cfg.retention_days(stage, name)
            if days <= 0:
                continue
            labels = [expand_template(label_tpl, target=name)]
            if stage == "diff" and ws_tpl:
                labels.append(expand_template(ws_tpl, target=name))
            rules.append(Rule(stage, name, tuple(labels), False, days, as_of))
        if stage in PS_UPDATE_STAGES and (wanted is None or PS_UPDATE_RULE in wanted):
            days = int(cfg.get("retention.ps_update", 0) or 0)
            pattern = cfg.get("retention.ps_update_label", "ps_ud_%") or "ps_ud_%"
            patterns = tuple(pattern) if isinstance(pattern, list) else (pattern,)
            if days > 0:
                rules.append(Rule(stage, PS_UPDATE_RULE, patterns, True, days, as_of))
    return rules


# ---------------------------------------------------------------------- reading

def _chunks(seq: list, n: int) -> Iterable[list]:
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _night_of(value) -> date | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


@dataclass
class Candidate:
    stage: str
    run_id: int
    label: str
    night: date
    rule: Rule


def find_candidates(conn, stage_name: str, rules: list[Rule], *,
                    states: tuple[str, ...] = ("full",)) -> list[Candidate]:
    """Runs of one stage in *states* whose label and night fall under one of *rules*.

    One statement: the run table restricted by its indexed state and label
    columns, joined through primary keys up to rawExp for the night."""
    rules = [r for r in rules if r.stage == stage_name]
    if not rules:
        return []
    stage = STAGES[stage_name]
    run = schema.table(stage.run_table)
    raw = schema.rawExp
    idc = run.c[stage.id_col]
    conds = [and_(r.label_condition(run.c.label), raw.c.dateobs < r.cutoff) for r in rules]
    where = [run.c.state.in_(list(states)) if len(states) > 1 else run.c.state == states[0],
             scope_condition(run, rules), or_(*conds)]
    if stage_name == "diff":
        # several diffInputSkyfile rows per diff: one row per run, the input's exposure time
        q = (select(idc, run.c.label, func.min(raw.c.dateobs).label("dateobs"))
             .select_from(exposure_join(stage)).where(*where).group_by(idc, run.c.label))
    else:
        q = select(idc, run.c.label, raw.c.dateobs).select_from(exposure_join(stage)).where(*where)
    out = []
    for rid, label, dateobs in conn.execute(q):
        night = _night_of(dateobs)
        if night is None:
            continue
        for r in rules:
            if r.matches(label) and night <= r.last_night:
                out.append(Candidate(stage_name, int(rid), label, night, r))
                break
    out.sort(key=lambda c: (c.night, c.run_id))
    return out


def scope_condition(run, rules: list[Rule]):
    """All labels of the rules as one run-table condition (label IN (...) OR label
    LIKE 'ps_ud_%'), so the optimizer can range-scan the label index."""
    exact = sorted({lab for r in rules if not r.like for lab in r.labels})
    likes = sorted({p for r in rules if r.like for p in r.labels})
    parts = ([run.c.label.in_(exact)] if exact else []) + [run.c.label.like(p) for p in likes]
    return or_(*parts)


def pending_dependents(pconn, stage_name: str, ids: list[int]) -> set[int]:
    """Run ids with a stamp dependent that is not 'full' yet (the stamp server still needs them)."""
    if stage_name not in PS_UPDATE_STAGES or not ids:
        return set()
    dep = schema.table("pstampDependent", pstamp_db=True)
    found: set[int] = set()
    for chunk in _chunks(ids, _IN_CHUNK):
        q = select(dep.c.stage_id).where(dep.c.stage == stage_name, dep.c.stage_id.in_(chunk),
                                         dep.c.state != "full").distinct()
        found.update(int(x) for x in conn_scalars(pconn, q))
    return found


def conn_scalars(conn, q) -> list:
    return [row[0] for row in conn.execute(q)]


def active_downstream(conn, stage_name: str, ids: list[int]) -> set[int]:
    """Run ids whose downstream runs are still being processed (they read these pixels)."""
    if not ids:
        return set()
    active = list(ACTIVE_STATES)
    found: set[int] = set()
    cam, fake, warp = schema.camRun, schema.fakeRun, schema.warpRun
    dis, diff = schema.diffInputSkyfile, schema.diffRun
    sis, stack = schema.stackInputSkyfile, schema.stackRun
    for chunk in _chunks(ids, _IN_CHUNK):
        qs = []
        if stage_name == "chip":
            frm = cam.outerjoin(fake, fake.c.cam_id == cam.c.cam_id).outerjoin(
                warp, warp.c.fake_id == fake.c.fake_id)
            qs.append(select(cam.c.chip_id).select_from(frm).where(
                cam.c.chip_id.in_(chunk),
                or_(cam.c.state.in_(active), fake.c.state.in_(active), warp.c.state.in_(active))))
        elif stage_name == "cam":
            frm = fake.outerjoin(warp, warp.c.fake_id == fake.c.fake_id)
            qs.append(select(fake.c.cam_id).select_from(frm).where(
                fake.c.cam_id.in_(chunk), or_(fake.c.state.in_(active), warp.c.state.in_(active))))
        elif stage_name == "warp":
            for col in (dis.c.warp1, dis.c.warp2):
                qs.append(select(col).select_from(dis.join(diff, diff.c.diff_id == dis.c.diff_id))
                          .where(col.in_(chunk), diff.c.state.in_(active)))
            qs.append(select(sis.c.warp_id).select_from(sis.join(stack, stack.c.stack_id == sis.c.stack_id))
                      .where(sis.c.warp_id.in_(chunk), stack.c.state.in_(active)))
        for q in qs:
            found.update(int(x) for x in conn_scalars(conn, q.distinct()) if x is not None)
    return found


def fix_protected(conn, cfg: Config) -> dict[str, set[int]]:
    """Runs open fixbroken fixes still need: {stage: {run ids}}."""
    from mopstool.ops.disk.fixbroken import protected_runs

    return protected_runs(conn, cfg)


#: publishRun states of a publication not done yet (the diff's files are still read)
PUBLISH_WAITING_STATES = (State.NEW, "pending")


def pending_publications(conn, stage_name: str, ids: list[int]) -> set[int]:
    """Diff ids with a publishRun (client stage diff) still new/pending: the
    publisher still reads the diff's files."""
    if stage_name != "diff" or not ids:
        return set()
    pr, pc = schema.publishRun, schema.publishClient
    found: set[int] = set()
    for chunk in _chunks(ids, _IN_CHUNK):
        q = (select(pr.c.stage_id).select_from(pr.join(pc, pc.c.client_id == pr.c.client_id))
             .where(pr.c.stage_id.in_(chunk), pr.c.state.in_(list(PUBLISH_WAITING_STATES)),
                    pc.c.stage == "diff").distinct())
        found.update(int(x) for x in conn_scalars(conn, q))
    return found


def _held_reasons(conn, pconn, stage_name: str, ids: list[int],
                  protected: dict[str, set[int]]) -> dict[int, str]:
    held: dict[int, str] = {}
    for rid in ids:
        if rid in protected.get(stage_name, ()):
            held[rid] = "needed by an open fixbroken fix"
    rest = [i for i in ids if i not in held]
    for rid in pending_dependents(pconn, stage_name, rest):
        held[rid] = "stamp dependent outstanding"
    rest = [i for i in rest if i not in held]
    for rid in pending_publications(conn, stage_name, rest):
        held[rid] = "publishing still pending"
    rest = [i for i in rest if i not in held]
    for rid in active_downstream(conn, stage_name, rest):
        held[rid] = "downstream run still processing"
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
    #: the configuration the plan was made with (apply re-checks the fixbroken holds with it)
    config: Config | None = None

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.eligible.values())

    @property
    def total_changed(self) -> int:
        return len(self.changed)

    @property
    def batches_planned(self) -> int:
        return sum(-(-len(v) // self.batch_size) for v in self.eligible.values())

    def groups(self) -> list[dict[str, Any]]:
        """Rows per stage, night and label: runs that would change / changed / held."""
        rows: dict[tuple, dict[str, Any]] = {}

        def row(stage, night, target, label, days):
            key = (CLEAN_STAGES.index(stage), night, target, label)
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
                "batches": self.batches_done, "groups": self.groups(), "held": self.held}


def plan_cleanup(dbs: Databases, cfg: Config, *, as_of: date, stages: Iterable[str] | None = None,
                 targets: Iterable[str] | None = None, batch_size: int | None = None,
                 dry_run: bool = False) -> CleanupPlan:
    """Read-only: the runs cleanup would move, per stage, and those held back."""
    rules = cleanup_rules(cfg, as_of, stages=stages, targets=targets)
    size = batch_size if batch_size is not None else cfg.get("cleanup.batch_size", 500)
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        if batch_size is not None:
            raise UsageError(f"--batch-size must be a whole number of runs, at least 1, not {size!r}")
        raise ConfigError(f"[cleanup] batch_size must be a whole number of runs, at least 1, not {size!r}")
    plan = CleanupPlan(as_of=as_of, rules=rules, batch_size=size,
                       set_label=cfg.get("cleanup.set_label", CLEAN_STATE) or CLEAN_STATE,
                       dry_run=dry_run, config=cfg)
    with dbs.connect() as conn:
        protected = fix_protected(conn, cfg)
        with _pstamp_conn(dbs, conn) as pconn:
            for stage_name in CLEAN_STAGES:
                cands = find_candidates(conn, stage_name, rules)
                if not cands:
                    continue
                held = _held_reasons(conn, pconn, stage_name, [c.run_id for c in cands], protected)
                plan.eligible[stage_name] = [c for c in cands if c.run_id not in held]
                plan.held += [{"stage": stage_name, "id": c.run_id, "label": c.label,
                               "night": c.night, "target": c.rule.name,
                               "retention_days": c.rule.days, "reason": held[c.run_id]}
                              for c in cands if c.run_id in held]
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
ProgressHook = Callable[[int, int], None]


def apply_cleanup(dbs: Databases, plan: CleanupPlan, *, progress: ProgressHook | None = None,
                  batch_hook: BatchHook | None = None, lock_timeout: int = 0) -> CleanupPlan:
    """Move the plan's runs to goto_cleaned in bounded batches.

    Each batch is one transaction under the write lock: the runs are re-checked
    (still 'full', label still in scope, no stamp dependent outstanding, no
    downstream processing) and locked, then state and label change together and
    an audit row is written. *batch_hook(stage, batch_number, ids)* runs inside
    the transaction after the update (tests use it to interrupt a batch);
    *progress(done, total)* after each commit."""
    if plan.dry_run:
        return plan
    total = plan.total
    done = 0
    batch_no = 0
    with dbs.connect() as rconn:
        protected = fix_protected(rconn, plan.config) if plan.config is not None else {}
    for stage_name in CLEAN_STAGES:
        cands = plan.eligible.get(stage_name) or []
        if not cands:
            continue
        stage = STAGES[stage_name]
        run = schema.table(stage.run_table)
        idc = run.c[stage.id_col]
        label_cond = or_(*[r.label_condition(run.c.label) for r in plan.rules if r.stage == stage_name])
        for chunk in _chunks(cands, plan.batch_size):
            batch_no += 1
            ids = [c.run_id for c in chunk]
            with write_transaction(dbs, "cleanup", lock_timeout=lock_timeout) as conn:
                lock_q = select(idc).where(idc.in_(ids), run.c.state == "full", label_cond)
                if conn.dialect.name in ("mysql", "mariadb"):
                    lock_q = lock_q.with_for_update()
                still = [int(x) for x in conn_scalars(conn, lock_q)]
                with _pstamp_conn(dbs, conn) as pconn:
                    held = _held_reasons(conn, pconn, stage_name, still, protected)
                todo = [i for i in still if i not in held]
                n = 0
                if todo:
                    n = conn.execute(run.update().where(idc.in_(todo), run.c.state == "full")
                                     .values(state=CLEAN_STATE, label=plan.set_label)).rowcount
                nights = sorted({c.night for c in chunk if c.run_id in set(todo)})
                record_audit(conn, "cleanup", n, {
                    "stage": stage_name, "batch": batch_no, "as_of": plan.as_of.isoformat(),
                    "ids": [min(todo), max(todo)] if todo else [], "runs": len(todo),
                    "nights": [d.isoformat() for d in nights], "set_state": CLEAN_STATE,
                    "set_label": plan.set_label, "skipped": len(ids) - len(todo)})
                if batch_hook is not None:
                    batch_hook(stage_name, batch_no, todo)
            for i in todo:
                plan.changed[(stage_name, i)] = True
            plan.batches_done = batch_no
            done += len(chunk)
            if progress is not None:
                progress(done, total)
            if done < total:
                # a fair turn: a writer waiting for the lock is woken and takes it
                # now, instead of finding it taken again by the next batch
                time.sleep(BATCH_GAP)
    plan.applied = True
    return plan


# ---------------------------------------------------------------------- status

def cleanup_status(dbs: Databases, cfg: Config, *, as_of: date,
                   stages: Iterable[str] | None = None) -> dict[str, Any]:
    """Per stage and cleanup state: run counts and the oldest night; the runs
    still waiting for retention cleanup and the oldest uncleaned night."""
    stages = tuple(stages or CLEAN_STAGES)
    plan = plan_cleanup(dbs, cfg, as_of=as_of, stages=stages, dry_run=True)
    rows: list[dict[str, Any]] = []
    oldest_overall: date | None = None
    with dbs.connect() as conn:
        for stage_name in stages:
            stage = STAGES[stage_name]
            run = schema.table(stage.run_table)
            counts = dict(conn.execute(
                select(run.c.state, func.count()).where(run.c.state.in_(list(STATUS_STATES)))
                .group_by(run.c.state)).all())
            # the oldest night of runs waiting in goto_* / error_* (small sets)
            waiting = [s for s in CLEANUP_PENDING_STATES + ERROR_CLEANUP_STATES if counts.get(s)]
            oldest: dict[str, date | None] = {}
            if waiting:
                q = (select(run.c.state, func.min(schema.rawExp.c.dateobs))
                     .select_from(exposure_join(stage)).where(run.c.state.in_(waiting))
                     .group_by(run.c.state))
                oldest = {s: _night_of(d) for s, d in conn.execute(q)}
            for s in STATUS_STATES:
                n = int(counts.get(s, 0) or 0)
                if n or s in ("goto_cleaned", "cleaned", "error_cleaned"):
                    rows.append({"stage": stage_name, "state": s, "runs": n,
                                 "oldest_night": oldest.get(s),
                                 "note": _state_note(s, n)})
            cands = plan.eligible.get(stage_name, [])
            held = [h for h in plan.held if h["stage"] == stage_name]
            nights = [c.night for c in cands] + [h["night"] for h in held]
            first = min(nights) if nights else None
            if first and (oldest_overall is None or first < oldest_overall):
                oldest_overall = first
            rows.append({"stage": stage_name, "state": "full", "runs": len(cands),
                         "oldest_night": min((c.night for c in cands), default=None),
                         "note": "older than retention: waiting for mopstool cleanup"})
            if held:
                reasons = sorted({h["reason"] for h in held})
                rows.append({"stage": stage_name, "state": "full", "runs": len(held),
                             "oldest_night": min(h["night"] for h in held),
                             "note": "older than retention but held: " + "; ".join(reasons)})
    return {"as_of": as_of, "oldest_uncleaned_night": oldest_overall,
            "days_behind": (as_of - oldest_overall).days if oldest_overall else 0, "states": rows}


def _state_note(state: str, n: int) -> str:
    if state in CLEANUP_PENDING_STATES:
        return "waiting for the IPP cleanup task" if n else ""
    if state in ERROR_CLEANUP_STATES:
        return "cleanup failed: check logs, then revertcleanup" if n else ""
    if state in CLEANED_LIKE_STATES:
        return "done"
    return ""
