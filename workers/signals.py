"""Celery signals (spec: callbacks.py): structured logs and metrics, not prints."""

from __future__ import annotations

import logging
from typing import Any

from celery.signals import (
    setup_logging,
    task_failure,
    task_retry,
    task_success,
    worker_init,
    worker_process_init,
    worker_process_shutdown,
)

log = logging.getLogger("workers.signals")


@task_success.connect
def on_task_success(sender: Any = None, result: Any = None, **kwargs: Any) -> None:
    log.info("celery.task_success task=%s result=%s", getattr(sender, "name", sender), result)


@task_failure.connect
def on_task_failure(
    sender: Any = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    **kwargs: Any,
) -> None:
    log.error(
        "celery.task_failure task=%s celery_id=%s error=%r",
        getattr(sender, "name", sender),
        task_id,
        exception,
    )


@task_retry.connect
def on_task_retry(sender: Any = None, reason: Any = None, **kwargs: Any) -> None:
    log.warning("celery.task_retry task=%s reason=%s", getattr(sender, "name", sender), reason)


@setup_logging.connect
def on_setup_logging(**kwargs: Any) -> None:
    """Connecting here stops Celery from installing its own handlers: our JSON logs it is."""
    from core.logging import configure_logging

    configure_logging("worker")


@worker_process_init.connect
def on_worker_process_init(**kwargs: Any) -> None:
    """After the fork: fresh database connections and telemetry per child process."""
    from core.db import reset_engine
    from core.logging import configure_logging
    from core.storage import reset_storage

    reset_engine()
    reset_storage()
    configure_logging("worker")
    try:
        from core.telemetry import setup_worker_telemetry

        setup_worker_telemetry()
    except ImportError:
        pass


@worker_init.connect
def on_worker_init(**kwargs: Any) -> None:
    """Main process, before the pool forks: serve the pool's aggregated Prometheus samples
    (AGENSIUM_WORKER_METRICS_PORT + PROMETHEUS_MULTIPROC_DIR; see core/metrics.py)."""
    from core.metrics import start_worker_metrics_server

    start_worker_metrics_server()


@worker_process_shutdown.connect
def on_worker_process_shutdown(pid: int | None = None, **kwargs: Any) -> None:
    import os

    from core.metrics import mark_process_dead
    from core.telemetry import shutdown_telemetry
    from workers import progress

    progress.flush(timeout=2.0)  # the last progress notifications, sent off the task thread
    shutdown_telemetry()  # flush the spans still in the batch processor
    mark_process_dead(pid or os.getpid())
