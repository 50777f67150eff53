"""Celery configuration, built from the settings (spec: celery_config.py).

Invariants: JSON only; ``task_acks_late`` with ``worker_prefetch_multiplier = 1``; the hard
time limit is below the Redis ``visibility_timeout`` (set in every place kombu reads it), so a
long task is never redelivered while it runs; missing queues are never created implicitly.
"""

from __future__ import annotations

import ssl
from typing import Any

from kombu import Exchange
from kombu import Queue as KombuQueue

from core.settings import Settings
from workers.queues import MAINTENANCE_QUEUE, all_queues


def _tls_options(url: str) -> dict[str, Any] | None:
    if url.startswith("rediss://"):
        return {"ssl_cert_reqs": ssl.CERT_REQUIRED}
    return None


def celery_config(s: Settings) -> dict[str, Any]:
    # Deadlines on every broker call: a frozen Redis costs a publish (made while serving a
    # request) seconds, not minutes. Consumers poll with a 1 s BRPOP, well inside them.
    transport = {
        "visibility_timeout": s.celery_visibility_timeout,
        "socket_timeout": 5,
        "socket_connect_timeout": 3,
        "health_check_interval": 30,
    }
    queues = [KombuQueue(q, Exchange(q, type="direct"), routing_key=q) for q in all_queues()]
    conf: dict[str, Any] = {
        "broker_url": s.broker_url,
        "result_backend": s.result_backend,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "task_time_limit": s.celery_task_time_limit,
        "task_soft_time_limit": s.celery_task_soft_time_limit,
        "task_track_started": True,
        # No task-sent event: it is a second Redis round trip on every publish, made while the
        # request that queued the task waits. Flower learns of a task from the worker's
        # task-received event, a moment later.
        "task_send_sent_event": False,
        "worker_send_task_events": True,
        "worker_prefetch_multiplier": 1,
        "worker_concurrency": s.celery_worker_concurrency,
        "worker_max_memory_per_child": s.celery_worker_max_memory_per_child,
        "worker_hijack_root_logger": False,
        # On purpose: when the broker connection drops, a running task's message and channel
        # are gone (it can never be acknowledged; a wiped Redis has lost it outright). Celery
        # then SIGTERMs the pool child; the runner turns that SystemExit into a requeue with
        # the checkpoints kept (workers/errors.py INTERRUPTIONS), and the redelivered or
        # sweeper-re-sent message resumes after the last finished agent: at most one agent's
        # work is redone, never charged twice, and no pool slot runs work the broker has
        # forgotten. Leaving it False would keep such tasks running unseen by the broker.
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "broker_connection_retry_on_startup": True,
        # A publish that fails is retried twice at once, then given up: the row is committed,
        # and the sweeper re-sends a message that never left.
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0,
            "interval_step": 0.5,
            "interval_max": 1,
        },
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "visibility_timeout": s.celery_visibility_timeout,
        "result_expires": 86400,
        "task_queues": queues,
        "task_default_queue": MAINTENANCE_QUEUE,
        "task_create_missing_queues": False,
        "timezone": "UTC",
        "enable_utc": True,
        "beat_schedule": {
            "sweep": {
                "task": "agensium.sweep",
                "schedule": float(s.sweeper_interval_seconds),
                "options": {"queue": MAINTENANCE_QUEUE},
            },
            "retention": {
                "task": "agensium.retention",
                "schedule": 3600.0,
                "options": {"queue": MAINTENANCE_QUEUE},
            },
            "report-usage": {
                "task": "agensium.report_usage",
                "schedule": 300.0,
                "options": {"queue": MAINTENANCE_QUEUE},
            },
        },
    }
    tls = _tls_options(s.broker_url)
    if tls:
        conf["broker_use_ssl"] = tls
    if _tls_options(s.result_backend):
        conf["redis_backend_use_ssl"] = _tls_options(s.result_backend)
    return conf
