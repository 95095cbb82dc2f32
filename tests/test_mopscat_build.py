"""mopscat build / check / show from CMF files made here (no database).

Outputs are read back with astropy and compared value by value with the
inputs and with independently computed expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from mopstool.errors import DataError, ExitCode
from mopstool.fits import cmf
from mopstool.fits import skycell as sky
from mopstool.fits import cmf_write
from mopstool.fits import mops_build
from mopstool.fits import mops_write
from mopstool.fits import mops as mopsfmt

EXP = dict(ra_deg=17.0, dec_deg=-2.0, exptime=45.0, mjd_obs=58309.27, exp_name="o8309g0262o")
ZP = 28.5


def make(skycell: str, n: int, *, version: int = 5, seed: int = 0, ws: bool = False):
    g = sky.skycell_geometry(skycell)
    return g, cmf_write.synthetic_psf_table(g, n, version=version, seed=seed, ws=ws)


def write(path, g, psf, imageid, *, version=5, xfit=None, header=None):
    cmf_write.write_cmf(path, primary=cmf_write.cmf_primary_header(g, imageid=imageid, **{**EXP, **(header or {})}),
                  psf=psf, version=version, xfit=xfit, hdr_cards=g.header_cards())
    return str(path)


def at(g: sky.SkycellGeometry, other: sky.SkycellGeometry, x, y):
    """Pixel position in *other* of pixel (x, y) of *g*."""
    return other.sky_to_pix(*g.pix_to_sky(np.asarray(x, float), np.asarray(y, float)))


def read_out(path):
    out = {}
    with fits.open(path) as hl:
        out["names"] = [h.name for h in hl]
        out["primary"] = hl[0].header.copy()
        out["primary_has_data"] = hl[0].data is not None
        for k, h in enumerate(hl[1:], start=1):
            out[h.name] = (h.header.copy(), Table.read(path, hdu=k, mask_invalid=False), list(h.columns.names))
    return out


def build(cli, tmp_path, files, *extra, name="out.mops"):
    out = tmp_path / name
    r = cli("mopscat", "build", *files, "-o", out, "--json", *extra)
    assert r.code == 0, r.err
    return out, r.json()


def by_key(data, skyfile_col="DIFF_SKYFILE_ID", idet_col="IPP_IDET"):
    return {(int(s), int(i)): k for k, (s, i) in enumerate(zip(data[skyfile_col], data[idet_col]))}


# ----------------------------------------------------------------------------- versions
@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_build_every_dv_version_value_by_value(cli, tmp_path, version):
    cells = ["skycell.1211.040", "skycell.1211.041"]
    inputs = {}
    files = []
    for k, sc in enumerate(cells):
        g, psf = make(sc, 40, version=version, seed=10 * version + k)
        # POSANGLE in degrees: 90 deg with sx != sy swaps the RA and Dec errors
        psf["POSANGLE"][:3] = [90.0, 0.0, 30.0]
        psf["X_PSF_SIG"][:3] = [0.1, 0.1, 0.2]
        psf["Y_PSF_SIG"][:3] = [0.4, 0.4, 0.3]
        xf = cmf_write.synthetic_xfit_table(g, psf, version=version, seed=k) if version >= 2 else None
        files.append(write(tmp_path / f"{sc}.cmf", g, psf, 500 + k, version=version, xfit=xf))
        inputs[500 + k] = (sc, psf, xf)
    out, res = build(cli, tmp_path, files, "--zp", str(ZP), "--exp-id", "1234567")
    assert res["rows"] == 80 and res["duplicates"] == 0 and res["version"] == version
    o = read_out(out)
    assert o["names"] == ["PRIMARY", mopsfmt.MOPS_EXT, mopsfmt.ALL_EXT, mopsfmt.SKYCELL_EXT]
    assert not o["primary_has_data"] and o["primary"]["NAXIS"] == 0
    hdr, data, names = o[mopsfmt.MOPS_EXT]
    assert names == [c[0] for c in mopsfmt.version_columns(version)] + \
        [c[0] for c in mopsfmt.REVISION_COLUMNS]
    # header keywords
    assert hdr["CMFVERSION"] == f"PS1_DV{version}"
    assert hdr["MAGZP"] == pytest.approx(ZP) and hdr["ZEROPOINT"] == pytest.approx(ZP)
    assert hdr["DIFF_POS"] is True and hdr["OBSCODE"] == "F51" and hdr["DIFFTYPE"] == "WW"
    assert hdr["MJD-OBS"] == pytest.approx(58309.27 + 45.0 / 2 / 86400, abs=1e-9)
    assert hdr["RA"] == sky.format_ra(17.0) and hdr["DEC"] == sky.format_dec(-2.0)
    assert hdr["EXPTIME"] == 45.0 and hdr["FILTER"] == "w.00000" and hdr["AIRMASS"] == pytest.approx(1.1)
    assert hdr["SEEING"] == pytest.approx(4.6) and hdr["FWHM"] == pytest.approx(4.6)
    assert hdr["PLTSCALE"] == pytest.approx(0.25) and hdr["PLTSCALE_EXT"] == pytest.approx(0.25)
    assert hdr["EXP_ID"] == 1234567 and hdr["EXP_NAME"] == "o8309g0262o"
    assert hdr["FPA.SHUTOUTC"].startswith("2018-07-10T06:28:48")
    assert hdr["MOPSREV"] == 1 and hdr["NSKYCELL"] == 2 and hdr["NENTRIES"] == 80 and hdr["NDUPS"] == 0
    for key in mopsfmt.REQUIRED_KEYWORDS:
        assert key in hdr, key
    # types
    assert data["RA"].dtype.str[1:] == "f8" and data["MAG"].dtype.str[1:] == "f4"
    assert data["FLAGS"].dtype.str[1:] == "u4" and data["DIFF_SKYFILE_ID"].dtype.str[1:] == "i8"
    assert data["DIFF_POS"].dtype == bool and data["ID"].dtype.str[1:] == "i8"
    # rows against their inputs (via MOPS_ALL_DETECTIONS for the IPP_IDET)
    _ah, alld, _an = o[mopsfmt.ALL_EXT]
    idet = dict(zip(alld["ID"], alld["IPP_IDET"]))
    for row in data:
        sc, psf, xf = inputs[int(row["DIFF_SKYFILE_ID"])]
        i = int(idet[row["ID"]])
        if version >= 2:
            assert row["IPP_IDET"] == i
        assert row["RA"] == psf["RA_PSF"][i] and row["DEC"] == psf["DEC_PSF"][i]
        assert row["MAG"] == pytest.approx(psf["PSF_INST_MAG"][i] + ZP, abs=1e-5)
        assert row["MAG_ERR"] == psf["PSF_INST_MAG_SIG"][i]
        assert row["PSF_CHI2"] == psf["PSF_CHISQ"][i] and row["PSF_DOF"] == psf["PSF_NDOF"][i]
        assert row["CR_SIGNIFICANCE"] == psf["CR_NSIGMA"][i]
        assert row["PSF_QUALITY"] == psf["PSF_QF"][i] and row["N_POS"] == psf["DIFF_NPOS"][i]
        assert row["F_POS"] == psf["DIFF_FRATIO"][i] and row["RATIO_ALL"] == psf["DIFF_NRATIO_ALL"][i]
        assert row["FLAGS"] == psf["FLAGS"][i]
        th = math.radians(float(psf["POSANGLE"][i]))
        s = float(psf["PLTSCALE"][i]) / 3600.0
        sx, sy = float(psf["X_PSF_SIG"][i]), float(psf["Y_PSF_SIG"][i])
        assert row["RA_ERR"] == pytest.approx(s * math.hypot(math.cos(th) * sx, math.sin(th) * sy), rel=1e-6)
        assert row["DEC_ERR"] == pytest.approx(s * math.hypot(math.sin(th) * sx, math.cos(th) * sy), rel=1e-6)
        if i == 0:   # POSANGLE 90: RA error from the y error
            assert row["RA_ERR"] == pytest.approx(0.25 / 3600 * sy, rel=1e-6)
            assert row["DEC_ERR"] == pytest.approx(0.25 / 3600 * sx, rel=1e-6)
        assert row["SKYCELL_ID"] == sc and row["EXP_ID"] == 1234567 and row["EXP_NAME"] == "o8309g0262o"
        assert row["X_PSF"] == psf["X_PSF"][i]
        if version >= 2:
            assert row["KRON_FLUX"] == psf["KRON_FLUX"][i] and row["FLAGS2"] == psf["FLAGS2"][i]
            xrow = np.flatnonzero(xf["IPP_IDET"] == i)
            if len(xrow):
                j = xrow[0]
                assert row["X_EXT"] == xf["X_EXT"][j] and row["EXT_WIDTH_MAJ"] == xf["EXT_WIDTH_MAJ"][j]
                assert math.isnan(row["EXT_WIDTH_MIN_ERR"])
                if version >= 3:
                    assert row["RA_EXT"] == xf["RA_EXT"][j] and row["EXT_FLUX"] == xf["EXT_INST_FLUX"][j]
                    assert row["POSANG_EXT"] == xf["POSANGLE"][j]
                    the = math.radians(float(xf["POSANGLE"][j]))
                    se = float(xf["PLTSCALE"][j]) / 3600.0
                    exs, eys = float(xf["X_EXT_SIG"][j]), float(xf["Y_EXT_SIG"][j])
                    assert row["RA_EXT_SIGMA"] == pytest.approx(
                        se * math.hypot(math.cos(the) * exs, math.sin(the) * eys), rel=1e-6)
            else:
                assert math.isnan(row["X_EXT"])
                if version >= 3:
                    assert math.isnan(row["RA_EXT"]) and math.isnan(row["RA_EXT_SIGMA"])
        if version >= 4:
            assert row["PSF_FWHM_MAJ"] == psf["PSF_FWHM_MAJ"][i] and row["AP_NPIX"] == psf["AP_NPIX"][i]
        if version >= 5:
            assert row["CHIP_ID"] == f"XY{int(psf['SRC_CHIP_NUM'][i]):02d}"
            assert row["CHIP_X"] == psf["SRC_CHIP_X"][i] and row["CHIP_Y"] == psf["SRC_CHIP_Y"][i]
        else:
            assert row["CHIP_ID"] == "" and math.isnan(row["CHIP_X"])
    # MOPS_ALL_DETECTIONS: every entry primary, direct absolute paths, R_CENTER in pixels
    assert len(alld) == 80 and alld["PRIMARY"].all()
    np.testing.assert_array_equal(alld["PRIMARY_ID"], alld["ID"])
    assert set(alld["PATH"]) == {str((tmp_path / f"{sc}.cmf").resolve()) for sc in cells}
    np.testing.assert_allclose(alld["R_CENTER"], np.hypot(alld["X_PSF"] - 3000.0, alld["Y_PSF"] - 3000.0),
                               rtol=1e-5)
    with fits.open(out) as hl:
        hl.verify("exception")
    # and the checker agrees
    r = cli("mopscat", "check", out, "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["ok"] is True and r.json()["format"] == "mopstool revision 1"


# ----------------------------------------------------------------------------- cuts
def test_flagged_and_non_finite_rows_are_cut(cli, tmp_path):
    g, psf = make("skycell.1211.040", 40, seed=3)
    bits = [cmf.FLAG_FAIL, cmf.FLAG_BADPSF, cmf.FLAG_DEFECT, cmf.FLAG_SATURATED, cmf.FLAG_CR_LIMIT,
            cmf.FLAG_SKY_FAILURE]
    for i, b in enumerate(bits):                      # rows 0-5: each bit of 0x13C08
        psf["FLAGS"][i] |= b
    psf["FLAGS"][6] |= cmf.FLAG_BLEND | 0x4000 | 0x20000 | 0x80   # not in the mask: kept
    nan_cols = ["X_PSF", "Y_PSF", "X_PSF_SIG", "Y_PSF_SIG", "PSF_INST_MAG", "PSF_INST_MAG_SIG",
                "PLTSCALE", "POSANGLE", "RA_PSF", "DEC_PSF"]
    for i, c in enumerate(nan_cols, start=7):         # rows 7-16: one NaN each
        psf[c][i] = np.nan
    psf["PSF_CHISQ"][17] = np.nan                     # not a cut column: kept
    psf["DIFF_FRATIO"][18] = 0.3                      # fails the WS cuts, but this is WW: kept
    psf["FLAGS"][19] |= cmf.FLAG_FAIL                 # flagged and NaN: counted as flagged
    psf["PSF_INST_MAG"][19] = np.nan
    f = write(tmp_path / "a.cmf", g, psf, 900)
    out, res = build(cli, tmp_path, [f])
    expected = sorted(set(range(40)) - set(range(0, 6)) - set(range(7, 17)) - {19})
    _h, data, _n = read_out(out)[mopsfmt.MOPS_EXT]
    assert sorted(data["IPP_IDET"].tolist()) == expected
    assert math.isnan(data["PSF_CHI2"][data["IPP_IDET"] == 17][0])
    assert read_out(out)[mopsfmt.MOPS_EXT][0]["MAGZP"] == "NaN"  # no --zp: undefined, written as psLib does
    np.testing.assert_array_equal(data["MAG"], psf["PSF_INST_MAG"][data["IPP_IDET"]])
    sk = res["skycells"][0]
    assert (sk["n_input"], sk["n_flagged"], sk["n_nonfinite"], sk["n_wscut"], sk["n_kept"]) == \
        (40, 7, 10, 0, len(expected))
    assert res["cut"] == 17


def test_ws_cuts(cli, tmp_path):
    g, psf = make("skycell.1211.040", 30, seed=4, ws=True)
    for c in ("DIFF_R_P", "DIFF_SN_P", "DIFF_R_M", "DIFF_SN_M"):
        psf[c][:] = np.nan
    cut = {}
    kept_special = set()

    def plant(row, keep, **vals):
        for k, v in vals.items():
            psf[k][row] = v
        (kept_special.add(row) if keep else cut.__setitem__(row, vals))

    plant(0, False, DIFF_R_P=5.0, DIFF_SN_P=6.0)      # stationary positive counterpart
    plant(1, True, DIFF_R_P=5.0, DIFF_SN_P=4.0)
    plant(2, True, DIFF_R_P=3.0, DIFF_SN_P=50.0)
    plant(3, False, DIFF_R_M=3.0, DIFF_SN_M=6.0)      # negative counterpart close by
    plant(4, True, DIFF_R_M=5.0, DIFF_SN_M=6.0)
    plant(5, True, DIFF_SN_M=10.0)                    # R_M NaN: no test
    plant(6, False, DIFF_FRATIO=np.nan)
    plant(7, False, DIFF_FRATIO=0.55)
    plant(8, True, DIFF_FRATIO=0.61)
    plant(9, False, DIFF_NRATIO_BAD=0.5)
    plant(10, False, DIFF_NRATIO_MASK=0.59)
    plant(11, False, DIFF_NRATIO_ALL=0.25)
    plant(12, False, DIFF_NRATIO_ALL=np.inf)
    plant(13, False, MOMENTS_XX=np.nan)
    plant(14, False, MOMENTS_XX=1.5)
    plant(15, False, MOMENTS_YY=2.0)
    plant(16, True, MOMENTS_XX=2.01, MOMENTS_YY=2.01)
    f = write(tmp_path / "ws.cmf", g, psf, 901)
    out, res = build(cli, tmp_path, [f], "--difftype", "WS")
    hdr, data, _n = read_out(out)[mopsfmt.MOPS_EXT]
    assert hdr["DIFFTYPE"] == "WS"
    assert sorted(data["IPP_IDET"].tolist()) == sorted(set(range(30)) - set(cut))
    assert kept_special <= set(data["IPP_IDET"].tolist())
    assert res["skycells"][0]["n_wscut"] == len(cut)
    assert cli("mopscat", "check", out).code == 0
    # the same catalog as a warp-warp diff keeps everything
    out2, res2 = build(cli, tmp_path, [f], name="ww.mops")
    assert res2["rows"] == 30
    # and a WS-labelled file holding the rows that fail fails the check
    with fits.open(out2) as hl:
        hl[mopsfmt.MOPS_EXT].header["DIFFTYPE"] = "WS"
        hl[mopsfmt.MOPS_EXT].data["DIFFTYPE"][:] = "WS"
        hl.writeto(tmp_path / "bad_ws.mops")
    r = cli("mopscat", "check", tmp_path / "bad_ws.mops", "--json")
    assert r.code == ExitCode.CHECK_FAILED
    assert [p["check"] for p in r.json()["problems"]] == ["ws_cuts"]
    assert f"{len(cut)} WS row(s)" in r.json()["problems"][0]["message"]


# ----------------------------------------------------------------------------- duplicates
def test_cross_skycell_duplicates(cli, tmp_path):
    g0 = sky.skycell_geometry("skycell.1211.040")
    g1 = sky.skycell_geometry("skycell.1211.041")   # next column: its x = ours - 5760
    g2 = sky.skycell_geometry("skycell.1211.050")   # next row: its y = ours - 5760
    _, p0 = make("skycell.1211.040", 12, seed=1)
    _, p1 = make("skycell.1211.041", 12, seed=2)
    _, p2 = make("skycell.1211.050", 12, seed=3)
    # keep the random rows away from the overlaps
    for p in (p0, p1, p2):
        p["X_PSF"][:] = np.linspace(1000, 5000, 12)
        p["Y_PSF"][:] = np.linspace(1000, 5000, 12)

    def place(p, g, row, x, y):
        ra, dec = g.pix_to_sky(x, y)
        p["X_PSF"][row], p["Y_PSF"][row] = x, y
        p["RA_PSF"][row], p["DEC_PSF"][row] = ra, dec

    # A: same source in 040 (x=5800, r=2800) and 041 (x=40, r=2960): 040 wins
    place(p0, g0, 0, 5800.0, 3000.0)
    place(p1, g1, 0, *at(g0, g1, 5800.0, 3000.3))
    # B: 040 x=5990 (r=2990) vs 041 x=230 (r=2770): 041 wins
    place(p0, g0, 1, 5990.0, 2000.0)
    place(p1, g1, 1, *at(g0, g1, 5990.0, 2000.0))
    # C: 0.8" apart: still one source.  D: 1.2" apart: two sources
    place(p0, g0, 2, 5850.0, 4000.0)
    place(p1, g1, 2, *at(g0, g1, 5850.0 + 3.2, 4000.0))
    place(p0, g0, 3, 5850.0, 4500.0)
    place(p1, g1, 3, *at(g0, g1, 5850.0 + 4.8, 4500.0))
    # E: two detections 0.2" apart in one skycell: no de-duplication inside a skycell
    place(p0, g0, 4, 5000.0, 1200.0)
    place(p0, g0, 5, 5000.8, 1200.0)
    # F: a chain in the corner shared by 040, 041 and 050: m (041) - n (040) - d (050),
    # 0.875" apart in turn, m-d 1.24"; ranks m < n < d. m is kept, n gives way to m,
    # and d stays because the only detection near it (n) was dropped.
    place(p1, g1, 4, *at(g0, g1, 5883.5, 5880.0))     # m
    place(p0, g0, 6, 5880.0, 5880.0)                   # n
    place(p2, g2, 0, *at(g0, g2, 5880.0, 5876.5))     # d
    files = [write(tmp_path / "s40.cmf", g0, p0, 40), write(tmp_path / "s41.cmf", g1, p1, 41),
             write(tmp_path / "s50.cmf", g2, p2, 50)]
    out, res = build(cli, tmp_path, files)
    o = read_out(out)
    _h, data, _n = o[mopsfmt.MOPS_EXT]
    _ah, alld, _an = o[mopsfmt.ALL_EXT]
    kept = {(int(s), int(i)) for s, i in zip(data["DIFF_SKYFILE_ID"], data["IPP_IDET"])}
    dropped = {(40, 1), (41, 0), (41, 2), (40, 6)}
    assert res["duplicates"] == 4 and res["rows"] == 36 - 4 and res["entries"] == 36
    assert not kept & dropped
    assert {(40, 0), (41, 1), (40, 2), (40, 3), (41, 3), (40, 4), (40, 5), (41, 4), (50, 0)} <= kept
    # MOPS_ALL_DETECTIONS: the duplicates point at the detection they gave way to
    key = by_key(alld)
    for dup, winner in (((40, 1), (41, 1)), ((41, 0), (40, 0)), ((41, 2), (40, 2)), ((40, 6), (41, 4))):
        i, w = key[dup], key[winner]
        assert not alld["PRIMARY"][i] and alld["PRIMARY"][w]
        assert alld["PRIMARY_ID"][i] == alld["ID"][w]
        assert alld["R_CENTER"][i] > alld["R_CENTER"][w]
    assert alld["R_CENTER"][key[(40, 0)]] == pytest.approx(2800.0, abs=0.01)
    assert alld["R_CENTER"][key[(41, 1)]] == pytest.approx(math.hypot(2770.0, 1000.0), abs=0.01)
    assert alld["R_CENTER"][key[(40, 1)]] == pytest.approx(math.hypot(2990.0, 1000.0), abs=0.01)
    sk = {s["skycell_id"]: s for s in res["skycells"]}
    assert sk["skycell.1211.040"]["n_duplicate"] == 2 and sk["skycell.1211.041"]["n_duplicate"] == 2
    assert cli("mopscat", "check", out).code == 0
    # a file still holding a cross-skycell pair fails the check
    with fits.open(out) as hl:
        t = hl[mopsfmt.MOPS_EXT]
        extra = fits.BinTableHDU.from_columns(t.columns, nrows=len(t.data) + 1, header=t.header)
        extra.data[-1] = t.data[0]
        extra.data["DIFF_SKYFILE_ID"][-1] = 41 if t.data["DIFF_SKYFILE_ID"][0] != 41 else 40
        extra.data["DEC"][-1] = t.data["DEC"][0] + 0.5 / 3600
        hl[1] = extra
        hl.writeto(tmp_path / "dup.mops")
    r = cli("mopscat", "check", tmp_path / "dup.mops", "--json")
    assert r.code == ExitCode.CHECK_FAILED
    checks = {p["check"] for p in r.json()["problems"]}
    assert "duplicates" in checks


def test_resolve_duplicates_is_the_sequential_greedy_choice():
    rng = np.random.default_rng(5)
    n = 400
    pairs = set()
    while len(pairs) < 600:
        a, b = sorted(rng.integers(0, n, 2))
        if a != b:
            pairs.add((a, b))
    pairs = np.array(sorted(pairs))
    rank = rng.permutation(n)
    primary, primary_of = mops_build.resolve_duplicates(pairs, rank, n)
    # reference: one detection at a time, best rank first
    nb = {i: set() for i in range(n)}
    for a, b in pairs:
        nb[a].add(b)
        nb[b].add(a)
    keep = np.zeros(n, bool)
    for i in np.argsort(rank):
        keep[i] = not any(keep[j] for j in nb[i])
    np.testing.assert_array_equal(primary, keep)
    for i in np.flatnonzero(~keep):
        winners = [j for j in nb[i] if keep[j]]
        assert primary_of[i] == min(winners, key=lambda j: rank[j])


# ----------------------------------------------------------------------------- empty inputs
def test_empty_skycells(cli, tmp_path):
    g0, p0 = make("skycell.1211.040", 25, seed=7)
    g1, p1 = make("skycell.1211.041", 0, seed=8)
    files = [write(tmp_path / "a.cmf", g0, p0, 1, xfit=cmf_write.synthetic_xfit_table(g0, p0)),
             write(tmp_path / "b.cmf", g1, p1, 2)]
    out, res = build(cli, tmp_path, files, "--zp", "28")
    assert res["rows"] == 25
    sky = read_out(out)[mopsfmt.SKYCELL_EXT][1]
    assert sorted(zip(sky["SKYCELL_ID"], sky["N_INPUT"], sky["N_KEPT"])) == [
        ("skycell.1211.040", 25, 25), ("skycell.1211.041", 0, 0)]
    # every input empty: a zero-row table with all the columns and a complete header
    out2, res2 = build(cli, tmp_path, [files[1]], "--zp", "28", name="empty.mops")
    assert res2["rows"] == 0
    hdr, data, names = read_out(out2)[mopsfmt.MOPS_EXT]
    assert len(data) == 0
    assert names == [c[0] for c in mopsfmt.version_columns(5)] + [c[0] for c in mopsfmt.REVISION_COLUMNS]
    assert hdr["MJD-OBS"] == pytest.approx(58309.27 + 45 / 2 / 86400) and hdr["FILTER"] == "w.00000"
    r = cli("mopscat", "check", out2, "--json")
    assert r.code == 0 and r.json()["rows"] == 0


# ----------------------------------------------------------------------------- versions and merge
def test_version_override_and_mixed_versions(cli, tmp_path):
    g0, p0 = make("skycell.1211.040", 10, version=5, seed=1)
    g1, p1 = make("skycell.1211.041", 10, version=1, seed=2)
    f0 = write(tmp_path / "a.cmf", g0, p0, 1, version=5)
    f1 = write(tmp_path / "b.cmf", g1, p1, 2, version=1)
    r = cli("mopscat", "build", f0, f1, "-o", tmp_path / "mix.mops", "--json")
    assert r.code == 0, r.err
    assert r.json()["version"] == 5 and "PS1_DV1, PS1_DV5" in r.err
    _h, data, _n = read_out(tmp_path / "mix.mops")[mopsfmt.MOPS_EXT]
    from_v1 = data["DIFF_SKYFILE_ID"] == 2
    assert np.isnan(data["KRON_FLUX"][from_v1]).all() and (data["FLAGS2"][from_v1] == 0).all()
    assert (data["CHIP_ID"][from_v1] == "").all() and (data["CHIP_ID"][~from_v1] != "").all()
    out, res = build(cli, tmp_path, [f0], "--cmf-version", "2", name="v2.mops")
    hdr, data, names = read_out(out)[mopsfmt.MOPS_EXT]
    assert hdr["CMFVERSION"] == "PS1_DV2" and "RA_EXT" not in names and "KRON_FLUX" in names


def test_merge_ww_and_ws(cli, tmp_path):
    g0 = sky.skycell_geometry("skycell.1211.040")
    _, ww = make("skycell.1211.040", 20, seed=1)
    _, ws = make("skycell.1211.040", 20, seed=1, ws=True)
    ws["IPP_IDET"] = np.arange(20, dtype="u4")
    ws["DIFF_FRATIO"][3] = 0.2            # cut in the WS catalog only
    ww["DIFF_FRATIO"][3] = 0.2
    fw = write(tmp_path / "ww.cmf", g0, ww, 11)
    fs = write(tmp_path / "ws.cmf", g0, ws, 12)
    r = cli("mopscat", "build", fw, f"WS:{fs}", "-o", tmp_path / "m.mops", "--json")
    assert r.code == ExitCode.USAGE and "--merge" in r.err
    out, res = build(cli, tmp_path, [fw, f"WS:{fs}"], "--merge", "--zp", "28", name="m.mops")
    hdr, data, _n = read_out(out)[mopsfmt.MOPS_EXT]
    assert hdr["DIFFTYPE"] == "WW+WS" and hdr["NDIFFS"] == 2
    assert (hdr["DIFTYP1"], hdr["DIFTYP2"]) == ("WW", "WS")
    # same positions in both catalogs: no duplicate resolution across diff types
    assert res["duplicates"] == 0 and res["rows"] == 39
    assert (data["DIFFTYPE"] == "WW").sum() == 20 and (data["DIFFTYPE"] == "WS").sum() == 19
    assert 3 not in data["IPP_IDET"][data["DIFFTYPE"] == "WS"]
    r = cli("mopscat", "check", out, "--json")
    assert r.code == 0, r.out
    r = cli("mopscat", "show", out, "--json")
    assert r.code == 0 and r.json()["rows_by_difftype"] == {"WS": 19, "WW": 20}


# ----------------------------------------------------------------------------- errors
def test_bad_inputs_exit_65(cli, tmp_path):
    g0, p0 = make("skycell.1211.040", 5, seed=1)
    g1, p1 = make("skycell.1211.041", 5, seed=2)
    f0 = write(tmp_path / "a.cmf", g0, p0, 1)
    f1 = write(tmp_path / "b.cmf", g1, p1, 2, header={"ra_deg": 17.5})
    r = cli("mopscat", "build", f0, f1, "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and "FPA.RA" in r.err and r.err.count("\n") == 1
    f2 = write(tmp_path / "c.cmf", g1, p1, 2, header={"mjd_obs": 58309.28})
    r = cli("mopscat", "build", f0, f2, "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and "MJD-OBS" in r.err
    r = cli("mopscat", "build", f0, tmp_path / "missing.cmf", "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and str(tmp_path / "missing.cmf") in r.err and r.err.count("\n") == 1
    junk = tmp_path / "junk.cmf"
    junk.write_bytes(b"\0" * 5000)
    r = cli("mopscat", "build", junk, "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and "junk.cmf" in r.err
    r = cli("mopscat", "build", f0, f0, "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and "IMAGEID 1 already read" in r.err
    noid = write(tmp_path / "noid.cmf", g0, p0, 0)
    r = cli("mopscat", "build", noid, "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.DATA and "--diff-skyfile-id" in r.err
    r = cli("mopscat", "build", noid, "--diff-skyfile-id", "99", "-o", tmp_path / "x.mops", "--json")
    assert r.code == 0 and r.json()["skycells"][0]["diff_skyfile_id"] == 99
    assert not (tmp_path / "missing.mops").exists()
    r = cli("mopscat", "build", f0)
    assert r.code == ExitCode.USAGE and "--output" in r.err
    r = cli("mopscat", "check", junk)
    assert r.code == ExitCode.DATA
    r = cli("mopscat", "check", tmp_path / "none.mops")
    assert r.code == ExitCode.DATA and "none.mops" in r.err


# ----------------------------------------------------------------------------- check / show
def test_check_finds_problems(cli, tmp_path):
    g0, p0 = make("skycell.1211.040", 30, seed=1)
    f0 = write(tmp_path / "a.cmf", g0, p0, 1)
    good, _ = build(cli, tmp_path, [f0], "--zp", "28", "--exp-id", "77")

    def tamper(name, fn):
        with fits.open(good) as hl:
            fn(hl)
            hl.writeto(tmp_path / name)
        r = cli("mopscat", "check", tmp_path / name, "--json")
        assert r.code == ExitCode.CHECK_FAILED, r.out + r.err
        assert "problem(s) found" in r.err
        return {p["check"] for p in r.json()["problems"]}

    def flag(hl):
        hl[1].data["FLAGS"][0] = 0x1008
    assert tamper("flag.mops", flag) == {"flags"}

    def nan(hl):
        hl[1].data["RA_ERR"][3] = np.nan
    assert tamper("nan.mops", nan) == {"finite"}

    def keyword(hl):
        del hl[1].header["MAGZP"]
    assert tamper("kw.mops", keyword) == {"keywords"}

    def drop_all(hl):
        del hl[mopsfmt.ALL_EXT]
    assert tamper("noall.mops", drop_all) == {"all_detections"}

    def exposure(hl):
        hl[1].data["EXP_ID"][2] = 78
    assert tamper("exp.mops", exposure) == {"exposure"}

    def primary(hl):
        hl[mopsfmt.ALL_EXT].data["PRIMARY"][0] = False
    assert tamper("prim.mops", primary) == {"all_detections"}

    def column(hl):
        t = hl[1]
        cols = [c for c in t.columns if c.name != "RATIO_BAD"]
        hl[1] = fits.BinTableHDU.from_columns(cols, header=t.header)
    assert tamper("col.mops", column) == {"columns"}

    # table output names the problem; exit 3
    r = cli("mopscat", "check", tmp_path / "flag.mops")
    assert r.code == ExitCode.CHECK_FAILED and "FLAGS & 0x13C08" in r.out


def test_check_accepts_a_ppmops_style_file(cli, tmp_path):
    """A file in the ppMops layout (no revision columns, one extension)."""
    n = 4
    cols = [fits.Column(name=name, format={"f8": "D", "f4": "E", "i4": "J", "u4": "J", "i8": "K"}[t],
                        array=(np.arange(n) * 0.5 / 3600 * 10 + 17.0 if name == "RA" else
                               np.full(n, -2.0) if name == "DEC" else np.ones(n)).astype(t),
                        bzero=2147483648 if t == "u4" else None)
            for name, t, *_ in mopsfmt.version_columns(1)]
    hdr = fits.Header()
    for k in mopsfmt.REQUIRED_KEYWORDS:
        hdr[k if len(k) <= 8 and "." not in k else f"HIERARCH {k}"] = 1.0
    hdr["CMFVERSION"] = "PS1_DV1"
    hdr["DIFFTYPE"] = "WW"
    t = fits.BinTableHDU.from_columns(cols, header=hdr, name=mopsfmt.MOPS_EXT)
    t.data["FLAGS"][:] = 5
    fits.HDUList([fits.PrimaryHDU(), t]).writeto(tmp_path / "pp.mops")
    r = cli("mopscat", "check", tmp_path / "pp.mops", "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["format"] == "ppMops" and "no revision columns" in r.err
    r = cli("mopscat", "show", tmp_path / "pp.mops", "--json")
    assert r.code == 0 and r.json()["rows"] == 4 and r.json()["skycells"] == [
        {"skycell_id": "", "diff_skyfile_id": 1, "rows": 4}]


def test_show(cli, tmp_path):
    g0, p0 = make("skycell.1211.040", 12, seed=1)
    g1, p1 = make("skycell.1211.041", 8, seed=2)
    p0["FLAGS"][0] |= cmf.FLAG_FAIL
    out, _ = build(cli, tmp_path, [write(tmp_path / "a.cmf", g0, p0, 1),
                                   write(tmp_path / "b.cmf", g1, p1, 2)], "--zp", "28.25")
    r = cli("mopscat", "show", out, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["rows"] == 19 and d["entries"] == 19 and d["cmfversion"] == "PS1_DV5"
    assert d["extensions"] == [mopsfmt.MOPS_EXT, mopsfmt.ALL_EXT, mopsfmt.SKYCELL_EXT]
    assert [(s["skycell_id"], s["input"], s["flagged"], s["rows"]) for s in d["skycells"]] == [
        ("skycell.1211.040", 12, 1, 11), ("skycell.1211.041", 8, 0, 8)]
    assert d["header"]["MAGZP"] == pytest.approx(28.25) and d["header"]["EXTNAME"] == mopsfmt.MOPS_EXT
    r = cli("mopscat", "show", out)
    assert r.code == 0 and "skycell.1211.041" in r.out and "MAGZP" in r.out


def test_fast_table_writer_matches_fitsio(tmp_path, monkeypatch):
    """The block writer and fitsio's own column writer give the same tables."""
    rng = np.random.default_rng(1)
    n = 1000
    cols = {"F8": rng.normal(size=n), "F4": rng.normal(size=n).astype("f4"),
            "I2": rng.integers(-300, 300, n).astype("i2"), "I4": rng.integers(-9, 9, n).astype("i4"),
            "I8": rng.integers(-2**40, 2**40, n), "U2": rng.integers(0, 65535, n).astype("u2"),
            "U4": rng.integers(0, 2**32 - 1, n, dtype="u8").astype("u4"), "B": rng.uniform(size=n) < 0.5,
            "S": np.array([b"skycell.%d" % i for i in range(n)])}
    cols["F4"][3] = np.nan
    cols["U4"][:2] = [0, 2**32 - 1]
    spec = [(k, v.dtype.str if k != "S" else "S", "") for k, v in cols.items()]
    tables = [mops_build._column_list(cols, spec)] * 3
    cards = [{"name": "MOPSREV", "value": 1, "comment": ""}]
    monkeypatch.setattr(mops_write, "_SLICE", 333)      # several row slices, the last one short
    assert mops_write.write_mops_file(tmp_path / "fast.mops", cards, cards, tables) == []

    def chunks():                     # the rows streamed in uneven chunks, tables interleaved
        for lo, hi in ((0, 0), (0, 10), (10, 500), (500, n)):
            for i, (arrays, _names, _units) in enumerate(tables):
                yield i, [a[lo:hi] for a in arrays]

    layout = [([a[:0] for a in arrays], names, units) for arrays, names, units in tables]
    assert mops_write.write_mops_file(tmp_path / "streamed.mops", cards, cards, layout,
                                      nrows=[n] * 3, rows=chunks()) == []
    assert (tmp_path / "streamed.mops").read_bytes() == (tmp_path / "fast.mops").read_bytes()
    with pytest.raises(DataError, match="rows written"):
        mops_write.write_mops_file(tmp_path / "short.mops", cards, cards, layout, nrows=[n + 1] * 3,
                                   rows=chunks())
    assert not (tmp_path / "short.mops").exists() and not list(tmp_path.glob(".short*"))
    monkeypatch.setattr(mops_write, "_fill_rows", lambda *args: False)
    notes = mops_write.write_mops_file(tmp_path / "slow.mops", cards, cards, layout, nrows=[n] * 3,
                                       rows=chunks())
    assert len(notes) == 1 and "column writer" in notes[0]
    with fits.open(tmp_path / "fast.mops") as a, fits.open(tmp_path / "slow.mops") as b:
        a.verify("exception")
        assert [h.name for h in a] == [h.name for h in b]
        for ha, hb in zip(a[1:], b[1:]):
            assert ha.header == hb.header
            for k in cols:
                x, y = ha.data[k], hb.data[k]
                nan = k.startswith("F")
                assert np.array_equal(x, y, equal_nan=nan), k
                assert np.array_equal(x, cols[k] if k != "S" else cols[k].astype(str), equal_nan=nan), k


def test_inverse_files_and_default_values(cli, tmp_path):
    g0, p0 = make("skycell.1211.040", 5, seed=1)
    f0 = write(tmp_path / "a.cmf", g0, p0, 1)
    out, res = build(cli, tmp_path, [f0], "--inverse", "--exp-name", "o1", "--camera", "GPC2")
    hdr, data, _n = read_out(out)[mopsfmt.MOPS_EXT]
    assert hdr["DIFF_POS"] is False and hdr["DIFPOS1"] is False and hdr["OBSCODE"] == "F52"
    assert hdr["EXP_NAME"] == "o1" and (data["EXP_NAME"] == "o1").all() and not data["DIFF_POS"].any()
    assert hdr["MAGZP"] == "NaN"
    r = cli("mopscat", "build", f0, "-o", tmp_path / "x.mops", "--camera", "GPC9")
    assert r.code == ExitCode.DATA and "GPC9" in r.err
    r = cli("mopscat", "build", f0, "-o", tmp_path / "x.mops", "--difftype", "XX")
    assert r.code == ExitCode.USAGE
    r = cli("mopscat", "build", f0, "--diff-id", "5", "-o", tmp_path / "x.mops")
    assert r.code == ExitCode.USAGE and "not both" in r.err
    r = cli("mopscat", "build")
    assert r.code == ExitCode.USAGE


def test_a_cmf_changed_between_the_two_passes_is_refused(tmp_path, monkeypatch):
    """The second pass reads each skycell again; a file that lost rows meanwhile is an
    error naming it, and no product is left behind."""
    g0, p0 = make("skycell.1211.040", 30, seed=1)
    g1, p1 = make("skycell.1211.041", 30, seed=2)
    f0, f1 = write(tmp_path / "a.cmf", g0, p0, 1), write(tmp_path / "b.cmf", g1, p1, 2)
    diff = mopsfmt.DiffInput(difftype="WW", diff_id=1, zp=ZP,
                             skycells=[mopsfmt.SkycellInput(path=f0), mopsfmt.SkycellInput(path=f1)])
    meta = mopsfmt.ExposureMeta(exp_name="o1", exp_id=1)
    mops_build.build_mops([diff], meta, tmp_path / "ok.mops")
    reread = mops_build.read_cmf_tables

    def shrink_then_read(cat):
        if cat.path == f1:
            write(f1, g1, {k: v[:20] for k, v in p1.items()}, 2)
        return reread(cat)

    monkeypatch.setattr(mops_build, "read_cmf_tables", shrink_then_read)
    with pytest.raises(DataError, match="b.cmf.*30 when first read"):
        mops_build.build_mops([diff], meta, tmp_path / "changed.mops")
    assert not (tmp_path / "changed.mops").exists() and not list(tmp_path.glob(".changed*"))


def test_build_memory_is_one_skycell_not_the_exposure(tmp_path):
    """The build streams skycell by skycell: four times the skycells (and rows) raise
    the traced peak by little (the duplicate keys and positions of every row are all
    that is kept across skycells), where holding the exposure would multiply it."""
    import tracemalloc

    from mopstool.fits.mops import DiffInput, ExposureMeta, SkycellInput

    paths = []
    for k in range(16):
        name = f"skycell.1211.{k:03d}"
        g, psf = make(name, 3000, seed=k)
        xf = cmf_write.synthetic_xfit_table(g, psf, version=5, seed=k, fraction=0.2)
        paths.append(write(tmp_path / f"{name}.cmf", g, psf, 100 + k, xfit=xf))

    def peak(files):
        diff = DiffInput(difftype="WW", diff_id=1, zp=ZP, skycells=[SkycellInput(path=p) for p in files])
        tracemalloc.start()
        try:
            res = mops_build.build_mops([diff], ExposureMeta(exp_name="o8309g0262o", exp_id=1),
                                        tmp_path / f"m{len(files)}.mops")
            return tracemalloc.get_traced_memory()[1], res
        finally:
            tracemalloc.stop()

    peak(paths[:1])                       # once for what a first build loads and caches
    small, r4 = peak(paths[:4])
    big, r16 = peak(paths)
    assert r16.rows > 3.5 * r4.rows
    assert big < 1.6 * small, f"peak {small / 1e6:.1f} MB for 4 skycells, {big / 1e6:.1f} MB for 16"
