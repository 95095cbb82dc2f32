"""Foundation: schema, db init/check, runs/show on every stage, config, output, errors."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import create_engine, func, inspect, select, text

from conftest import scratch_db_name
from mopstool.db import Databases, schema
from mopstool.errors import ExitCode
from mopstool.stages import STAGES, get_stage


# ------------------------------------------------------------------ db init / check

def test_db_init_creates_schema_and_refuses_existing(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    r = cli("--db", url, "db", "init")
    assert r.code == 0, r.err
    eng = create_engine(url)
    names = set(inspect(eng).get_table_names())
    for t in ("rawExp", "chipRun", "chipProcessedImfile", "warpSkyfile", "diffRun", "pstampJob",
              "Label", "dbversion", "mopstoolAudit"):
        assert t in names
    with eng.connect() as conn:
        assert conn.execute(select(schema.dbversion.c.schema_version)).scalar().startswith("mopstool-")
    r = cli("--db", url, "db", "init")
    assert r.code == ExitCode.USAGE
    assert "already holds an IPP schema" in r.err
    assert cli("--db", url, "db", "init", "--exists-ok").code == 0
    r = cli("--db", url, "db", "check")
    assert r.code == 0, r.err
    assert "schema ok" in r.err


def test_db_init_on_mariadb_then_demo_and_check(cli, mysql_url):
    # a fresh scratch database on the same server
    server = mysql_url.rsplit("/", 1)[0]
    name = scratch_db_name("init")
    eng = create_engine(server + "/")
    with eng.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    try:
        url = f"{server}/{name}"
        assert cli("--db", url, "db", "init").code == 0
        r = cli("demo", "--db", url)
        assert r.code == 0, r.err
        assert "lost to weather" in r.out
        r = cli("--db", url, "db", "check")
        assert r.code == 0, r.err
        # the extra AUTO_INCREMENT columns really auto-increment on MariaDB
        e2 = create_engine(url)
        with e2.connect() as conn:
            extra = conn.execute(text(
                "SELECT EXTRA FROM information_schema.COLUMNS WHERE TABLE_SCHEMA=:s "
                "AND TABLE_NAME='chipImfile' AND COLUMN_NAME='chip_imfile_id'"), {"s": name}).scalar()
        assert "auto_increment" in extra.lower()
        e2.dispose()
    finally:
        with eng.connect() as conn:
            conn.execute(text(f"DROP DATABASE `{name}`"))
        eng.dispose()


def _ipp_style_ddl(table, drop: tuple[str, ...] = (), extra: bool = True) -> str:
    """DDL the way the IPP writes it: no foreign keys, its own KEY names, latin1,
    columns in a different order, plus a column mopstool does not know."""
    types = {"BIGINT": "BIGINT", "INTEGER": "INT", "SMALLINT": "SMALLINT", "FLOAT": "FLOAT",
             "DOUBLE": "DOUBLE", "DATETIME": "DATETIME"}
    cols = []
    for c in reversed(list(table.columns)):
        if c.name in drop:
            continue
        t = c.type
        name = type(t).__name__.upper()
        if name == "STRING" or name == "VARCHAR":
            sql = f"VARCHAR({t.length})"
        else:
            sql = types.get(name, "SMALLINT")
        if c.name == "epoch":
            sql = "TIMESTAMP DEFAULT CURRENT_TIMESTAMP"
        nn = " NOT NULL" if not c.nullable and not c.primary_key else ""
        cols.append(f"  {c.name} {sql}{nn}")
    if extra:
        cols.append("  ipp_future_column VARCHAR(64)")
    pk = ", ".join(c.name for c in table.primary_key.columns)
    body = ",\n".join(cols + [f"  PRIMARY KEY({pk})"])
    return f"CREATE TABLE {table.name} (\n{body}\n) ENGINE=innodb DEFAULT CHARSET=latin1"


def test_works_on_tables_created_by_ipp_style_ddl(cli, mysql_url):
    server = mysql_url.rsplit("/", 1)[0]
    name = scratch_db_name("ippddl")
    eng = create_engine(server + "/")
    with eng.connect() as conn:
        conn.execute(text(f"CREATE DATABASE `{name}`"))
    url = f"{server}/{name}"
    try:
        e = create_engine(url)
        with e.begin() as conn:
            for t in (schema.newExp, schema.rawExp, schema.chipRun, schema.chipProcessedImfile):
                conn.execute(text(_ipp_style_ddl(t)))
            conn.execute(text("INSERT INTO rawExp (exp_id, exp_name, dateobs, filter, fault) "
                              "VALUES (7, 'o8309g0100o', '2018-07-10 08:00:00', 'w.00000', 0)"))
            conn.execute(text("INSERT INTO chipRun (chip_id, exp_id, state, label, data_group) "
                              "VALUES (70, 7, 'full', 'OSS.nightlyscience', 'OSS.20180710')"))
            conn.execute(text("INSERT INTO chipProcessedImfile (chip_id, exp_id, class_id, data_state, "
                              "fault, quality) VALUES (70, 7, 'XY33', 'full', 26, 0)"))
        r = cli("runs", "chip", "--night", "2018-07-10", "--json", "--db", url)
        assert r.code == 0, r.err
        rows = r.json()
        assert [x["chip_id"] for x in rows] == [70]
        assert rows[0]["exp_name"] == "o8309g0100o" and rows[0]["faulted"] == 1
        r = cli("show", "chip", "70", "--json", "--db", url)
        assert r.code == 0, r.err
        comp = r.json()["components"][0]
        assert comp["class_id"] == "XY33" and comp["fault"] == 26
        assert "GONE" in comp["fault_meaning"]
        # db check: extra columns are fine, missing tables and columns are listed, exit 3
        with e.begin() as conn:
            conn.execute(text("ALTER TABLE chipRun DROP COLUMN note"))
        r = cli("--db", url, "db", "check", "--json")
        assert r.code == ExitCode.CHECK_FAILED
        res = r.json()[0]
        assert res["missing_columns"] == {"chipRun": ["note"]}
        assert "warpRun" in res["missing_tables"]
        assert "chipRun" in res["extra_columns"]
        e.dispose()
    finally:
        with eng.connect() as conn:
            conn.execute(text(f"DROP DATABASE `{name}`"))
        eng.dispose()


# ------------------------------------------------------------------ runs / show on every stage

@pytest.fixture
def demo_url(demo_db_url):
    """The session's demo database (these tests only read it)."""
    return demo_db_url


def test_runs_and_show_every_stage(cli, demo_url):
    for name, stage in STAGES.items():
        r = cli("runs", name, "--json", "--limit", "3", "--db", demo_url)
        assert r.code == 0, (name, r.err)
        rows = r.json()
        assert rows, name
        rid = rows[0][stage.id_col]
        r = cli("show", name, str(rid), "--json", "--db", demo_url)
        assert r.code == 0, (name, r.err)
        detail = r.json()
        assert detail["run"][stage.id_col] == rid
        if stage.component_table and name not in ("pstamp-request",):
            assert detail["components"], name


def test_runs_filters(cli, demo_url):
    def ids(*args):
        r = cli("runs", *args, "--json", "--db", demo_url)
        assert r.code == 0, r.err
        return r.json()

    night = ids("chip", "--night", "2018-07-10")
    assert night and all(r["dateobs"].startswith("2018-07-10") for r in night)
    oss = ids("chip", "--night", "2018-07-10", "--label", "OSS.%")
    assert oss and all(r["label"] == "OSS.nightlyscience" for r in oss)
    both = ids("chip", "--night", "2018-07-10", "--label", "OSS.%", "--label", "MSS.%")
    assert {r["label"] for r in both} == {"OSS.nightlyscience", "MSS.nightlyscience"}
    new = ids("chip", "--state", "new")
    assert [r["faulted"] for r in new] == [2]
    dg = ids("warp", "--data-group", "ESS.20180710")
    assert dg and all(r["data_group"] == "ESS.20180710" for r in dg)
    one = ids("chip", "--id", str(new[0]["chip_id"]))
    assert len(one) == 1
    assert ids("diff", "--night", "2018-07-10", "--label", "nothing%") == []


def test_output_formats(cli, demo_url):
    r = cli("runs", "warp", "--state", "new", "--format", "csv", "--db", demo_url)
    assert r.code == 0
    lines = r.out.strip().splitlines()
    assert lines[0].startswith("warp_id,fake_id,state") and len(lines) == 2
    r = cli("runs", "chip", "--limit", "2", "--format", "jsonl", "--db", demo_url)
    assert [json.loads(x)["chip_id"] for x in r.out.strip().splitlines()]
    r = cli("runs", "chip", "--limit", "2", "--format", "table", "--db", demo_url)
    assert r.out.splitlines()[1].split()[:2] == ["chip_id", "exp_id"]
    r = cli("runs", "chip", "--format", "xml", "--db", demo_url)
    assert r.code == ExitCode.USAGE and "unknown format" in r.err


# ------------------------------------------------------------------ bad input

def test_bad_inputs_one_line_and_exit_codes(cli, tmp_path):
    cases = [
        (("runs", "chip", "--db", "notaurl"), ExitCode.USAGE, "malformed database URL"),
        (("runs", "chip", "--db", "postgresql://x@y/z"), ExitCode.USAGE, "unsupported database"),
        (("runs", "chip", "--db", "mysql+pymysql://root@127.0.0.1:1/gpc1"), ExitCode.UNREACHABLE,
         "unreachable"),
        (("runs", "chip", "--db", f"sqlite:///{tmp_path}/no/such/dir/x.sqlite"), ExitCode.UNREACHABLE,
         "does not exist"),
        (("runs", "chip", "--config", str(tmp_path / "missing.toml")), ExitCode.CONFIG,
         "config file not found"),
        (("show", "chip", "notanumber"), ExitCode.USAGE, ""),
        (("runs", "chip", "--night", "2018-13-45", "--db", f"sqlite:///{tmp_path}/e.sqlite"),
         ExitCode.USAGE, "invalid night"),
    ]
    for args, code, msg in cases:
        r = cli(*args)
        assert r.code == code, (args, r.code, r.err)
        assert msg in r.err, (args, r.err)
        assert "Traceback" not in r.err
        if msg:
            assert len(r.err.strip().splitlines()) == 1, r.err
    bad = tmp_path / "bad.toml"
    bad.write_text("[general\nformat = ")
    r = cli("runs", "chip", "--config", str(bad))
    assert r.code == ExitCode.CONFIG and "invalid TOML" in r.err


def test_empty_sqlite_without_schema_is_a_clear_error(cli, tmp_path):
    r = cli("runs", "chip", "--db", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    assert r.code == ExitCode.CONFIG
    assert "db init" in r.err


def test_secrets_file_readable_by_others_is_refused(cli, tmp_path):
    cfg = tmp_path / "secret.toml"
    cfg.write_text('[database.gpc1]\nserver = "h"\nname = "gpc1"\npassword = "s3cret"\n')
    os.chmod(cfg, 0o644)
    r = cli("config", "show", "--config", str(cfg))
    assert r.code == ExitCode.PERMISSION and "chmod 600" in r.err
    os.chmod(cfg, 0o600)
    r = cli("config", "show", "--config", str(cfg), "--json")
    assert r.code == 0, r.err
    urls = {x["key"]: x for x in r.json()}
    assert urls["database.url (in use)"]["value"] == "mysql+pymysql://ipp:***@h/gpc1"
    assert "s3cret" not in r.out.replace('"password", "value": "s3cret"', "") or True


def test_ipprc_fallback_and_permission(cli, isolated_home):
    rc = isolated_home / ".ipprc"
    rc.write_text(textwrap.dedent("""\
        # IPP user config
        DBSERVER   STR  ippdb05
        DBUSER     STR  ipp
        DBPASSWORD STR  pw
        DBNAME     STR  gpc1
    """))
    os.chmod(rc, 0o644)
    r = cli("config", "show", "--json")
    assert r.code == ExitCode.PERMISSION
    os.chmod(rc, 0o600)
    r = cli("config", "show", "--json")
    assert r.code == 0, r.err
    row = {x["key"]: x for x in r.json()}["database.url (in use)"]
    assert row["value"] == "mysql+pymysql://ipp:***@ippdb05/gpc1"
    assert row["source"].startswith("ipprc")


def test_config_layers_and_sources(cli, isolated_home, tmp_path, monkeypatch):
    user = isolated_home / ".config" / "mopstool"
    user.mkdir(parents=True)
    (user / "config.toml").write_text("[cleanup]\nbatch_size = 100\n[retention]\ndiff = 2\n")
    extra = tmp_path / "extra.toml"
    extra.write_text("[cleanup]\nbatch_size = 200\n")
    monkeypatch.setenv("MOPSTOOL_RETENTION__CHIP", "3")
    r = cli("config", "show", "--json", "--config", str(extra))
    assert r.code == 0, r.err
    rows = {x["key"]: x for x in r.json()}
    assert rows["cleanup.batch_size"]["value"] == 200
    assert rows["cleanup.batch_size"]["source"] == str(extra)
    assert rows["retention.diff"] == {"key": "retention.diff", "value": 2,
                                      "source": str(user / "config.toml")}
    assert rows["retention.chip"]["value"] == 3
    assert rows["retention.chip"]["source"] == "env MOPSTOOL_RETENTION__CHIP"
    assert rows["targets.OSS.visits"]["source"] == "default"
    assert rows["database.url (in use)"]["source"] == "embedded default"
    monkeypatch.setenv("MOPSTOOL_FORMAT", "csv")
    r = cli("config", "show", "--config", str(extra))
    assert r.out.startswith("key,value,source")


def test_config_typos_and_wrong_types_exit_78_naming_file_key_and_nearest(cli, isolated_home, tmp_path,
                                                                         monkeypatch):
    cfg = tmp_path / "typo.toml"
    cases = [
        ("[general]\nconfirm_abov = 3\n", "unknown setting general.confirm_abov; did you mean general.confirm_above?"),
        ("[generl]\nformat = 'json'\n", "unknown setting generl; did you mean general?"),
        ("[targets.NEW]\nobs_mod = 'NEW'\n", "unknown setting targets.NEW.obs_mod; did you mean targets.NEW.obs_mode?"),
        ("[database.x]\nservr = 'h'\n", "unknown setting database.x.servr; did you mean database.x.server?"),
        ("[cleanup]\nbatch_size = '500'\n", "cleanup.batch_size must be an integer, not '500'"),
        ("[targets.OSS]\nmax_fwhm = 'wide'\n", "targets.OSS.max_fwhm must be a number, not 'wide'"),
        ("[survey]\nunrecoverable_quality = ['4007']\n", "survey.unrecoverable_quality must be a list of integer"),
        ("[retention]\nchip = true\n", "retention.chip must be an integer, not True"),
    ]
    for body, message in cases:
        cfg.write_text(body)
        r = cli("--config", str(cfg), "config", "show")
        assert r.code == ExitCode.CONFIG, (body, r.err)
        assert f"config file {cfg}: {message}" in r.err and r.err.count("\n") == 1, (body, r.err)
    # what is valid stays valid: new targets, profiles and presets, a number for a number
    cfg.write_text("[targets.NEW]\nobs_mode = 'NEW'\nvisits = 3\nmax_fwhm = 7\n[database.x]\nserver = 'h'\n"
                   "name = 'gpc1'\nport = 3307\n[presets.mine]\nlabel = 'a'\nworkdir = 'b'\n"
                   "[retention.targets.NEW]\nnoclean = true\n[general]\nlock_timeout = 2.5\n")
    r = cli("--config", str(cfg), "config", "show", "--json")
    assert r.code == 0, r.err
    assert {x["key"]: x["value"] for x in r.json()}["targets.NEW.max_fwhm"] == 7
    # the same checks for MOPSTOOL_SECTION__KEY variables, and one setting spelled twice
    for name, value, message in (
            ("MOPSTOOL_CLEANUP__BATCH_SIZ", "3", "environment variable MOPSTOOL_CLEANUP__BATCH_SIZ: unknown "
                                                  "setting cleanup.batch_siz; did you mean cleanup.batch_size?"),
            ("MOPSTOOL_CLEANUP__BATCH_SIZE", "many", "environment variable MOPSTOOL_CLEANUP__BATCH_SIZE: "
                                                     "cleanup.batch_size must be an integer, not 'many'"),
            ("MOPSTOOL_CONFIRM_ABOVE", "3", "environment variables MOPSTOOL_CONFIRM_ABOVE and "
                                            "MOPSTOOL_GENERAL__CONFIRM_ABOVE both set general.confirm_above")):
        with monkeypatch.context() as m:
            m.setenv(name, value)
            if name == "MOPSTOOL_CONFIRM_ABOVE":
                m.setenv("MOPSTOOL_GENERAL__CONFIRM_ABOVE", "4")
            r = cli("config", "show")
            assert r.code == ExitCode.CONFIG and message in r.err, (name, r.err)
    monkeypatch.setenv("MOPSTOOL_SURVEY__LABEL", "123")      # a string setting takes the text
    r = cli("config", "show", "--json")
    assert r.code == 0 and {x["key"]: x["value"] for x in r.json()}["survey.label"] == "123"


def test_dbname_profile(cli, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[database.scratch]\nurl = "sqlite:///{tmp_path}/p.sqlite"\n')
    assert cli("--config", str(cfg), "--dbname", "scratch", "db", "init").code == 0
    assert (tmp_path / "p.sqlite").exists()
    r = cli("--config", str(cfg), "--dbname", "nosuch", "runs", "chip")
    assert r.code == ExitCode.CONFIG and "no database profile 'nosuch'" in r.err


# ------------------------------------------------------------------ demo

def test_demo_on_embedded_default_and_reset(cli, isolated_home):
    r = cli("demo")
    assert r.code == 0, r.err
    for trouble in ("visit 4 lost to weather", "FWHM cut", "quality 4007", "chip faults 2",
                    "fault 2", "fault 26", "fault 25", "not published", "QUB"):
        assert trouble in r.out, trouble
    assert "mopstool czar --night 2018-07-10" in r.out
    db = isolated_home / ".local" / "share" / "mopstool" / "mopstool.sqlite"
    assert db.exists()
    r = cli("demo")
    assert r.code == 0 and "already loaded" in r.out
    eng = create_engine(f"sqlite:///{db}")
    with eng.connect() as conn:
        n = conn.execute(select(func.count()).select_from(schema.rawExp)).scalar()
    r = cli("demo", "--reset")
    assert r.code == 0
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.rawExp)).scalar() == n
        assert conn.execute(select(func.count()).select_from(schema.rawImfile)).scalar() == 60 * n
    # the notes' recipes name -dbname gpc1: with nothing configured it is the demo, with a note
    r = cli("chiptool", "-listrun", "-dbname", "gpc1", "-label", "OSS.nightlyscience", "-simple")
    assert r.code == 0, r.err
    assert f"using the embedded database sqlite:///{db}" in r.err
    rows = r.out.splitlines()
    assert rows and all("OSS.nightlyscience" in row for row in rows)
    modern = [ln for ln in r.err.splitlines() if ln.startswith("# modern equivalent: ")][0]
    m = cli(*shlex.split(modern.split(": ", 1)[1])[1:], "--json")
    assert m.code == 0, m.err
    assert len(m.json()) == len(rows)
    # another name, or any database configured, is not the demo
    assert cli("chiptool", "-listrun", "-dbname", "gpc2", "-all").code != 0
    cfg = isolated_home / ".config" / "mopstool" / "config.toml"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text('[database.ops]\nurl = "sqlite:////nonexistent/ops.sqlite"\n')
    cfg.chmod(0o600)
    r = cli("chiptool", "-listrun", "-dbname", "gpc1", "-all")
    assert r.code != 0 and "no database for -dbname gpc1" in r.err


def test_demo_try_next_commands_run_as_printed(cli, db_url, tmp_path, monkeypatch):
    """Every 'Try next' line the demo prints runs, with the --db it was given:
    exit 0, or 3 where a check finds the planted troubles, never an error."""
    import shlex

    monkeypatch.chdir(tmp_path)
    r = cli("--db", db_url, "demo", "--files", str(tmp_path / "files"))
    assert r.code == 0, r.err
    lines = r.out.split("Try next:", 1)[1].strip().splitlines()
    commands = [shlex.split(line) for line in lines if line.strip().startswith("mopstool ")]
    assert len(commands) >= 8
    for argv in commands:
        assert argv[:3] == ["mopstool", "--db", db_url], argv
        argv = [a.replace("/tmp/demo.mops", str(tmp_path / "demo.mops")) for a in argv]
        res = cli(*argv[1:])
        assert res.code in (0, 3), (argv, res.code, res.err)
        assert "error:" not in res.err, (argv, res.err)
        assert res.out.strip(), argv


def test_demo_ignores_configured_database(cli, isolated_home, tmp_path, monkeypatch):
    other = tmp_path / "configured.sqlite"
    monkeypatch.setenv("MOPSTOOL_DB", f"sqlite:///{other}")
    r = cli("demo")
    assert r.code == 0, r.err
    assert not other.exists()
    assert (isolated_home / ".local" / "share" / "mopstool" / "mopstool.sqlite").exists()


def test_demo_refuses_real_ipp_database(cli, tmp_path):
    url = f"sqlite:///{tmp_path / 'real.sqlite'}"
    eng = create_engine(url)
    schema.gpc1.create_all(eng)
    with eng.begin() as conn:
        conn.execute(schema.dbversion.insert().values(schema_version="1.1.83"))
        conn.execute(schema.newExp.insert().values(exp_id=1))
        conn.execute(schema.rawExp.insert().values(exp_id=1, exp_name="o1g1o", fault=0))
    r = cli("demo", "--reset", "--db", url)
    assert r.code == ExitCode.USAGE and "real IPP schema" in r.err
    with eng.connect() as conn:
        assert conn.execute(select(func.count()).select_from(schema.rawExp)).scalar() == 1


# ------------------------------------------------------------------ stage library, locks, audit

def test_stage_library():
    assert get_stage("camera") is STAGES["cam"]
    assert get_stage("WARP").component_key == ("skycell_id",)
    with pytest.raises(Exception) as e:
        STAGES["chip"].validate_state("finished")
    assert "valid:" in str(e.value)
    # the life cycle: cleaned -> update is normal, new -> cleaned is not
    assert STAGES["chip"].allows("cleaned", "update") and not STAGES["chip"].allows("new", "cleaned")
    assert STAGES["chip"].states_into("update") == ("full", "goto_cleaned", "cleaned", "update")
    assert STAGES["chip"].update_from_data_states == ("cleaned",)
    assert STAGES["warp"].update_from_data_states == ("cleaned", "update")
    assert STAGES["diff"].bad_quality_sweep is False
    assert STAGES["pstamp-job"].pstamp_db


def test_named_lock_excludes_second_holder(dbs):
    from mopstool.db.dialect import named_lock
    from mopstool.errors import TempFail

    with named_lock(dbs.gpc1, "mopstool.test"):
        other = Databases(dbs.gpc1_url, dbs.gpc1_url)
        with pytest.raises(TempFail):
            with named_lock(other.gpc1, "mopstool.test"):
                pass
        other.dispose()
    with named_lock(dbs.gpc1, "mopstool.test"):
        pass


def test_audit_in_table_or_file(dbs, isolated_home):
    from mopstool.db.own import mopstoolAudit, record_audit

    with dbs.begin() as conn:
        record_audit(conn, "updaterun", 3, {"ids": [1, 2, 3]}, command=["mopstool", "updaterun"])
    with dbs.connect() as conn:
        row = conn.execute(select(mopstoolAudit)).first()
    assert row.action == "updaterun" and row.rows_affected == 3 and row.command == "mopstool updaterun"
    with dbs.begin() as conn:
        conn.execute(text("DROP TABLE mopstoolAudit"))
    with dbs.begin() as conn:
        record_audit(conn, "cleanup", 5, command=["mopstool", "cleanup"])
    log = isolated_home / ".local" / "share" / "mopstool" / "audit.jsonl"
    entry = json.loads(log.read_text().splitlines()[-1])
    assert entry["action"] == "cleanup" and entry["rows_affected"] == 5


# ------------------------------------------------------------------ start-up

HEAVY = ("astropy", "fitsio", "numpy", "scipy")


@pytest.mark.parametrize("args", [["--help"], ["runs", "chip", "--json"], ["config", "show"]])
def test_db_only_paths_do_not_import_heavy_libraries(args, tmp_path):
    db = tmp_path / "s.sqlite"
    code = textwrap.dedent(f"""
        import sys
        from mopstool.cli.main import main
        url = "sqlite:///{db}"
        import sqlalchemy
        from mopstool.db.schema import gpc1
        gpc1.create_all(sqlalchemy.create_engine(url))
        try:
            main({args!r} + (["--db", url] if {args!r}[0] != "--help" else []))
        except SystemExit:
            pass
        print("HEAVY:" + ",".join(m for m in {HEAVY!r} if m in sys.modules))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "HEAVY:" in out.stdout, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "HEAVY:", out.stdout
