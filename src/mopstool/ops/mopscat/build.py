"""mopscat: the .mops catalog of one exposure's diff(s), built from the diff CMFs.

Database resolution of ``--diff-id`` (all lookups by primary keys):

* diffRun (diff_mode, bothways) and its diffInputSkyfile rows left-joined to
  diffSkyfile (path_base, data_state, quality, fault);
* the exposure of a direction: diffInputSkyfile.warp1 (forward) or warp2
  (inverse of a warp-warp diff made both ways) -> warpRun -> fakeRun -> camRun
  (+ camProcessedExp: zpt_obs, zpt_stdev, sigma_ra/dec, bg) -> chipRun -> rawExp
  (exp_name, exp_id, exp_time, camera, comment, obs_mode), rawImfile dateobs;
* warpSkyCellMap: the OTAs that fed each skycell (CHIP_ID fallback).

The zero point is zpt_obs + 2.5 log10(exp_time) of the diff's input (warp1)
exposure, for both directions, as publish_file.pl passes it to ppMops.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from sqlalchemy import func, select

from mopstool.db import schema
from mopstool.errors import DataError, NotFound, UsageError
from mopstool.stages.vocab import State

DIFF_MODES = {1: "WW", 2: "WS", 3: "SW", 4: "SS"}
DEFAULT_DATA_STATES = (State.FULL, State.CLEANED, State.GOTO_CLEANED)
_NEB_RE = re.compile(r"^neb://[^/]*/")


# ------------------------------------------------------------------ paths
def resolve_path(path_base: str, suffix: str = "", *, neb_root: str | None = None) -> str:
    """Filesystem path of ``path_base + suffix``.

    Plain paths and ``file://`` URLs are used directly; ``neb://HOST.N/key``
    becomes ``<neb_root>/key`` ([mopscat] neb_root of the config)."""
    text = (path_base or "") + suffix
    if text.startswith("file://"):
        return text[len("file://"):]
    if text.startswith("neb://"):
        if not neb_root:
            raise DataError(f"{text} is a Nebulous key; set [nebulous] url (the Nebulous database) or "
                            "[mopscat] neb_root in the config to the "
                            "directory that holds the Nebulous tree")
        return str(Path(neb_root) / _NEB_RE.sub("", text))
    return text


# ------------------------------------------------------------------ exposure chain
def exposures_for_warps(conn, warp_ids: Iterable[int]) -> dict[int, dict]:
    """warp_id -> the exposure and processing chain of that warp."""
    ids = sorted({int(w) for w in warp_ids if w})
    if not ids:
        return {}
    from mopstool.stages.joins import exposure_chain, with_components

    wr, fr, cr, chr_, re_ = (schema.warpRun, schema.fakeRun, schema.camRun, schema.chipRun,
                             schema.rawExp)
    cpe = schema.camProcessedExp
    q = (select(wr.c.warp_id, fr.c.fake_id, cr.c.cam_id, chr_.c.chip_id, re_.c.exp_id,
                re_.c.exp_name, re_.c.camera, re_.c.exp_time, re_.c.comment, re_.c.obs_mode,
                re_.c.dateobs, re_.c.filter, re_.c.airmass, re_.c.ra, re_.c.decl, re_.c.alt,
                re_.c.az, re_.c.posang, cpe.c.zpt_obs, cpe.c.zpt_stdev, cpe.c.sigma_ra,
                cpe.c.sigma_dec, cpe.c.bg, cpe.c.fwhm_major)
         .select_from(with_components(exposure_chain("warp"), "cam", outer=True))
         .where(wr.c.warp_id.in_(ids)))
    return {int(r["warp_id"]): dict(r) for r in conn.execute(q).mappings()}


def skycell_chips(conn, pairs: Iterable[tuple[int, str]]) -> dict[tuple[int, str], list[str]]:
    """(warp_id, skycell_id) -> sorted OTA class_ids of warpSkyCellMap."""
    pairs = {(int(w), str(s)) for w, s in pairs if w and s}
    if not pairs:
        return {}
    m = schema.warpSkyCellMap
    warps = sorted({w for w, _ in pairs})
    cells = sorted({s for _, s in pairs})
    out: dict[tuple[int, str], list[str]] = {}
    q = (select(m.c.warp_id, m.c.skycell_id, m.c.class_id)
         .where(m.c.warp_id.in_(warps), m.c.skycell_id.in_(cells))
         .order_by(m.c.warp_id, m.c.skycell_id, m.c.class_id))
    for w, s, c in conn.execute(q):
        key = (int(w), str(s))
        if key in pairs and c:
            out.setdefault(key, [])
            if c not in out[key]:
                out[key].append(str(c))
    return out


# ------------------------------------------------------------------ planning
@dataclass
class DiffPlan:
    """What one diff contributes: direction, exposure warp, usable skycells."""

    diff_id: int
    difftype: str
    diff_mode: int
    bothways: bool
    inverse: bool
    warp_id: int
    input_warp_id: int              # warp1: the zero point comes from this exposure
    skycells: list[dict] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _directions(diff_id: int, mode: int, bothways: bool, rows: list[dict]) -> tuple[int | None, int | None]:
    """(forward exposure warp, inverse exposure warp or None)."""
    w1 = {int(r["warp1"]) for r in rows if r["warp1"]}
    w2 = {int(r["warp2"]) for r in rows if r["warp2"]}
    for name, ws in (("warp1", w1), ("warp2", w2)):
        if len(ws) > 1:
            raise DataError(f"diff {diff_id} has skycells from several {name} warps "
                            f"({', '.join(map(str, sorted(ws)))})")
    fwd = next(iter(w1), None) or (next(iter(w2), None) if mode == 3 else None)
    inv = next(iter(w2), None) if mode == 1 and bothways else None
    return fwd, inv


@dataclass
class _Loaded:
    """Everything planning needs about a set of diffs, read with a few set-based queries."""

    ids: list[int]
    runs: dict[int, dict]
    rows_by_diff: dict[int, list[dict]]
    dirs: dict[int, tuple[int | None, int | None]]
    chains: dict[int, dict]
    problems: dict[int, str] = field(default_factory=dict)   # diff_id -> why it cannot be planned

    def exp_of(self, warp) -> int | None:
        ch = self.chains.get(warp) if warp else None
        return int(ch["exp_id"]) if ch else None


def _load(conn, diff_ids: list[int], *, strict: bool = True) -> _Loaded:
    """Load diffRun, diffInputSkyfile (+ diffSkyfile) and the exposure chains of *diff_ids*.
    *strict*: unknown / unusable diffs raise; otherwise they are noted in ``problems``."""
    from mopstool.stages.joins import component_input_on

    dr, di, ds = schema.diffRun, schema.diffInputSkyfile, schema.diffSkyfile
    ids = list(dict.fromkeys(int(d) for d in diff_ids))
    runs: dict[int, dict] = {}
    rows_by_diff: dict[int, list[dict]] = {d: [] for d in ids}
    for part in [ids]:
        runs.update({int(r["diff_id"]): dict(r) for r in conn.execute(
            select(dr.c.diff_id, dr.c.state, dr.c.diff_mode, dr.c.bothways, dr.c.tess_id, dr.c.label)
            .where(dr.c.diff_id.in_(part))).mappings()})
        q = (select(di.c.diff_id, di.c.skycell_id, di.c.diff_skyfile_id, di.c.warp1, di.c.warp2,
                    di.c.stack1, di.c.stack2, ds.c.path_base, ds.c.data_state, ds.c.quality,
                    ds.c.fault, ds.c.skycell_id.label("done"))
             .select_from(di.outerjoin(ds, component_input_on("diff")))
             .where(di.c.diff_id.in_(part))
             .order_by(di.c.diff_id, di.c.skycell_id))
        for r in conn.execute(q).mappings():
            rows_by_diff[int(r["diff_id"])].append(dict(r))
    loaded = _Loaded(ids=ids, runs=runs, rows_by_diff=rows_by_diff, dirs={}, chains={})
    for d in ids:
        try:
            if d not in runs:
                raise NotFound(f"no diff run with diff_id {d}")
            mode = int(runs[d]["diff_mode"] or 0)
            if mode == 4:
                raise DataError(f"diff {d} is a stack-stack diff; it has no exposure for MOPS")
            if not rows_by_diff[d]:
                raise DataError(f"diff {d} has no diffInputSkyfile rows")
            loaded.dirs[d] = _directions(d, mode, bool(runs[d]["bothways"]), rows_by_diff[d])
        except DataError as exc:
            if strict:
                raise
            loaded.problems[d] = exc.message
    loaded.chains = exposures_for_warps(conn, [w for f, i in loaded.dirs.values() for w in (f, i) if w])
    return loaded


def _neb_instances(ld: _Loaded, neb_url: str | None) -> dict[str, str] | None:
    """With [nebulous] url: the instance file of every neb:// CMF key of the loaded
    diffs (one query); None without it."""
    if not neb_url:
        return None
    from mopstool.ops.mopscat.nebulous import instance_paths

    keys = [pb + sfx for rows in ld.rows_by_diff.values() for r in rows
            if (pb := r["path_base"] or "").startswith("neb://") for sfx in (".cmf", ".inv.cmf")]
    return instance_paths(neb_url, keys)


def _plan_one(ld: _Loaded, d: int, target: int, *, inverse: bool, merge: bool, exp_id: int | None,
              states: set, neb_root: str | None, instances: dict[str, str] | None = None) -> DiffPlan:
    run = ld.runs[d]
    mode = int(run["diff_mode"] or 0)
    fwd, inv = ld.dirs[d]
    if ld.exp_of(fwd) == target:
        is_inv, warp = False, fwd
    elif inv is not None and ld.exp_of(inv) == target:
        is_inv, warp = True, inv
    else:
        raise DataError(f"diff {d} does not have exposure {target} as an input "
                        f"(forward exposure {ld.exp_of(fwd)}, inverse {ld.exp_of(inv)})")
    if inverse and not merge and not is_inv and exp_id is None:
        raise DataError(f"diff {d} has no inverse catalog")
    plan = DiffPlan(diff_id=d, difftype=DIFF_MODES.get(mode, "WW"), diff_mode=mode,
                    bothways=bool(run["bothways"]), inverse=is_inv, warp_id=warp,
                    input_warp_id=fwd or warp)
    suffix = ".inv.cmf" if is_inv else ".cmf"
    for r in ld.rows_by_diff[d]:
        why = None
        if r["done"] is None:
            why = "not processed (no diffSkyfile row)"
        elif r["fault"]:
            why = f"fault {r['fault']}"
        elif r["quality"]:
            why = f"quality {r['quality']}"
        elif r["data_state"] not in states:
            why = f"data_state {r['data_state']}"
        elif not r["path_base"]:
            why = "no path_base"
        key = (r["path_base"] + suffix) if not why and r["path_base"].startswith("neb://") else ""
        if key and instances is not None and key not in instances:
            why = "no Nebulous instance on an available volume"
        if why:
            plan.skipped.append({"diff_id": d, "skycell_id": r["skycell_id"], "reason": why})
            continue
        if key and instances is not None:
            path, neb_key = instances[key], ""        # the instance's own file
        else:
            path, neb_key = resolve_path(r["path_base"], suffix, neb_root=neb_root), key
        plan.skycells.append({"skycell_id": r["skycell_id"],
                              "diff_skyfile_id": int(r["diff_skyfile_id"] or 0) or None,
                              "path": path, "neb_key": neb_key})
    return plan


def _finish_plans(conn, plans: list[DiffPlan], chains: dict) -> None:
    chips = skycell_chips(conn, [(p.warp_id, s["skycell_id"]) for p in plans for s in p.skycells])
    for p in plans:
        for s in p.skycells:
            s["chips"] = tuple(chips.get((p.warp_id, s["skycell_id"]), ()))


def _shutoutc(conn, chains: dict, exp_ids: Iterable[int]) -> dict[int, Any]:
    """exp_id -> first rawImfile dateobs (one grouped query)."""
    ri = schema.rawImfile
    ids = sorted({int(e) for e in exp_ids if e is not None})
    out: dict[int, Any] = {}
    for part in [ids]:
        out.update({int(e): v for e, v in conn.execute(
            select(ri.c.exp_id, func.min(ri.c.dateobs)).where(ri.c.exp_id.in_(part))
            .group_by(ri.c.exp_id))})
    return out


def _chain_for(chain: dict, shut: dict[int, Any]) -> dict:
    chain = dict(chain)
    if chain.get("exp_id") is not None:
        chain["shutoutc"] = shut.get(int(chain["exp_id"])) or chain.get("dateobs")
    return chain


def plan_diffs(conn, diff_ids: list[int], *, inverse: bool = False, merge: bool = False,
               exp_id: int | None = None, data_states: Iterable[str] = DEFAULT_DATA_STATES,
               neb_root: str | None = None, neb_url: str | None = None) -> tuple[list[DiffPlan], dict, dict]:
    """Resolve diff ids into per-diff plans for one exposure.

    Returns (plans, exposure chain of the catalog's exposure, chains by warp)."""
    ld = _load(conn, diff_ids)
    ids, runs = ld.ids, ld.runs
    first = ids[0]
    if len(ids) > 1 and not merge:
        types = {DIFF_MODES.get(int(runs[d]["diff_mode"] or 0), "?") for d in ids}
        if len(types) > 1:
            raise UsageError(f"diffs {', '.join(map(str, ids))} have different diff types "
                             f"({', '.join(sorted(types))}); add --merge for one merged product")
    fwd0, inv0 = ld.dirs[first]
    if exp_id is not None:
        target = int(exp_id)
    elif inverse:
        if inv0 is None:
            mode0 = DIFF_MODES.get(int(runs[first]["diff_mode"] or 0), "?")
            raise DataError(f"diff {first} ({mode0}, bothways={int(bool(runs[first]['bothways']))}) "
                            "has no inverse catalog")
        target = ld.exp_of(inv0)
    else:
        target = ld.exp_of(fwd0)
    if target is None:
        raise DataError(f"diff {first}: cannot find the exposure of its input warp "
                        f"(warpRun -> fakeRun -> camRun -> chipRun -> rawExp)")
    states = set(data_states)
    instances = _neb_instances(ld, neb_url)
    plans = [_plan_one(ld, d, target, inverse=inverse, merge=merge, exp_id=exp_id, states=states,
                       neb_root=neb_root, instances=instances) for d in ids]
    _finish_plans(conn, plans, ld.chains)
    chain = ld.chains[plans[0].warp_id]
    chain = _chain_for(chain, _shutoutc(conn, ld.chains, [chain.get("exp_id")]))
    return plans, chain, ld.chains


@dataclass
class NightTask:
    """One product of the night: a diff (one direction), or why it cannot be built."""

    diff_id: int
    inverse: bool
    plan: DiffPlan | None = None
    chain: dict | None = None
    problem: str = ""


def plan_night(conn, night, *, data_states: Iterable[str] = DEFAULT_DATA_STATES,
               neb_root: str | None = None, neb_url: str | None = None) -> tuple[list[NightTask], dict]:
    """The products of a night: every diff whose input exposure is of the night
    (forward), and the inverse of each warp-warp diff made both ways. Set-based:
    a handful of queries whatever the number of diffs."""
    from mopstool.ops.nightly.diffpairs import night_diff_ids

    ids = sorted(int(d) for (d,) in conn.execute(night_diff_ids(night)))
    ld = _load(conn, ids, strict=False)
    states = set(data_states)
    instances = _neb_instances(ld, neb_url)
    tasks: list[NightTask] = []
    for d in ids:
        if d in ld.problems:
            tasks.append(NightTask(d, False, problem=ld.problems[d]))
            continue
        fwd, inv = ld.dirs[d]
        for is_inv, warp in ((False, fwd), (True, inv)):
            if warp is None:
                continue
            target = ld.exp_of(warp)
            if target is None:
                tasks.append(NightTask(d, is_inv, problem=f"diff {d}: no exposure chain for warp {warp}"))
                continue
            try:
                plan = _plan_one(ld, d, target, inverse=is_inv, merge=False, exp_id=None, states=states,
                                 neb_root=neb_root, instances=instances)
            except DataError as exc:
                tasks.append(NightTask(d, is_inv, problem=exc.message))
                continue
            tasks.append(NightTask(d, is_inv, plan=plan))
    plans = [t.plan for t in tasks if t.plan]
    _finish_plans(conn, plans, ld.chains)
    shut = _shutoutc(conn, ld.chains, [ld.chains[p.warp_id].get("exp_id") for p in plans])
    for t in tasks:
        if t.plan:
            t.chain = _chain_for(ld.chains[t.plan.warp_id], shut)
    return tasks, ld.chains


def zero_point(chain: dict | None) -> tuple[float, float]:
    """(zp, zp error) = (zpt_obs + 2.5 log10(exp_time), zpt_stdev) of an exposure chain."""
    if not chain:
        return float("nan"), float("nan")
    zpt, t = chain.get("zpt_obs"), chain.get("exp_time")
    zp = float(zpt) + 2.5 * math.log10(float(t)) if zpt is not None and t and float(t) > 0 else float("nan")
    err = float(chain["zpt_stdev"]) if chain.get("zpt_stdev") is not None else float("nan")
    return zp, err


# ------------------------------------------------------------------ building
@dataclass
class BuildRequest:
    files: list[str] = field(default_factory=list)
    diff_ids: list[int] = field(default_factory=list)
    inverse: bool = False
    merge: bool = False
    output: str | None = None
    zp: float | None = None
    zp_err: float | None = None
    difftype: str | None = None
    diff_skyfile_id: int | None = None
    exp_name: str | None = None
    exp_id: int | None = None
    version: int | None = None
    camera: str | None = None


def _fmt_time(v) -> str:
    from datetime import datetime

    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%dT%H:%M:%S.%f")
    return "" if v is None else str(v)


def _nan(v) -> float:
    return float(v) if v is not None else float("nan")


def _db_inputs(plans: list[DiffPlan], chain: dict, chains: dict, req: BuildRequest, config):
    """(DiffInputs, ExposureMeta) of planned diffs."""
    from mopstool.fits.mops import DiffInput, ExposureMeta, SkycellInput

    skipped = [s for p in plans for s in p.skipped]
    if not any(p.skycells for p in plans):
        why = "; ".join(f"{s['skycell_id']}: {s['reason']}" for s in skipped[:5])
        raise DataError(f"diff {', '.join(str(p.diff_id) for p in plans)}: no usable skycell ({why})")
    diffs = []
    for p in plans:
        zp, zp_err = zero_point(chains.get(p.input_warp_id))
        if req.zp is not None:
            zp = float(req.zp)
        elif not math.isfinite(zp):
            raise DataError(f"diff {p.diff_id}: camProcessedExp.zpt_obs or rawExp.exp_time missing "
                            f"for the input exposure (warp {p.input_warp_id}); give --zp")
        if req.zp_err is not None:
            zp_err = float(req.zp_err)
        diffs.append(DiffInput(difftype=p.difftype, diff_id=p.diff_id, positive=not p.inverse,
                               warp_id=p.warp_id, zp=zp, zp_err=zp_err, skycells=[
                                   SkycellInput(path=s["path"], skycell_id=s["skycell_id"],
                                                diff_skyfile_id=s["diff_skyfile_id"],
                                                chip_candidates=s["chips"], neb_key=s.get("neb_key", ""))
                                   for s in p.skycells]))
    sig = [chain.get("sigma_ra"), chain.get("sigma_dec")]
    astrom = math.hypot(float(sig[0]), float(sig[1])) if None not in sig else float("nan")
    meta = ExposureMeta(
        exp_name=req.exp_name or chain.get("exp_name") or "", exp_id=int(chain.get("exp_id") or 0),
        chip_id=int(chain.get("chip_id") or 0), cam_id=int(chain.get("cam_id") or 0),
        fake_id=int(chain.get("fake_id") or 0), warp_id=int(chain.get("warp_id") or 0),
        camera=req.camera or chain.get("camera") or config.get("general.camera", "GPC1"),
        astrom_rms=astrom, comment=chain.get("comment") or "", obs_mode=chain.get("obs_mode") or "",
        sky=_nan(chain.get("bg")), shutoutc=_fmt_time(chain.get("shutoutc")))
    return diffs, meta, skipped


def build(req: BuildRequest, *, config, dbs_factory=None):
    """Build a .mops file from --diff-id (database) or from CMF file arguments.

    Returns (BuildResult, skipped skycells)."""
    from mopstool.fits.mops_build import build_mops

    if req.files and req.diff_ids:
        raise UsageError("give either CMF files or --diff-id, not both")
    if not req.files and not req.diff_ids:
        raise UsageError("nothing to build: give --diff-id N, --night D or CMF file arguments")
    radius = float(config.get("mopscat.match_radius_arcsec", 1.0) or 1.0)
    if req.files:
        diffs, meta = _file_inputs(req, config)
        output = req.output
        if not output:
            raise UsageError("give --output FILE when building from CMF files")
        skipped: list[dict] = []
    else:
        if dbs_factory is None:
            raise UsageError("--diff-id needs a database (--db)")
        neb_root = config.get("mopscat.neb_root") or None
        states = config.get("mopscat.data_states") or DEFAULT_DATA_STATES
        with dbs_factory().connect() as conn:
            plans, chain, chains = plan_diffs(conn, req.diff_ids, inverse=req.inverse, merge=req.merge,
                                              exp_id=req.exp_id, data_states=states, neb_root=neb_root,
                                              neb_url=config.get("nebulous.url") or None)
        diffs, meta, skipped = _db_inputs(plans, chain, chains, req, config)
        output = req.output or _default_output(config, meta, diffs, req.merge)
    result = build_mops(diffs, meta, output, version=req.version, match_radius=radius)
    return result, skipped


def build_product_task(diffs, meta, output: str, version: int | None, radius: float) -> dict:
    """One product of a night (picklable; runs in any process): the build result, or
    the reason it could not be built (a bad CMF fails only its own product)."""
    from mopstool.fits.mops_build import build_mops

    try:
        res = build_mops(diffs, meta, output, version=version, match_radius=radius)
    except DataError as exc:
        return {"output": output, "error": exc.message}
    return {"output": res.output, "rows": res.rows, "entries": res.entries, "duplicates": res.duplicates,
            "version": res.version, "notes": res.notes, "error": ""}


def build_night(night, *, config, dbs_factory, outdir: str = ".", version: int | None = None,
                zp: float | None = None, execution=None, progress=None) -> list[dict]:
    """Build every .mops product of a night (see :func:`plan_night`) into *outdir*,
    one task per product, run as *execution* says (:mod:`mopstool.ops.parallel`).
    Returns one row per product: diff_id, direction, exposure, output, rows, ... and
    ``error`` ('' when built)."""
    from mopstool.ops.parallel import Execution, run_tasks

    out = Path(outdir)
    if not out.is_dir():
        raise DataError(f"output directory {out} does not exist")
    radius = float(config.get("mopscat.match_radius_arcsec", 1.0) or 1.0)
    neb_root = config.get("mopscat.neb_root") or None
    states = config.get("mopscat.data_states") or DEFAULT_DATA_STATES
    with dbs_factory().connect() as conn:
        tasks, chains = plan_night(conn, night, data_states=states, neb_root=neb_root,
                                   neb_url=config.get("nebulous.url") or None)
    rows: list[dict] = []
    work: list[tuple] = []
    slots: list[int] = []
    for t in tasks:
        row = {"diff_id": t.diff_id, "direction": "neg" if t.inverse else "pos", "exp_name": "",
               "output": "", "rows": None, "duplicates": None, "skipped": 0, "error": t.problem}
        if t.plan is not None:
            try:
                diffs, meta, skipped = _db_inputs([t.plan], t.chain, chains, BuildRequest(zp=zp), config)
                row["exp_name"], row["skipped"] = meta.exp_name, len(skipped)
                row["output"] = str(out / _default_output(config, meta, diffs, False))
                work.append((diffs, meta, row["output"], version, radius))
                slots.append(len(rows))
            except DataError as exc:
                row["error"] = exc.message
        rows.append(row)
    names = [w[2] for w in work]
    if len(set(names)) != len(names):
        raise DataError("[mopscat] output gives two products of the night the same file name; "
                        "include {diff_id} and {direction} in it")
    for slot, res in zip(slots, run_tasks(build_product_task, work, execution or Execution(),
                                          progress=progress, what="building .mops products")):
        rows[slot].update({k: res[k] for k in ("output", "rows", "duplicates", "error") if k in res})
    return rows


_DIFFTYPE_PREFIX = re.compile(r"^(WW|WS|SW|SS):(.+)$", re.IGNORECASE)


def _file_inputs(req: BuildRequest, config):
    from mopstool.fits.mops import DiffInput, ExposureMeta, SkycellInput

    if req.diff_skyfile_id is not None and len(req.files) != 1:
        raise UsageError("--diff-skyfile-id names the IMAGEID of a single CMF file")
    default_type = (req.difftype or "WW").upper()
    if default_type not in DIFF_MODES.values():
        raise UsageError(f"unknown --difftype {req.difftype!r}; choose WW, WS, SW or SS")
    by_type: dict[str, DiffInput] = {}
    for f in req.files:
        m = _DIFFTYPE_PREFIX.match(f) if not os.path.exists(f) else None
        dtype, path = (m.group(1).upper(), m.group(2)) if m else (default_type, f)
        if dtype not in by_type:
            by_type[dtype] = DiffInput(difftype=dtype, positive=not req.inverse,
                                       zp=float(req.zp) if req.zp is not None else float("nan"),
                                       zp_err=float(req.zp_err) if req.zp_err is not None else float("nan"))
        by_type[dtype].skycells.append(SkycellInput(path=path, diff_skyfile_id=req.diff_skyfile_id))
    if len(by_type) > 1 and not req.merge:
        raise UsageError(f"files of several diff types ({', '.join(by_type)}); add --merge")
    exp_name, exp_id = req.exp_name, req.exp_id
    if exp_name is None or exp_id is None:
        from mopstool.fits.cmf import read_cmf

        first = next(iter(by_type.values())).skycells[0].path
        hdr = read_cmf(first, columns=(), read_xfit=False).header
        if exp_name is None:
            exp_name = str(hdr.get("EXP_NAME") or hdr.get("FPA.OBS") or "")
        if exp_id is None:
            try:
                exp_id = int(hdr.get("EXP_ID") or 0)
            except (TypeError, ValueError):
                exp_id = 0
    meta = ExposureMeta(exp_name=exp_name or "", exp_id=int(exp_id or 0),
                        camera=req.camera or config.get("general.camera", "GPC1"))
    return list(by_type.values()), meta


def _default_output(config, meta, diffs, merge: bool) -> str:
    from mopstool.config import expand_template

    template = config.get("mopscat.output") or "{exp_name}.{diff_id}.{direction}.mops"
    direction = "merged" if merge and len({d.difftype for d in diffs}) > 1 else \
        ("pos" if diffs[0].positive else "neg")
    return expand_template(template, exp_name=meta.exp_name or "exposure", exp_id=meta.exp_id,
                           diff_id=diffs[0].diff_id, direction=direction,
                           difftype="+".join(dict.fromkeys(d.difftype for d in diffs)))


def check_file(path: str, *, config=None):
    from mopstool.fits.mops_read import check_mops

    radius = float(config.get("mopscat.match_radius_arcsec", 1.0) or 1.0) if config else 1.0
    return check_mops(path, match_radius=radius)


def show_file(path: str) -> dict:
    from mopstool.fits.mops_read import summarize_mops

    return summarize_mops(path)
