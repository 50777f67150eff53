"""The Celery tasks. ``process_analysis`` is the one unified task of the spec: it routes by the
task row's ``tool_id`` through the tool registry (no if-chain) to the shared pipeline."""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

from celery import Task as CeleryTask

from core.errors import DependencyUnavailableError
from core.settings import get_settings
from workers.app import app
from workers.queues import (
    CALLBACK_TASK,
    DELETE_OBJECTS_TASK,
    PING_TASK,
    PROCESS_TASK,
    RETENTION_TASK,
    SWEEP_TASK,
)
from workers.runner import RetryLater, run_task

log = logging.getLogger(__name__)


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@app.task(
    bind=True,
    name=PROCESS_TASK,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=None,  # the attempt budget lives on the task row, not in the message
)
def process_analysis(self: CeleryTask, task_id: str, tenant_id: str) -> dict[str, Any]:
    """Process one task by id. Redelivered or duplicate messages are harmless (see runner)."""
    try:
        status = run_task(task_id, tenant_id, _owner(), celery_task=self)
    except RetryLater as exc:
        raise self.retry(countdown=exc.countdown, exc=exc.cause) from None
    return {"task_id": task_id, "status": status}


@app.task(name=PING_TASK)
def ping(sent_at: float | None = None) -> dict[str, Any]:
    """A no-op on any queue: operators use it to check a pool end to end, and the latency
    benchmark uses it as the bare-Celery baseline (it reports when it started)."""
    return {"started_at": time.time(), "sent_at": sent_at, "worker": _owner()}


@app.task(name=SWEEP_TASK, acks_late=True)
def sweep() -> dict[str, int]:
    from workers.sweeper import sweep as run_sweep

    return run_sweep()


@app.task(name=RETENTION_TASK, acks_late=True)
def retention() -> dict[str, int]:
    from workers.sweeper import apply_retention

    return apply_retention()


@app.task(
    bind=True,
    name=DELETE_OBJECTS_TASK,
    acks_late=True,
    autoretry_for=(DependencyUnavailableError,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=200,  # about a day at the 10-minute cap: an S3 outage ends long before
)
def delete_objects(self: CeleryTask, prefix: str) -> dict[str, int]:
    """Delete a discarded task's objects once S3 answers again (see workers/cleanup.py)."""
    from workers.cleanup import delete_objects as run

    deleted = run(prefix)
    log.info("storage.deferred_deletion_done prefix=%s deleted=%s", prefix, deleted)
    return {"deleted": deleted}


@app.task(
    bind=True,
    name=CALLBACK_TASK,
    acks_late=True,
    autoretry_for=(ConnectionError, TimeoutError, OSError),
    retry_backoff=True,
    retry_backoff_max=600,
    retry_jitter=True,
    # CALLBACK_MAX_ATTEMPTS counts the first try too.
    max_retries=max(0, get_settings().callback_max_attempts - 1),
)
def deliver_callback(self: CeleryTask, task_id: str) -> dict[str, Any]:
    from workers.callbacks import deliver

    return deliver(task_id)


@app.task(name="agensium.report_usage", acks_late=True)
def report_usage() -> dict[str, int]:
    """Send postpaid usage from the meter outbox to Stripe (skipped without STRIPE_API_KEY)."""
    from billing.meters import send_pending
    from core.settings import get_settings

    if get_settings().stripe_api_key is None:
        return {"skipped": 1}
    r = send_pending()
    return {"sent": r.sent, "retry_later": r.retry_later, "failed": r.failed}
