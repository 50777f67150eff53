"""Helpers for the worker tests: they start their own worker processes (often with faults
injected), so they never request the shared ``worker`` fixture."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

SAMPLE = Path(__file__).resolve().parents[2] / "core" / "samples" / "customers.csv"
PROFILE_AGENTS = ["unified-profiler", "score-risk", "test-coverage-agent", "readiness-rater"]


def captures(task_id: str) -> Counter[str]:
    """How many capture entries each agent of the task has in the ledger."""
    from billing.models import EntryKind, LedgerEntry
    from core.db import session_scope

    with session_scope() as s:
        rows = s.scalars(
            select(LedgerEntry.agent_id).where(
                LedgerEntry.task_id == task_id, LedgerEntry.kind == EntryKind.CAPTURE
            )
        ).all()
    return Counter(r for r in rows if r)


def agent_runs(task_id: str) -> dict[str, dict[str, Any]]:
    from core.db import session_scope
    from tasks.models import AgentRun

    with session_scope() as s:
        runs = s.scalars(select(AgentRun).where(AgentRun.task_id == task_id)).all()
        return {
            r.agent_id: {
                "status": r.status,
                "finished_at": r.finished_at,
                "credits": r.credits_charged,
            }
            for r in runs
        }


def wallet_matches_ledger(tenant_id: str) -> tuple[Any, Any]:
    from billing import service as billing
    from core.db import session_scope

    with session_scope() as s:
        return billing.wallet(s, tenant_id), billing.ledger_totals(s, tenant_id)


@pytest.fixture
def broker(platform):  # type: ignore[no-untyped-def]
    import redis

    from core.settings import get_settings

    client = redis.Redis.from_url(get_settings().broker_url)
    yield client
    client.close()
