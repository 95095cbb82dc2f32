"""The czar's early-morning check in one report.

Per target and stage (chip, cam, warp, diff, publish): total, done, pending,
faulted and bad-quality runs of the night; then every problem that needs a
hand. Each problem either has a ``fix`` (a runnable mopstool command that
clears it, carrying the user's connection options) or is marked ``person``
(needs a person) with what to look at. Problem kinds, in the order a czar
works through them:

* ``no_exposures``: the night has no exposure at all (failed ingest, wrong database);
* ``fault``: a faulted component of a target exposure of the night or of the
  nights before (``[czar] lookback_nights``): revert, fixbroken, or a person;
* ``publish_fault``: a publish attempt that failed (``revert publish``);
* ``processing``: a visit not processed yet: never defined (definebyquery),
  or stuck in the pipeline (a person);
* ``lost_visit``: a visit lost for good whose recovery pairs are not defined;
* ``missing_diff``: a regular, desperate or warp-stack diff the plan needs;
* ``undiffable``: a pair whose warps share no usable skycell (a person);
* ``unplanned_diff``: a diff of the night's field the plan does not have (a
  ``.multi`` diff made within the night, a second diff of a pair): never
  publish it; it is dropped, or, once published, needs a person;
* ``ws_never``: warp-stack diffs that can never be made (no template stack,
  filter outside ws_filters), once per target and filter, with why;
* ``unpublished``: finished nightly diffs with no publishRun (``publish --night``);
* ``pstamp_backlog`` / ``pstamp_unreadable``: MOPS stamp requests stuck in the
  stamp server's parse queue (the ``pstamp-req backlog`` computation), or a
  stamp database that cannot be read.

Problems with the same fix form one group: one command clears the group.
Every query is set-based over the night, so the number of statements does not
grow with the number of fields.
"""

from __future__ import annotations

import shlex
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import case, func, select
from sqlalchemy.exc import DBAPIError

from mopstool.config import Config
from mopstool.db import Databases, schema
from mopstool.errors import MopsError
from mopstool.ops.nightly.diffpairs import (
    DESPERATE, EXTRA, PLANNED, REGULAR, UNPLANNED, WAITING, WS, DiffPlan, _dbname, _ws_filter_ok,
    plan_diffpairs, publish_data_groups, publish_labels, unpublished_query,
)
from mopstool.ops.nightly.visits import (
    DONE_STATES, FINAL_LOST, PROCESSING, NightData, like_match, load_night, night_exposure_census,
    survey_names, utcnow,
)
from mopstool.stages import STAGES, stages_that
from mopstool.stages.vocab import CLEANUP_PENDING_STATES, RequestState, State
from mopstool.util import chunks


def fault_stages() -> tuple[str, ...]:
    """The stages whose faults the czar reports (the "nightfaults" capability)."""
    return stages_that("nightfaults")


PROBLEM_KINDS = ("no_exposures", "fault", "publish_fault", "processing", "lost_visit", "missing_diff",
                 "undiffable", "unplanned_diff", "ws_never", "unpublished", "pstamp_backlog",
                 "pstamp_unreadable")
#: ids named one by one in a grouped revert; more: the night and label instead
MAX_LISTED_IDS = 10


from mopstool.ops.commands import command_prefix, quote as _q  # noqa: E402,F401  (re-exported)


def compact_ids(ids: Iterable[Any]) -> str:
    """1,2,3,5,7,8 -> '1-3,5,7-8' (non-integers listed as they are)."""
    nums = sorted({int(i) for i in ids if isinstance(i, int) or str(i).isdigit()})
    other = sorted({str(i) for i in ids if i is not None and not (isinstance(i, int) or str(i).isdigit())})
    out: list[str] = []
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ",".join(out + other)


def _blank() -> dict[str, int]:
    return {"total": 0, "done": 0, "pending": 0, "faulted": 0, "bad_quality": 0}


def _count(bucket: dict[str, int], *, state: str | None, faulted: bool, bad: bool) -> None:
    """A run in the stage table: dropped runs are finished (and bad), not pending."""
    bucket["total"] += 1
    dropped = state == State.DROP
    if faulted and not dropped:
        bucket["faulted"] += 1
    elif dropped or state in DONE_STATES:
        bucket["done"] += 1
    else:
        bucket["pending"] += 1
    if bad or dropped:
        bucket["bad_quality"] += 1


def _in_parts(col, ids: list[int], size: int = 5000):
    from sqlalchemy import or_

    parts = [col.in_(part) for part in chunks(ids, size)]
    return parts[0] if len(parts) == 1 else or_(*parts)


def diff_stats(conn, diff_ids: list[int]) -> dict[int, dict]:
    if not diff_ids:
        return {}
    ds = schema.diffSkyfile
    q = (select(ds.c.diff_id, func.count().label("n"),
                func.sum(case((func.coalesce(ds.c.fault, 0) != 0, 1), else_=0)).label("faulted"),
                func.sum(case((ds.c.quality != 0, 1), else_=0)).label("bad_quality"),
                func.sum(ds.c.sources).label("sources"))
         .where(_in_parts(ds.c.diff_id, diff_ids)).group_by(ds.c.diff_id))
    return {r.diff_id: dict(r._mapping) for r in conn.execute(q)}


def publish_rows(conn, diff_ids: list[int]) -> list[dict]:
    """publishRuns of these diffs only (the indexed stage_id lookup, never every
    publishRun of the client)."""
    if not diff_ids:
        return []
    pr, pc, pd = schema.publishRun, schema.publishClient, schema.publishDone
    q = (select(pr.c.pub_id, pr.c.client_id, pr.c.stage_id, pr.c.label, pr.c.state, pd.c.fault)
         .select_from(pr.join(pc, pc.c.client_id == pr.c.client_id).outerjoin(pd, pd.c.pub_id == pr.c.pub_id))
         .where(pc.c.stage == "diff", _in_parts(pr.c.stage_id, diff_ids)))
    return [dict(r._mapping) for r in conn.execute(q)]


def stamp_backlog_problems(dbs: Databases, cfg: Config) -> tuple[list[dict], list[dict]]:
    """MOPS stamp requests stuck in the parse queue, from the one backlog
    computation of ``pstamp-req backlog`` (Label priority, Label.active,
    fault 0): a MOPS label whose first waiting request is further back than
    the parse limit. Also returns the checks that could not be made
    ({check, why}), for czar's ``skipped`` list."""
    from mopstool.ops.pstamp.backlog import backlog

    limit = int(cfg.get("pstamp.parse_limit", 20) or 20)
    patterns = cfg.get("czar.pstamp_mops_labels", ["MOPS%", "ps_ud_MOPS%"]) or []
    try:
        b = backlog(dbs, parse_limit=limit)
    except (MopsError, DBAPIError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return [{"kind": "pstamp_unreadable", "stage": "pstamp-request", "id": None, "component": None,
                 "fault": None, "meaning": f"the stamp database cannot be read: {msg}",
                 "fix": None, "person": "check --pstamp-db (or the site's PS_DBNAME/PS_DBSERVER) and that "
                                        "the stamp database has the pstamp tables ('mopstool db check')",
                 "target": None, "night": None, "chunk": None}], \
            [{"check": "pstamp_backlog", "why": f"the stamp database cannot be read: {msg}"}]
    skipped = [] if b.label_table else [
        {"check": "pstamp_label_priority",
         "why": "the stamp database has no Label table: the parse queue is taken in req_id order, "
                "without label priorities or inactive labels"}]
    out = []
    for g in b.rows:
        if g["state"] != RequestState.NEW or not g.get("wait_parse") or not any(like_match(p, g["label"]) for p in patterns):
            continue
        pos = g.get("queue_position") or 0
        if pos <= b.parse_limit:
            continue
        ahead = {k: v for k, v in (g.get("behind") or {}).items() if k != str(g["label"])}
        who = ", ".join(f"{v} {k}" for k, v in ahead.items()) or f"{pos - 1} requests"
        out.append({"kind": "pstamp_backlog", "stage": "pstamp-request", "id": None,
                    "component": g["label"], "fault": None,
                    "meaning": f"{g['wait_parse']} {g['label']} stamp requests wait to parse at position {pos} "
                               f"of {b.parse_queue}, behind {who} (parse limit {b.parse_limit})",
                    "fix": None,
                    "person": "see 'pstamp-req backlog'; raise the label's priority in the stamp "
                              "database's Label table, or stop the requests ahead",
                    "target": None, "night": None, "chunk": None})
    return out, skipped


def _problem(kind: str, *, stage: str | None, id: Any, component: Any, meaning: str, target: str | None,
             night: str | None, chunk: str | None = None, fault: int | None = None, fix: str | None = None,
             person: str | None = None, **extra) -> dict:
    p = {"kind": kind, "stage": stage, "id": id, "component": component, "fault": fault, "meaning": meaning,
         "fix": fix, "person": person, "target": target, "night": night, "chunk": chunk}
    p.update(extra)
    return p


def _reads_diffs(stage: str) -> bool:
    """A stage downstream of diff (publish): its runs reach an exposure through a diff."""
    st = STAGES[stage]
    return bool(st.parent) and st.parent[0] == "diff"


def _exposure_of(nd: NightData, stage: str, run_id: int, pub_to_diff: dict[int, int],
                 diff_exp: dict[int, int]) -> int | None:
    """The exposure of a faulted run: the chain stages by their run id, a diff by
    its input warp, a stage reading diffs (publish) through its diff."""
    if (stage, run_id) in nd.run_exp:
        return nd.run_exp[(stage, run_id)]
    if _reads_diffs(stage):
        return diff_exp.get(pub_to_diff.get(run_id))
    return diff_exp.get(run_id)  # the diffs of the night (diff_exp holds diff ids only)


def _fault_problems(nd: NightData, night: date, pub_to_diff: dict[int, int],
                    diff_exp: dict[int, int], retired_label: str = str(State.GOTO_CLEANED)) -> list[dict]:
    """Fault problems of the night's target exposures. Runs sent to cleanup
    (goto_cleaned/purged/scrubbed, or relabelled goto_cleaned as cleanup and
    fixbroken finish do) are retired: their faults need nothing more."""
    from mopstool.ops.runs.faults import fix_kind

    out = []
    for f in nd.faults:
        if f["state"] in CLEANUP_PENDING_STATES or (f.get("label") and f["label"] == retired_label):
            continue
        exp = _exposure_of(nd, f["stage"], f["id"], pub_to_diff, diff_exp)
        e = nd.exp_by_id.get(exp)
        if e is None:
            continue
        when = "" if nd.night == night else f"night {nd.night}: "
        how = fix_kind(f["stage"], f["state"], f["fault"])
        kind = "publish_fault" if _reads_diffs(f["stage"]) else "fault"
        out.append(_problem(kind, stage=f["stage"], id=f["id"], component=f["component"], fault=f["fault"],
                            meaning=when + f["meaning"], target=e.target, night=nd.night.isoformat(),
                            chunk=e.chunk, how=how, run_state=f["state"], label=f.get("label"),
                            exp_name=e.exp_name))
    return out


def _mark_fixes_in_progress(dbs: Databases, problems: list[dict]) -> None:
    """Fault-26 problems that fixbroken is already repairing point at its finish."""
    gone = [p for p in problems if p.get("fault") == 26]
    if not gone:
        return
    from mopstool.ops.disk.fixnotes import open_replacements

    with dbs.connect() as conn:
        open_fixes = open_replacements(conn, {(p["stage"], p["id"]) for p in gone})
    for p in gone:
        repl = open_fixes.get((p["stage"], p["id"]))
        if repl is not None:
            p["meaning"] += f"; repair in progress (replacement chip run {repl})"
            p["how"] = "fixbroken-finish"


def _plan_problems(cfg: Config, plan: DiffPlan, night: date, dbname: str,
                   published: set[int]) -> list[dict]:
    nd = plan.data
    by_field: dict[tuple, list] = {}
    for p in plan.pairs:
        by_field.setdefault((p.target, p.object or "", p.chunk, p.filter or ""), []).append(p)
    out = []
    n = night.isoformat()
    ws_never: dict[tuple, dict] = {}
    for g in nd.groups(None):
        tcfg = nd.targets[g.target]
        pairs = by_field.get(g.key, [])
        where = f"{g.target} {g.object} ({g.chunk}, {g.filter})"
        common = dict(target=g.target, night=n, chunk=g.chunk)
        for v in g.visits.values():
            if v.status != PROCESSING:
                continue
            e = v.exposure
            first = e.chain[0]       # the stage a visit starts with (chip: definebyquery)
            if e.run(first).id is None:
                out.append(_problem("processing", stage=first, id=None, component=f"{g.object} visit {v.visit}",
                                    meaning=f"{where} visit {v.visit} ({e.exp_name}) has no {first} run",
                                    how="define", exp_name=e.exp_name, **common))
            else:
                out.append(_problem("processing", stage=v.stage or first, id=v.run_id,
                                    component=f"{g.object} visit {v.visit}",
                                    meaning=f"{where} visit {v.visit} ({e.exp_name}) not processed yet: "
                                            f"{v.reason}",
                                    person=f"the pipeline has not finished {v.stage} run {v.run_id}: see "
                                           f"'show {v.stage} {v.run_id}'; is its label blocked or inactive "
                                           "('labels list')?", **common))
        # unplanned diffs are reported whatever the field's state
        for p in pairs:
            if p.kind != EXTRA or p.status != UNPLANNED:
                continue
            base = dict(stage="diff", id=p.diff_id, component=f"{g.object} {p.input_visit}-{p.template_visit}",
                        **common)
            advice = ("never publish it (MOPS would get duplicate detections); .multi diffs come from the "
                      "multi-date nightly task, which must not run within the night (turn it off in "
                      "nightly_science/pantasks), other extra diffs from a hand-made difftool call")
            if p.diff_id in published:
                out.append(_problem("unplanned_diff", meaning=f"{where}: {p.note}; it was PUBLISHED", **base,
                                    person=f"remove fileset pub.*.diff.{p.diff_id} from the MOPS DataStore "
                                           f"(dsreg --del) and tell MOPS; {advice}"))
            else:
                out.append(_problem("unplanned_diff", meaning=f"{where}: {p.note}; {advice}", **base,
                                    how="drop"))
        if tcfg.get("ws") and not _ws_filter_ok(tcfg, g.filter) and any(
                v.status == "ok" for v in g.visits.values()):
            k = (g.target, g.filter, "filter")
            w = ws_never.setdefault(k, {"fields": [], "why": f"filter {g.filter} is not in ws_filters "
                                                             f"{tcfg.get('ws_filters')} (no template stacks)"})
            w["fields"].append(g.object)
        for p in pairs:
            if p.kind == WS and p.status == WAITING and p.note.startswith("no full template stack"):
                k = (g.target, g.filter, "stack")
                label = tcfg.get("ws_stack_label") or f"{g.target}.refstack"
                w = ws_never.setdefault(k, {"fields": [], "skycells": set(),
                                            "why": f"no full template stack {label} in {g.filter}"})
                w["fields"].append(g.object)
                w["skycells"].add(p.skycell_id)
        if g.pending:
            continue  # the fault or processing problem comes first; the field waits for it
        ww = [p for p in pairs if p.kind in (REGULAR, DESPERATE) and p.status == PLANNED]
        for p in ww:
            if not p.skycells:
                out.append(_problem(
                    "undiffable", stage="diff", id=None,
                    component=f"{g.object} {p.kind} {p.input_visit}-{p.template_visit}",
                    meaning=f"{where}: visits {p.input_visit}-{p.template_visit} ({p.input.exp_name}, "
                            f"{p.template.exp_name}): {p.note}",
                    person=f"look at the skycells of warps {p.input.warp_id} and {p.template.warp_id} "
                           f"('show warp {p.input.warp_id}', 'show warp {p.template.warp_id}'): bad warps or "
                           "pointings that do not overlap", **common))
        definable = [p for p in ww if p.skycells]
        lost = [g.visits[k] for k in g.numbers(FINAL_LOST)]
        des = any(p.kind == DESPERATE for p in definable)
        if lost and definable:
            alts = ", ".join(f"{p.input_visit}-{p.template_visit}" for p in definable)
            for v in lost:
                e = v.exposure
                out.append(_problem("lost_visit", stage=v.stage or "exposure",
                                    id=v.run_id if v.run_id is not None else (e.exp_id if e else None),
                                    component=f"{g.object} visit {v.visit}",
                                    meaning=f"{where} visit {v.visit} {v.status} ({v.reason}); pairs {alts} "
                                            "not defined", how="define-desperate" if des else "define-regular",
                                    **common))
        else:
            for p in definable:
                out.append(_problem("missing_diff", stage="diff", id=None,
                                    component=f"{g.object} {p.kind} {p.input_visit}-{p.template_visit}",
                                    meaning=f"{where}: {p.kind} diff of visits {p.input_visit}-"
                                            f"{p.template_visit} ({p.input.exp_name}, {p.template.exp_name}) "
                                            "not defined",
                                    how="define-desperate" if p.kind == DESPERATE else "define-regular",
                                    **common))
        ws_missing: dict[int, list] = {}
        for p in pairs:
            if p.kind == WS and p.status == PLANNED:
                ws_missing.setdefault(p.input_visit, []).append(p)
        for visit, ps in sorted(ws_missing.items()):
            out.append(_problem("missing_diff", stage="diff", id=None, component=f"{g.object} visit {visit} "
                                                                                  "warp-stack",
                                meaning=f"{where} visit {visit} ({ps[0].input.exp_name}): {len(ps)} warp-stack "
                                        f"diffs not defined ({', '.join(p.skycell_id for p in ps)})",
                                how="define-ws", **common))
    for (target, flt, _why), w in ws_never.items():
        cells = f" for {len(w['skycells'])} skycells" if w.get("skycells") else ""
        out.append(_problem("ws_never", stage="diff", id=None, component=f"{target} {flt}",
                            meaning=f"{target} {flt}: warp-stack diffs of {len(set(w['fields']))} fields can "
                                    f"never be made: {w['why']}{cells}",
                            person="build or name the template stacks ([targets." + target + "] ws_stack_label, "
                                   "ws_filters), or accept that these fields get no warp-stack diffs",
                            target=target, night=n, chunk=None))
    return out


def _assign_fixes(problems: list[dict], cfg: Config, night: date, prefix: str, dbname: str, *,
                  targets: list[str] | None, chunk: str | None) -> None:
    """Give every problem the one command that clears its whole group (or
    leave it to a person): reverts per stage and night with the run ids (or
    night + labels when many), one diffpairs --define for all missing pairs,
    one publish --night, definebyquery per target with the exposure names."""
    n = night.isoformat()
    scope = "".join(f" --target {_q(t)}" for t in (targets or [])) + (f" --chunk {_q(chunk)}" if chunk else "")
    defines = {p["how"] for p in problems if p.get("how", "").startswith("define-")}
    if defines:
        opts = (" --desperate" if "define-desperate" in defines else "") + \
               (" --ws" if "define-ws" in defines else "")
        define_cmd = f"{prefix} diffpairs --define{opts} --night {n}{scope} --yes"
    by_rev: dict[tuple, list[dict]] = {}
    by_gone: dict[str, list[dict]] = {}
    by_drop: list[dict] = []
    by_def: dict[tuple, list[dict]] = {}
    for p in problems:
        how = p.pop("how", None)
        if p["fix"] or p["person"]:
            continue
        if how == "revert":
            by_rev.setdefault((p["stage"], p["night"]), []).append(p)
        elif how == "fixbroken":
            by_gone.setdefault(p["stage"], []).append(p)
        elif how == "fixbroken-finish":
            p["fix"] = f"{prefix} fixbroken finish --yes"
        elif how == "inspect" or how == "none":
            p["person"] = (f"run in state {p.get('run_state')}: nothing to revert; see "
                           f"'show {p['stage']} {p['id']}' and its log")
        elif how and how.startswith("define-"):
            p["fix"] = define_cmd
        elif how == "define":
            by_def.setdefault((p["target"], p["night"]), []).append(p)
        elif how == "drop":
            by_drop.append(p)
        elif p["kind"] == "unpublished":
            label = "".join(f" --label {_q(lab)}" for lab in p.pop("labels", []))
            p["fix"] = f"{prefix} publish --night {p['night']}{label} --yes"
    for (stage, nn), ps in by_rev.items():
        ids = sorted({p["id"] for p in ps})
        if len(ids) <= MAX_LISTED_IDS:
            sel = "".join(f" --id {i}" for i in ids)
        else:
            sel = f" --night {nn}" + "".join(f" --label {_q(lab)}" for lab in sorted({p['label'] for p in ps
                                                                                     if p.get("label")}))
        for p in ps:
            p["fix"] = f"{prefix} revert {stage}{sel} --yes"
    for stage, ps in by_gone.items():
        opt = STAGES[stage].id_option
        sel = "".join(f" {opt} {i}" for i in sorted({p["id"] for p in ps}))
        for p in ps:
            p["fix"] = f"{prefix} fixbroken{sel} --yes"
    if by_drop:
        sel = "".join(f" --id {i}" for i in sorted({p["id"] for p in by_drop}))
        for p in by_drop:
            p["fix"] = f"{prefix} updaterun diff{sel} --set-state drop --yes"
    for (target, nn), ps in by_def.items():
        tcfg = cfg.targets()[target]
        names = survey_names(cfg, target, date.fromisoformat(nn), dbname=dbname)
        exps = "".join(f" --exp-name {_q(p['exp_name'])}" for p in ps)
        red = tcfg.get("reduction")
        fix = (f"{prefix} definebyquery{exps} --set-label {_q(names['label'])} "
               f"--set-data-group {_q(names['data_group'])} --set-workdir {_q(names['workdir'])} "
               f"--set-dist-group {_q(str(tcfg.get('dist_group') or target))} "
               + (f"--set-reduction {_q(red)} " if red else "")
               + f"--set-tess-id {_q(str(cfg.get('survey.tess_id', 'RINGS.V3')))} --set-end-stage warp --yes")
        for p in ps:
            p["fix"] = fix
    for p in problems:
        if not p["fix"] and not p["person"]:  # pragma: no cover - every kind is handled above
            p["person"] = "no command clears this; look at " + str(p["meaning"])


def group_problems(problems: list[dict]) -> list[dict]:
    """Problems with the same fix (or, for a person, the same kind and advice)
    as one group: one command per group, the ids compactly."""
    groups: dict[tuple, dict] = {}
    for p in problems:
        key = ("fix", p["fix"]) if p["fix"] else ("person", p["kind"], p["person"])
        g = groups.get(key)
        if g is None:
            g = groups[key] = {"kind": p["kind"], "kinds": [], "fix": p["fix"], "person": p["person"],
                               "count": 0, "targets": [], "stages": [], "ids": [], "meanings": []}
        g["count"] += 1
        if p["kind"] not in g["kinds"]:
            g["kinds"].append(p["kind"])
        for k, v in (("targets", p["target"]), ("stages", p["stage"])):
            if v is not None and v not in g[k]:
                g[k].append(v)
        if p["id"] is not None:
            g["ids"].append(p["id"])
        g["meanings"].append(p["meaning"])
    out = []
    for g in groups.values():
        g["ids_compact"] = compact_ids(g["ids"])
        out.append(g)
    return out


def czar_report(dbs: Databases, cfg: Config, night: date, *, now: datetime | None = None,
                prefix: str = "mopstool", targets: list[str] | None = None,
                chunk: str | None = None, data: NightData | None = None) -> dict[str, Any]:
    """The morning report of *night* (optionally only some targets / one chunk).
    *data*: the night already loaded with load_night(fault_stages=fault_stages(),
    stats=True, diffs=True), to share it with another report."""
    from mopstool.ops.nightly.visits import target_names

    now = now or utcnow()
    want = set(target_names(cfg, targets, diffable_only=False)) if targets else None
    lookback = int(cfg.get("czar.lookback_nights", 1) or 0)
    nights = [night - timedelta(days=i) for i in range(lookback + 1)]
    census = night_exposure_census(dbs, cfg, night)
    nd = data or load_night(dbs, cfg, night, fault_stages=fault_stages(), stats=True, diffs=True)
    plan = plan_diffpairs(dbs, cfg, night, ws=True, now=now, data=nd, desperate=True)
    older = [load_night(dbs, cfg, n, fault_stages=fault_stages(), stats=False, diffs=True)
             for n in nights[1:]]
    dbname = _dbname(dbs, cfg)
    diff_exp: dict[int, int] = {}
    for src in [nd] + older:
        for d in src.diffs:
            w = d["warp1"] if d["warp1"] is not None else d["warp2"]
            exp = src.run_exp.get(("warp", w))
            if exp is not None and d["diff_id"] not in diff_exp:
                diff_exp[d["diff_id"]] = exp
    all_diff_ids = sorted(diff_exp)
    night_diff_ids = sorted({d["diff_id"] for d in nd.diffs if d["diff_id"] in diff_exp})
    unplanned_ids = {p.diff_id for p in plan.pairs if p.status == UNPLANNED}
    with dbs.connect() as conn:
        dstats = diff_stats(conn, night_diff_ids)
        pubs = publish_rows(conn, all_diff_ids)
        unpublished = [dict(r._mapping) for r in conn.execute(unpublished_query(
            diff_ids=night_diff_ids, labels=publish_labels(cfg, night),
            data_groups=publish_data_groups(cfg, night), exclude_ids=unplanned_ids))] if night_diff_ids else []
    backlog_problems, skipped = stamp_backlog_problems(dbs, cfg)

    # --- per target and stage
    stages = {t: {s: _blank() for s in stages_that("nightly")} for t in nd.targets}
    faulted_runs = {(f["stage"], f["id"]) for f in nd.faults}
    for e in nd.exposures:
        if chunk is not None and e.chunk != chunk:
            continue
        st = stages[e.target]
        # the exposure's runs of the stages counted here (chip, cam, warp): a fault of the
        # run's one component row (camera) or of its components, bad quality likewise
        for name in e.chain:
            r = e.run(name)
            if name not in st or r.id is None:
                continue
            cs = nd.stats.get(name, {}).get(r.id, {})
            _count(st[name], state=r.state, faulted=bool(r.fault) or (name, r.id) in faulted_runs,
                   bad=bool(r.quality) or bool(cs.get("bad_quality")))
    diff_state: dict[int, dict] = {}
    for d in nd.diffs:
        if d["diff_id"] in diff_exp and d["diff_id"] not in diff_state:
            diff_state[d["diff_id"]] = d
    pub_to_diff = {p["pub_id"]: p["stage_id"] for p in pubs}
    pub_by_diff: dict[int, list[dict]] = {}
    for p in pubs:
        pub_by_diff.setdefault(p["stage_id"], []).append(p)
    to_publish = set(publish_data_groups(cfg, night))
    for diff_id, d in diff_state.items():
        e = nd.exp_by_id[diff_exp[diff_id]]
        if chunk is not None and e.chunk != chunk:
            continue
        s = dstats.get(diff_id, {})
        if diff_id in unplanned_ids:
            continue
        _count(stages[e.target]["diff"], state=d["state"], faulted=bool(s.get("faulted")),
               bad=bool(s.get("bad_quality")))
        runs = pub_by_diff.get(diff_id, [])
        if not runs and d["data_group"] not in to_publish:
            continue
        _count(stages[e.target]["publish"],
               state=State.FULL if runs and all(p["state"] == State.FULL for p in runs) else State.NEW,
               faulted=any(p["fault"] for p in runs), bad=False)

    # --- problems
    n = night.isoformat()
    problems: list[dict] = []
    if census["total"] == 0:
        problems.append(_problem("no_exposures", stage="exposure", id=None, component=None,
                                 meaning=f"no exposures registered for {n}",
                                 person="a failed ingest (summit copy, registration) or the wrong database: "
                                        "check --db / --dbname and 'runs chip --night " + n + "'",
                                 target=None, night=n))
    retired = str(cfg.get("cleanup.set_label", State.GOTO_CLEANED) or State.GOTO_CLEANED)
    problems += _fault_problems(nd, night, pub_to_diff, diff_exp, retired)
    for o in older:
        problems += _fault_problems(o, night, pub_to_diff, diff_exp, retired)
    _mark_fixes_in_progress(dbs, problems)
    problems += _plan_problems(cfg, plan, night, dbname, published=set(pub_by_diff))
    seen = set()
    for u in unpublished:
        if u["diff_id"] in seen or u["diff_id"] not in diff_exp:
            continue
        seen.add(u["diff_id"])
        e = nd.exp_by_id[diff_exp[u["diff_id"]]]
        problems.append(_problem("unpublished", stage="diff", id=u["diff_id"], component=u["client"],
                                 meaning=f"diff {u['diff_id']} ({u['label']}, {u['state']}) is finished but not "
                                         f"published (client {u['client']})",
                                 target=e.target, night=n, chunk=e.chunk,
                                 labels=[survey_names(cfg, t, night)["label"] for t in sorted(want)]
                                 if want else []))
    problems += backlog_problems
    # the selection: --target and --chunk keep their own problems (and the night-wide ones)
    if want is not None:
        problems = [p for p in problems if p["target"] is None or p["target"] in want]
    if chunk is not None:
        problems = [p for p in problems if p["chunk"] is None or p["chunk"] == chunk]
    _assign_fixes(problems, cfg, night, prefix, dbname, targets=sorted(want) if want else None, chunk=chunk)
    order = {k: i for i, k in enumerate(PROBLEM_KINDS)}
    torder = {t: i for i, t in enumerate(nd.targets)}
    problems.sort(key=lambda p: (order.get(p["kind"], 99), torder.get(p["target"], 99),
                                 p["night"] != n, str(p["component"])))
    notes = list(plan.notes)
    gate = plan.summit_gate or {}
    if not gate.get("evaluated", True):
        why = (gate.get("note") or "not evaluated").replace("summit gate not evaluated: ", "")
        skipped = [{"check": "summit_gate", "why": why}] + skipped
    warnings = []
    for mode, cnt in sorted(census["unmatched"].items()):
        warnings.append(f"{cnt} science exposures of {n} with obs_mode {mode} match no target: "
                        "not checked (add a [targets.NAME] if they are MOPS fields)")
    shown = [t for t in nd.targets if want is None or t in want]
    return {"night": n,
            "status": "attention" if problems else "clean",
            "targets": [{"target": t, "stages": stages[t]} for t in shown],
            "problems": problems,
            "groups": group_problems(problems),
            "warnings": warnings,
            "skipped": skipped,
            "notes": notes}
