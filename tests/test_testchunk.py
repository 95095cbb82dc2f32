"""testchunk compare on synthetic CMFs written by the test: offsets, counts,
flag rates and tracklet GCR recovered; thresholds gate the exit code; every
output format; plots; .mops sides; the demo's two versions."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from mopstool.config import load_config
from mopstool.ops.testchunk.compare import compare
from mopstool.ops.testchunk.synth import VersionSpec, quad, write_versions

SKYCELLS = ["skycell.1200.044", "skycell.1200.045"]


@pytest.fixture(scope="module")
def versions(tmp_path_factory):
    root = tmp_path_factory.mktemp("tc")
    return write_versions(root / "A", root / "B", quad(SKYCELLS),
                          VersionSpec(scatter_a_arcsec=0.05, scatter_b_arcsec=0.10, bias_arcsec=(0.0, 0.3),
                                      mag_bias=0.04, extra_b=25, seed=11))


def test_compare_recovers_offset_counts_and_gcr_ratio(versions):
    res = compare(versions.dir_a, versions.dir_b, load_config())
    s = res.summary
    # counts exactly: every true source matched, B's edge junk is only-B
    assert s["a"] == versions.common and s["matched"] == versions.common
    assert s["only_a"] == 0 and s["only_b"] == versions.extra_b == 8 * 25
    assert s["cells"] == 8 and s["exposures"] == 4
    for row in res.cells:
        truth = versions.cells[(row["exposure"], row["skycell"])]
        assert (row["a"], row["b"], row["matched"], row["only_b"]) == (
            truth["common"], truth["common"] + 25, truth["common"], 25)
    # the injected 0.3" Dec bias within 5 %, no RA bias, the magnitude bias
    assert s["ddec_median_arcsec"] == pytest.approx(0.3, rel=0.05)
    assert abs(s["dra_median_arcsec"]) < 0.015
    assert s["mag_offset_median"] == pytest.approx(0.04, abs=1e-4)
    # B's centroid scatter is twice A's: its tracklets' GCR is larger
    t = res.tracklets
    assert t["a"]["tracklets"] >= 40 and t["b"]["tracklets"] >= 40
    assert t["gcr_ratio_median"] > 1.5
    assert res.status == "exceeded"


def test_identical_sides_pass_every_check(versions):
    res = compare(versions.dir_a, versions.dir_a, load_config())
    s = res.summary
    assert s["matched"] == s["a"] == s["b"] and s["only_a"] == s["only_b"] == 0
    assert s["offset_median_arcsec"] == 0
    assert res.tracklets["gcr_ratio_median"] == pytest.approx(1.0)
    assert res.status == "ok" and all(c["ok"] is not False for c in res.checks)


def test_flag_rate_change_is_measured(tmp_path):
    r = write_versions(tmp_path / "A", tmp_path / "B", quad(SKYCELLS[:1], visits=2),
                       VersionSpec(bias_arcsec=(0.0, 0.0), scatter_b_arcsec=0.05, extra_b=0,
                                   flag_fraction_b=0.1, movers=0, seed=3))
    res = compare(r.dir_a, r.dir_b, load_config())
    flagged = sum(c["flagged_b"] for c in r.cells.values())
    assert res.summary["flag_rate_a"] == 0
    assert res.summary["flag_rate_b"] == pytest.approx(flagged / res.summary["b"])
    assert {c["check"]: c["ok"] for c in res.checks}["max_flag_rate_change"] is False


def test_cli_exit_code_follows_thresholds(cli, versions):
    a, b = versions.dir_a, versions.dir_b
    assert cli("testchunk", "compare", a, a).code == 0
    r = cli("testchunk", "compare", a, b)
    assert r.code == 3
    assert "max_gcr_ratio" in r.err and r.err.startswith("mopstool: ") and "error:" not in r.err
    # raising (or disabling) the exceeded limits makes the same comparison pass
    loose = ["--threshold", "max_median_offset_arcsec=0.5", "--threshold", "max_p90_offset_sigma=-1",
             "--threshold", "max_only_b_fraction=0.2", "--threshold", "max_gcr_ratio=3"]
    assert cli("testchunk", "compare", a, b, *loose).code == 0
    # only the GCR limit exceeded still gates
    r = cli("testchunk", "compare", a, b, *loose[:-2], "--threshold", "max_gcr_ratio=1.5", "--json")
    assert r.code == 3
    checks = {c["check"]: c for c in r.json()["checks"]}
    assert checks["max_gcr_ratio"]["ok"] is False and checks["max_p90_offset_sigma"]["ok"] is None


def test_cli_bad_input(cli, versions, tmp_path):
    r = cli("testchunk", "compare", versions.dir_a, versions.dir_b, "--threshold", "max_nonsense=1")
    assert r.code == 2 and "max_nonsense" in r.err
    r = cli("testchunk", "compare", versions.dir_a, versions.dir_b, "--radius", "0")
    assert r.code == 2
    assert cli("testchunk", "compare", versions.dir_a, str(tmp_path / "nothing/here")).code == 65
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli("testchunk", "compare", versions.dir_a, str(empty)).code == 65
    bad = tmp_path / "bad.cmf"
    bad.write_text("not fits")
    r = cli("testchunk", "compare", versions.dir_a, str(bad))
    assert r.code == 65 and "bad.cmf" in r.err


def test_cli_formats(cli, versions):
    a, b = versions.dir_a, versions.dir_b
    d = cli("testchunk", "compare", a, b, "--format", "json").json()
    assert set(d) >= {"summary", "tracklets", "checks", "cells", "status"}
    assert d["summary"]["only_b"] == versions.extra_b
    lines = cli("testchunk", "compare", a, b, "--format", "jsonl").out.splitlines()
    assert len(lines) == 8 and json.loads(lines[0])["matched"] > 0
    csv_out = cli("testchunk", "compare", a, b, "--format", "csv").out.splitlines()
    assert csv_out[0].startswith("exposure,skycell,a,b,matched,only_a,only_b") and len(csv_out) == 9
    table = cli("testchunk", "compare", a, b).out
    assert "# tracklets" in table and "# checks" in table and "B/A" in table


def test_cli_plots(cli, versions, tmp_path):
    out = tmp_path / "plots"
    r = cli("testchunk", "compare", versions.dir_a, versions.dir_b, "--plots", str(out), "--json")
    assert r.code == 3
    names = sorted(p.name for p in out.iterdir())
    assert names == ["counts.png", "gcr.png", "offset_vs_mag.png", "offsets.png"]
    for p in out.iterdir():
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_file_list_and_mops_sides(cli, versions, tmp_path):
    """A side may be a list file; .mops files (here built by mopscat from the CMFs) are read too."""
    lst = tmp_path / "a.txt"
    lst.write_text("\n".join(versions.files_a) + "\n")
    r = cli("testchunk", "compare", str(lst), versions.dir_a, "--json")
    assert r.code == 0 and r.json()["summary"]["matched"] == versions.common
    files = [f for f in versions.files_a if ".o8309g0262o." in f or Path(f).name.startswith("o8309g0262o")]
    out = tmp_path / "one.mops"
    b = cli("mopscat", "build", *files, "-o", str(out))
    assert b.code == 0, b.err
    r = cli("testchunk", "compare", str(out), str(out), "--json")
    assert r.code in (0, 3), r.err
    s = r.json()["summary"]
    assert s["a"] == s["matched"] > 0 and s["only_a"] == 0


def test_list_shows_the_sets_of_the_notes(cli):
    r = cli("testchunk", "list", "--json")
    assert r.code == 0
    sets = {s["name"]: s for s in r.json()}
    assert sets["opstag"]["label"] == "MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603.<tag>"
    assert sets["daily"]["status"] == "undefined" and sets["daily"]["label"].startswith("MOPS.dailytestset")
    assert sets["w20180412"]["chunk"] == "OSSR.R14S2.14.Q.w" and sets["w20180412"]["night"] == "2018-04-12"
    assert sets["i20180412"]["filter"] == "i" and sets["i20180412"]["assumed"]
    assert sets["ps2_i20180514"]["exposures"] == ["o8252h0040o", "o8252h0055o", "o8252h0070o", "o8252h0085o"]
    assert sets["ps2_w20180710"]["camera"] == "GPC2"
    assert sets["fastmovers"]["status"] == sets["comets"]["status"] == "undefined"
    assert "opstag" in cli("testchunk", "list").out


def test_demo_prints_a_comparison_that_runs(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    r = cli("demo", "--db", db, "--files", str(tmp_path / "files"))
    assert r.code == 0, r.err
    cmd = [line.strip() for line in r.out.splitlines() if "testchunk compare" in line]
    assert len(cmd) == 1
    args = cmd[0].split()[1:]
    res = cli(*args, "--json")
    assert res.code == 3
    d = res.json()
    assert d["summary"]["only_a"] == 0 and d["summary"]["only_b"] > 0
    assert d["summary"]["ddec_median_arcsec"] == pytest.approx(0.3, rel=0.05)
    assert d["tracklets"]["gcr_ratio_median"] > 1.5
    # the demo's test set is definable on the demo database
    r = cli("testchunk", "define", "demo", "--tag", "t1", "--dry-run", "--db", db, "--json")
    assert r.code == 0 and len(r.json()["runs"]) == 4


def test_offsets_in_units_of_the_quoted_errors(tmp_path):
    """Same scatter, no bias, errors quoted right: the normalised separation is
    Rayleigh distributed (median sqrt(2 ln 2) = 1.177, p90 sqrt(2 ln 10) = 2.146)."""
    r = write_versions(tmp_path / "A", tmp_path / "B", quad(SKYCELLS, visits=2),
                       VersionSpec(scatter_a_arcsec=0.1, scatter_b_arcsec=0.1, bias_arcsec=(0.0, 0.0),
                                   extra_b=0, transients=1500, movers=0, seed=5))
    s = compare(r.dir_a, r.dir_b, load_config()).summary
    assert s["a"] == s["b"] == r.common and s["matched"] >= 0.999 * r.common
    assert s["offset_median_sigma"] == pytest.approx(math.sqrt(2 * math.log(2)), rel=0.05)
    assert s["offset_p90_sigma"] == pytest.approx(math.sqrt(2 * math.log(10)), rel=0.06)
    # the separation itself: Rayleigh with sigma sqrt(2) x 0.1"
    assert s["offset_median_arcsec"] == pytest.approx(0.1 * math.sqrt(2) * 1.1774, rel=0.05)


def test_dense_junk_full_quad_tracklets_keep_the_gcr_ratio(tmp_path):
    """Junk-dense diffs make chance triples; counting only a quad's tracklets of
    four (gcr_min_detections = 4) keeps B's doubled scatter visible."""
    r = write_versions(tmp_path / "A", tmp_path / "B", quad(SKYCELLS[:1]),
                       VersionSpec(transients=4000, movers=80, extra_b=0, seed=21))
    cfg = load_config()
    cfg.set("testchunk.gcr_min_detections", 4)
    t = compare(r.dir_a, r.dir_b, cfg).tracklets
    assert t["a"]["gcr_tracklets"] == t["a"]["tracklets_by_length"].get("4", 0) >= 10
    assert t["gcr_ratio_median"] > 1.5
    cfg.set("testchunk.gcr_min_detections", 2)
    with pytest.raises(Exception, match="gcr_min_detections"):
        compare(r.dir_a, r.dir_b, cfg)


def test_rate_limit_bounds_what_links(tmp_path):
    """Movers faster than max_rate_deg_per_day (0.5 by default) make no
    tracklets; raising the limit links them."""
    r = write_versions(tmp_path / "A", tmp_path / "B", quad(SKYCELLS[:1]),
                       VersionSpec(transients=100, movers=30, extra_b=0, rate_deg_per_day=(0.7, 1.0), seed=8))
    cfg = load_config()
    assert compare(r.dir_a, r.dir_b, cfg).tracklets["a"]["tracklets"] == 0
    cfg.set("testchunk.max_rate_deg_per_day", 1.2)
    assert compare(r.dir_a, r.dir_b, cfg).tracklets["a"]["tracklets"] >= 10


def test_fitsio_fallback_reads_the_same_cells(versions, monkeypatch):
    """CMFs outside the lean reader's plain case are read with fitsio: same cells."""
    from mopstool.fits import bintable
    from mopstool.ops.testchunk.compare import read_cmf_cell

    path = versions.files_b[0]
    fast = read_cmf_cell(path)
    monkeypatch.setattr(bintable, "read_table", lambda *a, **k: None)
    slow = read_cmf_cell(path)
    assert (fast.exposure, fast.skycell, fast.mjd, fast.n) == (slow.exposure, slow.skycell, slow.mjd, slow.n)
    for attr in ("ra", "dec", "ra_err", "dec_err", "mag", "flags"):
        assert np.array_equal(getattr(fast, attr), getattr(slow, attr), equal_nan=True), attr



@pytest.mark.parametrize("far", [0, 3])
def test_linking_one_field_spread_over_the_sky(far):
    """Exposures of one field far apart on the sky (e.g. .mops files without
    SKYCELL_ID, all on skycell "-") link where they overlap and nowhere else."""
    from mopstool.ops.testchunk.tracklets import TrackletParams, link

    rng = np.random.default_rng(5)
    cols = {"ra": [], "dec": [], "mjd": [], "exp": []}
    for e, tmin in enumerate([0.0, 17.0, 34.0, 51.0]):
        # junk about (10, 5); exposure *far* about (100, -30)
        c_ra, c_dec = (100.0, -30.0) if e == far else (10.0, 5.0)
        r = list(c_ra + rng.uniform(-0.5, 0.5, 400))
        d = list(c_dec + rng.uniform(-0.5, 0.5, 400))
        if e != far:                       # one mover at 0.2 deg/day
            r.append(10.2 + 0.2 * tmin / 1440.0)
            d.append(5.1)
        cols["ra"] += r
        cols["dec"] += d
        cols["mjd"] += [60000.0 + tmin / 1440.0] * len(r)
        cols["exp"] += [e] * len(r)
    c = {k: np.array(v) for k, v in cols.items()}
    res = link(c["ra"], c["dec"], c["mjd"], c["exp"], np.zeros(len(c["ra"]), dtype=int), TrackletParams())
    assert 3 in res.lengths.tolist()


def test_separation_in_sigma_is_hypot_where_squares_do_not_fit():
    """The normalised separation is sqrt(x^2 + y^2) of the offsets in units of
    the combined errors, and numpy's hypot where the squares do not fit: both
    errors 0 (inf, though the RA axis is 0/0), an underflow."""
    from mopstool.ops.testchunk.compare import Cell, Offsets

    ra_a, dec_a = np.full(3, 10.0), np.full(3, 20.0)
    ra_b = ra_a + np.array([1e-4, 0.0, 1e-4])
    dec_b = dec_a + np.array([2e-4, 1e-4, 0.0])
    err_a, err_b = np.array([1e-5, 0.0, 1e154]), np.array([1e-5, 0.0, 0.0])
    ones, zero = np.ones(3), np.zeros(3, dtype="u8")
    a = Cell("e", "s", 0.0, "a", ra_a, dec_a, err_a, err_a, ones, zero)
    b = Cell("e", "s", 0.0, "b", ra_b, dec_b, err_b, err_b, ones, zero)
    idx = np.arange(3)
    o = Offsets.of_many([(a, b, idx, idx)])
    s = np.hypot(err_a, err_b) * 3600.0
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        want = np.hypot(o.dra / s, o.ddec / s)
        squares = np.sqrt((o.dra / s) ** 2 + (o.ddec / s) ** 2)
    assert np.isinf(o.sigma[1]) and np.isinf(want[1]) and np.isnan(squares[1])
    assert 0 < o.sigma[2] < 1e-150 and abs(squares[2] / want[2] - 1) > 1e-12     # the squares lose digits here
    assert np.allclose(o.sigma[[0, 2]], want[[0, 2]], rtol=1e-15, atol=0)


def test_radec_errors_from_tan_equal_the_cos_sin_formula():
    """The RA/Dec errors (cos^2 and sin^2 of the position angle from its
    tangent) are ppMops's formula to a few units in the last place, at the
    quarter turns too, and NaN where an input is."""
    from mopstool.fits.mops_build import radec_errors

    rng = np.random.default_rng(5)
    pa = np.concatenate([rng.uniform(-720, 720, 20000), [0.0, 90.0, -90.0, 180.0, 270.0, 45.0, np.nan]])
    sx, sy = rng.uniform(0.01, 2, len(pa)), rng.uniform(0.01, 2, len(pa))
    ps = rng.uniform(-0.3, 0.3, len(pa))
    th = np.radians(pa)
    c2, s2 = np.cos(th) ** 2, np.sin(th) ** 2
    want = (np.abs(ps) / 3600 * np.sqrt(c2 * sx ** 2 + s2 * sy ** 2),
            np.abs(ps) / 3600 * np.sqrt(s2 * sx ** 2 + c2 * sy ** 2))
    for got, exp in zip(radec_errors(sx, sy, pa, ps), want):
        assert np.isnan(got[-1]) and np.isnan(exp[-1])
        np.testing.assert_allclose(got[:-1], exp[:-1], rtol=4e-15, atol=0)
    ra_err, dec_err = radec_errors(0.5, 0.3, 90.0, -0.25)     # scalars
    assert ra_err == pytest.approx(0.25 / 3600 * 0.3, rel=1e-14)
    assert dec_err == pytest.approx(0.25 / 3600 * 0.5, rel=1e-14)


def _sides_of(versions, far_cell=None):
    """Both versions read as sides; *far_cell*: that cell of both moved 90
    degrees in RA (its exposure then spreads too far for one plane)."""
    from mopstool.ops.testchunk.compare import Side, load_side

    out = []
    for d in (versions.dir_a, versions.dir_b):
        side = load_side(d)
        if far_cell is not None:
            c = side.cells[far_cell]
            c.ra = (c.ra + 90.0) % 360.0
            c._xyz = None
        out.append(Side(side.name, side.kind, dict(side.cells), side.files))
    return out


def test_one_search_gives_the_matches_and_the_duplicates_of_separate_ones(tmp_path):
    """Matching and linking's duplicates come from one search of both sides
    per exposure: the same as matching each cell pair on its own and letting
    linking find each side's duplicates. Three adjacent skycells (movers on
    their overlaps: duplicates at two positions, the later one dropped),
    flagged detections in B (not linked), one B file listed twice (exact
    duplicates), a match radius other than the dedup distance."""
    from mopstool.ops.testchunk.compare import exposure_searches, load_side, side_tracklets
    from mopstool.ops.testchunk.tracklets import TrackletParams

    vs = write_versions(tmp_path / "A", tmp_path / "B", quad(["skycell.1200.044", "skycell.1200.045",
                                                              "skycell.1200.046"]),
                        VersionSpec(scatter_a_arcsec=0.05, scatter_b_arcsec=0.10, transients=250, movers=80,
                                    extra_b=25, flag_fraction_b=0.05, seed=23))
    listed = tmp_path / "b_twice.txt"
    listed.write_text("\n".join(vs.files_b + vs.files_b[:1]) + "\n")
    a, b = load_side(vs.dir_a), load_side(str(listed))
    # an overlap: 40 detections of one cell of A also in the next, 0.3" away
    k1, k2 = sorted(k for k in a.cells if k[0] == sorted(a.cells)[0][0])[:2]
    c1, c2 = a.cells[k1], a.cells[k2]
    for name in ("ra", "dec", "ra_err", "dec_err", "mag", "flags"):
        extra = getattr(c1, name)[:40] + (0.3 / 3600 if name == "dec" else 0)
        setattr(c2, name, np.concatenate([getattr(c2, name), extra.astype(getattr(c2, name).dtype)]))
    c2._xyz = None
    for radius in (1.0, 0.4):
        params = TrackletParams()
        matches, dup_a, dup_b = exposure_searches(a, b, radius, params)
        assert len(dup_b) > len(dup_a) > 0
        for k in sorted(set(a.cells) & set(b.cells)):
            one, _, _ = exposure_searches(type(a)("a", "files", {k: a.cells[k]}),
                                          type(b)("b", "files", {k: b.cells[k]}), radius, params)
            assert all(np.array_equal(x, y) for x, y in zip(one[k], matches[k])), k
        for side, dup in ((a, dup_a), (b, dup_b)):
            given, own = side_tracklets(side, params, dup), side_tracklets(side, params)
            assert given.summary() == own.summary() and given.tracklets >= 10
            assert np.array_equal(given.gcr, own.gcr) and np.array_equal(given.lengths, own.lengths)


def test_an_exposure_too_spread_for_one_plane_is_matched_cell_by_cell(versions):
    """A cell far from the rest of its exposure: matching goes cell by cell
    (the same matches as the close set), and linking, which needs one plane
    per exposure for its duplicates, says why it cannot go on."""
    from mopstool.errors import DataError
    from mopstool.ops.testchunk.compare import compare_sides, exposure_searches
    from mopstool.ops.testchunk.tracklets import TrackletParams

    far = sorted(_sides_of(versions)[0].cells)[0]
    a, b = _sides_of(versions, far)
    near_a, near_b = _sides_of(versions)
    params = TrackletParams()
    got, dup_a, dup_b = exposure_searches(a, b, 1.0, params)
    want, _, _ = exposure_searches(near_a, near_b, 1.0, params)
    assert dup_a is None and dup_b is None and set(got) == set(want)
    assert all(np.array_equal(x, y) for k in want for x, y in zip(got[k], want[k]))
    with pytest.raises(DataError, match="spread over more than 20 degrees"):
        compare_sides(a, b, radius_arcsec=1.0, params=params, thresholds={})
