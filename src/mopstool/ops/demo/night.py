"""The demo: a realistic synthetic night (and the night before) with the
troubles the czar meets every morning.

Night N (default 2018-07-10, exposures o8309g....o) has quads of OSS, MSS, ESS
and EU fields and one FSS field of six exposures, processed chip -> cam ->
warp -> WW/WS diffs -> publish, with these troubles planted:

* OSS field 3 lost visit 4 to weather (never observed);
* OSS field 2 visit 3 has a warp skycell with fault 2 (warp stuck in 'new');
* MSS field 2 visit 2 is above the FWHM cut (rejected for diffs);
* ESS field 1 visit 3 failed the camera stage (quality 4007, astrometry);
* EU field 1 visit 1 has chip faults 2 and 5 (chip run stuck in 'new');
* ESS field 3 has a WW diff with a faulted skycell; MSS field 3's 3-4 diff is
  not published; the FSS field lacks one warp-stack diff;
* the night before has a chip run being updated for postage stamps
  (label ps_ud_MOPS) whose XY33 has fault 26 (gone), the stamp job that needs
  it stopped with fault 25, and a postage-stamp backlog: MOPS requests stuck
  behind 300 uploaded QUB requests.

Night N-1 is otherwise complete, so retention cleanup has work to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, inspect, select

from mopstool.config import Config, data_dir, embedded_db_path, embedded_db_url, night_fields
from mopstool.db import Databases, describe_url, schema
from mopstool.db.own import own
from mopstool.errors import UsageError
from mopstool.ops.demo.synth import Chain, Synth
from mopstool.stages.vocab import DependentState, JobState, RequestState, State

FWHM_BAD = 8.1


@dataclass
class FieldPlan:
    target: str
    chunk: str
    object: str
    filter: str
    obs_mode: str
    visits: int
    skycells: list[str]
    start: datetime
    cadence_min: float = 17.0
    #: visit -> trouble: 'lost', 'warp_fault', 'bad_fwhm', 'cam_quality', 'chip_fault'
    troubles: dict[int, str] = field(default_factory=dict)


@dataclass
class DemoSummary:
    database: str
    night: date
    files_dir: str
    exposures: dict[str, int] = field(default_factory=dict)
    troubles: list[str] = field(default_factory=list)
    already_loaded: bool = False
    cmf_files: int = 0
    ids: dict[str, int] = field(default_factory=dict)
    #: the two synthetic versions of the test set's CMFs (mopstool testchunk compare)
    testchunk_dirs: tuple[str, str] | None = None

    def lines(self, prefix: str = "mopstool") -> list[str]:
        """The summary; the Try-next commands start with *prefix* (mopstool and the
        connection options the user gave)."""
        n = self.night.isoformat()
        out = []
        if self.already_loaded:
            out.append(f"Demo data already loaded in {self.database} (use --reset to reload).")
        else:
            total = sum(self.exposures.values())
            out.append(f"Loaded the demo night {n} (and {self.night - timedelta(days=1)}): "
                       f"{total} exposures into {self.database}")
            for t, c in self.exposures.items():
                out.append(f"  {t:<4} {c} exposures")
            out.append("Troubles planted for the czar:")
            out += [f"  - {t}" for t in self.troubles]
            if self.cmf_files:
                out.append(f"Wrote {self.cmf_files} synthetic diff CMF files under {self.files_dir}")
        out.append("Try next:")
        for cmd in (f"mopstool czar --night {n}",
                    f"mopstool lostvisits --night {n}",
                    f"mopstool diffpairs --night {n}",
                    f"mopstool faults --night {n}",
                    f"mopstool runs chip --night {n}",
                    f"mopstool show chip {self.ids.get('chip_fault', '<chip_id>')}",
                    "mopstool pstamp-req backlog",
                    "mopstool fixbroken --dry-run",
                    f"mopstool cleanup --dry-run --as-of {self.night + timedelta(days=1)}",
                    f"mopstool mopscat build --diff-id {self.ids.get('ww_diff', '<diff_id>')} "
                    "-o /tmp/demo.mops"):
            out.append(f"  {prefix}{cmd[len('mopstool'):]}")
        if self.testchunk_dirs:
            out.append(f"  {prefix} testchunk compare {self.testchunk_dirs[0]} {self.testchunk_dirs[1]}")
        return out


def _field_plans(cfg: Config, night: date, troubles: bool) -> list[FieldPlan]:
    base = datetime(night.year, night.month, night.day)
    plans: list[FieldPlan] = []
    # target, chunk, filter, number of fields, first visit time (UTC hour)
    chunks = [("OSS", "OSSR.R20S1.12.Q.w", "w.00000", 4, 6.5),
              ("MSS", "MSS.R10N3.5.Q.i", "i.00000", 3, 8.0),
              ("ESS", "ESS.R05S2.3.Q.w", "w.00000", 3, 9.5),
              ("EU", "EU.R01N1.2.Q.i", "i.00000", 2, 11.0),
              ("FSS", "FSS.R02S1.1.w", "w.00000", 1, 12.5)]
    sky_base = 1200 if troubles else 1300
    for ti, (target, chunk, flt, nfields, hour) in enumerate(chunks):
        tcfg = cfg.target(target)
        for f in range(1, nfields + 1):
            obj = f"{target}.{chunk.split('.')[1]}.{f:03d}"
            sky = [f"skycell.{sky_base + ti * 10 + f}.{k:03d}" for k in (40, 41, 42, 43)]
            plans.append(FieldPlan(
                target=target, chunk=chunk, object=obj, filter=flt, obs_mode=tcfg["obs_mode"],
                visits=int(tcfg.get("visits", 4)), skycells=sky,
                start=base + timedelta(hours=hour, seconds=50 * (f - 1)),
                cadence_min=8.0 if target == "FSS" else 17.0))
    if troubles:
        def plan(target, f):
            return [p for p in plans if p.target == target][f - 1]
        plan("OSS", 3).troubles[4] = "lost"
        plan("OSS", 2).troubles[3] = "warp_fault"
        plan("MSS", 2).troubles[2] = "bad_fwhm"
        plan("ESS", 1).troubles[3] = "cam_quality"
        plan("EU", 1).troubles[1] = "chip_fault"
    return plans


def _usable(p: FieldPlan, v: int) -> bool:
    return p.troubles.get(v) not in ("lost", "warp_fault", "bad_fwhm", "cam_quality", "chip_fault")


def _build_night(s: Synth, cfg: Config, night: date, *, troubles: bool, files_dir: Path,
                 summary: DemoSummary, client_id: int) -> dict:
    nf = night_fields(night)
    chains: dict[tuple[str, int], Chain] = {}
    plans = _field_plans(cfg, night, troubles)
    ids: dict[str, int] = {}
    for p in plans:
        label = f"{p.target}.nightlyscience"
        data_group = f"{p.target}.{nf['yyyymmdd']}"
        for v in range(1, p.visits + 1):
            trouble = p.troubles.get(v)
            if trouble == "lost":
                continue
            kw = dict(label=label, data_group=data_group, skycells=p.skycells,
                      dateobs=p.start + timedelta(minutes=p.cadence_min * (v - 1)),
                      filter=p.filter, comment=f"{p.chunk} visit {v}", object=p.object,
                      obs_mode=p.obs_mode, reduction="SWEETSPOT",
                      ra_deg=300.0 + 0.4 * len(chains) % 40, dec_deg=-20.0 + (v % 3) * 0.01)
            if trouble == "chip_fault":
                ch = s.chain(stop_after="chip", chip_state=State.NEW,
                             chip_imfiles={"XY23": {"fault": 2}, "XY45": {"fault": 5},
                                           "XY56": {"missing": True}}, **kw)
                ids["chip_fault"] = ch.chip_id
            elif trouble == "cam_quality":
                ch = s.chain(stop_after="cam", cam_quality=4007, **kw)
                ids["cam_quality"] = ch.cam_id
            elif trouble == "bad_fwhm":
                ch = s.chain(cam_fwhm=FWHM_BAD, **kw)
            elif trouble == "warp_fault":
                ch = s.chain(warp_state=State.NEW, warp_skyfiles={p.skycells[0]: {"fault": 2},
                                                              p.skycells[3]: {"missing": True}}, **kw)
                ids["warp_fault"] = ch.warp_id
            else:
                ch = s.chain(**kw)
            chains[(p.object, v)] = ch
            summary.exposures[p.target] = summary.exposures.get(p.target, 0) + 1
        _diffs_for_field(s, cfg, p, chains, nf, files_dir=files_dir if troubles else None,
                         client_id=client_id, ids=ids, troubles=troubles)
    return ids


def _diffs_for_field(s: Synth, cfg: Config, p: FieldPlan, chains, nf, *, files_dir, client_id,
                     ids, troubles) -> None:
    """The diffs nightly_science would have made so far for this field."""
    label = f"{p.target}.nightlyscience"
    data_group = f"{p.target}.{nf['yyyymmdd']}"
    workdir = (str(files_dir / f"{p.target}.nt" / nf["yyyy"] / nf["mm"] / nf["dd"]) if files_dir
               else f"neb://@HOST@.0/gpc1/{p.target}.nt/{nf['yyyy']}/{nf['mm']}/{nf['dd']}")
    registered = chains[next(iter(k for k in chains if k[0] == p.object))].dateobs + timedelta(hours=2)
    if p.target == "FSS":
        # warp-stack diffs against the target's template stacks; one is still missing
        stack_label = cfg.target("FSS").get("ws_stack_label", "FSS.refstack")
        stacks = {sc: s.stack(skycell_id=sc, filter=p.filter, label=stack_label) for sc in p.skycells}
        for v in range(1, p.visits + 1):
            if troubles and v == p.visits:
                continue
            ch = chains[(p.object, v)]
            for sc in p.skycells:
                ws_id = s.diff(label=f"FSS.WS.nightlyscience", data_group=f"FSS.WS.{nf['yyyymmdd']}",
                               skycells=[sc], warp1=ch.warp_id, stack2=stacks[sc], workdir=workdir,
                               registered=registered, bothways=0)
                s.publish(client_id=client_id, diff_id=ws_id, label="FSS.WS.nightlyscience")
        return
    usable = [v for v in range(1, p.visits + 1) if _usable(p, v)]
    unprocessed = any(p.troubles.get(v) in ("warp_fault", "chip_fault") for v in range(1, p.visits + 1))
    if unprocessed:
        return  # nightly_science skips a field while any of its exposures is unprocessed
    kept = usable[:-1] if len(usable) % 2 and len(usable) > 1 else usable
    for a, b in zip(kept[::2], kept[1::2]):
        w1, w2 = chains[(p.object, a)].warp_id, chains[(p.object, b)].warp_id
        over = {}
        state = State.FULL
        if troubles and p.target == "ESS" and p.object.endswith("003") and (a, b) == (3, 4):
            over = {p.skycells[1]: {"fault": 2}}
            state = State.NEW
        diff_id = s.diff(label=label, data_group=data_group, skycells=p.skycells, warp1=w1, warp2=w2,
                         workdir=workdir, skyfiles=over, state=state, registered=registered)
        if state == State.NEW:
            ids["diff_fault"] = diff_id
            continue
        ids.setdefault("ww_diff", diff_id)
        if troubles and p.target == "MSS" and p.object.endswith("003") and (a, b) == (3, 4):
            ids["unpublished"] = diff_id
            continue
        s.publish(client_id=client_id, diff_id=diff_id, label=label)


def _pstamp_and_updates(s: Synth, night: date, before: date, ids: dict) -> None:
    """Night N-1 stamp-driven chip update with a fault 26 imfile, and the stamp backlog."""
    nf = night_fields(before)
    base = datetime(before.year, before.month, before.day, 7)
    # an older chip run that was cleaned, then asked back by the stamp server
    ch = s.exposure(dateobs=base + timedelta(minutes=3), filter="w.00000",
                    comment="OSSR.R20S1.11.Q.w visit 2", object="OSS.R20S1.11.007", obs_mode="OSS",
                    label="OSS.nightlyscience", reduction="SWEETSPOT")
    imf = {"XY33": {"data_state": State.UPDATE, "fault": 26}}
    chip_id = s.chip(ch, label="ps_ud_MOPS", data_group=f"OSS.{nf['yyyymmdd']}", state=State.UPDATE,
                     data_state=State.CLEANED, imfiles=imf)
    ids["gone_chip"] = chip_id
    after = datetime(night.year, night.month, night.day, 18)
    # MOPS: mostly finished requests, a few waiting behind the QUB upload
    dep_gone = s.pstamp_dependent(stage="chip", stage_id=chip_id, component="XY33",
                                  rlabel="ps_ud_MOPS", state=DependentState.NEW, fault=25)
    for i in range(40):
        req = s.pstamp_request(name=f"MOPS.stamps.{nf['yyyymmdd']}.{i:03d}", label="MOPS",
                               state=RequestState.STOP, registered=after - timedelta(days=2, minutes=5 * i))
        s.pstamp_jobs(req, [{"state": JobState.STOP} for _ in range(5)])
    req = s.pstamp_request(name=f"MOPS.precovery.{nf['yyyymmdd']}.broken", label="MOPS",
                           state=RequestState.RUN, registered=after - timedelta(hours=20))
    s.pstamp_jobs(req, [{"state": JobState.STOP}, {"state": JobState.STOP, "fault": 25, "dep_id": dep_gone,
                                            "exp_id": ch.exp_id}])
    ids["fault25_req"] = req
    for i in range(3):
        dep = s.pstamp_dependent(stage="warp" if i else "chip", stage_id=ids.get("warp_fault", 1) if i
                                 else chip_id, component="skycell.1212.040" if i else "XY12",
                                 rlabel="ps_ud_MOPS", state=DependentState.NEW)
        req = s.pstamp_request(name=f"MOPS.stamps.{night.strftime('%Y%m%d')}.w{i:02d}", label="MOPS",
                               state=RequestState.RUN, registered=after + timedelta(minutes=i))
        s.pstamp_jobs(req, [{"state": JobState.RUN, "dep_id": dep}, {"state": JobState.RUN}])
    for i in range(300):
        s.pstamp_request(name=f"QUB.upload.{night.strftime('%Y%m%d')}.{i:04d}", label="QUB",
                         state=RequestState.NEW, username="qub", registered=after + timedelta(minutes=10, seconds=i))
    for i in range(6):
        s.pstamp_request(name=f"MOPS.stamps.{night.strftime('%Y%m%d')}.n{i:02d}", label="MOPS",
                         state=RequestState.NEW, registered=after + timedelta(minutes=40 + i))


def _cleaned_before(s: Synth, before: date) -> None:
    """A few runs of an older night already through cleanup (for cleanup status)."""
    old = before - timedelta(days=1)
    nf = night_fields(old)
    for v in (1, 2):
        ch = s.exposure(dateobs=datetime(old.year, old.month, old.day, 8) + timedelta(minutes=17 * v),
                        filter="w.00000", comment=f"OSSR.R20S1.10.Q.w visit {v}",
                        object="OSS.R20S1.10.001", obs_mode="OSS", reduction="SWEETSPOT")
        s.chip(ch, label="goto_cleaned", data_group=f"OSS.{nf['yyyymmdd']}", state=State.CLEANED,
               data_state=State.CLEANED)


def _check_target(dbs: Databases, explicit: bool, reset: bool) -> bool:
    """Refuse to load into (or reset) a database that mopstool did not create."""
    with dbs.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        if "dbversion" not in tables:
            return False
        ver = conn.execute(select(schema.dbversion.c.schema_version)).scalar()
        has_data = "rawExp" in tables and conn.execute(select(func.count()).select_from(schema.rawExp)).scalar()
    if ver and not str(ver).startswith("mopstool") and (has_data or reset):
        raise UsageError(f"{describe_url(dbs.gpc1_url)} holds a real IPP schema (dbversion {ver}); "
                         "the demo only loads into a database created by 'mopstool db init'")
    return bool(has_data)


def run_demo(cfg: Config, *, db_url: str | None, reset: bool, night: date,
             files_dir: str | None = None, progress=None) -> DemoSummary:
    """Load the demo; *progress(what, done, total)* is called as the work goes on."""
    from mopstool.ops.dbadmin import init_schema

    step = progress or (lambda what, done, total=None: None)

    explicit = db_url is not None
    if explicit:
        url = db_url
    else:
        path = embedded_db_path(cfg.env)
        path.parent.mkdir(parents=True, exist_ok=True)
        url = embedded_db_url(cfg.env)
    dbs = Databases(url, url, gpc1_source="--db" if explicit else "embedded default",
                    pstamp_source="--db" if explicit else "embedded default")
    _fast_sqlite(dbs)
    fdir = Path(files_dir).expanduser().resolve() if files_dir else data_dir(cfg.env) / "demo-files"
    summary = DemoSummary(database=describe_url(url), night=night, files_dir=str(fdir))
    has_data = _check_target(dbs, explicit, reset)
    if reset:
        with dbs.begin() as conn:
            from mopstool.db.dialect import named_lock  # noqa: F401

            if conn.dialect.name in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            schema.gpc1.drop_all(conn)
            own.drop_all(conn)
            if conn.dialect.name in ("mysql", "mariadb"):
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
        has_data = False
    elif has_data:
        summary.already_loaded = True
        _fill_ids(dbs, summary)
        return summary
    rows = "database rows"
    step(rows, 0, 4)
    init_schema(dbs, exists_ok=True)
    step(rows, 1, 4)
    before = night - timedelta(days=1)
    with dbs.begin() as conn:
        s = Synth(conn)
        client = s.publish_client()
        _cleaned_before(s, before)
        _build_night(s, cfg, before, troubles=False, files_dir=fdir, summary=DemoSummary(
            database="", night=before, files_dir=""), client_id=client)
        step(rows, 2, 4)
        ids = _build_night(s, cfg, night, troubles=True, files_dir=fdir, summary=summary,
                           client_id=client)
        step(rows, 3, 4)
        _pstamp_and_updates(s, night, before, ids)
        summary.ids = ids
        summary.troubles = [
            "OSS field 3 (OSS.R20S1.12.003): visit 4 lost to weather",
            f"OSS field 2: visit 3 warp {ids.get('warp_fault')} has a skycell with fault 2",
            f"MSS field 2: visit 2 above the FWHM cut ({FWHM_BAD} > "
            f"{cfg.target('MSS').get('max_fwhm')})",
            f"ESS field 1: visit 3 camera stage quality 4007 (cam_id {ids.get('cam_quality')})",
            f"EU field 1: visit 1 chip run {ids.get('chip_fault')} with chip faults 2 (XY23) and 5 (XY45)",
            f"ESS field 3: WW diff {ids.get('diff_fault')} has a skycell with fault 2",
            f"MSS field 3: WW diff {ids.get('unpublished')} not published to MOPS",
            "FSS field: one warp-stack diff not made yet",
            f"night before: chip run {ids.get('gone_chip')} (ps_ud_MOPS) XY33 has fault 26 (gone); "
            f"stamp request {ids.get('fault25_req')} has a job stopped with fault 25",
            "postage stamps: 6 MOPS requests waiting to parse behind 300 QUB uploads",
        ]
    step(rows, 4, 4)
    # tests replace _write_cmfs(dbs, fdir); the progress goes along only when asked for
    summary.cmf_files = _write_cmfs(dbs, fdir) if progress is None else _write_cmfs(dbs, fdir, progress)
    with dbs.connect() as conn:
        from mopstool.ops.testchunk.synth import write_demo_versions

        tc = write_demo_versions(conn, cfg, fdir)
    summary.testchunk_dirs = (tc.dir_a, tc.dir_b) if tc else None
    return summary


def _fast_sqlite(dbs: Databases) -> None:
    """Load an SQLite demo without waiting for the disk after every statement.

    The Python driver runs each CREATE TABLE/INDEX in a transaction of its own,
    and SQLite syncs the file after each: on a busy disk the schema alone took
    seconds. The demo's rows are synthetic and ``--reset`` rebuilds them, so
    its connections skip the sync (``PRAGMA synchronous=OFF``, a setting of the
    connection, not stored in the file)."""
    from sqlalchemy import event

    engine = dbs.gpc1
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _no_sync(dbapi_conn, _record):  # the demo's own engine only
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA synchronous=OFF")
        cur.close()


def _write_cmfs(dbs: Databases, fdir: Path, progress=None) -> int:
    try:
        from mopstool.ops.demo.cmf import write_demo_cmfs
    except ImportError:
        return 0
    fdir.mkdir(parents=True, exist_ok=True)
    with dbs.connect() as conn:
        return int(write_demo_cmfs(conn, fdir, progress=progress) or 0)


def _fill_ids(dbs: Databases, summary: DemoSummary) -> None:
    with dbs.connect() as conn:
        cr, cpi = schema.chipRun, schema.chipProcessedImfile
        chip = conn.execute(select(cr.c.chip_id).where(cr.c.state == State.NEW, cr.c.chip_id.in_(
            select(cpi.c.chip_id).where(cpi.c.fault == 2)))).scalar()
        dr = schema.diffRun
        diff = conn.execute(select(func.max(dr.c.diff_id)).where(dr.c.state == State.FULL,
                                                                  dr.c.diff_mode == 1)).scalar()
    if chip:
        summary.ids["chip_fault"] = chip
    if diff:
        summary.ids["ww_diff"] = diff
