"""mopscat on diff CMFs written in the IPP's own layouts: psLib WCS spelling
(CDELT + PC001001..), off-image reference pixels, a blank SkyChip.xfit HDU,
negative PLTSCALE, and input-order independence. Values are checked against
astropy.wcs on hand-normalised headers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from mopstool.errors import ExitCode
from mopstool.fits import cmf, cmf_write
from mopstool.fits import mops as mopsfmt
from mopstool.fits import skycell as sky
from mopstool.fits.mops import DiffInput, ExposureMeta, SkycellInput
from mopstool.fits.mops_build import build_mops

EXP = dict(ra_deg=17.0, dec_deg=-2.0, exptime=45.0, mjd_obs=58309.27, exp_name="o8309g0262o")
S = 0.25 / 3600.0


def cd_wcs(crval, crpix, cd):
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval, w.wcs.crpix, w.wcs.cd = crval, crpix, cd
    return w


def build(cli, tmp_path, files, *extra, name="out.mops"):
    out = tmp_path / name
    r = cli("mopscat", "build", *files, "-o", out, "--zp", "28.0", "--json", *extra)
    assert r.code == 0, r.err
    return out, r.json()


def skycells_table(path):
    with fits.open(path) as h:
        return h[mopsfmt.SKYCELL_EXT].data.copy()


def test_pslib_pc_keywords_with_off_image_reference_pixel_give_astropy_centre(cli, tmp_path):
    """psLib writes CDELT1/2 + PC001001..; with the reference pixel far off the image
    a mirrored RA axis shows up as a centre degrees away."""
    geom = sky.SkycellGeometry(skycell_id="skycell.1211.040", naxis1=6000, naxis2=6000, crval1=17.0,
                               crval2=-2.0, crpix1=-14000.0, crpix2=3000.0, cd11=-S, cd12=0.0,
                               cd21=0.0, cd22=S)
    path = tmp_path / "a.cmf"
    cmf_write.write_synthetic_cmf(path, geom.skycell_id, imageid=11, n=30, geometry=geom,
                                  wcs_style="pslib", header=EXP)
    hdr = fits.getheader(path, 0)
    assert "PC001001" in hdr and "CD1_1" not in hdr and hdr["CDELT1"] > 0 and hdr["PC001001"] == -1
    out, _ = build(cli, tmp_path, [str(path)])
    row = skycells_table(out)[0]
    # psLib applies the WCS to the CMF coordinate without offset: astropy origin 1
    ra, dec = cd_wcs([17.0, -2.0], [-14000.0, 3000.0], [[-S, 0], [0, S]]).all_pix2world(3000.0, 3000.0, 1)
    assert row["RA_CENTER"] == pytest.approx(float(ra), abs=1e-9)
    assert row["DEC_CENTER"] == pytest.approx(float(dec), abs=1e-9)
    assert float(ra) < 17.0 - 1.0          # 17000 px east of the reference pixel: RA falls


def test_pslib_pc_matrix_is_column_scaled_by_cdelt(tmp_path):
    """With CDELT1 = -CDELT2 and a rotation, psLib's column scaling and FITS's row
    scaling differ in the sign of the off-diagonal terms."""
    t = math.radians(20.0)
    c1, c2 = -S, S
    cards = [("CTYPE1", "RA---TAN", ""), ("CTYPE2", "DEC--TAN", ""), ("CRVAL1", 150.0, ""),
             ("CRVAL2", 2.0, ""), ("CRPIX1", 100.0, ""), ("CRPIX2", -50.0, ""), ("CDELT1", c1, ""),
             ("CDELT2", c2, ""), ("PC001001", math.cos(t), ""), ("PC001002", math.sin(t), ""),
             ("PC002001", -math.sin(t), ""), ("PC002002", math.cos(t), ""),
             ("IMNAXIS1", 4000, ""), ("IMNAXIS2", 3000, "")]
    g = sky.geometry_from_header(dict((k, v) for k, v, _ in cards), "skycell.1211.040")
    want = cd_wcs([150.0, 2.0], [100.0, -50.0], [[c1 * math.cos(t), c2 * math.sin(t)],
                                                 [-c1 * math.sin(t), c2 * math.cos(t)]])
    x, y = np.array([0.0, 2000.0, 3999.5]), np.array([0.0, 1500.0, 2999.5])
    ra, dec = g.pix_to_sky(x, y)
    wra, wdec = want.all_pix2world(x, y, 1)
    np.testing.assert_allclose(ra, wra, atol=1e-10)
    np.testing.assert_allclose(dec, wdec, atol=1e-10)
    bx, by = g.sky_to_pix(ra, dec)
    np.testing.assert_allclose(bx, x, atol=1e-6)
    np.testing.assert_allclose(by, y, atol=1e-6)
    # a CMF whose primary header carries exactly these cards reads back with this geometry
    path = tmp_path / "b.cmf"
    psf = cmf_write.synthetic_psf_table(g, 5, seed=1)
    cmf_write.write_cmf(path, primary=cmf_write.cmf_primary_header(g, imageid=5, wcs=False, extra=cards),
                        psf=psf, version=5)
    cat = cmf.read_cmf(path)
    np.testing.assert_allclose(cat.geometry.centre_sky(), [float(v) for v in
                                                          want.all_pix2world(2000.0, 1500.0, 1)],
                               atol=1e-10)


def test_blank_xfit_hdu_is_no_extended_fits(cli, tmp_path):
    path = tmp_path / "blank.cmf"
    cmf_write.write_synthetic_cmf(path, "skycell.1211.040", imageid=21, n=25, xfit="blank", header=EXP)
    with fits.open(path) as h:
        assert h["SkyChip.xfit"].header["NAXIS"] == 0
    cat = cmf.read_cmf(path)
    assert not cat.has_xfit and cat.nrows == 25
    out, res = build(cli, tmp_path, [str(path)])
    assert res["rows"] == 25
    with fits.open(out) as h:
        d = h[mopsfmt.MOPS_EXT].data
        assert np.isnan(d["RA_EXT"]).all() and np.isnan(d["X_EXT"]).all()


def test_negative_pltscale_gives_positive_errors_and_check_rejects_negative_ones(cli, tmp_path):
    pos, neg = tmp_path / "pos.cmf", tmp_path / "neg.cmf"
    cmf_write.write_synthetic_cmf(pos, "skycell.1211.040", imageid=31, n=20, seed=4, header=EXP,
                                  psf_overrides={"PLTSCALE": 0.25})
    cmf_write.write_synthetic_cmf(neg, "skycell.1211.040", imageid=31, n=20, seed=4, header=EXP,
                                  psf_overrides={"PLTSCALE": -0.25})
    out_p, _ = build(cli, tmp_path, [str(pos)], name="p.mops")
    out_n, _ = build(cli, tmp_path, [str(neg)], name="n.mops")
    with fits.open(out_p) as hp, fits.open(out_n) as hn:
        p, n = hp[mopsfmt.MOPS_EXT].data, hn[mopsfmt.MOPS_EXT].data
        assert (n["RA_ERR"] > 0).all() and (n["DEC_ERR"] > 0).all()
        np.testing.assert_array_equal(n["RA_ERR"], p["RA_ERR"])
        np.testing.assert_array_equal(n["DEC_EXT_SIGMA"], p["DEC_EXT_SIGMA"])
    assert cli("mopscat", "check", out_n).code == 0
    bad = tmp_path / "bad.mops"
    with fits.open(out_n) as h:
        h[mopsfmt.MOPS_EXT].data["RA_ERR"][3] *= -1
        h.writeto(bad)
    r = cli("mopscat", "check", bad, "--json")
    assert r.code == ExitCode.CHECK_FAILED
    assert any(p["check"] == "errors" and "RA_ERR" in p["message"] for p in r.json()["problems"])


def test_ra_dec_ext_are_f32_and_nan_keywords_are_written_as_pslib_does(cli, tmp_path):
    path = tmp_path / "a.cmf"
    cmf_write.write_synthetic_cmf(path, "skycell.1211.040", imageid=41, n=30, header=EXP)
    with fits.open(path) as h:
        assert h["SkyChip.xfit"].columns["RA_EXT"].format == "E"
    out = tmp_path / "o.mops"
    r = cli("mopscat", "build", path, "-o", out)          # no --zp: MAGZP undefined
    assert r.code == 0, r.err
    with fits.open(out) as h:
        t = h[mopsfmt.MOPS_EXT]
        assert t.columns["RA_EXT"].format == "E" and t.columns["DEC_EXT"].format == "E"
        assert t.columns["RA"].format == "D"
        assert t.header["MAGZP"] == "NaN" and t.header["ZEROPOINT"] == "NaN"
        assert t.header["ASTRORMS"] == "NaN"


def _tie_inputs(tmp_path):
    """Two neighbouring skycells of two diffs of one exposure, with one source placed
    exactly half way between the centres (a tie in the distance rule) and a few more."""
    ga, gb = sky.skycell_geometry("skycell.1211.044"), sky.skycell_geometry("skycell.1211.045")
    # b is a's right-hand neighbour: a pixel x in a is x - 5760 in b
    xa = np.array([5880.0, 5900.0, 5850.0, 1000.0])
    ya = np.array([3000.0, 2500.0, 4100.0, 700.0])
    ra, dec = ga.pix_to_sky(xa, ya)
    xb, yb = gb.sky_to_pix(ra, dec)
    assert abs(float(xb[0]) - 120.0) < 1e-6 and gb.contains(xb[:3], yb[:3]).all()
    files = []
    for k, (g, x, y, idet) in enumerate(((ga, xa, ya, 0), (gb, xb[:3], yb[:3], 0))):
        psf = cmf_write.synthetic_psf_table(g, len(x), seed=k, x=x, y=y)
        if k == 1:
            psf["X_PSF"][0] = np.float32(120.0)
            psf["Y_PSF"][0] = np.float32(3000.0)
        path = tmp_path / f"{k}.cmf"
        cmf_write.write_cmf(path, primary=cmf_write.cmf_primary_header(g, imageid=500 + k, **EXP),
                            psf=psf, version=5, hdr_cards=g.header_cards())
        files.append(str(path))
    return files


def test_duplicate_resolution_is_independent_of_input_order(tmp_path):
    files = _tie_inputs(tmp_path)
    meta = ExposureMeta(exp_name="o8309g0262o", exp_id=7)
    outputs = []
    diffs = [DiffInput(difftype="WW", diff_id=100 + k, zp=28.0, skycells=[SkycellInput(path=f)])
             for k, f in enumerate(files)]
    for n, perm in enumerate(itertools.permutations(diffs)):
        out = tmp_path / f"p{n}.mops"
        build_mops(list(perm), meta, out)
        with fits.open(out) as h:
            outputs.append({ext: h[ext].data.copy() for ext in (mopsfmt.MOPS_EXT, mopsfmt.ALL_EXT)})
    first = outputs[0]
    assert len(first[mopsfmt.MOPS_EXT]) == 4           # 7 entries, 3 duplicates
    for other in outputs[1:]:
        for ext in (mopsfmt.MOPS_EXT, mopsfmt.ALL_EXT):
            for name in first[ext].dtype.names:
                np.testing.assert_array_equal(first[ext][name], other[ext][name], err_msg=f"{ext} {name}")
    # the tie goes to the lower IMAGEID
    alld = first[mopsfmt.ALL_EXT]
    tie = (alld["IPP_IDET"] == 0) & np.isin(alld["DIFF_SKYFILE_ID"], [500, 501])
    kept = alld[tie & alld["PRIMARY"]]
    assert kept["DIFF_SKYFILE_ID"].tolist() == [500]
