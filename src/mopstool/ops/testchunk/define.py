"""``testchunk define``: reprocess a test set under a new label.

The chip runs are defined by the definebyquery code (``define_runs``, stage
chip, end stage warp, ``unique`` so a second call defines nothing), and the
set's WW (and WS) diffs by the diffpairs code (``plan_diffpairs`` /
``define_diffpairs``) once its warps are full.

For the diffs the set is one survey target of a derived config: its label,
data_group and workdir are the test label's, its exposures are those of the
set's night and chunk whose chosen processing chain carries the test label
(so the ops tag's own nightly diffs of the same exposures are not mistaken
for the test chunk's), and desperate pairs are off unless the set asks.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from mopstool.config import Config, expand_template
from mopstool.db import Databases
from mopstool.errors import ConfigError, UsageError
from mopstool.ops.runs.define import DefineResult, DefineSelection, DefineSetters, define_runs
from mopstool.ops.testchunk.sets import TestSet, label_for


@dataclass
class TestchunkDefineResult:
    set: str
    label: str
    dry_run: bool
    chips: DefineResult | None = None
    diffs: list[dict[str, Any]] = field(default_factory=list)
    diffs_defined: int = 0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        c = self.chips
        return {"set": self.set, "label": self.label, "dry_run": self.dry_run,
                "runs": c.runs if c else [], "skipped": c.skipped if c else [],
                "unmatched": c.unmatched if c else [], "rows": c.rows if c else {},
                "diffs": self.diffs, "diffs_defined": self.diffs_defined, "notes": self.notes}


def _filter_pattern(flt: str) -> list[str]:
    if not flt:
        return []
    return [flt if "." in flt or "%" in flt else f"{flt}.%"]


def selection_for(ts: TestSet) -> DefineSelection:
    if not ts.defined:
        keys = " or ".join(ts.missing_keys() + (["chunk + night"] if not ts.chunk else []))
        raise ConfigError(f"test set {ts.name} is not defined yet: give {keys} in "
                          f"[testchunk.sets.{ts.name}] of the config")
    if ts.exposures:
        return DefineSelection(exp_names=list(ts.exposures), unique=True)
    return DefineSelection(night=ts.night, comments=[ts.comment_pattern],
                           objects=[ts.object] if ts.object else [],
                           filters=_filter_pattern(ts.filter), unique=True)


def setters_for(cfg: Config, ts: TestSet, label: str) -> DefineSetters:
    workdir = expand_template(ts.workdir or str(cfg.get("testchunk.workdir", "neb://@HOST@.0/gpc1/{label}")),
                              label=label)
    return DefineSetters(label=label, workdir=workdir, data_group=label,
                         tess_id=ts.tess_id or str(cfg.get("testchunk.tess_id", "RINGS.V3")),
                         end_stage="warp", reduction=ts.reduction or None,
                         note=f"mopstool testchunk {ts.name}")


def diff_config(cfg: Config, ts: TestSet, label: str) -> tuple[Config, str]:
    """A copy of *cfg* whose only survey target is the test set (named after it)."""
    if not ts.chunk or not ts.night:
        raise ConfigError(f"test set {ts.name} needs chunk and night for its diffs")
    data = copy.deepcopy(cfg.data)
    base = dict((data.get("targets") or {}).get(ts.target) or {})
    if not base:
        raise ConfigError(f"test set {ts.name}: unknown target {ts.target!r} for its diff cuts")
    tname = ts.name
    target = dict(base, comment=ts.comment_pattern, diffable=True, desperate=ts.desperate,
                  ws=True, ws_publish=False, publish=False)
    target.pop("obs_mode", None)
    if ts.object:
        target["object"] = ts.object
    if ts.ws_stack_label:
        target["ws_stack_label"] = ts.ws_stack_label
    data["targets"] = {tname: target}
    ws_label = expand_template(str(cfg.get("testchunk.ws_label", "{label}.WS")), label=label)
    workdir = expand_template(ts.workdir or str(cfg.get("testchunk.workdir", "neb://@HOST@.0/gpc1/{label}")),
                              label=label)
    data.setdefault("survey", {}).update(label=label, data_group=label, ws_label=ws_label,
                                         ws_data_group=ws_label, workdir=workdir)
    return Config(data=data, sources=dict(cfg.sources), files=list(cfg.files), env=dict(cfg.env)), tname


def _restrict(nd, ts: TestSet, label: str) -> None:
    """Keep the set's exposures processed under *label*, and only the diffs of their warps."""
    want = {e.lower() for e in ts.exposures}
    nd.exposures = [e for e in nd.exposures if e.chip_label == label
                    and (not want or e.exp_name.lower() in want)]
    nd.exp_by_id = {e.exp_id: e for e in nd.exposures}
    warps = {e.warp_id for e in nd.exposures if e.warp_id is not None}

    def ours(d: dict) -> bool:
        ends = [w for w in (d["warp1"], d["warp2"]) if w is not None]
        return bool(ends) and all(w in warps for w in ends)

    nd.diffs = [d for d in nd.diffs if ours(d)]


def plan_set_diffs(dbs: Databases, cfg: Config, ts: TestSet, label: str, *, ws: bool = False):
    """The diffpairs plan of the set's exposures processed under *label*."""
    from mopstool.ops.nightly.diffpairs import plan_diffpairs
    from mopstool.ops.nightly.visits import load_night

    dcfg, tname = diff_config(cfg, ts, label)
    nd = load_night(dbs, dcfg, ts.night, diffs=True)
    _restrict(nd, ts, label)
    plan = plan_diffpairs(dbs, dcfg, ts.night, targets=[tname], chunk=ts.chunk, ws=ws, data=nd)
    return dcfg, plan


def define_testchunk(dbs: Databases, cfg: Config, ts: TestSet, tag: str, *, diffs: bool = False,
                     ws: bool = False, dry_run: bool = False,
                     confirm: Callable[[str, int], bool] | None = None,
                     command: list[str] | None = None) -> TestchunkDefineResult:
    """Define the set's chip runs under its test label and, with *diffs*, the WW
    (and WS) diffs of its full warps. *confirm(what, rows)* may decline a write."""
    from mopstool.ops.nightly.diffpairs import WAITING
    from mopstool.ops.nightly.diffwrites import define_diffpairs

    if ws and not diffs:
        raise UsageError("--ws plans warp-stack diffs: use it with --diffs")
    label = label_for(cfg, ts, tag)
    res = TestchunkDefineResult(set=ts.name, label=label, dry_run=dry_run)
    sel = selection_for(ts)
    setters = setters_for(cfg, ts, label)

    def chip_confirm(plan: DefineResult) -> bool:
        return confirm is None or confirm("testchunk define", len(plan.runs))

    res.chips = define_runs(dbs, sel, setters, stage="chip", dry_run=dry_run, confirm=chip_confirm,
                            audit_detail={"testchunk": ts.name, "tag": tag})
    res.notes.extend(res.chips.notes)
    if res.chips.skipped:
        res.notes.append(f"{len(res.chips.skipped)} exposures already have a chip run with label {label}")
    if not diffs:
        return res
    dcfg, plan = plan_set_diffs(dbs, cfg, ts, label, ws=ws)
    todo = [p for p in plan.pairs if p.definable]
    if not plan.pairs:
        res.notes.append(f"no diffs to plan yet: no exposure of the set has a warp chain under {label}")
    waiting = [p for p in plan.pairs if p.status == WAITING]
    if waiting:
        res.notes.append(f"{len(waiting)} diffs wait for warps to be full; run again later")
    if todo and not dry_run:
        done = define_diffpairs(dbs, dcfg, plan, command=command, confirm=(
            None if confirm is None else
            lambda p: confirm("testchunk define --diffs", p.rows.get("diffRun", 0))))
        res.diffs_defined = len(done)
    elif todo and dry_run:
        res.notes.append(f"dry run: would define {len(todo)} diffRuns with "
                         f"{sum(len(p.skycells) for p in todo)} diffInputSkyfile rows")
    res.diffs = plan.rows()
    return res
