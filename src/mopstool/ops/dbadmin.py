"""Create and check the schema (``mopstool db init`` / ``mopstool db check``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, insert

from mopstool import __version__
from mopstool.db import Databases, describe_url
from mopstool.db.dialect import add_extra_auto_increment
from mopstool.db.own import own
from mopstool.db.schema import dbversion, gpc1, pstamp
from mopstool.errors import UsageError

#: tables whose presence means "this database already holds a gpc1 schema"
MARKER_TABLES = ("chipRun", "rawExp", "warpRun", "diffRun", "pstampRequest", "dbversion")


@dataclass
class InitResult:
    database: str
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def init_schema(dbs: Databases, *, exists_ok: bool = False) -> list[InitResult]:
    """Create the modelled schema (and mopstool's own tables) where asked."""
    results = []
    targets = [(dbs.gpc1, gpc1, dbs.gpc1_url)]
    if not dbs.same:
        targets.append((dbs.pstamp, pstamp, dbs.pstamp_url))
    for engine, metadata, url in targets:
        with dbs.connect(pstamp_db=engine is not dbs.gpc1) as conn:
            present = set(inspect(conn).get_table_names())
        marker = [t for t in MARKER_TABLES if t in present]
        if marker and not exists_ok:
            raise UsageError(
                f"{describe_url(url)} already holds an IPP schema (tables {', '.join(marker)}); "
                "mopstool never alters a real gpc1 (use --exists-ok to add only missing tables)"
            )
        res = InitResult(database=describe_url(url))
        with dbs.begin(pstamp_db=engine is not dbs.gpc1) as conn:
            wanted = list(metadata.sorted_tables) + list(own.sorted_tables)
            new = [t for t in wanted if t.name not in present]
            res.existing = sorted(t.name for t in wanted if t.name in present)
            metadata.create_all(conn, tables=[t for t in new if t.metadata is metadata])
            own.create_all(conn, tables=[t for t in new if t.metadata is own])
            add_extra_auto_increment(conn, new)
            if metadata is gpc1 and "dbversion" not in present:
                conn.execute(insert(dbversion).values(schema_version=f"mopstool-{__version__}"))
            res.created = [t.name for t in new]
        results.append(res)
    return results


@dataclass
class CheckResult:
    database: str
    tables_checked: int = 0
    missing_tables: list[str] = field(default_factory=list)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.missing_tables and not self.missing_columns


def check_schema(dbs: Databases) -> list[CheckResult]:
    """Compare live databases with the models. Extra tables/columns are fine."""
    results = []
    targets = [(False, [t for t in gpc1.sorted_tables if t.name not in pstamp.tables or dbs.same],
                dbs.gpc1_url)]
    if not dbs.same:
        targets.append((True, list(pstamp.sorted_tables), dbs.pstamp_url))
    for is_pstamp, tables, url in targets:
        res = CheckResult(database=describe_url(url))
        with dbs.connect(pstamp_db=is_pstamp) as conn:
            insp = inspect(conn)
            present = {n.lower(): n for n in insp.get_table_names()}
            for t in tables:
                res.tables_checked += 1
                live_name = present.get(t.name.lower())
                if live_name is None:
                    res.missing_tables.append(t.name)
                    continue
                live_cols = {c["name"].lower(): c["name"] for c in insp.get_columns(live_name)}
                missing = [c.name for c in t.columns if c.name.lower() not in live_cols]
                wanted = {c.name.lower() for c in t.columns}
                extra = [n for k, n in live_cols.items() if k not in wanted]
                if missing:
                    res.missing_columns[t.name] = missing
                if extra:
                    res.extra_columns[t.name] = extra
        results.append(res)
    return results
