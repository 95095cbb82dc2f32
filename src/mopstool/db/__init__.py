"""Engines and connections for the image (gpc1) and stamp request databases."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from mopstool.errors import ConfigError, MopsError, Unreachable, UsageError, classify_db_error


def make_engine(url: str, *, source: str = "--db", what: str = "image database") -> Engine:
    """Create an engine for *url*, with clear errors for malformed URLs.

    SQLite connections enforce the foreign keys (PRAGMA foreign_keys=ON), as
    InnoDB does on MySQL; a new SQLite file is created readable by its owner only."""
    from mopstool.config import mask_secrets

    import logging

    logging.getLogger("mopstool.db").info("mopstool: %s: %s (from %s)", what, describe_url(url), source)
    bad = UsageError if source.startswith("--") else ConfigError
    shown = mask_secrets(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise bad(f"malformed database URL {shown!r} (from {source}); "
                  "expected e.g. mysql+pymysql://user@host/gpc1 or sqlite:///path/file.sqlite") from None
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "mysql", "mariadb"):
        raise bad(f"unsupported database {backend!r} in {shown!r} (from {source}); use mysql+pymysql or sqlite")
    kwargs: dict = {"future": True}
    if backend == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            parent = Path(db).expanduser().parent
            if not parent.is_dir():
                raise Unreachable(f"cannot open SQLite database {db}: directory {parent} does not exist")
            _create_private(Path(db).expanduser())
        kwargs["connect_args"] = {"timeout": 30}
    else:
        if parsed.drivername in ("mysql", "mariadb"):
            parsed = parsed.set(drivername=f"{backend}+pymysql")
        kwargs["pool_pre_ping"] = True
        kwargs["connect_args"] = {"connect_timeout": 10}
        if "charset" not in parsed.query:
            parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    try:
        engine = create_engine(parsed, **kwargs)
    except NoSuchModuleError:
        raise bad(f"no driver for {parsed.drivername!r} (from {source})") from None
    except (ValueError, TypeError) as exc:
        raise bad(f"malformed database URL {shown!r} (from {source}): {mask_secrets(exc)}") from None
    except ModuleNotFoundError as exc:
        raise ConfigError(f"database driver not installed: {exc.name}") from None
    from mopstool import _startup
    from mopstool.db import values

    _startup.resume()  # the command's modules are imported by now (see mopstool._startup)
    values.install(engine)  # every value checked against the column types before it is sent
    if backend == "sqlite":
        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
    return engine


def _create_private(path: Path) -> None:
    """Create an empty SQLite file with mode 0600 (sqlite3 would use the umask)."""
    import os

    if path.exists():
        return
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except FileExistsError:
        pass
    except OSError:
        pass  # sqlite3 reports the real problem on connect


def is_mysql(bind) -> bool:
    return bind.dialect.name in ("mysql", "mariadb")


def describe_url(url: str) -> str:
    """The URL with any password hidden."""
    from mopstool.config import mask_secrets

    try:
        return mask_secrets(make_url(url).render_as_string(hide_password=True))
    except (ArgumentError, ValueError, TypeError):
        return mask_secrets(url)


@dataclass
class Databases:
    """The image database and the stamp request database of one invocation."""

    gpc1_url: str
    pstamp_url: str
    gpc1_source: str = "--db"
    pstamp_source: str = "--pstamp-db"
    _engines: dict = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return self.gpc1_url == self.pstamp_url

    @property
    def gpc1(self) -> Engine:
        if "gpc1" not in self._engines:
            self._engines["gpc1"] = make_engine(self.gpc1_url, source=self.gpc1_source,
                                                what="image database")
        return self._engines["gpc1"]

    @property
    def pstamp(self) -> Engine:
        if self.same:
            return self.gpc1
        if "pstamp" not in self._engines:
            self._engines["pstamp"] = make_engine(self.pstamp_url, source=self.pstamp_source,
                                                  what="stamp database")
        return self._engines["pstamp"]

    def describe(self, pstamp_db: bool = False) -> str:
        """The database a change goes to, for the plan and the prompt: its URL with
        any password shown as ``***``."""
        return describe_url(self.pstamp_url if pstamp_db else self.gpc1_url)

    def engine(self, pstamp_db: bool = False) -> Engine:
        return self.pstamp if pstamp_db else self.gpc1

    @contextmanager
    def connect(self, pstamp_db: bool = False) -> Iterator[Connection]:
        """A read connection; database errors become MopsErrors."""
        with translate_db_errors():
            with self.engine(pstamp_db).connect() as conn:
                yield conn

    @contextmanager
    def begin(self, pstamp_db: bool = False) -> Iterator[Connection]:
        """One transaction: committed on success, rolled back on any error."""
        with translate_db_errors():
            with self.engine(pstamp_db).begin() as conn:
                yield conn

    def dispose(self) -> None:
        for e in self._engines.values():
            e.dispose()
        self._engines.clear()


@contextmanager
def translate_db_errors() -> Iterator[None]:
    try:
        yield
    except MopsError:
        raise
    except (OperationalError, DBAPIError) as exc:
        mapped = classify_db_error(exc)
        if mapped is not None:
            raise mapped from exc
        raise
