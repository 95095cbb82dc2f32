"""PS1_PS_REQUEST request files: create, read back with astropy, validate like the server."""

from __future__ import annotations

import math

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table

from mopstool.errors import DataError, ExitCode
from mopstool.fits import request as rq

TFORMS = ["J", "D", "D", "D", "D", "J", "16A", "J", "16A", "16A", "64A", "16A", "16A", "16A", "64A",
          "64A", "64A", "16A", "D", "D", "16A", "D", "D", "64A"]


def test_create_from_coordinates_reads_back_identically(cli, tmp_path):
    out = tmp_path / "req.fits"
    r = cli("pstamp-req", "create", "-o", out, "--req-name", "MOPS.stamps.20180710.001",
            "--email", "mops@ifa.hawaii.edu", "--ra", "150.1", "--dec", "2.2",
            "--ra", "10:00:00", "--dec", "-01:30:00", "--mjd", "58309.5", "--filter", "w",
            "--size", "64", "--img-type", "diff", "--survey", "bypass", "--options", "image,mask",
            "--comment", "det #1", "--json")
    assert r.code == 0, r.err
    assert r.json()["rows"] == 2
    with fits.open(out) as hdul:
        assert len(hdul) == 2 and hdul[0].header["NAXIS"] == 0
        h = hdul[1].header
        assert h["EXTNAME"] == "PS1_PS_REQUEST"
        assert h["EXTVER"] == "2" and isinstance(h["EXTVER"], str)
        assert (h["REQ_NAME"], h["ACTION"], h["EMAIL"]) == ("MOPS.stamps.20180710.001", "PROCESS",
                                                            "mops@ifa.hawaii.edu")
        assert hdul[1].columns.names == list(rq.COLUMN_NAMES)
        assert hdul[1].columns.formats == TFORMS
    t = Table.read(out, hdu=1)
    assert len(t) == 2
    assert list(t["ROWNUM"]) == [1, 2]
    assert t["CENTER_X"][0] == 150.1 and t["CENTER_Y"][0] == 2.2
    assert math.isclose(t["CENTER_X"][1], 150.0) and math.isclose(t["CENTER_Y"][1], -1.5)
    assert list(t["WIDTH"]) == [64.0, 64.0] and list(t["COORD_MASK"]) == [2, 2]
    assert list(t["OPTION_MASK"]) == [3, 3]
    assert list(t["MJD_MIN"]) == [58309.495, 58309.495] and list(t["MJD_MAX"]) == [58309.505, 58309.505]
    assert list(t["IMG_TYPE"]) == ["diff", "diff"] and list(t["SURVEY_NAME"]) == ["bypass", "bypass"]
    assert t["REQFILT"][0] == "w" and t["JOB_TYPE"][0] == "stamp" and t["PROJECT"][0] == "gpc1"
    assert t["REQ_TYPE"][0] == "bycoord" and t["DATA_GROUP"][0] == "null"
    assert t["COMMENT"][0] == "det 1"          # '#' stripped like the IPP writer
    r = cli("pstamp-req", "validate", out, "--json")
    assert r.code == 0, r.err
    assert r.json()["ok"] and r.json()["rows"] == 2


def test_write_read_round_trip_all_columns(tmp_path):
    rows = [rq.default_row(CENTER_X=1.5 + i, CENTER_Y=-2.25, REQ_TYPE="byid", ID=str(1000 + i),
                           IMG_TYPE="chip", COMPONENT="XY33", COORD_MASK=3, OPTION_MASK=7 | 512,
                           DATA_GROUP="OSS.20180710", TESS_ID="RINGS.V3", RUN_TYPE="warp_warp",
                           FWHM_MIN=0.5, FWHM_MAX=2.5, IPP_RELEASE="3PI.PV3", COMMENT=f"row {i}")
            for i in range(5)]
    req = rq.StampRequest(req_name="roundtrip", email="a@b.c", action="PREVIEW", rows=rows)
    path = rq.write_request(req, tmp_path / "rt.fits")
    back = rq.read_request(path)
    assert (back.req_name, back.email, back.action, back.extver) == ("roundtrip", "a@b.c", "PREVIEW", "2")
    assert back.rows == rq.normalise_rows(rows)
    t = Table.read(path, hdu=1)
    for i, row in enumerate(rq.normalise_rows(rows)):
        for name in rq.COLUMN_NAMES:
            v = t[name][i]
            assert (v.item() if hasattr(v, "item") else v) == row[name], name
    assert rq.validate_request(back).ok


def test_create_from_mops_detections_csv_and_ecsv(cli, tmp_path):
    csv = tmp_path / "dets.csv"
    csv.write_text("det_id,RA,Dec,MJD,filter,size\n"
                   "d1,150.01,2.01,58309.51,w,50\n"
                   "d2,150.02,2.02,58309.52,i,80\n")
    r = cli("pstamp-req", "create", "--from", csv, "--req-name", "MOPS.dets", "--email", "m@x.y",
            "-o", tmp_path / "dets.fits", "--mjd-window", "0.01")
    assert r.code == 0, r.err
    t = Table.read(tmp_path / "dets.fits", hdu=1)
    assert list(t["COMMENT"]) == ["d1", "d2"] and list(t["REQFILT"]) == ["w", "i"]
    assert list(t["WIDTH"]) == [50.0, 80.0] and list(t["HEIGHT"]) == [50.0, 80.0]
    assert list(t["MJD_MIN"]) == [58309.5, 58309.51] and list(t["MJD_MAX"]) == [58309.52, 58309.53]
    ecsv = tmp_path / "dets.ecsv"
    Table({"ra": [10.5], "dec": [-5.5], "IMG_TYPE": ["chip"], "ROWNUM": [7], "data_group": ["OSS.%"]}
          ).write(ecsv, format="ascii.ecsv")
    r = cli("pstamp-req", "create", "--from", ecsv, "--req-name", "MOPS.ecsv", "--email", "m@x.y",
            "-o", tmp_path / "e.fits", "--arcsec", "--size", "30")
    assert r.code == 0, r.err
    t = Table.read(tmp_path / "e.fits", hdu=1)
    assert (t["ROWNUM"][0], t["IMG_TYPE"][0], t["DATA_GROUP"][0]) == (7, "chip", "OSS.%")
    assert (t["COORD_MASK"][0], t["WIDTH"][0]) == (0, 30.0)
    # the file is not overwritten unless asked
    r = cli("pstamp-req", "create", "--from", ecsv, "--req-name", "MOPS.ecsv", "--email", "m@x.y",
            "-o", tmp_path / "e.fits")
    assert r.code == ExitCode.USAGE


def test_create_mjd_zero_is_no_date_bound(cli, tmp_path):
    """An MJD of 0 (a detection list without times) gives MJD_MIN = MJD_MAX = 0,
    no bound, as in the request file, not a window about MJD 0 that matches
    no image; a negative MJD is refused and nothing is written."""
    csv = tmp_path / "d.csv"
    csv.write_text("ra,dec,mjd\n150.0,2.0,0\n150.1,2.1,58309.5\n")
    r = cli("pstamp-req", "create", "--from", csv, "--email", "m@x.y", "-o", tmp_path / "d.fits")
    assert r.code == 0, r.err
    t = Table.read(tmp_path / "d.fits", hdu=1)
    assert list(t["MJD_MIN"]) == [0.0, 58309.495] and list(t["MJD_MAX"]) == [0.0, 58309.505]
    r = cli("pstamp-req", "create", "--email", "m@x.y", "-o", tmp_path / "z.fits", "--ra", "1", "--dec", "2",
            "--mjd", "0")
    assert r.code == 0 and Table.read(tmp_path / "z.fits", hdu=1)["MJD_MAX"][0] == 0.0
    csv.write_text("ra,dec,mjd\n150.0,2.0,-1\n")
    r = cli("pstamp-req", "create", "--from", csv, "--email", "m@x.y", "-o", tmp_path / "n.fits")
    assert r.code == ExitCode.DATA and "MJD -1 is not an observation date" in r.err
    assert not (tmp_path / "n.fits").exists()


def test_create_refuses_options_no_row_takes(cli, tmp_path):
    """--mjd and --comment belong to --ra/--dec rows, --mjd-window to rows with
    an MJD: given where nothing would take them they are refused by name and
    nothing is written (never accepted and ignored)."""
    csv = tmp_path / "d.csv"
    csv.write_text("ra,dec\n150.0,2.0\n")
    out = tmp_path / "o.fits"
    for extra, named in ((["--mjd", "58309.5"], "--mjd"), (["--comment", "x"], "--comment"),
                         (["--mjd-window", "0.1"], "--mjd-window")):
        r = cli("pstamp-req", "create", "--from", csv, "--email", "m@x.y", "-o", out, *extra)
        assert r.code == ExitCode.USAGE and named in r.err and not out.exists(), (extra, r.err)
    r = cli("pstamp-req", "create", "--ra", "1", "--dec", "2", "--mjd", "0", "--mjd-window", "0.1",
            "--email", "m@x.y", "-o", out)
    assert r.code == ExitCode.USAGE and "--mjd-window" in r.err and not out.exists()
    r = cli("pstamp-req", "create", "--ra", "1", "--dec", "2", "--mjd", "58309.5", "--mjd-window", "0.1",
            "--comment", "c", "--email", "m@x.y", "-o", out)
    assert r.code == 0, r.err
    t = Table.read(out, hdu=1)
    assert (t["MJD_MIN"][0], t["MJD_MAX"][0], t["COMMENT"][0]) == (58309.4, 58309.6, "c")


def test_create_refuses_rows_the_server_rejects(cli, tmp_path):
    out = tmp_path / "bad.fits"
    r = cli("pstamp-req", "create", "-o", out, "--email", "m@x.y", "--ra", "1", "--dec", "2",
            "--img-type", "mosaic")
    assert r.code == ExitCode.DATA
    assert "fault 21 INVALID_REQUEST" in r.err and not out.exists()
    r = cli("pstamp-req", "create", "-o", out, "--ra", "1", "--dec", "2")
    assert r.code == ExitCode.USAGE and "--email" in r.err
    r = cli("pstamp-req", "create", "-o", out, "--email", "m@x.y", "--ra", "1", "--dec", "2",
            "--comment", "x" * 80)
    assert r.code == 0          # COMMENT is cut to 63 characters like the IPP writer
    assert len(Table.read(out, hdu=1)["COMMENT"][0]) == 63
    with pytest.raises(DataError):
        rq.normalise_rows([rq.default_row(ID="12345678901234567")])   # ID is 16A


def _raw_request(path, rows, header=None, extname="PS1_PS_REQUEST", columns=rq.COLUMNS):
    """Write a request table directly (no checks), for malformed files."""
    cols = []
    for c in columns:
        vals = [r.get(c.name, c.default) for r in rows]
        if c.kind == "int":
            arr = np.array(vals, dtype=np.int32)
        elif c.kind == "float":
            arr = np.array(vals, dtype=np.float64)
        else:
            arr = np.array([str(v).encode() for v in vals], dtype=f"S{c.width}")
        cols.append(fits.Column(name=c.name, format=c.tform, array=arr))
    t = fits.BinTableHDU.from_columns(cols, name=extname)
    hdr = {"EXTVER": "2", "REQ_NAME": "bad.rows", "ACTION": "PROCESS", "EMAIL": "m@x.y"}
    hdr.update(header or {})
    for k, v in hdr.items():
        if v is None:
            t.header.pop(k, None)
        else:
            t.header[k] = v
    fits.HDUList([fits.PrimaryHDU(), t]).writeto(path, overwrite=True)
    return path


GOOD = dict(rq.default_row(ROWNUM=1, CENTER_X=150.0, CENTER_Y=2.0, SURVEY_NAME="bypass"))


def row(**kw):
    d = dict(GOOD)
    d.update(kw)
    return d


BAD_ROWS = [
    (row(ROWNUM=1), None),
    (row(ROWNUM=0), 21),                                          # ROWNUM must be positive
    (row(ROWNUM=3, JOB_TYPE="list_uri"), 21),                     # obsolete job type
    (row(ROWNUM=4, REQ_TYPE="byname"), 21),
    (row(ROWNUM=5, JOB_TYPE="get_image"), 21),                    # get_image only byid/byexp...
    (row(ROWNUM=6, MJD_MIN=float("nan")), 21),
    (row(ROWNUM=7, COORD_MASK=3, CENTER_X=100, CENTER_Y=200, REQ_TYPE="byid", ID="5"), 21),  # no COMPONENT
    (row(ROWNUM=8, IMG_TYPE="mosaic"), 21),
    (row(ROWNUM=9, CENTER_X=float("inf")), 21),                   # ROI not numeric
    (row(ROWNUM=10, REQ_TYPE="byexp", IMG_TYPE="stack", ID="o8309g0262o"), 11),
    (row(ROWNUM=11, COORD_MASK=3, COMPONENT="XY33", CENTER_X=10, CENTER_Y=10), 21),  # bycoord pixel
    (row(ROWNUM=12, REQ_TYPE="byid", ID="12a"), 21),
    (row(ROWNUM=13, PROJECT="gpc9"), 22),
    (row(ROWNUM=14, REQ_TYPE="byid", ID="123456", IMG_TYPE="chip"), None),
    (row(ROWNUM=15, JOB_TYPE="get_image", REQ_TYPE="byexp", ID="o8309g0262o", IMG_TYPE="warp"), None),
    (row(ROWNUM=16, COORD_MASK=3, COMPONENT="XY33", CENTER_X=0, CENTER_Y=0, REQ_TYPE="byid", ID="7",
         IMG_TYPE="chip"), None),                                 # whole file, pixel centre 0,0
]


def test_validate_reports_each_bad_row_with_the_server_fault(cli, tmp_path):
    path = _raw_request(tmp_path / "bad.fits", [r for r, _ in BAD_ROWS])
    # without known projects PROJECT is not checked (only the server knows them)
    r = cli("pstamp-req", "validate", path, "--json")
    assert 13 not in {p["row"] for p in r.json()["problems"]}
    assert any("PROJECT not checked" in w for w in r.json()["warnings"])
    r = cli("pstamp-req", "validate", path, "--project", "gpc1", "--project", "gpc2", "--json")
    assert r.code == ExitCode.CHECK_FAILED, r.err
    v = r.json()
    assert not v["ok"] and v["rows"] == len(BAD_ROWS)
    got = {p["row"]: (p["fault"], p["fault_name"]) for p in v["problems"]}
    want = {i: code for i, (_, code) in enumerate(BAD_ROWS, 1) if code}
    assert {k: f for k, (f, _) in got.items()} == want
    assert got[2] == (21, "INVALID_REQUEST") and got[10] == (11, "NOT_IMPLEMENTED")
    assert got[13] == (22, "UNKNOWN_PROJECT")
    assert v["bad_rows"] == len(want)
    # the table lists every bad row with its code and name
    r = cli("pstamp-req", "validate", path, "--project", "gpc1")
    assert r.code == ExitCode.CHECK_FAILED
    assert r.out.count("INVALID_REQUEST") == 10 and "NOT_IMPLEMENTED" in r.out
    # another known project makes row 13 good
    r = cli("pstamp-req", "validate", path, "--project", "gpc1", "--project", "gpc9", "--json")
    assert 13 not in {p["row"] for p in r.json()["problems"]}


@pytest.mark.parametrize("header,fault", [
    ({"EMAIL": None}, 21),
    ({"ACTION": None}, 21),
    ({"ACTION": "LIST"}, 21),
    ({"EXTVER": "3"}, 4),
    ({"REQ_NAME": None}, 4),
    ({"EMAIL": "null"}, 29),
    ({"EMAIL": "@example.org"}, 29),
    ({"EMAIL": "0@example.org"}, 29),
    ({"REQ_NAME": "two words"}, 21),            # the parser splits the header on spaces
])
def test_validate_header_faults(cli, tmp_path, header, fault):
    path = _raw_request(tmp_path / "h.fits", [GOOD], header=header)
    r = cli("pstamp-req", "validate", path, "--json")
    assert r.code == ExitCode.CHECK_FAILED
    probs = r.json()["problems"]
    assert [(p["row"], p["fault"]) for p in probs] == [(0, fault)]


def test_validate_warnings_do_not_fail(cli, tmp_path):
    path = _raw_request(tmp_path / "w.fits", [row(SURVEY_NAME="null"), row(ROWNUM=1, WIDTH=9000)],
                        header={"ACTION": "process"})
    r = cli("pstamp-req", "validate", path, "--json")
    assert r.code == 0, r.err
    w = "\n".join(r.json()["warnings"])
    assert "not upper case" in w and "3PI" in w and "repeats row 1" in w and "8000" in w


def test_validate_version_1_and_empty(cli, tmp_path):
    v1 = [c for c in rq.COLUMNS if c.name in rq.V1_COLUMNS]
    path = _raw_request(tmp_path / "v1.fits", [GOOD], header={"EXTVER": "1", "ACTION": None, "EMAIL": None},
                        columns=v1)
    r = cli("pstamp-req", "validate", path, "--json")
    assert r.code == 0, r.err
    assert any("version 1" in w for w in r.json()["warnings"])
    path = _raw_request(tmp_path / "empty.fits", [])
    r = cli("pstamp-req", "validate", path, "--json")
    assert r.code == ExitCode.CHECK_FAILED
    assert r.json()["problems"][0]["fault"] == 21 and "no rows" in r.json()["problems"][0]["problem"]


def test_validate_malformed_files_exit_65(cli, tmp_path):
    junk = tmp_path / "junk.fits"
    junk.write_bytes(b"this is not FITS at all" * 200)
    r = cli("pstamp-req", "validate", junk)
    assert r.code == ExitCode.DATA and r.err.count("\n") == 1
    r = cli("pstamp-req", "validate", tmp_path / "missing.fits")
    assert r.code == ExitCode.DATA
    only_primary = tmp_path / "p.fits"
    fits.PrimaryHDU(np.zeros((2, 2))).writeto(only_primary)
    r = cli("pstamp-req", "validate", only_primary)
    assert r.code == ExitCode.DATA and "extension 1" in r.err
    other = _raw_request(tmp_path / "o.fits", [GOOD], extname="SOMETHING")
    r = cli("pstamp-req", "validate", other)
    assert r.code == ExitCode.DATA and "PS1_PS_REQUEST" in r.err
    dq = _raw_request(tmp_path / "dq.fits", [GOOD], extname="MOPS_DETECTABILITY_QUERY")
    r = cli("pstamp-req", "validate", dq)
    assert r.code == ExitCode.DATA and "detectability" in r.err


def test_validate_check_db_duplicate_name_and_projects(cli, db_url, dbs, tmp_path):
    from datetime import datetime

    from mopstool.db import schema

    with dbs.begin(pstamp_db=True) as conn:
        conn.execute(schema.table("pstampRequest", pstamp_db=True).insert().values(
            req_id=1, state="stop", name="bad.rows", label="MOPS", fault=0, registered=datetime(2018, 7, 1),
            timestamp=datetime(2018, 7, 1)))
        conn.execute(schema.table("pstampProject", pstamp_db=True).insert().values(
            proj_id=1, name="gpc2", state="enabled", dbname="gpc2", camera="GPC2", telescope="PS2"))
    path = _raw_request(tmp_path / "dup.fits", [row(PROJECT="gpc2"), row(ROWNUM=2, PROJECT="gpc1")])
    r = cli("pstamp-req", "validate", path, "--check-db", "--db", db_url, "--json")
    assert r.code == ExitCode.CHECK_FAILED
    probs = {(p["row"], p["fault"]) for p in r.json()["problems"]}
    assert probs == {(0, 20), (2, 22)}


def test_option_mask_names():
    assert rq.option_mask(["image,mask", "variance"]) == 7
    assert rq.option_mask(["65"]) == 65 and rq.option_mask(["jpeg+uncompressed"]) == 576
    assert rq.option_names(2113) == ["image", "jpeg", "unconvolved"]


def test_validate_accepts_what_the_server_accepts(cli, tmp_path):
    """a@b@c is user a at domain b for the parser; GPC2 rows are fine unless told otherwise."""
    path = _raw_request(tmp_path / "ok.fits", [GOOD, row(ROWNUM=2, PROJECT="gpc2")],
                        header={"EMAIL": "a@b@c"})
    r = cli("pstamp-req", "validate", path, "--json")
    assert r.code == 0, r.out + r.err
    assert r.json()["ok"]


def test_numbers_read_as_their_text_reads():
    """A row's numbers (the table's own floats and ints) are checked and converted
    as the parser would their text: the same answers as for the text itself."""
    rng = np.random.default_rng(7)
    values = [0.0, -0.0, 1.0, -2.5, 1e-7, 5e-324, 1.7976931348623157e308, 150.0070773735471, 1e16, 1e22,
              0, 1, -1, 2 ** 53 + 1, 2 ** 63 - 1, -2 ** 63, 2 ** 63, 10 ** 400, float("nan"), float("inf"),
              -float("inf"), True, False]
    values += list(rng.normal(0, 1e3, 200)) + list(10.0 ** rng.uniform(-300, 300, 200))
    values += [int(v) for v in rng.integers(-2 ** 62, 2 ** 62, 100)]
    for v in values:
        v = v.item() if hasattr(v, "item") else v
        text = rq._text(v)
        assert rq.valid_number(v) == (text is not None and rq.valid_number(text)), v
        assert rq._num(v) == rq._num(text), v
