"""Faulted components across stages, written once over the stage descriptions.

``collect_faults`` returns one row per faulted component (chip imfile, camera
exposure, warp skyfile or overlap map, diff skyfile, publish result) with the
fault's meaning and the mopstool command that clears it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import and_, literal, select, union_all

from mopstool.db import Databases, schema
from mopstool.stages import FAULT_GONE, STAGES, Stage, State, fault_meaning, stage_order, stages_that
from mopstool.stages.joins import RunFilter, eq_any, guard_conditions, run_conditions


def fault_stages() -> tuple[str, ...]:
    """Stages whose components carry processing faults, in pipeline order."""
    return stages_that("faults")


@dataclass
class FaultFilter:
    """Which faulted components to list: stages, night, labels, data groups, run ids."""

    #: empty: every stage with faults
    stages: tuple[str, ...] = ()
    night: date | None = None
    labels: list[str] = field(default_factory=list)
    data_groups: list[str] = field(default_factory=list)
    ids: list[int] = field(default_factory=list)
    faults: list[int] = field(default_factory=list)


def fix_command(stage: str, run_id: int, run_state: str | None, fault: int,
                component: str | None = None) -> str | None:
    """The mopstool command that clears this fault (None where no command applies)."""
    kind = fix_kind(stage, run_state, fault)
    st = STAGES[stage]
    if kind == "fixbroken":
        return f"mopstool fixbroken {st.id_option} {run_id}"
    if kind == "revert":
        return f"mopstool revert {stage} --id {run_id}"
    if kind == "inspect":
        return f"mopstool show {stage} {run_id}"
    return None


def _fault_select(stage: Stage, flt: FaultFilter):
    run = schema.table(stage.run_table)
    comp = schema.table(stage.component_table)
    key = (comp.c[stage.component_key[0]] if stage.component_key else literal("-"))
    data_state = comp.c[stage.data_state_col] if stage.data_state_col else literal(None)
    link = comp.c[stage.component_link]
    label = run.c.label
    data_group = run.c.data_group if "data_group" in stage.run_columns else literal(None)
    rflt = RunFilter(ids=flt.ids, labels=flt.labels, data_groups=flt.data_groups
                     if "data_group" in stage.run_columns else [], night=flt.night)
    conds = run_conditions(stage, rflt) if stage.exposure_path or not flt.night else None
    if conds is None:
        return None
    # the stage's guards (publish: an active diff client), as revert applies them:
    # a fault revert would leave alone is not listed as one to revert
    conds = list(conds) + guard_conditions(stage)
    fcol = comp.c[stage.fault_col]
    fault_cond = eq_any(fcol, flt.faults) if flt.faults else fcol != 0
    q = select(
        literal(stage.name).label("stage"), run.c[stage.id_col].label("id"),
        key.label("component"), fcol.label("fault"), run.c.state.label("state"),
        data_state.label("data_state"), label.label("label"), data_group.label("data_group"),
    ).select_from(comp.join(run, link == run.c[stage.id_col])).where(fault_cond, *conds)
    fmap = stage.fault_map
    if fmap is None:
        return [q]
    m = schema.table(fmap.table)
    mcol = m.c[stage.fault_col]
    mflt = eq_any(mcol, flt.faults) if flt.faults else mcol != 0
    q2 = select(
        literal(stage.name).label("stage"), run.c[stage.id_col].label("id"),
        literal(fmap.component).label("component"), mcol.label("fault"),
        run.c.state.label("state"), literal(None).label("data_state"),
        label.label("label"), data_group.label("data_group"),
    ).select_from(m.join(run, m.c[stage.id_col] == run.c[stage.id_col])).where(
        and_(mflt, m.c[fmap.key_col] == fmap.marker), *conds)
    return [q, q2]


def collect_faults(dbs: Databases, flt: FaultFilter | None = None) -> list[dict[str, Any]]:
    """Every faulted component matching *flt*, with meanings and fix commands.

    One statement (a UNION over the stages), bounded by the filter's indexed
    columns (night via exp_name, label, ids, the fault key)."""
    flt = flt or FaultFilter()
    selects = []
    for name in flt.stages or fault_stages():
        stage = STAGES[name]
        if flt.night and not stage.exposure_path:
            continue
        parts = _fault_select(stage, flt)
        if parts:
            selects.extend(parts)
    if not selects:
        return []
    q = union_all(*selects) if len(selects) > 1 else selects[0]
    with dbs.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    order = stage_order()
    rows.sort(key=lambda r: (order.get(r["stage"], 99), r["id"], str(r["component"])))
    for r in rows:
        r["fault"] = int(r["fault"])
        r["meaning"] = fault_meaning(r["fault"])
        r["fix"] = fix_command(r["stage"], r["id"], r["state"], r["fault"], r["component"])
    return rows


# ---------------------------------------------------------------------- summary

#: run ids named one by one in a group's fix command (more: the group's filters)
FIX_MAX_IDS = 10


def fix_kind(stage: str, run_state: str | None, fault: int) -> str:
    """How a fault is cleared: revert, fixbroken, inspect (show) or none."""
    st = STAGES[stage]
    if not st.can("revert"):
        return "none"
    if fault == FAULT_GONE:
        return "fixbroken" if st.can("fixbroken") else "none"
    if run_state in (State.NEW, State.UPDATE):
        return "revert"
    return "inspect"


def _filter_options(flt: FaultFilter | None) -> list[str]:
    import shlex

    opts: list[str] = []
    if flt is None:
        return opts
    if flt.night:
        opts += ["--night", flt.night.isoformat()]
    for lab in flt.labels:
        opts += ["--label", shlex.quote(lab)]
    for dg in flt.data_groups:
        opts += ["--data-group", shlex.quote(dg)]
    return opts


def _group_fix(stage: str, kind: str, fault: int, rows: list[dict[str, Any]],
               flt: FaultFilter | None) -> str | None:
    ids = sorted({r["id"] for r in rows})
    if kind == "revert":
        base = ["mopstool", "revert", stage]
        if fault == FAULT_GONE:
            base += ["--fault", str(FAULT_GONE)]
        else:
            base += ["--fault", str(fault)]
        if len(ids) <= FIX_MAX_IDS:
            return " ".join(base + [x for i in ids for x in ("--id", str(i))])
        opts = _filter_options(flt)
        return " ".join(base + (opts or ["--all"]))
    if kind == "fixbroken":
        cmds = list(dict.fromkeys(r["fix"] for r in rows if r.get("fix")))
        if len(cmds) <= 3:
            return " ; ".join(cmds) if cmds else None
        return " ; ".join(cmds[:3]) + f" ; ... ({len(cmds) - 3} more: mopstool faults --components)"
    if kind == "inspect":
        if len(ids) == 1:
            return f"mopstool show {stage} {ids[0]}"
        return f"mopstool faults --stage {stage} --fault {fault} --components"
    return None


def summarize_faults(rows: list[dict[str, Any]], flt: FaultFilter | None = None) -> list[dict[str, Any]]:
    """Group collect_faults() rows by stage, fault code and kind of fix.

    One row per group: stage, fault, meaning, components (count), runs (count),
    ids (up to 20 run ids), run_states, labels, kind (revert | fixbroken |
    inspect | none) and fix, a runnable mopstool command for the whole group."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for r in rows:
        kind = fix_kind(r["stage"], r.get("state"), int(r["fault"]))
        groups.setdefault((r["stage"], int(r["fault"]), kind), []).append(r)
    order = stage_order()
    kinds = ("revert", "fixbroken", "inspect", "none")
    out = []
    for (stage, fault, kind), members in sorted(
            groups.items(), key=lambda kv: (order.get(kv[0][0], 99), kv[0][1], kinds.index(kv[0][2]))):
        ids = sorted({m["id"] for m in members})
        out.append({
            "stage": stage,
            "fault": fault,
            "meaning": fault_meaning(fault),
            "components": len(members),
            "runs": len(ids),
            "ids": ids[:20],
            "run_states": sorted({str(m.get("state")) for m in members}),
            "labels": sorted({str(m.get("label")) for m in members})[:10],
            "kind": kind,
            "fix": _group_fix(stage, kind, fault, members, flt),
        })
    return out
