"""Create and check the schema (``mopstool db init`` / ``mopstool db check``)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import inspect, insert

from mopstool import __version__
from mopstool.db import Databases, describe_url
from mopstool.db.dialect import add_extra_auto_increment
from mopstool.db.own import own
from mopstool.db.schema import EXTRA_AUTO_INCREMENT, dbversion, gpc1, pstamp
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


#: which commands a table serves (db check says who is affected when it is missing)
TABLE_USERS: dict[str, tuple[str, ...]] = {
    "Label": ("labels", "pstamp-req backlog", "czar"),
    "chipMask": ("labels block/unblock",), "camMask": ("labels block/unblock",),
    "fakeMask": ("labels block/unblock",), "warpMask": ("labels block/unblock",),
    "publishClient": ("publish", "czar", "cleanup"), "publishRun": ("publish", "czar", "cleanup"),
    "publishDone": ("publish", "czar"),
    "stackRun": ("diffpairs (WS diffs)", "cleanup", "runs stack"),
    "stackInputSkyfile": ("cleanup",), "stackSumSkyfile": ("diffpairs (WS diffs)", "runs stack"),
    "pstampRequest": ("pstamp-req", "pstamptool", "czar", "fixbroken"),
    "pstampJob": ("pstamp-req", "pstamptool", "czar", "fixbroken"),
    "pstampDependent": ("pstamp-req", "pstamptool", "cleanup", "fixbroken"),
    "pstampDataStore": ("pstamp-req",), "pstampProject": ("pstamp-req",), "pstampFile": ("pstamp-req",),
    "dbversion": ("db check",),
}
#: tables mopstool uses when present but does not require: (table, columns, what, commands)
OPTIONAL_TABLES: tuple[tuple[str, tuple[str, ...], str, tuple[str, ...]], ...] = (
    ("summitExp", ("exp_name", "dateobs"), "the summit gate of desperate diffs (rawExp vs summitExp)",
     ("diffpairs", "czar")),
    ("mopstoolAudit", ("ts", "command", "action", "rows_affected"),
     "the audit table (without it the audit goes to audit.jsonl under the data directory)",
     ("every writing command",)),
)
_MOST = ("most commands (runs, show, czar, lostvisits, diffpairs, cleanup, fixbroken, the legacy front)",)


def commands_needing(table: str) -> list[str]:
    return list(TABLE_USERS.get(table, _MOST))


@dataclass
class CheckResult:
    database: str
    tables_checked: int = 0
    missing_tables: list[str] = field(default_factory=list)
    missing_columns: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)
    #: {table: [{column, model, live}]} where the live column type differs from the IPP DDL
    type_mismatches: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: {table: [{column, model, live}]} where NULL / NOT NULL differs ("NULL" / "NOT NULL")
    null_mismatches: dict[str, list[dict[str, str]]] = field(default_factory=dict)
    #: what a command needs that the database lacks: [{table, columns, needed_for, commands, required}]
    needs: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing_tables or self.missing_columns or self.type_mismatches
                    or self.null_mismatches)


_INT_WIDTH = re.compile(r"^(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\(\d+\)")


def _type_text(typ, dialect) -> str:
    try:
        out = typ.compile(dialect=dialect)
    except Exception:  # noqa: BLE001 - a live type SQLAlchemy cannot render
        out = str(typ)
    out = out.upper()
    out = re.sub(r"\s+(CHARACTER SET|COLLATE)\s+\S+", "", out)
    out = _INT_WIDTH.sub(r"\1", out)
    out = out.replace(" UNSIGNED", " UNSIGNED").strip()
    return {"INTEGER": "INT", "DOUBLE PRECISION": "DOUBLE", "REAL": "FLOAT"}.get(out, out)


def check_schema(dbs: Databases) -> list[CheckResult]:
    """Compare live databases with the models: tables, columns, column types
    and nullability. Extra tables and columns are fine. Also lists the optional
    tables some commands use (summitExp for the summit gate) when missing."""
    results = []
    targets = [(False, [t for t in gpc1.sorted_tables if t.name not in pstamp.tables or dbs.same],
                dbs.gpc1_url)]
    if not dbs.same:
        targets.append((True, list(pstamp.sorted_tables), dbs.pstamp_url))
    for is_pstamp, tables, url in targets:
        res = CheckResult(database=describe_url(url))
        with dbs.connect(pstamp_db=is_pstamp) as conn:
            dialect = conn.dialect
            insp = inspect(conn)
            present = {n.lower(): n for n in insp.get_table_names()}
            for t in tables:
                res.tables_checked += 1
                live_name = present.get(t.name.lower())
                if live_name is None:
                    res.missing_tables.append(t.name)
                    res.needs.append({"table": t.name, "columns": [], "needed_for": "the model",
                                      "commands": commands_needing(t.name), "required": True})
                    continue
                live = {c["name"].lower(): c for c in insp.get_columns(live_name)}
                missing = [c.name for c in t.columns if c.name.lower() not in live]
                wanted = {c.name.lower() for c in t.columns}
                extra = [c["name"] for k, c in live.items() if k not in wanted]
                if missing:
                    res.missing_columns[t.name] = missing
                    res.needs.append({"table": t.name, "columns": missing, "needed_for": "the model",
                                      "commands": commands_needing(t.name), "required": True})
                if extra:
                    res.extra_columns[t.name] = extra
                for c in t.columns:
                    lc = live.get(c.name.lower())
                    if lc is None:
                        continue
                    want, have = _type_text(c.type, dialect), _type_text(lc["type"], dialect)
                    if want != have:
                        res.type_mismatches.setdefault(t.name, []).append(
                            {"column": c.name, "model": want, "live": have})
                    if c.primary_key or EXTRA_AUTO_INCREMENT.get(t.name) == c.name or \
                            want == "TIMESTAMP":
                        continue  # the server decides these (PK and AUTO_INCREMENT are NOT NULL)
                    if bool(lc.get("nullable", True)) != bool(c.nullable):
                        res.null_mismatches.setdefault(t.name, []).append(
                            {"column": c.name, "model": "NULL" if c.nullable else "NOT NULL",
                             "live": "NULL" if lc.get("nullable", True) else "NOT NULL"})
            if not is_pstamp:
                for name, cols, what, commands in OPTIONAL_TABLES:
                    live_name = present.get(name.lower())
                    lacking = list(cols)
                    if live_name is not None:
                        have = {c["name"].lower() for c in insp.get_columns(live_name)}
                        lacking = [c for c in cols if c.lower() not in have]
                    if lacking:
                        res.needs.append({"table": name, "columns": lacking if live_name else [],
                                          "needed_for": what, "commands": list(commands),
                                          "required": False})
        results.append(res)
    return results
