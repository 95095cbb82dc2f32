"""On a gpc1 built from the IPP's own DDL (no mopstool table), every README command
and every fix czar prints runs as printed, and no table is created or altered."""

from __future__ import annotations

import json
import shlex
from datetime import date

from sqlalchemy import create_engine, text

import ippddl
from conftest import reset_ippddl
from mopstool.config import load_config
from mopstool.errors import ExitCode

NIGHT = "2018-07-10"


def _load_demo_without_creating_tables(url, tmp_path, monkeypatch):
    """The demo night, loaded row by row into the IPP-DDL database (db init is not run)."""
    from mopstool.ops import dbadmin
    from mopstool.ops.demo.night import run_demo

    with monkeypatch.context() as mp:  # only this patch is undone (HOME stays the test's own)
        mp.setattr(dbadmin, "init_schema", lambda *a, **k: [])
        summary = run_demo(load_config(None), db_url=url, reset=False, night=date(2018, 7, 10),
                           files_dir=str(tmp_path / "demo-files"))
    return summary


def _commands(summary, tmp_path) -> list[tuple[str, set[int]]]:
    ok, attention = {ExitCode.OK}, {ExitCode.OK, ExitCode.CHECK_FAILED}
    ids = summary.ids
    return [
        ("mopstool config show", ok),
        ("mopstool db check", ok),
        ("mopstool db init", {ExitCode.USAGE}),                   # refuses a real schema
        (f"mopstool czar --night {NIGHT}", attention),
        (f"mopstool lostvisits --night {NIGHT}", attention),
        (f"mopstool diffpairs --night {NIGHT}", attention),   # pairs due and not defined: exit 3
        (f"mopstool faults --night {NIGHT}", attention),   # the demo night has faults: exit 3
        (f"mopstool runs chip --night {NIGHT}", ok),
        (f"mopstool runs warp --night {NIGHT} --json", ok),
        (f"mopstool runs diff --night {NIGHT} --format csv", ok),
        (f"mopstool show chip {ids['chip_fault']}", ok),
        ("mopstool pstamp-req backlog", attention),         # 306 waiting, parse limit 20: exit 3
        ("mopstool pstamp-req list", ok),
        ("mopstool labels list", ok),
        ("mopstool labels add MOPS.ippddl --priority 300 --yes", ok),
        ("mopstool fixbroken --dry-run", ok),
        ("mopstool fixbroken --yes --label-date 2018-07-11", ok),
        ("mopstool fixbroken status", ok),
        ("mopstool fixbroken finish", ok),
        ("mopstool cleanup --dry-run --as-of 2018-07-11", ok),
        ("mopstool cleanup --yes --as-of 2018-07-30", ok),
        (f"mopstool updaterun chip --id {ids['chip_fault']} --set-label ippddl.test --yes", ok),
        (f"mopstool mopscat build --diff-id {ids['ww_diff']} -o {tmp_path / 'demo.mops'}", ok),
        ("mopstool chiptool -dbname gpc1 -listrun -label OSS.nightlyscience", ok),
        ("mopstool warptool -dbname gpc1 -listrun -label OSS.nightlyscience", ok),
    ]


def _ipp_host_layout(home, url) -> None:
    """A standard IPP host: ~/.ipprc names PATH and SITE; the DB keys live in site.config."""
    from sqlalchemy.engine import make_url

    u = make_url(url)
    (home / "ippconfig").mkdir(parents=True, exist_ok=True)
    (home / ".ipprc").write_text(f"PATH STR {home}/ippconfig\nSITE STR site.config\n")
    (home / "ippconfig" / "site.config").write_text(
        f"DBSERVER STR {u.host}\nDBUSER STR {u.username}\nDBPASSWORD STR\nDBNAME STR {u.database}\n"
        f"DBPORT S32 {u.port or 3306}\nPS_DBSERVER STR {u.host}\nPS_DBNAME STR {u.database}\n")
    for f in (home / ".ipprc", home / "ippconfig" / "site.config"):
        f.chmod(0o600)


def test_every_readme_command_and_czar_fix_runs_and_alters_nothing(cli, ippddl_url, tmp_path, monkeypatch,
                                                                    isolated_home):
    reset_ippddl(ippddl_url)
    summary = _load_demo_without_creating_tables(ippddl_url, tmp_path, monkeypatch)
    eng = create_engine(ippddl_url)
    with eng.connect() as conn:
        before = ippddl.show_create(conn)
    assert set(before) == set(ippddl.TABLE_NAMES)           # no mopstool table at all
    # the databases come from the IPP config chain (~/.ipprc -> site.config), as on an IPP host;
    # no --db anywhere, so every command and printed fix runs exactly as printed
    _ipp_host_layout(isolated_home, ippddl_url)
    monkeypatch.setenv("MOPSTOOL_GENERAL__CONFIRM_ABOVE", "1000000")
    failures = []
    czar = cli("czar", "--night", NIGHT, "--json")
    assert czar.code == ExitCode.CHECK_FAILED, czar.err
    fixes = [(p["fix"], {ExitCode.OK, ExitCode.CHECK_FAILED}) for p in czar.json()["problems"] if p.get("fix")]
    assert any("fixbroken" in f for f, _ in fixes) and any("publish" in f for f, _ in fixes)
    printed = [(line.replace("/tmp/demo.mops", str(tmp_path / "next.mops")),
                {ExitCode.OK, ExitCode.CHECK_FAILED}) for line in _try_next(summary)]
    assert len(printed) >= 8
    from sqlalchemy.engine import make_url

    dbname = make_url(ippddl_url).database   # the legacy recipes' -dbname names the real database
    for command, codes in _commands(summary, tmp_path) + printed + fixes:
        args = shlex.split(command.replace("-dbname gpc1", f"-dbname {dbname}"))
        assert args[0] == "mopstool"
        r = cli(*args[1:])
        if r.code not in codes:
            failures.append(f"{command}: exit {r.code}: {r.err.strip()[-300:]}")
    with eng.connect() as conn:
        after = ippddl.show_create(conn)
    eng.dispose()
    assert failures == []
    # the writers really wrote (their audit went to the file: the database has no audit table)
    from mopstool.db.own import audit_file

    actions = {json.loads(x)["action"] for x in audit_file().read_text().splitlines()}
    assert {"cleanup", "fixbroken", "labels.add"} <= actions or {"cleanup", "fixbroken"} <= actions, actions
    assert sorted(after) == sorted(before), "a command created or dropped a table"
    changed = [t for t in before if before[t] != after[t]]
    assert changed == [], f"a command altered {changed}"


def _try_next(summary) -> list[str]:
    lines = summary.lines()
    start = lines.index("Try next:")
    return [x.strip() for x in lines[start + 1:] if x.startswith("  mopstool ")]


def test_ippddl_schema_facts(ippddl_url):
    """The fixture holds what the DDL says: latin1 InnoDB, the FKs the model now has too."""
    eng = create_engine(ippddl_url)
    with eng.connect() as conn:
        ddl = ippddl.show_create(conn)
        engines = {r[0]: (r[1], r[2]) for r in conn.execute(text(
            "SELECT table_name, engine, table_collation FROM information_schema.tables "
            "WHERE table_schema = DATABASE()"))}
    eng.dispose()
    assert all(e == "InnoDB" and c.startswith("latin1") for e, c in engines.values()), engines
    assert "REFERENCES `newImfile` (`exp_id`, `tmp_class_id`)" in ddl["rawImfile"]
    assert "REFERENCES `warpSkyfile` (`warp_id`)" in ddl["stackInputSkyfile"]
    assert "`fake_id` bigint(20) NOT NULL AUTO_INCREMENT" in ddl["fakeProcessedImfile"]
    assert "`pub_id` bigint(20) NOT NULL AUTO_INCREMENT" in ddl["publishDone"]


def test_db_check_compares_types_nullability_and_lists_needs(cli, ippddl_url):
    reset_ippddl(ippddl_url)
    eng = create_engine(ippddl_url)
    try:
        r = cli("--db", ippddl_url, "db", "check", "--json")
        assert r.code == 0, r.err
        (res,) = r.json()
        assert res["type_mismatches"] == {} and res["null_mismatches"] == {}
        needs = {n["table"]: n for n in res["needs"]}
        assert "summitExp" not in needs                       # the DDL has it
        assert needs["mopstoolAudit"]["required"] is False
        with eng.begin() as conn:
            conn.execute(text("ALTER TABLE chipRun MODIFY label VARCHAR(32)"))
            conn.execute(text("ALTER TABLE rawExp MODIFY filter VARCHAR(64) NOT NULL DEFAULT ''"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
            conn.execute(text("DROP TABLE summitExp"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        r = cli("--db", ippddl_url, "db", "check", "--json")
        assert r.code == ExitCode.CHECK_FAILED
        (res,) = r.json()
        assert res["type_mismatches"] == {"chipRun": [{"column": "label", "model": "VARCHAR(64)",
                                                       "live": "VARCHAR(32)"}]}
        assert res["null_mismatches"] == {"rawExp": [{"column": "filter", "model": "NULL",
                                                      "live": "NOT NULL"}]}
        summit = next(n for n in res["needs"] if n["table"] == "summitExp")
        assert summit["commands"] == ["diffpairs", "czar"] and "summit gate" in summit["needed_for"]
        r = cli("--db", ippddl_url, "db", "check")
        assert "summitExp" in r.out and "diffpairs, czar" in r.out
        assert "label VARCHAR(32) (IPP: VARCHAR(64))" in r.out
    finally:
        with eng.begin() as conn:
            conn.execute(text("ALTER TABLE chipRun MODIFY label VARCHAR(64)"))
            conn.execute(text("ALTER TABLE rawExp MODIFY filter VARCHAR(64)"))
        eng.dispose()
        reset_ippddl(ippddl_url)
