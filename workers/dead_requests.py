"""Requests that died with their gateway: an Idempotency-Key claim left in progress, and the
task its request had half-created. Shared by the gateway (a retry takes the key over) and the
sweeper (releases keys nobody retried), so it lives on the task side of the arrows."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import delete

from core.db import session_scope, utcnow
from core.settings import get_settings
from tasks.models import IdempotencyRecord

log = logging.getLogger(__name__)
#: What an in-progress record says its request created so far (``response_body`` is free
#: until a response is stored).
PENDING = "_pending"


def stale_before() -> dt.datetime:
    return utcnow() - dt.timedelta(seconds=get_settings().gateway_request_timeout_seconds)


def release(record_id: str) -> bool:
    """Free an in-progress key whose request died and discard what it half-created; exactly
    one caller wins (the conditional delete). Used by the takeover and by the sweeper."""
    with session_scope() as session:
        record = session.get(IdempotencyRecord, record_id)
        if record is None or record.response_status is not None:
            return False
        pending = (record.response_body or {}).get(PENDING) or {}
        tenant_id = record.tenant_id
        done = _finished_work(session, tenant_id, pending.get("task_id"))
        if done is not None:
            # The dead request got as far as queueing its task: that is its outcome, and
            # the key replays it (a retry must not create a second task).
            record.response_status, record.response_body = 201, done
            log.warning("idempotency.completed_for_dead_request record_id=%s", record_id)
            return False
        gone = session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.id == record_id, IdempotencyRecord.response_status.is_(None)
            )
        )
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            return False
    task_id = pending.get("task_id")
    if task_id:
        from tasks.intake import discard_task

        discard_task(tenant_id, str(task_id))
    log.warning("idempotency.released record_id=%s task_id=%s", record_id, task_id)
    return True


def _finished_work(session: Any, tenant_id: str, task_id: Any) -> dict[str, Any] | None:
    """The created task's summary if the dead request had already processed it."""
    from tasks.models import Task, TaskStatus

    if not task_id:
        return None
    task = session.get(Task, str(task_id))
    if task is None or task.tenant_id != tenant_id or task.status == TaskStatus.CREATED:
        return None
    return {
        "task_id": task.id,
        "status": str(task.status),
        "tool_id": task.tool_id,
        "agents": list(task.agents),
        "credits_held": task.credits_held,
    }
