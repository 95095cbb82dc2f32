"""testchunk define on both database backends: chip runs through the
definebyquery code (label, end stage warp, idempotent, dry run), the WW diffs
through the diffpairs code once the test label's warps are full (the ops
nightly diffs of the same exposures do not count), and compare by label."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta

from sqlalchemy import func, select

from mopstool.db import schema
from mopstool.ops.demo.synth import Chain, Synth

CHUNK = "OSSR.R15S2.0.Q.w"
LABEL = "MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603.v2"
NIGHT = datetime(2014, 6, 3, 8)
SKY = ["skycell.1200.044", "skycell.1200.045"]


def _quad(dbs, *, with_ops_diffs=True):
    """A quad of the opstag chunk processed by the ops tag (nightly label, with its diffs)."""
    chains = []
    with dbs.begin() as conn:
        s = Synth(conn)
        for v in range(1, 5):
            chains.append(s.chain(label="OSS.nightlyscience", data_group="OSS.20140603", skycells=SKY,
                                  dateobs=NIGHT + timedelta(minutes=17 * (v - 1)), filter="w.00000",
                                  comment=f"{CHUNK} visit {v}", object="OSS.R15S2.0.001", obs_mode="OSS",
                                  reduction="SWEETSPOT"))
        # another chunk the same night: never selected
        s.chain(label="OSS.nightlyscience", data_group="OSS.20140603", skycells=SKY,
                dateobs=NIGHT + timedelta(hours=2), filter="w.00000", comment="OSSR.R15S2.1.Q.w visit 1",
                object="OSS.R15S2.1.001", obs_mode="OSS")
        if with_ops_diffs:
            for a, b in ((0, 1), (2, 3)):
                s.diff(label="OSS.nightlyscience", data_group="OSS.20140603", skycells=SKY,
                       warp1=chains[a].warp_id, warp2=chains[b].warp_id)
    return chains


def _count(dbs, table, *where):
    with dbs.connect() as conn:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar()


def _process(dbs, label=LABEL):
    """What the pipeline does with the new chip runs: cam, fake and warp, all full."""
    cr = schema.chipRun
    with dbs.begin() as conn:
        s = Synth(conn)
        rows = conn.execute(select(cr.c.chip_id, cr.c.exp_id).where(cr.c.label == label)).all()
        for chip_id, exp_id in rows:
            conn.execute(cr.update().where(cr.c.chip_id == chip_id).values(state="full"))
            ch = Chain(exp_id=exp_id, exp_name="", dateobs=NIGHT, chip_id=chip_id)
            s.cam(ch, label=label, data_group=label)
            s.fake(ch, label=label, data_group=label)
            s.warp(ch, label=label, data_group=label, skycells=SKY)


def test_define_chip_runs_dry_run_and_idempotent(cli, db_url, dbs):
    _quad(dbs)
    cr = schema.chipRun
    before = _count(dbs, cr)
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--dry-run", "--db", db_url, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["label"] == LABEL and d["dry_run"] is True
    assert len(d["runs"]) == 4 and all(x["chip_id"] is None for x in d["runs"])
    assert _count(dbs, cr) == before
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--db", db_url, "--json")
    assert r.code == 0, r.err
    runs = r.json()["runs"]
    assert len(runs) == 4 and all(x["chip_id"] for x in runs)
    with dbs.connect() as conn:
        rows = [dict(x._mapping) for x in conn.execute(select(cr).where(cr.c.label == LABEL))]
    assert len(rows) == 4
    for row in rows:
        assert row["state"] == "new" and row["end_stage"] == "warp" and row["data_group"] == LABEL
        assert row["workdir"] == f"neb://@HOST@.0/gpc1/{LABEL}" and row["tess_id"] == "RINGS.V3"
    assert _count(dbs, schema.chipImfile, schema.chipImfile.c.chip_id.in_([x["chip_id"] for x in rows])) == 4 * 60
    # a second run defines nothing
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--db", db_url, "--json")
    assert r.code == 0 and r.json()["runs"] == [] and len(r.json()["skipped"]) == 4
    assert _count(dbs, cr, cr.c.label == LABEL) == 4
    # the set is also found by its untagged label
    r = cli("testchunk", "define", "MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603", "--tag", "v2", "--dry-run",
            "--db", db_url, "--json")
    assert r.code == 0 and r.json()["runs"] == []


def test_define_diffs_once_warps_are_full(cli, db_url, dbs):
    chains = _quad(dbs)
    dr = schema.diffRun
    assert cli("testchunk", "define", "opstag", "--tag", "v2", "--db", db_url).code == 0
    # warps not made yet: the diffs wait, nothing is defined
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--diffs", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert {p["status"] for p in r.json()["diffs"]} == {"waiting"}
    assert _count(dbs, dr, dr.c.label == LABEL) == 0
    _process(dbs)
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--diffs", "--dry-run", "--db", db_url, "--json")
    assert [p["status"] for p in r.json()["diffs"]] == ["planned", "planned"]
    assert _count(dbs, dr, dr.c.label == LABEL) == 0
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--diffs", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["diffs_defined"] == 2
    with dbs.connect() as conn:
        runs = [dict(x._mapping) for x in conn.execute(select(dr).where(dr.c.label == LABEL))]
        di = schema.diffInputSkyfile
        inputs = conn.execute(select(di.c.warp1, di.c.warp2).where(
            di.c.diff_id.in_([x["diff_id"] for x in runs]))).all()
        wr = schema.warpRun
        ours = {w for (w,) in conn.execute(select(wr.c.warp_id).where(wr.c.label == LABEL))}
    assert len(runs) == 2 and all(x["diff_mode"] == 1 and x["bothways"] == 1 for x in runs)
    assert all(x["data_group"] == LABEL and x["state"] == "new" for x in runs)
    assert {w for pair in inputs for w in pair} == ours      # never the ops tag's warps
    assert not ours & {c.warp_id for c in chains}
    # idempotent
    r = cli("testchunk", "define", "opstag", "--tag", "v2", "--diffs", "--db", db_url, "--json")
    assert r.json()["diffs_defined"] == 0 and {p["status"] for p in r.json()["diffs"]} == {"exists"}
    assert _count(dbs, dr, dr.c.label == LABEL) == 2


def test_define_refusals(cli, db_url, dbs):
    _quad(dbs)
    r = cli("testchunk", "define", "daily", "--tag", "v2", "--db", db_url)
    assert r.code == 78 and "exposures" in r.err
    assert cli("testchunk", "define", "nosuchset", "--tag", "v2", "--db", db_url).code == 2
    assert cli("testchunk", "define", "opstag", "--tag", "bad tag", "--db", db_url).code == 2
    assert cli("testchunk", "define", "opstag", "--tag", "v2", "--ws", "--db", db_url).code == 2
    r = cli("testchunk", "define", "ps2_i20180514", "--tag", "v2", "--db", db_url)
    assert r.code == 65 and "o8252h0040o" in r.err
    assert _count(dbs, schema.chipRun, schema.chipRun.c.label.like("MOPS.testchunk%")) == 0


def test_compare_by_label(cli, db_url, dbs, tmp_path):
    """Two labels' diffs whose CMFs are on disk: matched per exposure and skycell."""
    from mopstool.fits.cmf_write import write_synthetic_cmf

    chains = _quad(dbs, with_ops_diffs=False)
    ids = {}
    with dbs.begin() as conn:
        s = Synth(conn)
        for lab in ("L.A", "L.B"):
            ids[lab] = [s.diff(label=lab, data_group=lab, skycells=SKY, warp1=chains[a].warp_id,
                               warp2=chains[b].warp_id, workdir=str(tmp_path / lab)) for a, b in ((0, 1), (2, 3))]
        ds = schema.diffSkyfile
        paths = [r for r in conn.execute(select(ds.c.diff_id, ds.c.skycell_id, ds.c.path_base))]
    n = 0
    for diff_id, sc, pb in paths:
        k = ids["L.A"].index(diff_id) if diff_id in ids["L.A"] else ids["L.B"].index(diff_id)
        for suffix, seed in ((".cmf", 1), (".inv.cmf", 2)):
            write_synthetic_cmf(pb + suffix, sc, imageid=diff_id, n=120, seed=zlib.crc32(f"{k}{sc}{seed}".encode()))
            n += 1
    assert n == 16
    r = cli("testchunk", "compare", "L.A", "L.B", "--db", db_url, "--json")
    assert r.code in (0, 3), r.err
    s = r.json()["summary"]
    assert s["cells"] == 8 and s["exposures"] == 4 and s["files_a"] == 8
    assert s["a"] == s["b"] == s["matched"] == 8 * 120 - s["only_a"]
    assert s["offset_median_arcsec"] == 0
    assert cli("testchunk", "compare", "L.A", "NO.SUCH.LABEL", "--db", db_url).code == 65
