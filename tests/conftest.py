"""Shared fixtures: the same database tests run on SQLite, on MariaDB, and on
MariaDB with the IPP's own DDL.

MariaDB comes from MOPSTOOL_TEST_MYSQL_URL (default mysql+pymysql://root@127.0.0.1/).
Each pytest session creates its own scratch databases and drops them at the end:
one made by mopstool's models (``mysql``), one made from the facts of the IPP's
pxadmin_create_tables.sql with no mopstool table at all (``ippddl``, see
tests/ippddl.py). Both are created once per session and emptied between tests.
Other users share that server: every database a test creates is named
``$MOPSTOOL_TEST_DB_PREFIX<session>_<kind>_<random>`` (prefix default
``mopstool_test_``; use :func:`scratch_db_name`), and the session drops all of
its own at the end, also those a failed test left behind.
With CI=true an unreachable server fails the run instead of skipping.

Tests that only read the demo night share one demo database per backend per
session (``demo_db_url``); tests that change it load their own.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import re
import sys
import uuid
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, text

from mopstool.db import Databases
from mopstool.db.dialect import add_extra_auto_increment
from mopstool.db.own import own
from mopstool.db.schema import gpc1

MYSQL_SERVER_URL = os.environ.get("MOPSTOOL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1/")
IN_CI = os.environ.get("CI", "").lower() == "true"
DB_PREFIX = os.environ.get("MOPSTOOL_TEST_DB_PREFIX", "mopstool_test_")
if not re.fullmatch(r"[A-Za-z0-9_]{1,32}", DB_PREFIX):
    raise pytest.UsageError(f"MOPSTOOL_TEST_DB_PREFIX={DB_PREFIX!r}: letters, digits and _ only (at most 32)")
#: this session's part of every database name (each xdist worker is its own session)
SESSION = uuid.uuid4().hex[:6]


def scratch_db_name(kind: str = "db") -> str:
    """A MariaDB database name for a test: the one prefix, this session, a kind, a random part."""
    return f"{DB_PREFIX}{SESSION}_{kind}_{uuid.uuid4().hex[:8]}"[:64]


def pytest_sessionfinish(session, exitstatus):
    """Drop every database this session created (a failed test may have left one behind)."""
    try:
        server = create_engine(MYSQL_SERVER_URL.rstrip("/") + "/", connect_args={"connect_timeout": 3})
        with server.connect() as conn:
            names = conn.execute(text("SHOW DATABASES LIKE :p"),
                                 {"p": (DB_PREFIX + SESSION).replace("_", "\\_") + "\\_%"}).scalars().all()
            for name in names:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        server.dispose()
    except Exception:  # noqa: BLE001 - no server: nothing was created
        pass


def _create_schema(url: str) -> None:
    """mopstool's schema ('mopstool db init') in the database at *url*."""
    eng = create_engine(url)
    with eng.begin() as conn:
        _mopstool_schema(conn)
    eng.dispose()


def _scratch_database(kind: str, charset: str, build) -> str:
    """Create this session's scratch database of *kind*, build its schema with
    *build(conn)*, and return its URL; skip (fail in CI) without a server."""
    base = MYSQL_SERVER_URL.rstrip("/")
    name = scratch_db_name(kind)
    try:
        server = create_engine(base + "/", connect_args={"connect_timeout": 5})
        with server.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}`{charset}"))
        server.dispose()
    except Exception as exc:  # noqa: BLE001
        msg = f"MariaDB not reachable at {MYSQL_SERVER_URL}: {exc}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    url = f"{base}/{name}"
    eng = create_engine(url)
    with eng.begin() as conn:
        build(conn)
    eng.dispose()
    return url


def _mopstool_schema(conn) -> None:
    gpc1.create_all(conn)
    own.create_all(conn)
    add_extra_auto_increment(conn, list(gpc1.sorted_tables))


@pytest.fixture(scope="session")
def mysql_url():
    """URL of a scratch MariaDB database with mopstool's schema, for this session
    (dropped with the session's other databases at its end)."""
    return _scratch_database("main", "", _mopstool_schema)


def _empty_database(url: str, tables: dict[str, str | None]) -> None:
    """Bring a scratch MariaDB database back to empty *tables* (name -> CREATE
    statement, or None: made by SQLAlchemy's models): drop a table a test (or a
    command) added, recreate one it dropped, truncate the ones that hold rows
    or whose AUTO_INCREMENT moved on, and leave the rest alone.

    TRUNCATE is DDL on MariaDB (a new tablespace per table); most tests touch a
    few of the tables, so finding the used ones first is the cheap way back to
    an empty schema with every id counter at 1."""
    eng = create_engine(url)
    with eng.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        counters = dict(conn.execute(text(
            "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES "
            "WHERE TABLE_SCHEMA = DATABASE()")).all())
        for name in sorted(set(counters) - set(tables)):
            conn.execute(text(f"DROP TABLE `{name}`"))
        missing = [n for n in tables if n not in counters]
        for name in missing:
            if tables[name] is not None:
                conn.execute(text(tables[name]))
        if any(tables[n] is None for n in missing):
            gpc1.create_all(conn)
            own.create_all(conn)
        present = [n for n in tables if n in counters]
        with_rows = set(conn.execute(text(" UNION ALL ".join(
            f"SELECT '{n}' FROM DUAL WHERE EXISTS (SELECT 1 FROM `{n}`)" for n in present))).scalars()) \
            if present else set()
        for name in present:
            if name in with_rows or (counters.get(name) or 1) > 1:
                conn.execute(text(f"TRUNCATE TABLE `{name}`"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    eng.dispose()


#: the tables of a database made by 'mopstool db init' (SQLAlchemy's models make them)
_MOPSTOOL_TABLES = {t.name: None for t in list(gpc1.sorted_tables) + list(own.sorted_tables)}


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory):
    """An empty gpc1 schema in SQLite, built once; each test gets a copy."""
    path = tmp_path_factory.mktemp("template") / "gpc1.sqlite"
    _create_schema(f"sqlite:///{path}")
    return path


sys.path.insert(0, os.path.dirname(__file__))
import ippddl  # noqa: E402


@pytest.fixture(scope="session")
def ippddl_url():
    """URL of a scratch MariaDB database created from the IPP's DDL, for this session."""
    return _scratch_database("ippddl", " DEFAULT CHARACTER SET latin1", ippddl.create_all)


#: the tables of a gpc1 made from the IPP's DDL, with their CREATE statements
_IPPDDL_TABLES = {name: ippddl.create_table_sql(name, cols, keys) for name, cols, keys in ippddl.TABLES}


#: what a test (or a helper of its module it calls) does that needs mopstool's own
#: audit table, which an IPP-DDL gpc1 lacks: such tests skip the ippddl backend
_OWN_TABLE_READS = ("select(mopstoolAudit", "select_from(mopstoolAudit", "FROM mopstoolAudit",
                    "mopstoolAudit.c.", "TABLE mopstoolAudit")


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_own_tables: the test expects mopstool's own tables "
                                       "(it skips the ippddl backend)")
    config.addinivalue_line("markers", "initdb_schema: the test expects exactly the schema of "
                                       "'mopstool db init' (e.g. no summitExp; it skips the ippddl backend)")


def _needs_own_tables(request) -> bool:
    if request.node.get_closest_marker("needs_own_tables") or request.node.get_closest_marker("initdb_schema"):
        return True
    fn = request.function
    module = vars(inspect.getmodule(fn) or object())
    seen, todo = set(), [fn]
    while todo:
        f = todo.pop()
        if f in seen or len(seen) > 50:
            continue
        seen.add(f)
        try:
            src = inspect.getsource(f)
        except (OSError, TypeError):  # pragma: no cover
            continue
        if any(m in src for m in _OWN_TABLE_READS):
            return True
        code = getattr(f, "__code__", None)
        names = set(code.co_names) if code else set()
        for const in (code.co_consts if code else ()):
            if hasattr(const, "co_names"):
                names |= set(const.co_names)
        todo += [module[n] for n in names if inspect.isfunction(module.get(n))
                 and module[n].__module__ == fn.__module__]
    return False


@pytest.fixture(params=["sqlite", "mysql", "ippddl"])
def db_url(request, tmp_path):
    """An empty gpc1 schema on SQLite, on MariaDB, and on MariaDB built from the
    IPP's own DDL without mopstool's tables (each test runs on all three)."""
    if request.param == "sqlite":
        import shutil

        path = tmp_path / "gpc1.sqlite"
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), path)
        return f"sqlite:///{path}"
    if request.param == "ippddl":
        if _needs_own_tables(request):
            pytest.skip("the test expects the schema of 'mopstool db init' (mopstool's own audit "
                        "table, no summitExp), which an IPP-DDL gpc1 does not have")
        url = request.getfixturevalue("ippddl_url")
        _empty_database(url, _IPPDDL_TABLES)
        return url
    url = request.getfixturevalue("mysql_url")
    _empty_database(url, _MOPSTOOL_TABLES)
    return url


_DEMO_BUILD = {"mysql": ("", _mopstool_schema), "ippddl": (" DEFAULT CHARACTER SET latin1", ippddl.create_all)}


@pytest.fixture(scope="session")
def _demo_templates(tmp_path_factory):
    """template(request, kind) -> (url, DemoSummary): the demo night (mopstool
    demo) loaded once per backend per session, to read or to copy."""
    made: dict[str, tuple[str, object]] = {}

    def template(request, kind: str):
        if kind in made:
            return made[kind]
        from mopstool.config import load_config, parse_night
        from mopstool.ops.demo.night import run_demo

        root = tmp_path_factory.mktemp(f"demo-{kind}")
        (root / "home" / ".config").mkdir(parents=True)  # as isolated_home: astropy wants it to exist
        if kind == "sqlite":
            import shutil

            shutil.copyfile(request.getfixturevalue("_sqlite_template"), root / "demo.sqlite")
            url = f"sqlite:///{root / 'demo.sqlite'}"
        else:
            url = _scratch_database(f"tpl{kind}", *_DEMO_BUILD[kind])
        with pytest.MonkeyPatch.context() as mp:  # the demo must not read the developer's config
            for var in ("MOPSTOOL_CONFIG", "IPPRC"):
                mp.delenv(var, raising=False)
            mp.setenv("HOME", str(root / "home"))
            mp.setenv("XDG_CONFIG_HOME", str(root / "home" / ".config"))
            summary = run_demo(load_config(), db_url=url, reset=False, night=parse_night("2018-07-10"),
                               files_dir=str(root / "files"))
        made[kind] = (url, summary)
        return made[kind]

    return template


@pytest.fixture(scope="session", params=["sqlite", "mysql"])
def demo_db_url(request, _demo_templates):
    """The demo night (mopstool demo), loaded once per backend per session. Read it only."""
    return _demo_templates(request, request.param)[0]


def _backend(request) -> str:
    """sqlite, mysql or ippddl: the ``db_url`` backend of the test *request* belongs to."""
    return request.node.callspec.params["db_url"]


def copy_database(source_url: str, target_url: str) -> None:
    """Make *target_url* hold exactly the tables and rows of *source_url* (same backend).

    SQLite: the backup API writes the whole file. MariaDB (one server): tables
    the source lacks are dropped, missing ones created (``CREATE TABLE ...
    LIKE``), used ones truncated (id counters back to 1); then every table is
    filled by ``INSERT ... SELECT`` and AUTO_INCREMENT counters follow the
    source's. A target that already has the tables costs no DDL but the
    truncation of what the last test used."""
    if source_url.startswith("sqlite"):
        import sqlite3

        src = sqlite3.connect(source_url.split("///", 1)[1])
        dst = sqlite3.connect(target_url.split("///", 1)[1])
        with dst:
            src.backup(dst)
        src.close()
        dst.close()
        return
    source_db = source_url.rsplit("/", 1)[1]
    counters_sql = "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = :s"
    eng = create_engine(target_url)
    with eng.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        target_db = conn.execute(text("SELECT DATABASE()")).scalar_one()
        source = dict(conn.execute(text(counters_sql), {"s": source_db}).all())
        target = dict(conn.execute(text(counters_sql), {"s": target_db}).all())
        for table in sorted(set(target) - set(source)):
            conn.execute(text(f"DROP TABLE `{table}`"))
        kept = sorted(set(target) & set(source))
        with_rows = set(conn.execute(text(" UNION ALL ".join(
            f"SELECT '{t}' FROM DUAL WHERE EXISTS (SELECT 1 FROM `{t}`)" for t in kept))).scalars()) if kept else set()
        for table in kept:
            if table in with_rows or (target[table] or 1) > 1:
                conn.execute(text(f"TRUNCATE TABLE `{table}`"))
        for table in sorted(set(source) - set(target)):
            conn.execute(text(f"CREATE TABLE `{table}` LIKE `{source_db}`.`{table}`"))
        for table in source:
            conn.execute(text(f"INSERT INTO `{table}` SELECT * FROM `{source_db}`.`{table}`"))
        now = dict(conn.execute(text(counters_sql), {"s": target_db}).all())
        for table, counter in source.items():
            if counter and (now.get(table) or 0) < counter:
                conn.execute(text(f"ALTER TABLE `{table}` AUTO_INCREMENT = {int(counter)}"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    eng.dispose()


@pytest.fixture
def demo_loader(request, _demo_templates):
    """load(url=None) -> the DemoSummary of the demo night, copied into *url*
    (default: this test's ``db_url``) from the session's template for the test's
    backend: the same rows as ``mopstool demo`` writes, without loading it again.
    The summary's files (CMFs, images) are the template's: read them only."""
    def load(url: str | None = None):
        url = url or request.getfixturevalue("db_url")
        src, summary = _demo_templates(request, _backend(request))
        copy_database(src, url)
        return summary

    return load


@pytest.fixture(scope="session")
def _copy_slots():
    """Per backend, the MariaDB databases scratch_copies has made; reused test after test."""
    return {}


def scratch_copies(request, n: int, kind: str | None = None, owner: str = "tests") -> list[str]:
    """*n* databases on this test's backend (or *kind*), each a fresh copy of the
    demo night.

    SQLite: new files in a new temporary directory. MariaDB: the session keeps
    a few databases per *owner* and refills them for each caller (dropped at the
    session's end), so a caller's copies last until the next call of the same
    owner: a module-scoped fixture names an owner of its own."""
    kind = kind or _backend(request)
    src, _summary = request.getfixturevalue("_demo_templates")(request, kind)
    if kind == "sqlite":
        tmp = request.getfixturevalue("tmp_path_factory").mktemp("copies")
        urls = [f"sqlite:///{tmp / f'copy{i}.sqlite'}" for i in range(n)]
    else:
        slots = request.getfixturevalue("_copy_slots").setdefault((kind, owner), [])
        while len(slots) < n:  # empty: copy_database creates the tables
            slots.append(_scratch_database("copy", _DEMO_BUILD[kind][0], lambda conn: None))
        urls = slots[:n]
    for u in urls:
        copy_database(src, u)
    return urls


@pytest.fixture
def dbs(db_url):
    d = Databases(db_url, db_url)
    yield d
    d.dispose()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Never touch the real user's config, data dir or ~/.ipprc."""
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)  # astropy warns on import about a missing one
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    for var in ("MOPSTOOL_DB", "MOPSTOOL_PSTAMP_DB", "MOPSTOOL_DBNAME", "MOPSTOOL_CONFIG",
                "MOPSTOOL_FORMAT", "MOPSTOOL_DEBUG", "IPPRC"):
        monkeypatch.delenv(var, raising=False)
    return home


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    def json(self):
        import json

        return json.loads(self.out)


@pytest.fixture
def cli():
    """Run mopstool in-process: cli('runs', 'chip', '--json') -> CliResult."""
    from mopstool.cli.main import main

    def run(*args: str, input: str | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = 0
        stdin = io.StringIO(input or "")
        old_stdin = os.sys.stdin
        os.sys.stdin = stdin
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main([str(a) for a in args])
                except SystemExit as exc:
                    code = int(exc.code or 0)
        finally:
            os.sys.stdin = old_stdin
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


def reset_ippddl(url: str) -> None:
    """Empty an IPP-DDL scratch database (as the ``db_url`` fixture does between tests)."""
    _empty_database(url, _IPPDDL_TABLES)


_ENGINES: dict[str, object] = {}


def engine_for(url: str):
    """One engine per database URL for the test helpers that query a database
    many times (a new engine is a new connection, with a TLS handshake on MariaDB)."""
    if url not in _ENGINES:
        _ENGINES[url] = create_engine(url)
    return _ENGINES[url]


def table_contents(url: str, tables: dict[str, str], skip: tuple[str, ...] = ("timestamp", "epoch")) -> dict:
    """What *tables* (name -> ORDER BY) hold, without the *skip* columns, to compare
    two databases or one before and after: on SQLite the rows themselves; on
    MariaDB a digest made by the server (row count and a sum of row hashes, in
    one statement), since reading every row through the driver is what costs."""
    eng = engine_for(url)
    from mopstool.db import schema

    cols = {t: [c.name for c in schema.table(t).columns if c.name not in skip] for t in tables}
    with eng.connect() as conn:
        if conn.dialect.name == "sqlite":
            return {t: [tuple(r) for r in conn.execute(text(
                f"SELECT {', '.join(cols[t])} FROM {t} ORDER BY {order}"))] for t, order in tables.items()}
        parts = []
        for t in tables:
            row = "CONCAT_WS('|', " + ", ".join(f"COALESCE(CAST(`{c}` AS CHAR), '\\\\N')" for c in cols[t]) + ")"
            parts.append(f"SELECT '{t}', COUNT(*), COALESCE(SUM(CONV(LEFT(MD5({row}), 12), 16, 10)), 0) FROM `{t}`")
        return {t: (int(n), int(s)) for t, n, s in conn.execute(text(" UNION ALL ".join(parts)))}
