"""Which replacement chip run repairs which broken runs (``mopstool fixbroken``).

The pairing is kept in the replacement chip run's ``note`` (which chiptool
leaves NULL): ``mopstool.fixbroken open|done [preset:NAME] stage:id ...``.
This module writes and reads that note and finds the fixes by exposure or by
the fix presets' labels; it only reads the database, so the czar (which points
fault-26 problems at a fix in progress) does not load the fixbroken writer.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from sqlalchemy import or_, select

from mopstool.config import Config
from mopstool.db import schema
from mopstool.stages import STAGES, Stage, stages_that
from mopstool.stages.joins import exposure_ids, exposure_join
from mopstool.util import chunks

FIX_OPEN = "defined"
FIX_FINISHED = "finished"
#: the replacement chipRun.note of a fix: NOTE_PREFIX, open|done, preset:NAME, stage:id ...
NOTE_PREFIX = "mopstool.fixbroken"
_NOTE_WORD = {FIX_OPEN: "open", FIX_FINISHED: "done"}
_NOTE_STATE = {v: k for k, v in _NOTE_WORD.items()}
NOTE_MAX = 255
_IN_CHUNK = 1000


def broken_stages() -> tuple[str, ...]:
    """The stages whose components can be broken (the registry's "fixbroken" capability)."""
    return stages_that("fixbroken")


def chain_stages() -> tuple[str, ...]:
    """The stages of a replacement chain, in pipeline order (chip ... warp): the
    one-run-per-exposure fixbroken stages that definebyquery defines. The first
    is the stage a fix defines anew (its run's note records the fix)."""
    return tuple(n for n in broken_stages() if STAGES[n].flat_exposure and STAGES[n].can("define"))


def _root() -> Stage:
    return STAGES[chain_stages()[0]]


def _end() -> Stage:
    return STAGES[chain_stages()[-1]]


def _root_run():
    return schema.table(_root().run_table)


# ---------------------------------------------------------------------- the pairing note

def fix_note(state: str, preset: str | None, broken: Iterable[tuple[str, int]]) -> str:
    """The chipRun.note of a replacement: ``mopstool.fixbroken open preset:P chip:1 warp:2``."""
    parts = [NOTE_PREFIX, _NOTE_WORD[state]]
    if preset:
        parts.append(f"preset:{preset}")
    seen = []
    for stage, rid in broken:
        tok = f"{stage}:{int(rid)}"
        if tok not in seen:
            seen.append(tok)
    return " ".join(parts + seen)


def _token(word: str):
    """(stage, id) of a ``stage:id`` word of a fix note, or None."""
    stage, sep, rid = word.partition(":")
    if sep and stage in broken_stages() and rid.isdigit():
        return (stage, int(rid))
    return None


def parse_fix_note(note: str | None) -> dict[str, Any] | None:
    """{state, preset, broken: [(stage, id)]} of a fix note, or None for any other note."""
    if not note or not note.startswith(NOTE_PREFIX + " "):
        return None
    words = note.split()
    if len(words) < 2 or words[1] not in _NOTE_STATE:
        return None
    out: dict[str, Any] = {"state": _NOTE_STATE[words[1]], "preset": None, "broken": []}
    for w in words[2:]:
        if w.startswith("preset:"):
            out["preset"] = w[len("preset:"):] or None
            continue
        tok = _token(w)
        if tok:
            out["broken"].append(tok)
    return out


def _note_like():
    return _root_run().c.note.like(NOTE_PREFIX + " %")


def fix_label_patterns(cfg: Config) -> list[str]:
    """LIKE patterns of the replacement labels: the fix presets' label templates
    with every {field} a wildcard (PSNSC.wfix.{date} -> PSNSC.wfix.%)."""
    names = []
    for key, default in (("fixbroken.lap_preset", "lapfix"), ("fixbroken.w_preset", "wfix")):
        name = cfg.get(key, default)
        if name and name not in names:
            names.append(name)
    presets = cfg.get("presets") or {}
    out = []
    for name in names:
        label = (presets.get(name) or {}).get("label")
        if label:
            pat = re.sub(r"\{[^}]*\}", "%", str(label))
            if pat not in out:
                out.append(pat)
    return out


def _fix_rows(conn, where) -> list[dict[str, Any]]:
    root = _root()
    cr, raw = _root_run(), schema.rawExp
    idc = cr.c[root.id_col]
    q = (select(idc.label("run_id"), raw.c.exp_id, cr.c[root.state_col].label("state"), cr.c.label,
                cr.c.data_group, cr.c.workdir, cr.c.reduction, cr.c.note, raw.c.exp_name, raw.c.filter)
         .select_from(exposure_join(root))
         .where(_note_like(), *where).order_by(idc))
    out = []
    for r in conn.execute(q):
        parsed = parse_fix_note(r.note)
        if parsed is None:
            continue
        out.append({"fix_id": int(r.run_id), "chip_id": int(r.run_id), "exp_id": int(r.exp_id),
                    "exp_name": r.exp_name, "filter": r.filter, "chip_run_state": r.state,
                    "label": r.label, "data_group": r.data_group, "workdir": r.workdir,
                    "reduction": r.reduction, "note": r.note, **parsed})
    return out


def fixes_for_exposures(conn, exp_ids: Iterable[int]) -> list[dict[str, Any]]:
    """Every fix (replacement chip run with a fix note) of these exposures (chipRun.exp_id index)."""
    out = []
    exp_col = _root_run().c[_root().parent[1]]
    for chunk in chunks(sorted(set(int(e) for e in exp_ids)), _IN_CHUNK):
        out += _fix_rows(conn, [exp_col.in_(chunk)])
    return out


def recorded_fixes(conn, cfg: Config, *, open_only: bool = False) -> list[dict[str, Any]]:
    """Every fix whose replacement carries a fix preset's label (chipRun.label index)."""
    pats = fix_label_patterns(cfg)
    if not pats:
        return []
    lab = _root_run().c.label
    cond = or_(*[lab.like(p) if "%" in p or "_" in p else lab == p for p in pats])
    where = [cond]
    if open_only:
        where.append(_root_run().c.note.like(f"{NOTE_PREFIX} {_NOTE_WORD[FIX_OPEN]}%"))
    return _fix_rows(conn, where)


def open_replacements(conn, broken: Iterable[tuple[str, int]]) -> dict[tuple[str, int], int]:
    """(stage, run id) of broken runs -> the replacement chip run of an open fix
    that lists them (found through the runs' exposures)."""
    keys = {(s, int(i)) for s, i in broken if s in broken_stages()}
    if not keys:
        return {}
    exps: set[int] = set()
    for stage in broken_stages():
        ids = [i for s, i in keys if s == stage]
        for e in _exposures_of(conn, stage, ids).values():
            exps.update(e)
    out = {}
    for f in fixes_for_exposures(conn, exps):
        if f["state"] != FIX_OPEN:
            continue
        for b in f["broken"]:
            if b in keys:
                out.setdefault(b, f["chip_id"])
    return out


def _exposures_of(conn, stage: str, ids: list[int]) -> dict[int, list[int]]:
    """run id -> exp_ids behind it (a diff has its input's and its template's)."""
    found: dict[int, set[int]] = {}
    for chunk in chunks(sorted(set(ids)), _IN_CHUNK):
        for rid, eid in conn.execute(exposure_ids(stage, chunk)):
            if rid is not None and eid is not None:
                found.setdefault(int(rid), set()).add(int(eid))
    return {rid: sorted(e) for rid, e in found.items()}
