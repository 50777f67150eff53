"""The maintenance side of removing a half-created task.

``tasks.intake.discard_task`` removes the row first, in its own committed transaction, then
the task's objects; when S3 does not answer (the very outage that failed the request) it queues
``agensium.delete_objects`` on the maintenance queue (``workers.enqueue.enqueue_deletion``),
whose body is :func:`delete_objects`: it raises while S3 is down, so Celery retries it with
backoff until S3 is back.
"""

from __future__ import annotations

from core.storage import get_storage


def delete_objects(prefix: str) -> int:
    """The maintenance task's body: raises ``DependencyUnavailableError`` while S3 is down."""
    return get_storage().delete_prefix(prefix)
