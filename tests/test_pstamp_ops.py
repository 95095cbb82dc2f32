"""pstamp-req database operations on SQLite and MariaDB (the db_url fixture)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from mopstool.db import Databases, schema
from mopstool.db.dialect import next_id
from mopstool.db.own import mopstoolAudit
from mopstool.errors import ExitCode, NotFound, UsageError
from mopstool.ops.pstamp import requests as ops

REQ = schema.table("pstampRequest", pstamp_db=True)
JOB = schema.table("pstampJob", pstamp_db=True)
DEP = schema.table("pstampDependent", pstamp_db=True)
FILE = schema.table("pstampFile", pstamp_db=True)
OLD = datetime(2018, 7, 1, 12, 0, 0)
QUOTE_LABEL = "O'Brien \"100%\""


def add_request(conn, *, name, label="MOPS", state="stop", fault=0, registered=None, timestamp=None,
                username="mops@ifa.hawaii.edu", req_id=None):
    req_id = req_id or next_id(conn, REQ, "req_id")
    reg = registered or OLD
    conn.execute(REQ.insert().values(req_id=req_id, ds_id=0, state=state, name=name, reqType="pstamp",
                                     label=label, outProduct="mops-stamps", uri=f"/req/{name}.fits",
                                     outdir=f"/work/{req_id}", username=username, proj_id=1,
                                     registered=reg, timestamp=timestamp or reg, fault=fault))
    return req_id


def add_job(conn, req_id, *, state="stop", fault=0, fault_count=0, dep_id=0, rownum="1"):
    job_id = next_id(conn, JOB, "job_id")
    conn.execute(JOB.insert().values(job_id=job_id, req_id=req_id, rownum=rownum, state=state,
                                     jobType="stamp", fault=fault, exp_id=None,
                                     outputBase=f"/work/{req_id}/{job_id}", options=1, dep_id=dep_id,
                                     fault_count=fault_count, parent_id=None, is_parent=0))
    return job_id


def add_dep(conn, *, stage="chip", stage_id=1, component="XY33", state="new", fault=0, fault_count=0,
            rlabel="ps_ud_MOPS"):
    dep_id = next_id(conn, DEP, "dep_id")
    conn.execute(DEP.insert().values(dep_id=dep_id, state=state, stage=stage, stage_id=stage_id,
                                     component=component, imagedb="gpc1", outdir="/work/dep",
                                     rlabel=rlabel, need_magic=0, fault=fault, fault_count=fault_count))
    return dep_id


def requests(dbs):
    with dbs.connect(pstamp_db=True) as conn:
        return {r.req_id: dict(r._mapping) for r in conn.execute(select(REQ))}


def audit_count(dbs):
    with dbs.connect() as conn:
        return conn.execute(select(func.count()).select_from(mopstoolAudit)).scalar()


@pytest.fixture
def four(dbs):
    """A running, a stopped, a cleaned and a goto_cleaned request."""
    with dbs.begin(pstamp_db=True) as conn:
        ids = {s: add_request(conn, name=f"MOPS.stamps.{s}", state=s)
               for s in ("run", "stop", "cleaned", "goto_cleaned")}
        add_job(conn, ids["run"], state="run")
    return ids


# ------------------------------------------------------------------ stop / clean recipes
def test_stop_recipe_bumps_timestamp(cli, db_url, dbs, four):
    before = ops.utcnow(microseconds=False)
    r = cli("pstamp-req", "stop", four["run"], "--db", db_url, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["changed"] == [four["run"]] and out["applied"] and not out["dry_run"]
    rows = requests(dbs)
    assert rows[four["run"]]["state"] == "stop"
    assert rows[four["run"]]["timestamp"] >= before
    # the others are untouched, timestamps included
    for s in ("stop", "cleaned", "goto_cleaned"):
        assert rows[four[s]]["state"] == s and rows[four[s]]["timestamp"] == OLD
    assert audit_count(dbs) == 1


def test_stop_leaves_stopped_and_cleaned_requests_alone(cli, db_url, dbs, four):
    r = cli("pstamp-req", "stop", four["stop"], four["cleaned"], "--db", db_url, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["changed"] == []
    assert {s["req_id"]: s["reason"].split(";")[0] for s in out["skipped"]} == {
        four["stop"]: "already stop", four["cleaned"]: "already cleaned"}
    rows = requests(dbs)
    assert rows[four["cleaned"]]["state"] == "cleaned"
    assert rows[four["stop"]]["timestamp"] == OLD


def test_clean_skips_already_cleaned_and_rerun_is_a_noop(cli, db_url, dbs, four):
    ids = [four["run"], four["stop"], four["cleaned"], four["goto_cleaned"]]
    r = cli("pstamp-req", "clean", *ids, "--db", db_url, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert sorted(out["changed"]) == sorted([four["run"], four["stop"]])
    assert {s["req_id"] for s in out["skipped"]} == {four["cleaned"], four["goto_cleaned"]}
    rows = requests(dbs)
    assert rows[four["run"]]["state"] == rows[four["stop"]]["state"] == "goto_cleaned"
    assert rows[four["cleaned"]]["state"] == "cleaned"
    assert rows[four["cleaned"]]["timestamp"] == OLD
    stamp = rows[four["run"]]["timestamp"]
    assert stamp > OLD
    # re-running skips everything and writes nothing
    r = cli("pstamp-req", "clean", *ids, "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["changed"] == [] and not r.json()["dry_run"] and not r.json()["applied"]
    assert len(r.json()["skipped"]) == 4 and "nothing to change" in r.err
    assert requests(dbs)[four["run"]]["timestamp"] == stamp


def test_dry_run_writes_nothing(cli, db_url, dbs, four):
    n_audit = audit_count(dbs)
    r = cli("pstamp-req", "clean", four["run"], four["stop"], "--dry-run", "--db", db_url, "--json")
    assert r.code == 0, r.err
    out = r.json()
    assert out["dry_run"] and not out["applied"]
    assert sorted(out["changed"]) == sorted([four["run"], four["stop"]])
    rows = requests(dbs)
    assert rows[four["run"]]["state"] == "run" and rows[four["stop"]]["state"] == "stop"
    assert rows[four["run"]]["timestamp"] == OLD
    assert audit_count(dbs) == n_audit
    assert "nothing written" in r.err


def test_unknown_req_id_is_an_error_and_writes_nothing(cli, db_url, dbs, four):
    r = cli("pstamp-req", "stop", four["run"], 999999, "--db", db_url)
    assert r.code == ExitCode.DATA
    assert "999999" in r.err and r.err.count("\n") == 1
    assert requests(dbs)[four["run"]]["state"] == "run"


def test_update_requests_api_ipp_semantics(dbs, four):
    # pstamptool itself stops a cleaned request and ignores ids it does not know
    res = ops.update_requests(dbs, ops.RequestSelector(req_ids=[four["cleaned"], 999999]),
                              set_state="stop", ipp_semantics=True)
    assert res.changed == [four["cleaned"]]
    assert requests(dbs)[four["cleaned"]]["state"] == "stop"
    # the goto_cleaned guard holds even then
    res = ops.update_requests(dbs, ops.RequestSelector(req_ids=[four["goto_cleaned"]]),
                              set_state="goto_cleaned", ipp_semantics=True)
    assert res.changed == [] and res.skipped[0]["reason"] == "already goto_cleaned"
    with pytest.raises(UsageError):
        ops.update_requests(dbs, ops.RequestSelector(), set_state="stop")
    with pytest.raises(UsageError):
        ops.update_requests(dbs, ops.RequestSelector(req_ids=[four["run"]]))
    with pytest.raises(UsageError):
        ops.update_requests(dbs, ops.RequestSelector(req_ids=[four["run"]]), set_state="bogus")
    with pytest.raises(NotFound):
        ops.stop_requests(dbs, [424242])


def test_update_by_label_with_quotes_and_percent(dbs):
    with dbs.begin(pstamp_db=True) as conn:
        a = add_request(conn, name="q.a", label=QUOTE_LABEL, state="run")
        b = add_request(conn, name="q.b", label="O'Brien \"1000\"", state="run")
        c = add_request(conn, name="q.c", label="Other", state="run")
    res = ops.update_requests(dbs, ops.RequestSelector(labels=[QUOTE_LABEL]), set_state="stop",
                              set_label="x'y%z")
    # "%" is the LIKE wildcard, as in the IPP: the pattern also matches O'Brien "1000"
    assert sorted(res.changed) == sorted([a, b])
    rows = requests(dbs)
    assert rows[a]["label"] == rows[b]["label"] == "x'y%z"
    assert rows[c]["state"] == "run" and rows[c]["label"] == "Other"


# ------------------------------------------------------------------ list / show
def test_list_filters(cli, db_url, dbs):
    with dbs.begin(pstamp_db=True) as conn:
        a = add_request(conn, name="MOPS.stamps.20180710.001", label=QUOTE_LABEL, state="run",
                        registered=datetime(2018, 7, 10, 18))
        add_job(conn, a, state="run")
        add_job(conn, a, state="stop", fault=25)
        b = add_request(conn, name="QUB.upload.0001", label="QUB", state="new",
                        registered=datetime(2018, 7, 10, 19))
        c = add_request(conn, name="MOPS.stamps.20180709.001", label="MOPS", state="run", fault=21,
                        registered=datetime(2018, 7, 9, 18))
    r = cli("pstamp-req", "list", "--label", QUOTE_LABEL, "--db", db_url, "--json")
    assert r.code == 0, r.err
    rows = r.json()
    assert [x["req_id"] for x in rows] == [a]
    assert rows[0]["jobs"] == 2 and rows[0]["jobs_run"] == 1 and rows[0]["jobs_faulted"] == 1
    r = cli("pstamp-req", "list", "--state", "new", "--db", db_url, "--json")
    assert [x["req_id"] for x in r.json()] == [b]
    r = cli("pstamp-req", "list", "--name", "MOPS.stamps.%", "--since", "2018-07-10", "--db", db_url, "--json")
    assert [x["req_id"] for x in r.json()] == [a]
    r = cli("pstamp-req", "list", "--fault", "21", "--db", db_url, "--json")
    rows = r.json()
    assert [x["req_id"] for x in rows] == [c] and rows[0]["fault_meaning"].startswith("INVALID_REQUEST")
    r = cli("pstamp-req", "list", "--name", "nothing%", "--db", db_url, "--json")
    assert r.code == 0 and r.json() == []
    with pytest.raises(NotFound):
        ops.list_requests(dbs, ops.RequestSelector(names=["nothing%"]), require_match=True)
    with pytest.raises(UsageError):
        ops.list_requests(dbs, ops.RequestSelector(), require_filter=True)
    r = cli("pstamp-req", "list", "--db", db_url)
    assert r.code == 0 and "QUB.upload.0001" in r.out


def test_show_request_with_jobs_dependents_files(cli, db_url, dbs):
    with dbs.begin(pstamp_db=True) as conn:
        req = add_request(conn, name="MOPS.precovery.broken", state="run")
        dep = add_dep(conn, state="new", fault=3, fault_count=1)
        j1 = add_job(conn, req, state="stop", fault=25, dep_id=dep)
        j2 = add_job(conn, req, state="run", rownum="2", dep_id=dep)
        conn.execute(FILE.insert().values(file_id=1, job_id=j1, path="neb://bundle/1.tgz"))
    r = cli("pstamp-req", "show", req, "--db", db_url, "--json")
    assert r.code == 0, r.err
    d = r.json()
    assert d["request"]["name"] == "MOPS.precovery.broken"
    jobs = {j["job_id"]: j for j in d["jobs"]}
    assert jobs[j1]["fault_meaning"].startswith("NOT_AVAILABLE")
    assert jobs[j2]["waiting_on"].startswith(f"dependent {dep}")
    assert d["dependents"][0]["dep_id"] == dep and d["dependents"][0]["rlabel"] == "ps_ud_MOPS"
    assert d["files"][0]["path"] == "neb://bundle/1.tgz"
    r = cli("pstamp-req", "show", req, "--db", db_url)
    assert r.code == 0 and "NOT_AVAILABLE" in r.out and "ps_ud_MOPS" in r.out
    r = cli("pstamp-req", "show", 987654, "--db", db_url)
    assert r.code == ExitCode.DATA and "987654" in r.err


# ------------------------------------------------------------------ revert
def test_revert_defaults(cli, db_url, dbs):
    with dbs.begin(pstamp_db=True) as conn:
        half = add_request(conn, name="half.parsed", state="new", fault=4)
        add_job(conn, half, state="run")
        add_job(conn, half, state="run", rownum="2")
        final = add_request(conn, name="bad.file", state="run", fault=21)
        stopped = add_request(conn, name="stopped.faulted", state="stop", fault=2)
        running = add_request(conn, name="running", state="run")
        j_ok = add_job(conn, running, state="run", fault=2, fault_count=1)
        j_max = add_job(conn, running, state="run", fault=2, fault_count=5, rownum="2")
        j_final = add_job(conn, running, state="stop", fault=25, rownum="3")
        dep = add_dep(conn, fault=3, fault_count=1)
        add_job(conn, running, state="run", dep_id=dep, rownum="4")
    r = cli("pstamp-req", "revert", "--dry-run", "--db", db_url, "--json")
    assert r.code == 0, r.err
    plan = {x["what"]: x for x in r.json()}
    assert plan["requests"]["reverted"] == [half] and plan["requests"]["deleted_jobs"] == 2
    assert plan["jobs"]["reverted"] == [j_ok] and plan["jobs"]["skipped_fault_count"] == 1
    assert plan["dependents"]["reverted"] == [dep]
    assert requests(dbs)[half]["fault"] == 4
    r = cli("pstamp-req", "revert", "--db", db_url, "--json")
    assert r.code == 0, r.err
    rows = requests(dbs)
    assert rows[half]["fault"] == 0 and rows[final]["fault"] == 21 and rows[stopped]["fault"] == 2
    with dbs.connect(pstamp_db=True) as conn:
        jobs = {j.job_id: j for j in conn.execute(select(JOB))}
        deps = {d.dep_id: d for d in conn.execute(select(DEP))}
        assert conn.execute(select(func.count()).select_from(JOB).where(JOB.c.req_id == half)).scalar() == 0
    assert jobs[j_ok].fault == 0 and jobs[j_max].fault == 2 and jobs[j_final].fault == 25
    assert deps[dep].fault == 0
    # an explicit fault (>= 10) and clearing the fault count
    r = cli("pstamp-req", "revert", final, "--what", "requests", "--fault", "21", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()[0]["reverted"] == [final]
    assert requests(dbs)[final]["fault"] == 0
    r = cli("pstamp-req", "revert", "--what", "jobs", "--clear-fault-count", "--db", db_url, "--json")
    assert r.json()[0]["reverted"] == [j_max]
    with dbs.connect(pstamp_db=True) as conn:
        j = conn.execute(select(JOB).where(JOB.c.job_id == j_max)).first()
    assert j.fault == 0 and j.fault_count == 0


# ------------------------------------------------------------------ cleanup
def test_cleanup_older_than(cli, db_url, dbs):
    now = ops.utcnow(microseconds=False)
    with dbs.begin(pstamp_db=True) as conn:
        old = add_request(conn, name="old", state="stop", timestamp=now - timedelta(days=20))
        recent = add_request(conn, name="recent", state="stop", timestamp=now - timedelta(days=3))
        running = add_request(conn, name="old.running", state="run", timestamp=now - timedelta(days=30))
        quoted = add_request(conn, name="old.quoted", label=QUOTE_LABEL, state="stop",
                             timestamp=now - timedelta(days=20))
    r = cli("pstamp-req", "cleanup", "--older-than", "14d", "--dry-run", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert sorted(r.json()["changed"]) == sorted([old, quoted])
    assert requests(dbs)[old]["state"] == "stop"
    r = cli("pstamp-req", "cleanup", "--older-than", "14d", "--label", QUOTE_LABEL, "--db", db_url, "--json")
    assert r.json()["changed"] == [quoted]
    r = cli("pstamp-req", "cleanup", "--db", db_url, "--json")   # default 14 days from the config
    assert r.json()["changed"] == [old]
    rows = requests(dbs)
    assert rows[old]["state"] == rows[quoted]["state"] == "goto_cleaned"
    assert rows[recent]["state"] == "stop" and rows[running]["state"] == "run"
    r = cli("pstamp-req", "cleanup", "--older-than", "fortnight", "--db", db_url)
    assert r.code == ExitCode.USAGE


def test_big_change_refused_without_terminal(cli, db_url, dbs, tmp_path):
    now = ops.utcnow(microseconds=False)
    with dbs.begin(pstamp_db=True) as conn:
        for i in range(60):
            add_request(conn, name=f"old.{i}", state="stop", timestamp=now - timedelta(days=30))
    r = cli("pstamp-req", "cleanup", "--db", db_url)
    assert r.code == ExitCode.USAGE and "--yes" in r.err
    assert all(x["state"] == "stop" for x in requests(dbs).values())
    r = cli("pstamp-req", "cleanup", "--yes", "--db", db_url, "--json")
    assert r.code == 0 and r.json()["count"] == 60


# ------------------------------------------------------------------ backlog
def _plant_backlog(dbs, n_qub=300, p=""):
    """Like the demo: MOPS requests mostly stopped, a few new ones behind a large QUB
    upload, running MOPS jobs waiting on ps_ud_MOPS chip/warp updates, one job stopped
    with fault 25."""
    t0 = datetime(2018, 7, 10, 18)
    with dbs.begin(pstamp_db=True) as conn:
        for i in range(12):
            req = add_request(conn, name=f"{p}MOPS.stamps.old.{i:03d}", label="MOPS", state="stop",
                              registered=t0 - timedelta(days=2))
            add_job(conn, req, state="stop")
        broken = add_request(conn, name=f"{p}MOPS.precovery.broken", label="MOPS", state="run",
                             registered=t0 - timedelta(hours=20))
        gone = add_dep(conn, stage="chip", component="XY33", fault=25, fault_count=1)
        add_job(conn, broken, state="stop")
        add_job(conn, broken, state="stop", fault=25, dep_id=gone, rownum="2")
        for i in range(3):
            dep = add_dep(conn, stage="warp" if i else "chip", stage_id=10 + i,
                          component="skycell.1212.040" if i else "XY12")
            req = add_request(conn, name=f"{p}MOPS.stamps.w{i:02d}", label="MOPS.stamps", state="run",
                              registered=t0 + timedelta(minutes=i))
            add_job(conn, req, state="run", dep_id=dep)
            add_job(conn, req, state="run", rownum="2")
        first = next_id(conn, REQ, "req_id")
        conn.execute(REQ.insert(), [dict(req_id=first + i, ds_id=0, state="new", name=f"{p}QUB.upload.{i:04d}",
                                         reqType="pstamp", label="QUB", outProduct="qub", uri="x",
                                         outdir=None, username="qub@qub.ac.uk", proj_id=1,
                                         registered=t0 + timedelta(minutes=10, seconds=i),
                                         timestamp=t0, fault=0) for i in range(n_qub)])
        for i in range(6):
            add_request(conn, name=f"{p}MOPS.stamps.n{i:02d}", label="MOPS", state="new",
                        registered=t0 + timedelta(minutes=40 + i))


def test_backlog_reports_mops_behind_qub(cli, db_url, dbs):
    _plant_backlog(dbs)
    r = cli("pstamp-req", "backlog", "--db", db_url, "--json")
    assert r.code == ExitCode.CHECK_FAILED, r.err       # 306 waiting, over the parse limit of 20
    assert "306 requests wait for the parser" in r.err and "error" not in r.err
    b = r.json()
    assert b["parse_limit"] == 20 and b["parse_queue"] == 306 and b["parse_batches"] == 16
    rows = {(x["label"], x["state"]): x for x in b["labels"]}
    assert set(rows) == {("MOPS", "new"), ("MOPS", "run"), ("MOPS.stamps", "run"), ("QUB", "new")}
    mops_new = rows[("MOPS", "new")]
    assert mops_new["wait_parse"] == 6 and mops_new["queue_position"] == 301
    assert mops_new["behind"] == {"QUB": 300} and mops_new["parse_batches_before"] == 15
    assert rows[("QUB", "new")]["queue_position"] == 1
    waiting = rows[("MOPS.stamps", "run")]
    assert waiting["jobs_wait_dependent"] == 3 and waiting["jobs_wait_run"] == 3
    assert rows[("MOPS", "run")]["jobs_stopped_faulted"] == 1 and rows[("MOPS", "run")]["wait_finish"] == 1
    assert {(d["stage"], d["rlabel"], d["jobs"]) for d in b["dependents"]} == {
        ("chip", "ps_ud_MOPS", 1), ("warp", "ps_ud_MOPS", 2)}
    assert b["faults"] == [{"label": "MOPS", "job_state": "stop", "fault": 25, "jobs": 1,
                            "meaning": b["faults"][0]["meaning"],
                            "example_req_id": b["faults"][0]["example_req_id"]}]
    notes = "\n".join(b["notes"])
    assert "MOPS: 6 request(s) waiting for the parser" in notes and "behind 300 QUB" in notes
    assert "15 parse batch(es) of 20" in notes
    assert "ps_ud_MOPS" in notes and "fault 25 NOT_AVAILABLE" in notes
    # the table output says the same
    r = cli("pstamp-req", "backlog", "--db", db_url)
    assert r.code == ExitCode.CHECK_FAILED and "300 QUB" in r.out
    # a larger parse limit shrinks the wait; --check makes it an exit status
    r = cli("pstamp-req", "backlog", "--parse-limit", "400", "--label", "MOPS", "--db", db_url, "--json")
    assert r.code == 0, r.err                           # 6 waiting, within the limit
    b = r.json()
    assert {x["label"] for x in b["labels"]} == {"MOPS"}
    assert all("waiting for the parser" not in n for n in b["notes"])
    r = cli("pstamp-req", "backlog", "--check", "--db", db_url)
    assert r.code == ExitCode.CHECK_FAILED


def test_backlog_uses_label_priority_and_activity(dbs):
    _plant_backlog(dbs, n_qub=30)
    lab = schema.Label
    with dbs.begin(pstamp_db=True) as conn:
        conn.execute(lab.insert(), [dict(label="MOPS", priority=20000, active=1, comment=""),
                                    dict(label="QUB", priority=100, active=1, comment="")])
    b = ops.backlog(dbs, parse_limit=20)
    rows = {(x["label"], x["state"]): x for x in b.rows}
    assert b.label_table
    assert rows[("MOPS", "new")]["queue_position"] == 1
    assert rows[("QUB", "new")]["queue_position"] == 7 and rows[("QUB", "new")]["behind"] == {"MOPS": 6}
    with dbs.begin(pstamp_db=True) as conn:
        conn.execute(lab.update().where(lab.c.label == "QUB").values(active=0))
    b = ops.backlog(dbs, parse_limit=20)
    rows = {(x["label"], x["state"]): x for x in b.rows}
    assert b.parse_queue == 6
    assert rows[("QUB", "new")]["wait_parse"] == 0 and rows[("QUB", "new")]["inactive_label"] == 30
    assert any("inactive label" in n for n in b.notes)


def test_backlog_query_count_is_bounded(dbs):
    """A fixed number of grouped queries, whatever the number of requests."""
    counts = []
    for n in (5, 120):
        _plant_backlog(dbs, n_qub=n, p=f"{n}.")
        seen = []
        eng = dbs.engine(True)

        def count(*args, **kw):
            seen.append(1)

        event.listen(eng, "before_cursor_execute", count)
        try:
            ops.backlog(dbs)
        finally:
            event.remove(eng, "before_cursor_execute", count)
        counts.append(len(seen))
    assert counts[0] == counts[1] and counts[0] <= 12


def test_backlog_empty(cli, db_url):
    r = cli("pstamp-req", "backlog", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["labels"] == [] and r.json()["notes"] == []
    r = cli("pstamp-req", "backlog", "--db", db_url, "--check")
    assert r.code == 0


def test_separate_pstamp_database(cli, db_url, tmp_path):
    """--pstamp-db points the request commands at another database."""
    from mopstool.db.own import own

    other = f"sqlite:///{tmp_path / 'pstamp.sqlite'}"
    d = Databases(db_url, other)
    with d.begin(pstamp_db=True) as conn:
        schema.gpc1.create_all(conn)
        own.create_all(conn)
    with d.begin(pstamp_db=True) as conn:
        req = add_request(conn, name="only.here", state="run")
    d.dispose()
    r = cli("pstamp-req", "stop", req, "--db", db_url, "--pstamp-db", other, "--json")
    assert r.code == 0, r.err
    assert r.json()["changed"] == [req]
    r = cli("pstamp-req", "list", "--db", db_url, "--json")
    assert r.json() == []


def test_update_command_selectors(cli, db_url, dbs):
    now = ops.utcnow(microseconds=False)
    with dbs.begin(pstamp_db=True) as conn:
        a = add_request(conn, name="u.a", label=QUOTE_LABEL, state="run", fault=21)
        b = add_request(conn, name="u.b", label="MOPS", state="run")
        c = add_request(conn, name="u.c", label=QUOTE_LABEL, state="stop", timestamp=now - timedelta(days=30))
    r = cli("pstamp-req", "update", "--set-state", "stop", "--db", db_url)
    assert r.code == ExitCode.USAGE and "search parameters" in r.err
    r = cli("pstamp-req", "update", "--label", QUOTE_LABEL, "--db", db_url)
    assert r.code == ExitCode.USAGE
    r = cli("pstamp-req", "update", "--label", QUOTE_LABEL, "--state", "run", "--set-state", "stop",
            "--clear-fault", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json()["changed"] == [a]
    rows = requests(dbs)
    assert (rows[a]["state"], rows[a]["fault"]) == ("stop", 0) and rows[b]["state"] == "run"
    r = cli("pstamp-req", "update", "--label", QUOTE_LABEL, "--older-than", "14d", "--set-state",
            "goto_cleaned", "--db", db_url, "--json")
    assert r.json()["changed"] == [c]
    r = cli("pstamp-req", "update", "--id", c, "--set-state", "goto_cleaned", "--db", db_url, "--json")
    assert r.json()["changed"] == [] and r.json()["skipped"][0]["reason"] == "already goto_cleaned"


def test_declining_a_stamp_write_exits_10_and_writes_nothing(cli, db_url, dbs, four, monkeypatch):
    from mopstool.cli import common

    monkeypatch.setattr(common, "confirm_change", lambda *a, **k: False)  # the user says no
    before = requests(dbs)
    for args in (("stop", four["run"]), ("clean", four["stop"]), ("cleanup", "--older-than", "1d")):
        r = cli("pstamp-req", *map(str, args), "--db", db_url)
        assert r.code == 10, (args, r.err)
        assert "cancelled; nothing written" in r.err
    assert requests(dbs) == before


def test_revert_plans_once_and_writes_once(cli, db_url, dbs, monkeypatch):
    """requests, jobs and dependents are one write: one confirmation, one transaction."""
    from mopstool.cli import common

    with dbs.begin(pstamp_db=True) as conn:
        req = add_request(conn, name="MOPS.r1", state="run")
        dep = add_dep(conn, fault=2)
        add_job(conn, req, state="run", fault=2, dep_id=dep)
        add_request(conn, name="MOPS.r2", state="run", fault=3)
    asked = []
    real = common.confirm_change
    monkeypatch.setattr(common, "confirm_change", lambda ctx, n, *a, **k: asked.append(n) or real(ctx, n, *a, **k))
    n0 = audit_count(dbs)
    r = cli("pstamp-req", "revert", "--db", db_url, "--yes", "--json")
    assert r.code == 0, r.err
    assert {x["what"]: x["count"] for x in r.json()} == {"requests": 1, "jobs": 1, "dependents": 1}
    assert asked == [3]
    assert audit_count(dbs) - n0 == 1
