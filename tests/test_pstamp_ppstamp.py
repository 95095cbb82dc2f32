"""Stamps exactly as ppstamp cuts them: hand-computed ROIs in psLib's pixel
convention, integer images keeping their type and scaling, psLib WCS headers,
truncated and unreadable images, unique names, and parallel runs giving the
same files as serial ones."""

from __future__ import annotations

import os

import fitsio
import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

from mopstool.errors import ExitCode
from mopstool.fits import request as rq
from mopstool.fits.image import ImageSource, synthetic_value, write_synthetic_image
from mopstool.fits.stamp import NO_OVERLAP, StampSpec, cut_stamps, extract_window, plan_roi
from mopstool.ops.parallel import Execution
from mopstool.ops.pstamp.cut import MIN_CHUNK, CutOptions, cut_images, cut_request, plan_tasks


@pytest.fixture
def img(tmp_path):
    """300 x 200 float32, CD matrix, CRPIX (150.5, 100.5), 0.25"/px."""
    return write_synthetic_image(tmp_path / "img.fits", 300, 200)


# (centre kind, centre x, centre y, width, height) -> (origin x, origin y, W, H, window)
# worked by hand from ppstamp's findROI / extractStamp (C int conversions truncate toward 0)
HAND = [
    # pixel centre 100.7 is read with atoi: 100; x0 = 100 - 20 // 2 = 90 (rounding would give 101)
    (("pix", 100.7, 50.2, 20, 11), (90, 45, 20, 11, (90, 110, 45, 56))),
    # negative pixel centre: atoi("-3.5") = -3; x0 = -13, columns 0..6 land at stamp x 13..19
    (("pix", -3.5, 10.0, 20, 20), (-13, 0, 20, 20, (0, 7, 0, 20))),
    # sky centre at psLib x 100.7: x0 = 90.7 -> origin int(90.7) = 90, last int(110.7) = 110
    (("sky", 100.7, 60.2, 20, 10), (90, 55, 20, 10, (90, 110, 55, 65))),
    # sky centre at x 5.3: x0 = -4.7 -> origin -4 (toward zero), last int(15.3) = 15: copy 0..15
    # to stamp x 4..18 (ppstamp leaves the stamp's last column blank)
    (("sky", 5.3, 100.5, 20, 20), (-4, 90, 20, 20, (0, 15, 90, 110))),
    # right edge: x0 = 285.2 -> 285, last min(int(305.2), 300) = 300
    (("sky", 295.2, 100.5, 20, 20), (285, 90, 20, 20, (285, 300, 90, 110))),
    # odd sizes: W // 2 = 3, H // 2 = 2
    (("pix", 10.0, 10.0, 7, 5), (7, 8, 7, 5, (7, 14, 8, 13))),
]


@pytest.mark.parametrize("case,want", HAND)
def test_roi_is_ppstamps(img, case, want):
    kind, cx, cy, w, h = case
    with ImageSource(img) as src:
        if kind == "pix":
            spec = StampSpec(x=cx, y=cy, width=w, height=h)
        else:
            ra, dec = src.sky(cx, cy)
            spec = StampSpec(ra=float(ra[0]), dec=float(dec[0]), width=w, height=h)
        r = plan_roi(src, spec)
    assert r.fault == 0
    assert (r.x0, r.y0, r.width, r.height, r.window) == want


def test_extract_window_by_hand():
    # whole image
    assert extract_window(0.0, 300.0, 0.0, 200.0, 300, 200) == (0, 0, 300, 200, (0, 300, 0, 200))
    # an origin in (-1, 0) truncates to 0 and the last column falls short by one
    assert extract_window(-0.4, 9.6, 3.0, 5.0, 300, 200) == (0, 3, 10, 2, (0, 9, 3, 5))
    # nothing on the image
    ox, oy, w, h, (xa, xb, ya, yb) = extract_window(-50.0, -30.0, 0.0, 10.0, 300, 200)
    assert (ox, w) == (-50, 20) and xa >= xb


def test_stamp_pixels_wcs_and_fill_follow_the_roi(img, tmp_path):
    with ImageSource(img) as src:
        ra, dec = src.sky(5.3, 100.5)
        r = cut_stamps(src, [StampSpec(ra=float(ra[0]), dec=float(dec[0]), width=20, height=20, name="e")],
                       tmp_path)[0]
    with fits.open(r.path) as h:
        data, hdr = h[0].data, h[0].header
    assert data.dtype.kind == "f" and data.dtype.itemsize == 4 and data.shape == (20, 20)
    # stamp column j is source column j - 4; columns 0..3 and ppstamp's short last one are NaN
    assert np.isnan(data[:, :4]).all() and np.isnan(data[:, 19]).all()
    ys, xs = np.mgrid[90:110, 0:15]
    np.testing.assert_array_equal(data[:, 4:19], synthetic_value(xs, ys).astype(np.float32))
    # the stamp's WCS keeps the sky position at its source pixel (psLib coordinates)
    sx, sy = WCS(hdr).all_world2pix(ra[0], dec[0], 1)
    assert sx == pytest.approx(5.3 + 4, abs=1e-6) and sy == pytest.approx(100.5 - 90, abs=1e-6)
    assert hdr["STAMPX0"] == -4 and hdr["STAMPY0"] == 90


def test_pslib_wcs_spelling_gives_the_same_stamps(tmp_path):
    a = write_synthetic_image(tmp_path / "cd.fits", 200, 200, rotation_deg=30.0, crpix=(-500.0, 80.0))
    b = write_synthetic_image(tmp_path / "ps.fits", 200, 200, rotation_deg=30.0, crpix=(-500.0, 80.0),
                              wcs_style="pslib")
    assert "PC001001" in fits.getheader(b) and "CD1_1" not in fits.getheader(b)
    with ImageSource(a) as sa, ImageSource(b) as sb:
        ra, dec = sa.sky([40.2, 150.9], [60.7, 10.1])
        np.testing.assert_allclose(np.column_stack(sb.pixels(ra, dec)), [[40.2, 60.7], [150.9, 10.1]],
                                   atol=1e-7)
        specs = [StampSpec(ra=float(r), dec=float(d), width=16, height=16) for r, d in zip(ra, dec)]
        ra_ = [plan_roi(sa, s) for s in specs]
        rb_ = [plan_roi(sb, s) for s in specs]
    assert [(r.x0, r.y0) for r in ra_] == [(r.x0, r.y0) for r in rb_] == [(32, 52), (142, 2)]
    # the stamp of the psLib-spelled image is right for astropy too (a CD matrix is added)
    with ImageSource(b) as sb:
        r = cut_stamps(sb, [specs[0]], tmp_path / "o")[0]
    hdr = fits.getheader(r.path)
    assert "PC001001" in hdr and "CD1_1" in hdr
    with pytest.warns(FITSFixedWarning, match="PCi_ja"):  # astropy names psLib's spelling, kept for the IPP
        w = WCS(hdr)
    sx, sy = w.all_world2pix(specs[0].ra, specs[0].dec, 1)
    assert sx == pytest.approx(40.2 - 32, abs=1e-6) and sy == pytest.approx(60.7 - 52, abs=1e-6)


@pytest.mark.parametrize("dtype,bscale,bzero,blank", [("i2", 0.5, 100.0, -32768), ("u2", None, None, None),
                                                     ("i4", None, None, 7)])
def test_integer_images_keep_type_scaling_and_blank(tmp_path, dtype, bscale, bzero, blank):
    path = write_synthetic_image(tmp_path / "int.fits", 120, 90, dtype=dtype, bscale=bscale, bzero=bzero,
                                 blank=blank)
    with ImageSource(path) as src:
        r = cut_stamps(src, [StampSpec(x=3, y=40, width=12, height=10, name="s")], tmp_path / "o")[0]
    assert r.fault == 0 and (r.x0, r.y0) == (-3, 35)
    raw_in = fitsio.read(str(path))
    with fits.open(r.path, do_not_scale_image_data=True) as h:
        raw, hdr = h[0].data, h[0].header
        src_hdr = fits.getheader(path)
    assert hdr["BITPIX"] == src_hdr["BITPIX"]
    for k in ("BSCALE", "BZERO", "BLANK"):
        assert hdr.get(k) == src_hdr.get(k)
    # stored values equal the source's stored values; outside the image BLANK (or 0)
    with fits.open(path, do_not_scale_image_data=True) as h:
        stored = h[0].data
    np.testing.assert_array_equal(raw[:, 3:], stored[35:45, 0:9])
    assert (raw[:, :3] == (blank if blank is not None else (0 if dtype != "u2" else -32768))).all()
    # and the physical values read back like the source's
    np.testing.assert_array_equal(fitsio.read(r.path)[:, 3:], raw_in[35:45, 0:9])


def _truncate(path, keep):
    data = path.read_bytes()
    path.write_bytes(data[:keep])


def test_truncated_image_exits_65_naming_the_file(cli, img, tmp_path):
    _truncate(img, 2880 * 2 + 5000)
    r = cli("pstamp-req", "cut", img, "--x", "100", "--y", "100", "--size", "10", "-o", tmp_path / "o")
    assert r.code == ExitCode.DATA
    assert str(img) in r.err and "truncated" in r.err and "FITSIO status" not in r.err
    assert r.err.count("\n") == 1          # one line, no library warnings


def test_unreadable_image_fails_only_its_jobs(cli, tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    good = write_synthetic_image(d / "a.wrp.fits", 200, 200)
    bad = write_synthetic_image(d / "b.wrp.fits", 200, 200)
    _truncate(bad, 2880 * 2 + 1000)
    (d / "c.wrp.fits").write_text("not a FITS file")
    with ImageSource(good) as s:
        ra, dec = s.sky(50.5, 60.5)
    rows = [rq.default_row(ROWNUM=1, CENTER_X=float(ra[0]), CENTER_Y=float(dec[0]), WIDTH=10, HEIGHT=10)]
    path = rq.write_request(rq.StampRequest(req_name="t", email="m@x.y", rows=rows), tmp_path / "req.fits")
    r = cli("pstamp-req", "cut", "--request", path, "--images", d, "-o", tmp_path / "out", "--json")
    assert r.code == ExitCode.CHECK_FAILED, r.err
    res = r.json()
    by_image = {os.path.basename(x["image"]): x for x in res}
    assert by_image["a.wrp.fits"]["fault"] == 0 and os.path.exists(by_image["a.wrp.fits"]["path"])
    assert by_image["b.wrp.fits"]["fault"] == 5 and by_image["b.wrp.fits"]["rownum"] == 1
    assert "truncated" in by_image["b.wrp.fits"]["message"]
    assert by_image["c.wrp.fits"]["fault"] == 5 and by_image["c.wrp.fits"]["rownum"] is None


def test_close_centres_get_distinct_names_and_files(cli, img, tmp_path):
    with ImageSource(img) as src:
        ra, dec = src.sky(100.5, 100.5)
    ra2 = float(ra[0]) + 0.036 / 3600.0
    r = cli("pstamp-req", "cut", img, "--ra", float(ra[0]), "--dec", float(dec[0]), "--ra", ra2,
            "--dec", float(dec[0]), "--size", "8", "-o", tmp_path / "o", "--json")
    assert r.code == 0, r.err
    rows = r.json()
    assert len({x["name"] for x in rows}) == 2 and len({x["path"] for x in rows}) == 2
    assert all(os.path.exists(x["path"]) for x in rows)
    # the same name twice: the second gets a suffix, nothing is overwritten
    r = cli("pstamp-req", "cut", img, "--x", "50", "--y", "50", "--x", "60", "--y", "60", "--name", "s",
            "--name", "s", "-o", tmp_path / "n", "--json")
    assert r.code == 0, r.err
    assert sorted(x["name"] for x in r.json()) == ["s", "s_2"]


def _request_with_images(tmp_path, n_images=3, per_image=4):
    d = tmp_path / "images"
    d.mkdir()
    rows = []
    for k in range(n_images):
        p = write_synthetic_image(d / f"o83{k:02d}g0001o.wrp.fits", 150, 150, ra=150.0 + 0.02 * k)
        with ImageSource(p) as s:
            ra, dec = s.sky(np.linspace(20.5, 120.5, per_image), np.linspace(30.5, 110.5, per_image))
        rows += [rq.default_row(ROWNUM=len(rows) + j + 1, CENTER_X=float(a), CENTER_Y=float(b), WIDTH=12,
                                HEIGHT=9) for j, (a, b) in enumerate(zip(ra, dec))]
    path = rq.write_request(rq.StampRequest(req_name="par", email="m@x.y", rows=rows), tmp_path / "req.fits")
    return path, d


def _tree(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.fits"))}


def test_workers_give_the_serial_files_byte_for_byte(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    path, d = _request_with_images(tmp_path)
    outs = {}
    for n in (1, 2):
        out = tmp_path / f"w{n}"
        r = cli("pstamp-req", "cut", "--request", path, "--images", d, "-o", out, "--workers", n, "--json")
        assert r.code == 0, r.err
        outs[n] = (r.json(), _tree(out))
    assert len(outs[1][1]) == 12
    assert outs[1][1] == outs[2][1]
    strip = [{k: v for k, v in x.items() if k not in ("path", "files")} for x in outs[1][0]]
    assert strip == [{k: v for k, v in x.items() if k not in ("path", "files")} for x in outs[2][0]]
    assert cli("pstamp-req", "cut", "--request", path, "--images", d, "--workers", "0").code == ExitCode.USAGE


def test_dask_cluster_gives_the_serial_files(tmp_path, monkeypatch):
    distributed = pytest.importorskip("dask.distributed") if not os.environ.get("CI") else \
        __import__("dask.distributed").distributed
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    # two images of 2 x MIN_CHUNK stamps: each split in two over the cluster's two threads
    path, d = _request_with_images(tmp_path, n_images=2, per_image=2 * MIN_CHUNK)
    req = rq.read_request(path)
    images = [d]
    assert len(plan_tasks([("a", [StampSpec()] * 2 * MIN_CHUNK)] * 2, CutOptions(outdir="o"), 2)) == 4
    serial = cut_request(req, images, tmp_path / "serial")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster:
        par = cut_request(req, images, tmp_path / "dask",
                          execution=Execution(scheduler=cluster.scheduler_address))
    strip = [r.to_dict() | {"path": "", "files": []} for r in serial]
    assert strip == [r.to_dict() | {"path": "", "files": []} for r in par] and all(r.fault == 0 for r in par)
    assert _tree(tmp_path / "serial") == _tree(tmp_path / "dask") and len(_tree(tmp_path / "dask")) == 4 * MIN_CHUNK


def test_one_images_stamps_are_split_over_the_workers(cli, tmp_path, monkeypatch):
    """A one-image request of 2.5 x MIN_CHUNK stamps: --workers 2 splits it (so both
    workers cut) and gives the serial run's files byte for byte and its results in its order."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    n = MIN_CHUNK * 5 // 2
    path, d = _request_with_images(tmp_path, n_images=1, per_image=n)
    specs = [StampSpec(name=f"s{i}") for i in range(n)]
    tasks = plan_tasks([("a.fits", specs)], CutOptions(outdir="o"), 2)
    assert len(tasks) > 1 and [s for _, part, _ in tasks for s in part] == specs
    outs = {}
    for w in (1, 2):
        out = tmp_path / f"w{w}"
        r = cli("pstamp-req", "cut", "--request", path, "--images", d, "-o", out, "--workers", w, "--json")
        assert r.code == 0, r.err
        outs[w] = ([{k: v for k, v in x.items() if k not in ("path", "files")} for x in r.json()], _tree(out))
    assert len(outs[1][1]) == n and [x["rownum"] for x in outs[1][0]] == list(range(1, n + 1))
    assert outs[1] == outs[2]


def test_split_tasks_keep_the_order_and_a_minimum_size():
    opts = CutOptions(outdir="o")
    big = [StampSpec(name=f"b{i}") for i in range(8 * MIN_CHUNK)]
    small = [StampSpec(name=f"s{i}") for i in range(MIN_CHUNK // 3)]
    # one slot, or images enough for the slots: one task per image
    assert [len(t[1]) for t in plan_tasks([("a", big), ("b", small)], opts, 1)] == [len(big), len(small)]
    assert [len(t[1]) for t in plan_tasks([("a", small), ("b", small)], opts, 2)] == [len(small)] * 2
    tasks = plan_tasks([("a", big), ("b", small)], opts, 2)
    assert [t[0] for t in tasks] == ["a"] * (len(tasks) - 1) + ["b"]
    assert [s for t in tasks for s in t[1]] == big + small
    assert len(tasks) > 2 and min(len(t[1]) for t in tasks[:-1]) >= MIN_CHUNK
    assert len(plan_tasks([("a", big[:2 * MIN_CHUNK - 1])], opts, 8)) == 1


def test_a_split_unreadable_image_fails_only_its_own_jobs(tmp_path):
    """Each task of a split image opens it itself: an unreadable one gives every
    one of its jobs fault 5, the other image's stamps are cut."""
    n = 2 * MIN_CHUNK
    path, d = _request_with_images(tmp_path, n_images=2, per_image=n)
    req = rq.read_request(path)
    bad = sorted(d.iterdir())[1]
    _truncate(bad, 2880 * 2 + 1000)              # the header stays, the pixels go
    res = cut_request(req, [d], tmp_path / "o", execution=Execution(workers=2))
    assert [r.rownum for r in res] == list(range(1, 2 * n + 1))
    assert all(r.fault == 0 for r in res[:n]) and all(r.fault == 5 and "truncated" in r.message for r in res[n:])
    assert {r.image for r in res[n:]} == {str(bad)}


def test_direct_cut_is_split_like_a_request(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    p = write_synthetic_image(tmp_path / "img.fits", 300, 200)
    n = 2 * MIN_CHUNK + 10
    specs = [StampSpec(x=10.0 + (i % 110) * 2.5, y=20.0 + (i % 150), width=9, height=7) for i in range(n)]
    serial = cut_images([p], specs, tmp_path / "s")
    par = cut_images([p], specs, tmp_path / "p", execution=Execution(workers=2))
    assert [r.to_dict() | {"path": "", "files": []} for r in serial] == \
        [r.to_dict() | {"path": "", "files": []} for r in par]
    assert _tree(tmp_path / "s") == _tree(tmp_path / "p") and len(_tree(tmp_path / "p")) == n


def test_progress_counts_stamps_split_or_not(tmp_path):
    p = write_synthetic_image(tmp_path / "img.fits", 300, 200)
    q = write_synthetic_image(tmp_path / "img2.fits", 300, 200)
    specs = [StampSpec(x=20.0 + i, y=30.0, width=5, height=5) for i in range(3)]
    seen = []
    cut_images([p, q], specs, tmp_path / "o", progress=lambda what, done, total: seen.append((done, total)))
    assert seen == [(0, 6), (3, 6), (6, 6)]
    many = [StampSpec(x=20.0 + i % 200, y=30.0 + i // 200, width=5, height=5) for i in range(3 * MIN_CHUNK)]
    seen = []
    cut_images([p], many, tmp_path / "m", execution=Execution(workers=2),
               progress=lambda what, done, total: seen.append((done, total)))
    assert len(seen) > 2 and seen[0] == (0, len(many)) and seen[-1] == (len(many), len(many))
    assert all(a[0] < b[0] for a, b in zip(seen, seen[1:]))


def test_unreachable_scheduler_exits_69(cli, tmp_path):
    pytest.importorskip("dask.distributed")
    path, d = _request_with_images(tmp_path, n_images=1, per_image=1)
    r = cli("pstamp-req", "cut", "--request", path, "--images", d, "-o", tmp_path / "o",
            "--scheduler", "tcp://127.0.0.1:9")
    assert r.code == ExitCode.UNREACHABLE, r.err


def test_no_overlap_is_fault_28(img, tmp_path):
    with ImageSource(img) as src:
        r = plan_roi(src, StampSpec(x=1000, y=10, width=10, height=10))
    assert r.fault == NO_OVERLAP
