"""Housekeeping on the maintenance queue (run by beat):

- re-send QUEUED tasks whose message was lost (queued longer than a threshold and absent from
  the tool's queue and the broker's unacked set);
- re-send PROCESSING tasks whose lease expired (the worker died) while attempts remain, and
  fail those past their attempt budget, releasing their holds;
- expire tasks never processed before the retention deadline; delete old inputs and outputs;
- release Idempotency-Keys whose request died (in progress for longer than the gateway's
  request timeout) and discard the task that request half-created.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from sqlalchemy import select

from core.db import session_scope, utcnow
from core.settings import get_settings
from core.storage import get_storage, task_prefix
from tasks.models import Task, TaskStatus
from tasks.service import finish
from workers.enqueue import PendingSend, send_now
from workers.queues import PROCESS_TASK, tool_queue

log = logging.getLogger(__name__)


def _ids_in_broker(delivered_after: float) -> tuple[set[str], set[str]] | None:
    """(ids waiting in a tool queue, ids delivered after ``delivered_after`` (unix time) but
    not yet acknowledged); None if unreadable. A delivery older than that whose task is still
    QUEUED belongs to a worker that stopped (its unacked message returns only after the
    visibility timeout, an hour), so it does not count as in flight."""
    try:
        import redis

        from transformers.registry import TOOLS

        client = redis.Redis.from_url(
            get_settings().broker_url, socket_timeout=5, socket_connect_timeout=3
        )
        waiting: set[str] = set()
        for tool in TOOLS.values():
            for item in client.lrange(tool.queue_name, 0, -1):
                waiting.update(_ids_of(item))
        delivered: dict[str, float] = {}
        for tag, score in client.zrange("unacked_index", 0, -1, withscores=True):  # type: ignore[misc,str-unpack]
            delivered[tag.decode() if isinstance(tag, bytes) else str(tag)] = float(score)
        unacked: set[str] = set()
        for tag, item in client.hgetall("unacked").items():
            name = tag.decode() if isinstance(tag, bytes) else str(tag)
            if delivered.get(name, float("inf")) >= delivered_after:
                unacked.update(_ids_of(item))
        return waiting, unacked
    except Exception:
        log.warning("sweeper.broker_unreadable", exc_info=True)
        return None


def _ids_of(item: bytes | str) -> list[str]:
    try:
        payload = json.loads(item)
        if isinstance(payload, list):  # unacked entries are [message, exchange, routing_key]
            payload = payload[0]
        return _task_ids_from_argsrepr(str(payload.get("headers", {}).get("argsrepr", "")))
    except (ValueError, AttributeError, KeyError, TypeError, IndexError):
        return []


def _task_ids_from_argsrepr(argsrepr: str) -> list[str]:
    import re

    return re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", argsrepr)


def sweep() -> dict[str, int]:
    s = get_settings()
    now = utcnow()
    lost_before = now - dt.timedelta(seconds=s.sweeper_lost_message_after_seconds)
    counts = {"resent": 0, "failed": 0, "expired": 0, "released_keys": 0}
    seen = _ids_in_broker(lost_before.timestamp())
    waiting, unacked = seen if seen is not None else (set(), set())
    resend: list[tuple[str, str, str]] = []
    with session_scope() as session:
        stale_queued = session.scalars(
            select(Task).where(Task.status == TaskStatus.QUEUED, Task.enqueued_at < lost_before)
        ).all()
        for task in stale_queued:
            # A message waiting or in flight will be claimed; only a lost one is re-sent.
            if seen is not None and task.id not in waiting and task.id not in unacked:
                task.enqueued_at = now
                resend.append((task.id, task.tenant_id, task.tool_id))
        expired_leases = session.scalars(
            select(Task).where(Task.status == TaskStatus.PROCESSING, Task.lease_expires_at < now)
        ).all()
        for task in expired_leases:
            if task.attempt >= task.max_attempts:
                finish(
                    session,
                    task,
                    TaskStatus.FAILED,
                    "ATTEMPTS_EXHAUSTED",
                    f"The worker stopped {task.attempt} times while running this task",
                )
                counts["failed"] += 1
            elif task.id not in waiting:
                # The worker died: its unacked message only returns after the visibility
                # timeout, so re-send now (the claim makes a later duplicate harmless).
                task.enqueued_at = now
                resend.append((task.id, task.tenant_id, task.tool_id))
        never_processed = session.scalars(
            select(Task).where(
                Task.status == TaskStatus.CREATED,
                Task.created_at < now - dt.timedelta(days=s.retention_unprocessed_days),
            )
        ).all()
        for task in never_processed:
            finish(
                session,
                task,
                TaskStatus.EXPIRED,
                "EXPIRED",
                "Never processed before the retention deadline",
            )
            counts["expired"] += 1
    for task_id, tenant_id, tool_id in resend:
        send_now(PendingSend(PROCESS_TASK, (task_id, tenant_id), tool_queue(tool_id)))
        log.warning("sweeper.resent task_id=%s", task_id)
        counts["resent"] += 1
    counts["released_keys"] = release_dead_idempotency_keys()
    return counts


def release_dead_idempotency_keys() -> int:
    """In-progress Idempotency-Keys older than the gateway's request timeout: their request
    died with its gateway. Free them and discard the task each had half-created."""
    from tasks.models import IdempotencyRecord
    from workers.dead_requests import release, stale_before

    with session_scope() as session:
        ids = session.scalars(
            select(IdempotencyRecord.id).where(
                IdempotencyRecord.response_status.is_(None),
                IdempotencyRecord.created_at < stale_before(),
            )
        ).all()
    released = 0
    for record_id in ids:
        try:
            released += int(release(record_id))
        except Exception:
            log.warning("sweeper.release_failed record_id=%s", record_id, exc_info=True)
    return released


def apply_retention() -> dict[str, int]:
    s = get_settings()
    now = utcnow()
    storage = get_storage()
    deleted = 0
    with session_scope() as session:
        old_inputs = session.scalars(
            select(Task).where(
                Task.finished_at.is_not(None),
                Task.finished_at < now - dt.timedelta(days=s.retention_inputs_days),
            )
        ).all()
        for task in old_inputs:
            prefix = task_prefix(task.tenant_id, task.id)
            deleted += storage.delete_prefix(prefix + "inputs/")
            deleted += storage.delete_prefix(prefix + "work/")
            if task.finished_at and task.finished_at < now - dt.timedelta(
                days=s.retention_outputs_days
            ):
                deleted += storage.delete_prefix(prefix + "outputs/")
                task.outputs.clear()
    return {"deleted_objects": deleted}
