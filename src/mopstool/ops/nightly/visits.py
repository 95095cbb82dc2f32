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
from functools import lru_cache
from typing import Any, Iterable

from sqlalchemy import and_, case, func, literal, not_, or_, select

from mopstool.config import Config, expand_template, night_fields
from mopstool.db import Databases, schema
from mopstool.errors import UsageError
from mopstool.stages import STAGES
from mopstool.stages.joins import (  # noqa: F401  (diffs_of_warps re-exported)
    chain_join, diffs_of_warps, exposure_stages, night_condition, run_ids_for_night, with_components,
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
class Run:
    """One run of an exposure's chain, as the nightly reports see it."""

    id: int | None = None
    state: str | None = None
    label: str | None = None
    tess_id: str | None = None
    #: a stage with one component row (camera): the row exists, and its values
    processed: bool = False
    quality: int | None = None
    fault: int | None = None
    #: the seeing the stage measured (the row's, or the mean of the good components)
    fwhm: float | None = None


_RUN_FIELDS = frozenset(Run.__dataclass_fields__)
_EXPOSURE_FIELDS = ("exp_id", "exp_name", "dateobs", "comment", "object", "filter", "target")


def visit_chain() -> tuple[str, ...]:
    """The stages a visit goes through, in order: the one-run-per-exposure
    stages whose faults the czar reports (chip -> cam -> fake -> warp)."""
    return exposure_stages("nightfaults")


def _run_field(name: str) -> tuple[str, str] | None:
    """(stage, Run field) that the attribute *name* stands for: a stage's id
    column (chip_id) or ``<stage>_<field>`` (cam_quality, warp_tess_id)."""
    return _field_of(name, tuple(STAGES))


@lru_cache(maxsize=512)
def _field_of(name: str, registered: tuple[str, ...]) -> tuple[str, str] | None:
    for st in (STAGES[n] for n in registered):
        if name == st.id_col:
            return st.name, "id"
        prefix = st.name + "_"
        if name.startswith(prefix) and name[len(prefix):] in _RUN_FIELDS - {"id"}:
            return st.name, name[len(prefix):]
    return None


class Exposure:
    """One exposure with the chosen processing chain (latest runs, the target's
    nightly label preferred) and what the pipeline recorded about it.

    ``runs`` holds one :class:`Run` per stage of :func:`visit_chain`, in
    order; ``e.run("warp")`` is one of them, and ``e.warp_id``,
    ``e.cam_quality``... read (and write) their fields, so a stage registered
    on the exposure path is carried without a field of its own."""

    def __init__(self, exp_id: int, exp_name: str, dateobs: datetime | None, comment: str | None,
                 object: str | None, filter: str | None, target: str, *,
                 runs: dict[str, Run] | None = None, faults: list[dict] | None = None, **fields):
        d = self.__dict__
        d.update(exp_id=exp_id, exp_name=exp_name, dateobs=dateobs, comment=comment, object=object,
                 filter=filter, target=target)
        d["runs"] = {name: Run() for name in visit_chain()}
        d["runs"].update(runs or {})
        #: fault rows of the chain's runs (collect_faults)
        d["faults"] = list(faults or [])
        for name, value in fields.items():
            setattr(self, name, value)

    @property
    def chain(self) -> tuple[str, ...]:
        return tuple(self.runs)

    def run(self, stage: str) -> Run:
        """The exposure's run of *stage* (an empty Run when there is none)."""
        return self.runs.get(stage) or Run()

    def __getattr__(self, name: str):
        key = _run_field(name) if not name.startswith("_") else None
        if key is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return getattr(self.run(key[0]), key[1])

    def __setattr__(self, name: str, value) -> None:
        key = _run_field(name) if name not in self.__dict__ and name not in _EXPOSURE_FIELDS else None
        if key is None:
            if name not in _EXPOSURE_FIELDS and name not in ("runs", "faults"):
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            self.__dict__[name] = value
            return
        setattr(self.runs.setdefault(key[0], Run()), key[1], value)

    def __eq__(self, other) -> bool:
        return isinstance(other, Exposure) and self.__dict__ == other.__dict__

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Exposure({self.exp_id}, {self.exp_name!r}, runs={self.runs!r})"

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
    """The status of a visit and why, with the run that decides it."""

    status: str
    reason: str
    stage: str | None = None
    run_id: int | None = None


def classify(e: Exposure, max_fwhm: float | None) -> Verdict:
    """The status of one exposure, in this order: dropped (a run of a stage
    the czar counts), bad quality (a stage with one component row: camera),
    FWHM above the cut (measured by the latest stage that has one), faulted,
    still processing, ok. The stages are those of the exposure's chain
    (:func:`visit_chain`); a visit is done when the last stage is."""
    chain = e.chain
    for stage in reversed([n for n in chain if STAGES[n].can("nightly")]):
        r = e.run(stage)
        if r.state == State.DROP:
            return Verdict(DROPPED, f"{stage} run {r.id} dropped", stage, r.id)
    for stage in reversed(chain):
        r = e.run(stage)
        if r.quality:
            return Verdict(BAD_QUALITY, f"{STAGES[stage].noun} quality {r.quality}: "
                           f"{quality_meaning(r.quality)}", stage, r.id)
    seeing = [n for n in chain if STAGES[n].fwhm_col]
    src = next((n for n in reversed(seeing) if e.run(n).fwhm is not None), None)
    fwhm = e.run(src).fwhm if src else None
    if max_fwhm is not None and fwhm is not None and fwhm > float(max_fwhm):
        return Verdict(BAD_FWHM, f"{STAGES[src].noun} FWHM {fwhm:.2f} above the cut {float(max_fwhm):g}",
                       src, e.run(src).id)
    # a visit whose last run (warp) is done has what a diff needs: later updates of
    # its chip run (a stamp request's ps_ud_* update, a fault 26 found then) do not lose it
    last, end = chain[-1], e.run(chain[-1])
    done = end.id is not None and end.state in DONE_STATES
    faults = [f for f in e.faults if f["stage"] == last] if done else e.faults
    if faults:
        f = faults[0]
        comps = ", ".join(f"{x['component']} fault {x['fault']}" for x in faults[:4])
        more = f" (+{len(faults) - 4} more)" if len(faults) > 4 else ""
        return Verdict(FAULTED, f"{f['stage']} run {f['id']}: {comps}{more}", f["stage"], f["id"])
    if done:
        return Verdict(OK, f"{last} {end.id} {end.state}", last, end.id)
    if e.run(chain[0]).id is None:
        return Verdict(PROCESSING, f"no {chain[0]} run defined", None, None)
    for stage, nstage in zip(chain, chain[1:]):
        r = e.run(stage)
        if r.state not in DONE_STATES:
            return Verdict(PROCESSING, f"{stage} run {r.id} in state {r.state}", stage, r.id)
        if e.run(nstage).id is None:
            return Verdict(PROCESSING, f"{stage} run {r.id} {r.state}; no {nstage} run yet", stage, r.id)
    if end.state not in DONE_STATES:
        return Verdict(PROCESSING, f"{last} run {end.id} in state {end.state}", last, end.id)
    return Verdict(OK, f"{last} {end.id} {end.state}", last, end.id)


@dataclass
class Visit:
    """One visit of a field group: its status, the reason and the exposure that stands for it."""

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
    """One night's target exposures with their runs, faults, component statistics and diffs."""

    night: date
    targets: dict[str, dict]
    exposures: list[Exposure]
    #: (stage, run id) -> exp_id, for every run of the night's target exposures
    run_exp: dict[tuple[str, int], int]
    exp_by_id: dict[int, Exposure]
    faults: list[dict]
    #: stage -> run id -> component counts (n, faulted, bad_quality, good, fwhm) of
    #: the chain's stages with several components (component_stats)
    stats: dict[str, dict[int, dict]] = field(default_factory=dict)
    #: diff rows touching the night's warps (see load_diffs)
    diffs: list[dict] = field(default_factory=list)

    @property
    def chip_stats(self) -> dict[int, dict]:
        return self.stats.get("chip", {})

    @property
    def warp_stats(self) -> dict[int, dict]:
        return self.stats.get("warp", {})

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


def _col(stage: str, attr: str) -> str:
    """Result label of a chain column (chip__state)."""
    return f"{stage.replace('-', '_')}__{attr}"


def _chain_query(night: date, targets: dict[str, dict], chain: tuple[str, ...]):
    """The night's target exposures with every run of their chain (outer joins
    along the exposure path), and the single component row of the stages that
    have one (camProcessedExp: quality, fault, FWHM)."""
    raw = schema.rawExp
    cond, target = target_condition(targets)
    frm = chain_join("exposure", chain[-1], outer=True)
    cols = []
    for name in chain:
        st = STAGES[name]
        run = schema.table(st.run_table)
        cols += [run.c[st.id_col].label(_col(name, "id")), run.c[st.state_col].label(_col(name, "state"))]
        if "label" in st.run_columns:
            cols.append(run.c.label.label(_col(name, "label")))
        if "tess_id" in run.c:
            cols.append(run.c.tess_id.label(_col(name, "tess_id")))
        if st.one_component:
            comp = schema.table(st.component_table)
            frm = with_components(frm, st, outer=True)
            cols.append(comp.c[st.component_link].label(_col(name, "processed")))
            for attr, col in (("quality", st.quality_col), ("fault", st.fault_col), ("fwhm", st.fwhm_col)):
                if col:
                    cols.append(comp.c[col].label(_col(name, attr)))
    return (select(raw.c.exp_id, raw.c.exp_name, raw.c.dateobs, raw.c.comment, raw.c.object, raw.c.filter,
                   target.label("target"), *cols)
            .select_from(frm)
            .where(night_condition(night), func.upper(raw.c.exp_type) == "OBJECT", raw.c.fault == 0, cond))


def stats_stages(chain: tuple[str, ...]) -> tuple[str, ...]:
    """The chain's stages the czar counts that have several components per run
    with a fault and a quality (chip imfiles, warp skyfiles)."""
    return tuple(n for n in chain if STAGES[n].can("nightly") and STAGES[n].has_components
                 and not STAGES[n].one_component and STAGES[n].fault_col and STAGES[n].quality_col)


def component_stats_query(stage: str, night: date):
    """Per run of the night: components, faulted, bad quality, good (full, no
    fault, quality 0) and the mean FWHM of the components without fault or bad
    quality (when the stage measures one)."""
    st = STAGES[stage]
    comp = schema.table(st.component_table)
    fault, quality = func.coalesce(comp.c[st.fault_col], 0), comp.c[st.quality_col]
    clean = and_(quality == 0, fault == 0)
    good = and_(comp.c[st.data_state_col] == State.FULL, clean) if st.data_state_col else clean
    cols = [comp.c[st.component_link], func.count().label("n"),
            func.sum(case((fault != 0, 1), else_=0)).label("faulted"),
            func.sum(case((quality != 0, 1), else_=0)).label("bad_quality"),
            func.sum(case((good, 1), else_=0)).label("good")]
    if st.fwhm_col:
        cols.append(func.avg(case((clean, comp.c[st.fwhm_col]), else_=None)).label("fwhm"))
    return (select(*cols).where(comp.c[st.component_link].in_(run_ids_for_night(st, night)))
            .group_by(comp.c[st.component_link]))


def _diffs_query(night: date):
    """Diffs whose input or template is a warp of the night: WW diffs once per
    run, WS/SW diffs once per skycell (they are made per skycell)."""
    return diffs_of_warps(night_warp_ids(night))


def _prefer(row: dict, labels: dict[str, str], chain: tuple[str, ...]) -> tuple:
    """Sort key of a candidate chain: along the chain, the nightly label first
    (stages the czar counts), then the latest run."""
    nightly = labels.get(row["target"])
    key: list = []
    for name in chain:
        if STAGES[name].can("nightly"):
            key.append(row.get(_col(name, "label")) == nightly)
        key.append(row[_col(name, "id")] or 0)
    return tuple(key)


def _run_of(row: dict, name: str) -> Run:
    get = lambda attr: row.get(_col(name, attr))  # noqa: E731
    return Run(id=get("id"), state=get("state"), label=get("label"), tess_id=get("tess_id"),
               processed=get("processed") is not None, quality=get("quality"), fault=get("fault"),
               fwhm=get("fwhm"))


def load_night(dbs: Databases, cfg: Config, night: date, *, fault_stages: tuple[str, ...] | None = None,
               stats: bool = True, diffs: bool = False) -> NightData:
    """Everything the nightly reports need about one night, in a fixed number
    of statements: the exposures of every configured target with their
    processing chains (the stages of visit_chain), the faults (collect_faults),
    the component statistics of chip and warp runs, and optionally the diffs
    that use the night's warps."""
    from mopstool.ops.runs.faults import FaultFilter, collect_faults

    targets = cfg.targets()
    labels = {name: survey_names(cfg, name, night)["label"] for name in targets}
    chain = visit_chain()
    with dbs.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(_chain_query(night, targets, chain))]
        run_stats: dict[str, dict[int, dict]] = {}
        if stats:
            for name in stats_stages(chain):
                link = STAGES[name].component_link
                run_stats[name] = {r._mapping[link]: dict(r._mapping)
                                   for r in conn.execute(component_stats_query(name, night))}
        diff_rows = [dict(r._mapping) for r in conn.execute(_diffs_query(night))] if diffs else []
    stages = fault_stages if fault_stages is not None else chain
    faults = collect_faults(dbs, FaultFilter(stages=stages, night=night)) if stages else []

    run_exp: dict[tuple[str, int], int] = {}
    best: dict[int, dict] = {}
    for r in rows:
        for stage in chain:
            rid = r[_col(stage, "id")]
            if rid is not None:
                run_exp[(stage, rid)] = r["exp_id"]
        cur = best.get(r["exp_id"])
        if cur is None or _prefer(r, labels, chain) > _prefer(cur, labels, chain):
            best[r["exp_id"]] = r
    faults_by_run: dict[tuple[str, int], list[dict]] = {}
    for f in faults:
        faults_by_run.setdefault((f["stage"], f["id"]), []).append(f)
    exposures = []
    for r in best.values():
        runs = {name: _run_of(r, name) for name in chain}
        for name, by_run in run_stats.items():
            st = by_run.get(runs[name].id)
            if runs[name].fwhm is None and st and st.get("fwhm") is not None:
                runs[name].fwhm = float(st["fwhm"])
        e = Exposure(exp_id=r["exp_id"], exp_name=r["exp_name"], dateobs=r["dateobs"], comment=r["comment"],
                     object=r["object"], filter=r["filter"], target=r["target"], runs=runs)
        for stage in chain:
            rid = runs[stage].id
            if rid is not None:
                e.faults.extend(faults_by_run.get((stage, rid), []))
        exposures.append(e)
    exposures.sort(key=lambda e: (e.target, e.dateobs or datetime.min, e.exp_id))
    return NightData(night=night, targets=targets, exposures=exposures, run_exp=run_exp,
                     exp_by_id={e.exp_id: e for e in exposures}, faults=faults,
                     stats=run_stats, diffs=diff_rows)


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
