"""The night at a glance: one row per exposure, one cell per stage.

``night_table`` reads the night once (``load_night`` and ``plan_diffpairs`` of
ops/nightly, then four set-based statements of its own: observing columns, diff
skycell statistics, publish runs and unpublished diffs), so its cost does not
depend on the number of fields or on the size of the history tables.

Each stage cell (chip, cam, warp, ww_diff, ws_diff, publish) has a ``status``
(``CELL_STATUSES``), the state, fault or quality in words, and, where a hand is
needed, the mopstool command that clears it. Visits, lost visits and pairs come
from the visit sets of ops/nightly (``group_visits``, ``classify``, the diff
plan); nothing here recomputes them.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Iterable

from sqlalchemy import select

from mopstool.config import Config
from mopstool.db import Databases, schema
from mopstool.ops.nightly.czar import diff_stats, fault_stages, publish_rows
from mopstool.ops.nightly.diffpairs import (
    DESPERATE, EXISTS, PLANNED, REGULAR, WAITING, WS, DiffPair, DiffPlan, plan_diffpairs,
    publish_labels, unpublished_query,
)
from mopstool.ops.nightly.visits import (
    BAD_FWHM, BAD_QUALITY, DONE_STATES, DROPPED, OK, Exposure, FieldGroup, NightData, classify,
    load_night, target_names, utcnow,
)
from mopstool.stages.joins import chain_join, night_condition, with_components
from mopstool.stages import State

#: cell statuses, best to worst for colouring: done; pending (running or not
#: reached yet); todo (needs a command but no fault: a diff to define, a diff to
#: publish); bad (done but rejected: quality, FWHM, dropped); faulted; none (not
#: applicable: target not diffable, no warp-stack diffs, visit not used)
DONE, PENDING, TO_DO, BAD, FAULTED, NONE = "done", "pending", "todo", "bad", "faulted", "none"
CELL_STATUSES = (DONE, PENDING, TO_DO, BAD, FAULTED, NONE)
STAGE_COLUMNS = ("chip", "cam", "warp", "ww_diff", "ws_diff", "publish")
_WORST = {NONE: 0, DONE: 1, PENDING: 2, TO_DO: 3, BAD: 4, FAULTED: 5}
#: the visit status of an exposure taken again for the same visit (not used)
REPEAT = "repeat"


def _cell(status: str, text: str = "", fix: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"status": status, "text": text, "fix": fix, **extra}


def _worst(statuses: Iterable[str]) -> str:
    return max(statuses, key=lambda s: _WORST[s], default=NONE)


def _fault_text(state: str | None, faults: list[dict]) -> str:
    parts = ", ".join(f"fault {f['fault']} {f['component']}" for f in faults[:4])
    more = f" (+{len(faults) - 4} more)" if len(faults) > 4 else ""
    return f"{state}: {parts}{more}"


@dataclass
class DiffInfo:
    """A diff run that uses a warp of the night."""

    diff_id: int
    kind: str  # ww | ws
    state: str | None
    label: str | None
    exposures: set[int] = field(default_factory=set)
    skycells: int = 0
    faulted: int = 0
    bad_quality: int = 0
    sources: int | None = None
    faults: list[dict] = field(default_factory=list)
    publish: list[dict] = field(default_factory=list)
    unpublished: bool = False

    @property
    def status(self) -> str:
        if self.faults or self.faulted:
            return FAULTED
        if self.state in DONE_STATES:
            return DONE
        return BAD if self.state == State.DROP else PENDING

    def publish_status(self) -> str:
        if any(p["fault"] for p in self.publish):
            return FAULTED
        if self.unpublished:
            return TO_DO
        if self.publish and all(p["state"] == State.FULL for p in self.publish):
            return DONE
        return PENDING if self.publish else NONE


@dataclass
class NightTable:
    night: date
    rows: list[dict[str, Any]]
    lost_visits: list[dict[str, Any]]
    ready: list[dict[str, Any]]
    diffs: dict[int, DiffInfo]
    groups: list[FieldGroup]
    plan: DiffPlan
    data: NightData
    generated: datetime
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"night": self.night.isoformat(), "generated": self.generated,
                "exposures": self.rows, "lost_visits": self.lost_visits,
                "desperate_ready": self.ready, "notes": self.notes}

    def flat_rows(self) -> list[dict[str, Any]]:
        """One flat record per exposure (the table and csv forms)."""
        out = []
        for r in self.rows:
            flat = {k: r[k] for k in ("exp_name", "target", "object", "chunk", "filter", "visit",
                                      "dateobs", "exp_time", "airmass", "fwhm", "zpt_obs")}
            for s in STAGE_COLUMNS:
                flat[s] = r["stages"][s]["text"]
            flat["visit_status"] = r["visit_status"]
            flat["pairs"] = " ".join(_pair_word(p) for p in r["pairs"])
            out.append(flat)
        return out


def _pair_word(p: dict) -> str:
    word = f"{p['input_visit']}-{p['template_visit']}"
    if p["kind"] != REGULAR:
        word += f"({p['kind'][0]})"
    return word + ("" if p["status"] == EXISTS else f":{p['status']}")


def desperate_ready(plan: DiffPlan) -> list[dict[str, Any]]:
    """Chunks whose desperate diffs can be defined now (planned, not waiting)."""
    out: dict[tuple[str, str], dict] = {}
    for p in plan.pairs:
        if p.kind == DESPERATE and p.status == PLANNED:
            r = out.setdefault((p.target, p.chunk), {"target": p.target, "chunk": p.chunk, "pairs": []})
            r["pairs"].append(f"{p.object} {p.input_visit}-{p.template_visit}")
    return [out[k] for k in sorted(out)]


def _obs_columns(conn, night: date) -> tuple[dict[int, dict], dict[int, float]]:
    """exp_time and airmass per exposure, zpt_obs per camera run, of the night."""
    raw, cpe = schema.rawExp, schema.camProcessedExp
    q = (select(raw.c.exp_id, raw.c.exp_time, raw.c.airmass, cpe.c.cam_id, cpe.c.zpt_obs)
         .select_from(with_components(chain_join("exposure", "cam", outer=True), "cam", outer=True))
         .where(night_condition(night)))
    exps: dict[int, dict] = {}
    zpt: dict[int, float] = {}
    for r in conn.execute(q):
        exps[r.exp_id] = {"exp_time": r.exp_time, "airmass": r.airmass}
        if r.cam_id is not None and r.zpt_obs is not None:
            zpt[r.cam_id] = r.zpt_obs
    return exps, zpt


def _diff_infos(nd: NightData, dstats: dict, pubs: list[dict], unpublished: set[int]) -> dict[int, DiffInfo]:
    out: dict[int, DiffInfo] = {}
    for d in nd.diffs:
        ww = d["warp1"] is not None and d["warp2"] is not None
        info = out.setdefault(d["diff_id"], DiffInfo(diff_id=d["diff_id"], kind="ww" if ww else "ws",
                                                      state=d["state"], label=d["label"]))
        for w in (d["warp1"], d["warp2"]):
            e = nd.run_exp.get(("warp", w)) if w is not None else None
            if e in nd.exp_by_id:
                info.exposures.add(e)
    for diff_id, info in out.items():
        s = dstats.get(diff_id, {})
        info.skycells, info.faulted = int(s.get("n") or 0), int(s.get("faulted") or 0)
        info.bad_quality = int(s.get("bad_quality") or 0)
        info.sources = int(s["sources"]) if s.get("sources") is not None else None
        info.unpublished = diff_id in unpublished
    for f in nd.faults:
        if f["stage"] == "diff" and f["id"] in out:
            out[f["id"]].faults.append(f)
    for p in pubs:
        if p["stage_id"] in out:
            out[p["stage_id"]].publish.append(p)
    return out


def _diffpairs_fix(night: date, chunk: str, *extra: str) -> str:
    return " ".join(["mopstool diffpairs --define", *extra, "--night", night.isoformat(),
                     "--chunk", shlex.quote(chunk)])


class _Builder:
    def __init__(self, cfg: Config, nd: NightData, plan: DiffPlan, diffs: dict[int, DiffInfo]):
        self.cfg, self.nd, self.plan, self.diffs = cfg, nd, plan, diffs
        self.faults: dict[tuple[str, int], list[dict]] = {}
        for f in nd.faults:
            self.faults.setdefault((f["stage"], f["id"]), []).append(f)
        self.pairs_of: dict[int, list[DiffPair]] = {}
        for p in plan.pairs:
            for e in (p.input, p.template):
                if e is not None:
                    self.pairs_of.setdefault(e.exp_id, []).append(p)
        #: exp_id -> visit number (set by night_table from the visit sets)
        self.visit_of: dict[int, int] = {}
        self.diffs_of: dict[int, list[DiffInfo]] = {}
        for d in diffs.values():
            for e in d.exposures:
                self.diffs_of.setdefault(e, []).append(d)

    # -- processing stages
    def run_cell(self, stage: str, run_id: int | None, state: str | None, verdict, *,
                 upstream_done: bool, extra_faults: list[dict] = (), note: str = "") -> dict:
        if run_id is None:
            return _cell(PENDING if upstream_done else NONE, f"no {stage} run" if upstream_done else "")
        faults = self.faults.get((stage, run_id), []) + list(extra_faults)
        if faults:
            return _cell(FAULTED, _fault_text(state, faults), faults[0]["fix"], id=run_id,
                         faults=[{k: f[k] for k in ("stage", "id", "component", "fault", "meaning", "fix")}
                                 for f in faults])
        if verdict.stage == stage and verdict.status in (BAD_QUALITY, BAD_FWHM, DROPPED):
            return _cell(BAD, f"{state}, {verdict.reason}", id=run_id)
        if state in DONE_STATES:
            return _cell(DONE, state + note, id=run_id)
        if state == State.DROP:
            return _cell(BAD, f"{state}", id=run_id)
        return _cell(PENDING, state or "", id=run_id)

    def chip_cam_warp(self, e: Exposure, verdict) -> dict[str, dict]:
        nd = self.nd
        cs = nd.chip_stats.get(e.chip_id, {}) if e.chip_id is not None else {}
        ws = nd.warp_stats.get(e.warp_id, {}) if e.warp_id is not None else {}
        chip_note = f" ({cs['bad_quality']} bad imfiles)" if cs.get("bad_quality") else ""
        warp_note = f" ({ws['bad_quality']} bad skycells)" if ws.get("bad_quality") else ""
        chip = self.run_cell("chip", e.chip_id, e.chip_state, verdict, upstream_done=True, note=chip_note)
        cam = self.run_cell("cam", e.cam_id, e.cam_state, verdict, upstream_done=chip["status"] == DONE)
        fake_faults = self.faults.get(("fake", e.fake_id), []) if e.fake_id is not None else []
        warp = self.run_cell("warp", e.warp_id, e.warp_state, verdict,
                             upstream_done=cam["status"] == DONE, extra_faults=fake_faults, note=warp_note)
        if e.warp_id is None and fake_faults:
            warp = _cell(FAULTED, _fault_text(e.fake_state, fake_faults), fake_faults[0]["fix"], id=e.fake_id)
        return {"chip": chip, "cam": cam, "warp": warp}

    # -- diffs
    def ww_cell(self, e: Exposure, vstatus: str, tcfg: dict) -> dict:
        existing = [d for d in self.diffs_of.get(e.exp_id, []) if d.kind == "ww"]
        todo = [p for p in self.pairs_of.get(e.exp_id, []) if p.kind in (REGULAR, DESPERATE)
                and p.status != EXISTS]
        if not existing and not todo:
            if not tcfg.get("diffable"):
                return _cell(NONE, "not diffable")
            if vstatus != OK:
                return _cell(NONE, f"not used ({vstatus})")
            return _cell(NONE, "no pair")
        words, statuses, fix = [], [], None
        for d in sorted(existing, key=lambda d: d.diff_id):
            pair = self._visits_of(d)
            if d.faults:
                words.append(f"{d.diff_id} {_fault_text(d.state, d.faults)}{pair}")
                fix = fix or d.faults[0]["fix"]
            else:
                words.append(f"{d.diff_id} {d.state}{pair}")
            statuses.append(d.status)
        for p in todo:
            words.append(f"{p.status} {p.input_visit}-{p.template_visit}"
                         + (" desperate" if p.kind == DESPERATE else ""))
            if p.status == PLANNED:
                statuses.append(TO_DO)
                fix = fix or _diffpairs_fix(self.nd.night, p.chunk,
                                            *(("--desperate",) if p.kind == DESPERATE else ()))
            else:
                statuses.append(PENDING)
        return _cell(_worst(statuses), "; ".join(words), fix,
                     diff_ids=sorted(d.diff_id for d in existing))

    def _visits_of(self, d: DiffInfo) -> str:
        vs = sorted(self.visit_of[x] for x in d.exposures if self.visit_of.get(x) is not None)
        return f" ({'-'.join(str(v) for v in vs)})" if vs else ""

    def ws_cell(self, e: Exposure, vstatus: str, tcfg: dict) -> dict:
        existing = [d for d in self.diffs_of.get(e.exp_id, []) if d.kind == "ws"]
        pairs = [p for p in self.pairs_of.get(e.exp_id, []) if p.kind == WS]
        if not tcfg.get("ws") and not existing:
            return _cell(NONE, "no warp-stack diffs")
        planned = [p for p in pairs if p.status == PLANNED]
        waiting = [p for p in pairs if p.status == WAITING]
        faulted = [d for d in existing if d.status == FAULTED]
        done = [d for d in existing if d.status == DONE]
        total = len(existing) + len(planned)
        if not total and not waiting:
            return _cell(NONE, f"not used ({vstatus})" if vstatus != OK else "no template skycell")
        text = f"{len(done)}/{total} skycells"
        if planned:
            text += f", {len(planned)} to define"
        if waiting:
            text += f", {len(waiting)} waiting"
        if faulted:
            text += f", {len(faulted)} faulted"
            return _cell(FAULTED, text, faulted[0].faults[0]["fix"] if faulted[0].faults else None,
                         diff_ids=sorted(d.diff_id for d in existing))
        if planned:
            return _cell(TO_DO, text, _diffpairs_fix(self.nd.night, e.chunk, "--ws"),
                         diff_ids=sorted(d.diff_id for d in existing))
        status = PENDING if waiting or len(done) < len(existing) else DONE
        return _cell(status, text, diff_ids=sorted(d.diff_id for d in existing))

    def publish_cell(self, e: Exposure) -> dict:
        diffs = [d for d in self.diffs_of.get(e.exp_id, []) if d.publish or d.unpublished]
        if not diffs:
            return _cell(NONE, "")
        by = {s: [d for d in diffs if d.publish_status() == s] for s in (DONE, PENDING, TO_DO, FAULTED)}
        text = f"{len(by[DONE])}/{len(diffs)} published"
        fix = None
        if by[TO_DO]:
            ids = sorted(d.diff_id for d in by[TO_DO])
            text += "; not published: " + ", ".join(str(i) for i in ids)
            fix = "mopstool publish " + " ".join(f"--diff-id {i}" for i in ids)
        if by[FAULTED]:
            text += "; faulted: " + ", ".join(str(d.diff_id) for d in by[FAULTED])
            fix = fix or f"mopstool show diff {by[FAULTED][0].diff_id}"
        if by[PENDING]:
            text += f"; {len(by[PENDING])} pending"
        status = _worst(d.publish_status() for d in diffs)
        return _cell(status, text, fix)


def night_table(dbs: Databases, cfg: Config, night: date, *, targets: Iterable[str] | None = None,
                chunk: str | None = None, now: datetime | None = None,
                data: NightData | None = None) -> NightTable:
    """The by-exposure status table of *night* (optionally some targets / a chunk)."""
    now = now or utcnow()
    wanted = set(target_names(cfg, targets, diffable_only=False)) if targets else None
    nd = data or load_night(dbs, cfg, night, fault_stages=fault_stages(), stats=True, diffs=True)
    plan = plan_diffpairs(dbs, cfg, night, ws=True, now=now, data=nd)
    with dbs.connect() as conn:
        obs, zpt = _obs_columns(conn, night)
        diff_ids = sorted({d["diff_id"] for d in nd.diffs})
        dstats = diff_stats(conn, diff_ids)
        pubs = publish_rows(conn, diff_ids)
        unpublished = {r.diff_id for r in conn.execute(
            unpublished_query(night=night, labels=publish_labels(cfg, night)))}
    diffs = _diff_infos(nd, dstats, pubs, unpublished)
    b = _Builder(cfg, nd, plan, diffs)
    groups = nd.groups(None)
    where: dict[int, tuple[FieldGroup, int, bool]] = {}
    for g in groups:
        for n, v in g.visits.items():
            if v.exposure is not None:
                where[v.exposure.exp_id] = (g, n, True)
            for r in v.repeats:
                where[r.exp_id] = (g, n, False)
    b.visit_of = {exp: n for exp, (_g, n, _c) in where.items()}
    torder = {t: i for i, t in enumerate(nd.targets)}
    rows: list[dict[str, Any]] = []
    for e in sorted(nd.exposures, key=lambda e: (torder.get(e.target, 99), e.dateobs or datetime.min, e.exp_id)):
        if wanted is not None and e.target not in wanted or chunk is not None and e.chunk != chunk:
            continue
        tcfg = nd.targets.get(e.target, {})
        verdict = classify(e, tcfg.get("max_fwhm"))
        g, n, chosen = where.get(e.exp_id, (None, e.visit, True))
        vstatus = g.visits[n].status if g is not None and chosen else (REPEAT if not chosen else verdict.status)
        reason = g.visits[n].reason if g is not None and chosen else \
            f"visit {n} taken again; {g.visits[n].exposure.exp_name} is used" if g is not None else verdict.reason
        stages = b.chip_cam_warp(e, verdict)
        stages["ww_diff"] = b.ww_cell(e, vstatus, tcfg)
        stages["ws_diff"] = b.ws_cell(e, vstatus, tcfg)
        stages["publish"] = b.publish_cell(e)
        pairs = [{"kind": p.kind, "input_visit": p.input_visit, "template_visit": p.template_visit,
                  "role": "input" if p.input is e else "template", "status": p.status, "diff_id": p.diff_id}
                 for p in b.pairs_of.get(e.exp_id, []) if p.kind != WS]
        fwhm = e.cam_fwhm if e.cam_fwhm is not None else e.chip_fwhm
        o = obs.get(e.exp_id, {})
        rows.append({
            "exp_id": e.exp_id, "exp_name": e.exp_name, "target": e.target, "object": e.object,
            "chunk": e.chunk, "filter": e.filter, "visit": n, "dateobs": e.dateobs,
            "exp_time": o.get("exp_time"), "airmass": o.get("airmass"),
            "fwhm": float(fwhm) if fwhm is not None else None,
            "zpt_obs": zpt.get(e.cam_id) if e.cam_id is not None else None,
            "max_fwhm": tcfg.get("max_fwhm"),
            "visit_status": vstatus, "reason": reason, "lost": vstatus not in (OK, REPEAT),
            "stages": stages, "pairs": pairs,
            "attention": any(c["status"] in (FAULTED, TO_DO) for c in stages.values()),
        })
    lost = []
    for g in groups:
        if wanted is not None and g.target not in wanted or chunk is not None and g.chunk != chunk:
            continue
        for n in g.lost:
            v = g.visits[n]
            lost.append({"target": g.target, "object": g.object, "chunk": g.chunk, "filter": g.filter,
                         "visit": n, "status": v.status, "reason": v.reason,
                         "exp_name": v.exposure.exp_name if v.exposure else None,
                         "alternate_pairs": g.lost_report()["alternate_pairs"]})
    ready = [r for r in desperate_ready(plan)
             if (wanted is None or r["target"] in wanted) and (chunk is None or r["chunk"] == chunk)]
    return NightTable(night=night, rows=rows, lost_visits=lost, ready=ready, diffs=diffs, groups=groups,
                      plan=plan, data=nd, generated=now, notes=list(plan.notes))
