"""Enqueue after commit, never before: jobs queued in a transaction are sent when it commits
and dropped when it rolls back. The producer sends by task name and queue only."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from workers.queues import CALLBACK_TASK, PROCESS_TASK, tool_queue

log = logging.getLogger(__name__)
_PENDING = "agensium_pending_sends"


@dataclass(frozen=True)
class PendingSend:
    name: str
    args: tuple[Any, ...]
    queue: str
    countdown: float | None = None


def send_after_commit(session: Session, send: PendingSend) -> None:
    session.info.setdefault(_PENDING, []).append(send)


def enqueue_processing(session: Session, task_id: str, tenant_id: str, tool_id: str) -> None:
    send_after_commit(session, PendingSend(PROCESS_TASK, (task_id, tenant_id), tool_queue(tool_id)))


def enqueue_callback(session: Session, task_id: str) -> None:
    from workers.queues import MAINTENANCE_QUEUE

    send_after_commit(session, PendingSend(CALLBACK_TASK, (task_id,), MAINTENANCE_QUEUE))


def enqueue_deletion(session: Session, prefix: str) -> None:
    """Delete the objects under ``prefix`` later, retried until S3 answers (the maintenance
    queue's ``agensium.delete_objects``)."""
    from workers.queues import DELETE_OBJECTS_TASK, MAINTENANCE_QUEUE

    send_after_commit(session, PendingSend(DELETE_OBJECTS_TASK, (prefix,), MAINTENANCE_QUEUE))


def send_now(send: PendingSend) -> None:
    from workers.app import app

    # ignore_result: nobody waits on these Celery results (the task row is the source of
    # truth), and without it every publish SUBSCRIBEs the gateway to the result's channel,
    # a Redis round trip and a subscription that is never released.
    app.send_task(
        send.name,
        args=list(send.args),
        queue=send.queue,
        countdown=send.countdown,
        ignore_result=True,
    )


def warm_publisher() -> bool:
    """Open a broker connection and channel now and leave them in Celery's producer pool, so
    the first publish after a commit does not pay for the connect (the gateway calls it at
    startup, off the event loop). False, logged, when the broker is not reachable."""
    from workers.app import app

    try:
        with app.producer_or_acquire() as producer:
            producer.connection.ensure_connection(max_retries=1)
            _ = producer.channel  # the channel (and its Redis client) is made here
        return True
    except Exception as exc:
        log.warning("task.publisher_warmup_failed error=%s", type(exc).__name__)
        return False


_COMMIT_SPAN = "agensium_commit_span"


@event.listens_for(Session, "before_commit")
def _open_commit_span(session: Session) -> None:
    """The commit that releases messages is a span of its own (``db.commit``: the last flush
    and the database's COMMIT), so a trace shows what the publish waited for."""
    if session.info.get(_PENDING):
        from opentelemetry import trace

        session.info[_COMMIT_SPAN] = trace.get_tracer("agensium.stages").start_span("db.commit")


@event.listens_for(Session, "after_commit")
def _send_pending(session: Session) -> None:
    span = session.info.pop(_COMMIT_SPAN, None)
    if span is not None:
        span.end()
    pending: list[PendingSend] = session.info.pop(_PENDING, [])
    if not pending:
        return
    from core.telemetry import stage

    for send in pending:
        try:
            with stage("enqueue.publish", queue=send.queue):
                send_now(send)
            log.info("task.enqueued name=%s args=%s queue=%s", send.name, send.args, send.queue)
        except Exception:
            # The row is committed as QUEUED: the sweeper re-sends a message that never left.
            log.exception("task.enqueue_failed name=%s args=%s", send.name, send.args)


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    session.info.pop(_PENDING, None)
    span = session.info.pop(_COMMIT_SPAN, None)
    if span is not None:
        span.end()
