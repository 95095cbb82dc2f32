"""Cutting stamps locally like ppstamp: centring, NaN fill, header, request mode."""

from __future__ import annotations

import tracemalloc

import fitsio
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from mopstool.errors import DataError, ExitCode
from mopstool.fits import request as rq
from mopstool.fits.image import ImageSource, write_synthetic_image
from mopstool.fits.stamp import (MAX_STAMP, NO_IMAGE_MATCH, NO_OVERLAP, NO_VALID_PIXELS, StampSpec,
                                 cut_stamps, plan_roi)
from mopstool.ops.pstamp.cut import cut_request


def expected(x, y):
    return (y % 1000) * 10000.0 + x


@pytest.fixture(scope="session")
def big_image(tmp_path_factory):
    """6000 x 6000 float32 with a rotated TAN WCS, written once per session in row chunks."""
    path = tmp_path_factory.mktemp("big") / "o8309g0262o.wrp.fits"
    return write_synthetic_image(path, 6000, 6000, rotation_deg=23.0, chunk_rows=400)


@pytest.fixture
def mef(tmp_path):
    """A small image with MASK and VARIANCE extensions; the primary header carries PSREFCAT."""
    path = tmp_path / "small.fits"
    write_synthetic_image(tmp_path / "tmp.fits", 300, 200)
    with fits.open(tmp_path / "tmp.fits") as h:
        hdr = h[0].header.copy()
        data = h[0].data.copy()
    for k in ("PSREFCAT",):
        del hdr[k]
    phu = fits.PrimaryHDU()
    phu.header["PSREFCAT"] = "PS1.REF.20170919"
    phu.header["ZPT_OBS"] = 99.0               # the image header's value wins
    mask_hdr = hdr.copy()
    mask_hdr["MSKNAM00"] = "DETECTOR"
    mask_hdr["MSKVAL00"] = 1
    mask_hdr["MSKNAM01"] = "BLANK"
    mask_hdr["MSKVAL01"] = 128
    mask = np.zeros((200, 300), dtype=np.int16)
    mask[50, 60] = 1
    var = np.full((200, 300), 4.0, dtype=np.float32)
    fits.HDUList([phu, fits.ImageHDU(data, hdr, name="IMAGE"), fits.ImageHDU(mask, mask_hdr, name="MASK"),
                  fits.ImageHDU(var, hdr, name="VARIANCE")]).writeto(path)
    return path


def test_stamps_from_6k_image_are_centred_to_a_hundredth_of_a_pixel(big_image, tmp_path):
    rng = np.random.default_rng(42)
    src = ImageSource(big_image)
    assert (src.nx, src.ny) == (6000, 6000)
    xs, ys = rng.uniform(100, 5900, 40), rng.uniform(100, 5900, 40)
    ra, dec = src.sky(xs, ys)
    # exact pixel centres too (psLib: pixel i has its centre at i + 0.5)
    xi, yi = rng.integers(100, 5900, 10) + 0.5, rng.integers(100, 5900, 10) + 0.5
    rai, deci = src.sky(xi, yi)
    sizes = [(64, 64), (65, 33), (101, 100)]
    specs = [StampSpec(ra=float(a), dec=float(d), width=sizes[i % 3][0], height=sizes[i % 3][1])
             for i, (a, d) in enumerate(zip(list(ra) + list(rai), list(dec) + list(deci)))]
    tracemalloc.start()
    try:
        results = cut_stamps(src, specs, tmp_path / "out")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
        src.close()
    assert peak < 20e6, f"peak {peak / 1e6:.1f} MB: whole-image reads?"
    assert all(r.fault == 0 and not r.partial for r in results)
    for i, (r, spec) in enumerate(zip(results, specs)):
        with fits.open(r.path) as h:
            hdr, data = h[0].header, h[0].data
        w, hh = spec.width, spec.height
        assert data.shape == (hh, w)
        sx, sy = WCS(hdr).all_world2pix(spec.ra, spec.dec, 1)      # psLib coordinates
        # the WCS puts the requested position where it is in the source, to 0.01 px
        assert abs(sx - (r.center_x - r.x0)) < 0.01 and abs(sy - (r.center_y - r.y0)) < 0.01
        # ... which is inside the stamp's pixel (W // 2, H // 2), ppstamp's integer ROI
        assert w // 2 - 1e-9 <= sx < w // 2 + 1 + 1e-9 and hh // 2 - 1e-9 <= sy < hh // 2 + 1 + 1e-9
        if i >= 40:   # requested on a pixel centre: that pixel's centre
            assert abs(sx - (w // 2 + 0.5)) < 0.01 and abs(sy - (hh // 2 + 0.5)) < 0.01
        assert hdr["RA_DEG"] == pytest.approx(spec.ra, abs=1e-12)
        assert hdr["DEC_DEG"] == pytest.approx(spec.dec, abs=1e-12)
        # the pixels are the source's pixels at the ROI
        assert data[0, 0] == expected(r.x0, r.y0)
        assert data[-1, -1] == expected(r.x0 + w - 1, r.y0 + hh - 1)
        assert hdr["PSREFCAT"] == "PS1.REF.20170919" and hdr["ZPT_OBS"] == 24.41
        assert any("ROI x" in str(v) for v in hdr["HISTORY"])


def test_edge_stamps_are_nan_filled(mef, tmp_path):
    with ImageSource(mef) as src:
        assert set(src.planes) == {"image", "mask", "variance"}
        res = cut_stamps(src, [StampSpec(x=2, y=3, width=20, height=20, name="corner"),
                               StampSpec(x=299, y=199, width=11, height=11, name="far")], tmp_path)
    r = res[0]
    assert r.fault == 0 and r.partial and (r.x0, r.y0) == (-8, -7)
    with fits.open(r.path) as h:
        img, mask, var = h[0].data, h["MASK"].data, h["VARIANCE"].data
        assert h["MASK"].header["MSKNAM01"] == "BLANK"
        hdr = h[0].header
    assert np.isnan(img[:7, :]).all() and np.isnan(img[:, :8]).all()
    assert img[7, 8] == expected(0, 0) and img[19, 19] == expected(11, 12)
    assert np.isnan(var[:7]).all() and (var[7:, 8:] == 4.0).all()
    assert (mask[:7] == 128).all() and (mask[:, :8] == 128).all() and (mask[7:, 8:] == 0).all()
    # WCS still right with a negative origin; primary keywords carried, image ones win
    ra, dec = WCS(hdr).all_pix2world(8.5, 7.5, 1)
    with ImageSource(mef) as src:
        ra0, dec0 = src.sky(0.5, 0.5)
    assert ra == pytest.approx(ra0[0], abs=1e-10) and dec == pytest.approx(dec0[0], abs=1e-10)
    assert hdr["PSREFCAT"] == "PS1.REF.20170919" and hdr["ZPT_OBS"] == 24.41
    far = res[1]
    with fits.open(far.path) as h:
        assert np.isnan(h[0].data[6:, :]).all() and np.isnan(h[0].data[:, 6:]).all()
        assert h[0].data[5, 5] == expected(299, 199)


def test_faults_no_overlap_no_valid_pixels_and_cap(mef, tmp_path):
    blank = tmp_path / "blank.fits"
    with fits.open(mef) as h:
        data = h["IMAGE"].data.copy()
        data[:, :100] = np.nan
        fits.PrimaryHDU(data, h["IMAGE"].header).writeto(blank)
    with ImageSource(mef) as src:
        res = cut_stamps(src, [StampSpec(x=-40, y=10, width=20, height=20),
                               StampSpec(ra=10.0, dec=-30.0, width=20, height=20)], tmp_path / "o")
        assert [r.fault for r in res] == [NO_OVERLAP, NO_OVERLAP] and not any(r.path for r in res)
        # a pixel centre off the image is taken as given (ppstamp): the overlap is cut
        res = cut_stamps(src, [StampSpec(x=-5, y=10, width=20, height=20)], tmp_path / "o")
        assert res[0].fault == 0 and res[0].partial
        # a sky centre off the image only on request
        off_ra, off_dec = src.sky(-3.0, 10.0)
        off = StampSpec(ra=float(off_ra[0]), dec=float(off_dec[0]), width=20, height=20)
        assert cut_stamps(src, [off], tmp_path / "o")[0].fault == NO_OVERLAP
        res = cut_stamps(src, [StampSpec(**{**off.__dict__, "name": "off2"})], tmp_path / "o",
                         allow_offchip=True)
        assert res[0].fault == 0 and res[0].partial
        big = plan_roi(src, StampSpec(x=150, y=100, width=9000, height=12000))
        assert big.capped and (big.width, big.height) == (MAX_STAMP, MAX_STAMP)
        whole = cut_stamps(src, [StampSpec(x=0, y=0, width=0, height=0, name="whole")], tmp_path / "o")[0]
        assert (whole.x0, whole.y0, whole.width, whole.height) == (0, 0, 300, 200)
        # arcsec sizes: 0.25"/px, no rotation: 10" is 40 px
        arc = plan_roi(src, StampSpec(ra=150.0, dec=2.0, width=10, height=5, arcsec=True))
        assert (arc.width, arc.height) == (40, 20)
    with ImageSource(blank) as src:
        res = cut_stamps(src, [StampSpec(x=50, y=50, width=20, height=20)], tmp_path / "b")
        assert res[0].fault == NO_VALID_PIXELS and res[0].path is None


def test_rice_and_split_outputs(mef, tmp_path):
    with ImageSource(mef) as src:
        ra, dec = src.sky(150.2, 80.7)
        spec = dict(ra=float(ra[0]), dec=float(dec[0]), width=31, height=31)
        rice = cut_stamps(src, [StampSpec(**spec, name="r", compress="rice")], tmp_path)[0]
        split = cut_stamps(src, [StampSpec(**spec, name="s")], tmp_path, split=True)[0]
    with fits.open(rice.path) as h:
        assert isinstance(h[1], fits.CompImageHDU) and h[1].compression_type == "RICE_1"
        assert [x.name for x in h[1:]] == ["IMAGE", "MASK", "VARIANCE"]
        hdr = h[1].header
        assert hdr["RA_DEG"] == pytest.approx(spec["ra"])
        sx, sy = WCS(hdr).all_world2pix(spec["ra"], spec["dec"], 1)
        assert abs(sx - (rice.center_x - rice.x0)) < 0.01 and abs(sy - (rice.center_y - rice.y0)) < 0.01
        ref = expected(np.arange(rice.x0, rice.x0 + 31)[None, :], np.arange(rice.y0, rice.y0 + 31)[:, None])
        assert np.allclose(h[1].data, ref, rtol=1e-3)
    assert [p.rsplit("/", 1)[1] for p in split.files] == ["s.fits", "s.mk.fits", "s.wt.fits"]
    for p in split.files:
        with fits.open(p) as h:
            assert len(h) == 1 and h[0].data.shape == (31, 31)
    assert fitsio.read(split.files[1]).dtype.kind == "i"


def test_uint16_mask_and_sibling_files(tmp_path):
    img = write_synthetic_image(tmp_path / "chip.fits", 120, 80)
    m = fits.PrimaryHDU(np.full((80, 120), 40000, dtype=np.uint16))
    m.writeto(tmp_path / "chip.mk.fits")
    fits.PrimaryHDU(np.ones((80, 120), dtype=np.float32)).writeto(tmp_path / "chip.wt.fits")
    with ImageSource(img) as src:
        assert set(src.planes) == {"image", "mask", "variance"}
        r = cut_stamps(src, [StampSpec(x=1, y=1, width=6, height=6, name="u")], tmp_path / "o",
                       mask_blank=1)[0]
    with fits.open(r.path) as h:
        mk = h["MASK"].data
        assert mk.dtype.kind == "u" and mk[-1, -1] == 40000 and mk[0, 0] == 1
    fits.PrimaryHDU(np.ones((10, 10), dtype=np.float32)).writeto(tmp_path / "bad.wt.fits")
    with pytest.raises(DataError, match="differs"):
        ImageSource(img, variance=tmp_path / "bad.wt.fits")


def test_cli_cut_coordinates(cli, mef, tmp_path):
    with ImageSource(mef) as src:
        ra, dec = src.sky([100.5, 20.5], [50.5, 150.5])
    r = cli("pstamp-req", "cut", mef, "--ra", ra[0], "--dec", dec[0], "--ra", ra[1], "--dec", dec[1],
            "--size", "25x15", "-o", tmp_path / "o", "--json")
    assert r.code == 0, r.err
    rows = r.json()
    assert [(x["width"], x["height"]) for x in rows] == [(25, 15), (25, 15)]
    with fits.open(rows[0]["path"]) as h:
        assert h[0].data.shape == (15, 25) and h[0].data[7, 12] == expected(100, 50)
    r = cli("pstamp-req", "cut", mef, "--x", "500", "--y", "10", "-o", tmp_path / "o")
    assert r.code == ExitCode.CHECK_FAILED and "NO_OVERLAP" in r.out
    r = cli("pstamp-req", "cut", mef, "--ra", "1", "-o", tmp_path / "o")
    assert r.code == ExitCode.USAGE
    junk = tmp_path / "junk.fits"
    junk.write_text("not fits")
    r = cli("pstamp-req", "cut", junk, "--x", "1", "--y", "1", "-o", tmp_path / "o")
    assert r.code == ExitCode.DATA


def test_cut_whole_request_from_a_directory(cli, tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    a = write_synthetic_image(d / "o8309g0262o.wrp.fits", 400, 400)                      # w, 58309.5
    b = write_synthetic_image(d / "o8309g0300o.wrp.fits", 400, 400, ra=150.02,
                              extra={"FILTER": "i.00000", "MJD-OBS": 58309.6})
    with ImageSource(a) as sa, ImageSource(b) as sb:
        ra_ab, dec_ab = sa.sky(10.5, 200.5)         # on both images (b is 288 px east)
        ra_a, dec_a = sa.sky(370.5, 370.5)          # only on a
        assert sb.contains(*[float(v[0]) for v in sb.pixels(ra_ab[0], dec_ab[0])])
    rows = [rq.default_row(ROWNUM=1, CENTER_X=float(ra_ab[0]), CENTER_Y=float(dec_ab[0]), WIDTH=20, HEIGHT=20,
                           OPTION_MASK=1),
            rq.default_row(ROWNUM=2, CENTER_X=float(ra_ab[0]), CENTER_Y=float(dec_ab[0]), WIDTH=20, HEIGHT=20,
                           REQFILT="i"),
            rq.default_row(ROWNUM=3, CENTER_X=float(ra_a[0]), CENTER_Y=float(dec_a[0]), WIDTH=20, HEIGHT=20,
                           MJD_MIN=58309.55),                         # a is too early
            rq.default_row(ROWNUM=4, CENTER_X=10.0, CENTER_Y=-40.0),  # on no image
            rq.default_row(ROWNUM=5, CENTER_X=150.0, CENTER_Y=2.0, IMG_TYPE="mosaic")]
    req = rq.StampRequest(req_name="local.cut", email="m@x.y", rows=rows)
    path = rq.write_request(req, tmp_path / "req.fits")
    r = cli("pstamp-req", "cut", "--request", path, "--images", d, "-o", tmp_path / "out", "--json")
    assert r.code == ExitCode.CHECK_FAILED, r.err
    res = r.json()
    made = sorted(x["name"] for x in res if not x["fault"])
    assert made == ["1_1_w_o8309g0262o.wrp", "1_2_i_o8309g0300o.wrp", "2_1_i_o8309g0300o.wrp"]
    faults = {x["rownum"]: x["fault"] for x in res if x["fault"]}
    assert faults == {3: NO_IMAGE_MATCH, 4: NO_IMAGE_MATCH, 5: 21}
    for x in res:
        if not x["fault"]:
            with fits.open(x["path"]) as h:
                sx, sy = WCS(h[0].header).all_world2pix(ra_ab[0], dec_ab[0], 1)
                assert 10 <= sx < 11 and 10 <= sy < 11
    out = cut_request(req, [d], tmp_path / "out2")
    assert len([x for x in out if not x.fault]) == 3


def test_stamp_cards_are_formatted_as_astropy_formats_them(mef, tmp_path):
    """The per-stamp cards are formatted without astropy (once per stamp, cheaply); they
    must be exactly the card images astropy writes, and the file's header must hold
    the carried cards and the stamp's own cards in that order."""
    import warnings

    from mopstool.fits.stamp import StampHeader, card, history_cards

    rng = np.random.default_rng(3)
    values = [0, -7, 3, 2**62, 1.0, -4.0, -0.0, 0.1 + 0.2, 1e-5, 1.5e300, 2.0**60, 5e-324,
              -1.7976931348623157e308, 150.123456789012345, 123456789012345678.0]
    values += list(rng.uniform(-1e4, 1e4, 300)) + list(10 ** rng.uniform(-300, 300, 300))
    for v in values:
        for comment in ("", "Right Ascension of stamp center", "x" * 80):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")          # astropy: comment truncated
                want = fits.Card("CRPIX1", float(v) if isinstance(v, float) else v, comment).image
            assert card("CRPIX1", v, comment) == want, (v, comment)
    for text in ("", "x", "y" * 72, "z" * 73, "w" * 200):
        assert "".join(history_cards(text)) == fits.Card("HISTORY", text).image
    with pytest.raises(ValueError):
        card("RA_DEG", float("nan"))

    with ImageSource(mef) as src:
        ra, dec = src.sky(40.2, 60.7)
        res = cut_stamps(src, [StampSpec(ra=float(ra[0]), dec=float(dec[0]), width=16, height=12, name="c")],
                         tmp_path, when="2024-01-01T00:00:00")[0]
        from mopstool import __version__

        hdr = StampHeader(src, version=__version__, when="2024-01-01T00:00:00")
        wanted = hdr.stamp_cards(res)
    raw = open(res.path, "rb").read(2880 * 4).decode("latin-1")
    cards = [raw[i:i + 80] for i in range(0, len(raw), 80)]
    cards = cards[:next(i for i, c in enumerate(cards) if c.startswith("END "))]
    start = next(i for i, c in enumerate(cards) if c == wanted[0])
    assert cards[start:start + len(wanted)] == wanted
    assert hdr.header(res)["CRPIX1"] == fits.getheader(res.path)["CRPIX1"] == fits.getheader(mef, 1)["CRPIX1"] - res.x0
