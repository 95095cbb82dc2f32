"""Defining new processing runs from raw exposures (``mopstool definebyquery``).

``define_runs(dbs, selection, setters, stage="chip")`` does what
``chiptool -definebyquery`` does: select raw exposures (never one with
rawExp.fault != 0), then insert, in one transaction, one chipRun per exposure
(state 'new', workdir_state 'dirty', magicked 0, update_mode 0; reduction,
dvodb, tess_id and end_stage inherited from rawExp unless set; data_group
defaulting to the label) and one chipImfile per rawImfile class_id.

``DefineSelection.copy_of`` is the ``chiptool -definecopy`` variant: the
exposures are selected through their existing chip runs (the old run's
label, data_group, state), one new run per selected old run, never for an
exposure that already has a run with the new label; without ``--set-workdir``
the workdir is rawExp's (as chiptool's queue_exposures inherits it).

``stage="warp"`` is the ``warptool -definebyquery`` variant: it selects
fakeRuns whose fake, camera and chip runs are all 'full' and inserts one
warpRun (mode 'warp', state 'new') per fakeRun, inheriting every unset field
from the fakeRun. Unlike warptool it skips fakeRuns that already have a
warpRun with the new label, and it stores the note.

Setters whose value is the word ``NULL`` store SQL NULL (the C tools store the
four-letter string). Selection patterns are SQL LIKE patterns passed as bound
parameters; repeated values of one selector are ORed.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, fields, replace
from datetime import date, datetime, timezone
from typing import Any, Callable, Iterable

from sqlalchemy import and_, exists, func, literal, or_, select
from sqlalchemy.engine import Connection

from mopstool.config import expand_template, parse_night
from mopstool.db import Databases, schema
from mopstool.db.dialect import needs_explicit_id
from mopstool.db.values import check_row
from mopstool.errors import ConfigError, NotFound, UsageError
from mopstool.ops.writes import execute
from mopstool.stages import State, get_stage, stages_that
from mopstool.stages.joins import eq_any, exposure_chain, like_any, night_condition
from mopstool.util import chunks

#: the word that stands for SQL NULL in a setter (as in ``--set-dist-group NULL``)
NULL_WORD = "NULL"
#: names per IN (...) list when selecting by exposure name or id
CHUNK = 1000

#: the fields of one defined run in the JSON output (DESIGN.md)
CHIP_FIELDS = ("chip_id", "exp_id", "exp_name", "label", "data_group", "dist_group", "workdir",
               "reduction", "tess_id", "end_stage")
WARP_FIELDS = ("warp_id", "fake_id", "exp_id", "exp_name", "label", "data_group", "dist_group",
               "workdir", "reduction", "tess_id", "end_stage")


@dataclass
class CopyOf:
    """Select exposures through their existing chip runs (``chiptool -definecopy``'s
    chipOld): label and data_group SQL LIKE (repeated values ORed), state =."""

    labels: list[str] = field(default_factory=list)
    data_groups: list[str] = field(default_factory=list)
    state: str | None = None

    def has_terms(self) -> bool:
        return bool(self.labels or self.data_groups or self.state is not None)


@dataclass
class DefineSelection:
    """Which exposures (chip) or fakeRuns (warp) to define runs for.

    String selectors are SQL LIKE patterns ('%' wildcard), repeated values ORed;
    different selectors are ANDed."""

    exp_names: list[str] = field(default_factory=list)
    exp_ids: list[int] = field(default_factory=list)
    night: date | None = None
    dateobs_begin: datetime | None = None      # dateobs >= begin
    dateobs_end: datetime | None = None        # dateobs <= end
    filters: list[str] = field(default_factory=list)
    obs_modes: list[str] = field(default_factory=list)
    objects: list[str] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    #: rawExp.exp_type (=); None selects every type
    exp_type: str | None = "object"
    #: chip: newExp.label; warp: fakeRun.label
    labels: list[str] = field(default_factory=list)
    #: chip: skip exposures that already have a chipRun with the new label
    unique: bool = False
    limit: int | None = None
    #: allow a selection with no search term (everything of exp_type)
    all: bool = False
    # warp variant only
    fake_ids: list[int] = field(default_factory=list)
    cam_ids: list[int] = field(default_factory=list)
    chip_ids: list[int] = field(default_factory=list)
    reductions: list[str] = field(default_factory=list)   # fakeRun.reduction
    #: further rawExp terms as (column, op, value), op one of RAW_TERM_OPS; RA/Dec
    #: values are in radians (the rawExp unit). Each narrows the selection.
    raw_terms: list[tuple[str, str, Any]] = field(default_factory=list)
    #: chip: define copies of the exposures' existing chip runs that match (see CopyOf);
    #: the exposures that already have a run with the new label are always skipped
    copy_of: CopyOf | None = None

    def has_terms(self) -> bool:
        return bool(self.exp_names or self.exp_ids or self.night or self.dateobs_begin
                    or self.dateobs_end or self.filters or self.obs_modes or self.objects
                    or self.comments or self.labels or self.fake_ids or self.cam_ids
                    or self.chip_ids or self.reductions or self.raw_terms
                    or (self.copy_of is not None and self.copy_of.has_terms()))

    def explicit(self) -> bool:
        """Selected by explicit names or ids (a miss is then worth an error)."""
        return bool(self.exp_names or self.exp_ids or self.fake_ids or self.cam_ids or self.chip_ids)


@dataclass
class DefineSetters:
    """Values of the new runs. None: not given (inherit / default);
    the word NULL: store SQL NULL."""

    label: str | None = None
    workdir: str | None = None
    data_group: str | None = None
    dist_group: str | None = None
    tess_id: str | None = None
    end_stage: str | None = None
    reduction: str | None = None
    expgroup: str | None = None
    dvodb: str | None = None
    note: str | None = None

    def given(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}


SETTER_NAMES = tuple(f.name for f in fields(DefineSetters))
#: keys a [presets.NAME] table may hold besides the setters
_PRESET_EXTRA_KEYS = ("description",)


@dataclass
class DefineResult:
    stage: str
    runs: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False
    applied: bool = False
    #: explicit names/ids that selected nothing: {exp_name|exp_id, reason}
    unmatched: list[dict[str, Any]] = field(default_factory=list)
    #: selected but skipped (already defined with this label): {exp_id, exp_name, existing, reason}
    skipped: list[dict[str, Any]] = field(default_factory=list)
    #: rows inserted (or to insert) per table
    rows: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: the run rows to insert, and (source, label) of each (the write protocol compares them)
    values: list[dict[str, Any]] = field(default_factory=list, repr=False)
    keys: frozenset | None = field(default=None, repr=False)

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "dry_run": self.dry_run, "applied": self.applied,
                "runs": self.runs, "unmatched": self.unmatched, "skipped": self.skipped,
                "rows": self.rows, "notes": self.notes}

    # result protocol (mopstool.ops.results): the JSON form is the list of runs (DESIGN.md)
    def json_form(self) -> list[dict[str, Any]]:
        return self.runs

    def table_form(self):
        from mopstool.ops.results import Table

        return [Table(self.runs, DEFINERS[self.stage].fields,
                      f"{self.stage} runs" + (" (dry run)" if self.dry_run else ""))]


# ---------------------------------------------------------------------- helpers

def sql_value(value: str | None) -> str | None:
    """A setter value as stored: the word NULL (any case) becomes SQL NULL."""
    if value is None:
        return None
    return None if value.strip().upper() == NULL_WORD else value


def is_null_word(value: str | None) -> bool:
    return value is not None and value.strip().upper() == NULL_WORD


def preset_date(value: str | date | None = None) -> str:
    """The {date} of a preset: YYYYMMDD, from YYYY-MM-DD / YYYYMMDD / today (UTC)."""
    if value is None:
        return datetime.now(timezone.utc).strftime("%Y%m%d")
    return parse_night(value).strftime("%Y%m%d")


def resolve_setters(explicit: DefineSetters | None = None, preset: dict | None = None, *,
                    preset_name: str = "preset", date_value: str | date | None = None) -> DefineSetters:
    """Merge explicit setters over a preset and expand {label} / {date}.

    The label is expanded first ({date}); the other values then see the final
    label as {label}. Everything else in a value (e.g. @HOST@) is kept verbatim."""
    base = DefineSetters()
    if preset:
        unknown = set(preset) - set(SETTER_NAMES) - set(_PRESET_EXTRA_KEYS)
        if unknown:
            raise ConfigError(f"[presets.{preset_name}] has unknown keys: {', '.join(sorted(unknown))}; "
                              f"known: {', '.join(SETTER_NAMES)}")
        base = DefineSetters(**{k: (None if v is None else str(v)) for k, v in preset.items()
                                if k in SETTER_NAMES})
    merged = replace(base, **(explicit.given() if explicit else {}))
    d = preset_date(date_value)
    label = expand_template(merged.label, date=d) if merged.label is not None else None
    values = {}
    for name in SETTER_NAMES:
        v = getattr(merged, name)
        if name == "label":
            values[name] = label
        elif v is not None:
            values[name] = expand_template(v, date=d, **({"label": label} if label is not None else {}))
        else:
            values[name] = None
    return DefineSetters(**values)


def read_name_args(values: Iterable[str], stdin=None) -> list[str]:
    """Exposure names from --exp-name values: a name, '-' (one name per line on
    stdin) or the path of a file with one name per line ('#' comments and blank
    lines ignored). Order is kept, duplicates dropped."""
    out: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        name = name.split("#", 1)[0].strip()
        if name and name not in seen:
            seen.add(name)
            out.append(name)

    for v in values:
        if v == "-":
            stream = stdin if stdin is not None else sys.stdin
            for line in stream.read().splitlines():
                add(line)
        elif os.path.isfile(v) or os.path.sep in v:
            try:
                with open(v) as fh:
                    for line in fh:
                        add(line)
            except OSError as exc:
                raise UsageError(f"cannot read exposure names from {v}: {exc.strerror}") from None
        else:
            add(v)
    return out


def parse_time(value: str | datetime | None, what: str = "time") -> datetime | None:
    """An ISO time (YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS][Z]) as a naive UTC datetime."""
    if value is None or isinstance(value, datetime):
        return value
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1]
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"invalid {what} {value!r}: use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)") from None
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt


# ---------------------------------------------------------------------- selection

#: operators of DefineSelection.raw_terms
RAW_TERM_OPS = ("=", "LIKE", "NOT LIKE", ">=", "<", "<=")
from mopstool.ops.runs.rawexp import RAWEXP_EQ_COLUMNS, RAWEXP_RANGE_COLUMNS  # noqa: E402,F401


def raw_term(column: str, op: str, value):
    """One rawExp condition (an empty string compares with NULL, as the IPP does)."""
    col = schema.rawExp.c[column]
    if op == "LIKE":
        return col.is_(None) if value == "" else col.like(value)
    if op == "NOT LIKE":
        return col.is_not(None) if value == "" else col.notlike(value)
    if op == ">=":
        return col >= value
    if op == "<":
        return col < value
    if op == "<=":
        return col <= value
    if op == "=":
        return col.is_(None) if value == "" else col == value
    raise UsageError(f"unknown operator {op!r} for rawExp.{column}")


def _exposure_conditions(sel: DefineSelection) -> list:
    raw = schema.rawExp
    conds = [raw_term(c, op, v) for c, op, v in sel.raw_terms]
    if sel.night:
        conds.append(night_condition(sel.night))
    if sel.dateobs_begin:
        conds.append(raw.c.dateobs >= sel.dateobs_begin)
    if sel.dateobs_end:
        conds.append(raw.c.dateobs <= sel.dateobs_end)
    for values, col in ((sel.filters, raw.c.filter), (sel.obs_modes, raw.c.obs_mode),
                        (sel.objects, raw.c.object), (sel.comments, raw.c.comment)):
        if values:
            conds.append(like_any(col, values))
    if sel.exp_type is not None:
        conds.append(raw.c.exp_type.is_(None) if sel.exp_type == "" else raw.c.exp_type == sel.exp_type)
    return conds


def _keyed(sel: DefineSelection) -> tuple[str | None, list]:
    """The explicit list that is chunked into IN (...) lists (names, else ids)."""
    if sel.exp_names:
        return "exp_names", list(sel.exp_names)
    if sel.exp_ids:
        return "exp_ids", list(sel.exp_ids)
    return None, [None]


def _eq_word(column, value: str):
    """'=' as the IPP compares: '' selects NULL, the word NULL SQL NULL and 'NULL'."""
    if value == "":
        return column.is_(None)
    if value == NULL_WORD:
        return or_(column.is_(None), column == NULL_WORD)
    return column == value


def _chip_query(sel: DefineSelection, label: str, chunk_kind: str | None, chunk: list,
                *, duplicates: bool, full: bool = False):
    """rawExp rows to define (duplicates=False) or the ones skipped by --unique
    because a chipRun with the new label exists (duplicates=True). With
    ``sel.copy_of`` one row per matching old chip run (chiptool_definecopy.sql),
    in the old runs' order, with the old run's chip_id, workdir, data_group and
    state; *full*: every rawExp column and newExp.label too (what -pretend prints)."""
    raw, new, cr = schema.rawExp, schema.newExp, schema.chipRun
    conds = [raw.c.fault == 0, *_exposure_conditions(sel)]
    if sel.labels:
        conds.append(like_any(new.c.label, sel.labels))
    if chunk_kind == "exp_names":
        conds.append(eq_any(raw.c.exp_name, chunk))
        if sel.exp_ids:
            conds.append(eq_any(raw.c.exp_id, sel.exp_ids))
    elif chunk_kind == "exp_ids":
        conds.append(eq_any(raw.c.exp_id, chunk))
    dup = exists().where(cr.c.exp_id == raw.c.exp_id, cr.c.label == label)
    cols = [raw.c.exp_id, raw.c.exp_name, raw.c.workdir, raw.c.reduction, raw.c.dvodb,
            raw.c.tess_id, raw.c.end_stage]
    if full:
        cols = [*raw.c, new.c.label]
    frm = raw.join(new, new.c.exp_id == raw.c.exp_id)
    order = [raw.c.exp_id]
    copy = sel.copy_of
    if copy is not None:
        old = cr.alias("chipOld")
        frm = old.join(raw, raw.c.exp_id == old.c.exp_id).join(new, new.c.exp_id == raw.c.exp_id)
        if copy.labels:
            conds.append(like_any(old.c.label, copy.labels))
        if copy.data_groups:
            conds.append(like_any(old.c.data_group, copy.data_groups))
        if copy.state is not None:
            conds.append(_eq_word(old.c.state, copy.state))
        cols += [old.c.workdir.label("old_workdir"), old.c.data_group.label("old_data_group"),
                 old.c.state.label("old_state"), old.c.chip_id.label("old_chip_id")]
        order = [old.c.chip_id]
    if duplicates:
        existing = (select(func.max(cr.c.chip_id)).where(cr.c.exp_id == raw.c.exp_id, cr.c.label == label)
                    .scalar_subquery())
        q = select(raw.c.exp_id, raw.c.exp_name, existing.label("existing")).distinct()
        conds.append(dup)
    else:
        q = select(*cols)
        if sel.unique or copy is not None:
            conds.append(~dup)
    q = q.select_from(frm).where(*conds).order_by(*(order if not duplicates else [raw.c.exp_id]))
    if sel.limit and not duplicates:
        q = q.limit(sel.limit)
    return q


def _warp_query(sel: DefineSelection, label: str | None, chunk_kind: str | None, chunk: list,
                *, duplicates: bool):
    fk, cam, cr, raw, wr = (schema.fakeRun, schema.camRun, schema.chipRun, schema.rawExp,
                            schema.warpRun)
    conds = [fk.c.state == State.FULL, cam.c.state == State.FULL, cr.c.state == State.FULL,
             *_exposure_conditions(sel)]
    if sel.labels:
        conds.append(like_any(fk.c.label, sel.labels))
    if sel.reductions:
        conds.append(like_any(fk.c.reduction, sel.reductions))
    for values, col in ((sel.fake_ids, fk.c.fake_id), (sel.cam_ids, cam.c.cam_id),
                        (sel.chip_ids, cr.c.chip_id)):
        if values:
            conds.append(eq_any(col, values))
    if chunk_kind == "exp_names":
        conds.append(eq_any(raw.c.exp_name, chunk))
        if sel.exp_ids:
            conds.append(eq_any(raw.c.exp_id, sel.exp_ids))
    elif chunk_kind == "exp_ids":
        conds.append(eq_any(raw.c.exp_id, chunk))
    new_label = literal(label) if label is not None else fk.c.label
    dup = exists().where(wr.c.fake_id == fk.c.fake_id, wr.c.label == new_label)
    frm = exposure_chain("fake")
    if duplicates:
        existing = (select(func.max(wr.c.warp_id)).where(wr.c.fake_id == fk.c.fake_id,
                                                          wr.c.label == new_label).scalar_subquery())
        q = select(fk.c.fake_id, raw.c.exp_id, raw.c.exp_name, existing.label("existing"))
        conds.append(dup)
    else:
        q = select(fk.c.fake_id, fk.c.workdir, fk.c.label, fk.c.data_group, fk.c.dist_group,
                   fk.c.dvodb, fk.c.tess_id, fk.c.reduction, fk.c.end_stage, raw.c.exp_id,
                   raw.c.exp_name)
        conds.append(~dup)
    q = q.select_from(frm).where(*conds).order_by(fk.c.fake_id)
    if sel.limit and not duplicates:
        q = q.limit(sel.limit)
    return q


def _chip_run_values(raw: dict, s: DefineSetters) -> dict[str, Any]:
    label = s.label
    return dict(
        exp_id=raw["exp_id"], state=State.NEW, workdir=s.workdir if s.workdir is not None else raw["workdir"],
        workdir_state="dirty", label=label,
        data_group=sql_value(s.data_group) if s.data_group is not None else label,
        dist_group=sql_value(s.dist_group),
        reduction=sql_value(s.reduction) if s.reduction is not None else raw["reduction"],
        expgroup=sql_value(s.expgroup),
        dvodb=sql_value(s.dvodb) if s.dvodb is not None else raw["dvodb"],
        tess_id=sql_value(s.tess_id) if s.tess_id is not None else raw["tess_id"],
        end_stage=sql_value(s.end_stage) if s.end_stage is not None else raw["end_stage"],
        magicked=0, software_ver=None, maskfrac_npix=0, maskfrac_static=None, maskfrac_dynamic=None,
        maskfrac_magic=None, maskfrac_advisory=None, update_mode=0, note=sql_value(s.note),
    )


def _warp_run_values(fk: dict, s: DefineSetters) -> dict[str, Any]:
    def pick(name: str):
        v = getattr(s, name)
        return sql_value(v) if v is not None else fk[name]

    return dict(
        fake_id=fk["fake_id"], mode="warp", state=State.NEW, workdir=pick("workdir"),
        workdir_state="dirty", label=pick("label"), data_group=pick("data_group"),
        dist_group=pick("dist_group"), dvodb=pick("dvodb"), tess_id=pick("tess_id"),
        reduction=pick("reduction"), end_stage=pick("end_stage"), registered=None, magicked=0,
        software_ver=None, maskfrac_npix=0,     # pxwarpQueueByFakeID inserts 0 maskfrac_static=None, maskfrac_dynamic=None,
        maskfrac_magic=None, maskfrac_advisory=None, note=sql_value(s.note),
    )


# ---------------------------------------------------------------------- definition

def _needs_tess_chip(values: dict) -> bool:
    """A chip run that goes on to warp (end_stage warp, or unset = as far as
    possible) needs a tessellation."""
    end = values.get("end_stage")
    return (end is None or end.lower() == "warp") and not values.get("tess_id")


def _needs_tess_always(values: dict) -> bool:
    return not values.get("tess_id")


@dataclass(frozen=True)
class Definer:
    """How definebyquery defines runs of one stage (the stage must have the
    "define" capability): from which source rows, with which values."""

    stage: str
    #: the source row a run is defined from (rawExp.exp_id / fakeRun.fake_id)
    key: str
    #: the fields of one defined run in the JSON output (DESIGN.md)
    fields: tuple[str, ...]
    query: Callable
    values: Callable[[dict, DefineSetters], dict]
    needs_tess: Callable[[dict], bool]
    #: setters without which no run can be defined
    required: tuple[str, ...] = ()
    #: skip sources that already have a run with the new label even without --unique
    always_unique: bool = False
    #: accepts the fakeRun selectors (--fake-id, --cam-id, --chip-id, --reduction)
    run_selectors: bool = False
    #: why an explicit exposure that exists selected nothing
    unmatched_reason: str = "excluded by the other selectors"
    #: component rows to insert with the runs: (counts(conn, sources), insert(conn, run ids))
    component_table: str | None = None


def _chip_imfile_plan(conn: Connection, rows: list[dict]) -> int:
    counts = _imfile_counts(conn, [r["exp_id"] for r in rows])
    return sum(counts.get(r["exp_id"], 0) for r in rows)


DEFINERS: dict[str, Definer] = {d.stage: d for d in (
    Definer("chip", "exp_id", CHIP_FIELDS, _chip_query, _chip_run_values, _needs_tess_chip,
            required=("label", "workdir"), component_table="chipImfile"),
    Definer("warp", "fake_id", WARP_FIELDS, _warp_query, _warp_run_values, _needs_tess_always,
            always_unique=True, run_selectors=True,
            unmatched_reason="no full chip/camera/fake chain matching the other selectors"),
)}


def define_stages() -> tuple[str, ...]:
    """Stages definebyquery can define runs for."""
    return tuple(n for n in stages_that("define") if n in DEFINERS)


def _definer(stage: str) -> Definer:
    if stage not in define_stages():
        raise UsageError(f"definebyquery defines {' or '.join(define_stages())} runs, not {stage!r}")
    return DEFINERS[stage]


def _run_select(conn: Connection, d: Definer, sel: DefineSelection, label: str | None,
                *, duplicates: bool, progress: Callable | None = None, **extra) -> list[dict[str, Any]]:
    kind, values = _keyed(sel)
    rows: list[dict[str, Any]] = []
    seen = set()
    copy = sel.copy_of is not None and not duplicates
    parts = list(chunks(values)) or [[]]
    for i, chunk in enumerate(parts):
        if progress is not None and len(parts) > 1:
            progress("selecting exposures", i * len(parts[0]), len(values))
        for r in conn.execute(d.query(sel, label, kind, chunk, duplicates=duplicates, **extra)):
            row = dict(r._mapping)
            key = row["old_chip_id"] if copy else row[d.key]
            if key not in seen:
                seen.add(key)
                rows.append(row)
    rows.sort(key=lambda row: row["old_chip_id"] if copy else row[d.key])
    if sel.limit and not duplicates:
        rows = rows[:sel.limit]
    return rows


def copy_rows(conn: Connection, selection: DefineSelection, label: str) -> list[dict[str, Any]]:
    """The rows of a copy selection (``selection.copy_of``; chiptool_definecopy.sql):
    rawExp.*, newExp.label and the old run's workdir, data_group and state
    (old_workdir, old_data_group, old_state), one per matching old chip run, in
    the old runs' chip_id order (old_chip_id)."""
    if selection.copy_of is None:
        raise UsageError("copy_rows needs a selection with copy_of")
    return _run_select(conn, DEFINERS["chip"], selection, label, duplicates=False, full=True)


def _refuse_double_copies(rows: list[dict[str, Any]]) -> None:
    """A copy selection that reaches one exposure through two old runs would
    define two identical runs (chiptool does): refused, nothing written."""
    count: dict[Any, list] = {}
    for r in rows:
        count.setdefault(r["exp_id"], []).append(r["old_chip_id"])
    double = {e: ids for e, ids in count.items() if len(ids) > 1}
    if double:
        names = {r["exp_id"]: r["exp_name"] for r in rows}
        shown = ", ".join(f"{names[e]} (chip runs {', '.join(str(i) for i in ids)})"
                          for e, ids in list(double.items())[:5])
        more = f" (+{len(double) - 5} more)" if len(double) > 5 else ""
        raise UsageError(f"{len(double)} exposure(s) match through more than one old chip run, which "
                         f"would define two identical runs: {shown}{more}; narrow the selection "
                         "(e.g. by the old run's state or label)")


def _unmatched(conn: Connection, d: Definer, sel: DefineSelection, matched: list[dict],
               skipped: list[dict]) -> list[dict[str, Any]]:
    """Explicit names / ids that selected nothing, with the reason."""
    raw = schema.rawExp
    out: list[dict[str, Any]] = []
    got_names = {r["exp_name"] for r in matched} | {r["exp_name"] for r in skipped}
    got_ids = {r["exp_id"] for r in matched} | {r["exp_id"] for r in skipped}
    missing_names = [n for n in sel.exp_names if n not in got_names]
    missing_ids = [i for i in sel.exp_ids if i not in got_ids] if not sel.exp_names else []
    found: dict[Any, dict] = {}
    for values, col in ((missing_names, raw.c.exp_name), (missing_ids, raw.c.exp_id)):
        for chunk in chunks(values):
            q = select(raw.c.exp_id, raw.c.exp_name, raw.c.fault, raw.c.exp_type).where(col.in_(chunk))
            for r in conn.execute(q):
                found[r.exp_name] = found[r.exp_id] = dict(r._mapping)

    def reason(info: dict | None) -> str:
        if info is None:
            return "no such exposure"
        if info["fault"]:
            return f"rawExp fault {info['fault']}: the exposure is not usable"
        if sel.exp_type is not None and info["exp_type"] != sel.exp_type:
            return f"exp_type is {info['exp_type']!r}, not {sel.exp_type!r} (use --exp-type)"
        return d.unmatched_reason

    for n in missing_names:
        out.append({"exp_name": n, "exp_id": (found.get(n) or {}).get("exp_id"),
                    "reason": reason(found.get(n))})
    for i in missing_ids:
        out.append({"exp_name": (found.get(i) or {}).get("exp_name"), "exp_id": i,
                    "reason": reason(found.get(i))})
    return out


def _check_setters(d: Definer, setters: DefineSetters, *, copy: bool = False) -> None:
    for name in ("label",) if copy else d.required:   # a copy inherits rawExp's workdir
        if getattr(setters, name) is None:
            raise UsageError(f"--set-{name} is required (or a --preset that gives it)")
    for name in ("label", "workdir"):
        if is_null_word(getattr(setters, name)):
            raise UsageError(f"--set-{name} cannot be NULL")
    for name in ("label",):
        v = getattr(setters, name)
        if v is not None and not v.strip():
            raise UsageError(f"--set-{name} cannot be empty")


def _imfile_counts(conn: Connection, exp_ids: list[int]) -> dict[int, int]:
    ri = schema.rawImfile
    out: dict[int, int] = {}
    for chunk in chunks(exp_ids):
        q = select(ri.c.exp_id, func.count()).where(ri.c.exp_id.in_(chunk)).group_by(ri.c.exp_id)
        out.update({int(e): int(n) for e, n in conn.execute(q)})
    return out


def define_runs(dbs: Databases, selection: DefineSelection, setters: DefineSetters, *,
                stage: str = "chip", dry_run: bool = False,
                confirm: Callable[[DefineResult], bool] | None = None,
                audit_detail: dict | None = None, lock_timeout: float | None = None,
                progress: Callable[[str, int, int | None], None] | None = None) -> DefineResult:
    """Select exposures (chip) or fakeRuns (warp) and define new runs for them.

    With dry_run the plan is returned (run ids None) and nothing is written.
    *confirm*, if given, sees the plan before anything is written and may
    decline (the result then has applied False). The selection is made again
    under the write lock, in the transaction that inserts, so two writers never
    define the same runs twice (--unique, and always for warp). Raises NotFound
    when explicit names/ids were given and none of them selected anything.
    *progress(what, done, total)* follows the selection of many names and the
    inserts."""
    plan, apply = define_writer(selection, setters, stage=stage, audit_detail=audit_detail,
                                progress=progress)
    return execute(dbs, f"definebyquery.{stage}", plan, apply, dry_run=dry_run, confirm=confirm,
                   lock_timeout=lock_timeout)


def define_writer(selection: DefineSelection, setters: DefineSetters, *, stage: str = "chip",
                  audit_detail: dict | None = None,
                  progress: Callable[[str, int, int | None], None] | None = None):
    """The (plan, apply) pair of a definition (the options checked first), for
    :func:`mopstool.ops.writes.execute`, or for a writer that defines runs as
    part of its own transaction (fixbroken)."""
    d = _definer(stage)
    st = get_stage(stage, capability="define")
    if not selection.has_terms() and not selection.all:
        raise UsageError("search parameters are required (e.g. --exp-name, --night, --label), "
                         "or --all for every exposure")
    if selection.limit is not None and selection.limit < 0:
        raise UsageError("--limit must be >= 0")
    if selection.limit == 0:
        selection = replace(selection, limit=None)
    if not d.run_selectors and (selection.fake_ids or selection.cam_ids or selection.chip_ids
                                or selection.reductions):
        others = [n for n in define_stages() if DEFINERS[n].run_selectors]
        raise UsageError("--fake-id, --cam-id, --chip-id and --reduction select fakeRuns: "
                         f"use them with --stage {' or '.join(others)}")
    if selection.copy_of is not None and stage != "chip":
        raise UsageError("copies of existing runs are defined for chip runs only")
    _check_setters(d, setters, copy=selection.copy_of is not None)
    unique = d.always_unique or selection.unique or selection.copy_of is not None
    id_col = st.id_col
    run_table = schema.table(st.run_table)
    given = setters.given()
    check_row(run_table, given, options={c: f"--set-{c.replace('_', '-')}" for c in given})
    label = setters.label
    new_state = st.validate_state(State.NEW)

    def plan(conn) -> DefineResult:
        result = DefineResult(stage=stage)
        selected = _run_select(conn, d, selection, label, duplicates=False, progress=progress)
        if selection.copy_of is not None:
            _refuse_double_copies(selected)
        if unique:
            result.skipped = [
                dict(r, reason=f"already has {stage} run {r['existing']} with label "
                               f"{label if label is not None else '(the inherited label)'}")
                for r in _run_select(conn, d, selection, label, duplicates=True)]
        if selection.explicit():
            result.unmatched = _unmatched(conn, d, selection, selected, result.skipped)
        values = [dict(d.values(r, setters), state=new_state) for r in selected]
        if selection.explicit() and not selected and not result.skipped:
            what = ", ".join(str(u.get("exp_name") or u.get("exp_id")) for u in result.unmatched[:5])
            more = f" (+{len(result.unmatched) - 5} more)" if len(result.unmatched) > 5 else ""
            raise NotFound(f"no exposure matches: {what}{more}" if what else
                           "nothing matches the given ids")
        no_tess = [r for r, v in zip(selected, values) if d.needs_tess(v)]
        if no_tess:
            names = ", ".join(str(r["exp_name"]) for r in no_tess[:5])
            raise UsageError(f"{len(no_tess)} run(s) would go on to warp without a tess_id ({names}); "
                             "give --set-tess-id (e.g. RINGS.V3) or --set-end-stage")
        for r, v in zip(selected, values):
            out = {id_col: None}
            if d.key != "exp_id":
                out[d.key] = r[d.key]
            out.update(exp_id=r["exp_id"], exp_name=r["exp_name"])
            for k in ("label", "data_group", "dist_group", "workdir", "reduction", "tess_id", "end_stage"):
                out[k] = v[k]
            result.runs.append(out)
        result.rows = {run_table.name: len(values)}
        if d.component_table:
            result.rows[d.component_table] = _chip_imfile_plan(conn, selected)
        result.values = values
        # a run is defined for a source and label (--unique / warp: once)
        result.keys = frozenset((v[d.key], v["label"]) for v in values) if unique else None
        if not values:
            result.notes.append("nothing to define")
        return result

    def apply(conn, result: DefineResult):
        values = result.values
        steps = 2 if d.component_table else 1
        if progress is not None:
            progress(f"defining {len(values)} runs", 0, steps)
        top = conn.execute(select(func.max(run_table.c[id_col]))).scalar() or 0
        conn.execute(run_table.insert(), values)
        new_rows = conn.execute(
            select(run_table.c[id_col], run_table.c[d.key], run_table.c.label)
            .where(run_table.c[id_col] > top, run_table.c.state == new_state)).all()
        wanted = {(v[d.key], v["label"]) for v in values}
        ids: dict[Any, int] = {}
        for rid, k, lbl in new_rows:
            if (k, lbl) in wanted and k not in ids:
                ids[k] = int(rid)
        if len(ids) != len(values):  # pragma: no cover - the lock serializes mopstool writers
            raise NotFound("could not identify the inserted runs; nothing written")
        for out in result.runs:
            out[id_col] = ids[out[d.key]]
        if progress is not None:
            progress(f"defining {len(values)} runs", 1, steps)
        if d.component_table:
            result.rows[d.component_table] = _insert_chip_imfiles(conn, sorted(ids.values()))
            if progress is not None:
                progress(f"defining {len(values)} runs", 2, steps)
        return result.total, dict(audit_detail or {}, stage=stage, label=label, runs=len(values),
                                  first_id=min(ids.values()), last_id=max(ids.values()))

    return plan, apply


def _insert_chip_imfiles(conn: Connection, chip_ids: list[int]) -> int:
    """One chipImfile per rawImfile class_id of each new run (ignored ones too):
    one INSERT ... SELECT."""
    cr, ri, ci = schema.chipRun, schema.rawImfile, schema.chipImfile
    lo, hi = chip_ids[0], chip_ids[-1]
    id_set = set(chip_ids)
    cond = and_(cr.c.chip_id >= lo, cr.c.chip_id <= hi)
    if len(id_set) != hi - lo + 1:
        # ids are not one consecutive block (another writer interleaved): name them
        cond = cr.c.chip_id.in_(chip_ids)
    frm = cr.join(ri, ri.c.exp_id == cr.c.exp_id)
    explicit = needs_explicit_id(conn, ci)
    if explicit:
        base = conn.execute(select(func.coalesce(func.max(ci.c[explicit]), 0))).scalar()
        rownum = func.row_number().over(order_by=(cr.c.chip_id, ri.c.class_id))
        sel = select(cr.c.chip_id, ri.c.class_id, (literal(int(base)) + rownum)).select_from(frm).where(cond)
        stmt = ci.insert().from_select(["chip_id", "class_id", explicit], sel)
    else:
        # chip_imfile_id numbered run by run, class by class, as one INSERT per run would
        sel = select(cr.c.chip_id, ri.c.class_id).select_from(frm).where(cond).order_by(cr.c.chip_id,
                                                                                         ri.c.class_id)
        stmt = ci.insert().from_select(["chip_id", "class_id"], sel)
    res = conn.execute(stmt)
    n = res.rowcount
    if n is None or n < 0:  # pragma: no cover - driver without rowcount
        n = conn.execute(select(func.count()).select_from(ci).where(ci.c.chip_id.in_(chip_ids))).scalar()
    return int(n)
