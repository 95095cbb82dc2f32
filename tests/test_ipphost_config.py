"""The IPP config chain, no silent fallback to SQLite, passwords never shown, audit safety."""

from __future__ import annotations

import json
import os
import textwrap

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from mopstool.legacy import modes as legacy
from mopstool.config import (ipp_chain, legacy_database_url, load_config, mask_secrets, parse_mdc,
                             remember_secret)
from mopstool.db import Databases, schema
from mopstool.errors import ConfigError, ExitCode, MopsError


def write(path, body, mode=0o600):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(body))
    os.chmod(path, mode)
    return path


def ipp_layout(home, *, server="ippdb05", user="ipp", password="Pw-s1te", name="gpc1", port=None,
               ps_name="ippRequestServer", ps_server="ippc17", extra_site="", extra_rc="",
               site_key="DBSERVER"):
    """A standard IPP layout: ~/.ipprc names PATH and SITE; the DB keys live in site.config."""
    conf = home / "ippconfig"
    write(home / ".ipprc", f"""\
        ## IPP user config
        PATH            STR     $HOME/ippconfig:/nonexistent/share/ippconfig
        SITE            STR     site.config     # the site keys
        SYSTEM          STR     system.config
        LOGLEVEL        S32     3
        TRACE           METADATA
          err           S32     10
        END
        {extra_rc}
        """, 0o644)
    write(conf / "site.config", f"""\
        DATAPATH        METADATA
                GPC1    STR     /data/ipp002.0/
                DBNAME  STR     not_this_one    # inside a block: not a top-level key
        END
        NEB_SERVER      STR     http://ippdb01/nebulous   # Nebulous
        {site_key}      STR     {server}        # Database host name
        DBNAME          STR     {name}
        DBUSER          STR     {user}
        DBPASSWORD      STR     {password}
        DBPORT          S32     {port or 0}
        PS_DBNAME       STR     {ps_name}
        PS_DBSERVER     STR     {ps_server}
        {extra_site}
        """)
    write(conf / "system.config", "CAMERAS METADATA\n  GPC1 STR gpc1/camera.config\nEND\n", 0o644)
    return conf


# ------------------------------------------------------------------ the chain

def test_parse_mdc_types_comments_blocks():
    keys = parse_mdc(textwrap.dedent("""\
        # comment
        A   STR   one two   # trailing
        B   S32   7
        C   F64   0.5
        Q   STR   "quoted"
        X   METADATA
          A STR inner
          Y METADATA
            A STR deeper
          END
        END
        M   MULTI
        Z   WEIRD value
        A2  STR
        """))
    assert keys == {"A": "one two", "B": "7", "C": "0.5", "Q": "quoted"}


def test_standard_ipp_layout_gives_both_databases(cli, isolated_home):
    conf = ipp_layout(isolated_home)
    r = cli("config", "show", "--json")
    assert r.code == 0, r.err
    rows = r.json()
    by = {x["key"]: x for x in rows}
    assert by["database.url (in use)"]["value"] == "mysql+pymysql://ipp:***@ippdb05/gpc1"
    assert by["database.url (in use)"]["source"].startswith("ipprc ")
    assert str(conf / "site.config") in by["database.url (in use)"]["source"]
    assert by["database.pstamp_url (in use)"]["value"] == "mysql+pymysql://ipp:***@ippc17/ippRequestServer"
    read = [x["value"] for x in rows if x["key"] == "file (IPP config, read)"]
    searched = [x["value"] for x in rows if x["key"] == "file (IPP config, searched)"]
    assert read == [str(isolated_home / ".ipprc"), str(conf / "site.config"), str(conf / "system.config")]
    assert searched == []
    assert "Pw-s1te" not in r.out
    # IPPRC names another user config; a SITE found further down PATH is searched there
    other = isolated_home / "other"
    write(other / "sites" / "site.config", "DBSERVER STR h2\nDBUSER STR u2\nDBNAME STR gpc2\n", 0o644)
    write(other / "rc", f"PATH STR /nowhere:{other}/sites\nSITE STR site.config\n", 0o644)
    chain = ipp_chain({"HOME": str(isolated_home), "IPPRC": str(other / "rc")})
    assert chain.searched == [str(other / "rc"), "/nowhere/site.config", str(other / "sites" / "site.config")]
    assert chain.keys == {"DBSERVER": "h2", "DBUSER": "u2", "DBNAME": "gpc2"}


def test_user_config_keys_win_over_site(isolated_home):
    ipp_layout(isolated_home, extra_rc="DBNAME STR gpc1_copy\nDBPORT S32 3307")
    chain = ipp_chain({"HOME": str(isolated_home)})
    assert chain.keys["DBNAME"] == "gpc1_copy" and chain.key_sources["DBNAME"].endswith(".ipprc")
    assert chain.keys["DBSERVER"] == "ippdb05" and chain.key_sources["DBSERVER"].endswith("site.config")
    cfg = load_config(None, env={"HOME": str(isolated_home)})
    url, _ = legacy_database_url(cfg, dbname="gpc1")
    assert make_url(url).port == 3307 and make_url(url).database == "gpc1"


def test_legacy_dbname_dbserver_on_the_ipp_layout(isolated_home):
    ipp_layout(isolated_home)
    cfg = load_config(None, env={"HOME": str(isolated_home)})
    url, src = legacy_database_url(cfg, dbname="gpc1")
    assert make_url(url).render_as_string(hide_password=False) == "mysql+pymysql://ipp:Pw-s1te@ippdb05/gpc1"
    url, _ = legacy_database_url(cfg, dbname="gpc1", dbserver="ippdb03")
    assert make_url(url).host == "ippdb03"
    url, _ = legacy_database_url(cfg, pstamp=True)
    assert (make_url(url).host, make_url(url).database) == ("ippc17", "ippRequestServer")
    url, _ = legacy_database_url(cfg, dbname="ippRequestServer", dbserver="ippc18", pstamp=True)
    assert (make_url(url).host, make_url(url).database) == ("ippc18", "ippRequestServer")
    # the legacy front's own resolver finds the chain too
    call = legacy.parse("chiptool", ["-dbname", "gpc1", "-listrun", "-all"])
    assert make_url(legacy.resolve_url(cfg, call, None)[0]).host == "ippdb05"
    # pstamptool without -dbname uses the stamp database of the site (PS_DBSERVER/PS_DBNAME)
    call = legacy.parse("pstamptool", ["-listreq", "-req_id", "1"])
    url = make_url(legacy.resolve_url(cfg, call, None)[0])
    assert (url.host, url.database) == ("ippc17", "ippRequestServer")


def test_modern_and_legacy_commands_use_the_chain_end_to_end(cli, isolated_home, mysql_url):
    """On a host whose only DB configuration is ~/.ipprc -> site.config, commands just work."""
    u = make_url(mysql_url)
    ipp_layout(isolated_home, server=u.host, user=u.username, password="", name=u.database,
               port=u.port, ps_name=u.database, ps_server=u.host)
    eng = create_engine(mysql_url)
    with eng.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for t in ("chipRun", "rawExp", "newExp"):
            conn.execute(text(f"DELETE FROM `{t}`"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
        conn.execute(schema.newExp.insert().values(exp_id=5))
        conn.execute(schema.rawExp.insert().values(exp_id=5, exp_name="o8309g0100o", fault=0,
                                                   dateobs="2018-07-10 08:00:00"))
        conn.execute(schema.chipRun.insert().values(chip_id=50, exp_id=5, state="full", label="OSS.nightlyscience"))
    eng.dispose()
    r = cli("-v", "runs", "chip", "--night", "2018-07-10", "--json")
    assert r.code == 0, r.err
    assert [x["chip_id"] for x in r.json()] == [50]
    assert f"image database: mysql+pymysql://{u.username}@{u.host}" in r.err and "ipprc" in r.err
    r = cli("chiptool", "-dbname", u.database, "-listrun", "-chip_id", "50")
    assert r.code == 0, r.err
    assert "50" in r.out


# ------------------------------------------------------------------ no silent fallback

@pytest.mark.parametrize("case", ["typo", "ipprc_nowhere", "ipprc_empty", "site_missing", "db_empty",
                                  "env_db_empty", "pstamp_empty", "dbname_xxx", "profile_incomplete"])
def test_configured_but_unusable_is_exit_78_naming_it(cli, isolated_home, monkeypatch, tmp_path, case):
    args = ["cleanup", "--as-of", "2018-07-20", "--yes"]
    want = None
    if case == "typo":
        ipp_layout(isolated_home, site_key="DBSEVER")
        want = "lacks DBSERVER"
    elif case == "ipprc_nowhere":
        monkeypatch.setenv("IPPRC", str(tmp_path / "nope.ipprc"))
        want = "nope.ipprc does not exist"
    elif case == "ipprc_empty":
        monkeypatch.setenv("IPPRC", "")
        want = "IPPRC is set but empty"
    elif case == "site_missing":
        write(isolated_home / ".ipprc", "PATH STR /nowhere\nSITE STR site.config\n", 0o644)
        want = "SITE site.config not found"
    elif case == "db_empty":
        args = ["--db", ""] + args
        want = "--db is empty"
    elif case == "env_db_empty":
        monkeypatch.setenv("MOPSTOOL_DB", "")
        want = "MOPSTOOL_DB is empty"
    elif case == "pstamp_empty":
        args = ["--pstamp-db", ""] + args
        want = "--pstamp-db is empty"
    elif case == "dbname_xxx":
        ipp_layout(isolated_home, name="XXX")
        want = "has no database"
    elif case == "profile_incomplete":
        write(isolated_home / ".config" / "mopstool" / "config.toml", '[database.gpc1]\nserver = "h"\n')
        want = "lacks name"
    r = cli(*args)
    assert r.code == ExitCode.CONFIG, (r.code, r.err)
    assert want in r.err
    assert len(r.err.strip().splitlines()) == 1
    assert not (isolated_home / ".local" / "share" / "mopstool" / "mopstool.sqlite").exists()


def test_unreadable_ipprc_is_exit_78(cli, isolated_home):
    (isolated_home / ".ipprc").mkdir()           # unreadable as a file, also for root
    r = cli("runs", "chip")
    assert r.code == ExitCode.CONFIG and ".ipprc" in r.err


def test_embedded_only_when_nothing_is_configured(cli, isolated_home):
    r = cli("-v", "config", "show", "--json")
    assert r.code == 0
    by = {x["key"]: x for x in r.json()}
    assert by["database.url (in use)"]["source"] == "embedded default"
    assert [x["value"] for x in r.json() if x["key"] == "file (IPP config, searched)"] == [
        str(isolated_home / ".ipprc")]
    r = cli("-v", "runs", "chip")
    assert "image database: sqlite:///" in r.err and "embedded default" in r.err


# ------------------------------------------------------------------ passwords

@pytest.mark.parametrize("opt,url", [("--db", "mysql+pymysql://ipp:Argv-pw@ippdb05/gpc1"),
                                     ("--pstamp-db", "mysql+pymysql://ipp:Argv-pw@ippdb05/ps"),
                                     ("--db", "mysql+pymysql://ipp@ippdb05/gpc1?password=Argv-pw")])
def test_password_in_argv_url_is_refused(cli, opt, url):
    r = cli(opt, url, "runs", "chip")
    assert r.code == ExitCode.USAGE
    assert "password_file" in r.err and "~/.ipprc" in r.err and opt in r.err
    assert "Argv-pw" not in r.err


def test_config_show_masks_inline_url_and_env_passwords(cli, tmp_path, monkeypatch):
    cfg = write(tmp_path / "c.toml", """\
        [database.gpc1]
        url = "mysql+pymysql://ipp:Url-pw@h/gpc1"
        [database.other]
        server = "h"
        name = "x"
        password = "Inline-pw"
        """)
    monkeypatch.setenv("MOPSTOOL_DATABASE__THIRD__PASSWORD", "Env-pw")
    monkeypatch.setenv("MOPSTOOL_PSTAMP_DB", "mysql+pymysql://ps:Envurl-pw@h/ps")
    for fmt in ("json", "table", "csv"):
        r = cli("--config", str(cfg), "config", "show", "--format", fmt)
        assert r.code == 0, r.err
        for pw in ("Url-pw", "Inline-pw", "Env-pw", "Envurl-pw"):
            assert pw not in r.out and pw not in r.err, (fmt, pw)
    rows = {x["key"]: x for x in cli("--config", str(cfg), "config", "show", "--json").json()}
    assert rows["database.other.password"]["value"] == "***"
    assert rows["database.gpc1.url"]["value"] == "mysql+pymysql://ipp:***@h/gpc1"


def test_malformed_url_errors_do_not_repeat_the_password(cli, tmp_path):
    cfg = write(tmp_path / "c.toml", '[database.gpc1]\nurl = "mysql+pymysql://ipp:Bad-pw@h:notaport/gpc1"\n')
    r = cli("--config", str(cfg), "--debug", "runs", "chip")
    assert r.code in (ExitCode.CONFIG, ExitCode.USAGE), r.err
    assert "Bad-pw" not in r.err and "***" in r.err


def test_permissions_are_checked_before_parsing(cli, tmp_path, isolated_home):
    # a password in a file others can read is refused even when the file does not parse
    for body in ('[database.gpc1]\nurl = "mysql://ipp:pw@h:port/x"\n',
                 '[database.gpc1\npassword = "pw"\n',
                 'url = "mysql://u:p/w@host/db"\n'):
        cfg = write(tmp_path / "c.toml", body, 0o644)
        r = cli("--config", str(cfg), "config", "show")
        assert r.code == ExitCode.PERMISSION, (body, r.err)
    ipp_layout(isolated_home)
    os.chmod(isolated_home / "ippconfig" / "site.config", 0o644)
    r = cli("config", "show")
    assert r.code == ExitCode.PERMISSION and "site.config" in r.err and "chmod 600" in r.err


def test_mask_secrets():
    remember_secret("S3cr+t/x")
    assert mask_secrets("a S3cr+t/x b S3cr%2Bt%2Fx") == "a *** b ***"
    assert mask_secrets("mysql+pymysql://u:any-thing@h/db") == "mysql+pymysql://u:***@h/db"


# ------------------------------------------------------------------ audit

def test_audit_masks_escapes_and_is_private(db_url, isolated_home):
    from mopstool.db.own import audit_file, mopstoolAudit, record_audit

    remember_secret("Known-pw")
    dbs = Databases(db_url, db_url)
    cmd = ["mopstool", "--db", "mysql+pymysql://ipp:Url-pw@h/gpc1", "label", "café ✓ 日本", "Known-pw"]
    with dbs.begin() as conn:
        record_audit(conn, "labels.add", 1, {"comment": "naïve ✓", "pw": "Known-pw"}, command=cmd)
    with dbs.connect() as conn:
        row = conn.execute(select(mopstoolAudit)).first()
    assert "Url-pw" not in row.command and "Known-pw" not in row.command and "Known-pw" not in row.detail
    assert "caf\\xe9" not in row.command and "café" in row.command and "\\u2713" in row.command
    with dbs.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS mopstoolAudit"))
    with dbs.begin() as conn:
        record_audit(conn, "labels.add", 1, command=cmd)
    path = audit_file()
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    entry = json.loads(path.read_text().splitlines()[-1])
    assert "Url-pw" not in entry["command"] and "Known-pw" not in entry["command"]
    assert "café ✓ 日本" in entry["command"]
    # a rollback leaves no record in the file
    n = len(path.read_text().splitlines())
    with pytest.raises(RuntimeError):
        with dbs.begin() as conn:
            record_audit(conn, "labels.add", 1, command=cmd)
            raise RuntimeError("abort")
    assert len(path.read_text().splitlines()) == n
    dbs.dispose()


def test_non_latin1_command_line_never_blocks_a_valid_change(cli, db_url, tmp_path):
    cfg = write(tmp_path / "réglages ✓.toml", "[general]\nconfirm_above = 50\n")
    r = cli("--config", str(cfg), "--db", db_url, "labels", "add", "MOPS.test", "--priority", "5", "--yes")
    assert r.code == 0, r.err
    dbs = Databases(db_url, db_url)
    with dbs.connect() as conn:
        assert conn.execute(select(schema.Label.c.priority).where(schema.Label.c.label == "MOPS.test")).scalar() == 5
    dbs.dispose()


def test_change_whose_audit_cannot_be_written_does_not_happen(cli, db_url, isolated_home, monkeypatch, tmp_path):
    dbs = Databases(db_url, db_url)
    with dbs.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS mopstoolAudit"))
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    r = cli("--db", db_url, "labels", "add", "MOPS.noaudit", "--yes")
    assert r.code == 74, (r.code, r.err)
    assert "audit" in r.err and "nothing was changed" in r.err
    with dbs.connect() as conn:
        assert conn.execute(select(schema.Label.c.label).where(schema.Label.c.label == "MOPS.noaudit")).first() is None
    dbs.dispose()


def test_audit_unwritable_raises_74_in_ops(db_url, monkeypatch, tmp_path):
    from mopstool.db.own import record_audit

    blocker = tmp_path / "f"
    blocker.write_text("")
    monkeypatch.setenv("XDG_DATA_HOME", str(blocker))
    dbs = Databases(db_url, db_url)
    with dbs.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS mopstoolAudit"))
    with pytest.raises(MopsError) as exc:
        with dbs.begin() as conn:
            conn.execute(schema.Label.insert().values(label="L1"))
            record_audit(conn, "x", 1, command=["mopstool"])
    assert exc.value.code == 74
    with dbs.connect() as conn:
        assert conn.execute(select(schema.Label)).first() is None
    dbs.dispose()


def test_state_files_are_private(cli, isolated_home):
    r = cli("db", "init")
    assert r.code == 0, r.err
    db = isolated_home / ".local" / "share" / "mopstool" / "mopstool.sqlite"
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_chain_errors_are_config_errors(isolated_home):
    write(isolated_home / ".ipprc", "DBSERVER STR h\n", 0o644)
    with pytest.raises(ConfigError, match="lacks DBUSER, DBNAME"):
        legacy_database_url(load_config(None, env={"HOME": str(isolated_home)}))


def test_foreign_keys_are_enforced_on_every_backend(db_url):
    """A write in the wrong order fails in the tests, as it would on the real gpc1."""
    from sqlalchemy.exc import IntegrityError

    dbs = Databases(db_url, db_url)
    try:
        with pytest.raises(IntegrityError):
            with dbs.begin() as conn:       # a rawImfile before its newImfile
                conn.execute(schema.newExp.insert().values(exp_id=1))
                conn.execute(schema.rawExp.insert().values(exp_id=1, exp_name="o1g1o", fault=0))
                conn.execute(schema.rawImfile.insert().values(exp_id=1, class_id="XY01", tmp_class_id="ota01",
                                                              fault=0, raw_image_id=1))
        with pytest.raises(IntegrityError):
            with dbs.begin() as conn:       # a chipRun of an exposure that does not exist
                conn.execute(schema.chipRun.insert().values(chip_id=9, exp_id=12345, state="new"))
        with dbs.begin() as conn:           # the right order works
            conn.execute(schema.newExp.insert().values(exp_id=1))
            conn.execute(schema.newImfile.insert().values(exp_id=1, tmp_class_id="ota01"))
            conn.execute(schema.rawExp.insert().values(exp_id=1, exp_name="o1g1o", fault=0))
            conn.execute(schema.rawImfile.insert().values(exp_id=1, class_id="XY01", tmp_class_id="ota01",
                                                          fault=0, raw_image_id=1))
            conn.execute(schema.chipRun.insert().values(chip_id=9, exp_id=1, state="new"))
            conn.execute(schema.chipProcessedImfile.insert().values(chip_id=9, exp_id=1, class_id="XY01",
                                                                    fault=0, quality=0))
    finally:
        dbs.dispose()
