"""The usage queries are index range scans on PostgreSQL, with enough rows that a sequential
scan would be the planner's choice if the indexes did not fit (no planner settings forced).

Inserts ~40 tenants x 60 days of ledger entries, tasks and agent runs in one transaction,
ANALYZEs, EXPLAINs the exact statements ``tasks.usage`` runs for a one-day window, and rolls
everything back."""

from __future__ import annotations

import datetime as dt
import os
import random
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Connection, create_engine, insert, text

from billing.models import LedgerEntry
from tasks import usage as usage_q
from tasks.models import AgentRun, Task
from tenants.models import Tenant
from tests.platform import Platform

TENANTS = 40
DAYS = 60
NOW = dt.datetime(2026, 6, 30, tzinfo=dt.UTC)


@pytest.fixture
def pg(platform: Platform) -> Iterator[Connection]:
    if platform.postgres_url is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is required in CI but does not answer on 127.0.0.1:5432")
        pytest.skip("PostgreSQL is not running here")
    engine = create_engine(platform.postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    conn = engine.connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()
        engine.dispose()


def _fill(conn: Connection) -> str:
    rnd = random.Random(7)
    tenants = [str(uuid.uuid4()) for _ in range(TENANTS)]
    conn.execute(
        insert(Tenant),
        [{"id": t, "name": f"t{i}", "plan_id": "free"} for i, t in enumerate(tenants)],
    )
    entries: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    for t in tenants:
        for d in range(DAYS):
            for _ in range(3):
                task_id = str(uuid.uuid4())
                at = NOW - dt.timedelta(days=d, minutes=rnd.randint(0, 1400))
                tasks.append(
                    {
                        "id": task_id,
                        "tenant_id": t,
                        "tool_id": "profile-my-data",
                        "status": "COMPLETED",
                        "rows_processed": 10,
                        "bytes_processed": 100,
                        "started_at": at - dt.timedelta(seconds=5),
                        "finished_at": at,
                        "created_at": at,
                        "updated_at": at,
                    }
                )
                for kind, amount, held in (
                    ("hold", 0, 20),
                    ("capture", -10, -10),
                    ("capture", -10, -10),
                ):
                    entries.append(
                        {
                            "id": str(uuid.uuid4()),
                            "tenant_id": t,
                            "kind": kind,
                            "amount": amount,
                            "held_delta": held,
                            "idempotency_key": str(uuid.uuid4()),
                            "task_id": task_id,
                            "tool_id": "profile-my-data",
                            "meta": {},
                            "created_at": at,
                        }
                    )
                for pos, agent in enumerate(("unified-profiler", "score-risk")):
                    runs.append(
                        {
                            "id": str(uuid.uuid4()),
                            "task_id": task_id,
                            "tenant_id": t,
                            "agent_id": agent,
                            "position": pos,
                            "status": "success",
                            "duration_ms": 100,
                        }
                    )
    conn.execute(insert(Task), tasks)
    conn.execute(insert(LedgerEntry), entries)
    conn.execute(insert(AgentRun), runs)
    for table in ("tenants", "tasks", "ledger_entries", "agent_runs"):
        conn.execute(text(f"ANALYZE {table}"))
    return tenants[TENANTS // 2]


def _plan(conn: Connection, stmt: Any) -> dict[str, Any]:
    compiled = stmt.compile(dialect=conn.dialect)
    result = conn.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    plan: dict[str, Any] = result.scalar_one()[0]["Plan"]
    return plan


def _bitmap_indexes(node: dict[str, Any]) -> list[str]:
    found = [node["Index Name"]] if node.get("Node Type") == "Bitmap Index Scan" else []
    for child in node.get("Plans", []):
        found.extend(_bitmap_indexes(child))
    return found


def _scans(node: dict[str, Any]) -> list[tuple[str, str, list[str]]]:
    """(node type, relation, indexes) of every table access in the plan; a bitmap heap scan
    carries the indexes of its bitmap index scans."""
    out = []
    if "Relation Name" in node:
        indexes = [node["Index Name"]] if "Index Name" in node else []
        if node["Node Type"] == "Bitmap Heap Scan":
            indexes = _bitmap_indexes(node)
        out.append((node["Node Type"], node["Relation Name"], indexes))
    for child in node.get("Plans", []):
        out.extend(_scans(child))
    return out


def test_usage_queries_use_their_indexes_on_postgresql(pg):
    tenant = _fill(pg)
    start, end = NOW - dt.timedelta(days=1), NOW
    total = pg.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one()
    assert total >= TENANTS * DAYS * 9

    cases = {
        "tenant captures": (
            usage_q.captures_statement(tenant, start, end),
            {"ledger_entries": "ix_ledger_tenant_kind_created"},
        ),
        "tenant tasks": (
            usage_q.tasks_statement(tenant, start, end),
            {"tasks": "ix_tasks_tenant_finished"},
        ),
        "tenant agent runs": (
            usage_q.agent_runs_statement(tenant, start, end),
            {"tasks": "ix_tasks_tenant_finished", "agent_runs": "uq_agent_runs_agent"},
        ),
        "all captures": (
            usage_q.captures_statement(usage_q.ALL_TENANTS, start, end),
            {"ledger_entries": "ix_ledger_kind_created"},
        ),
        "all tasks": (
            usage_q.tasks_statement(usage_q.ALL_TENANTS, start, end),
            {"tasks": "ix_tasks_finished"},
        ),
    }
    for label, (stmt, wanted) in cases.items():
        plan = _plan(pg, stmt)
        scans = _scans(plan)
        for relation, index in wanted.items():
            used = [(node, idx) for node, rel, idx in scans if rel == relation]
            assert used, (label, scans)
            assert all(node != "Seq Scan" for node, _ in used), (label, scans)
            assert all(idx == [index] for _, idx in used), (label, index, scans)

    # The data is large enough for the choice to mean something: without the index the
    # planner reads the whole table (the drop is rolled back with everything else).
    pg.execute(text("DROP INDEX ix_tasks_finished"))
    scans = _scans(_plan(pg, usage_q.tasks_statement(usage_q.ALL_TENANTS, start, end)))
    assert [node for node, rel, _ in scans if rel == "tasks"] == ["Seq Scan"], scans
