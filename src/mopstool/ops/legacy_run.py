"""Dispatch of parsed legacy calls to the ops library."""

from __future__ import annotations

from mopstool.db import Databases
from mopstool.ops import legacy
from mopstool.ops.legacy import LegacyCall


def run(call: LegacyCall, dbs: Databases, cfg):
    """Execute *call*; returns (rows or None, row name, MDC types)."""
    spec = legacy.MODES[call.tool][call.mode]
    handler = globals()[f"_do_{spec.handler}"]
    return handler(call, dbs, cfg, spec)


def _do_listrun(call, dbs, cfg, spec):
    with dbs.connect() as conn:
        rows, types = legacy.listrun(conn, call)
    return rows, spec.rowname, types


def _do_pendingcleanuprun(call, dbs, cfg, spec):
    with dbs.connect() as conn:
        rows, types = legacy.pendingcleanuprun(conn, call)
    return rows, spec.rowname, types
