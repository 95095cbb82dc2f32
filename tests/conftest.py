"""Shared fixtures: the same database tests run on SQLite and on MariaDB.

MariaDB comes from MOPSTOOL_TEST_MYSQL_URL (default mysql+pymysql://root@127.0.0.1/).
Each pytest session creates its own scratch database and drops it at the end.
With CI=true an unreachable server fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import io
import os
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


def _create_schema(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as conn:
        gpc1.create_all(conn)
        own.create_all(conn)
        add_extra_auto_increment(conn, list(gpc1.sorted_tables))
    eng.dispose()


@pytest.fixture(scope="session")
def mysql_url():
    """URL of a scratch MariaDB database with the schema, for this session."""
    base = MYSQL_SERVER_URL.rstrip("/")
    name = f"mopstool_test_{uuid.uuid4().hex[:10]}"
    try:
        server = create_engine(base + "/", connect_args={"connect_timeout": 5})
        with server.connect() as conn:
            conn.execute(text(f"CREATE DATABASE `{name}`"))
    except Exception as exc:  # noqa: BLE001
        msg = f"MariaDB not reachable at {MYSQL_SERVER_URL}: {exc}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
    url = f"{base}/{name}"
    _create_schema(url)
    yield url
    with server.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    server.dispose()


def _truncate_all(url: str) -> None:
    eng = create_engine(url)
    with eng.begin() as conn:
        own.create_all(conn)  # a test may have dropped mopstool's own tables (audit fallback)
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for t in list(gpc1.sorted_tables) + list(own.sorted_tables):
            conn.execute(text(f"TRUNCATE TABLE `{t.name}`"))
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    eng.dispose()


@pytest.fixture(params=["sqlite", "mysql"])
def db_url(request, tmp_path):
    """An empty gpc1 schema on SQLite or on MariaDB (each test runs on both)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gpc1.sqlite'}"
        _create_schema(url)
        return url
    url = request.getfixturevalue("mysql_url")
    _truncate_all(url)
    return url


@pytest.fixture
def dbs(db_url):
    d = Databases(db_url, db_url)
    yield d
    d.dispose()


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """Never touch the real user's config, data dir or ~/.ipprc."""
    home = tmp_path / "home"
    home.mkdir()
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
