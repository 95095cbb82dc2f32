"""Replay: the SQL the C tools build for a write mode (transcribed from
ippTools/share/*.sql and the mode's C function, values bound as parameters)
run on one copy of a database, the legacy call on another copy: every table
must end up identical. MariaDB only (the C SQL is MySQL SQL)."""

from __future__ import annotations

import shlex

import pytest

from test_legacy_dropin import demo_pair, dump, q  # noqa: F401  (fixture)


@pytest.fixture
def mysql_pair(demo_pair, db_url):
    if db_url.startswith("sqlite"):
        pytest.skip("the C tools' SQL is MySQL SQL")
    return demo_pair


def replay(cli, a, b, legacy_args: str, statements: list[tuple[str, dict]], prepare=None):
    for u in (a, b):
        if prepare:
            prepare(u)
    assert dump(a) == dump(b)
    before = dump(a)
    for sql, params in statements:
        q(a, sql, **params)
    r = cli("--db", b, *shlex.split(legacy_args))
    assert r.code == 0, (legacy_args, r.err)
    after = dump(a)
    assert after != before, f"the C SQL changed nothing: {legacy_args}"
    got = dump(b)
    for t in after:
        assert got[t] == after[t], (legacy_args, t)


def test_write_modes_replay_the_c_sql(cli, mysql_pair):
    a, b = mysql_pair
    chip = q(a, "SELECT chip_id FROM chipRun WHERE state = 'full' ORDER BY chip_id")[0][0]
    warp = q(a, "SELECT warp_id FROM warpRun WHERE state = 'full' ORDER BY warp_id")[0][0]
    req = q(a, "SELECT req_id FROM pstampRequest WHERE state = 'run' ORDER BY req_id")[0][0]
    exp = q(a, "SELECT exp_id, exp_name FROM rawExp r WHERE exp_type = 'object' AND fault = 0 AND NOT "
               "EXISTS (SELECT 1 FROM chipRun c WHERE c.exp_id = r.exp_id AND c.label = 'rp.test') "
               "ORDER BY exp_id")[0]

    # chiptool -updaterun (pxUpdateRun)
    replay(cli, a, b, f"chiptool -updaterun -chip_id {chip} -set_state goto_cleaned -set_label goto_cleaned",
           [("UPDATE chipRun JOIN rawExp USING(exp_id) SET chipRun.state = :s, chipRun.label = :l "
             "WHERE chipRun.chip_id = :c", dict(s="goto_cleaned", l="goto_cleaned", c=chip))])
    replay(cli, a, b, "chiptool -updaterun -label 'OSS%' -state full -set_note replayed",
           [("UPDATE chipRun JOIN rawExp USING(exp_id) SET chipRun.note = :n "
             "WHERE chipRun.label LIKE :l AND chipRun.state = :s", dict(n="replayed", l="OSS%", s="full"))])

    # chiptool -revertprocessedimfile -label L (fault 26 of new runs deleted too)
    def faulted(u):
        q(u, "UPDATE chipRun SET state = 'new', label = 'rv_x' WHERE chip_id = :c", c=chip + 1)
        q(u, "UPDATE chipProcessedImfile SET fault = 26 WHERE chip_id = :c AND class_id = 'XY01'", c=chip + 1)
        q(u, "UPDATE chipProcessedImfile SET fault = 3 WHERE chip_id = :c AND class_id = 'XY02'", c=chip + 1)
        q(u, "UPDATE chipRun SET state = 'new', label = 'rvXx' WHERE chip_id = :c", c=chip + 2)
        q(u, "UPDATE chipProcessedImfile SET fault = 3 WHERE chip_id = :c", c=chip + 2)
    replay(cli, a, b, "chiptool -revertprocessedimfile -label rv_x", [
        ("DELETE FROM chipProcessedImfile USING chipProcessedImfile, chipRun, rawExp "
         "WHERE chipRun.chip_id = chipProcessedImfile.chip_id AND rawExp.exp_id = chipProcessedImfile.exp_id "
         "AND chipRun.state = 'new' AND chipProcessedImfile.fault != 0 AND chipRun.label = :l", dict(l="rv_x")),
        ("UPDATE chipProcessedImfile JOIN chipRun USING(chip_id, exp_id) JOIN rawExp USING(exp_id) "
         "SET chipProcessedImfile.fault = 0 WHERE chipRun.state = 'update' "
         "AND chipProcessedImfile.data_state = 'update' AND chipProcessedImfile.fault != 0 "
         "AND chipRun.label = :l AND (chipProcessedImfile.fault != 26)", dict(l="rv_x"))], faulted)

    # chiptool -dropprocessedimfile
    replay(cli, a, b, f"chiptool -dropprocessedimfile -chip_id {chip} -class_id XY03 -set_quality 42", [
        ("UPDATE chipProcessedImfile LEFT JOIN camRun USING(chip_id) SET chipProcessedImfile.quality = :q, "
         "chipProcessedImfile.data_state = 'full', chipProcessedImfile.magicked = 0, "
         "chipProcessedImfile.fault = 0 WHERE chipProcessedImfile.chip_id = :c "
         "AND chipProcessedImfile.class_id = :k", dict(q=42, c=chip, k="XY03"))])

    # chiptool -block / -unblock (chipMaskInsert, DELETE)
    replay(cli, a, b, "chiptool -block -label blk.test",
           [("INSERT INTO chipMask (label) VALUES (:l)", dict(l="blk.test"))])
    replay(cli, a, b, "chiptool -unblock -label blk.test",
           [("DELETE FROM chipMask WHERE label = :l", dict(l="blk.test"))])

    # warptool -setskyfiletoupdate (warptool_setskyfiletoupdate.sql + label hook + bad-quality sweep)
    def cleaned(u):
        q(u, "UPDATE warpRun SET state = 'cleaned' WHERE warp_id = :w", w=warp)
        q(u, "UPDATE warpSkyfile SET data_state = 'cleaned' WHERE warp_id = :w", w=warp)
    replay(cli, a, b, f"warptool -setskyfiletoupdate -warp_id {warp} -set_label ps_ud_WEB", [
        ("UPDATE warpRun JOIN warpSkyfile USING(warp_id) SET warpRun.state = 'update', "
         "warpSkyfile.data_state = 'update', warpSkyfile.fault = 0, warpRun.label = :l "
         "WHERE warp_id = :w AND (warpRun.state = 'cleaned' OR warpRun.state = 'update') "
         "AND (warpSkyfile.data_state = 'cleaned' OR warpSkyfile.data_state = 'update') "
         "AND (warpSkyfile.quality = 0) AND warpSkyfile.fault != 26", dict(l="ps_ud_WEB", w=warp)),
        ("UPDATE warpSkyfile SET data_state = 'full', fault = 0 WHERE warp_id = :w AND quality != 0 "
         "AND data_state != 'full'", dict(w=warp))], cleaned)

    # pstamptool -updatereq (updatereqMode): stop a cleaned request; queue old stopped ones for cleanup
    replay(cli, a, b, f"pstamptool -updatereq -set_state stop -req_id {req}",
           [("UPDATE pstampRequest SET timestamp = UTC_TIMESTAMP(), state = 'stop' WHERE req_id = :r",
             dict(r=req))],
           lambda u: q(u, "UPDATE pstampRequest SET state = 'cleaned' WHERE req_id = :r", r=req))
    replay(cli, a, b, "pstamptool -updatereq -set_state goto_cleaned -state stop "
                      "-timestamp_end 2100-01-01T00:00:00",
           [("UPDATE pstampRequest SET timestamp = UTC_TIMESTAMP(), state = 'goto_cleaned' "
             "WHERE state = 'stop' AND timestamp <= :t AND (state != 'cleaned' AND state != 'goto_cleaned')",
             dict(t="2100-01-01 00:00:00"))])

    # chiptool -definebyquery (chiptool_find_rawexp.sql + pxchipQueueByExpTag)
    replay(cli, a, b, f"chiptool -definebyquery -exp_name {exp[1]} -set_label rp.test "
                      "-set_workdir neb://@HOST@.0/rp -set_tess_id RINGS.V3 -set_end_stage warp", [
        ("INSERT INTO chipRun (exp_id, state, workdir, workdir_state, label, data_group, dist_group, "
         "reduction, expgroup, dvodb, tess_id, end_stage, magicked, software_ver, maskfrac_npix, "
         "maskfrac_static, maskfrac_dynamic, maskfrac_magic, maskfrac_advisory, update_mode, note) "
         "SELECT exp_id, 'new', :w, 'dirty', :l, :l, NULL, reduction, NULL, dvodb, :t, :e, 0, NULL, 0, "
         "NULL, NULL, NULL, NULL, 0, NULL FROM rawExp WHERE exp_id = :x",
         dict(w="neb://@HOST@.0/rp", l="rp.test", t="RINGS.V3", e="warp", x=exp[0])),
        ("INSERT INTO chipImfile (chip_id, class_id) SELECT (SELECT MAX(chip_id) FROM chipRun), class_id "
         "FROM rawImfile WHERE exp_id = :x", dict(x=exp[0]))])
