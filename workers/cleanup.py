"""Removing a half-created task so that the removal survives the failure it is undoing.

The row goes first, in its own committed transaction: a task is never left behind because its
files could not be deleted. Its objects are then deleted at once, or, when S3 does not answer
(the very outage that failed the request), by ``agensium.delete_objects`` on the maintenance
queue, which retries with backoff until S3 is back. Used by the one-shot create's
all-or-nothing path and by the takeover of an idempotency key whose request died.
"""

from __future__ import annotations

import logging

from core.db import is_postgres, session_scope
from core.errors import DependencyUnavailableError
from core.storage import get_storage, task_prefix
from tasks import lifecycle
from tasks.models import Task, TaskStatus
from tenants.repository import scoped
from workers.enqueue import PendingSend, send_after_commit
from workers.queues import DELETE_OBJECTS_TASK, MAINTENANCE_QUEUE

log = logging.getLogger(__name__)


def discard_task(tenant_id: str, task_id: str, *, storage_down: bool = False) -> bool:
    """Delete a task that is still deletable (CREATED or ended) and its objects; never raises
    for a storage failure. ``storage_down``: don't even try S3 now (it just failed), queue the
    deletion. Returns whether a row was removed."""
    prefix = task_prefix(tenant_id, task_id)
    with session_scope() as session:
        stmt = scoped(Task, tenant_id).where(Task.id == task_id)
        if is_postgres(session):
            stmt = stmt.with_for_update()
        task = session.scalars(stmt).first()
        if task is None or TaskStatus(task.status) not in lifecycle.DELETABLE:
            return False
        session.delete(task)
        session.flush()
        if storage_down:
            queue_deletion(session, prefix)
    if not storage_down:
        try:
            get_storage().delete_prefix(prefix)
        except DependencyUnavailableError:
            with session_scope() as session:
                queue_deletion(session, prefix)
    log.info("task.discarded task_id=%s deferred_objects=%s", task_id, storage_down)
    return True


def queue_deletion(session: object, prefix: str) -> None:
    """Delete the objects under ``prefix`` later (sent when ``session`` commits)."""
    from sqlalchemy.orm import Session

    assert isinstance(session, Session)
    send_after_commit(session, PendingSend(DELETE_OBJECTS_TASK, (prefix,), MAINTENANCE_QUEUE))
    log.warning("storage.deletion_queued prefix=%s", prefix)


def delete_objects(prefix: str) -> int:
    """The maintenance task's body: raises ``DependencyUnavailableError`` while S3 is down."""
    return get_storage().delete_prefix(prefix)
