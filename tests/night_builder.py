"""A small night builder for the czar tests: it writes the gpc1 rows directly
(no demo code), as the IPP pipeline leaves them, and can play the pipeline
forward (``advance``) after the czar's fixes ran.

    nb = NightBuilder(conn)
    f = nb.field("OSS", "OSS.R20S1.001", "OSSR.R20S1.12.Q.w", {1: "ok", 2: "ok", 3: "ok", 4: "missing"})
    nb.diff(f[1][0], f[2][0])          # a nightly WW diff of visits 1-2

Visit specs: ok, missing (no exposure), undefined (no chip run), processing
(chip run new, nothing processed), chip_fault (one imfile fault 2),
bad_quality (camera quality 4007), bad_fwhm, dropped (warp drop),
stamp_update (warp full, chip later put into update with an imfile fault 26).
A visit may be a list of specs: the exposures of a repeated visit, in time order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, insert, select, update

from mopstool.db import schema

NIGHT = date(2018, 7, 10)
SKYCELLS = ("skycell.2000.010", "skycell.2000.011")
TESS = "RINGS.V3"
CLASS_ID = "XY01"


@dataclass
class Exp:
    exp_id: int
    exp_name: str
    target: str
    chip_id: int | None = None
    cam_id: int | None = None
    fake_id: int | None = None
    warp_id: int | None = None
    skycells: tuple = SKYCELLS


@dataclass
class NightBuilder:
    conn: object
    night: date = NIGHT
    next_id: dict = field(default_factory=dict)
    seq: int = 0

    def _id(self, kind: str) -> int:
        base = {"exp": 5_000_000, "chip": 6_000_000, "cam": 7_000_000, "fake": 7_500_000, "warp": 8_000_000,
                "diff": 9_000_000, "pub": 9_500_000, "client": 50}[kind]
        self.next_id[kind] = self.next_id.get(kind, base) + 1
        return self.next_id[kind]

    def _ins(self, table: str, **values) -> None:
        self.conn.execute(insert(schema.table(table)).values(**values))

    def labels(self, target: str) -> tuple[str, str]:
        return f"{target}.nightlyscience", f"{target}.{self.night:%Y%m%d}"

    # ------------------------------------------------------------ exposures
    def exposure(self, *, target: str, obs_mode: str, obj: str, comment: str, filt: str,
                 dateobs: datetime, exp_type: str = "object") -> Exp:
        exp_id = self._id("exp")
        self.seq += 1
        mjd = (self.night - date(1858, 11, 17)).days
        name = f"o{mjd - 50000}g{self.seq:04d}o"
        self._ins("newExp", exp_id=exp_id, state="stop", tmp_exp_name=name)
        self._ins("rawExp", exp_id=exp_id, exp_name=name, camera="GPC1", telescope="PS1", dateobs=dateobs,
                  exp_type=exp_type, filter=filt, comment=comment, obs_mode=obs_mode, object=obj, fault=0,
                  state="full", exp_time=45.0)
        self._ins("rawImfile", exp_id=exp_id, exp_name=name, class_id=CLASS_ID, dateobs=dateobs, fault=0,
                  data_state="full", exp_type=exp_type, filter=filt, comment=comment, obs_mode=obs_mode)
        return Exp(exp_id, name, target)

    def chip(self, e: Exp, *, state: str = "full", fault: int = 0, processed: bool = True) -> None:
        label, dg = self.labels(e.target)
        e.chip_id = self._id("chip")
        self._ins("chipRun", chip_id=e.chip_id, exp_id=e.exp_id, state=state, label=label, data_group=dg,
                  workdir="neb://any/x", tess_id=TESS, end_stage="warp")
        if processed:
            self._ins("chipProcessedImfile", chip_id=e.chip_id, exp_id=e.exp_id, class_id=CLASS_ID,
                      fault=fault, quality=0, data_state="full" if not fault else "new", fwhm_major=4.0)

    def cam(self, e: Exp, *, quality: int = 0, fwhm: float = 4.2) -> None:
        label, dg = self.labels(e.target)
        e.cam_id = self._id("cam")
        self._ins("camRun", cam_id=e.cam_id, chip_id=e.chip_id, state="full", label=label, data_group=dg,
                  workdir="neb://any/x")
        self._ins("camProcessedExp", cam_id=e.cam_id, fault=0, quality=quality, fwhm_major=fwhm)
        e.fake_id = self._id("fake")
        self._ins("fakeRun", fake_id=e.fake_id, cam_id=e.cam_id, state="full", label=label, data_group=dg,
                  workdir="neb://any/x")

    def warp(self, e: Exp, *, state: str = "full") -> None:
        label, dg = self.labels(e.target)
        e.warp_id = self._id("warp")
        self._ins("warpRun", warp_id=e.warp_id, fake_id=e.fake_id, state=state, label=label, data_group=dg,
                  workdir="neb://any/x", tess_id=TESS)
        for sc in e.skycells:
            self._ins("warpSkyCellMap", warp_id=e.warp_id, skycell_id=sc, tess_id=TESS, class_id=CLASS_ID,
                      fault=0)
            self._ins("warpSkyfile", warp_id=e.warp_id, skycell_id=sc, tess_id=TESS, data_state="full",
                      fault=0, quality=0, good_frac=0.9)

    def field(self, target: str, obj: str, chunk: str, visits: dict, *, obs_mode: str | None = None,
              filt: str = "w.00000", hour: float = 6.0, comment: str = "{chunk} visit {v}",
              skycells: tuple = SKYCELLS) -> dict[int, list[Exp]]:
        start = datetime(self.night.year, self.night.month, self.night.day) + timedelta(hours=hour)
        out: dict[int, list[Exp]] = {}
        for v in sorted(visits):
            specs = visits[v] if isinstance(visits[v], list) else [visits[v]]
            for k, spec in enumerate(specs):
                if spec == "missing":
                    continue
                e = self.exposure(target=target, obs_mode=obs_mode or target, obj=obj,
                                  comment=comment.format(chunk=chunk, v=v), filt=filt,
                                  dateobs=start + timedelta(minutes=15 * (v - 1) + 4 * k))
                e.skycells = skycells
                out.setdefault(v, []).append(e)
                if spec == "undefined":
                    continue
                if spec in ("processing", "chip_fault"):
                    self.chip(e, state="new", fault=2 if spec == "chip_fault" else 0,
                              processed=spec == "chip_fault")
                    continue
                self.chip(e)
                self.cam(e, quality=4007 if spec == "bad_quality" else 0, fwhm=9.0 if spec == "bad_fwhm" else 4.2)
                if spec == "bad_quality":
                    continue
                self.warp(e, state="drop" if spec == "dropped" else "full")
                if spec == "stamp_update":
                    t = schema.chipRun
                    self.conn.execute(update(t).where(t.c.chip_id == e.chip_id).values(
                        state="update", label="ps_ud_MOPS"))
                    t = schema.chipProcessedImfile
                    self.conn.execute(update(t).where(t.c.chip_id == e.chip_id).values(fault=26))
        return out

    # ------------------------------------------------------------ diffs, publishing
    def diff(self, a: Exp, b: Exp, *, data_group: str | None = None, label: str | None = None,
             state: str = "full", skycell_fault: int = 0) -> int:
        lab, dg = self.labels(a.target)
        diff_id = self._id("diff")
        self._ins("diffRun", diff_id=diff_id, state=state, label=label or lab, data_group=data_group or dg,
                  workdir="neb://any/d", tess_id=TESS, bothways=1, exposure=1, magicked=0, diff_mode=1)
        for sc in a.skycells:
            self._ins("diffInputSkyfile", diff_id=diff_id, skycell_id=sc, tess_id=TESS, warp1=a.warp_id,
                      warp2=b.warp_id)
            if state in ("full", "new") and (state == "full" or skycell_fault):
                self._ins("diffSkyfile", diff_id=diff_id, skycell_id=sc, data_state="full" if state == "full"
                          else "new", quality=0, fault=skycell_fault, good_frac=0.8, path_base="neb://d")
        return diff_id

    def client(self, name: str = "MOPS") -> int:
        cid = self._id("client")
        self._ins("publishClient", client_id=cid, name=name, active=1, product="IPP-MOPS-WW", stage="diff",
                  magicked=0, workdir="neb://any/pub", output_format=2)
        return cid

    def publish(self, client_id: int, diff_id: int, *, fault: int = 0) -> int:
        pub_id = self._id("pub")
        self._ins("publishRun", pub_id=pub_id, client_id=client_id, stage_id=diff_id,
                  label="OSS.nightlyscience", state="full" if not fault else "new")
        self._ins("publishDone", pub_id=pub_id, path_base="neb://p", fault=fault)
        return pub_id


def advance(conn) -> None:
    """Play the pipeline forward once: chip runs left 'new' (defined, reverted)
    are processed, then camera, fake and warp; new diffs are made; new
    publishRuns are published."""
    chip, cpi, raw = schema.chipRun, schema.chipProcessedImfile, schema.rawExp
    new_chips = conn.execute(select(chip.c.chip_id, chip.c.exp_id, chip.c.label, chip.c.data_group)
                             .where(chip.c.state == "new")).all()
    nb = NightBuilder(conn)
    for k, base in (("cam", schema.camRun.c.cam_id), ("fake", schema.fakeRun.c.fake_id),
                    ("warp", schema.warpRun.c.warp_id)):
        nb.next_id[k] = max(conn.execute(select(func.max(base))).scalar() or 0, 10_000_000 + len(k))
    for chip_id, exp_id, label, dg in new_chips:
        have = conn.execute(select(cpi.c.class_id).where(cpi.c.chip_id == chip_id)).all()
        if not have:
            conn.execute(insert(cpi).values(chip_id=chip_id, exp_id=exp_id, class_id=CLASS_ID, fault=0, quality=0,
                                            data_state="full", fwhm_major=4.0))
        elif conn.execute(select(func.count()).select_from(cpi).where(cpi.c.chip_id == chip_id,
                                                                     cpi.c.fault != 0)).scalar():
            continue
        conn.execute(update(chip).where(chip.c.chip_id == chip_id).values(state="full"))
        e = Exp(exp_id, "", label, chip_id=chip_id)
        nb.labels = lambda _t, lab=label, g=dg: (lab, g)  # the chip run's own label and data_group
        nb.cam(e)
        nb.warp(e)
    dr, dis, ds = schema.diffRun, schema.diffInputSkyfile, schema.diffSkyfile
    for (diff_id,) in conn.execute(select(dr.c.diff_id).where(dr.c.state == "new")).all():
        cells = conn.execute(select(dis.c.skycell_id).where(dis.c.diff_id == diff_id)).all()
        done = {r[0] for r in conn.execute(select(ds.c.skycell_id).where(ds.c.diff_id == diff_id))}
        for (sc,) in cells:
            if sc not in done:
                conn.execute(insert(ds).values(diff_id=diff_id, skycell_id=sc, data_state="full", quality=0,
                                               fault=0, good_frac=0.8, path_base="neb://d"))
        conn.execute(update(ds).where(ds.c.diff_id == diff_id).values(fault=0, data_state="full"))
        conn.execute(update(dr).where(dr.c.diff_id == diff_id).values(state="full"))
    pr, pd = schema.publishRun, schema.publishDone
    waiting = conn.execute(select(pr.c.pub_id).where(
        pr.c.state == "new", ~select(pd.c.pub_id).where(pd.c.pub_id == pr.c.pub_id).exists())).all()
    for (pub_id,) in waiting:
        conn.execute(insert(pd).values(pub_id=pub_id, path_base="neb://p", fault=0))
        conn.execute(update(pr).where(and_(pr.c.pub_id == pub_id)).values(state="full"))
    _ = raw
