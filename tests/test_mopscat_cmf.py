"""Diff CMF files: synthetic skycell geometry, writer and reader (every DV version)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from mopstool.errors import DataError
from mopstool.fits import cmf
from mopstool.fits import skycell as sky
from mopstool.fits import cmf_write


@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
def test_geometry_matches_astropy_wcs_and_neighbours_overlap(tmp_path):
    g = sky.skycell_geometry("skycell.1234.056")
    assert (g.naxis1, g.naxis2) == (6000, 6000)
    assert g.plate_scale == pytest.approx(0.25)
    path = tmp_path / "a.cmf"
    cmf_write.write_synthetic_cmf(path, "skycell.1234.056", imageid=7, n=10)
    w = WCS(fits.getheader(path, 0), naxis=2)
    x = np.array([0.0, 10.5, 3000.0, 5999.0])
    y = np.array([0.0, 4000.0, 3000.0, 17.25])
    ra, dec = g.pix_to_sky(x, y)
    wra, wdec = w.all_pix2world(x, y, 1)     # psLib: CMF coordinate = FITS pixel coordinate
    np.testing.assert_allclose(ra, wra, atol=1e-9)
    np.testing.assert_allclose(dec, wdec, atol=1e-9)
    bx, by = g.sky_to_pix(ra, dec)
    np.testing.assert_allclose(bx, x, atol=1e-6)
    np.testing.assert_allclose(by, y, atol=1e-6)
    # the east neighbour (056 -> 057) shares a 240 px strip: the same sky point
    # is 5760 px further left there
    h = sky.skycell_geometry("skycell.1234.057")
    hx, hy = h.sky_to_pix(*g.pix_to_sky(5900.0, 3000.0))
    assert hx == pytest.approx(5900.0 - 5760.0, abs=1e-6)
    assert hy == pytest.approx(3000.0, abs=1e-6)
    # the north neighbour (066)
    n = sky.skycell_geometry("skycell.1234.066")
    nx, ny = n.sky_to_pix(*g.pix_to_sky(1000.0, 5950.0))
    assert (nx, ny) == (pytest.approx(1000.0, abs=1e-6), pytest.approx(190.0, abs=1e-6))
    # RA falls as x grows; Dec rises with y
    r0, d0 = g.pix_to_sky(100.0, 100.0)
    r1, d1 = g.pix_to_sky(200.0, 200.0)
    assert r1 < r0 and d1 > d0


def test_geometry_rejects_unknown_names():
    with pytest.raises(DataError):
        sky.skycell_geometry("nonsense")
    with pytest.raises(DataError):
        sky.skycell_geometry(f"skycell.{sky.projection_cell_count() + 5}.000")


@pytest.mark.parametrize("version", [1, 2, 3, 4, 5])
def test_write_read_every_dv_version(tmp_path, version):
    path = tmp_path / f"skycell.1211.040.dv{version}.cmf"
    psf = cmf_write.write_synthetic_cmf(path, "skycell.1211.040", imageid=4242, n=60, version=version,
                                  seed=version)
    with fits.open(path) as hl:
        assert [h.name.upper() for h in hl] == ["PRIMARY", "SKYCHIP.HDR", "SKYCHIP.PSF"] + (
            ["SKYCHIP.XFIT"] if version >= 2 else [])
        assert hl["SkyChip.psf"].header["EXTTYPE"] == f"PS1_DV{version}"
        names = hl["SkyChip.psf"].columns.names
        assert names == [n for n, _t in cmf.psf_columns(version)]
        assert ("SRC_CHIP_X" in names) == (version >= 5)
        assert ("PSF_CORE" in names) == (version >= 4)
        assert ("DIFF_R_P" in names) == (version >= 2)
        assert hl["SkyChip.psf"].data["FLAGS"].dtype.kind == "u"
        if version >= 2:
            xnames = hl["SkyChip.xfit"].columns.names
            assert ("RA_EXT" in xnames) == (version >= 3)
    cat = cmf.read_cmf(path)
    assert cat.version == version and cat.nrows == 60 and cat.imageid == 4242
    assert cat.skycell_id == "skycell.1211.040"
    assert cat.geometry is not None and cat.geometry.source == "header"
    np.testing.assert_array_equal(cat.columns["RA_PSF"], psf["RA_PSF"])
    assert cat.columns["RA_PSF"].dtype == np.float64
    if version >= 2:
        has = cat.xfit["_HAS_XFIT"]
        assert 0 < has.sum() < 60
        # xfit values sit on the psf row with the same IPP_IDET
        with fits.open(path) as hl:
            xf = hl["SkyChip.xfit"].data
            for row in xf[:5]:
                assert cat.xfit["X_EXT"][row["IPP_IDET"]] == pytest.approx(row["X_EXT"])
        assert np.isnan(cat.xfit["X_EXT"][~has]).all()


def test_reader_falls_back_to_skycell_geometry_and_imageid(tmp_path):
    path = tmp_path / "RINGS.V3.skycell.1211.041.dif.9.cmf"
    geom = sky.skycell_geometry("skycell.1211.041")
    psf = cmf_write.synthetic_psf_table(geom, 5, version=3, seed=3)
    hdr = [c for c in cmf_write.cmf_primary_header(geom, imageid=0, wcs=False)
           if c[0] not in ("IMAGEID", "SKYCELL", "IMNAXIS1", "IMNAXIS2")]
    cmf_write.write_cmf(path, primary=hdr, psf=psf, version=3)
    cat = cmf.read_cmf(path, imageid=77)
    assert cat.imageid == 77
    assert cat.skycell_id == "skycell.1211.041"          # from the file name
    assert cat.geometry.source == "synthetic"
    assert (cat.naxis1, cat.naxis2) == (6000, 6000)
    assert cat.geometry.centre_sky() == pytest.approx(geom.centre_sky())


def test_reader_errors_are_data_errors(tmp_path):
    with pytest.raises(DataError, match="not found: .*nosuch.cmf"):
        cmf.read_cmf(tmp_path / "nosuch.cmf")
    junk = tmp_path / "junk.cmf"
    junk.write_text("this is not FITS\n" * 100)
    with pytest.raises(DataError, match="junk.cmf"):
        cmf.read_cmf(junk)
    other = tmp_path / "other.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="A", format="E", array=np.zeros(3))], name="SkyChip.xyz")]).writeto(other)
    with pytest.raises(DataError, match="no SkyChip.psf"):
        cmf.read_cmf(other)
    stars = tmp_path / "stars.fits"
    fits.HDUList([fits.PrimaryHDU(), fits.BinTableHDU.from_columns(
        [fits.Column(name="X_PSF", format="E", array=np.zeros(3))], name="SkyChip.psf",
        header=fits.Header([("EXTTYPE", "PS1_V3")]))]).writeto(stars)
    with pytest.raises(DataError, match="not a difference-image format"):
        cmf.read_cmf(stars)


def test_chip_numbers():
    assert cmf.chip_class_id(23) == "XY23"
    assert cmf.chip_class_id(0) is None and cmf.chip_class_id(77) is None
    assert cmf.chip_class_id(18) is None
    assert cmf.chip_num("XY01") == 1 and cmf.chip_num("XY00") is None
    assert len(cmf.GPC1_CHIP_NUMS) == 60


@pytest.mark.parametrize("deg,ra,dec", [(17.2, "01:08:48.000", "+17:12:00.00"), (-0.5, "23:58:00.000", "-00:30:00.00"),
                                        (359.9999999999, "00:00:00.000", "+360:00:00.00")])
def test_sexagesimal_round_trips_through_astropy(deg, ra, dec):
    from mopstool.fits.request import parse_dec, parse_ra

    assert sky.format_ra(deg) == ra
    assert parse_ra(sky.format_ra(17.2)) == pytest.approx(17.2, abs=1e-6)
    if abs(deg) < 90:
        assert sky.format_dec(deg) == dec
        assert parse_dec(sky.format_dec(deg)) == pytest.approx(deg, abs=1e-6)
