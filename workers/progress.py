"""Progress events: written to the task row by the runner, published here for SSE streams and
mirrored to Celery (``update_state``) so Flower shows them.

The row is the source of truth and is written by the runner in its own transaction; what this
module sends is a notification, best effort. So it is sent off the task's thread: one sender
thread per worker process sends them in the order they were made (each a Redis round trip or
three: PUBLISH; Celery's state GET, SETEX and PUBLISH; its task-progress event), while the task
goes on. Each send runs in the context it was made in, so its Redis spans stay in the task's
trace and its log lines carry the task's ids.
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from core.redis import get_redis, progress_channel

log = logging.getLogger(__name__)

#: Notifications waiting beyond this many (Redis is down and each send waits for its timeout)
#: are dropped, with a warning, rather than queued without bound.
MAX_PENDING = 1000

_Item = tuple[contextvars.Context, Callable[[], None]]


class _Sender:
    """A FIFO of sends and the daemon thread that runs them; made again after a fork."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._queue: queue.Queue[_Item] = queue.Queue()

    def submit(self, send: Callable[[], None]) -> None:
        q = self._ensure_started()
        if q.qsize() >= MAX_PENDING:
            log.warning("progress.dropped pending=%s", q.qsize())
            return
        q.put((contextvars.copy_context(), send))

    def flush(self, timeout: float) -> bool:
        """Wait until what was submitted so far has been sent (True), at most ``timeout`` s."""
        if self._pid != os.getpid():
            return True  # nothing submitted in this process
        done = threading.Event()
        self._queue.put((contextvars.copy_context(), done.set))
        return done.wait(timeout)

    def _ensure_started(self) -> queue.Queue[_Item]:
        pid = os.getpid()
        if self._pid == pid:
            return self._queue
        with self._lock:
            if self._pid != pid:  # first use in this process (a forked pool child included)
                self._queue = queue.Queue()
                threading.Thread(
                    target=self._run, args=(self._queue,), daemon=True, name="progress-sender"
                ).start()
                self._pid = pid
        return self._queue

    @staticmethod
    def _run(q: queue.Queue[_Item]) -> None:
        while True:
            ctx, send = q.get()
            try:
                ctx.run(send)
            except Exception:  # each send logs its own failure; this is a last resort
                log.warning("progress.send_failed", exc_info=True)


_sender = _Sender()


def publish(task_id: str, event: dict[str, Any]) -> None:
    payload = json.dumps(event, default=str)

    def send() -> None:
        try:
            get_redis().publish(progress_channel(task_id), payload)
        except Exception:  # progress is best effort: the row is the source of truth
            log.warning("progress.publish_failed task_id=%s", task_id, exc_info=True)

    _sender.submit(send)


def report_to_celery(
    celery_task: Any, progress: int, current_agent: str | None, task_id: str
) -> None:
    if celery_task is None or not getattr(celery_task.request, "id", None):
        return
    # The request is read here: Celery keeps it per thread, and the send runs on another.
    request = celery_task.request
    celery_id, hostname = request.id, request.hostname
    meta = {"progress": progress, "current_agent": current_agent, "task_id": task_id}

    def send() -> None:
        try:
            celery_task.backend.store_result(celery_id, meta, "PROGRESS", request=request)
            # Flower's task list follows events, not the result backend: a custom event type
            # becomes the task's state (PROGRESS) with these fields on its page.
            app = celery_task.app
            with app.events.default_dispatcher(hostname=hostname) as dispatcher:
                dispatcher.send(
                    "task-progress",
                    uuid=celery_id,
                    retry=True,
                    retry_policy=app.conf.task_publish_retry_policy,
                    **meta,
                )
        except Exception:
            log.warning("progress.celery_state_failed task_id=%s", task_id, exc_info=True)

    _sender.submit(send)


def flush(timeout: float = 5.0) -> bool:
    """Send what is pending before the process exits (``worker_process_shutdown``)."""
    return _sender.flush(timeout)
