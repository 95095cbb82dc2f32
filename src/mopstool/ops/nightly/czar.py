"""The czar's early-morning check in one report.

Per target and stage (chip, cam, warp, diff, publish): total, done, pending,
faulted and bad-quality runs of the night; then every problem that needs a
hand, each with its meaning and a runnable mopstool command that fixes it:

* ``fault``: a faulted component (collect_faults) of a target exposure of the
  night or of the nights before (``[czar] lookback_nights``);
* ``lost_visit``: a visit lost for good whose alternate diffs are not defined;
* ``processing``: a visit still not processed, with no fault to clear;
* ``missing_diff``: a regular or warp-stack diff the plan needs but nobody made;
* ``unpublished``: a finished nightly diff with no publishRun;
* ``pstamp_backlog``: MOPS stamp requests waiting to parse behind other labels.

Every query is set-based over the night, so the number of statements does not
grow with the number of fields.
"""

from __future__ import annotations

import shlex
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.exc import DBAPIError

from mopstool.config import Config
from mopstool.db import Databases, schema
from mopstool.errors import MopsError
from mopstool.ops.nightly.diffpairs import (
    DESPERATE, PLANNED, REGULAR, WAITING, WS, DiffPlan, night_diff_ids, plan_diffpairs,
    publish_labels, unpublished_query,
)
from mopstool.ops.nightly.visits import (
    DONE_STATES, FINAL_LOST, PROCESSING, NightData, like_match, load_night, survey_names, utcnow,
)
from mopstool.stages import NIGHTLY_STAGES

ALL_FAULT_STAGES = ("chip", "cam", "fake", "warp", "diff", "publish")
PROBLEM_KINDS = ("fault", "processing", "lost_visit", "missing_diff", "unpublished", "pstamp_backlog")


def _q(v: str) -> str:
    return shlex.quote(v)


def _blank() -> dict[str, int]:
    return {"total": 0, "done": 0, "pending": 0, "faulted": 0, "bad_quality": 0}


def _count(bucket: dict[str, int], *, done: bool, faulted: bool, bad: bool) -> None:
    bucket["total"] += 1
    if faulted:
        bucket["faulted"] += 1
    elif done:
        bucket["done"] += 1
    else:
        bucket["pending"] += 1
    if bad:
        bucket["bad_quality"] += 1


def _diff_stats(conn, nights: list[date]) -> dict[int, dict]:
    ds = schema.diffSkyfile
    ids = [night_diff_ids(n) for n in nights]
    q = (select(ds.c.diff_id, func.count().label("n"),
                func.sum(case((func.coalesce(ds.c.fault, 0) != 0, 1), else_=0)).label("faulted"),
                func.sum(case((ds.c.quality != 0, 1), else_=0)).label("bad_quality"))
         .where(or_(*[ds.c.diff_id.in_(i) for i in ids])).group_by(ds.c.diff_id))
    return {r.diff_id: dict(r._mapping) for r in conn.execute(q)}


def _publish_rows(conn, nights: list[date]) -> list[dict]:
    pr, pc, pd = schema.publishRun, schema.publishClient, schema.publishDone
    ids = [night_diff_ids(n) for n in nights]
    q = (select(pr.c.pub_id, pr.c.client_id, pr.c.stage_id, pr.c.label, pr.c.state, pd.c.fault)
         .select_from(pr.join(pc, pc.c.client_id == pr.c.client_id).outerjoin(pd, pd.c.pub_id == pr.c.pub_id))
         .where(pc.c.stage == "diff", or_(*[pr.c.stage_id.in_(i) for i in ids])))
    return [dict(r._mapping) for r in conn.execute(q)]


def pstamp_backlog(dbs: Databases, cfg: Config) -> dict[str, Any]:
    """Requests waiting to be parsed (state 'new') per label, against the
    stamp server's parse limit, and whether MOPS requests wait behind others."""
    req = schema.table("pstampRequest", pstamp_db=True)
    limit = int(cfg.get("pstamp.parse_limit", 20) or 20)
    patterns = cfg.get("czar.pstamp_mops_labels", ["MOPS%", "ps_ud_MOPS%"]) or []
    q = (select(req.c.label, func.count().label("new"), func.min(req.c.registered).label("oldest"))
         .where(req.c.state == "new").group_by(req.c.label))
    try:
        with dbs.connect(pstamp_db=True) as conn:
            rows = [dict(r._mapping) for r in conn.execute(q)]
    except (MopsError, DBAPIError) as exc:
        return {"parse_limit": limit, "labels": [], "waiting": [], "error": str(exc).splitlines()[0]}
    for r in rows:
        r["mops"] = any(like_match(p, r["label"]) for p in patterns)
    total = sum(r["new"] for r in rows)
    waiting = []
    for r in rows:
        if not r["mops"] or not r["new"]:
            continue
        ahead = [o for o in rows if not o["mops"] and o["oldest"] is not None and r["oldest"] is not None
                 and o["oldest"] <= r["oldest"]]
        n_ahead = sum(o["new"] for o in ahead)
        if n_ahead and total > limit:
            waiting.append({"label": r["label"], "new": r["new"], "ahead": n_ahead,
                            "ahead_labels": sorted(str(o["label"]) for o in ahead)})
    return {"parse_limit": limit, "labels": rows, "total_new": total, "waiting": waiting}


def _fault_problems(nd: NightData, night: date, pub_to_diff: dict[int, int],
                    diff_target: dict[int, str]) -> list[dict]:
    out = []
    for f in nd.faults:
        if f["stage"] == "diff":
            target = diff_target.get(f["id"])
        elif f["stage"] == "publish":
            target = diff_target.get(pub_to_diff.get(f["id"]))
        else:
            exp = nd.run_exp.get((f["stage"], f["id"]))
            target = nd.exp_by_id[exp].target if exp in nd.exp_by_id else None
        if target is None:
            continue
        when = "" if nd.night == night else f"night {nd.night}: "
        out.append({"kind": "fault", "stage": f["stage"], "id": f["id"], "component": f["component"],
                    "fault": f["fault"], "meaning": when + f["meaning"],
                    "fix": f["fix"] or f"mopstool show {f['stage']} {f['id']}",
                    "target": target, "night": nd.night.isoformat()})
    return out


def _mark_fixes_in_progress(dbs: Databases, problems: list[dict]) -> None:
    """Fault-26 problems that fixbroken is already repairing point at its status."""
    gone = [p for p in problems if p.get("fault") == 26]
    if not gone:
        return
    from mopstool.ops.disk.fixbroken import open_replacements

    with dbs.connect() as conn:
        open_fixes = open_replacements(conn, {(p["stage"], p["id"]) for p in gone})
    for p in gone:
        repl = open_fixes.get((p["stage"], p["id"]))
        if repl is not None:
            p["meaning"] += f"; repair in progress (replacement chip run {repl})"
            p["fix"] = "mopstool fixbroken --status && mopstool fixbroken --finish"


def _plan_problems(cfg: Config, plan: DiffPlan, night: date) -> list[dict]:
    nd = plan.data
    by_field: dict[tuple, list] = {}
    for p in plan.pairs:
        by_field.setdefault((p.target, p.object or "", p.chunk, p.filter or ""), []).append(p)
    out = []
    groups = nd.groups(None)
    n = night.isoformat()
    for g in groups:
        tcfg = nd.targets[g.target]
        pairs = by_field.get(g.key, [])
        base = f"mopstool diffpairs --define --night {n} --chunk {_q(g.chunk)}"
        where = f"{g.target} {g.object} ({g.chunk}, {g.filter})"
        # visits still being processed with no fault to clear
        for v in g.visits.values():
            if v.status != PROCESSING:
                continue
            e = v.exposure
            if e.chip_id is None:
                names = survey_names(cfg, g.target, night)
                fix = (f"mopstool definebyquery --exp-name {e.exp_name} --set-label {_q(names['label'])} "
                       f"--set-data-group {_q(names['data_group'])} --set-workdir {_q(names['workdir'])} "
                       f"--set-dist-group {_q(str(tcfg.get('dist_group') or g.target))} "
                       f"--set-reduction {_q(str(tcfg.get('reduction') or 'SWEETSPOT'))} --set-end-stage warp")
            else:
                fix = f"mopstool show {v.stage} {v.run_id}"
            out.append({"kind": "processing", "stage": v.stage or "chip", "id": v.run_id,
                        "component": f"{g.object} visit {v.visit}", "fault": None,
                        "meaning": f"{where} visit {v.visit} ({e.exp_name}) not processed yet: {v.reason}",
                        "fix": fix, "target": g.target, "night": n})
        if g.pending:
            continue  # the fault or processing problem comes first; the field waits for it
        missing_ww = [p for p in pairs if p.kind in (REGULAR, DESPERATE)
                      and (p.status == PLANNED or (p.status == WAITING and p.kind == DESPERATE))]
        lost = [g.visits[k] for k in g.numbers(FINAL_LOST)]
        if lost and missing_ww:
            alts = ", ".join(f"{p.input_visit}-{p.template_visit}" for p in missing_ww)
            for v in lost:
                e = v.exposure
                out.append({"kind": "lost_visit", "stage": v.stage or "exposure",
                            "id": v.run_id if v.run_id is not None else (e.exp_id if e else None),
                            "component": f"{g.object} visit {v.visit}", "fault": None,
                            "meaning": f"{where} visit {v.visit} {v.status} ({v.reason}); pairs {alts} "
                                       "not defined",
                            "fix": base.replace("--define", "--define --desperate"),
                            "target": g.target, "night": n})
        elif missing_ww:
            for p in missing_ww:
                out.append({"kind": "missing_diff", "stage": "diff", "id": None,
                            "component": f"{g.object} {p.kind} {p.input_visit}-{p.template_visit}",
                            "fault": None,
                            "meaning": f"{where}: {p.kind} diff of visits {p.input_visit}-{p.template_visit} "
                                       f"({p.input.exp_name}, {p.template.exp_name}) not defined",
                            "fix": base if p.kind == REGULAR else base.replace("--define", "--define --desperate"),
                            "target": g.target, "night": n})
        ws_missing: dict[int, list] = {}
        for p in pairs:
            if p.kind == WS and p.status == PLANNED:
                ws_missing.setdefault(p.input_visit, []).append(p)
        for visit, ps in sorted(ws_missing.items()):
            out.append({"kind": "missing_diff", "stage": "diff", "id": None,
                        "component": f"{g.object} visit {visit} warp-stack",
                        "fault": None,
                        "meaning": f"{where} visit {visit} ({ps[0].input.exp_name}): {len(ps)} warp-stack "
                                   f"diffs not defined ({', '.join(p.skycell_id for p in ps)})",
                        "fix": base.replace("--define", "--define --ws"), "target": g.target, "night": n})
    return out


def czar_report(dbs: Databases, cfg: Config, night: date, *, now: datetime | None = None) -> dict[str, Any]:
    now = now or utcnow()
    lookback = int(cfg.get("czar.lookback_nights", 1) or 0)
    nights = [night - timedelta(days=i) for i in range(lookback + 1)]
    nd = load_night(dbs, cfg, night, fault_stages=ALL_FAULT_STAGES, stats=True, diffs=True)
    plan = plan_diffpairs(dbs, cfg, night, ws=True, now=now, data=nd)
    older = [load_night(dbs, cfg, n, fault_stages=ALL_FAULT_STAGES, stats=False, diffs=True)
             for n in nights[1:]]
    with dbs.connect() as conn:
        dstats = _diff_stats(conn, [night])
        pubs = _publish_rows(conn, nights)
        unpublished = [dict(r._mapping) for r in conn.execute(
            unpublished_query(night=night, labels=publish_labels(cfg, night)))]
    backlog = pstamp_backlog(dbs, cfg)

    # --- per target and stage
    stages = {t: {s: _blank() for s in NIGHTLY_STAGES} for t in nd.targets}
    faulted_runs = {(f["stage"], f["id"]) for f in nd.faults}
    for e in nd.exposures:
        st = stages[e.target]
        if e.chip_id is not None:
            cs = nd.chip_stats.get(e.chip_id, {})
            _count(st["chip"], done=e.chip_state in DONE_STATES, faulted=("chip", e.chip_id) in faulted_runs,
                   bad=bool(cs.get("bad_quality")))
        if e.cam_id is not None:
            _count(st["cam"], done=e.cam_state in DONE_STATES,
                   faulted=bool(e.cam_fault) or ("cam", e.cam_id) in faulted_runs, bad=bool(e.cam_quality))
        if e.warp_id is not None:
            ws = nd.warp_stats.get(e.warp_id, {})
            _count(st["warp"], done=e.warp_state in DONE_STATES, faulted=("warp", e.warp_id) in faulted_runs,
                   bad=bool(ws.get("bad_quality")))
    diff_target: dict[int, str] = {}
    diff_state: dict[int, str] = {}
    diff_label: dict[int, str] = {}
    for src in [nd] + older:
        for d in src.diffs:
            w = d["warp1"] if d["warp1"] is not None else d["warp2"]
            t = src.target_of_warp(w)
            if t is not None and d["diff_id"] not in diff_target:
                diff_target[d["diff_id"]] = t
                if src is nd:
                    diff_state[d["diff_id"]] = d["state"]
                    diff_label[d["diff_id"]] = d["label"]
    for diff_id, state in diff_state.items():
        s = dstats.get(diff_id, {})
        _count(stages[diff_target[diff_id]]["diff"], done=state in DONE_STATES,
               faulted=bool(s.get("faulted")), bad=bool(s.get("bad_quality")))
    pub_to_diff = {p["pub_id"]: p["stage_id"] for p in pubs}
    pub_by_diff: dict[int, list[dict]] = {}
    for p in pubs:
        pub_by_diff.setdefault(p["stage_id"], []).append(p)
    to_publish = set(publish_labels(cfg, night))
    for diff_id, state in diff_state.items():
        runs = pub_by_diff.get(diff_id, [])
        if not runs and diff_label.get(diff_id) not in to_publish:
            continue
        _count(stages[diff_target[diff_id]]["publish"],
               done=bool(runs) and all(p["state"] == "full" for p in runs),
               faulted=any(p["fault"] for p in runs), bad=False)

    # --- problems
    problems = _fault_problems(nd, night, pub_to_diff, diff_target)
    for o in older:
        problems += _fault_problems(o, night, pub_to_diff, diff_target)
    _mark_fixes_in_progress(dbs, problems)
    problems += _plan_problems(cfg, plan, night)
    seen = set()
    for u in unpublished:
        if u["diff_id"] in seen or u["diff_id"] not in diff_target:
            continue
        seen.add(u["diff_id"])
        problems.append({"kind": "unpublished", "stage": "diff", "id": u["diff_id"], "component": u["client"],
                         "fault": None,
                         "meaning": f"diff {u['diff_id']} ({u['label']}, {u['state']}) is finished but not "
                                    f"published (client {u['client']})",
                         "fix": f"mopstool publish --diff-id {u['diff_id']}",
                         "target": diff_target[u["diff_id"]], "night": night.isoformat()})
    for w in backlog.get("waiting", []):
        problems.append({"kind": "pstamp_backlog", "stage": "pstamp-request", "id": None,
                         "component": w["label"], "fault": None,
                         "meaning": f"{w['new']} {w['label']} stamp requests wait to parse behind {w['ahead']} "
                                    f"requests of {', '.join(w['ahead_labels'])} (parse limit "
                                    f"{backlog['parse_limit']})",
                         "fix": "mopstool pstamp-req backlog", "target": None, "night": None})
    order = {k: i for i, k in enumerate(PROBLEM_KINDS)}
    torder = {t: i for i, t in enumerate(nd.targets)}
    problems.sort(key=lambda p: (order.get(p["kind"], 99), torder.get(p["target"], 99),
                                 p["night"] != night.isoformat(), str(p["component"])))
    notes = list(plan.notes)
    if backlog.get("error"):
        notes.append(f"pstamp backlog not checked: {backlog['error']}")
    return {"night": night.isoformat(),
            "status": "attention" if problems else "clean",
            "targets": [{"target": t, "stages": s} for t, s in stages.items()],
            "problems": problems,
            "notes": notes}
