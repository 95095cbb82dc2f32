"""The stamp server's backlog (``mopstool pstamp-req backlog``, and the czar's
stamp check): what it still has to do, per request label and state, against
the parse limit, in a fixed number of grouped queries. Read only."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, literal, not_, or_, select, true

from mopstool.db import Databases, schema
from mopstool.db.own import has_table
from mopstool.stages import STAGES
from mopstool.stages.joins import component_exists, component_join, related_join
from mopstool.stages.vocab import (ACTIVE_REQUEST_STATES, FINISHED_JOB_STATES, PSTAMP_FAULTS, DependentState,
                                   JobState, RequestState, fault_meaning)
from mopstool.util import utcnow

#: priority the IPP gives a label missing from the Label table
DEFAULT_LABEL_PRIORITY = 10000
DEFAULT_PARSE_LIMIT = 20

#: the stamp request stage (its jobs are its components, their dependents its related rows)
_REQUEST = STAGES["pstamp-request"]


def _t(name: str):
    return schema.table(name, pstamp_db=True)


@dataclass
class Backlog:
    """What the stamp server still has to do, per request label and state."""

    parse_limit: int
    parse_queue: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    behind: list[dict[str, Any]] = field(default_factory=list)
    dependents: list[dict[str, Any]] = field(default_factory=list)
    faults: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    label_table: bool = False
    generated: datetime | None = None

    @property
    def problems(self) -> bool:
        return bool(self.notes)

    def to_dict(self) -> dict[str, Any]:
        return {"generated": self.generated, "parse_limit": self.parse_limit,
                "parse_queue": self.parse_queue,
                "parse_batches": math.ceil(self.parse_queue / self.parse_limit) if self.parse_limit else None,
                "label_table": self.label_table, "labels": self.rows, "behind": self.behind,
                "dependents": self.dependents, "faults": self.faults, "notes": self.notes}


def _label_join(conn, req):
    """(FROM clause, priority expr, active condition) with the Label table when the
    stamp database has one (missing label: priority 10000, active)."""
    if has_table(conn, "Label"):
        lab = schema.Label
        frm = req.outerjoin(lab, lab.c.label == req.c.label)
        prio = func.coalesce(lab.c.priority, DEFAULT_LABEL_PRIORITY)
        active = or_(lab.c.active.is_(None), lab.c.active != 0)
        return frm, prio, active, True
    return req, literal(DEFAULT_LABEL_PRIORITY), true(), False


def backlog(dbs: Databases, *, parse_limit: int = DEFAULT_PARSE_LIMIT,
            labels: list[str] | None = None, now: datetime | None = None) -> Backlog:
    """The stamp server's backlog in a fixed number of grouped queries.

    Per request label and state: requests (faulted ones apart), requests waiting
    for the parser, jobs waiting on an image update (dependent not 'full'), jobs
    ready to run, faulted jobs, requests waiting for the finisher. The parse
    queue (pstamptool -pendingreq: state 'new', fault 0, label active, ordered by
    label priority then req_id) is compared with the parse limit, and for every
    label with waiting requests the labels ahead of it are counted."""
    parse_limit = max(int(parse_limit or DEFAULT_PARSE_LIMIT), 1)
    req, job, dep = _t("pstampRequest"), _t("pstampJob"), _t("pstampDependent")
    out = Backlog(parse_limit=parse_limit, generated=now or utcnow(microseconds=False))
    active_states = list(ACTIVE_REQUEST_STATES)
    with dbs.connect(pstamp_db=True) as conn:
        frm, prio, label_active, out.label_table = _label_join(conn, req)
        pending = and_(req.c.state == RequestState.NEW, req.c.fault == 0)
        # In WHERE and ON clauses the fault test is written so that no index can
        # serve it: the IPP has single-column keys on state and on fault, and
        # `fault = 0` matches nearly every history request, so letting MariaDB
        # intersect the two indexes reads all of them; with the state key alone
        # it reads only the requests still in the state asked for.
        unfaulted = (req.c.fault + 0) == 0
        pending_where = and_(req.c.state == RequestState.NEW, unfaulted)

        # 1. requests per label/state (+ the first pending request and its priority)
        q1 = (select(req.c.label, req.c.state, func.count().label("requests"),
                     func.sum(case((req.c.fault != 0, 1), else_=0)).label("faulted"),
                     func.sum(case((and_(pending, label_active), 1), else_=0)).label("wait_parse"),
                     func.sum(case((and_(pending, not_(label_active)), 1), else_=0)).label("inactive"),
                     func.min(case((pending, req.c.req_id), else_=None)).label("first_pending"),
                     func.min(case((pending, req.c.registered), else_=None)).label("waiting_since"),
                     func.max(prio).label("priority"))
              .select_from(frm).where(req.c.state.in_(active_states))
              .group_by(req.c.label, req.c.state))
        groups: dict[tuple, dict[str, Any]] = {}
        for r in conn.execute(q1):
            groups[(r.label, r.state)] = {
                "label": r.label, "state": r.state, "requests": int(r.requests or 0),
                "faulted": int(r.faulted or 0), "wait_parse": int(r.wait_parse or 0),
                "inactive_label": int(r.inactive or 0), "priority": int(r.priority or 0),
                "first_pending": r.first_pending, "waiting_since": r.waiting_since,
                "jobs_wait_dependent": 0, "jobs_wait_run": 0, "jobs_faulted": 0, "jobs_parsed": 0,
                "jobs_done": 0, "jobs_stopped_faulted": 0, "wait_finish": 0}

        # 2. jobs of active requests per label/state by what they wait for
        jfrom = related_join(component_join(_REQUEST), _REQUEST, "dependents", outer=True)
        has_dep = and_(job.c.dep_id.is_not(None), job.c.dep_id != 0)
        dep_ready = or_(not_(has_dep), dep.c.state == DependentState.FULL)
        run_ok = and_(job.c.state == JobState.RUN, job.c.fault == 0)
        q2 = (select(req.c.label, req.c.state,
                     func.sum(case((and_(run_ok, not_(dep_ready)), 1), else_=0)).label("wait_dep"),
                     func.sum(case((and_(run_ok, dep_ready), 1), else_=0)).label("wait_run"),
                     func.sum(case((and_(job.c.state == JobState.RUN, job.c.fault != 0), 1), else_=0)).label("faulted"),
                     func.sum(case((job.c.state == JobState.PARSED, 1), else_=0)).label("parsed"),
                     func.sum(case((and_(job.c.state.in_(FINISHED_JOB_STATES), job.c.fault == 0), 1),
                                   else_=0)).label("done"),
                     func.sum(case((and_(job.c.state.in_(FINISHED_JOB_STATES), job.c.fault != 0), 1),
                                   else_=0)).label("stopped_faulted"))
              .select_from(jfrom).where(req.c.state.in_(active_states))
              .group_by(req.c.label, req.c.state))
        for r in conn.execute(q2):
            g = groups.get((r.label, r.state))
            if g is None:
                continue
            g["jobs_wait_dependent"] = int(r.wait_dep or 0)
            g["jobs_wait_run"] = int(r.wait_run or 0)
            g["jobs_faulted"] = int(r.faulted or 0)
            g["jobs_parsed"] = int(r.parsed or 0)
            g["jobs_done"] = int(r.done or 0)
            g["jobs_stopped_faulted"] = int(r.stopped_faulted or 0)

        # 3. running requests whose jobs are all finished: waiting for the finisher
        unfinished = component_exists(_REQUEST, job.c.state.notin_(FINISHED_JOB_STATES))
        q3 = (select(req.c.label, func.count().label("n")).where(
            req.c.state == RequestState.RUN, unfaulted, not_(unfinished)).group_by(req.c.label))
        for r in conn.execute(q3):
            g = groups.get((r.label, RequestState.RUN))
            if g is not None:
                g["wait_finish"] = int(r.n or 0)

        # 4. parse queue: who is ahead of whom (priority desc, req_id asc)
        req_b = req.alias("ahead")
        first = (select(req.c.label.label("label"), func.min(req.c.req_id).label("first_id"),
                        func.max(prio).label("prio"))
                 .select_from(frm).where(pending_where, label_active).group_by(req.c.label)).subquery("firstq")
        frm4 = first.join(req_b, and_(req_b.c.state == RequestState.NEW, (req_b.c.fault + 0) == 0))
        if out.label_table:
            lab_b = schema.Label.alias("lab_b")
            frm4 = frm4.outerjoin(lab_b, lab_b.c.label == req_b.c.label)
            prio_b = func.coalesce(lab_b.c.priority, DEFAULT_LABEL_PRIORITY)
            active_b = or_(lab_b.c.active.is_(None), lab_b.c.active != 0)
        else:
            prio_b = literal(DEFAULT_LABEL_PRIORITY)
            active_b = true()
        ahead_cond = or_(prio_b > first.c.prio,
                         and_(prio_b == first.c.prio, req_b.c.req_id < first.c.first_id))
        q4 = (select(first.c.label.label("waiting"), req_b.c.label.label("ahead"),
                     func.count().label("n"))
              .select_from(frm4).where(active_b, ahead_cond)
              .group_by(first.c.label, req_b.c.label))
        ahead: dict[Any, dict[Any, int]] = {}
        for r in conn.execute(q4):
            ahead.setdefault(r.waiting, {})[r.ahead] = int(r.n or 0)
        out.parse_queue = int(conn.execute(select(func.count()).select_from(frm)
                                           .where(pending_where, label_active)).scalar() or 0)

        # 5. image updates (dependents) that running jobs wait for
        q5 = (select(req.c.label, dep.c.rlabel, dep.c.stage, dep.c.state,
                     func.count(func.distinct(dep.c.dep_id)).label("dependents"),
                     func.count(func.distinct(case((dep.c.fault != 0, dep.c.dep_id), else_=None))).label("faulted"),
                     func.count(func.distinct(job.c.job_id)).label("jobs"))
              .select_from(related_join(component_join(_REQUEST), _REQUEST, "dependents"))
              .where(req.c.state.in_(active_states), job.c.state == JobState.RUN, dep.c.state != DependentState.FULL)
              .group_by(req.c.label, dep.c.rlabel, dep.c.stage, dep.c.state))
        out.dependents = [{"label": r.label, "rlabel": r.rlabel, "stage": r.stage, "state": r.state,
                           "dependents": int(r.dependents or 0), "faulted": int(r.faulted or 0),
                           "jobs": int(r.jobs or 0)} for r in conn.execute(q5)]

        # 6. job faults in active requests, with their meaning
        q6 = (select(req.c.label, job.c.state, job.c.fault, func.count().label("jobs"),
                     func.min(job.c.req_id).label("example_req_id"))
              .select_from(component_join(_REQUEST))
              .where(req.c.state.in_(active_states), job.c.fault != 0)
              .group_by(req.c.label, job.c.state, job.c.fault))
        out.faults = [{"label": r.label, "job_state": r.state, "fault": int(r.fault),
                       "meaning": fault_meaning(int(r.fault), pstamp=True), "jobs": int(r.jobs or 0),
                       "example_req_id": r.example_req_id} for r in conn.execute(q6)]

    # positions in the parse queue
    first_by_label: dict[Any, int] = {}
    for g in groups.values():
        if g["wait_parse"]:
            ahead_of = ahead.get(g["label"], {})
            pos = sum(ahead_of.values()) + 1
            first_by_label[g["label"]] = pos
            g["queue_position"] = pos
            g["parse_batches_before"] = (pos - 1) // parse_limit
            g["behind"] = {str(k): v for k, v in sorted(ahead_of.items(), key=lambda kv: -kv[1])}
            g["ahead"] = ", ".join(f"{v} {k}" for k, v in g["behind"].items() if k != str(g["label"]))
        else:
            g["queue_position"] = None
            g["parse_batches_before"] = None
            g["behind"] = {}
            g["ahead"] = ""
    for waiting, counts in sorted(ahead.items(), key=lambda kv: str(kv[0])):
        for lab, n in sorted(counts.items(), key=lambda kv: -kv[1]):
            if lab != waiting:
                out.behind.append({"label": waiting, "behind_label": lab, "requests_ahead": n})

    rows = sorted(groups.values(), key=lambda g: (str(g["label"]), ACTIVE_REQUEST_STATES.index(g["state"])
                                                  if g["state"] in ACTIVE_REQUEST_STATES else 9))
    for g in rows:
        g.pop("first_pending", None)
    if labels:
        pats = [re.compile("^" + re.escape(p).replace("%", ".*").replace("_", ".") + "$", re.IGNORECASE)
                for p in labels]
        keep = lambda lab: any(p.match(str(lab or "")) for p in pats)  # noqa: E731
        rows = [g for g in rows if keep(g["label"])]
        out.behind = [b for b in out.behind if keep(b["label"])]
        out.dependents = [d for d in out.dependents if keep(d["label"])]
        out.faults = [f for f in out.faults if keep(f["label"])]
    out.rows = rows
    out.notes = _backlog_notes(out, first_by_label)
    return out


def _backlog_notes(b: Backlog, first_by_label: dict) -> list[str]:
    notes: list[str] = []
    shown = {g["label"] for g in b.rows}
    for g in b.rows:
        lab = g["label"]
        if g["state"] == RequestState.NEW and g["wait_parse"]:
            pos = g["queue_position"]
            ahead = {k: v for k, v in g["behind"].items() if k != str(lab)}
            if pos > b.parse_limit:
                who = ", ".join(f"{v} {k}" for k, v in ahead.items())
                since = f" since {g['waiting_since']:%Y-%m-%d %H:%M} UTC" if g.get("waiting_since") else ""
                notes.append(
                    f"{lab}: {g['wait_parse']} request(s) waiting for the parser{since}; the first is at "
                    f"position {pos} of {b.parse_queue} in the parse queue, behind "
                    f"{who or str(pos - 1) + ' requests'} - {g['parse_batches_before']} parse batch(es) "
                    f"of {b.parse_limit} (parse limit) before it is picked up")
        if g["inactive_label"]:
            notes.append(f"{lab}: {g['inactive_label']} new request(s) with an inactive label "
                         "(Label.active = 0) are never parsed")
        if g["faulted"]:
            notes.append(f"{lab}: {g['faulted']} {g['state']} request(s) carry a fault "
                         "(parse/finish failed); 'mopstool pstamp-req revert' clears transient ones")
        if g["wait_finish"]:
            notes.append(f"{lab}: {g['wait_finish']} running request(s) have all jobs finished and "
                         "wait for the finisher")
    for d in b.dependents:
        if d["label"] not in shown:
            continue
        msg = (f"{d['label']}: {d['jobs']} job(s) wait on {d['dependents']} {d['stage']} update(s) "
               f"(pstampDependent state {d['state']}, rlabel {d['rlabel']})")
        if d["faulted"]:
            msg += f", {d['faulted']} of them faulted"
        notes.append(msg + f"; label {d['rlabel']} must be served by the {d['stage']} processing")
    for f in b.faults:
        if f["label"] not in shown:
            continue
        name = PSTAMP_FAULTS.get(f["fault"], (None, None))[0] or f"fault {f['fault']}"
        if f["job_state"] in FINISHED_JOB_STATES:
            text = PSTAMP_FAULTS.get(f["fault"], (None, fault_meaning(f["fault"], pstamp=True)))[1]
            notes.append(f"{f['label']}: {f['jobs']} job(s) stopped with fault {f['fault']} {name} "
                         f"(e.g. req_id {f['example_req_id']}): {text}")
        else:
            notes.append(f"{f['label']}: {f['jobs']} {f['job_state']} job(s) faulted with {f['fault']} "
                         f"{name} (e.g. req_id {f['example_req_id']}); waiting for a revert")
    return notes
