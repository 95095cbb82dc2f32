"""Postage-stamp request database operations (``mopstool pstamp-req``).

The functions follow the pstamptool request modes of the IPP:

* :func:`list_requests`  ~ ``pstamptool -listreq``
* :func:`update_requests` ~ ``pstamptool -updatereq`` (``-set_state stop``, ``goto_cleaned`` ...)
* :func:`revert_requests` ~ ``pstamptool -revertreq``; :func:`revert_jobs` ~ ``-revertjob``;
  :func:`revert_dependents` ~ ``-revertdependent``
* :func:`update_jobs` ~ ``pstamptool -updatejob``; :func:`update_dependent` ~ ``-updatedependent``
* :func:`cleanup_requests` ~ ``pstamp_queue_cleanup.pl`` (stop older than N days -> goto_cleaned)
* :func:`backlog` (:mod:`mopstool.ops.pstamp.backlog`) what the stamp server still has to do, per label, against the parse limit.

Plain arguments in, result objects out; every write goes through the write
protocol (:func:`mopstool.ops.writes.execute`) on the stamp database: planned,
confirmed once, planned again under the lock and applied in one transaction
with its audit record.
All tables come from ``schema.table(name, pstamp_db=True)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.sql import ColumnElement

from mopstool.db import Databases
from mopstool.db.values import check_row
from mopstool.errors import NotFound, UsageError
# the stamp server's backlog is a module of its own (the czar reads it on every run)
from mopstool.ops.pstamp.backlog import (  # noqa: F401  (re-exported)
    _REQUEST, DEFAULT_LABEL_PRIORITY, DEFAULT_PARSE_LIMIT, Backlog, _t, backlog,
)
from mopstool.ops.writes import WritePlan, execute
from mopstool.stages import STAGES
from mopstool.stages.joins import component_join, eq_any, like_any, related_join
from mopstool.stages.vocab import (ACTIVE_REQUEST_STATES, FINISHED_JOB_STATES,  # noqa: F401  (re-exported)
                                   PSTAMP_FIRST_ERROR_CODE, DependentState, JobState, RequestState,
                                   fault_meaning)
from mopstool.util import chunks, utcnow

#: request states the stamp server uses (pstamptool itself accepts any string)
REQUEST_STATES: tuple[RequestState, ...] = tuple(RequestState)
CLEANED_STATES: tuple[RequestState, ...] = (RequestState.GOTO_CLEANED, RequestState.CLEANED)
#: pstamptool compile-time retry cap (PSTAMP_MAX_JOB_FAULTS / PSTAMP_MAX_DEP_FAULTS)
DEFAULT_MAX_FAULT_COUNT = 5


def _now() -> datetime:
    """Naive UTC 'now' at second precision (what DATETIME/TIMESTAMP columns hold)."""
    return utcnow(microseconds=False)


# ------------------------------------------------------------------ durations and times
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400, "": 86400}


#: the longest duration accepted (a century: times computed from it stay in range)
MAX_DURATION = timedelta(days=36525)


def parse_duration(value: str | int | float | timedelta) -> timedelta:
    """'14d', '36h', '2w', '90m', '30s' or a bare number of days."""
    if isinstance(value, timedelta):
        return value
    m = _DURATION.match(f"{value}d" if isinstance(value, (int, float)) else str(value))
    if not m:
        raise UsageError(f"invalid duration {value!r}: use e.g. 14d, 36h, 2w or a number of days")
    seconds = float(m.group(1)) * _UNITS[m.group(2).lower()]
    if not seconds <= MAX_DURATION.total_seconds():
        raise UsageError(f"invalid duration {value!r}: at most {MAX_DURATION.days} days")
    return timedelta(seconds=seconds)


def parse_since(value: str | datetime | None, *, now: datetime | None = None) -> datetime | None:
    """An absolute UTC time (YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS]) or a duration back from now."""
    if value is None or isinstance(value, datetime):
        return value
    text = str(value).strip()
    if _DURATION.match(text) and not re.match(r"^\d{8}$", text):
        return (now or _now()) - parse_duration(text)
    for fmt in ("%Y-%m-%d", "%Y%m%d", "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
                "%Y-%m-%d %H:%M:%S"):
        try:
            return datetime.strptime(text.rstrip("Z"), fmt)
        except ValueError:
            pass
    raise UsageError(f"invalid time {value!r}: use YYYY-MM-DD[THH:MM[:SS]] (UTC) or a duration like 2d")


# ------------------------------------------------------------------ selection
@dataclass
class RequestSelector:
    """The request selectors of pstamptool (ANDed; repeated values ORed).

    ``labels`` and ``names`` are SQL LIKE patterns ('%' wildcard), as in the IPP."""

    req_ids: list[int] = field(default_factory=list)
    not_req_ids: list[int] = field(default_factory=list)
    req_id_max: int | None = None
    req_id_min: int | None = None
    states: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    usernames: list[str] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)
    req_types: list[str] = field(default_factory=list)
    since: datetime | None = None            # registered >= since
    timestamp_begin: datetime | None = None  # timestamp >=
    timestamp_end: datetime | None = None    # timestamp <=

    def is_empty(self) -> bool:
        return not (self.req_ids or self.not_req_ids or self.req_id_max is not None
                    or self.req_id_min is not None or self.states or self.labels or self.names
                    or self.usernames or self.faults or self.req_types or self.since
                    or self.timestamp_begin or self.timestamp_end)

    def conditions(self) -> list[ColumnElement]:
        req = _t("pstampRequest")
        c = req.c
        conds: list[ColumnElement] = []
        if self.req_ids:
            conds.append(eq_any(c.req_id, [int(i) for i in self.req_ids]))
        if self.not_req_ids:
            conds.append(c.req_id.notin_([int(i) for i in self.not_req_ids]))
        if self.req_id_max is not None:
            conds.append(c.req_id <= int(self.req_id_max))
        if self.req_id_min is not None:
            conds.append(c.req_id >= int(self.req_id_min))
        if self.states:
            conds.append(eq_any(c.state, list(self.states)))
        if self.labels:
            conds.append(like_any(c.label, list(self.labels)))
        if self.names:
            conds.append(like_any(c.name, list(self.names)))
        if self.usernames:
            conds.append(eq_any(c.username, list(self.usernames)))
        if self.faults:
            conds.append(eq_any(c.fault, [int(f) for f in self.faults]))
        if self.req_types:
            conds.append(eq_any(c.reqType, list(self.req_types)))
        if self.since is not None:
            conds.append(c.registered >= self.since)
        if self.timestamp_begin is not None:
            conds.append(c.timestamp >= self.timestamp_begin)
        if self.timestamp_end is not None:
            conds.append(c.timestamp <= self.timestamp_end)
        return conds

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.__dict__.items():
            if v not in (None, [], ()):
                out[k] = v
        return out


def _validate_state(state: str) -> RequestState:
    return STAGES["pstamp-request"].validate_state(state)


def _check_ids_exist(conn, req_ids: list[int]) -> None:
    if not req_ids:
        return
    req = _t("pstampRequest")
    found: set[int] = set()
    for chunk in chunks(sorted(set(int(i) for i in req_ids))):
        found.update(int(r[0]) for r in conn.execute(select(req.c.req_id).where(req.c.req_id.in_(chunk))))
    missing = sorted(set(int(i) for i in req_ids) - found)
    if missing:
        raise NotFound("no stamp request with req_id " + ", ".join(str(i) for i in missing))


# ------------------------------------------------------------------ listing
_LIST_COLUMNS = ("req_id", "name", "label", "state", "fault", "reqType", "username", "ds_id",
                 "outProduct", "registered", "timestamp")


def list_requests(dbs: Databases, sel: RequestSelector, *, limit: int | None = None,
                  require_filter: bool = False, require_match: bool = False,
                  with_jobs: bool = True) -> list[dict[str, Any]]:
    """Requests matching *sel*, newest first, with their job counts.

    ``require_filter`` / ``require_match`` give the pstamptool -listreq behaviour
    (a search term is required; no match is an error, exit 65)."""
    if require_filter and sel.is_empty():
        raise UsageError("search parameters are required")
    req = _t("pstampRequest")
    q = select(*[req.c[c] for c in _LIST_COLUMNS]).where(*sel.conditions()).order_by(req.c.req_id.desc())
    if limit:
        q = q.limit(int(limit))
    with dbs.connect(pstamp_db=True) as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        if with_jobs and rows:
            counts = _job_counts(conn, [r["req_id"] for r in rows])
            for r in rows:
                r.update(counts.get(r["req_id"], _EMPTY_COUNTS))
    for r in rows:
        r["fault_meaning"] = fault_meaning(r["fault"], pstamp=True) if r.get("fault") else ""
    if require_match and not rows:
        raise NotFound("request not found")
    return rows


_EMPTY_COUNTS = {"jobs": 0, "jobs_run": 0, "jobs_stop": 0, "jobs_faulted": 0}


def _job_counts(conn, req_ids: list[int]) -> dict[int, dict[str, int]]:
    job = _t("pstampJob")
    out: dict[int, dict[str, int]] = {}
    for chunk in chunks(req_ids):
        q = (select(job.c.req_id, func.count().label("jobs"),
                    func.sum(case((job.c.state == JobState.RUN, 1), else_=0)).label("jobs_run"),
                    func.sum(case((job.c.state == JobState.STOP, 1), else_=0)).label("jobs_stop"),
                    func.sum(case((job.c.fault != 0, 1), else_=0)).label("jobs_faulted"))
             .where(job.c.req_id.in_(chunk)).group_by(job.c.req_id))
        for r in conn.execute(q):
            out[int(r.req_id)] = {"jobs": int(r.jobs or 0), "jobs_run": int(r.jobs_run or 0),
                                  "jobs_stop": int(r.jobs_stop or 0),
                                  "jobs_faulted": int(r.jobs_faulted or 0)}
    return out


def _with_meaning(row: dict[str, Any]) -> dict[str, Any]:
    row["fault_meaning"] = fault_meaning(row.get("fault"), pstamp=True) if row.get("fault") else ""
    return row


def show_request(dbs: Databases, req_id: int) -> dict[str, Any]:
    """One request with its jobs, dependents, files and data store; faults explained."""
    req, job, dep, fil, ds = (_t("pstampRequest"), _t("pstampJob"), _t("pstampDependent"),
                              _t("pstampFile"), _t("pstampDataStore"))
    with dbs.connect(pstamp_db=True) as conn:
        row = conn.execute(select(req).where(req.c.req_id == int(req_id))).first()
        if row is None:
            raise NotFound(f"no stamp request with req_id {req_id}")
        request = _with_meaning(dict(row._mapping))
        jobs = [_with_meaning(dict(r._mapping)) for r in conn.execute(
            select(job.c.job_id, job.c.rownum, job.c.state, job.c.jobType, job.c.fault,
                   job.c.fault_count, job.c.dep_id, job.c.exp_id, job.c.options, job.c.outputBase,
                   job.c.parent_id, job.c.is_parent)
            .where(job.c.req_id == int(req_id)).order_by(job.c.job_id))]
        dep_ids = sorted({int(j["dep_id"]) for j in jobs if j.get("dep_id")})
        dependents = []
        for chunk in chunks(dep_ids):
            dependents += [_with_meaning(dict(r._mapping)) for r in conn.execute(
                select(dep).where(dep.c.dep_id.in_(chunk)).order_by(dep.c.dep_id))]
        job_ids = [int(j["job_id"]) for j in jobs]
        files = []
        for chunk in chunks(job_ids):
            files += [dict(r._mapping) for r in conn.execute(
                select(fil).where(fil.c.job_id.in_(chunk)).order_by(fil.c.file_id))]
        datastore = None
        if request.get("ds_id"):
            d = conn.execute(select(ds).where(ds.c.ds_id == request["ds_id"])).first()
            datastore = dict(d._mapping) if d is not None else None
    dep_state = {d["dep_id"]: d["state"] for d in dependents}
    for j in jobs:
        j["waiting_on"] = _job_waiting_on(j, dep_state, request)
    summary: dict[str, int] = {}
    for j in jobs:
        key = j["state"] if not j.get("fault") else f"{j['state']}/fault {j['fault']}"
        summary[key] = summary.get(key, 0) + 1
    return {"request": request, "jobs": jobs, "dependents": dependents, "files": files,
            "datastore": datastore, "job_summary": summary}


def _job_waiting_on(job: dict, dep_state: dict, request: dict) -> str:
    if job["state"] in FINISHED_JOB_STATES:
        return ""
    if job["state"] == JobState.PARSED:
        return "preview (parsed only)"
    if job.get("fault"):
        return "revert (faulted)"
    if job.get("dep_id") and dep_state.get(job["dep_id"]) != DependentState.FULL:
        return f"dependent {job['dep_id']} ({dep_state.get(job['dep_id'], 'missing')})"
    if request.get("state") != RequestState.RUN or request.get("fault"):
        return f"request {request.get('state')}" + (f"/fault {request['fault']}" if request.get("fault") else "")
    return str(JobState.RUN)


def request_names_and_projects(dbs: Databases, req_name: str | None) -> tuple[list[str], list[str]]:
    """(requests already named *req_name*, enabled project names) from the request database."""
    req, proj = _t("pstampRequest"), _t("pstampProject")
    with dbs.connect(pstamp_db=True) as conn:
        names = []
        if req_name:
            names = [r[0] for r in conn.execute(select(req.c.name).where(req.c.name == str(req_name)))]
        projects = [r[0] for r in conn.execute(
            select(proj.c.name).where(or_(proj.c.state.is_(None), proj.c.state != "disabled")))]
    return names, projects


# ------------------------------------------------------------------ updates
@dataclass
class UpdateResult:
    """What an update changed (or would change under dry-run)."""

    action: str
    set_values: dict[str, Any]
    changed: list[int] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    sample: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    timestamp: datetime | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.changed)

    # the write plan protocol (ops.writes.execute)
    @property
    def rows(self) -> dict[str, int]:
        return {"pstampRequest": self.count}

    @property
    def total(self) -> int:
        return self.count

    def keys(self) -> frozenset:
        return frozenset(self.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "dry_run": self.dry_run, "applied": self.applied,
                "set": self.set_values, "changed": self.changed, "count": self.count,
                "skipped": self.skipped, "sample": self.sample, "timestamp": self.timestamp}


_SETTERS = ("state", "label", "outProduct", "outdir", "uri", "name", "username", "reqType")


def _skip_reason(row: dict, set_state: str | None, only_state: bool, ipp_semantics: bool) -> str | None:
    state = row["state"]
    if set_state == RequestState.GOTO_CLEANED and state in CLEANED_STATES:
        return f"already {state}"
    if ipp_semantics or set_state is None:
        return None
    if set_state == RequestState.STOP and state in CLEANED_STATES:
        return f"already {state}; stopping it would send it through cleanup again"
    if only_state and state == set_state:
        return f"already {state}"
    return None


def update_requests(dbs: Databases, sel: RequestSelector, *, set_state: str | None = None,
                    set_label: str | None = None, set_fault: int | None = None,
                    clear_fault: bool = False, set_outProduct: str | None = None,
                    set_outdir: str | None = None, set_uri: str | None = None,
                    set_name: str | None = None, set_username: str | None = None,
                    set_reqType: str | None = None, dry_run: bool = False,
                    ipp_semantics: bool = False, action: str = "pstamp-req.update",
                    now: datetime | None = None, sample_size: int = 20,
                    confirm: Callable[[UpdateResult], bool] | None = None) -> UpdateResult:
    """pstamptool -updatereq: set columns of the selected requests and bump ``timestamp``.

    Guards: ``set_state='goto_cleaned'`` never touches requests already
    cleaned/goto_cleaned (the IPP rule). Unless ``ipp_semantics``: the state
    must be a known request state, ``stop`` leaves cleaned requests alone, a
    pure state change skips requests already in that state, and a req_id that
    does not exist is an error (nothing is written). Skipped requests are
    reported with the reason. *confirm* sees the plan once (ops.writes.execute).
    """
    if sel.is_empty():
        raise UsageError("search parameters are required (a req_id, --label, --state ...)")
    values: dict[str, Any] = {}
    for col, val in (("state", set_state), ("label", set_label), ("outProduct", set_outProduct),
                     ("outdir", set_outdir), ("uri", set_uri), ("name", set_name),
                     ("username", set_username), ("reqType", set_reqType)):
        if val is not None:
            values[col] = val
    if set_fault is not None and int(set_fault) != 0:
        if clear_fault:
            raise UsageError("only one of set_fault and clear_fault is allowed")
        values["fault"] = int(set_fault)
    elif clear_fault or (set_fault is not None and int(set_fault) == 0):
        values["fault"] = 0
    if not values:
        raise UsageError("at least one value to set is required")
    if set_state is not None:
        _validate_state(set_state)
    only_state = set(values) == {"state"}
    stamp = now or _now()
    req = _t("pstampRequest")
    check_row(req, values, options={"outProduct": "--set-out-product", "reqType": "--set-req-type",
                                    **{c: f"--set-{c}" for c in values if c.islower()}})
    cols = (req.c.req_id, req.c.name, req.c.label, req.c.state, req.c.fault, req.c.timestamp)
    q = select(*cols).where(*sel.conditions()).order_by(req.c.req_id)

    def plan(conn) -> UpdateResult:
        if sel.req_ids and not ipp_semantics:
            _check_ids_exist(conn, sel.req_ids)
        result = UpdateResult(action=action, set_values=dict(values), timestamp=stamp)
        for r in (dict(x._mapping) for x in conn.execute(q)):
            reason = _skip_reason(r, set_state, only_state, ipp_semantics)
            if reason:
                result.skipped.append({"req_id": r["req_id"], "name": r["name"], "state": r["state"],
                                       "reason": reason})
            else:
                result.changed.append(int(r["req_id"]))
                if len(result.sample) < sample_size:
                    result.sample.append(r)
        return result

    def apply(conn, result: UpdateResult):
        guard = []
        if set_state == RequestState.GOTO_CLEANED:
            guard.append(req.c.state.notin_(CLEANED_STATES))
        for chunk in chunks(result.changed):
            conn.execute(req.update().where(req.c.req_id.in_(chunk), *guard)
                         .values(timestamp=stamp, **values))
        return len(result.changed), {"set": values, "selector": sel.describe(),
                                     "req_ids": result.changed[:200],
                                     "skipped": [s["req_id"] for s in result.skipped][:200]}

    return execute(dbs, action, plan, apply, dry_run=dry_run, confirm=confirm, pstamp_db=True)


def stop_requests(dbs: Databases, req_ids: list[int], *, dry_run: bool = False,
                  ipp_semantics: bool = False, confirm=None) -> UpdateResult:
    """``pstamptool -updatereq -set_state stop -req_id N`` for each id."""
    if not req_ids:
        raise UsageError("give at least one req_id")
    return update_requests(dbs, RequestSelector(req_ids=list(req_ids)), set_state=RequestState.STOP,
                           dry_run=dry_run, ipp_semantics=ipp_semantics, action="pstamp-req.stop",
                           confirm=confirm)


def clean_requests(dbs: Databases, req_ids: list[int], *, dry_run: bool = False,
                   ipp_semantics: bool = False, confirm=None) -> UpdateResult:
    """``pstamptool -updatereq -set_state goto_cleaned -req_id N``; already cleaned ones are skipped."""
    if not req_ids:
        raise UsageError("give at least one req_id")
    return update_requests(dbs, RequestSelector(req_ids=list(req_ids)),
                           set_state=RequestState.GOTO_CLEANED, dry_run=dry_run,
                           ipp_semantics=ipp_semantics, action="pstamp-req.clean", confirm=confirm)


def cleanup_requests(dbs: Databases, older_than: timedelta | str | int = 14, *,
                     labels: list[str] | None = None, dry_run: bool = False,
                     now: datetime | None = None, confirm=None) -> UpdateResult:
    """pstamp_queue_cleanup: stopped requests unchanged for longer than *older_than* -> goto_cleaned."""
    age = parse_duration(older_than)
    stamp = now or _now()
    sel = RequestSelector(states=[RequestState.STOP], labels=list(labels or []), timestamp_end=stamp - age)
    return update_requests(dbs, sel, set_state=RequestState.GOTO_CLEANED, dry_run=dry_run,
                           action="pstamp-req.cleanup", now=stamp, confirm=confirm)


# ------------------------------------------------------------------ reverts
@dataclass
class RevertResult:
    what: str
    reverted: list[int] = field(default_factory=list)
    deleted_jobs: int = 0
    by_fault: dict[int, int] = field(default_factory=dict)
    skipped_fault_count: int = 0
    dry_run: bool = False
    applied: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.reverted)

    # the write plan protocol (ops.writes.execute)
    @property
    def rows(self) -> dict[str, int]:
        return {self.what: self.count}

    @property
    def total(self) -> int:
        return self.count

    def keys(self) -> frozenset:
        return frozenset((self.what, i) for i in self.reverted)

    def to_dict(self) -> dict[str, Any]:
        return {"what": self.what, "dry_run": self.dry_run, "applied": self.applied,
                "reverted": self.reverted, "count": self.count, "deleted_jobs": self.deleted_jobs,
                "by_fault": {str(k): v for k, v in sorted(self.by_fault.items())},
                "skipped_fault_count": self.skipped_fault_count}


@dataclass
class RevertPlan:
    """Several reverts (requests, jobs, dependents) confirmed and applied as one write."""

    results: list[RevertResult]
    notes: list[str] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False

    @property
    def rows(self) -> dict[str, int]:
        return {r.what: r.count for r in self.results}

    @property
    def total(self) -> int:
        return sum(r.count for r in self.results)

    def keys(self) -> frozenset:
        return frozenset(k for r in self.results for k in r.keys())


@dataclass
class _Revert:
    """One revert as a (plan, apply) pair over a connection."""

    what: str
    plan: Callable[[Any], RevertResult]
    apply: Callable[[Any, RevertResult], tuple[int, dict]]


def _fault_condition(col, fault: int | None, max_fault: int | None) -> ColumnElement:
    if fault is not None:
        return col == int(fault)
    if max_fault is None:
        return col != 0
    return and_(col > 0, col < int(max_fault))


def _request_revert(sel: RequestSelector | None, max_fault: int | None, now: datetime | None,
                    touch_timestamp: bool = True) -> _Revert:
    """Jobs are deleted only for half-parsed requests (state 'new', fault > 0);
    ``touch_timestamp=False`` leaves ``timestamp`` alone, as pstamptool -revertreq does."""
    sel = sel or RequestSelector()
    req, job = _t("pstampRequest"), _t("pstampJob")
    fault_cond = _fault_condition(req.c.fault, None, None if sel.faults else max_fault)
    q = (select(req.c.req_id, req.c.state, req.c.fault)
         .where(req.c.state != RequestState.STOP, fault_cond, *sel.conditions()).order_by(req.c.req_id))

    def plan(conn) -> RevertResult:
        result = RevertResult(what="requests")
        rows = [dict(r._mapping) for r in conn.execute(q)]
        result.reverted = [int(r["req_id"]) for r in rows]
        for r in rows:
            result.by_fault[int(r["fault"])] = result.by_fault.get(int(r["fault"]), 0) + 1
        result.half_parsed = [int(r["req_id"]) for r in rows
                              if r["state"] == RequestState.NEW and int(r["fault"]) > 0]
        for chunk in chunks(result.half_parsed):
            result.deleted_jobs += int(conn.execute(select(func.count()).select_from(job)
                                                    .where(job.c.req_id.in_(chunk))).scalar() or 0)
        return result

    def apply(conn, result: RevertResult):
        stamp = now or _now()
        for chunk in chunks(result.half_parsed):
            conn.execute(job.delete().where(job.c.req_id.in_(chunk)))
        for chunk in chunks(result.reverted):
            conn.execute(req.update().where(req.c.req_id.in_(chunk), req.c.state != RequestState.STOP)
                         .values(fault=0, **({"timestamp": stamp} if touch_timestamp else {})))
        return len(result.reverted), {"what": "requests", "req_ids": result.reverted[:200],
                                      "deleted_jobs": result.deleted_jobs, "by_fault": result.by_fault}

    return _Revert("requests", plan, apply)


def _counted_revert(what: str, table, id_col: str, state: str, q, *, max_fault_count: int | None,
                    clear_fault_count: bool) -> _Revert:
    """Clear the fault of the rows *q* selects (id, fault, fault_count), leaving rows
    that already failed *max_fault_count* times unless ``clear_fault_count``."""
    limit = None if clear_fault_count else max_fault_count

    def plan(conn) -> RevertResult:
        result = RevertResult(what=what)
        for r in conn.execute(q):
            if limit is not None and int(r.fault_count or 0) >= int(limit):
                result.skipped_fault_count += 1
                continue
            result.reverted.append(int(r[0]))
            result.by_fault[int(r.fault)] = result.by_fault.get(int(r.fault), 0) + 1
        result.reverted.sort()
        return result

    def apply(conn, result: RevertResult):
        values: dict[str, Any] = {"fault": 0}
        if clear_fault_count:
            values["fault_count"] = 0
        for chunk in chunks(result.reverted):
            conn.execute(table.update().where(table.c[id_col].in_(chunk), table.c.state == state)
                         .values(**values))
        return len(result.reverted), {"what": what, f"{id_col}s": result.reverted[:200],
                                      "by_fault": result.by_fault}

    return _Revert(what, plan, apply)


def _job_revert(sel, job_ids, fault, max_fault_count, clear_fault_count) -> _Revert:
    sel = sel or RequestSelector()
    req, job = _t("pstampRequest"), _t("pstampJob")
    conds = [job.c.state == JobState.RUN, req.c.state == RequestState.RUN,
             _fault_condition(job.c.fault, fault, PSTAMP_FIRST_ERROR_CODE), *sel.conditions()]
    if job_ids:
        conds.append(eq_any(job.c.job_id, [int(j) for j in job_ids]))
    q = (select(job.c.job_id, job.c.fault, job.c.fault_count)
         .select_from(component_join(_REQUEST)).where(*conds))
    return _counted_revert("jobs", job, "job_id", JobState.RUN, q, max_fault_count=max_fault_count,
                           clear_fault_count=clear_fault_count)


def _dependent_revert(sel, dep_ids, fault, max_fault_count, clear_fault_count) -> _Revert:
    sel = sel or RequestSelector()
    req, job, dep = _t("pstampRequest"), _t("pstampJob"), _t("pstampDependent")
    conds = [dep.c.state == DependentState.NEW, job.c.state == JobState.RUN,
             req.c.state == RequestState.RUN,
             _fault_condition(dep.c.fault, fault, PSTAMP_FIRST_ERROR_CODE), *sel.conditions()]
    if dep_ids:
        conds.append(eq_any(dep.c.dep_id, [int(d) for d in dep_ids]))
    frm = related_join(component_join(_REQUEST), _REQUEST, "dependents")
    q = select(dep.c.dep_id, dep.c.fault, dep.c.fault_count).select_from(frm).where(*conds).distinct()
    return _counted_revert("dependents", dep, "dep_id", DependentState.NEW, q,
                           max_fault_count=max_fault_count, clear_fault_count=clear_fault_count)


def run_reverts(dbs: Databases, reverts: list[_Revert], *, dry_run: bool = False,
                confirm: Callable[[RevertPlan], bool] | None = None) -> RevertPlan:
    """Plan every revert, confirm once, then plan again and apply them all in one
    transaction under the lock (ops.writes.execute), one audit record."""
    def plan(conn) -> RevertPlan:
        return RevertPlan([r.plan(conn) for r in reverts])

    def apply(conn, fresh: RevertPlan):
        total, detail = 0, {}
        for r, res in zip(reverts, fresh.results):
            n, d = r.apply(conn, res)
            total += n
            detail[r.what] = d
        return total, detail

    out = execute(dbs, "pstamp-req.revert", plan, apply, dry_run=dry_run, confirm=confirm, pstamp_db=True)
    for res in out.results:
        res.dry_run, res.applied = out.dry_run, out.applied
    return out


def revert_all(dbs: Databases, kinds: list[str], sel: RequestSelector, job_sel: RequestSelector, *,
               fault: int | None = None, max_fault_count: int | None = DEFAULT_MAX_FAULT_COUNT,
               clear_fault_count: bool = False, dry_run: bool = False, as_pstamptool: bool = False,
               confirm: Callable[[RevertPlan], bool] | None = None) -> list[RevertResult]:
    """``pstamp-req revert``: the request, job and dependent reverts (*kinds*) as one write.
    *as_pstamptool*: requests as pstamptool -revertreq (any fault, timestamp left alone)."""
    reverts = []
    if "requests" in kinds:
        reverts.append(_request_revert(sel, None if as_pstamptool else PSTAMP_FIRST_ERROR_CODE, None,
                                       touch_timestamp=not as_pstamptool))
    if "jobs" in kinds:
        reverts.append(_job_revert(job_sel, None, fault, max_fault_count, clear_fault_count))
    if "dependents" in kinds:
        reverts.append(_dependent_revert(job_sel, None, fault, max_fault_count, clear_fault_count))
    return run_reverts(dbs, reverts, dry_run=dry_run, confirm=confirm).results


def revert_requests(dbs: Databases, sel: RequestSelector | None = None, *,
                    max_fault: int | None = PSTAMP_FIRST_ERROR_CODE, dry_run: bool = False,
                    now: datetime | None = None, touch_timestamp: bool = True, confirm=None) -> RevertResult:
    """pstamptool -revertreq: delete the jobs of half-parsed requests (state 'new' with a
    fault), then clear the fault of matching requests not in 'stop'.

    Only faults below *max_fault* (10: the transient exit codes) are cleared unless
    ``sel.faults`` names the fault; ``max_fault=None`` clears any fault (pstamptool)."""
    return run_reverts(dbs, [_request_revert(sel, max_fault, now, touch_timestamp)], dry_run=dry_run,
                       confirm=confirm).results[0]


def revert_jobs(dbs: Databases, sel: RequestSelector | None = None, *,
                job_ids: list[int] | None = None, fault: int | None = None,
                max_fault_count: int | None = DEFAULT_MAX_FAULT_COUNT,
                clear_fault_count: bool = False, dry_run: bool = False, confirm=None) -> RevertResult:
    """pstamptool -revertjob: clear the fault of 'run' jobs of 'run' requests.

    Only faults < 10 unless *fault* is given; only jobs with fault_count <
    *max_fault_count* unless ``clear_fault_count`` (which also zeroes the count)."""
    return run_reverts(dbs, [_job_revert(sel, job_ids, fault, max_fault_count, clear_fault_count)],
                       dry_run=dry_run, confirm=confirm).results[0]


def revert_dependents(dbs: Databases, sel: RequestSelector | None = None, *,
                      dep_ids: list[int] | None = None, fault: int | None = None,
                      max_fault_count: int | None = DEFAULT_MAX_FAULT_COUNT,
                      clear_fault_count: bool = False, dry_run: bool = False,
                      confirm=None) -> RevertResult:
    """pstamptool -revertdependent: clear the fault of 'new' dependents that a 'run'
    job of a 'run' request waits for (faults < 10 and fault_count < max by default)."""
    return run_reverts(dbs, [_dependent_revert(sel, dep_ids, fault, max_fault_count, clear_fault_count)],
                       dry_run=dry_run, confirm=confirm).results[0]


# ------------------------------------------------------------------ job and dependent setters
def update_jobs(dbs: Databases, *, job_ids: list[int] | None = None, req_ids: list[int] | None = None,
                dep_ids: list[int] | None = None, faults: list[int] | None = None,
                states: list[str] | None = None, labels: list[str] | None = None,
                min_fault_count: int | None = None, set_state: str | None = None,
                set_fault: int | None = None, dry_run: bool = False, confirm=None,
                audit_detail: dict | None = None) -> WritePlan:
    """pstamptool -updatejob: set the state and/or the fault of the selected jobs
    (a fault also counts one more in fault_count). Selectors: job, request and
    dependent ids, the job's fault and state, fault_count >= N, request label LIKE."""
    if not (job_ids or req_ids or dep_ids or min_fault_count):
        raise UsageError("at least one of -job_id -req_id -dep_id or -fault_count is required")
    if set_state is None and not set_fault:
        raise UsageError("at least one of -set_state and -set_fault is required")
    new_state = JobState(set_state) if set_state is not None else None
    req, job = _t("pstampRequest"), _t("pstampJob")

    def selection():
        conds = []
        for col, vals in ((job.c.job_id, job_ids), (job.c.req_id, req_ids), (job.c.dep_id, dep_ids),
                          (job.c.fault, faults), (job.c.state, states)):
            if vals:
                conds.append(eq_any(col, list(vals)))
        if min_fault_count:
            conds.append(job.c.fault_count >= int(min_fault_count))
        if labels:
            conds.append(like_any(req.c.label, list(labels)))
        return conds

    def plan(conn) -> WritePlan:
        rows = conn.execute(select(job.c.job_id, job.c.req_id, job.c.state, job.c.fault, job.c.fault_count)
                            .select_from(component_join(_REQUEST)).where(*selection())
                            .order_by(job.c.job_id)).all()
        return WritePlan(action="update jobs", rows={"pstampJob": len(rows)} if rows else {},
                         sample=[dict(r._mapping) for r in rows[:20]],
                         keys=frozenset(int(r.job_id) for r in rows), title="jobs")

    def apply(conn, fresh: WritePlan):
        values = _state_fault_values(job, new_state, set_fault)
        n = 0
        for ids in chunks(sorted(fresh.keys), 1000):
            n += conn.execute(update(job).where(job.c.job_id.in_(ids)).values(**values)).rowcount or 0
        fresh.rows = {"pstampJob": n}
        return n, dict(audit_detail or {}, set_state=set_state, set_fault=set_fault)

    return execute(dbs, "pstamp-req.update-jobs", plan, apply, dry_run=dry_run, confirm=confirm,
                   pstamp_db=True)


def _state_fault_values(table, new_state, set_fault: int | None) -> dict[str, Any]:
    """The SET of a stamp job/dependent update: the state, and a fault counted once more."""
    values: dict[str, Any] = {}
    if new_state is not None:
        values["state"] = new_state
    if set_fault:
        values.update(fault=int(set_fault), fault_count=table.c.fault_count + 1)
    return values


def update_dependent(dbs: Databases, dep_id: int, *, set_state: str | None = None,
                     set_fault: int | None = None, dry_run: bool = False, confirm=None,
                     audit_detail: dict | None = None) -> WritePlan:
    """pstamptool -updatedependent: set the state and/or fault of one dependent (a
    fault also counts one more in fault_count); it must change exactly one row."""
    if set_state is None and not set_fault:
        raise UsageError("at least one of -set_state or -set_fault is required")
    new_state = DependentState(set_state) if set_state is not None else None
    dep = _t("pstampDependent")

    def plan(conn) -> WritePlan:
        conds = [dep.c.dep_id == int(dep_id)]
        if not set_fault:
            conds.append(or_(dep.c.state.is_(None), dep.c.state != new_state))
        rows = conn.execute(select(dep.c.dep_id, dep.c.state, dep.c.fault, dep.c.fault_count)
                            .where(*conds)).all()
        if len(rows) != 1:
            raise NotFound(f"should have affected one row but {len(rows)} rows were modified "
                           f"(dep_id {dep_id})")
        return WritePlan(action="update dependent", rows={"pstampDependent": 1},
                         sample=[dict(r._mapping) for r in rows], keys=frozenset([int(dep_id)]),
                         title="dependents")

    def apply(conn, fresh: WritePlan):
        values = _state_fault_values(dep, new_state, set_fault)
        n = conn.execute(update(dep).where(dep.c.dep_id == int(dep_id)).values(**values)).rowcount or 0
        fresh.rows = {"pstampDependent": n}
        return n, dict(audit_detail or {}, dep_id=int(dep_id), set_state=set_state, set_fault=set_fault)

    return execute(dbs, "pstamp-req.update-dependent", plan, apply, dry_run=dry_run, confirm=confirm,
                   pstamp_db=True)
