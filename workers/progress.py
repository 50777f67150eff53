"""Progress events: written to the task row by the runner, published here for SSE streams and
mirrored to Celery (``update_state``) so Flower shows them."""

from __future__ import annotations

import json
import logging
from typing import Any

from core.redis import get_redis, progress_channel

log = logging.getLogger(__name__)


def publish(task_id: str, event: dict[str, Any]) -> None:
    try:
        get_redis().publish(progress_channel(task_id), json.dumps(event, default=str))
    except Exception:  # progress is best effort: the row is the source of truth
        log.warning("progress.publish_failed task_id=%s", task_id, exc_info=True)


def report_to_celery(
    celery_task: Any, progress: int, current_agent: str | None, task_id: str
) -> None:
    if celery_task is None or not getattr(celery_task.request, "id", None):
        return
    try:
        meta = {"progress": progress, "current_agent": current_agent, "task_id": task_id}
        celery_task.update_state(state="PROGRESS", meta=meta)
        # Flower's task list follows events, not the result backend: a custom event type
        # becomes the task's state (PROGRESS) with these fields on its page.
        celery_task.send_event("task-progress", **meta)
    except Exception:
        log.warning("progress.celery_state_failed task_id=%s", task_id, exc_info=True)
