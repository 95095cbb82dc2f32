"""The component, cleanup and stamp-job modes of the legacy front: their listings
(columns, selectors, C exit statuses) and, on MariaDB, a replay of the SQL the
C function builds against the legacy call on two copies of one demo database.

One pair of demo databases per backend for the whole module: every replay
changes both copies the same way, so they stay identical from one to the next."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import create_engine, text

from conftest import _create_schema, scratch_db_name
from test_legacy_dropin import dump, q
from test_legacy_replay import replay


@pytest.fixture(scope="module", params=["sqlite", "mysql", "ippddl"])
def pair(request, tmp_path_factory):
    """Two identical demo databases (A, B), made once for the module (ippddl: MariaDB
    built from the IPP's own DDL, without mopstool's tables)."""
    from mopstool.config import load_config, parse_night
    from mopstool.ops.demo.night import run_demo

    root = tmp_path_factory.mktemp("modes")
    drop = []
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), root / "a.sqlite")
        a, b = f"sqlite:///{root / 'a.sqlite'}", f"sqlite:///{root / 'b.sqlite'}"
    else:
        base = request.getfixturevalue("mysql_url").rsplit("/", 1)[0]
        drop = [scratch_db_name("modesa"), scratch_db_name("modesb")]
        server = create_engine(base + "/")
        charset = " DEFAULT CHARACTER SET latin1" if request.param == "ippddl" else ""
        with server.connect() as conn:
            for n in drop:
                conn.execute(text(f"CREATE DATABASE `{n}`{charset}"))
        a, b = (f"{base}/{n}" for n in drop)
        if request.param == "ippddl":
            import ippddl

            eng = create_engine(a)
            with eng.begin() as conn:
                ippddl.create_all(conn)
            eng.dispose()
        else:
            _create_schema(a)
    with pytest.MonkeyPatch.context() as mp:
        for var in ("MOPSTOOL_CONFIG", "IPPRC"):
            mp.delenv(var, raising=False)
        mp.setenv("HOME", str(root / "home"))
        mp.setenv("XDG_CONFIG_HOME", str(root / "home" / ".config"))
        run_demo(load_config(), db_url=a, reset=False, night=parse_night("2018-07-10"),
                 files_dir=str(root / "files"))
    if request.param == "sqlite":
        shutil.copyfile(root / "a.sqlite", root / "b.sqlite")
    else:
        with server.begin() as conn:
            tables = [r[0] for r in conn.execute(text(f"SHOW TABLES FROM `{drop[0]}`"))]
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            for t in tables:
                conn.execute(text(f"CREATE TABLE `{drop[1]}`.`{t}` LIKE `{drop[0]}`.`{t}`"))
                conn.execute(text(f"INSERT INTO `{drop[1]}`.`{t}` SELECT * FROM `{drop[0]}`.`{t}`"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    assert dump(a) == dump(b)
    yield request.param, a, b
    if drop:
        with server.connect() as conn:
            for n in drop:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{n}`"))
        server.dispose()


def both(pair, sql: str, **params) -> None:
    for u in pair[1:]:
        q(u, sql, **params)


def _blocks(out: str, rowname: str) -> int:
    return out.count(f"\n{rowname}  METADATA  \n")


# ---------------------------------------------------------------- listings

def test_chip_component_listings(cli, pair):
    _, a, _ = pair
    chip = q(a, "SELECT chip_id FROM chipRun WHERE state = 'full' ORDER BY chip_id")[0][0]
    r = cli("--db", a, "chiptool", "-processedimfile", "-chip_id", chip, "-class_id", "XY01")
    assert r.code == 0, r.err
    assert "# modern equivalent: none (" in r.err
    assert r.out.startswith("\nchipProcessedImfile  METADATA  \n   chip_id          S64       %-15d\n" % chip)
    for line in (f"\n   {'class_id':<15}  STR       {'XY01':<15} \n", f"\n   {'magic_ds_id':<15}  S64       {0:<15}\n",
                 f"\n   {'dsRun_state':<15}  STR       {'0':<15} \n"):
        assert line in r.out, line
    # faulted imfiles are listed only with -faulted / -allfiles
    both(pair, "UPDATE chipProcessedImfile SET fault = 4 WHERE chip_id = :c AND class_id = 'XY02'", c=chip)
    n = q(a, "SELECT COUNT(*) FROM chipProcessedImfile WHERE chip_id = :c", c=chip)[0][0]
    plain = cli("--db", a, "chiptool", "-processedimfile", "-chip_id", chip, "-simple").out.splitlines()
    faulted = cli("--db", a, "chiptool", "-processedimfile", "-chip_id", chip, "-faulted", "-simple").out
    every = cli("--db", a, "chiptool", "-processedimfile", "-chip_id", chip, "-allfiles", "-simple").out
    assert len(plain) == n - 1 and len(every.splitlines()) == n
    assert [ln.split(" ")[2] for ln in faulted.splitlines()] == ["XY02"]
    # -chip_id 0 is no selector (the C default): search terms are then required
    r = cli("--db", a, "chiptool", "-processedimfile", "-chip_id", "0")
    assert r.code == 3 and "search parameters (or -all) are required" in r.err
    both(pair, "UPDATE chipProcessedImfile SET fault = 0 WHERE chip_id = :c", c=chip)

    # -pendingcleanupimfile: terms or -all (PXTOOLS_ERR_SYS: exit 2); -exp_id is ignored as in C
    for mode in ("-pendingcleanupimfile", "-pendingcleanuprun"):
        r = cli("--db", a, "chiptool", mode)
        assert r.code == 2 and "unrestricted query not allowed (try -all)" in r.err, mode
    both(pair, "UPDATE chipRun SET state = 'goto_cleaned' WHERE chip_id = :c", c=chip)
    both(pair, "UPDATE chipProcessedImfile SET quality = 7 WHERE chip_id = :c AND class_id = 'XY03'", c=chip)
    r = cli("--db", a, "chiptool", "-pendingcleanupimfile", "-chip_id", chip, "-exp_id", "x", "-simple")
    assert r.code == 0 and "-exp_id is ignored" in r.err
    assert len(r.out.splitlines()) == n - 1           # the bad-quality imfile needs no cleanup
    r = cli("--db", a, "chiptool", "-pendingcleanupimfile", "-all", "-simple")
    assert len(r.out.splitlines()) == q(a, "SELECT COUNT(*) FROM chipProcessedImfile JOIN chipRun USING(chip_id) "
                                           "WHERE chipRun.state LIKE 'goto%%'")[0][0]
    r = cli("--db", a, "chiptool", "-pendingcleanupimfile", "-label", "nosuch")
    assert r.code == 0 and r.out == ""
    both(pair, "UPDATE chipRun SET state = 'full' WHERE chip_id = :c", c=chip)
    both(pair, "UPDATE chipProcessedImfile SET quality = 0 WHERE chip_id = :c", c=chip)

    # -donecleanup: chipRun.* of cleaned runs, -label '='
    cleaned = q(a, "SELECT chip_id, label FROM chipRun WHERE state = 'cleaned' ORDER BY chip_id")
    r = cli("--db", a, "chiptool", "-donecleanup")
    assert r.code == 0 and _blocks(r.out, "chipDoneCleanup") == len(cleaned) > 0
    r = cli("--db", a, "chiptool", "-donecleanup", "-label", cleaned[0][1], "-simple")
    assert [int(ln.split(" ")[0]) for ln in r.out.splitlines()] == [c for c, lbl in cleaned
                                                                   if lbl == cleaned[0][1]]
    assert "_" in cleaned[0][1] and "# modern equivalent: none ('mopstool runs --label' compares" in r.err
    # without a wildcard label the printed listing runs and lists the same runs
    r = cli("--db", a, "chiptool", "-donecleanup", "-simple")
    modern = [ln for ln in r.err.splitlines() if ln.startswith("# modern equivalent: mopstool")][0]
    assert modern.endswith("runs chip --state cleaned --limit 0")
    import shlex

    r2 = cli(*shlex.split(modern.split(": ", 1)[1])[1:], "--format", "json")
    assert r2.code == 0, r2.err
    assert sorted(int(x["chip_id"]) for x in r2.json()) == [c for c, _ in cleaned]


def test_warp_scmap_and_diff_pendingcleanuprun(cli, pair):
    _, a, _ = pair
    warp = q(a, "SELECT warp_id FROM warpSkyCellMap ORDER BY warp_id")[0][0]
    expected = q(a, "SELECT COUNT(*) FROM warpSkyCellMap m JOIN warpRun w USING(warp_id) JOIN fakeRun USING(fake_id) "
                    "JOIN camRun USING(cam_id) JOIN chipProcessedImfile p ON p.chip_id = camRun.chip_id "
                    "AND p.class_id = m.class_id AND p.quality = 0 WHERE m.warp_id = :w", w=warp)[0][0]
    r = cli("--db", a, "warptool", "-scmap", "-warp_id", warp, "-simple")
    assert r.code == 0 and len(r.out.splitlines()) == expected > 0
    r = cli("--db", a, "warptool", "-scmap", "-warp_id", warp, "-limit", "1")
    assert r.out.startswith("\nwarpSkyCellMap  METADATA  \n   warp_id          S64       %-15d\n" % warp)
    assert "\n   cam_background_model  S16       " in r.out and "\n   camState         STR       " in r.out

    diffs = [d for (d,) in q(a, "SELECT diff_id FROM diffRun ORDER BY diff_id")[:2]]
    both(pair, "UPDATE diffRun SET state = 'goto_cleaned' WHERE diff_id IN (:x, :y)", x=diffs[0], y=diffs[1])
    label = q(a, "SELECT label FROM diffRun WHERE diff_id = :d", d=diffs[0])[0][0]
    r = cli("--db", a, "difftool", "-pendingcleanuprun", "-label", label, "-label", "other", "-simple")
    assert r.code == 0, r.err
    assert [int(ln.split(" ")[0]) for ln in r.out.splitlines()] == [
        d for (d,) in q(a, "SELECT diff_id FROM diffRun WHERE state = 'goto_cleaned' AND label = :l "
                           "ORDER BY diff_id", l=label)]
    r = cli("--db", a, "difftool", "-pendingcleanuprun", "-limit", "1")
    assert _blocks(r.out, "diffPendingCleanupRun") == 1 and f"\n   {'camera':<15}  STR       {'GPC1':<15} \n" in r.out
    both(pair, "UPDATE diffRun SET state = 'full' WHERE diff_id IN (:x, :y)", x=diffs[0], y=diffs[1])


def test_pstamp_listjob_and_missing_modes(cli, pair):
    _, a, _ = pair
    req = q(a, "SELECT req_id FROM pstampJob ORDER BY job_id")[0][0]
    r = cli("--db", a, "pstamptool", "-listjob", "-req_id", req, "-simple")
    assert r.code == 0, r.err
    assert len(r.out.splitlines()) == q(a, "SELECT COUNT(*) FROM pstampJob WHERE req_id = :r", r=req)[0][0]
    r = cli("--db", a, "pstamptool", "-listjob", "-req_id", req, "-limit", "1")
    assert "\n   name             STR       " in r.out and "\n   outProduct       STR       " in r.out
    r = cli("--db", a, "pstamptool", "-listjob", "-fault", "0")
    assert r.code == 1 and "search arguments are required" in r.err
    # pstamptool has no -listdependent mode
    r = cli("--db", a, "pstamptool", "-listdependent", "-dep_id", "1")
    assert r.code == 3 and "exactly one mode is required" in r.err


def test_refusals_of_the_new_write_modes(cli, pair):
    _, a, _ = pair
    before = dump(a)
    for args, code, msg in [
            (["chiptool", "-updateprocessedimfile", "-class_id", "XY01"], 3, "-fault is required"),
            (["chiptool", "-updateprocessedimfile", "-fault", "2"], 1, "search parameters are required"),
            (["chiptool", "-updateprocessedimfile", "-chip_id", "1", "-set_state", "bogus"], 3, "not valid"),
            (["chiptool", "-updateprocessedimfile", "-chip_id", "999999", "-class_id", "XY01", "-fault", "2"],
             1, "zero rows were affected"),
            (["chiptool", "-revertcleanup"], 3, "search parameters are required"),
            (["chiptool", "-revertcleanup", "-chip_id", "1", "-state", "full"], 3, "not valid"),
            (["warptool", "-updateskyfile", "-warp_id", "1", "-skycell_id", "s", "-set_state", "full"], 1,
             "unhandled state given"),
            (["pstamptool", "-updatejob", "-set_state", "stop"], 1, "at least one of -job_id"),
            (["pstamptool", "-updatejob", "-job_id", "1"], 1, "at least one of -set_state and -set_fault"),
            (["pstamptool", "-updatejob", "-job_id", "1", "-set_state", "bogus"], 3, "not valid"),
            (["pstamptool", "-updatedependent", "-set_state", "full"], 3, "-dep_id is required"),
            (["pstamptool", "-updatedependent", "-dep_id", "999999", "-set_state", "full"], 1,
             "should have affected one row")]:
        r = cli("--db", a, *args)
        assert r.code == code and msg in r.err, (args, r.code, r.err)
    assert dump(a) == before


# ---------------------------------------------------------------- replays of the C SQL (MariaDB)

def test_new_write_modes_replay_the_c_sql(cli, pair):
    kind, a, b = pair
    if kind == "sqlite":
        pytest.skip("the C tools' SQL is MySQL SQL")
    chip = q(a, "SELECT chip_id FROM chipRun WHERE state = 'full' ORDER BY chip_id")[1][0]
    w, sky = q(a, "SELECT warp_id, skycell_id FROM warpSkyfile JOIN warpRun USING(warp_id) "
                  "WHERE state = 'full' ORDER BY warp_id, skycell_id")[0]

    # chiptool -updateprocessedimfile (pxSetFaultCode; pxchipProcessedImfileSetStateByQuery)
    replay(cli, a, b, f"chiptool -updateprocessedimfile -chip_id {chip} -class_id XY04 -fault 3 -set_quality 9",
           [("UPDATE chipProcessedImfile SET quality = :q, fault = :f WHERE chip_id = :c AND class_id = :k",
             dict(q=9, f=3, c=chip, k="XY04"))])
    replay(cli, a, b, f"chiptool -updateprocessedimfile -chip_id {chip} -fault 0",
           [("UPDATE chipProcessedImfile SET fault = :f WHERE chip_id = :c", dict(f=0, c=chip))])
    replay(cli, a, b, f"chiptool -updateprocessedimfile -chip_id {chip} -class_id XY05 -set_state error_cleaned",
           [("UPDATE chipProcessedImfile JOIN chipRun USING(chip_id) JOIN rawExp ON chipRun.exp_id = rawExp.exp_id "
             "SET data_state = :s WHERE chip_id = :c AND class_id = :k", dict(s="error_cleaned", c=chip, k="XY05"))])

    # chiptool -revertcleanup (chiptool_revertcleanup.sql)
    replay(cli, a, b, f"chiptool -revertcleanup -chip_id {chip}",
           [("UPDATE chipProcessedImfile JOIN chipRun USING(chip_id, exp_id) SET chipProcessedImfile.data_state = "
             "'full', chipRun.state = :n WHERE chipRun.state = :s AND chipProcessedImfile.data_state = :s "
             "AND chipRun.chip_id = :c", dict(n="goto_cleaned", s="error_cleaned", c=chip))],
           lambda u: q(u, "UPDATE chipRun SET state = 'error_cleaned' WHERE chip_id = :c", c=chip))

    # warptool -updateskyfile: fault/quality, background model, error data_state (+ the run follows)
    replay(cli, a, b, f"warptool -updateskyfile -warp_id {w} -skycell_id {sky} -fault 5",
           [("UPDATE warpSkyfile SET fault = :f WHERE warp_id = :w AND skycell_id = :s", dict(f=5, w=w, s=sky))])
    replay(cli, a, b, f"warptool -updateskyfile -warp_id {w} -skycell_id {sky} -set_background_model 3 -fault 1",
           [("UPDATE warpSkyfile SET background_model = :m WHERE warp_id = :w AND skycell_id = :s",
             dict(m=3, w=w, s=sky))])
    only = q(a, "SELECT COUNT(*) FROM warpSkyfile WHERE warp_id = :w AND quality = 0", w=w)[0][0]
    replay(cli, a, b, f"warptool -updateskyfile -warp_id {w} -skycell_id {sky} -set_state error_cleaned", [
        ("UPDATE warpSkyfile JOIN warpRun USING(warp_id) JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) "
         "JOIN chipRun USING(chip_id) SET data_state = :d WHERE warp_id = :w AND skycell_id = :s",
         dict(d="error_cleaned", w=w, s=sky)),
        ("UPDATE warpRun JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) JOIN chipRun USING(chip_id) "
         "SET warpRun.state = :d WHERE warpRun.warp_id = :w AND (SELECT COUNT(warp_id) FROM warpSkyfile "
         "WHERE warpSkyfile.warp_id = warpRun.warp_id AND warpSkyfile.data_state != :d "
         "AND warpSkyfile.quality = 0) = 0", dict(d="error_cleaned", w=w))],
        # one quality-0 skyfile left: the run takes the state too
        lambda u: q(u, "UPDATE warpSkyfile SET quality = 1 WHERE warp_id = :w AND skycell_id != :s",
                    w=w, s=sky) if only > 1 else None)

    # pstamptool -updatejob (pstamptool_updatejob.sql) and -updatedependent
    job, req = q(a, "SELECT job_id, req_id FROM pstampJob ORDER BY job_id")[0]
    label = q(a, "SELECT label FROM pstampRequest WHERE req_id = :r", r=req)[0][0]
    replay(cli, a, b, f"pstamptool -updatejob -req_id {req} -label {label} -set_state stop -set_fault 4",
           [("UPDATE pstampJob JOIN pstampRequest USING(req_id) LEFT JOIN pstampDependent USING(dep_id) "
             "SET pstampJob.state = 'stop', pstampJob.fault = 4, pstampJob.fault_count = pstampJob.fault_count + 1 "
             "WHERE req_id = :r AND (pstampRequest.label LIKE :l)", dict(r=req, l=label))])
    replay(cli, a, b, f"pstamptool -updatejob -job_id {job} -fault_count 1 -set_state run",
           [("UPDATE pstampJob JOIN pstampRequest USING(req_id) LEFT JOIN pstampDependent USING(dep_id) "
             "SET pstampJob.state = 'run' WHERE job_id = :j AND pstampJob.fault_count >= 1", dict(j=job))])
    dep = q(a, "SELECT dep_id FROM pstampDependent WHERE state = 'new' ORDER BY dep_id")[0][0]
    replay(cli, a, b, f"pstamptool -updatedependent -dep_id {dep} -set_state full -set_fault 2",
           [("UPDATE pstampDependent SET state = 'full', fault = 2, "
             "pstampDependent.fault_count = pstampDependent.fault_count + 1 WHERE dep_id = :d", dict(d=dep))])


def test_run_and_update_modes_replay_the_c_sql(cli, pair):
    """warptool/difftool -updaterun (pxUpdateRun), difftool -setskyfiletoupdate,
    chiptool -setimfiletoupdate (chiptool_setimfiletoupdate.sql + the bad-quality sweep)."""
    kind, a, b = pair
    if kind == "sqlite":
        pytest.skip("the C tools' SQL is MySQL SQL")
    w = q(a, "SELECT warp_id FROM warpRun WHERE state = 'full' ORDER BY warp_id")[1][0]
    d = q(a, "SELECT diff_id FROM diffRun WHERE state = 'full' ORDER BY diff_id")[2][0]
    chip = q(a, "SELECT chip_id FROM chipRun WHERE state = 'full' ORDER BY chip_id")[2][0]
    replay(cli, a, b, f"warptool -updaterun -warp_id {w} -set_state goto_cleaned -set_note n1 -set_label L1",
           [("UPDATE warpRun SET warpRun.state = :s, warpRun.note = :n, warpRun.label = :l WHERE warpRun.warp_id = :w",
             dict(s="goto_cleaned", n="n1", l="L1", w=w))])
    replay(cli, a, b, f"difftool -updaterun -diff_id {d} -set_data_group G1 -set_dist_group D1",
           [("UPDATE diffRun SET diffRun.data_group = :g, diffRun.dist_group = :t WHERE diffRun.diff_id = :d",
             dict(g="G1", t="D1", d=d))])

    def cleaned_diff(u):
        q(u, "UPDATE diffRun SET state = 'cleaned' WHERE diff_id = :d", d=d)
        q(u, "UPDATE diffSkyfile SET data_state = 'cleaned' WHERE diff_id = :d", d=d)
        q(u, "UPDATE diffSkyfile SET fault = 26 WHERE diff_id = :d ORDER BY skycell_id LIMIT 1", d=d)
    replay(cli, a, b, f"difftool -setskyfiletoupdate -diff_id {d} -set_label ps_ud_X", [
        ("UPDATE diffRun JOIN diffSkyfile USING(diff_id) SET diffRun.state = 'update', "
         "diffSkyfile.data_state = 'update', diffSkyfile.fault = 0, diffRun.label = :l WHERE diff_id = :d "
         "AND (diffRun.state = 'cleaned' OR diffRun.state = 'update') "
         "AND (diffSkyfile.data_state = 'cleaned' OR diffSkyfile.data_state = 'update') "
         "AND (diffSkyfile.quality = 0) AND (diffSkyfile.fault != 26)", dict(l="ps_ud_X", d=d))], cleaned_diff)

    def cleaned_chip(u):
        q(u, "UPDATE chipRun SET state = 'cleaned' WHERE chip_id = :c", c=chip)
        q(u, "UPDATE chipProcessedImfile SET data_state = 'cleaned' WHERE chip_id = :c", c=chip)
        q(u, "UPDATE chipProcessedImfile SET quality = 3 WHERE chip_id = :c AND class_id = 'XY06'", c=chip)
    replay(cli, a, b, f"chiptool -setimfiletoupdate -chip_id {chip} -set_label ps_ud_C", [
        ("UPDATE chipRun JOIN chipProcessedImfile USING(chip_id) SET chipRun.state = 'update', "
         "chipProcessedImfile.data_state = 'update', chipProcessedImfile.fault = 0, chipRun.label = :l, "
         "chipRun.update_mode = 0 WHERE chip_id = :c AND (chipRun.state = 'cleaned' OR chipRun.state = 'update') "
         "AND (chipProcessedImfile.data_state = 'cleaned') AND (chipProcessedImfile.quality = 0) "
         "AND (chipProcessedImfile.fault != 26)", dict(l="ps_ud_C", c=chip)),
        ("UPDATE chipProcessedImfile SET data_state = 'full', fault = 0 WHERE chip_id = :c AND quality != 0 "
         "AND (data_state = 'cleaned' OR data_state = 'update')", dict(c=chip))], cleaned_chip)


# ---------------------------------------------------------------- the C formatter, character for character

def test_metadata_blocks_are_what_psmetadataconfigformat_writes():
    """psMetadataItemFormat: '%-15s  %-8s  %-15<fmt>' per item (strings with one
    more space, times unpadded ISO with 6 decimals, a NULL time 'TAI' NULL), each
    item line indented by 3 inside '<name>  METADATA  ' ... 'END'; '<name> MULTI'
    first when there are several rows; ippdbPrintMetadatas ends with an empty line."""
    from datetime import datetime

    from mopstool.legacy.output import format_mdc, format_simple

    types = {"chip_id": "S64", "fault": "S16", "bg": "F32", "ra": "F64", "bothways": "BOOL",
             "label": "STR", "note": "STR", "registered": "UTC", "epoch": "UTC",
             "a_rather_long_column_name": "S32"}
    row = {"chip_id": 1600000, "fault": None, "bg": 812.25, "ra": None, "bothways": 1,
           "label": "goto_cleaned", "note": None, "registered": datetime(2018, 7, 10, 6, 30, 5),
           "epoch": None, "a_rather_long_column_name": 7}
    one = format_mdc([row], "chipRun", types)
    assert one == (
        "\nchipRun  METADATA  "
        "\n   chip_id          S64       1600000        "
        "\n   fault            S16       32767          "
        "\n   bg               F32       812.25         "
        "\n   ra               F64       nan            "
        "\n   bothways         BOOL      T              "
        "\n   label            STR       goto_cleaned    "
        "\n   note             STR       NULL            "
        "\n   registered       UTC       2018-07-10T06:30:05.000000"
        "\n   epoch            TAI       NULL           "
        "\n   a_rather_long_column_name  S32       7              "
        "\nEND\n\n")
    two = format_mdc([row, dict(row, chip_id=1600001)], "chipRun", types)
    assert two.startswith("chipRun MULTI\n\nchipRun  METADATA  \n   chip_id          S64       1600000  ")
    assert two.count("\nEND\n") == 2 and two.endswith("\nEND\n\n")
    # -simple (ippdbPrintMetadataRaw): single spaces, '_' as ' ', %f, an empty field for a NULL string
    assert format_simple([row], types) == (
        "1600000 32767 812.250000 nan T goto cleaned  2018-07-10T06:30:05.000000 NULL 7\n")


def test_warp_definebyquery_replays_the_c_sql(cli, pair):
    """warptool -definebyquery (warptool_definebyquery.sql + pxwarpQueueByFakeID):
    one warpRun per selected full fakeRun, mode 'warp', label from -set_label,
    everything else inherited from the fakeRun; -pretend prints the selection."""
    kind, a, b = pair
    fake = q(a, "SELECT f.fake_id FROM fakeRun f JOIN camRun c USING(cam_id) JOIN chipRun USING(chip_id) "
                "WHERE f.state = 'full' AND c.state = 'full' AND chipRun.state = 'full' ORDER BY f.fake_id")[0][0]
    r = cli("--db", a, "warptool", "-definebyquery", "-set_mode", "warp", "-fake_id", fake,
            "-set_label", "rp.warp", "-pretend")
    assert r.code == 0, r.err
    assert r.out.startswith("\nrawExp  METADATA  \n   fake_id          S64       %-15d\n" % fake)
    assert "\n   chip_id          S64       " in r.out and "\n   sun_angle        F32       " in r.out
    if kind == "sqlite":
        return
    replay(cli, a, b, f"warptool -definebyquery -set_mode warp -fake_id {fake} -set_label rp.warp", [
        ("INSERT INTO warpRun (fake_id, mode, state, workdir, workdir_state, label, data_group, dist_group, "
         "dvodb, tess_id, reduction, end_stage, registered, magicked, software_ver, maskfrac_npix, "
         "maskfrac_static, maskfrac_dynamic, maskfrac_magic, maskfrac_advisory, note) "
         "SELECT fake_id, 'warp', 'new', workdir, 'dirty', :l, data_group, dist_group, dvodb, tess_id, "
         "reduction, end_stage, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL, NULL FROM fakeRun WHERE fake_id = :f",
         dict(l="rp.warp", f=fake))])


def test_revertwarped_replays_the_c_sql(cli, pair):
    """warptool -revertwarped -label L (warptool_revertwarped_delete.sql and
    _updated.sql, -label '='): faulted skyfiles of new runs deleted (fault 26 too),
    faults of update runs' update skyfiles cleared except 26 without -fault 26."""
    kind, a, b = pair
    if kind == "sqlite":
        pytest.skip("the C tools' SQL is MySQL SQL")
    w = [r[0] for r in q(a, "SELECT warp_id FROM warpRun r WHERE state = 'full' AND NOT EXISTS (SELECT 1 FROM "
                            "diffInputSkyfile d WHERE r.warp_id IN (d.warp1, d.warp2)) AND NOT EXISTS (SELECT 1 "
                            "FROM stackInputSkyfile s WHERE s.warp_id = r.warp_id) ORDER BY warp_id")[:3]]
    assert len(w) == 3

    def faulted(u):
        q(u, "UPDATE warpRun SET state = 'new', label = 'rw_x' WHERE warp_id = :w", w=w[0])
        q(u, "UPDATE warpSkyfile SET fault = 26 WHERE warp_id = :w ORDER BY skycell_id LIMIT 1", w=w[0])
        q(u, "UPDATE warpSkyfile SET fault = 4 WHERE warp_id = :w ORDER BY skycell_id DESC LIMIT 1", w=w[0])
        q(u, "UPDATE warpRun SET state = 'update', label = 'rw_x' WHERE warp_id = :w", w=w[1])
        q(u, "UPDATE warpSkyfile SET data_state = 'update', fault = 4 WHERE warp_id = :w", w=w[1])
        q(u, "UPDATE warpSkyfile SET fault = 26 WHERE warp_id = :w ORDER BY skycell_id LIMIT 1", w=w[1])
        q(u, "UPDATE warpRun SET state = 'new', label = 'rwXx' WHERE warp_id = :w", w=w[2])   # '_' is no wildcard
        q(u, "UPDATE warpSkyfile SET fault = 4 WHERE warp_id = :w", w=w[2])
    replay(cli, a, b, "warptool -revertwarped -label rw_x", [
        ("DELETE FROM warpSkyfile USING warpSkyfile, warpRun, fakeRun, camRun, chipRun, rawExp "
         "WHERE warpSkyfile.warp_id = warpRun.warp_id AND warpRun.fake_id = fakeRun.fake_id "
         "AND fakeRun.cam_id = camRun.cam_id AND camRun.chip_id = chipRun.chip_id "
         "AND chipRun.exp_id = rawExp.exp_id AND warpRun.state = 'new' AND warpSkyfile.fault != 0 "
         "AND warpRun.label = :l", dict(l="rw_x")),
        ("UPDATE warpSkyfile JOIN warpRun USING(warp_id) JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) "
         "JOIN chipRun USING(chip_id) JOIN rawExp USING(exp_id) SET warpSkyfile.fault = 0 "
         "WHERE warpRun.state = 'update' AND warpSkyfile.data_state = 'update' AND warpSkyfile.fault != 0 "
         "AND warpRun.label = :l AND warpSkyfile.fault != 26", dict(l="rw_x"))], faulted)


def test_revertdiffskyfile_replays_the_c_sql(cli, pair):
    """difftool -revertdiffskyfile -label L (difftool_revertdiffskyfile_delete/_updated.sql)."""
    kind, a, b = pair
    if kind == "sqlite":
        pytest.skip("the C tools' SQL is MySQL SQL")
    d = [r[0] for r in q(a, "SELECT diff_id FROM diffRun WHERE state = 'full' ORDER BY diff_id")[3:5]]

    def faulted(u):
        q(u, "UPDATE diffRun SET state = 'new', label = 'rd_x' WHERE diff_id = :d", d=d[0])
        q(u, "UPDATE diffSkyfile SET fault = 26 WHERE diff_id = :d", d=d[0])
        q(u, "UPDATE diffRun SET state = 'update', label = 'rd_x' WHERE diff_id = :d", d=d[1])
        q(u, "UPDATE diffSkyfile SET data_state = 'update', fault = 4 WHERE diff_id = :d", d=d[1])
        q(u, "UPDATE diffSkyfile SET fault = 26 WHERE diff_id = :d ORDER BY skycell_id LIMIT 1", d=d[1])
    replay(cli, a, b, "difftool -revertdiffskyfile -label rd_x", [
        ("DELETE FROM diffSkyfile USING diffSkyfile, diffRun WHERE diffRun.diff_id = diffSkyfile.diff_id "
         "AND diffRun.state = 'new' AND fault != 0 AND diffRun.label = :l", dict(l="rd_x")),
        ("UPDATE diffSkyfile JOIN diffRun USING(diff_id) SET diffSkyfile.fault = 0 WHERE diffRun.state = 'update' "
         "AND diffSkyfile.data_state = 'update' AND diffSkyfile.fault != 0 AND diffRun.label = :l "
         "AND diffSkyfile.fault != 26", dict(l="rd_x"))], faulted)


def test_revertoverlap_and_pstamp_reverts_replay_the_c_sql(cli, pair):
    """warptool -revertoverlap (warptool_revertoverlap.sql, -label '='), pstamptool
    -revertjob (pstamptool_revertjob.sql: fault < 10 unless -fault, fault_count < 5
    unless -clear_fault_count) and -revertreq (pstamptool_revertreq_deletejobs.sql,
    then pstamptool_revertreq.sql; -label LIKE)."""
    kind, a, b = pair
    if kind == "sqlite":
        pytest.skip("the C tools' SQL is MySQL SQL")
    w = [r[0] for r in q(a, "SELECT warp_id FROM warpRun r WHERE state = 'full' AND NOT EXISTS (SELECT 1 FROM "
                            "diffInputSkyfile d WHERE r.warp_id IN (d.warp1, d.warp2)) AND NOT EXISTS (SELECT 1 "
                            "FROM stackInputSkyfile s WHERE s.warp_id = r.warp_id) AND EXISTS (SELECT 1 FROM "
                            "warpSkyCellMap m WHERE m.warp_id = r.warp_id) ORDER BY warp_id DESC")[:2]]
    assert len(w) == 2

    def faulted_overlaps(u):   # new runs whose overlap step failed (warptool -addoverlap -fault)
        q(u, "DELETE FROM warpSkyfile WHERE warp_id IN (:x, :y)", x=w[0], y=w[1])
        q(u, "DELETE FROM warpSkyCellMap WHERE warp_id IN (:x, :y)", x=w[0], y=w[1])
        q(u, "UPDATE warpRun SET state = 'new', label = 'ro_x' WHERE warp_id = :w", w=w[0])
        q(u, "UPDATE warpRun SET state = 'new', label = 'roXx' WHERE warp_id = :w", w=w[1])  # '_' is no wildcard
        for wid in w:
            q(u, "INSERT INTO warpSkyCellMap (warp_id, skycell_id, tess_id, class_id, fault) "
                 "VALUES (:w, 'faulted', 'faulted', 'faulted', 3)", w=wid)
    replay(cli, a, b, "warptool -revertoverlap -label ro_x", [
        ("DELETE FROM warpSkyCellMap USING warpSkyCellMap, warpRun, fakeRun, camRun, chipRun, rawExp "
         "WHERE warpSkyCellMap.warp_id = warpRun.warp_id AND warpRun.fake_id = fakeRun.fake_id "
         "AND fakeRun.cam_id = camRun.cam_id AND camRun.chip_id = chipRun.chip_id "
         "AND chipRun.exp_id = rawExp.exp_id AND warpRun.state = 'new' AND warpSkyCellMap.fault != 0 "
         "AND warpRun.label = :l", dict(l="ro_x"))], faulted_overlaps)
    replay(cli, a, b, f"warptool -revertoverlap -warp_id {w[1]} -fault 3", [
        ("DELETE FROM warpSkyCellMap USING warpSkyCellMap, warpRun, fakeRun, camRun, chipRun, rawExp "
         "WHERE warpSkyCellMap.warp_id = warpRun.warp_id AND warpRun.fake_id = fakeRun.fake_id "
         "AND fakeRun.cam_id = camRun.cam_id AND camRun.chip_id = chipRun.chip_id "
         "AND chipRun.exp_id = rawExp.exp_id AND warpRun.state = 'new' AND warpSkyCellMap.fault != 0 "
         "AND warpSkyCellMap.warp_id = :w AND warpSkyCellMap.fault = :f", dict(w=w[1], f=3))])

    jobs = q(a, "SELECT job_id, req_id FROM pstampJob ORDER BY job_id")
    req = jobs[0][1]
    mine = [j for j, r in jobs if r == req]
    label = q(a, "SELECT label FROM pstampRequest WHERE req_id = :r", r=req)[0][0]
    other = next(r for _, r in jobs if r != req)

    def faulted_jobs(u):
        q(u, "UPDATE pstampRequest SET state = 'run' WHERE req_id IN (:r, :o)", r=req, o=other)
        q(u, "UPDATE pstampJob SET state = 'run', fault = 4, fault_count = 1 WHERE req_id IN (:r, :o)",
          r=req, o=other)
        q(u, "UPDATE pstampJob SET fault = 23 WHERE job_id = :j", j=mine[0])      # a request-interface code
        if len(mine) > 1:
            q(u, "UPDATE pstampJob SET fault_count = 5 WHERE job_id = :j", j=mine[-1])  # at the retry limit
    revert_job = ("UPDATE pstampJob JOIN pstampRequest USING(req_id) SET pstampJob.fault = 0{count} "
                  "WHERE pstampRequest.state = 'run' AND pstampJob.state = 'run'{fault} AND {where}{limit}")
    replay(cli, a, b, f"pstamptool -revertjob -req_id {req}", [
        (revert_job.format(count="", fault=" AND (pstampJob.fault < 10)", where="req_id = :r",
                           limit=" AND pstampJob.fault_count < 5"), dict(r=req))], faulted_jobs)
    replay(cli, a, b, f"pstamptool -revertjob -label {label} -fault 23 -clear_fault_count", [
        (revert_job.format(count=", pstampJob.fault_count = 0", fault="",
                           where="pstampJob.fault = :f AND (pstampRequest.label LIKE :l)", limit=""),
         dict(f=23, l=label))])

    def faulted_requests(u):
        q(u, "UPDATE pstampRequest SET state = 'new', fault = 3 WHERE req_id = :r", r=req)
        q(u, "UPDATE pstampRequest SET state = 'run', fault = 2 WHERE req_id = :o", o=other)
    replay(cli, a, b, f"pstamptool -revertreq -req_id {req}", [
        ("DELETE pstampJob FROM pstampJob JOIN pstampRequest USING(req_id) WHERE pstampRequest.state = 'new' "
         "AND pstampRequest.fault > 0 AND req_id = :r", dict(r=req)),
        ("UPDATE pstampRequest SET fault = 0 WHERE pstampRequest.state != 'stop' AND req_id = :r", dict(r=req))],
        faulted_requests)
    replay(cli, a, b, "pstamptool -revertreq -fault 2 -state run", [
        ("DELETE pstampJob FROM pstampJob JOIN pstampRequest USING(req_id) WHERE pstampRequest.state = 'new' "
         "AND pstampRequest.fault > 0 AND pstampRequest.fault = :f AND pstampRequest.state = :s",
         dict(f=2, s="run")),
        ("UPDATE pstampRequest SET fault = 0 WHERE pstampRequest.state != 'stop' AND pstampRequest.fault = :f "
         "AND pstampRequest.state = :s", dict(f=2, s="run"))])


# difftool -definewarpwarp as difftool.c runs it: difftool_definewarpwarp_temp_create/_temp_insert.sql,
# _select.sql, then per selected pair a diffRun ('reg'), _insert.sql and 'new' (or the dummy run)
_WW_TEMP = ("CREATE TEMPORARY TABLE diffs (diff_id BIGINT, exp_id BIGINT, PRIMARY KEY(diff_id, exp_id), "
            "KEY(exp_id)) ENGINE=MEMORY")
_WW_TEMP_INSERT = (
    "INSERT INTO diffs SELECT DISTINCT diffWarps.diff_id, exp_id FROM ("
    "SELECT diffRun.diff_id, warp1 AS warp_id FROM diffRun JOIN diffInputSkyfile USING(diff_id) "
    "WHERE diffInputSkyfile.warp1 IS NOT NULL AND diffRun.exposure = 1 {lab} UNION "
    "SELECT diffRun.diff_id, warp2 AS warp_id FROM diffRun JOIN diffInputSkyfile USING(diff_id) "
    "WHERE diffInputSkyfile.warp2 IS NOT NULL AND diffRun.exposure = 1 AND diffRun.bothways = 1 {lab}"
    ") AS diffWarps JOIN warpRun USING(warp_id) JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) "
    "JOIN chipRun USING(chip_id)")
_WW_SELECT = (
    "SELECT inputWarpRun.warp_id AS input_warp_id, inputWarpRun.tess_id AS tess_id, "
    "inputRawExp.exp_id AS input_exp_id, inputWarpRun.data_group AS input_data_group, "
    "SUBSTRING_INDEX(GROUP_CONCAT(templateWarpRun.warp_id ORDER BY ABS(ASIN(SQRT(POW(SIN(0.5*(inputRawExp.decl "
    "- templateRawExp.decl)),2) + COS(inputRawExp.decl) * COS(templateRawExp.decl) * "
    "POW(SIN(0.5*(inputRawExp.ra - templateRawExp.ra)),2))))), ',', 1) AS template_warp_id "
    "FROM warpRun AS inputWarpRun JOIN fakeRun AS inputFakeRun USING(fake_id) JOIN camRun AS inputCamRun "
    "USING(cam_id) JOIN chipRun AS inputChipRun USING(chip_id) JOIN rawExp AS inputRawExp USING(exp_id) "
    "{diffs} JOIN warpRun AS templateWarpRun ON templateWarpRun.warp_id != inputWarpRun.warp_id "
    "AND templateWarpRun.tess_id = inputWarpRun.tess_id JOIN fakeRun AS templateFakeRun "
    "ON templateFakeRun.fake_id = templateWarpRun.fake_id AND templateFakeRun.fake_id != inputFakeRun.fake_id "
    "JOIN camRun AS templateCamRun ON templateCamRun.cam_id = templateFakeRun.cam_id "
    "AND templateCamRun.cam_id != inputCamRun.cam_id JOIN chipRun AS templateChipRun "
    "ON templateChipRun.chip_id = templateCamRun.chip_id AND templateChipRun.chip_id != inputChipRun.chip_id "
    "JOIN rawExp AS templateRawExp ON templateRawExp.exp_id = templateChipRun.exp_id "
    "AND templateRawExp.filter = inputRawExp.filter AND templateRawExp.exp_id != inputRawExp.exp_id "
    "WHERE inputWarpRun.state = 'full' AND templateWarpRun.state = 'full' {where} GROUP BY input_warp_id")
_WW_INSERT = (
    "INSERT INTO diffInputSkyfile SELECT :d, skycell_id, :i, NULL, :t, NULL, tess_id, 0 "
    "FROM warpSkyfile AS inputWarpSkyfile JOIN warpSkyfile AS templateWarpSkyfile USING(skycell_id, tess_id) "
    "WHERE inputWarpSkyfile.quality = 0 AND templateWarpSkyfile.quality = 0 "
    "AND inputWarpSkyfile.warp_id = :i AND templateWarpSkyfile.warp_id = :t {good}")


def _c_definewarpwarp(url, *, where="", params=None, label=None, rerun=False, limit=0, good_frac=None,
                      workdir, registered, backwards=False):
    from conftest import engine_for

    params = dict(params or {})
    sign = "<" if backwards else ">"
    where = f"{where} AND TIME_TO_SEC(TIMEDIFF(inputRawExp.dateobs, templateRawExp.dateobs)) {sign} 0"
    with engine_for(url).begin() as conn:
        if not rerun:
            conn.execute(text(_WW_TEMP))
            lab = "AND diffRun.label = :lab" if label else ""
            conn.execute(text(_WW_TEMP_INSERT.format(lab=lab)), dict(lab=label) if label else {})
            where += " AND diffs.diff_id IS NULL"
        rows = conn.execute(text(_WW_SELECT.format(diffs="" if rerun else "LEFT JOIN diffs USING(exp_id)",
                                                   where=where)), params).all()
        data_group, ids = None, []
        good = ("AND inputWarpSkyfile.good_frac >= :g AND templateWarpSkyfile.good_frac >= :g"
                if good_frac is not None else "")
        for r in rows[:limit] if limit else rows:
            data_group = data_group if data_group is not None else r.input_data_group
            conn.execute(text(
                "INSERT INTO diffRun (state, workdir, label, data_group, dist_group, reduction, dvodb, registered, "
                "tess_id, bothways, exposure, magicked, software_ver, maskfrac_npix, maskfrac_static, "
                "maskfrac_dynamic, maskfrac_magic, maskfrac_advisory, diff_mode, note) VALUES ('reg', :w, :l, :g, "
                "NULL, NULL, NULL, :reg, :tess, 1, 1, 0, NULL, 0, NULL, NULL, NULL, NULL, 1, NULL)"),
                dict(w=workdir, l=label, g=data_group if data_group is not None else label, reg=registered,
                     tess=r.tess_id))
            d = conn.execute(text("SELECT LAST_INSERT_ID()")).scalar()
            ids.append(d)
            n = conn.execute(text(_WW_INSERT.format(good=good)),
                             dict(d=d, i=r.input_warp_id, t=int(r.template_warp_id), g=good_frac)).rowcount
            if n > 0:
                conn.execute(text("UPDATE diffRun SET state = 'new' WHERE diff_id = :d"), dict(d=d))
            else:
                conn.execute(text("INSERT INTO diffInputSkyfile VALUES(:d, NULL, :i, NULL, :t, NULL, :tess, 0)"),
                             dict(d=d, i=r.input_warp_id, t=int(r.template_warp_id), tess=r.tess_id))
                conn.execute(text("UPDATE diffRun set state ='full', dist_group = NULL, "
                                  "note = 'dummy run - no overlap' WHERE diff_id = :d"), dict(d=d))
        if not rerun:
            conn.execute(text("DROP TEMPORARY TABLE diffs"))
    return rows, ids


def test_definewarpwarp_replays_the_c_sql(cli, pair):
    """difftool -definewarpwarp: the C statements on A, the legacy call on B, every table
    identical; -pretend prints difftool's selection; the defined runs are printed."""
    kind, a, b = pair
    reg = "2018-07-11 00:00:00"
    r = cli("--db", a, "difftool", "-definewarpwarp", "-set_workdir", "/w", "-set_label", "rp.ww", "-pretend",
            "-simple")
    assert r.code == 0, r.err
    assert "# modern equivalent: none (" in r.err
    pretend = [ln.split(" ") for ln in r.out.splitlines()]
    assert pretend
    r = cli("--db", a, "difftool", "-definewarpwarp", "-pretend")
    assert r.code == 3 and "-set_workdir is required" in r.err
    if kind == "sqlite":
        return
    # the selection the C SQL makes is the one -pretend printed
    from conftest import engine_for

    with engine_for(a).connect() as conn:
        conn.execute(text(_WW_TEMP))
        conn.execute(text(_WW_TEMP_INSERT.format(lab="AND diffRun.label = :lab")), dict(lab="rp.ww"))
        sel = conn.execute(text(_WW_SELECT.format(
            diffs="LEFT JOIN diffs USING(exp_id)",
            where="AND TIME_TO_SEC(TIMEDIFF(inputRawExp.dateobs, templateRawExp.dateobs)) > 0 "
                  "AND diffs.diff_id IS NULL"))).all()
        conn.execute(text("DROP TEMPORARY TABLE diffs"))
    assert [[str(r.input_warp_id), r.tess_id, str(r.input_exp_id), r.input_data_group or "", r.template_warp_id]
            for r in sel] == pretend

    def run(legacy: str, **c):
        before = dump(a)
        _, ids = _c_definewarpwarp(a, workdir="/w", registered=reg, **c)
        assert dump(a) != before and ids
        r = cli("--db", b, "difftool", "-definewarpwarp", *legacy.split(), "-set_workdir", "/w",
                "-set_registered", reg.replace(" ", "T"), "-simple")
        assert r.code == 0, (legacy, r.err)
        assert [int(ln.split(" ")[0]) for ln in r.out.splitlines()] == ids
        after, got = dump(a), dump(b)
        for t in after:
            assert got[t] == after[t], (legacy, t)
    run("-set_label rp.ww -limit 3", label="rp.ww", limit=3)
    run("-set_label rp.ww -limit 2", label="rp.ww", limit=2)      # the exposures diffed above are skipped
    w = pretend[0][0]
    run(f"-rerun -backwards -warp_id {w} -good_frac 0.5 -set_label rp.wb", rerun=True, backwards=True,
        label="rp.wb", good_frac=0.5, where="AND inputWarpRun.warp_id = :w", params=dict(w=int(w)))
    # a pair without a common quality-0 skycell: difftool's dummy run ('full', one NULL skycell)
    w, t = int(pretend[1][0]), int(pretend[1][4])
    both(pair, "UPDATE warpSkyfile SET quality = 1 WHERE warp_id = :t", t=t)
    _, ids = _c_definewarpwarp(a, workdir="/w", registered=reg, rerun=True, label="rp.wd",
                               where="AND inputWarpRun.warp_id = :w AND templateWarpRun.warp_id = :t",
                               params=dict(w=w, t=t))
    r = cli("--db", b, "difftool", "-definewarpwarp", "-rerun", "-warp_id", w, "-template_warp_id", t,
            "-set_label", "rp.wd", "-set_workdir", "/w", "-set_registered", reg.replace(" ", "T"),
            "-set_dist_group", "D1")
    assert r.code == 0, r.err
    assert "\n   state            STR       full            \n" in r.out
    assert "\n   dist_group       STR       D1              \n" in r.out      # the printed object keeps it
    after, got = dump(a), dump(b)
    for tname in after:
        assert got[tname] == after[tname], tname
    assert q(b, "SELECT state, dist_group, note FROM diffRun WHERE diff_id = :d", d=ids[0]) == [
        ("full", None, "dummy run - no overlap")]
    assert q(b, "SELECT skycell_id, warp1, warp2 FROM diffInputSkyfile WHERE diff_id = :d", d=ids[0]) == [
        (None, w, t)]
    both(pair, "UPDATE warpSkyfile SET quality = 0 WHERE warp_id = :t", t=t)
