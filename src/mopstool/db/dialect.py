"""Dialect specifics in one place: extra auto-increment columns, named locks,
an indexed prefix match."""

from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import String, Table, TypeDecorator, bindparam, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import NullType

from mopstool.db import is_mysql
from mopstool.db.schema import EXTRA_AUTO_INCREMENT
from mopstool.errors import TempFail


class _Prefix(TypeDecorator):
    """A prefix bound as a parameter and sent with the backend's wildcard
    appended ('%' for LIKE, '*' for SQLite's GLOB), so that a statement
    compiled for one prefix serves every other (SQLAlchemy's compiled cache:
    the look-back night's queries reuse the night's)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else value + ("*" if dialect.name == "sqlite" else "%")


class PrefixMatch(ColumnElement):
    """*column* starts with *prefix*, written so that the column's index bounds
    the search on every backend: ``LIKE 'prefix%'`` on MySQL/MariaDB, ``GLOB
    'prefix*'`` on SQLite, whose LIKE is case-insensitive and so never uses an
    index on a column of the default (BINARY) collation: the LIKE form scans
    the whole table there. The prefix is case-sensitive on SQLite, as the
    IPP's names are (exposure names are lower case). The prefix is a bound
    parameter (not part of the statement's cache key)."""

    inherit_cache = True
    type = NullType()  # no "= 1" around it where SQLite has no native boolean
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("pattern", InternalTraversal.dp_clauseelement)]

    def __init__(self, column, prefix: str):
        if any(c in prefix for c in "%_*?[]\\"):
            raise ValueError(f"prefix_match: {prefix!r} holds a wildcard character")
        self.column = column
        self.prefix = prefix
        self.pattern = bindparam(None, prefix, type_=_Prefix(), unique=True)


def prefix_match(column, prefix: str) -> PrefixMatch:
    """The condition *column* starts with *prefix* (indexed on every backend)."""
    return PrefixMatch(column, prefix)


@compiles(PrefixMatch)
def _prefix_like(element: PrefixMatch, compiler, **kw) -> str:
    return compiler.process(element.column.like(element.pattern), **kw)


@compiles(PrefixMatch, "sqlite")
def _prefix_glob(element: PrefixMatch, compiler, **kw) -> str:
    return compiler.process(element.column.op("GLOB")(element.pattern), **kw)


def needs_explicit_id(conn: Connection, table: Table) -> str | None:
    """The column to fill by hand on insert (SQLite cannot auto-increment a
    column that is not the whole primary key), or None."""
    if is_mysql(conn):
        return None
    return EXTRA_AUTO_INCREMENT.get(table.name)


def next_id(conn: Connection, table: Table, column: str) -> int:
    return int(conn.execute(select(func.coalesce(func.max(table.c[column]), 0))).scalar()) + 1


def add_extra_auto_increment(conn: Connection, tables) -> None:
    """On MySQL, give the IPP's non-primary-key AUTO_INCREMENT columns their
    AUTO_INCREMENT attribute (SQLAlchemy only emits it for primary keys)."""
    if not is_mysql(conn):
        return
    for t in tables:
        col = EXTRA_AUTO_INCREMENT.get(t.name)
        if col:
            conn.execute(text(f"ALTER TABLE `{t.name}` MODIFY `{col}` BIGINT NOT NULL AUTO_INCREMENT"))


def _server_lock_key(database: str | None, name: str) -> str:
    key = f"{database}.{name}" if database else name
    if len(key) > 64:  # MySQL lock names are at most 64 characters
        import hashlib

        key = key[:47] + "." + hashlib.sha1(key.encode()).hexdigest()[:16]
    return key


def sqlite_lock_path(database: str) -> Path:
    """The lock file of a SQLite database: beside the file its path resolves to,
    so a symlinked or relative path to the same file takes the same lock."""
    real = Path(os.path.realpath(os.path.expanduser(str(database))))
    return real.with_name(real.name + ".lock")


#: seconds between two tries of a held SQLite file lock
_POLL = 0.01  # a waiting SQLite writer looks this often: it must catch the gap between two batches


@contextmanager
def named_lock(engine: Engine, name: str, timeout: int | float = 0) -> Iterator[None]:
    """Serialise state-changing commands: MySQL GET_LOCK, a file lock on SQLite.

    Waits up to *timeout* seconds (``general.lock_timeout``), then raises
    TempFail (exit 75) when another process still holds the lock."""
    timeout = max(0, timeout or 0)
    if is_mysql(engine):
        # GET_LOCK names are server-wide: qualify by database so that two
        # databases on one server (gpc1 and a scratch copy) do not block each other
        key = _server_lock_key(engine.url.database, name)
        conn = engine.connect()
        try:
            got = conn.execute(text("SELECT GET_LOCK(:n, :t)"), {"n": key, "t": timeout}).scalar()
            if got != 1:
                raise TempFail(f"another mopstool holds the lock {name!r}"
                               f"{f' (waited {timeout:g} s)' if timeout else ''}; retry later")
            try:
                yield
            finally:
                conn.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": key})
        finally:
            conn.close()
        return
    db = engine.url.database
    if not db or db == ":memory:":
        yield
        return
    lock_path = sqlite_lock_path(db)
    try:
        fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError as exc:
        import errno

        from mopstool.errors import PermissionProblem, WriteFailed

        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
            raise WriteFailed(f"cannot create the write lock {lock_path} ({exc.strerror}); "
                              "nothing changed") from None
        raise PermissionProblem(f"the SQLite database is read-only here: cannot create the write "
                                f"lock {lock_path} ({exc.strerror}); nothing changed") from None
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TempFail(f"another mopstool holds the lock {name!r} on {db}"
                                   f"{f' (waited {timeout:g} s)' if timeout else ''}; "
                                   "retry later") from None
                time.sleep(_POLL)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
