"""mopscat build --diff-id through the database (SQLite and MariaDB), and the
demo's synthetic CMF writer, on a small gpc1 database built here."""

from __future__ import annotations

import math
import os
from datetime import datetime

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from mopstool.db import schema
from mopstool.errors import DataError, ExitCode
from mopstool.fits import cmf
from mopstool.fits import skycell as sky
from mopstool.fits import cmf_write
from mopstool.ops.demo import cmf as democmf
from mopstool.fits import mops_build
from mopstool.fits import mops as mopsfmt
from mopstool.ops.mopscat.build import resolve_path

TESS = "RINGS.V3"
CELLS = ["skycell.1211.040", "skycell.1211.041", "skycell.1211.042", "skycell.1211.050"]
CHIPS = {"skycell.1211.040": ["XY33", "XY34"], "skycell.1211.041": ["XY34"],
         "skycell.1211.042": ["XY35", "XY44"], "skycell.1211.050": ["XY43", "XY44", "XY33"]}
EXPOSURES = {
    # exp_id: exp_name, dateobs, exp_time, zpt_obs, chip, cam, fake, warp
    101: ("o8309g0100o", datetime(2018, 7, 10, 8, 0, 0), 45.0, 24.61, 201, 301, 351, 401),
    102: ("o8309g0117o", datetime(2018, 7, 10, 8, 17, 0), 44.0, 24.55, 202, 302, 352, 402),
}


def add_exposure(conn, exp_id, *, skycells=CELLS, camera="GPC1"):
    name, dateobs, exp_time, zpt, chip_id, cam_id, fake_id, warp_id = EXPOSURES[exp_id]
    conn.execute(schema.newExp.insert().values(exp_id=exp_id, tmp_exp_name=name, tmp_camera=camera,
                                               state="full"))
    conn.execute(schema.rawExp.insert().values(
        exp_id=exp_id, exp_name=name, camera=camera, telescope="PS1", dateobs=dateobs,
        exp_type="object", filter="w.00000", comment=f"OSSR.R20S1.12.Q.w visit {exp_id - 100}",
        obs_mode="OSS", airmass=1.12, ra=math.radians(17.2), decl=math.radians(-2.1),
        exp_time=exp_time, alt=64.0, az=181.5, posang=12.5, fault=0, state="full"))
    conn.execute(schema.newImfile.insert(), [
        dict(exp_id=exp_id, tmp_class_id=c.lower()) for c in ("XY01", "XY02")])
    conn.execute(schema.rawImfile.insert(), [
        dict(exp_id=exp_id, exp_name=name, class_id=c, tmp_class_id=c.lower(), raw_image_id=exp_id * 100 + i,
             dateobs=dateobs.replace(second=i), quality=0, fault=0, camera=camera)
        for i, c in enumerate(("XY01", "XY02"), start=1)])
    conn.execute(schema.chipRun.insert().values(chip_id=chip_id, exp_id=exp_id, state="full",
                                                label="OSS.nightlyscience"))
    conn.execute(schema.camRun.insert().values(cam_id=cam_id, chip_id=chip_id, state="full",
                                               label="OSS.nightlyscience"))
    conn.execute(schema.camProcessedExp.insert().values(
        cam_id=cam_id, zpt_obs=zpt, zpt_stdev=0.021, sigma_ra=0.03, sigma_dec=0.04, bg=812.5,
        fwhm_major=4.4, fault=0, quality=0))
    conn.execute(schema.fakeRun.insert().values(fake_id=fake_id, cam_id=cam_id, state="full"))
    conn.execute(schema.warpRun.insert().values(warp_id=warp_id, fake_id=fake_id, state="full",
                                                tess_id=TESS, label="OSS.nightlyscience"))
    conn.execute(schema.warpSkyCellMap.insert(), [
        dict(warp_id=warp_id, skycell_id=sc, tess_id=TESS, class_id=c, fault=0)
        for sc in skycells for c in CHIPS[sc]])
    conn.execute(schema.warpSkyfile.insert(), [
        dict(warp_id=warp_id, skycell_id=sc, tess_id=TESS, path_base=f"/warp/{warp_id}/{sc}",
             data_state="full", quality=0, fault=0, good_frac=0.9) for sc in skycells])


def add_diff(conn, diff_id, mode, *, warp1, warp2=None, stacks=None, bothways=True, base,
             skycells=CELLS, over=None, first_skyfile=0):
    conn.execute(schema.diffRun.insert().values(diff_id=diff_id, state="full", diff_mode=mode,
                                                bothways=1 if bothways else 0, tess_id=TESS,
                                                label="OSS.nightlyscience"))
    conn.execute(schema.diffInputSkyfile.insert(), [
        dict(diff_id=diff_id, skycell_id=sc, warp1=warp1, warp2=warp2,
             stack2=(stacks or {}).get(sc), tess_id=TESS, diff_skyfile_id=first_skyfile + i)
        for i, sc in enumerate(skycells)])
    rows = []
    for sc in skycells:
        o = (over or {}).get(sc, {})
        if o.get("missing"):
            continue
        rows.append(dict(diff_id=diff_id, skycell_id=sc, data_state=o.get("data_state", "full"),
                         quality=o.get("quality", 0), fault=o.get("fault", 0), sources=300,
                         path_base=o.get("path_base", f"{base}/{TESS}/{sc}/{TESS}.{sc}.dif.{diff_id}")))
    conn.execute(schema.diffSkyfile.insert(), rows)


def add_stacks(conn, first_id, skycells):
    ids = {}
    for i, sc in enumerate(skycells):
        sid = first_id + i
        conn.execute(schema.stackRun.insert().values(stack_id=sid, state="full", skycell_id=sc,
                                                     tess_id=TESS, filter="w.00000", label="ref"))
        conn.execute(schema.stackSumSkyfile.insert().values(stack_id=sid, quality=0, fault=0))
        ids[sc] = sid
    return ids


@pytest.fixture
def world(dbs, tmp_path):
    """Two exposures; WW diff 601 (both ways, 042 bad quality), WS diffs 602 and 604 of
    exposures 101 and 102, WW diff 603 on neb:// paths; CMFs of 601, 602 and 604 written
    by write_demo_cmfs."""
    files = tmp_path / "files"
    with dbs.begin() as conn:
        add_exposure(conn, 101)
        add_exposure(conn, 102)
        stacks = add_stacks(conn, 801, CELLS[:2])
        add_diff(conn, 601, 1, warp1=401, warp2=402, base=str(files / "OSS.nt"), first_skyfile=5000,
                 over={"skycell.1211.042": {"quality": 8}})
        add_diff(conn, 602, 2, warp1=401, stacks=stacks, bothways=False, base=str(files / "FSS.nt"),
                 skycells=CELLS[:2], first_skyfile=6000)
        add_diff(conn, 604, 2, warp1=402, stacks=stacks, bothways=False, base=str(files / "FSS.nt"),
                 skycells=CELLS[:2], first_skyfile=6100)
        add_diff(conn, 603, 1, warp1=401, warp2=402, base="neb://@HOST@.0/gpc1/OSS.nt",
                 skycells=CELLS[:2], first_skyfile=7000, over={
                     CELLS[0]: {"path_base": f"neb://ipp054.0/gpc1/OSS.nt/{CELLS[0]}.dif.603"},
                     CELLS[1]: {"path_base": f"neb://ipp060.1/gpc1/OSS.nt/{CELLS[1]}.dif.603"}})
    with dbs.connect() as conn:
        n = democmf.write_demo_cmfs(conn, files)
    return {"files": files, "written": n}


def zp_of(exp_id):
    _n, _d, t, zpt, *_ = EXPOSURES[exp_id]
    return zpt + 2.5 * math.log10(t)


def table(path, ext):
    return Table.read(path, hdu=ext, mask_invalid=False)


def test_write_demo_cmfs(world, dbs):
    files = world["files"]
    # 601: 4 skycells both ways (042 has quality 8 but data_state full, fault 0); 602, 604: 2 skycells
    assert world["written"] == 4 * 2 + 2 + 2
    ww = files / "OSS.nt" / TESS / CELLS[0] / f"{TESS}.{CELLS[0]}.dif.601"
    fwd = cmf.read_cmf(f"{ww}.cmf")
    inv = cmf.read_cmf(f"{ww}.inv.cmf")
    assert fwd.version == 5 and fwd.exttype == "PS1_DV5" and fwd.has_xfit
    assert fwd.imageid == 5000 and inv.imageid == 5000
    assert fwd.header["FPA.OBS"] == "o8309g0100o" and inv.header["FPA.OBS"] == "o8309g0117o"
    assert fwd.header["EXPTIME"] == 45.0 and inv.header["EXPTIME"] == 44.0
    assert fwd.header["FPA.RA"] == sky.format_ra(17.2) and fwd.header["FPA.FILTER"] == "w.00000"
    assert fwd.header["MJD-OBS"] == pytest.approx(58309 + 8 / 24)
    assert fwd.geometry.source == "header" and fwd.naxis1 == 6000
    # the demo keeps its catalogs small (ops/demo/cmf.py DEMO_MAX_ROWS; sources // 6)
    assert 40 <= fwd.nrows <= democmf.DEMO_MAX_ROWS + 20
    flags = fwd.columns["FLAGS"].astype("u8")
    assert 0 < np.count_nonzero(flags & cmf.SOURCE_MASK) <= max(2, fwd.nrows // 10)
    nan = ~np.isfinite(fwd.columns["PSF_INST_MAG_SIG"]) | ~np.isfinite(fwd.columns["X_PSF_SIG"]) | \
        ~np.isfinite(fwd.columns["PSF_INST_MAG"]) | ~np.isfinite(fwd.columns["Y_PSF_SIG"])
    assert 0 < nan.sum() < 10
    np.testing.assert_array_equal(fwd.columns["IPP_IDET"], np.arange(fwd.nrows))
    # detections lie on the skycell and their sky positions follow its WCS
    x, y = fwd.columns["X_PSF"], fwd.columns["Y_PSF"]
    assert ((x >= 0) & (x < 6000) & (y >= 0) & (y < 6000)).all()
    ra, dec = fwd.geometry.pix_to_sky(x, y)
    sep = np.hypot((ra - fwd.columns["RA_PSF"]) * math.cos(math.radians(-2)), dec - fwd.columns["DEC_PSF"])
    assert np.nanmax(sep) * 3600 < 0.5
    # chips from the warp's skycell map
    assert set(np.unique(fwd.columns["SRC_CHIP_NUM"]).tolist()) <= {33, 34}
    # the WW detections pass the WS cuts; the WS catalogs have rows that fail them
    ws = cmf.read_cmf(files / "FSS.nt" / TESS / CELLS[0] / f"{TESS}.{CELLS[0]}.dif.602.cmf")
    assert ws.imageid == 6000
    assert not (files / "FSS.nt" / TESS / CELLS[0] / f"{TESS}.{CELLS[0]}.dif.602.inv.cmf").exists()
    fr = ws.columns["DIFF_FRATIO"]
    assert 0 < np.count_nonzero(fr <= 0.6) and (ws.columns["FLAGS2"] == cmf.FLAGS2_DIFF_WITH_SINGLE).all()
    # neighbours share a few sources in their overlap
    other = cmf.read_cmf(files / "OSS.nt" / TESS / CELLS[1] / f"{TESS}.{CELLS[1]}.dif.601.cmf")
    pairs = mops_build.cross_pairs(np.concatenate([fwd.columns["RA_PSF"], other.columns["RA_PSF"]]),
                                np.concatenate([fwd.columns["DEC_PSF"], other.columns["DEC_PSF"]]),
                                np.repeat([0, 1], [fwd.nrows, other.nrows]))
    assert 4 <= len(pairs) <= 8
    # deterministic: the same rows again
    with dbs.connect() as conn:
        before = fwd.columns["RA_PSF"].copy()
        democmf.write_demo_cmfs(conn, files)
    np.testing.assert_array_equal(cmf.read_cmf(f"{ww}.cmf").columns["RA_PSF"], before)
    # nothing for diffs outside the directory
    with dbs.connect() as conn:
        assert democmf.write_demo_cmfs(conn, files / "elsewhere") == 0


def test_build_by_diff_id(cli, world, db_url, tmp_path):
    out = tmp_path / "ww.mops"
    r = cli("mopscat", "build", "--diff-id", "601", "--db", db_url, "-o", out, "--json")
    assert r.code == 0, r.err
    res = r.json()
    assert "skipped diff 601 skycell.1211.042: quality 8" in r.err
    assert res["skipped"] == [{"diff_id": 601, "skycell_id": "skycell.1211.042", "reason": "quality 8"}]
    assert res["duplicates"] > 0 and res["rows"] + res["duplicates"] == res["entries"]
    hdr = fits.getheader(out, mopsfmt.MOPS_EXT)
    assert (hdr["EXP_NAME"], hdr["EXP_ID"], hdr["CHIP_ID"], hdr["CAM_ID"], hdr["FAKE_ID"], hdr["WARP_ID"],
            hdr["DIFF_ID"]) == ("o8309g0100o", 101, 201, 301, 351, 401, 601)
    assert hdr["DIFF_POS"] is True and hdr["DIFFTYPE"] == "WW" and hdr["OBSCODE"] == "F51"
    assert hdr["MAGZP"] == pytest.approx(zp_of(101), abs=1e-5)
    assert hdr["MAGZPERR"] == pytest.approx(0.021, abs=1e-6)
    assert hdr["ASTRORMS"] == pytest.approx(0.05, abs=1e-6)
    assert hdr["SKY"] == pytest.approx(812.5) and hdr["CMMTOBS"] == "OSSR.R20S1.12.Q.w visit 1"
    assert hdr["OBS_MODE"] == "OSS" and hdr["SHUTOUTC"].startswith("2018-07-10T08:00:01")
    assert hdr["NSKYCELL"] == 3 and hdr["NDUPS"] == res["duplicates"]
    data = table(out, mopsfmt.MOPS_EXT)
    alld = table(out, mopsfmt.ALL_EXT)
    assert set(data["SKYCELL_ID"]) == {CELLS[0], CELLS[1], CELLS[3]}
    assert (data["EXP_ID"] == 101).all() and (data["EXP_NAME"] == "o8309g0100o").all()
    assert (data["DIFF_ID"] == 601).all()
    # value by value against the CMFs
    files = world["files"] / "OSS.nt" / TESS
    cats = {5000 + CELLS.index(sc): cmf.read_cmf(files / sc / f"{TESS}.{sc}.dif.601.cmf")
            for sc in (CELLS[0], CELLS[1], CELLS[3])}
    for row in data:
        c = cats[int(row["DIFF_SKYFILE_ID"])]
        i = int(row["IPP_IDET"])
        assert row["RA"] == c.columns["RA_PSF"][i]
        assert row["MAG"] == pytest.approx(c.columns["PSF_INST_MAG"][i] + zp_of(101), abs=1e-4)
        assert row["CHIP_ID"] == f"XY{c.columns['SRC_CHIP_NUM'][i]:02d}"
        assert row["CHIP_ID"] in CHIPS[row["SKYCELL_ID"]]
        assert not (int(c.columns["FLAGS"][i]) & cmf.SOURCE_MASK)
    assert set(alld["PATH"]) == {os.path.abspath(c.path) for c in cats.values()}
    for p in alld["PATH"]:
        assert not p.startswith("neb://") and os.path.exists(p)
    r = cli("mopscat", "check", out)
    assert r.code == 0, r.out + r.err

    # the inverse direction: the second exposure's detections, the input exposure's zero point
    inv = tmp_path / "neg.mops"
    r = cli("mopscat", "build", "--diff-id", "601", "--inverse", "--db", db_url, "-o", inv, "--json")
    assert r.code == 0, r.err
    h = fits.getheader(inv, mopsfmt.MOPS_EXT)
    assert (h["EXP_NAME"], h["EXP_ID"], h["WARP_ID"], h["DIFF_POS"]) == ("o8309g0117o", 102, 402, False)
    assert h["MAGZP"] == pytest.approx(zp_of(101), abs=1e-5)
    assert h["EXPTIME"] == 44.0 and h["CMMTOBS"] == "OSSR.R20S1.12.Q.w visit 2"
    assert all(p.endswith(".inv.cmf") for p in table(inv, mopsfmt.ALL_EXT)["PATH"])
    assert (table(inv, mopsfmt.MOPS_EXT)["DIFF_POS"] == False).all()  # noqa: E712

    # the warp-stack diff: WS cuts applied
    ws = tmp_path / "ws.mops"
    r = cli("mopscat", "build", "--diff-id", "602", "--db", db_url, "-o", ws, "--json")
    assert r.code == 0, r.err
    assert sum(s["n_wscut"] for s in r.json()["skycells"]) > 0
    assert fits.getheader(ws, mopsfmt.MOPS_EXT)["DIFFTYPE"] == "WS"
    assert cli("mopscat", "check", ws).code == 0

    # one product from both: rows tagged by DIFFTYPE
    merged = tmp_path / "merged.mops"
    r = cli("mopscat", "build", "--diff-id", "601", "--diff-id", "602", "--merge", "--db", db_url,
            "-o", merged, "--json")
    assert r.code == 0, r.err
    m = table(merged, mopsfmt.MOPS_EXT)
    assert set(m["DIFFTYPE"]) == {"WW", "WS"}
    assert (m["DIFF_ID"][m["DIFFTYPE"] == "WS"] == 602).all()
    assert (m["EXP_ID"] == 101).all()
    mh = fits.getheader(merged, mopsfmt.MOPS_EXT)
    assert mh["DIFFTYPE"] == "WW+WS" and (mh["DIFFID1"], mh["DIFFID2"]) == (601, 602)
    assert cli("mopscat", "check", merged).code == 0
    # the second exposure: the inverse of the WW diff with its own WS diff, each
    # with its zero point (WW: the diff's input exposure; WS: exposure 102)
    r = cli("mopscat", "build", "--diff-id", "601", "--diff-id", "604", "--merge", "--exp-id", "102",
            "--db", db_url, "-o", tmp_path / "m102.mops", "--json")
    assert r.code == 0, r.err
    h = fits.getheader(tmp_path / "m102.mops", mopsfmt.MOPS_EXT)
    assert (h["EXP_NAME"], h["DIFPOS1"], h["DIFPOS2"], h["WARPID1"], h["WARPID2"]) == \
        ("o8309g0117o", False, True, 402, 402)
    assert h["MAGZP1"] == pytest.approx(zp_of(101), abs=1e-5)
    assert h["MAGZP2"] == pytest.approx(zp_of(102), abs=1e-5)
    m2 = table(tmp_path / "m102.mops", mopsfmt.MOPS_EXT)
    assert set(zip(m2["DIFFTYPE"], m2["DIFF_POS"])) == {("WW", False), ("WS", True)}
    r = cli("mopscat", "build", "--diff-id", "601", "--diff-id", "604", "--merge",
            "--db", db_url, "-o", tmp_path / "bad.mops")
    assert r.code == ExitCode.DATA and "does not have exposure 101" in r.err
    # ... and the same diffs without --merge, or the WS diff backwards, are refused
    r = cli("mopscat", "build", "--diff-id", "601", "--diff-id", "602", "--db", db_url, "-o", merged)
    assert r.code == ExitCode.USAGE and "--merge" in r.err
    r = cli("mopscat", "build", "--diff-id", "602", "--inverse", "--db", db_url, "-o", merged)
    assert r.code == ExitCode.DATA and "no inverse" in r.err
    r = cli("mopscat", "build", "--diff-id", "999", "--db", db_url, "-o", merged)
    assert r.code == ExitCode.DATA and "no diff run with diff_id 999" in r.err


def test_default_output_name(cli, world, db_url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    r = cli("mopscat", "build", "--diff-id", "601", "--inverse", "--db", db_url)
    assert r.code == 0, r.err
    assert (tmp_path / "o8309g0117o.601.neg.mops").exists()


def test_neb_paths_chip_fallback_and_missing_files(cli, world, db_url, tmp_path):
    nebroot = tmp_path / "nebulous"
    paths = {}
    for k, (sc, host) in enumerate(((CELLS[0], "ipp054.0"), (CELLS[1], "ipp060.1"))):
        path = nebroot / "gpc1" / "OSS.nt" / f"{sc}.dif.603.cmf"
        path.parent.mkdir(parents=True, exist_ok=True)
        assert resolve_path(f"neb://{host}/gpc1/OSS.nt/{sc}.dif.603", ".cmf", neb_root=str(nebroot)) == str(path)
        # DV4: no SRC_CHIP_* columns, so CHIP_ID comes from warpSkyCellMap
        cmf_write.write_synthetic_cmf(path, sc, imageid=7000 + k, n=30, version=4, seed=k,
                                header=dict(ra_deg=17.2, dec_deg=-2.1, exptime=45.0, mjd_obs=58309 + 8 / 24,
                                            exp_name="o8309g0100o"))
        paths[sc] = path
    r = cli("mopscat", "build", "--diff-id", "603", "--db", db_url, "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and "neb_root" in r.err and r.err.count("\n") == 1
    conf = tmp_path / "mopstool.toml"
    conf.write_text(f'[mopscat]\nneb_root = "{nebroot}"\n')
    out = tmp_path / "neb.mops"
    r = cli("mopscat", "build", "--diff-id", "603", "--db", db_url, "--config", conf, "-o", out, "--json")
    assert r.code == 0, r.err
    data = table(out, mopsfmt.MOPS_EXT)
    assert fits.getheader(out, mopsfmt.MOPS_EXT)["CMFVERSION"] == "PS1_DV4"
    assert set(data["CHIP_ID"][data["SKYCELL_ID"] == CELLS[0]]) == {"XY33,XY34"}
    assert set(data["CHIP_ID"][data["SKYCELL_ID"] == CELLS[1]]) == {"XY34"}
    assert np.isnan(data["CHIP_X"]).all()
    sky = table(out, mopsfmt.SKYCELL_EXT)
    assert dict(zip(sky["SKYCELL_ID"], sky["CHIP_IDS"])) == {CELLS[0]: "XY33,XY34", CELLS[1]: "XY34"}
    assert set(table(out, mopsfmt.ALL_EXT)["PATH"]) == {str(p) for p in paths.values()}
    # the column says that PATH is the Nebulous key's file under neb_root, not an instance path
    with fits.open(out) as h:
        for ext in (mopsfmt.ALL_EXT, mopsfmt.SKYCELL_EXT):
            hdr = h[ext].header
            k = next(i for i in range(1, hdr["TFIELDS"] + 1) if hdr[f"TTYPE{i}"] == "PATH")
            assert "Nebulous key" in hdr.comments[f"TTYPE{k}"]
    # a missing CMF is a one-line data error naming the file
    paths[CELLS[1]].unlink()
    r = cli("mopscat", "build", "--diff-id", "603", "--db", db_url, "--config", conf, "-o", out)
    assert r.code == ExitCode.DATA and str(paths[CELLS[1]]) in r.err and r.err.count("\n") == 1


def test_file_urls_and_unusable_skycells(cli, world, dbs, db_url, tmp_path):
    ds = schema.diffSkyfile
    with dbs.begin() as conn:
        for sc in CELLS[:2]:
            pb = conn.execute(ds.select().where(ds.c.diff_id == 602, ds.c.skycell_id == sc)).mappings().one()
            conn.execute(ds.update().where(ds.c.diff_id == 602, ds.c.skycell_id == sc)
                         .values(path_base="file://" + pb["path_base"]))
    r = cli("mopscat", "build", "--diff-id", "602", "--db", db_url, "-o", tmp_path / "f.mops", "--json")
    assert r.code == 0, r.err
    assert not any(p.startswith("file:") for p in table(tmp_path / "f.mops", mopsfmt.ALL_EXT)["PATH"])
    with dbs.begin() as conn:
        conn.execute(ds.update().where(ds.c.diff_id == 602, ds.c.skycell_id == CELLS[0]).values(fault=2))
        conn.execute(ds.update().where(ds.c.diff_id == 602, ds.c.skycell_id == CELLS[1])
                     .values(data_state="purged"))
    r = cli("mopscat", "build", "--diff-id", "602", "--db", db_url, "-o", tmp_path / "g.mops")
    assert r.code == ExitCode.DATA and "no usable skycell" in r.err and "fault 2" in r.err


def test_resolve_path():
    assert resolve_path("/data/a/b", ".cmf") == "/data/a/b.cmf"
    assert resolve_path("file:///data/a/b", ".inv.cmf") == "/data/a/b.inv.cmf"
    assert resolve_path("neb://@HOST@.0/gpc1/x/y", ".cmf", neb_root="/n") == "/n/gpc1/x/y.cmf"
    with pytest.raises(DataError, match="neb_root"):
        resolve_path("neb://any/gpc1/x", ".cmf")


def _products(root):
    return {p.name: p.read_bytes() for p in sorted(root.glob("*.mops"))}


def test_build_night_serial_and_workers_give_the_same_products(cli, world, db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    runs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        out.mkdir()
        r = cli("mopscat", "build", "--night", "2018-07-10", "--db", db_url, "--outdir", out,
                "--workers", n, "--json")
        # diff 603 sits on neb:// paths and no [mopscat] neb_root is set: that product is not built
        assert r.code == ExitCode.CHECK_FAILED, r.err
        runs[n] = (r.json(), _products(out))
    rows, files = runs[1]
    built = {(x["diff_id"], x["direction"]) for x in rows if not x["error"]}
    assert built == {(601, "pos"), (601, "neg"), (602, "pos"), (604, "pos")}
    failed = {(x["diff_id"], x["direction"]): x["error"] for x in rows if x["error"]}
    assert set(failed) == {(603, "pos"), (603, "neg")} and all("neb_root" in e for e in failed.values())
    assert sorted(files) == ["o8309g0100o.601.pos.mops", "o8309g0100o.602.pos.mops",
                             "o8309g0117o.601.neg.mops", "o8309g0117o.604.pos.mops"]
    assert runs[2][1] == files
    # each product is the one --diff-id builds
    one = tmp_path / "one.mops"
    r = cli("mopscat", "build", "--diff-id", "601", "--inverse", "--db", db_url, "-o", one)
    assert r.code == 0, r.err
    assert one.read_bytes() == files["o8309g0117o.601.neg.mops"]
    # options that do not go with --night are refused, naming them
    r = cli("mopscat", "build", "--night", "2018-07-10", "--db", db_url, "--diff-id", "601")
    assert r.code == ExitCode.USAGE and "--diff-id" in r.err
    r = cli("mopscat", "build", "--diff-id", "601", "--db", db_url, "--workers", "2")
    assert r.code == ExitCode.USAGE and "--workers" in r.err


def test_build_night_on_a_dask_cluster(world, dbs, tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed")
    from mopstool.config import load_config
    from mopstool.ops.mopscat.build import build_night
    from mopstool.ops.parallel import Execution

    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    cfg = load_config(None)
    night = datetime(2018, 7, 10).date()
    (tmp_path / "s").mkdir()
    (tmp_path / "d").mkdir()
    serial = build_night(night, config=cfg, dbs_factory=lambda: dbs, outdir=str(tmp_path / "s"))
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        par = build_night(night, config=cfg, dbs_factory=lambda: dbs, outdir=str(tmp_path / "d"),
                          execution=Execution(scheduler=cluster.scheduler_address))
    assert [(r["diff_id"], r["direction"], r["rows"], r["error"] == "") for r in serial] == \
        [(r["diff_id"], r["direction"], r["rows"], r["error"] == "") for r in par]
    assert _products(tmp_path / "s") == _products(tmp_path / "d") and len(_products(tmp_path / "d")) == 4


def test_neb_keys_resolved_through_the_nebulous_database(cli, world, db_url, tmp_path):
    """With [nebulous] url the CMF of a neb:// key is read from its instance on an
    available volume, and PATH is that instance's file."""
    import sqlalchemy as sa

    from mopstool.ops.mopscat.nebulous import ext_id

    assert ext_id("neb://ipp054.0/gpc1//OSS.nt/x.cmf/") == "gpc1/OSS.nt/x.cmf"
    assert ext_id("neb:///gpc1/a.cmf") == "gpc1/a.cmf" == ext_id("/gpc1/a.cmf")
    neb = tmp_path / "nebulous.sqlite"
    eng = sa.create_engine(f"sqlite:///{neb}")
    keys = {CELLS[0]: f"gpc1/OSS.nt/{CELLS[0]}.dif.603.cmf", CELLS[1]: f"gpc1/OSS.nt/{CELLS[1]}.dif.603.cmf"}
    inst = {sc: tmp_path / "vol" / f"ipp0{50 + k}.0" / "nebulous" / f"{k:02d}" / f"{1000 + k}.{sc}.cmf"
            for k, sc in enumerate(CELLS[:2])}
    with eng.begin() as c:
        c.execute(sa.text("CREATE TABLE storage_object (so_id INTEGER PRIMARY KEY, ext_id TEXT)"))
        c.execute(sa.text("CREATE TABLE volume (vol_id INTEGER PRIMARY KEY, name TEXT, available INTEGER)"))
        c.execute(sa.text("CREATE TABLE instance (ins_id INTEGER PRIMARY KEY, so_id INTEGER, vol_id INTEGER, "
                          "uri TEXT)"))
        c.execute(sa.text("INSERT INTO volume VALUES (1, 'ipp050.0', 1), (2, 'ipp051.0X', 0), (3, 'ipp051.0', 1)"))
        c.execute(sa.text("INSERT INTO storage_object VALUES (1, :a), (2, :b)"), {"a": keys[CELLS[0]], "b": keys[CELLS[1]]})
        c.execute(sa.text("INSERT INTO instance VALUES (1, 1, 1, :u1), (2, 2, 2, '/gone/file'), (3, 2, 3, :u2)"),
                  {"u1": f"file://{inst[CELLS[0]]}", "u2": f"file://{inst[CELLS[1]]}"})
    eng.dispose()
    for k, sc in enumerate(CELLS[:2]):
        inst[sc].parent.mkdir(parents=True)
        cmf_write.write_synthetic_cmf(inst[sc], sc, imageid=7000 + k, n=20, seed=k,
                                      header=dict(ra_deg=17.2, dec_deg=-2.1, exptime=45.0,
                                                  mjd_obs=58309 + 8 / 24, exp_name="o8309g0100o"))
    conf = tmp_path / "mopstool.toml"
    conf.write_text(f'[nebulous]\nurl = "sqlite:///{neb}"\n')
    out = tmp_path / "neb.mops"
    r = cli("mopscat", "build", "--diff-id", "603", "--db", db_url, "--config", conf, "-o", out, "--json")
    assert r.code == 0, r.err
    assert set(table(out, mopsfmt.ALL_EXT)["PATH"]) == {str(p) for p in inst.values()}
    with fits.open(out) as h:
        hdr = h[mopsfmt.ALL_EXT].header
        k = next(i for i in range(1, hdr["TFIELDS"] + 1) if hdr[f"TTYPE{i}"] == "PATH")
        assert hdr.comments[f"TTYPE{k}"] == "the CMF file read"
    # a key whose only instance is on an unavailable volume: that skycell is skipped, saying why
    with eng.begin() as c:
        c.execute(sa.text("DELETE FROM instance WHERE ins_id = 3"))
    eng.dispose()
    r = cli("mopscat", "build", "--diff-id", "603", "--db", db_url, "--config", conf, "-o", out, "--json")
    assert r.code == 0, r.err
    assert r.json()["skipped"] == [{"diff_id": 603, "skycell_id": CELLS[1],
                                    "reason": "no Nebulous instance on an available volume"}]
