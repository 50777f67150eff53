"""Tasks that ran, written through the service layer (create, hold, capture per successful
agent, finish with release) and then dated in the past, so usage spans several days without
waiting for them. Only the timestamps are rewritten; every credit moves through billing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from billing import service as billing
from billing.models import LedgerEntry
from tasks import service
from tasks.models import TaskStatus
from transformers.registry import get_tool


@dataclass(frozen=True)
class Ran:
    task_id: str
    tenant_id: str
    tool_id: str


def ran_task(
    session: Session,
    tenant_id: str,
    tool_id: str,
    agents: dict[str, tuple[str, int]],
    status: TaskStatus,
    *,
    started: dt.datetime,
    seconds: float,
    rows: int | None,
    nbytes: int | None,
    captured_at: dt.datetime | None = None,
) -> Ran:
    """``agents``: agent_id -> (run status, duration_ms). Successful agents are captured."""
    task = service.create_task(session, tenant_id, tool_id, list(agents), None)
    tool = get_tool(tool_id)
    est = billing.estimate(session, tool, list(task.agents), {"primary"})
    billing.hold_for_task(session, tenant_id, task.id, tool_id, est.credits)
    task.status = TaskStatus.QUEUED
    task.status = TaskStatus.PROCESSING  # claimed by a worker
    for run in task.runs:
        run.price = est.per_agent.get(run.agent_id, 0)
        run_status, duration = agents[run.agent_id]
        run.status = run_status
        run.duration_ms = duration
        if run_status == "success":
            billing.capture_agent(session, tenant_id, task.id, tool_id, run.agent_id, run.price)
            run.credits_charged = run.price
    task.rows_processed = rows
    task.bytes_processed = nbytes
    service.finish(session, task, status)
    finished = started + dt.timedelta(seconds=seconds)
    task.started_at = started
    task.finished_at = finished
    session.flush()
    # Date the task's ledger entries (hold, captures, release) to when they happened.
    session.execute(
        update(LedgerEntry)
        .where(LedgerEntry.task_id == task.id)
        .values(created_at=captured_at or finished)
        .execution_options(synchronize_session=False)
    )
    return Ran(task.id, tenant_id, tool_id)
