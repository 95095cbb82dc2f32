"""Build realistic synthetic gpc1 / pstamp rows (the demo and the tests use it).

Rows follow what the IPP pipeline writes: newExp + rawExp + 60 newImfile/rawImfiles per
GPC1 exposure, chipRun with chipImfile/chipProcessedImfile, camRun with
camProcessedExp, fakeRun, warpRun with warpSkyCellMap/warpImfile/warpSkyfile,
stackRun, diffRun with diffInputSkyfile/diffSkyfile, publishRun/publishDone and
the pstamp tables. Ids are assigned explicitly, continuing after the largest
id already present, so a builder can add to an existing database.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from mopstool.db import schema
from mopstool.stages.vocab import DependentState, JobState, RequestState, State

#: the 60 GPC1 OTAs: XY01..XY76 less the four corners
GPC1_CLASS_IDS: tuple[str, ...] = tuple(
    f"XY{x}{y}" for x in range(8) for y in range(8) if (x, y) not in ((0, 0), (0, 7), (7, 0), (7, 7))
)
TESS = "RINGS.V3"


def mjd_of(dt: datetime) -> int:
    return (datetime(dt.year, dt.month, dt.day) - datetime(1858, 11, 17)).days


def gpc1_exp_name(dateobs: datetime, seq: int) -> str:
    """GPC1 exposure names: o<MJD-50000>g<sequence>o (o8309g0262o)."""
    return f"o{mjd_of(dateobs) - 50000}g{seq:04d}o"


_ID_COLUMNS = {
    "exp": (schema.rawExp, "exp_id"),
    "chip": (schema.chipRun, "chip_id"),
    "cam": (schema.camRun, "cam_id"),
    "fake": (schema.fakeRun, "fake_id"),
    "warp": (schema.warpRun, "warp_id"),
    "stack": (schema.stackRun, "stack_id"),
    "diff": (schema.diffRun, "diff_id"),
    "diff_skyfile": (schema.diffInputSkyfile, "diff_skyfile_id"),
    "raw_image": (schema.rawImfile, "raw_image_id"),
    "chip_imfile": (schema.chipImfile, "chip_imfile_id"),
    "warp_skyfile": (schema.warpImfile, "warp_skyfile_id"),
    "client": (schema.publishClient, "client_id"),
    "pub": (schema.publishRun, "pub_id"),
}
_START = {"exp": 1_200_000, "chip": 1_600_000, "cam": 1_500_000, "fake": 1_450_000,
          "warp": 1_400_000, "stack": 3_800_000, "diff": 1_300_000, "diff_skyfile": 50_000_000,
          "raw_image": 70_000_000, "chip_imfile": 90_000_000, "warp_skyfile": 60_000_000,
          "client": 1, "pub": 2_000_000}


@dataclass
class Chain:
    """Ids of one exposure's processing chain (None where a stage has no run)."""

    exp_id: int
    exp_name: str
    dateobs: datetime
    chip_id: int | None = None
    cam_id: int | None = None
    fake_id: int | None = None
    warp_id: int | None = None
    skycells: list[str] = field(default_factory=list)


class Synth:
    def __init__(self, conn: Connection, pstamp_conn: Connection | None = None):
        self.conn = conn
        self.pconn = pstamp_conn or conn
        self._next: dict[str, int] = {}
        self._seq: dict[int, int] = {}
        for key, (table, col) in _ID_COLUMNS.items():
            top = conn.execute(select(func.max(table.c[col]))).scalar()
            self._next[key] = max(int(top or 0) + 1, _START[key])
        from sqlalchemy import inspect as sa_inspect

        #: a database built from the IPP's DDL has summitExp: fill it as the summit copy does
        #: (only the IPP's table, recognised by its summit_id key)
        insp = sa_inspect(conn)
        self._summit = insp.has_table("summitExp") and "summit_id" in {
            c["name"] for c in insp.get_columns("summitExp")}
        self._pnext = {}
        for key, name, col, start in (("req", "pstampRequest", "req_id", 400_000),
                                      ("job", "pstampJob", "job_id", 9_000_000),
                                      ("dep", "pstampDependent", "dep_id", 700_000),
                                      ("ds", "pstampDataStore", "ds_id", 1),
                                      ("file", "pstampFile", "file_id", 1)):
            t = schema.table(name, pstamp_db=True)
            top = self.pconn.execute(select(func.max(t.c[col]))).scalar()
            self._pnext[key] = max(int(top or 0) + 1, start)

    def _id(self, key: str) -> int:
        v = self._next[key]
        self._next[key] = v + 1
        return v

    def _pid(self, key: str) -> int:
        v = self._pnext[key]
        self._pnext[key] = v + 1
        return v

    def _ids(self, key: str, n: int) -> list[int]:
        v = self._next[key]
        self._next[key] = v + n
        return list(range(v, v + n))

    # ------------------------------------------------------------------ exposures
    def exposure(self, *, dateobs: datetime, filter: str = "w.00000", comment: str = "",
                 object: str = "", obs_mode: str = "OSS", exp_type: str = "object",
                 exp_time: float = 45.0, ra_deg: float = 300.0, dec_deg: float = -20.0,
                 fault: int = 0, label: str | None = None, reduction: str | None = None,
                 tess_id: str | None = TESS, end_stage: str | None = "warp",
                 exp_name: str | None = None, class_ids: tuple[str, ...] = GPC1_CLASS_IDS,
                 workdir: str | None = None) -> Chain:
        exp_id = self._id("exp")
        day = mjd_of(dateobs)
        seq = self._seq.get(day, 30) + 1
        self._seq[day] = seq
        name = exp_name or gpc1_exp_name(dateobs, seq)
        wd = workdir or f"neb://any/gpc1/{name}"
        if self._summit:
            self.conn.execute(schema.summitExp.insert().values(
                summit_id=exp_id + 10_000_000, exp_name=name, camera="GPC1", telescope="PS1",
                dateobs=dateobs, exp_type=exp_type, uri=f"http://summit/gpc1/{name}",
                imfiles=len(class_ids), fault=0))
        self.conn.execute(schema.newExp.insert(), dict(
            exp_id=exp_id, summit_id=exp_id + 10_000_000, tmp_exp_name=name, tmp_camera="GPC1",
            tmp_telescope="PS1", state=State.FULL, workdir=wd, workdir_state="dirty",
            reduction=reduction, tess_id=tess_id, end_stage=end_stage, label=label))
        common = dict(exp_id=exp_id, exp_name=name, camera="GPC1", telescope="PS1", dateobs=dateobs,
                      exp_type=exp_type, filelevel="FPA", filter=filter, comment=comment,
                      obs_mode=obs_mode, obs_group=obs_mode, airmass=1.1, ra=math.radians(ra_deg),
                      decl=math.radians(dec_deg), exp_time=exp_time, object=object, fault=fault,
                      magicked=0)
        self.conn.execute(schema.rawExp.insert(), dict(
            **common, exp_tag=f"{name}.{exp_id}", workdir=wd, state=State.FULL, reduction=reduction,
            tess_id=tess_id, end_stage=end_stage, hostname="ippc01"))
        raw_ids = self._ids("raw_image", len(class_ids))
        # newImfile first: rawImfile (exp_id, tmp_class_id) references it
        self.conn.execute(schema.newImfile.insert(), [
            dict(exp_id=exp_id, tmp_class_id=f"ota{c[2:]}", uri=f"neb://any/gpc1/{name}/{name}.{c}.fits",
                 bytes=50_000_000) for c in class_ids])
        self.conn.execute(schema.rawImfile.insert(), [
            dict(common, tmp_class_id=f"ota{c[2:]}", class_id=c, uri=f"neb://any/gpc1/{name}/{name}.{c}.fits",
                 data_state=State.FULL, ignored=0, quality=0, raw_image_id=rid, hostname="ippc01",
                 burntool_state=14, video_cells=0, bytes=50_000_000)
            for c, rid in zip(class_ids, raw_ids)])
        return Chain(exp_id=exp_id, exp_name=name, dateobs=dateobs)

    # ------------------------------------------------------------------ chip / cam / fake
    def chip(self, chain: Chain, *, label: str, data_group: str | None = None,
             dist_group: str | None = "SweetSpot", state: str = State.FULL, workdir: str | None = None,
             reduction: str | None = "SWEETSPOT", tess_id: str | None = TESS,
             end_stage: str | None = "warp", imfiles: dict[str, dict] | None = None,
             processed: bool = True, data_state: str = State.FULL, class_ids=GPC1_CLASS_IDS,
             update_mode: int = 0) -> int:
        """A chipRun; *imfiles* overrides per class_id (data_state, fault, quality,
        or {'missing': True} for an imfile not processed yet)."""
        chip_id = self._id("chip")
        wd = workdir or f"neb://@HOST@.0/gpc1/{label}"
        self.conn.execute(schema.chipRun.insert(), dict(
            chip_id=chip_id, exp_id=chain.exp_id, state=state, workdir=wd, workdir_state="dirty",
            label=label, data_group=data_group or label, dist_group=dist_group, reduction=reduction,
            tess_id=tess_id, end_stage=end_stage, magicked=0, software_ver="40242",
            maskfrac_npix=0, update_mode=update_mode))
        ci_ids = self._ids("chip_imfile", len(class_ids))
        self.conn.execute(schema.chipImfile.insert(), [
            dict(chip_id=chip_id, class_id=c, chip_imfile_id=i) for c, i in zip(class_ids, ci_ids)])
        if processed:
            rows = []
            for n, c in enumerate(class_ids):
                over = (imfiles or {}).get(c, {})
                if over.get("missing"):
                    continue
                rows.append(dict(
                    chip_id=chip_id, exp_id=chain.exp_id, class_id=c,
                    data_state=over.get("data_state", data_state),
                    uri=f"{wd}/{chain.exp_name}.{chain.exp_id}/{chain.exp_name}.ch.{chip_id}.{c}.fits",
                    path_base=f"{wd}/{chain.exp_name}.{chain.exp_id}/{chain.exp_name}.ch.{chip_id}.{c}",
                    bg=812.0 + n, bg_stdev=14.2, fwhm_major=over.get("fwhm_major", 4.4),
                    fwhm_minor=over.get("fwhm_minor", 4.1), n_stars=900 + n, hostname="ipp050",
                    quality=over.get("quality", 0), fault=over.get("fault", 0), magicked=0,
                    software_ver="40242", maskfrac_npix=1200, dtime_script=42.0))
            if rows:
                self.conn.execute(schema.chipProcessedImfile.insert(), rows)
        chain.chip_id = chip_id
        return chip_id

    def cam(self, chain: Chain, *, label: str, data_group: str | None = None,
            dist_group: str | None = "SweetSpot", state: str = State.FULL, quality: int = 0,
            fault: int = 0, fwhm_major: float = 4.5, zpt_obs: float = 24.6,
            processed: bool = True, reduction: str | None = "SWEETSPOT") -> int:
        cam_id = self._id("cam")
        wd = f"neb://@HOST@.0/gpc1/{label}"
        self.conn.execute(schema.camRun.insert(), dict(
            cam_id=cam_id, chip_id=chain.chip_id, state=state, workdir=wd, workdir_state="dirty",
            label=label, data_group=data_group or label, dist_group=dist_group, reduction=reduction,
            tess_id=TESS, end_stage="warp", magicked=0, software_ver="40242"))
        if processed:
            self.conn.execute(schema.camProcessedExp.insert(), dict(
                cam_id=cam_id, uri=f"{wd}/{chain.exp_name}.cm.{cam_id}.smf",
                path_base=f"{wd}/{chain.exp_name}.cm.{cam_id}", bg=810.0, zpt_obs=zpt_obs,
                zpt_stdev=0.02, sigma_ra=0.05, sigma_dec=0.05, fwhm_major=fwhm_major,
                fwhm_minor=fwhm_major * 0.93, n_stars=52_000, n_astrom=4_800, hostname="ipp051",
                fault=fault, quality=quality, software_ver="40242"))
        chain.cam_id = cam_id
        return cam_id

    def fake(self, chain: Chain, *, label: str, data_group: str | None = None,
             state: str = State.FULL) -> int:
        fake_id = self._id("fake")
        self.conn.execute(schema.fakeRun.insert(), dict(
            fake_id=fake_id, cam_id=chain.cam_id, state=state, workdir=f"neb://@HOST@.0/gpc1/{label}",
            label=label, data_group=data_group or label, dist_group="SweetSpot",
            reduction="SWEETSPOT", tess_id=TESS, end_stage="warp"))
        if state in (State.FULL, State.CLEANED, State.UPDATE):
            self.conn.execute(schema.fakeProcessedImfile.insert(), [
                dict(fake_id=fake_id, exp_id=chain.exp_id, class_id=c,
                     path_base=f"neb://@HOST@.0/gpc1/{label}/{chain.exp_name}.fk.{fake_id}.{c}",
                     data_state=State.FULL, fault=0, hostname="ipp051", dtime_script=1.5)
                for c in GPC1_CLASS_IDS])
        chain.fake_id = fake_id
        return fake_id

    # ------------------------------------------------------------------ warp / stack
    def warp(self, chain: Chain, *, label: str, skycells: list[str], data_group: str | None = None,
             state: str = State.FULL, skyfiles: dict[str, dict] | None = None,
             data_state: str = State.FULL, dist_group: str | None = "SweetSpot",
             workdir: str | None = None) -> int:
        """A warpRun onto *skycells*; *skyfiles* overrides per skycell (data_state,
        fault, quality, good_frac, or {'missing': True})."""
        warp_id = self._id("warp")
        wd = workdir or f"neb://@HOST@.0/gpc1/{label}"
        self.conn.execute(schema.warpRun.insert(), dict(
            warp_id=warp_id, fake_id=chain.fake_id, mode="warp", state=state, workdir=wd,
            workdir_state="dirty", label=label, data_group=data_group or label,
            dist_group=dist_group, tess_id=TESS, reduction="SWEETSPOT", end_stage="warp",
            registered=chain.dateobs + timedelta(minutes=25), magicked=0, software_ver="40242"))
        maprows, imrows, skyrows = [], [], []
        ws_ids = self._ids("warp_skyfile", len(skycells))
        for i, sc in enumerate(skycells):
            for c in GPC1_CLASS_IDS[(7 * i) % 50:(7 * i) % 50 + 3]:
                maprows.append(dict(warp_id=warp_id, skycell_id=sc, tess_id=TESS, class_id=c, fault=0))
            imrows.append(dict(warp_id=warp_id, skycell_id=sc, warp_skyfile_id=ws_ids[i]))
            over = (skyfiles or {}).get(sc, {})
            if over.get("missing"):
                continue
            pb = f"{wd}/{chain.exp_name}.{chain.exp_id}/{chain.exp_name}.wrp.{warp_id}.{sc}"
            skyrows.append(dict(
                warp_id=warp_id, skycell_id=sc, tess_id=TESS, uri=pb + ".fits", path_base=pb,
                data_state=over.get("data_state", data_state), bg=3.1, bg_stdev=9.5,
                dtime_warp=31.0, hostname="ipp052", good_frac=over.get("good_frac", 0.85),
                xmin=0, xmax=6000, ymin=0, ymax=6000, quality=over.get("quality", 0),
                fault=over.get("fault", 0), magicked=0, software_ver="40242", maskfrac_npix=900))
        self.conn.execute(schema.warpSkyCellMap.insert(), maprows)
        self.conn.execute(schema.warpImfile.insert(), imrows)
        if skyrows:
            self.conn.execute(schema.warpSkyfile.insert(), skyrows)
        chain.warp_id = warp_id
        chain.skycells = list(skycells)
        return warp_id

    def chain(self, *, label: str, data_group: str, skycells: list[str], stop_after: str = "warp",
              chip_state: str = State.FULL, chip_imfiles: dict | None = None, cam_quality: int = 0,
              cam_fwhm: float = 4.5, warp_state: str = State.FULL, warp_skyfiles: dict | None = None,
              **exposure_kw) -> Chain:
        """An exposure processed up to *stop_after* (exposure, chip, cam, fake, warp)."""
        ch = self.exposure(label=label, **exposure_kw)
        if stop_after == "exposure":
            return ch
        self.chip(ch, label=label, data_group=data_group, state=chip_state, imfiles=chip_imfiles)
        if stop_after == "chip":
            return ch
        self.cam(ch, label=label, data_group=data_group, quality=cam_quality, fwhm_major=cam_fwhm)
        if stop_after == "cam":
            return ch
        self.fake(ch, label=label, data_group=data_group)
        if stop_after == "fake":
            return ch
        self.warp(ch, label=label, data_group=data_group, skycells=skycells, state=warp_state,
                  skyfiles=warp_skyfiles)
        return ch

    def stack(self, *, skycell_id: str, filter: str, label: str, state: str = State.FULL,
              data_group: str | None = None, warp_ids: list[int] = (), quality: int = 0,
              fault: int = 0, registered: datetime | None = None) -> int:
        stack_id = self._id("stack")
        wd = f"neb://@HOST@.0/gpc1/{label}"
        self.conn.execute(schema.stackRun.insert(), dict(
            stack_id=stack_id, state=state, workdir=wd, label=label, data_group=data_group or label,
            dist_group="NODIST", reduction="STACK_REF", registered=registered or datetime(2018, 1, 15),
            skycell_id=skycell_id, tess_id=TESS, filter=filter, software_ver="40242"))
        if warp_ids:
            self.conn.execute(schema.stackInputSkyfile.insert(),
                              [dict(stack_id=stack_id, warp_id=w) for w in warp_ids])
        if state in (State.FULL, State.CLEANED, State.GOTO_CLEANED, State.UPDATE):
            pb = f"{wd}/{TESS}/{skycell_id}/{TESS}.{skycell_id}.stk.{stack_id}"
            self.conn.execute(schema.stackSumSkyfile.insert(), dict(
                stack_id=stack_id, uri=pb + ".fits", path_base=pb, good_frac=0.97, fault=fault,
                quality=quality, hostname="ipp060", mjd_obs=58130.0, sources=31_000))
        return stack_id

    # ------------------------------------------------------------------ diffs and publishing
    def diff(self, *, label: str, data_group: str, skycells: list[str], warp1: int,
             warp2: int | None = None, stack2: int | None = None, state: str = State.FULL,
             dist_group: str | None = "SweetSpot", diff_mode: int | None = None,
             reduction: str | None = None, workdir: str | None = None,
             skyfiles: dict[str, dict] | None = None, data_state: str = State.FULL,
             registered: datetime | None = None, bothways: int = 1) -> int:
        """A diffRun of warp1 (input) against warp2 or stack2 (template)."""
        mode = diff_mode or (1 if warp2 is not None else 2)
        diff_id = self._id("diff")
        wd = workdir or f"neb://@HOST@.0/gpc1/{label}"
        self.conn.execute(schema.diffRun.insert(), dict(
            diff_id=diff_id, state=state, workdir=wd, label=label, data_group=data_group,
            dist_group=dist_group, reduction=reduction or ("WARPSTACK" if mode == 2 else "SWEETSPOT"),
            registered=registered or datetime(2018, 7, 10, 12), tess_id=TESS,
            bothways=bothways, exposure=1, magicked=0, software_ver="40242", diff_mode=mode))
        ids = self._ids("diff_skyfile", len(skycells))
        self.conn.execute(schema.diffInputSkyfile.insert(), [
            dict(diff_id=diff_id, skycell_id=sc, warp1=warp1, stack1=None, warp2=warp2, stack2=stack2,
                 tess_id=TESS, diff_skyfile_id=i) for sc, i in zip(skycells, ids)])
        rows = []
        tag = {1: "", 2: "WS.", 3: "SW.", 4: "SS."}[mode]
        for sc in skycells:
            over = (skyfiles or {}).get(sc, {})
            if over.get("missing") or state in (State.NEW, State.REG) and not over:
                continue
            rows.append(dict(
                diff_id=diff_id, skycell_id=sc,
                path_base=f"{wd}/{TESS}/{sc}/{TESS}.{sc}.{tag}dif.{diff_id}",
                data_state=over.get("data_state", data_state), bg=0.2, bg_stdev=11.0,
                stamps_num=180, norm=1.0, sources=over.get("sources", 850), hostname="ipp053",
                good_frac=over.get("good_frac", 0.8), quality=over.get("quality", 0),
                fault=over.get("fault", 0), magicked=0, software_ver="40242", maskfrac_npix=700))
        if rows:
            self.conn.execute(schema.diffSkyfile.insert(), rows)
        return diff_id

    def publish_client(self, *, name: str = "MOPS", product: str = "MOPS-diffs",
                       workdir: str = "neb://@HOST@.0/gpc1/publish") -> int:
        cid = self._id("client")
        self.conn.execute(schema.publishClient.insert(), dict(
            client_id=cid, active=1, product=product, stage="diff", magicked=0, workdir=workdir,
            comment="MOPS DataStore", name=name, output_format=1))
        return cid

    def publish(self, *, client_id: int, diff_id: int, label: str, state: str = State.FULL,
                fault: int | None = 0) -> int:
        pub_id = self._id("pub")
        self.conn.execute(schema.publishRun.insert(), dict(
            pub_id=pub_id, client_id=client_id, stage_id=diff_id, label=label, state=state))
        if fault is not None and state == State.FULL or fault:
            self.conn.execute(schema.publishDone.insert(), dict(
                pub_id=pub_id, path_base=f"neb://any/gpc1/publish/{diff_id}.mops", hostname="ipp054",
                dtime_script=3.2, fault=fault or 0))
        return pub_id

    # ------------------------------------------------------------------ postage stamps
    def pstamp_request(self, *, name: str, label: str, state: str = RequestState.STOP, fault: int = 0,
                       reqType: str = "pstamp", username: str = "mops",
                       registered: datetime | None = None, timestamp: datetime | None = None,
                       outProduct: str = "pstamp-results") -> int:
        req_id = self._pid("req")
        t = schema.table("pstampRequest", pstamp_db=True)
        reg = registered or datetime(2018, 7, 10, 18)
        self.pconn.execute(t.insert(), dict(
            req_id=req_id, ds_id=None, state=state, name=name, reqType=reqType, label=label,
            outProduct=outProduct, uri=f"/data/pstamp/incoming/{name}.fits",
            outdir=f"/data/pstamp/work/{name}", username=username, proj_id=1, registered=reg,
            timestamp=timestamp or reg, fault=fault))
        return req_id

    def pstamp_dependent(self, *, stage: str, stage_id: int, component: str, rlabel: str,
                         state: str = DependentState.NEW, fault: int = 0, imagedb: str = "gpc1") -> int:
        dep_id = self._pid("dep")
        t = schema.table("pstampDependent", pstamp_db=True)
        self.pconn.execute(t.insert(), dict(
            dep_id=dep_id, state=state, stage=stage, stage_id=stage_id, component=component,
            imagedb=imagedb, outdir=f"/data/pstamp/dep/{dep_id}", rlabel=rlabel, need_magic=0,
            fault=fault, fault_count=1 if fault else 0))
        return dep_id

    def pstamp_jobs(self, req_id: int, jobs: list[dict[str, Any]]) -> list[int]:
        """Insert jobs of a request; each dict may give state, fault, dep_id, exp_id, jobType."""
        t = schema.table("pstampJob", pstamp_db=True)
        ids = []
        rows = []
        for n, j in enumerate(jobs):
            job_id = self._pid("job")
            ids.append(job_id)
            rows.append(dict(job_id=job_id, req_id=req_id, rownum=str(j.get("rownum", n + 1)),
                             state=j.get("state", JobState.STOP), jobType=j.get("jobType", "stamp"),
                             fault=j.get("fault", 0), exp_id=j.get("exp_id"),
                             outputBase=f"/data/pstamp/work/{req_id}/{job_id}",
                             options=j.get("options", 1), dep_id=j.get("dep_id", 0),
                             fault_count=j.get("fault_count", 1 if j.get("fault") else 0),
                             parent_id=None, is_parent=0))
        if rows:
            self.pconn.execute(t.insert(), rows)
        return ids
