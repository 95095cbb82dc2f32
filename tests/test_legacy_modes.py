"""The component, cleanup and stamp-job modes of the legacy front: their listings
(columns, selectors, C exit statuses) and, on MariaDB, a replay of the SQL the
C function builds against the legacy call on two copies of one demo database.

One pair of demo databases per backend for the whole module: every replay
changes both copies the same way, so they stay identical from one to the next."""

from __future__ import annotations

import shlex
import shutil

import pytest
from sqlalchemy import create_engine, text

from conftest import _create_schema, scratch_db_name, table_contents
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
        (root / "home" / ".config").mkdir(parents=True, exist_ok=True)  # astropy warns about a missing one
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


def same_inputs(a: str, b: str, diff_ids: list[int]) -> None:
    """diffInputSkyfile on A and B: the same rows, and the new runs' rows numbered in the
    same order (a C INSERT ... SELECT per run leaves InnoDB auto-increment gaps, so the
    diff_skyfile_id values themselves may differ)."""
    got = [table_contents(u, {"diffInputSkyfile": "diff_id, skycell_id, warp1, stack2"},
                          skip=("diff_skyfile_id",)) for u in (a, b)]
    assert got[0] == got[1]
    sql = ("SELECT diff_id, skycell_id, warp1, warp2, stack2, tess_id FROM diffInputSkyfile WHERE diff_id IN ("
           + ",".join(str(int(d)) for d in diff_ids) + ") ORDER BY diff_skyfile_id")
    assert q(a, sql) == q(b, sql)


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
        same_inputs(a, b, ids)
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


# chiptool -definecopy as chiptool.c runs it: chiptool_definecopy.sql with the WHERE of
# pxchipGetSearchArgs and the chipOld terms, then queue_exposures: per row a chipRun
# (pxchipQueueByExpTag) and its chipImfile rows
_COPY_SELECT = (
    "SELECT rawExp.*, newExp.label, chipOld.workdir AS old_workdir, chipOld.data_group AS old_data_group, "
    "chipOld.state AS old_state FROM chipRun AS chipOld JOIN rawExp USING(exp_id) JOIN newExp using (exp_id) "
    "LEFT JOIN chipRun AS chipNew ON chipNew.exp_id = chipOld.exp_id AND chipNew.label = :label "
    "WHERE chipNew.chip_id IS NULL AND rawExp.fault = 0 AND {where}")
_CHIP_INSERT = (
    "INSERT INTO chipRun (exp_id, state, workdir, workdir_state, label, data_group, dist_group, reduction, "
    "expgroup, dvodb, tess_id, end_stage, magicked, software_ver, maskfrac_npix, maskfrac_static, "
    "maskfrac_dynamic, maskfrac_magic, maskfrac_advisory, update_mode, note) VALUES (:exp, 'new', :w, 'dirty', "
    ":l, :g, :dist, :red, :eg, :dvo, :tess, :end, 0, NULL, 0, NULL, NULL, NULL, NULL, 0, :note)")


def _c_definecopy(url, where: str, params: dict, label: str, **set_):
    from conftest import engine_for

    with engine_for(url).begin() as conn:
        rows = conn.execute(text(_COPY_SELECT.format(where=where)), dict(params, label=label)).mappings().all()
        ids = []
        for r in rows:
            conn.execute(text(_CHIP_INSERT), dict(
                exp=r["exp_id"], w=set_.get("workdir") or r["workdir"], l=label,
                g=set_.get("data_group") or label, dist=set_.get("dist_group"),
                red=set_.get("reduction") or r["reduction"], eg=set_.get("expgroup"),
                dvo=set_.get("dvodb") or r["dvodb"], tess=set_.get("tess_id") or r["tess_id"],
                end=set_.get("end_stage") or r["end_stage"], note=set_.get("note")))
            chip = conn.execute(text("SELECT LAST_INSERT_ID()")).scalar()
            ids.append(chip)
            conn.execute(text("INSERT INTO chipImfile (chip_id, class_id) SELECT :c, class_id FROM rawImfile "
                              "WHERE exp_id = :e"), dict(c=chip, e=r["exp_id"]))
    return rows, ids


def test_definecopy_replays_the_c_sql(cli, pair):
    """chiptool -definecopy: exposures reached through their old chip runs (-label,
    -data_group LIKE, -state =, rawExp selectors), none that has a run of -set_label;
    workdir inherited from rawExp without -set_workdir; -pretend prints the rows of
    chiptool_definecopy.sql; two old runs of one exposure are refused."""
    kind, a, b = pair
    old = q(a, "SELECT c.chip_id, c.exp_id, c.label, c.data_group, r.filter FROM chipRun c JOIN rawExp r "
               "USING(exp_id) WHERE c.state = 'full' AND c.label LIKE 'OSS%' ORDER BY c.chip_id")
    assert len(old) > 3
    r = cli("--db", a, "chiptool", "-definecopy", "-label", "OSS%", "-state", "full", "-set_label", "dc.a",
            "-pretend")
    assert r.code == 0, r.err
    assert (f"# modern equivalent: mopstool --db {a} definebyquery --copy --copy-of-label OSS% "
            "--copy-of-state full --set-label dc.a --dry-run") in r.err, r.err
    assert _blocks(r.out, "rawExp") == len(old)
    for col in ("label", "old_workdir", "old_data_group", "old_state"):
        assert f"\n   {col:<15}  STR " in r.out
    r = cli("--db", a, "chiptool", "-definecopy", "-label", "OSS%", "-state", "full", "-set_label", "dc.a",
            "-pretend", "-simple")
    assert [int(ln.split(" ")[0]) for ln in r.out.splitlines()] == [o[1] for o in old]
    before = dump(a)
    for args, code, msg in ((["-label", "OSS%"], 3, "-set_label is required"),
                            (["-set_label", "dc.a"], 3, "search parameters are required"),
                            (["-label", "OSS%", "-limit", "1", "-set_label", "dc.a"], 3, "unknown option -limit")):
        r = cli("--db", a, "chiptool", "-definecopy", *args)
        assert r.code == code and msg in r.err, (args, r.err)
    # one exposure reached through two old runs: chiptool would define two identical runs
    both(pair, "INSERT INTO chipRun (exp_id, state, workdir, workdir_state, label, data_group, magicked, "
               "maskfrac_npix, update_mode) SELECT exp_id, 'full', workdir, 'dirty', 'OSS.second', data_group, 0, "
               "0, 0 FROM chipRun WHERE chip_id = :c", c=old[0][0])
    r = cli("--db", a, "chiptool", "-definecopy", "-label", "OSS%", "-state", "full", "-set_label", "dc.a")
    assert r.code == 3 and "more than one old chip run" in r.err, r.err
    assert dump(a) == dump(b)
    both(pair, "DELETE FROM chipRun WHERE label = 'OSS.second'")
    assert dump(a) == before
    if kind == "sqlite":
        r = cli("--db", a, "chiptool", "-definecopy", "-label", "OSS%", "-state", "full", "-set_label", "dc.a")
        assert r.code == 0 and r.out == "", r.err
        got = q(a, "SELECT c.exp_id, c.workdir, c.data_group, r.workdir FROM chipRun c JOIN rawExp r "
                   "USING(exp_id) WHERE c.label = 'dc.a' ORDER BY c.chip_id")
        assert [g[0] for g in got] == [o[1] for o in old] and all(g[1] == g[3] and g[2] == "dc.a" for g in got)
        return

    def run(legacy: str, where: str, params: dict, label: str, **set_):
        before = dump(a)
        rows, ids = _c_definecopy(a, where, params, label, **set_)
        assert ids and dump(a) != before, legacy
        r = cli("--db", b, "chiptool", "-definecopy", *shlex.split(legacy))
        assert r.code == 0 and r.out == "", (legacy, r.err)
        after, got = dump(a), dump(b)
        for t in after:
            if t != "chipImfile":
                assert got[t] == after[t], (legacy, t)
        # chipImfile: the same rows, numbered in the same order; chiptool's INSERT per run
        # leaves InnoDB's auto-increment gaps between runs, mopstool's one INSERT none
        imfiles = {u: table_contents(u, {"chipImfile": "chip_id, class_id"},
                                     skip=("chip_imfile_id",)) for u in (a, b)}
        assert imfiles[a] == imfiles[b], legacy
        new = "SELECT chip_id, class_id FROM chipImfile WHERE chip_id IN :ids ORDER BY chip_imfile_id"
        order = [q(u, new.replace(":ids", "(" + ",".join(map(str, ids)) + ")")) for u in (a, b)]
        assert order[0] == order[1] == sorted(order[0]), legacy
        return rows
    base = "rawExp.exp_type = 'object' AND (chipOld.label LIKE :l) AND chipOld.state = :s"
    rows = run("-label 'OSS%' -state full -set_label dc.a -set_data_group dc.group -set_note copied",
               base, dict(l="OSS%", s="full"), "dc.a", data_group="dc.group", note="copied")
    assert len(rows) == len(old)
    # the same again: every exposure has a dc.a run now, nothing to define
    r = cli("--db", b, "chiptool", "-definecopy", "-label", "OSS%", "-state", "full", "-set_label", "dc.a")
    assert r.code == 0
    assert {k: v for k, v in dump(a).items() if k != "chipImfile"} == \
        {k: v for k, v in dump(b).items() if k != "chipImfile"}
    flt, dg = old[0][4], old[0][3]
    run(f"-label 'OSS%' -label 'MSS%' -data_group '{dg}' -filter '{flt[:2]}%' -set_label dc.b "
        "-set_workdir neb://x/dc.b -set_dist_group D -set_reduction R -set_expgroup E -set_dvodb V "
        "-set_tess_id T -set_end_stage camera",
        "rawExp.exp_type = 'object' AND (chipOld.label LIKE :l1 OR chipOld.label LIKE :l2) "
        "AND (chipOld.data_group LIKE :g) AND rawExp.filter LIKE :f",
        dict(l1="OSS%", l2="MSS%", g=dg, f=flt[:2] + "%"), "dc.b", workdir="neb://x/dc.b", dist_group="D",
        reduction="R", expgroup="E", dvodb="V", tess_id="T", end_stage="camera")
    # the module's copies stay identical for the tests that follow: the copied runs go,
    # and B's chipImfile counter follows A's (which the gaps moved further)
    both(pair, "DELETE chipImfile FROM chipImfile JOIN chipRun USING(chip_id) WHERE chipRun.label LIKE 'dc._'")
    both(pair, "DELETE FROM chipRun WHERE label LIKE 'dc._'")
    top = q(a, "SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
               "AND TABLE_NAME = 'chipImfile'")[0][0]
    q(b, f"ALTER TABLE chipImfile AUTO_INCREMENT = {int(top)}")
    assert dump(a) == dump(b)


# difftool -definewarpstack as difftool.c runs it: difftool_definewarpstack_old.sql (or, with
# -lap_query, difftool_definewarpstack.sql), then per exposure a diffRun ('reg'), its
# diffInputSkyfile rows, and 'new'
_WS_OLD = (
    "SELECT exp_id, warp_id, rawExp.filter, warpRun.label AS warpLabel, warpRun.data_group AS warpDataGroup, "
    "warpRun.tess_id, warpSkyfile.skycell_id, MAX(stack_id) AS stack_id, stackRun.label AS stackLabel, "
    "stackRun.data_group AS stackDataGroup, diff_id, diffRun.label AS diffLabel FROM warpRun "
    "JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) JOIN chipRun USING(chip_id) JOIN rawExp USING(exp_id) "
    "JOIN warpSkyfile USING(warp_id) JOIN stackRun ON (stackRun.skycell_id = warpSkyfile.skycell_id AND "
    "stackRun.filter = rawExp.filter AND stackRun.tess_id = warpRun.tess_id) JOIN stackSumSkyfile USING(stack_id) "
    "LEFT JOIN diffInputSkyfile ON (warp_id = diffInputSkyfile.warp1 AND stack_id = diffInputSkyfile.stack2 AND "
    "diffInputSkyfile.skycell_id = stackRun.skycell_id AND diffInputSkyfile.tess_id = stackRun.tess_id) "
    "LEFT JOIN diffRun USING(diff_id) WHERE warpRun.state = 'full' AND stackRun.state = 'full' "
    "AND warpSkyfile.fault = 0 AND warpSkyfile.quality = 0 AND stackSumSkyfile.fault = 0 "
    "AND stackSumSkyfile.quality = 0 AND exp_id IS NOT NULL \n AND {where} "
    "GROUP BY exp_id,warp_id,skycell_id")
_WS_LAP = (
    "SELECT exp_id, warp_id, filter, warpLabel, warpDataGroup, Inputs.tess_id, Inputs.skycell_id, stack_id, "
    "stackLabel, stackDataGroup, diff_id, diffLabel FROM (SELECT exp_id, warp_id, rawExp.filter, "
    "warpRun.label AS warpLabel, warpRun.data_group AS warpDataGroup, warpRun.tess_id, warpSkyfile.skycell_id, "
    "MAX(stack_id) AS stack_id, stackRun.label AS stackLabel, stackRun.data_group AS stackDataGroup FROM warpRun "
    "JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) JOIN chipRun USING(chip_id) JOIN rawExp USING(exp_id) "
    "JOIN warpSkyfile USING(warp_id) JOIN stackRun ON (stackRun.skycell_id = warpSkyfile.skycell_id AND "
    "stackRun.filter = rawExp.filter AND stackRun.tess_id = warpRun.tess_id) JOIN stackSumSkyfile USING(stack_id) "
    "WHERE warpRun.state = 'full' AND stackRun.state = 'full' AND warpSkyfile.fault = 0 "
    "AND warpSkyfile.quality = 0 AND stackSumSkyfile.fault = 0 AND stackSumSkyfile.quality = 0 "
    "AND exp_id IS NOT NULL \n AND {where} GROUP BY exp_id,warp_id,skycell_id) AS Inputs LEFT JOIN "
    "(SELECT diff_id, diffRun.label AS diffLabel, warp1, stack2, skycell_id, diffInputSkyfile.tess_id FROM "
    "diffRun JOIN diffInputSkyfile USING(diff_id,tess_id) WHERE diff_mode = 2 {diffwhere}) AS Diffs ON "
    "(warp_id = warp1 AND stack_id = stack2 AND Diffs.skycell_id = Inputs.skycell_id AND "
    "Diffs.tess_id = Inputs.tess_id) WHERE 1 {joinwhere}")


def _c_definewarpstack(url, where: str, params: dict, *, label, workdir, registered, data_group=None,
                       reduction=None, dist_group=None, note=None, bothways=False, rerun=False, lap=False):
    from conftest import engine_for

    diff = "\nAND ((diffRun.label = :lab) OR (diffRun.label IS NULL))"
    if data_group:
        diff += "\nAND ((diffRun.data_group = :dg) OR (diffRun.data_group IS NULL))"
    if reduction:
        diff += "\nAND ((diffRun.reduction = :red) OR (diffRun.reduction IS NULL))"
    bound = dict(params, lab=label, dg=data_group, red=reduction)
    with engine_for(url).begin() as conn:
        if lap:
            sql = _WS_LAP.format(where=where, diffwhere=diff, joinwhere="" if rerun else "\nAND diff_id IS NULL\n")
        else:
            sql = _WS_OLD.format(where=where + ("" if rerun else "\nAND diff_id IS NULL\n") + diff)
        rows = conn.execute(text(sql), bound).mappings().all()
        ids, last = [], 0
        for r in rows:
            if r["exp_id"] != last:
                if ids:
                    conn.execute(text("UPDATE diffRun SET state = 'new' WHERE diff_id = :d"), dict(d=ids[-1]))
                conn.execute(text(
                    "INSERT INTO diffRun (state, workdir, label, data_group, dist_group, reduction, dvodb, registered, "
                    "tess_id, bothways, exposure, magicked, software_ver, maskfrac_npix, maskfrac_static, "
                    "maskfrac_dynamic, maskfrac_magic, maskfrac_advisory, diff_mode, note) VALUES ('reg', :w, :l, "
                    ":g, :dist, :red, NULL, :reg, :tess, :both, 1, 0, NULL, 0, NULL, NULL, NULL, NULL, 2, :note)"),
                    dict(w=workdir, l=label, g=data_group or r["warpDataGroup"], dist=dist_group, red=reduction,
                         reg=registered, tess=r["tess_id"], both=int(bothways), note=note))
                ids.append(conn.execute(text("SELECT LAST_INSERT_ID()")).scalar())
                last = r["exp_id"]
            conn.execute(text("INSERT INTO diffInputSkyfile (diff_id, skycell_id, warp1, stack1, warp2, stack2, "
                              "tess_id, diff_skyfile_id) VALUES (:d, :s, :w, NULL, NULL, :st, :t, 0)"),
                         dict(d=ids[-1], s=r["skycell_id"], w=r["warp_id"], st=r["stack_id"], t=r["tess_id"]))
        if ids:
            conn.execute(text("UPDATE diffRun SET state = 'new' WHERE diff_id = :d"), dict(d=ids[-1]))
    return rows, ids


def test_definewarpstack_replays_the_c_sql(cli, pair):
    """difftool -definewarpstack: one diffRun per exposure of the selected warp-stack
    pairs (diff_mode 2), printed as difftool prints them (state 'reg'); -pretend
    prints the selection; the old and the LAP selection, -rerun, the space box."""
    kind, a, b = pair
    reg = "2018-07-11 00:00:00"
    # a newer template of one skycell: no warp has a diff with it yet
    top, old = q(a, "SELECT MAX(stack_id), MIN(stack_id) FROM stackRun WHERE label = 'FSS.refstack'")[0]
    both(pair, "INSERT INTO stackRun (stack_id, state, workdir, label, data_group, skycell_id, tess_id, filter) "
               "SELECT :n, 'full', workdir, 'ws.newstack', data_group, skycell_id, tess_id, filter FROM stackRun "
               "WHERE stack_id = :o", n=top + 100, o=old)
    both(pair, "INSERT INTO stackSumSkyfile (stack_id, uri, path_base, good_frac, fault, quality) "
               "SELECT :n, uri, path_base, good_frac, 0, 0 FROM stackSumSkyfile WHERE stack_id = :o",
         n=top + 100, o=old)
    r = cli("--db", a, "difftool", "-definewarpstack", "-stack_label", "ws.newstack", "-set_label", "ws.a",
            "-set_workdir", "/w", "-pretend", "-simple", "-available")
    assert r.code == 0, r.err
    assert "# modern equivalent: none (" in r.err and "-available is ignored" in r.err
    pretend = [ln.split(" ") for ln in r.out.splitlines()]
    assert len(pretend) > 2 and all(p[7] == str(top + 100) and p[8] == "ws.newstack" for p in pretend)
    for args, code, msg in ((["-set_label", "x", "-set_workdir", "w"], 1, "search parameters are required"),
                            (["-warp_id", "1", "-set_workdir", "w"], 3, "-set_label is required"),
                            (["-warp_id", "1", "-set_label", "x"], 3, "-set_workdir is required"),
                            (["-warp_id", "1", "-limit", "1"], 3, "unknown option -limit")):
        r = cli("--db", a, "difftool", "-definewarpstack", *args)
        assert r.code == code and msg in r.err, (args, r.err)
    if kind == "sqlite":
        r = cli("--db", a, "difftool", "-definewarpstack", "-stack_label", "ws.newstack", "-set_label", "ws.a",
                "-set_workdir", "/w", "-simple")
        assert r.code == 0, r.err
        assert len(r.out.splitlines()) == len({p[0] for p in pretend}) and " reg " in r.out
        assert q(a, "SELECT COUNT(*) FROM diffInputSkyfile JOIN diffRun USING(diff_id) WHERE label = 'ws.a' "
                    "AND state = 'new' AND diff_mode = 2")[0][0] == len(pretend)
        return
    from conftest import engine_for

    with engine_for(a).connect() as conn:
        sel = conn.execute(text(_WS_OLD.format(where="stackRun.label = :sl\nAND diff_id IS NULL\n"
                                               "\nAND ((diffRun.label = :lab) OR (diffRun.label IS NULL))")),
                           dict(sl="ws.newstack", lab="ws.a")).all()
    assert [[str(x.exp_id), str(x.warp_id), x.filter, x.warpLabel, x.warpDataGroup, x.tess_id, x.skycell_id,
             str(x.stack_id)] for x in sel] == [p[:8] for p in pretend]

    def run(legacy: str, where: str, params: dict, **c):
        before = dump(a)
        rows, ids = _c_definewarpstack(a, where, params, workdir="/w", registered=reg, **c)
        assert ids and dump(a) != before, legacy
        r = cli("--db", b, "difftool", "-definewarpstack", *shlex.split(legacy), "-set_workdir", "/w",
                "-set_registered", reg.replace(" ", "T"), "-simple")
        assert r.code == 0, (legacy, r.err)
        printed = [ln.split(" ") for ln in r.out.splitlines()]
        assert [int(p[0]) for p in printed] == ids and all(p[1] == "reg" for p in printed)
        after, got = dump(a), dump(b)
        for t in after:
            assert got[t] == after[t], (legacy, t)
        same_inputs(a, b, ids)
        return rows
    run("-stack_label ws.newstack -set_label ws.a", "stackRun.label = :sl", dict(sl="ws.newstack"), label="ws.a")
    # every FSS warp again under the nightly WS label: -rerun, -bothways, setters
    rows = run("-rerun -warp_label FSS.nightlyscience -set_label FSS.WS.nightlyscience -bothways "
               "-set_reduction WARPSTACK -set_dist_group D -set_note n",
               "warpRun.label = :wl", dict(wl="FSS.nightlyscience"), label="FSS.WS.nightlyscience",
               reduction="WARPSTACK", dist_group="D", note="n", bothways=True, rerun=True)
    assert len({x["exp_id"] for x in rows}) > 2
    # the LAP selection; with -rerun a pair with two diffs of the label comes twice, as in difftool
    rows = run("-lap_query -rerun -warp_label FSS.nightlyscience -set_label FSS.WS.nightlyscience",
               "warpRun.label = :wl", dict(wl="FSS.nightlyscience"), label="FSS.WS.nightlyscience", lap=True,
               rerun=True)
    assert len(rows) > len({(x["warp_id"], x["skycell_id"]) for x in rows})
    # -data_group selects the warps and is the default -set_data_group (also in the diff check)
    run("-lap_query -stack_label FSS.refstack -data_group FSS.20180710 -set_label ws.lap",
        "stackRun.label = :sl AND warpRun.data_group = :wdg", dict(sl="FSS.refstack", wdg="FSS.20180710"),
        label="ws.lap", data_group="FSS.20180710", lap=True)
    run("-lap_query -stack_label FSS.refstack -set_data_group ws.dg -set_label ws.dg", "stackRun.label = :sl",
        dict(sl="FSS.refstack"), label="ws.dg", data_group="ws.dg", lap=True)
    # the old selection without -rerun: every pair has a diff by now
    r = cli("--db", b, "difftool", "-definewarpstack", "-stack_label", "FSS.refstack", "-set_label", "ws.z",
            "-set_workdir", "/w")
    assert r.code == 0 and r.out == "" and dump(a) == dump(b)
    # the space box (degrees, <= for the maxima), -good_frac, -skycell_id, -filter, -comment, -exp_id
    e = q(a, "SELECT r.exp_id, r.ra, r.decl, r.filter, r.comment, w.warp_id, s.skycell_id FROM warpRun w "
             "JOIN fakeRun USING(fake_id) JOIN camRun USING(cam_id) JOIN chipRun USING(chip_id) "
             "JOIN rawExp r USING(exp_id) JOIN warpSkyfile s USING(warp_id) JOIN stackRun t "
             "ON t.skycell_id = s.skycell_id WHERE w.label = 'FSS.nightlyscience' ORDER BY r.exp_id, s.skycell_id")
    import math

    x = e[0]
    ra, dec = math.degrees(x[1]), math.degrees(x[2])
    run(f"-rerun -ra_min {ra - 1} -ra_max {ra + 1} -dec_min {dec - 1} -dec_max {dec + 1} -good_frac 0.1 "
        f"-skycell_id {x[6]} -filter {x[3]} -comment '{x[4][:3]}%' -exp_id {x[0]} -set_label FSS.WS.nightlyscience",
        "rawExp.ra >= :r1 AND rawExp.ra <= :r2 AND rawExp.decl >= :d1 AND rawExp.decl <= :d2 "
        "AND warpSkyfile.good_frac >= 0.1 AND warpSkyfile.skycell_id = :s AND rawExp.filter = :f "
        "AND comment LIKE :c AND exp_id = :e",
        dict(r1=math.radians(ra - 1), r2=math.radians(ra + 1), d1=math.radians(dec - 1), d2=math.radians(dec + 1),
             s=x[6], f=x[3], c=x[4][:3] + "%", e=x[0]), label="FSS.WS.nightlyscience", rerun=True)
