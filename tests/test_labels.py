"""labels: the Label table and per-stage block tables."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from mopstool.db import schema
from mopstool.db.own import mopstoolAudit
from mopstool.errors import NotFound, UsageError
from mopstool.ops.runs.labels import (add_label, block_labels, delete_label, list_labels, unblock_labels,
                                 update_label)

ODD = "MOPS's 100%_label"


def _masks(dbs, table):
    t = schema.table(table)
    with dbs.connect() as conn:
        return set(conn.execute(select(t.c.label)).scalars())


def test_add_update_delete_and_list(dbs):
    add_label(dbs, "ps_ud_MOPS", priority=500)
    add_label(dbs, ODD, priority=10, active=False, comment="it's odd")
    add_label(dbs, "QUB", priority=5)
    with pytest.raises(UsageError, match="already exists"):
        add_label(dbs, "QUB")
    with pytest.raises(UsageError, match="empty"):
        add_label(dbs, " ")
    rows = list_labels(dbs)
    assert [r["label"] for r in rows] == ["ps_ud_MOPS", ODD, "QUB"]       # priority DESC
    odd = rows[1]
    assert (odd["priority"], odd["active"], odd["comment"], odd["blocked"]) == (10, False, "it's odd", [])
    assert [r["label"] for r in list_labels(dbs, ["MOPS's%"])] == [ODD]
    update_label(dbs, [ODD], priority=900, active=True)
    assert list_labels(dbs)[0]["label"] == ODD and list_labels(dbs)[0]["active"] is True
    update_label(dbs, [ODD], comment="NULL")
    assert list_labels(dbs, [ODD])[0]["comment"] is None
    with pytest.raises(NotFound):
        update_label(dbs, ["nosuch"], priority=1)
    with pytest.raises(UsageError, match="nothing to change"):
        update_label(dbs, [ODD])
    plan = delete_label(dbs, ["QUB"], dry_run=True)
    assert plan.rows == {"Label": 1} and not plan.applied
    assert "QUB" in {r["label"] for r in list_labels(dbs)}
    delete_label(dbs, ["QUB"])
    assert "QUB" not in {r["label"] for r in list_labels(dbs)}
    with dbs.connect() as conn:
        actions = conn.execute(select(mopstoolAudit.c.action)).scalars().all()
    assert actions == ["labels.add"] * 3 + ["labels.update"] * 2 + ["labels.delete"]


def test_block_and_unblock(dbs):
    plan = block_labels(dbs, [ODD, "OSS.nightlyscience"], ["chip", "warp"], dry_run=True)
    assert plan.rows == {"chipMask": 2, "warpMask": 2} and _masks(dbs, "chipMask") == set()
    block_labels(dbs, [ODD, "OSS.nightlyscience"], ["chip", "warp"])
    assert _masks(dbs, "chipMask") == _masks(dbs, "warpMask") == {ODD, "OSS.nightlyscience"}
    again = block_labels(dbs, [ODD], ["chip", "cam"])            # idempotent
    assert again.rows == {"chipMask": 0, "camMask": 1}
    rows = {r["label"]: r for r in list_labels(dbs)}
    assert rows[ODD]["blocked"] == ["chip", "cam", "warp"] and rows[ODD]["priority"] is None
    unblock_labels(dbs, [ODD], ["chip", "cam", "warp"])
    assert _masks(dbs, "chipMask") == {"OSS.nightlyscience"} and _masks(dbs, "camMask") == set()
    plan = unblock_labels(dbs, [ODD], ["chip"])
    assert plan.total == 0 and not plan.applied and "nothing to change" in plan.notes
    with pytest.raises(UsageError, match="no block table"):
        block_labels(dbs, ["x"], ["diff"])
    with pytest.raises(UsageError, match="--stage"):
        block_labels(dbs, ["x"], [])


def test_labels_cli(cli, db_url):
    r = cli("labels", "add", ODD, "--priority", "7", "--db", db_url)
    assert r.code == 0, r.err
    r = cli("labels", "block", ODD, "--all-stages", "--db", db_url, "--json")
    assert r.code == 0 and r.json()["rows"] == {"chipMask": 1, "camMask": 1, "fakeMask": 1, "warpMask": 1}
    r = cli("labels", "list", "--db", db_url, "--json", "--counts")
    (row,) = r.json()
    assert row["label"] == ODD and row["blocked"] == ["chip", "cam", "fake", "warp"] and row["runs"] == {}
    r = cli("labels", "update", ODD, "--inactive", "--db", db_url)
    assert r.code == 0 and cli("labels", "list", "--db", db_url, "--json").json()[0]["active"] is False
    r = cli("labels", "unblock", ODD, "--stage", "warp", "--db", db_url, "--dry-run")
    assert r.code == 0 and "dry run" in r.err
    assert cli("labels", "list", "--db", db_url, "--json").json()[0]["blocked"][-1] == "warp"
    r = cli("labels", "update", "nosuch", "--priority", "1", "--db", db_url)
    assert r.code == 65
