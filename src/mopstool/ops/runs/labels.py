"""Labels: the Label table (priority, active) and the per-stage block tables.

``Label(label, priority, active, comment)`` orders and switches the pending
queries (IFNULL(priority, 10000), active true or no Label row); a label in
chipMask / camMask / fakeMask / warpMask keeps that stage's *new* runs of the
label from being processed (update runs are not blocked).
"""

from __future__ import annotations

from typing import Any, Callable

from sqlalchemy import delete, func, insert, select, update

from mopstool.db import Databases, schema
from mopstool.db.values import check_row, check_value
from mopstool.errors import NotFound, UsageError
from mopstool.ops.writes import WritePlan, execute
from mopstool.stages import STAGES, stages_that
from mopstool.stages.joins import like_any

Plan = WritePlan
#: priority the pending queries use for a label without a Label row
DEFAULT_PRIORITY = 10000


def block_stages() -> tuple[str, ...]:
    """Stages with a block table, in pipeline order."""
    return stages_that("block")


def _mask(stage: str):
    if stage not in block_stages():
        raise UsageError(f"stage {stage!r} has no block table; choose one of: {', '.join(block_stages())}")
    return schema.table(STAGES[stage].mask_table)


def _check_label(label: str) -> str:
    if label is None or not label.strip():
        raise UsageError("a label cannot be empty")
    check_value(schema.Label, "label", label, what="label")
    return label


def list_labels(dbs: Databases, patterns: list[str] | None = None) -> list[dict[str, Any]]:
    """Labels of the Label table and of the block tables, with the stages that
    block each one. *patterns* are SQL LIKE patterns (ORed)."""
    lab = schema.Label
    q = select(lab.c.label, lab.c.priority, lab.c.active, lab.c.comment).order_by(
        lab.c.priority.desc(), lab.c.label)
    if patterns:
        q = q.where(like_any(lab.c.label, patterns))
    blocked: dict[str, list[str]] = {}
    with dbs.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        for stage in block_stages():
            m = _mask(stage)
            mq = select(m.c.label)
            if patterns:
                mq = mq.where(like_any(m.c.label, patterns))
            for (name,) in conn.execute(mq):
                blocked.setdefault(name, []).append(stage)
    known = {r["label"] for r in rows}
    for r in rows:
        r["active"] = None if r["active"] is None else bool(r["active"])
        r["effective_priority"] = DEFAULT_PRIORITY if r["priority"] is None else r["priority"]
        r["blocked"] = blocked.get(r["label"], [])
    for name in sorted(set(blocked) - known):
        rows.append({"label": name, "priority": None, "active": None, "comment": None,
                     "effective_priority": DEFAULT_PRIORITY, "blocked": blocked[name]})
    return rows


def recent_labels(dbs: Databases, per_stage: int = 5000) -> list[str]:
    """Distinct labels of the newest *per_stage* runs of each run stage (read
    backwards along the primary key, so the cost does not grow with history);
    what shell completion offers for --label."""
    found: set[str] = set()
    with dbs.connect() as conn:
        for name in stages_that("runs"):
            st = STAGES[name]
            if st.run_table in schema.PSTAMP_TABLE_NAMES:
                continue
            run = schema.table(st.run_table)
            if "label" not in run.c:
                continue
            newest = select(run.c.label).order_by(run.c[st.id_col].desc()).limit(per_stage).subquery()
            found.update(v for (v,) in conn.execute(select(newest.c.label).distinct()) if v)
    return sorted(found)


def _write(dbs: Databases, action: str, plan_fn, apply_fn, dry_run: bool, confirm) -> WritePlan:
    """The write protocol for one labels change: *plan_fn(conn)* builds the plan
    (again under the lock), *apply_fn(conn, plan)* writes and returns (rows, detail)."""
    return execute(dbs, action, plan_fn, apply_fn, dry_run=dry_run, confirm=confirm)


def add_label(dbs: Databases, label: str, *, priority: int | None = None, active: bool = True,
              comment: str | None = None, dry_run: bool = False,
              confirm: Callable[[Plan], bool] | None = None) -> Plan:
    """labeltool -definelabel: a new Label row (an existing label is an error)."""
    _check_label(label)
    lab = schema.Label
    row = {"label": label, "priority": priority, "active": 1 if active else 0, "comment": comment}
    check_row(lab, row, options={"priority": "--priority", "comment": "--comment"})

    def plan(conn) -> Plan:
        if conn.execute(select(lab.c.label).where(lab.c.label == label)).first():
            raise UsageError(f"label {label!r} already exists; use 'mopstool labels update'")
        return Plan(action="labels add", rows={"Label": 1}, sample=[row], keys=frozenset([label]))

    def apply(conn, p: Plan):
        conn.execute(insert(lab).values(**row))
        return 1, row

    return _write(dbs, "labels.add", plan, apply, dry_run, confirm)


def update_label(dbs: Databases, labels: list[str], *, priority: int | None = None,
                 active: bool | None = None, comment: str | None = None, dry_run: bool = False,
                 confirm: Callable[[Plan], bool] | None = None) -> Plan:
    """labeltool -updatelabel: change priority / active / comment of existing labels
    (exact names)."""
    if not labels:
        raise UsageError("name the label(s) to update")
    values: dict[str, Any] = {}
    if priority is not None:
        values["priority"] = priority
    if active is not None:
        values["active"] = 1 if active else 0
    if comment is not None:
        values["comment"] = None if comment.strip().upper() == "NULL" else comment
    if not values:
        raise UsageError("nothing to change: give --priority, --active/--inactive or --comment")
    lab = schema.Label
    check_row(lab, values, options={"priority": "--priority", "comment": "--comment"})

    def plan(conn) -> Plan:
        found = _existing(conn, labels, "; use 'mopstool labels add'")
        p = Plan(action="labels update", rows={"Label": len(found)}, sample=found,
                 keys=frozenset(r["label"] for r in found))
        p.notes.append("set " + ", ".join(f"{k}={v}" for k, v in values.items()))
        return p

    def apply(conn, p: Plan):
        n = conn.execute(update(lab).where(lab.c.label.in_(labels)).values(**values)).rowcount
        return n, {"labels": labels, "set": values}

    return _write(dbs, "labels.update", plan, apply, dry_run, confirm)


def delete_label(dbs: Databases, labels: list[str], *, dry_run: bool = False,
                 confirm: Callable[[Plan], bool] | None = None) -> Plan:
    """labeltool -deletelabel: remove Label rows (runs keep their label; pending
    queries then use the default priority)."""
    lab = schema.Label

    def plan(conn) -> Plan:
        found = _existing(conn, labels)
        return Plan(action="labels delete", rows={"Label": len(found)}, sample=found,
                    keys=frozenset(r["label"] for r in found))

    def apply(conn, p: Plan):
        n = conn.execute(delete(lab).where(lab.c.label.in_(labels))).rowcount
        return n, {"labels": labels}

    return _write(dbs, "labels.delete", plan, apply, dry_run, confirm)


def _existing(conn, labels: list[str], hint: str = "") -> list[dict[str, Any]]:
    lab = schema.Label
    found = [dict(r._mapping) for r in conn.execute(select(lab).where(lab.c.label.in_(labels)))]
    missing = sorted(set(labels) - {r["label"] for r in found})
    if missing:
        raise NotFound(f"no Label row for {', '.join(repr(m) for m in missing)}{hint}")
    return found


def _block_plan(conn, labels: list[str], stages: list[str], block: bool):
    todo: dict[str, list[str]] = {}
    sample = []
    for stage in stages:
        m = _mask(stage)
        present = set(conn.execute(select(m.c.label).where(m.c.label.in_(labels))).scalars())
        want = [lab for lab in labels if (lab not in present) == block]
        todo[stage] = want
        for lab in labels:
            sample.append({"stage": stage, "table": m.name, "label": lab,
                           "change": ("block" if block else "unblock") if lab in want
                           else ("already blocked" if block else "not blocked")})
    return todo, sample


def block_labels(dbs: Databases, labels: list[str], stages: list[str], *, dry_run: bool = False,
                 confirm: Callable[[Plan], bool] | None = None) -> Plan:
    """-block: insert the labels into the stages' block tables (idempotent)."""
    return _set_block(dbs, labels, stages, True, dry_run, confirm)


def unblock_labels(dbs: Databases, labels: list[str], stages: list[str], *, dry_run: bool = False,
                   confirm: Callable[[Plan], bool] | None = None) -> Plan:
    """-unblock: delete the labels from the stages' block tables (idempotent)."""
    return _set_block(dbs, labels, stages, False, dry_run, confirm)


def _set_block(dbs, labels, stages, block, dry_run, confirm) -> Plan:
    stages = list(dict.fromkeys(stages))
    labels = list(dict.fromkeys(labels))
    for lab in labels:
        _check_label(lab)
    if not stages:
        raise UsageError(f"name the stage(s) with --stage ({', '.join(block_stages())}) or --all-stages")
    for stage in stages:
        _mask(stage)
    verb = "block" if block else "unblock"

    def plan(conn) -> Plan:
        todo, sample = _block_plan(conn, labels, stages, block)
        p = Plan(action=f"labels {verb}", sample=sample,
                 rows={STAGES[s].mask_table: len(v) for s, v in todo.items()},
                 keys=frozenset((s, lab) for s, v in todo.items() for lab in v))
        p.todo = todo
        if not p.total:
            p.notes.append("nothing to change")
        return p

    def apply(conn, p: Plan):
        n = 0
        for stage, want in p.todo.items():
            if not want:
                continue
            m = _mask(stage)
            if block:
                conn.execute(insert(m), [{"label": lab} for lab in want])
                n += len(want)
            else:
                n += conn.execute(delete(m).where(m.c.label.in_(want))).rowcount or 0
        return n, {"labels": labels, "stages": stages}

    return _write(dbs, f"labels.{verb}", plan, apply, dry_run, confirm)


def label_run_counts(dbs: Databases, labels: list[str]) -> dict[str, dict[str, int]]:
    """Runs per stage and label (for the listing's --counts)."""
    out: dict[str, dict[str, int]] = {}
    with dbs.connect() as conn:
        for stage in stages_that("labelcount"):
            run = schema.table(STAGES[stage].run_table)
            q = (select(run.c.label, func.count()).where(run.c.label.in_(labels)).group_by(run.c.label))
            for name, n in conn.execute(q):
                out.setdefault(name, {})[stage] = int(n)
    return out
