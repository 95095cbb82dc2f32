"""Nightly visit sets: grouping, acceptance and pairing of MOPS survey exposures.

The pure part (no database) works on plain rows so every case of the
missing-visit table can be checked on its own:

* ``chunk_of`` / ``visit_number``: the chunk is the comment up to its first
  space; the visit number is the ``visit N`` of the comment.
* ``regular_pairs``: consecutive pairs from the earliest visit forward, the last
  of an odd list dropped (nightly_science's regular pass).
* ``desperate_pairs``: consecutive pairs from the latest visit backward, the
  earliest of an odd list dropped, only with three or more visits (the
  DESPERATE_DIFFS pass).
* ``alternate_pairs``: the pairs of the recovery plan (regular plus desperate)
  that a complete field would not have, i.e. the substitutes that turn a lost
  visit back into a triple (v1 lost: 2-3, v2: 1-3, v3: 2-4, v4: 2-3).
* ``classify`` / ``group_visits``: the status of each exposure and visit.

``load_night`` reads everything a report needs for one night in a fixed,
small number of set-based statements, whatever the number of fields.

Deliberate differences from nightly_science.pl: visits are ordered by the
number in ``visit N`` (visit 10 sorts after visit 9, where the IPP's string sort
puts it before visit 2), and a chunk's last-visit time is the latest exposure
of the whole chunk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import and_, case, func, literal, not_, or_, select

from mopstool.config import Config, expand_template, night_fields
from mopstool.db import Databases, schema
from mopstool.errors import UsageError
from mopstool.stages import STAGES
from mopstool.stages.joins import (  # noqa: F401  (diffs_of_warps re-exported)
    chain_join, diffs_of_warps, exposure_stages, night_condition, run_ids_for_night,
)
from mopstool.stages.vocab import CLEANED_LIKE_STATES, CLEANUP_PENDING_STATES, State, quality_meaning
from mopstool.util import utcnow  # noqa: F401  (re-exported for the nightly modules)

# ---------------------------------------------------------------------- vocabulary

#: visit statuses (DESIGN.md lostvisits contract)
OK, MISSING, FAULTED, BAD_QUALITY, BAD_FWHM, DROPPED, PROCESSING = (
    "ok", "missing", "faulted", "bad_quality", "bad_fwhm", "dropped", "processing")
STATUSES = (OK, MISSING, FAULTED, BAD_QUALITY, BAD_FWHM, DROPPED, PROCESSING)
#: lost for good: no diff will ever use this visit
FINAL_LOST = (MISSING, BAD_QUALITY, BAD_FWHM, DROPPED)
#: not usable yet: a fault to clear, or processing still running
PENDING = (FAULTED, PROCESSING)
#: run states whose products were made (and may since have been cleaned)
DONE_STATES = (State.FULL,) + CLEANED_LIKE_STATES + CLEANUP_PENDING_STATES

_VISIT_RE = re.compile(r"\bvisit\s*#?\s*(\d+)", re.IGNORECASE)


def chunk_of(comment: str | None) -> str:
    """The chunk of an exposure: its comment up to the first space ('' if none)."""
    if not comment or " " not in comment:
        return ""
    return comment.split(" ", 1)[0]


def visit_number(comment: str | None) -> int | None:
    """N of 'visit N' in the comment (numeric, so visit 10 follows visit 9)."""
    if not comment:
        return None
    m = _VISIT_RE.search(comment)
    return int(m.group(1)) if m else None


def regular_pairs(visits: Iterable[int]) -> list[tuple[int, int]]:
    """nightly_science's regular pass: pair from the earliest visit forward;
    an odd list loses its last (latest) visit; one visit gives nothing."""
    v = sorted(visits)
    if len(v) % 2:
        v = v[:-1]
    return [(v[i], v[i + 1]) for i in range(0, len(v) - 1, 2)]


def desperate_pairs(visits: Iterable[int]) -> list[tuple[int, int]]:
    """The DESPERATE_DIFFS pass: with three or more visits, pair from the latest
    backward; an odd list loses its first (earliest) visit. Pairs are returned
    latest first, each as (earlier, later): the input is the earlier visit."""
    v = sorted(visits, reverse=True)
    if len(v) < 3:
        return []
    if len(v) % 2:
        v = v[:-1]
    return [(v[i + 1], v[i]) for i in range(0, len(v) - 1, 2)]


def plan_pairs(visits: Iterable[int], *, desperate: bool = True) -> tuple[list, list]:
    """(regular pairs, desperate pairs not already regular) for the visits."""
    vs = sorted(set(visits))
    reg = regular_pairs(vs)
    des = [p for p in desperate_pairs(vs) if p not in reg] if desperate else []
    return reg, des


def alternate_pairs(usable: Iterable[int], expected: int, *, desperate: bool = True) -> list[tuple[int, int]]:
    """Pairs of the recovery plan that a complete field of *expected* visits
    would not have: v1 lost -> 2-3, v2 -> 1-3, v3 -> 2-4, v4 -> 2-3."""
    us = sorted(set(usable))
    full = range(1, max([expected] + us) + 1)
    nominal = set(regular_pairs(full))
    reg, des = plan_pairs(us, desperate=desperate)
    return sorted(p for p in reg + des if p not in nominal)


def like_match(pattern: str, value: str | None) -> bool:
    """SQL LIKE (case-insensitive, as MySQL's default collation) in Python."""
    if value is None:
        return False
    rx = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    return re.fullmatch(rx, value, re.IGNORECASE | re.DOTALL) is not None


def filter_matches(wanted: str | None, value: str | None) -> bool:
    """--filter w matches w.00000; a full name matches itself."""
    if not wanted:
        return True
    if value is None:
        return False
    return value == wanted or value.split(".", 1)[0] == wanted


# ---------------------------------------------------------------------- rows

@dataclass
class Exposure:
    """One exposure with the chosen processing chain (latest runs, the target's
    nightly label preferred) and what the pipeline recorded about it."""

    exp_id: int
    exp_name: str
    dateobs: datetime | None
    comment: str | None
    object: str | None
    filter: str | None
    target: str
    chip_id: int | None = None
    chip_state: str | None = None
    chip_label: str | None = None
    cam_id: int | None = None
    cam_state: str | None = None
    cam_processed: bool = False
    cam_quality: int | None = None
    cam_fault: int | None = None
    cam_fwhm: float | None = None
    fake_id: int | None = None
    fake_state: str | None = None
    warp_id: int | None = None
    warp_state: str | None = None
    warp_tess_id: str | None = None
    chip_fwhm: float | None = None
    #: (stage, run id) -> list of fault rows from collect_faults
    faults: list[dict] = field(default_factory=list)

    @property
    def chunk(self) -> str:
        return chunk_of(self.comment)

    @property
    def visit(self) -> int | None:
        return visit_number(self.comment)

    def ref(self) -> dict[str, Any]:
        return {"exp_id": self.exp_id, "exp_name": self.exp_name, "warp_id": self.warp_id}


@dataclass
class Verdict:
    status: str
    reason: str
    stage: str | None = None
    run_id: int | None = None


def classify(e: Exposure, max_fwhm: float | None) -> Verdict:
    """The status of one exposure, in this order: dropped, bad quality (camera
    stage), FWHM above the cut, faulted, still processing, ok."""
    for stage, state, rid in (("warp", e.warp_state, e.warp_id), ("cam", e.cam_state, e.cam_id),
                              ("chip", e.chip_state, e.chip_id)):
        if state == State.DROP:
            return Verdict(DROPPED, f"{stage} run {rid} dropped", stage, rid)
    if e.cam_quality:
        return Verdict(BAD_QUALITY, f"camera quality {e.cam_quality}: {quality_meaning(e.cam_quality)}",
                       "cam", e.cam_id)
    fwhm, src = (e.cam_fwhm, "camera") if e.cam_fwhm is not None else (e.chip_fwhm, "chip")
    if max_fwhm is not None and fwhm is not None and fwhm > float(max_fwhm):
        return Verdict(BAD_FWHM, f"{src} FWHM {fwhm:.2f} above the cut {float(max_fwhm):g}",
                       "cam" if src == "camera" else "chip", e.cam_id if src == "camera" else e.chip_id)
    # a visit whose warp is done has what a diff needs: later updates of its chip
    # run (a stamp request's ps_ud_* update, a fault 26 found then) do not lose it
    warp_done = e.warp_id is not None and e.warp_state in DONE_STATES
    faults = [f for f in e.faults if f["stage"] == "warp"] if warp_done else e.faults
    if faults:
        f = faults[0]
        comps = ", ".join(f"{x['component']} fault {x['fault']}" for x in faults[:4])
        more = f" (+{len(faults) - 4} more)" if len(faults) > 4 else ""
        return Verdict(FAULTED, f"{f['stage']} run {f['id']}: {comps}{more}", f["stage"], f["id"])
    if warp_done:
        return Verdict(OK, f"warp {e.warp_id} {e.warp_state}", "warp", e.warp_id)
    if e.chip_id is None:
        return Verdict(PROCESSING, "no chip run defined", None, None)
    chain = exposure_stages("nightfaults")  # chip -> cam -> fake -> warp
    for stage, nstage in zip(chain, chain[1:]):
        state, rid = getattr(e, f"{stage}_state"), getattr(e, STAGES[stage].id_col)
        if state not in DONE_STATES:
            return Verdict(PROCESSING, f"{stage} run {rid} in state {state}", stage, rid)
        if getattr(e, STAGES[nstage].id_col) is None:
            return Verdict(PROCESSING, f"{stage} run {rid} {state}; no {nstage} run yet", stage, rid)
    if e.warp_state not in DONE_STATES:
        return Verdict(PROCESSING, f"warp run {e.warp_id} in state {e.warp_state}", "warp", e.warp_id)
    return Verdict(OK, f"warp {e.warp_id} {e.warp_state}", "warp", e.warp_id)


@dataclass
class Visit:
    visit: int
    status: str
    reason: str = ""
    exposure: Exposure | None = None
    stage: str | None = None
    run_id: int | None = None
    #: other exposures taken for the same visit (not used)
    repeats: list[Exposure] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        e = self.exposure
        return {"visit": self.visit, "exp_id": e.exp_id if e else None,
                "exp_name": e.exp_name if e else None, "warp_id": e.warp_id if e else None,
                "status": self.status, "reason": self.reason,
                "dateobs": e.dateobs if e else None,
                "repeats": [r.exp_name for r in self.repeats]}


@dataclass
class FieldGroup:
    """The visits of one field (object + chunk + filter) of a target."""

    target: str
    object: str | None
    chunk: str
    filter: str | None
    expected: int
    visits: dict[int, Visit] = field(default_factory=dict)
    desperate_enabled: bool = True
    diffable: bool = True

    @property
    def key(self) -> tuple:
        return (self.target, self.object or "", self.chunk, self.filter or "")

    def numbers(self, statuses: tuple[str, ...]) -> list[int]:
        return sorted(n for n, v in self.visits.items() if v.status in statuses)

    @property
    def usable(self) -> list[int]:
        return self.numbers((OK,))

    @property
    def pending(self) -> list[int]:
        return self.numbers(PENDING)

    @property
    def kept(self) -> list[int]:
        """Visits nightly_science keeps (accepted now, or not rejected yet)."""
        return self.numbers((OK,) + PENDING)

    @property
    def lost(self) -> list[int]:
        return sorted(n for n, v in self.visits.items() if v.status != OK)

    @property
    def last_dateobs(self) -> datetime | None:
        ds = [x.dateobs for v in self.visits.values() for x in ([v.exposure] if v.exposure else []) + v.repeats
              if x.dateobs]
        return max(ds) if ds else None

    def lost_report(self) -> dict[str, Any]:
        reg, des = plan_pairs(self.usable, desperate=self.desperate_enabled) if self.diffable else ([], [])
        alt = alternate_pairs(self.usable, self.expected, desperate=self.desperate_enabled) \
            if self.diffable else []
        return {"target": self.target, "object": self.object, "chunk": self.chunk, "filter": self.filter,
                "expected_visits": self.expected,
                "visits": [self.visits[n].to_dict() for n in sorted(self.visits)],
                "lost": self.lost,
                "regular_pairs": [list(p) for p in reg],
                "desperate_pairs": [list(p) for p in sorted(des)],
                "alternate_pairs": [list(p) for p in alt]}


def _choose(exps: list[Exposure], verdicts: dict[int, Verdict]) -> tuple[Exposure, list[Exposure]]:
    """The exposure that stands for a visit, as nightly_science picks it: the
    latest accepted one (not rejected for quality, FWHM or a dropped run),
    even while it is still processing or faulted (the field then waits for
    it); when every exposure is rejected, the latest."""
    ordered = sorted(exps, key=lambda e: (e.dateobs or datetime.min, e.exp_id))
    for statuses in ((OK,) + PENDING, STATUSES):
        pick = [e for e in ordered if verdicts[e.exp_id].status in statuses]
        if pick:
            chosen = pick[-1]
            return chosen, [e for e in ordered if e is not chosen]
    raise AssertionError("unreachable")


def group_visits(exposures: list[Exposure], targets: dict[str, dict]) -> list[FieldGroup]:
    """Group exposures into field groups and number their visits.

    Visits come from 'visit N' in the comment; a comment without one is a
    visit of its own, numbered after the numbered visits in order of its first
    dateobs (so it never renumbers the others). A repeated visit is the latest
    accepted exposure (nightly_science: the later one wins).
    Visits 1..max(expected, highest seen) that have no exposure are missing."""
    groups: dict[tuple, list[Exposure]] = {}
    for e in exposures:
        groups.setdefault((e.target, e.object or "", e.chunk, e.filter or ""), []).append(e)
    out: list[FieldGroup] = []
    torder = {t: i for i, t in enumerate(targets)}
    for (target, obj, chunk, flt), exps in sorted(groups.items(), key=lambda kv: (torder.get(kv[0][0], 99),
                                                                                 kv[0])):
        tcfg = targets.get(target, {})
        max_fwhm = tcfg.get("max_fwhm")
        verdicts = {e.exp_id: classify(e, max_fwhm) for e in exps}
        exps.sort(key=lambda e: (e.dateobs or datetime.min, e.exp_id))
        by_visit: dict[int, list[Exposure]] = {}
        numbered = [e for e in exps if e.visit is not None]
        for e in numbered:
            by_visit.setdefault(e.visit, []).append(e)
        # comments without 'visit N': numbered in order of their first dateobs,
        # after the numbered visits (which keep their numbers)
        order: dict[str, int] = {}
        top = max([0] + list(by_visit))
        for e in exps:
            if e.visit is None:
                order.setdefault(e.comment or "", top + len(order) + 1)
        for e in exps:
            if e.visit is None:
                by_visit.setdefault(order[e.comment or ""], []).append(e)
        expected = int(tcfg.get("visits", 4) or 0)
        g = FieldGroup(target=target, object=obj or None, chunk=chunk, filter=flt or None,
                       expected=expected, desperate_enabled=bool(tcfg.get("desperate", True)),
                       diffable=bool(tcfg.get("diffable", True)))
        for n, vexps in by_visit.items():
            chosen, others = _choose(vexps, verdicts)
            v = verdicts[chosen.exp_id]
            g.visits[n] = Visit(visit=n, status=v.status, reason=v.reason, exposure=chosen,
                                stage=v.stage, run_id=v.run_id, repeats=others)
        for n in range(1, max([expected] + list(by_visit)) + 1):
            if n not in g.visits:
                g.visits[n] = Visit(visit=n, status=MISSING, reason="never observed (weather, closure)")
        out.append(g)
    return out


# ---------------------------------------------------------------------- targets

def target_names(cfg: Config, wanted: Iterable[str] | None, *, diffable_only: bool) -> list[str]:
    """Configured targets, or the wanted ones (comma-separated values allowed)."""
    targets = cfg.targets()
    names: list[str] = []
    for w in wanted or []:
        for part in str(w).split(","):
            part = part.strip()
            if part:
                names.append(cfg.target(part)["name"])
    if names:
        return list(dict.fromkeys(names))
    return [n for n, t in targets.items() if t.get("diffable") or not diffable_only]


def survey_names(cfg: Config, target: str, night: date, *, ws: bool = False,
                 dbname: str = "gpc1") -> dict[str, str]:
    """label / data_group / workdir of a target's night ([survey] templates)."""
    nf = night_fields(night)
    vals = dict(nf, target=target, dbname=dbname)
    label_t = cfg.get("survey.ws_label" if ws else "survey.label",
                      "{target}.WS.nightlyscience" if ws else "{target}.nightlyscience")
    dg_t = cfg.get("survey.ws_data_group" if ws else "survey.data_group",
                   "{target}.WS.{yyyymmdd}" if ws else "{target}.{yyyymmdd}")
    wd_t = cfg.get("survey.workdir", "neb://@HOST@.0/{dbname}/{target}.nt/{yyyy}/{mm}/{dd}")
    return {"label": expand_template(label_t, **vals), "data_group": expand_template(dg_t, **vals),
            "workdir": expand_template(wd_t, **vals)}


def desdiffdt_hours(cfg: Config, target: dict) -> float:
    v = target.get("desdiffdt")
    if v is None:
        v = cfg.get("survey.desdiffdt", 1.5)
    return float(v)


# ---------------------------------------------------------------------- loading

@dataclass
class NightData:
    night: date
    targets: dict[str, dict]
    exposures: list[Exposure]
    #: (stage, run id) -> exp_id, for every run of the night's target exposures
    run_exp: dict[tuple[str, int], int]
    exp_by_id: dict[int, Exposure]
    faults: list[dict]
    chip_stats: dict[int, dict]
    warp_stats: dict[int, dict]
    #: diff rows touching the night's warps (see load_diffs)
    diffs: list[dict] = field(default_factory=list)

    def groups(self, targets: Iterable[str] | None = None, *, filter: str | None = None,
               chunk: str | None = None) -> list[FieldGroup]:
        want = set(targets) if targets is not None else None
        exps = [e for e in self.exposures
                if (want is None or e.target in want) and filter_matches(filter, e.filter)
                and (chunk is None or e.chunk == chunk)]
        return group_visits(exps, self.targets)

    def target_of_warp(self, warp_id: int | None) -> str | None:
        exp = self.run_exp.get(("warp", warp_id)) if warp_id is not None else None
        return self.exp_by_id[exp].target if exp in self.exp_by_id else None


def target_condition(targets: dict[str, dict]):
    """(WHERE condition, CASE expression naming the target) over rawExp; the
    first configured target that matches an exposure owns it."""
    raw = schema.rawExp
    whens = []
    for name, t in targets.items():
        parts = []
        if t.get("obs_mode"):
            parts.append(raw.c.obs_mode.like(t["obs_mode"]))
        if t.get("comment"):
            parts.append(raw.c.comment.like(t["comment"]))
        if t.get("object"):
            parts.append(raw.c.object.like(t["object"]))
        if not parts:
            continue
        whens.append((and_(*parts), literal(name)))
    if not whens:
        raise UsageError("no survey targets configured ([targets.NAME] with obs_mode/comment)")
    return or_(*[w[0] for w in whens]), case(*whens, else_=literal(None))


def night_warp_ids(night: date):
    """SELECT of the warp ids of the night's exposures (index path via exp_name)."""
    return run_ids_for_night(STAGES["warp"], night)


def _chain_query(night: date, targets: dict[str, dict]):
    raw, chip, cam, cpe, fake, warp = (schema.rawExp, schema.chipRun, schema.camRun,
                                       schema.camProcessedExp, schema.fakeRun, schema.warpRun)
    cond, target = target_condition(targets)
    frm = chain_join("exposure", "warp", outer=True).outerjoin(cpe, cpe.c.cam_id == cam.c.cam_id)
    return (select(
        raw.c.exp_id, raw.c.exp_name, raw.c.dateobs, raw.c.comment, raw.c.object, raw.c.filter,
        target.label("target"),
        chip.c.chip_id, chip.c.state.label("chip_state"), chip.c.label.label("chip_label"),
        cam.c.cam_id, cam.c.state.label("cam_state"), cam.c.label.label("cam_label"),
        cpe.c.cam_id.label("cpe_id"), cpe.c.quality.label("cam_quality"), cpe.c.fault.label("cam_fault"),
        cpe.c.fwhm_major.label("cam_fwhm"),
        fake.c.fake_id, fake.c.state.label("fake_state"),
        warp.c.warp_id, warp.c.state.label("warp_state"), warp.c.label.label("warp_label"),
        warp.c.tess_id.label("warp_tess_id"))
        .select_from(frm)
        .where(night_condition(night), func.upper(raw.c.exp_type) == "OBJECT", raw.c.fault == 0, cond))


def _chip_stats_query(night: date):
    cpi = schema.chipProcessedImfile
    good = and_(cpi.c.quality == 0, cpi.c.fault == 0)
    ids = run_ids_for_night(STAGES["chip"], night)
    return (select(cpi.c.chip_id, func.count().label("n"),
                   func.sum(case((cpi.c.fault != 0, 1), else_=0)).label("faulted"),
                   func.sum(case((cpi.c.quality != 0, 1), else_=0)).label("bad_quality"),
                   func.avg(case((good, cpi.c.fwhm_major), else_=None)).label("fwhm"))
            .where(cpi.c.chip_id.in_(ids)).group_by(cpi.c.chip_id))


def _warp_stats_query(night: date):
    ws = schema.warpSkyfile
    good = and_(ws.c.data_state == State.FULL, func.coalesce(ws.c.fault, 0) == 0, ws.c.quality == 0)
    return (select(ws.c.warp_id, func.count().label("n"),
                   func.sum(case((func.coalesce(ws.c.fault, 0) != 0, 1), else_=0)).label("faulted"),
                   func.sum(case((ws.c.quality != 0, 1), else_=0)).label("bad_quality"),
                   func.sum(case((good, 1), else_=0)).label("good"))
            .where(ws.c.warp_id.in_(night_warp_ids(night))).group_by(ws.c.warp_id))


def _diffs_query(night: date):
    """Diffs whose input or template is a warp of the night: WW diffs once per
    run, WS/SW diffs once per skycell (they are made per skycell)."""
    return diffs_of_warps(night_warp_ids(night))


def _prefer(row: dict, labels: dict[str, str]) -> tuple:
    """Sort key of a candidate chain: nightly label first, then the latest runs."""
    nightly = labels.get(row["target"])
    return (row["chip_label"] == nightly, row["chip_id"] or 0, row["cam_label"] == nightly,
            row["cam_id"] or 0, row["fake_id"] or 0, row["warp_label"] == nightly, row["warp_id"] or 0)


def load_night(dbs: Databases, cfg: Config, night: date, *, fault_stages: tuple[str, ...] | None = None,
               stats: bool = True, diffs: bool = False) -> NightData:
    """Everything the nightly reports need about one night, in a fixed number
    of statements: the exposures of every configured target with their
    processing chains, the faults (collect_faults), chip and warp statistics,
    and optionally the diffs that use the night's warps."""
    from mopstool.ops.runs.faults import FaultFilter, collect_faults

    targets = cfg.targets()
    labels = {name: survey_names(cfg, name, night)["label"] for name in targets}
    with dbs.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(_chain_query(night, targets))]
        chip_stats = warp_stats = {}
        if stats:
            chip_stats = {r.chip_id: dict(r._mapping) for r in conn.execute(_chip_stats_query(night))}
            warp_stats = {r.warp_id: dict(r._mapping) for r in conn.execute(_warp_stats_query(night))}
        diff_rows = [dict(r._mapping) for r in conn.execute(_diffs_query(night))] if diffs else []
    chain = exposure_stages("nightfaults")
    stages = fault_stages if fault_stages is not None else chain
    faults = collect_faults(dbs, FaultFilter(stages=stages, night=night)) if stages else []

    run_exp: dict[tuple[str, int], int] = {}
    best: dict[int, dict] = {}
    for r in rows:
        for stage in chain:
            col = STAGES[stage].id_col
            if r.get(col) is not None:
                run_exp[(stage, r[col])] = r["exp_id"]
        cur = best.get(r["exp_id"])
        if cur is None or _prefer(r, labels) > _prefer(cur, labels):
            best[r["exp_id"]] = r
    faults_by_run: dict[tuple[str, int], list[dict]] = {}
    for f in faults:
        faults_by_run.setdefault((f["stage"], f["id"]), []).append(f)
    exposures = []
    for r in best.values():
        e = Exposure(
            exp_id=r["exp_id"], exp_name=r["exp_name"], dateobs=r["dateobs"], comment=r["comment"],
            object=r["object"], filter=r["filter"], target=r["target"], chip_id=r["chip_id"],
            chip_state=r["chip_state"], chip_label=r["chip_label"], cam_id=r["cam_id"],
            cam_state=r["cam_state"], cam_processed=r["cpe_id"] is not None,
            cam_quality=r["cam_quality"], cam_fault=r["cam_fault"], cam_fwhm=r["cam_fwhm"],
            fake_id=r["fake_id"], fake_state=r["fake_state"], warp_id=r["warp_id"],
            warp_state=r["warp_state"], warp_tess_id=r["warp_tess_id"])
        if e.chip_id in chip_stats and chip_stats[e.chip_id]["fwhm"] is not None:
            e.chip_fwhm = float(chip_stats[e.chip_id]["fwhm"])
        for stage in chain:
            rid = getattr(e, STAGES[stage].id_col, None)
            if rid is not None:
                e.faults.extend(faults_by_run.get((stage, rid), []))
        exposures.append(e)
    exposures.sort(key=lambda e: (e.target, e.dateobs or datetime.min, e.exp_id))
    return NightData(night=night, targets=targets, exposures=exposures, run_exp=run_exp,
                     exp_by_id={e.exp_id: e for e in exposures}, faults=faults,
                     chip_stats=chip_stats, warp_stats=warp_stats, diffs=diff_rows)


# ---------------------------------------------------------------------- lostvisits

def lostvisits(dbs: Databases, cfg: Config, night: date, *, targets: Iterable[str] | None = None,
               filter: str | None = None, chunk: str | None = None,
               data: NightData | None = None) -> list[dict[str, Any]]:
    """One record per field group of the (diffable) targets: the visits with
    their status, the lost ones, and the pairs that recover a triple."""
    names = target_names(cfg, targets, diffable_only=True)
    nd = data or load_night(dbs, cfg, night, stats=True)
    return [g.lost_report() for g in nd.groups(names, filter=filter, chunk=chunk)]


def end_of_night_time(cfg: Config, night: date) -> datetime:
    hh, mm = str(cfg.get("survey.end_of_night_utc", "17:30")).split(":")
    return datetime(night.year, night.month, night.day) + timedelta(hours=int(hh), minutes=int(mm))


def night_exposure_census(dbs: Databases, cfg: Config, night: date) -> dict[str, Any]:
    """How many exposures the night has (any type), and the science exposures
    (OBJECT, not faulted at registration) that match no configured target, per
    obs_mode: one grouped statement."""
    raw = schema.rawExp
    cond, _ = target_condition(cfg.targets())
    science = and_(func.upper(raw.c.exp_type) == "OBJECT", raw.c.fault == 0)
    q = (select(raw.c.obs_mode, func.count().label("n"),
                func.sum(case((and_(science, not_(cond)), 1), else_=0)).label("unmatched"))
         .where(night_condition(night)).group_by(raw.c.obs_mode))
    with dbs.connect() as conn:
        rows = conn.execute(q).all()
    return {"total": sum(int(r.n or 0) for r in rows),
            "unmatched": {str(r.obs_mode): int(r.unmatched) for r in rows if r.unmatched}}
