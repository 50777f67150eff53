"""``GET /metrics`` (Prometheus) and ``GET /v1/admin/queues`` (operators).

Queue depth is read from the broker at scrape time (``LLEN`` of each tool queue, so it is
right whichever gateway replica is scraped); active tasks come from the task rows. Worker
metrics (task and agent durations, credits captured) are served by the workers themselves, see
``core/metrics.py`` and docs/observability.md.
"""

from __future__ import annotations

import logging
from functools import lru_cache

import redis
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from starlette.concurrency import run_in_threadpool

from core.db import session_scope
from core.metrics import CONTENT_TYPE, ScrapeTimeGauges, render
from core.settings import get_settings
from gateway.deps import AdminDep
from gateway.errors import responses
from tasks.models import Task, TaskStatus
from workers.queues import all_queues

log = logging.getLogger(__name__)

router = APIRouter()

#: kombu's Redis transport keeps messages with a priority in ``<queue>\x06\x16<priority>``.
_PRIORITY_SEP = "\x06\x16"
_PRIORITY_STEPS = (3, 6, 9)
_ACTIVE = (TaskStatus.CREATED, TaskStatus.QUEUED, TaskStatus.PROCESSING)


@lru_cache
def _broker(url: str) -> redis.Redis:
    # The broker may be another Redis than REDIS_URL (CELERY_BROKER_URL): its own client.
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def queue_depths() -> dict[str, int]:
    """Messages waiting in each queue (not yet taken by a worker)."""
    client = _broker(get_settings().broker_url)
    queues = all_queues()
    pipe = client.pipeline(transaction=False)
    for q in queues:
        pipe.llen(q)
        for p in _PRIORITY_STEPS:
            pipe.llen(f"{q}{_PRIORITY_SEP}{p}")
    counts = pipe.execute()
    step = 1 + len(_PRIORITY_STEPS)
    return {q: int(sum(counts[i * step : (i + 1) * step])) for i, q in enumerate(queues)}


def active_tasks() -> dict[tuple[str, str], int]:
    """Tasks not yet final, by tool and status (uses the status index)."""
    with session_scope() as session:
        rows = session.execute(
            select(Task.tool_id, Task.status, func.count())
            .where(Task.status.in_([str(s) for s in _ACTIVE]))
            .group_by(Task.tool_id, Task.status)
        ).all()
    return {(str(tool), str(status)): int(n) for tool, status, n in rows}


_SCRAPE = (
    ScrapeTimeGauges(
        "agensium_queue_depth",
        "Messages waiting in each Celery queue (one queue per tool, plus maintenance).",
        ["queue"],
        lambda: {(q,): float(n) for q, n in queue_depths().items()},
    ),
    ScrapeTimeGauges(
        "agensium_tasks_active",
        "Tasks in a non-final status, by tool and status (from the task rows).",
        ["tool", "status"],
        lambda: {k: float(v) for k, v in active_tasks().items()},
    ),
)


@router.get("/metrics", include_in_schema=False)
async def metrics(_: AdminDep) -> Response:
    """Prometheus exposition, for the operator key only (``Authorization: Bearer
    <ADMIN_API_KEY>``; Prometheus sends it from a credentials file): per-route counts, queue
    depths and active tasks say too much about every tenant to be public. Without the key:
    401/403, throttled per address like every anonymous call."""
    body = await run_in_threadpool(render, _SCRAPE)
    return Response(body, media_type=CONTENT_TYPE)


class QueueStatus(BaseModel):
    queue: str
    tool_id: str | None = Field(description="The tool this queue serves (None: maintenance).")
    depth: int = Field(description="Messages waiting in the broker.")
    active: int = Field(description="Tasks of this tool in PROCESSING.")
    workers: list[str] = Field(description="Workers consuming this queue that answered.")


class QueuesOut(BaseModel):
    queues: list[QueueStatus]
    workers_responded: bool = Field(
        description="False when no worker answered within the timeout (the lists are empty)."
    )


def _workers_by_queue(timeout: float) -> dict[str, list[str]] | None:
    from workers.app import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception as exc:  # broker down: the endpoint still answers with depth unknown
        log.warning("admin.queues_inspect_failed error=%r", exc)
        return None
    out: dict[str, list[str]] = {}
    for worker, queues in replies.items():
        for q in queues or []:
            out.setdefault(q.get("name", ""), []).append(worker)
    return out


@router.get(
    "/v1/admin/queues", response_model=QueuesOut, tags=["admin"], responses=responses(401, 403)
)
def admin_queues(_: AdminDep) -> QueuesOut:
    """Per tool queue: messages waiting, tasks processing, and the workers consuming it
    (asked over the broker with a one-second timeout)."""
    from transformers.registry import TOOLS

    tool_of = {t.queue_name: t.tool_id for t in TOOLS.values()}
    depths = queue_depths()
    processing: dict[str, int] = {}
    for (tool_id, status), n in active_tasks().items():
        if status == TaskStatus.PROCESSING:
            processing[tool_id] = processing.get(tool_id, 0) + n
    workers = _workers_by_queue(timeout=1.0)
    out = []
    for q in all_queues():
        tool = tool_of.get(q)
        out.append(
            QueueStatus(
                queue=q,
                tool_id=tool,
                depth=depths.get(q, 0),
                active=processing.get(tool, 0) if tool else 0,
                workers=sorted((workers or {}).get(q, [])),
            )
        )
    return QueuesOut(queues=out, workers_responded=bool(workers))
