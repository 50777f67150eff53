"""Error classification (spec: error_handlers.py): retry, fail for the user, or time out.

Three outcomes: *interrupted* (the worker stopped the run: SIGTERM from the pool on broker
connection loss, a warm or cold shutdown; the task's fault it is not, so it is retried from
its checkpoint), *retryable* (a dependency failed: database, Redis, S3), or permanent.
"""

from __future__ import annotations

from dataclasses import dataclass

from billiard.exceptions import Terminated, WorkerLostError
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from sqlalchemy.exc import DBAPIError, OperationalError

from core.errors import AppError

try:  # redis errors surface from progress publishing and the broker
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
except ImportError:  # pragma: no cover
    RedisConnectionError = ConnectionError  # type: ignore[misc,assignment]
    RedisTimeoutError = TimeoutError  # type: ignore[misc,assignment]

RETRYABLE: tuple[type[BaseException], ...] = (
    ConnectionError,
    TimeoutError,
    OperationalError,
    RedisConnectionError,
    RedisTimeoutError,
)

#: How a stopping worker ends a running task: billiard raises ``SystemExit`` in the pool child
#: on SIGTERM (connection loss with ``worker_cancel_long_running_tasks_on_connection_loss``, a
#: cold shutdown), ``Terminated`` on ``revoke(terminate=True)``; ``KeyboardInterrupt`` on SIGINT.
INTERRUPTIONS: tuple[type[BaseException], ...] = (
    SystemExit,
    KeyboardInterrupt,
    Terminated,
    WorkerLostError,
)

INTERRUPTED = "WORKER_INTERRUPTED"


@dataclass(frozen=True)
class Classified:
    code: str
    message: str
    retryable: bool
    #: The worker stopped the run (not the task's fault): retry, and let the process exit.
    interrupted: bool = False


def classify(error: BaseException) -> Classified:
    if isinstance(error, SoftTimeLimitExceeded):
        return Classified("TIMEOUT", "The task exceeded its time limit", False)
    if isinstance(error, TimeLimitExceeded):
        return Classified("HARD_TIMEOUT", "The task exceeded its hard time limit", False)
    if isinstance(error, INTERRUPTIONS):
        return Classified(
            INTERRUPTED,
            f"The worker stopped while running the task ({type(error).__name__}); it is retried"
            " from its last finished agent",
            True,
            interrupted=True,
        )
    if isinstance(error, AppError):
        return Classified(error.code, error.message, error.retryable)
    if isinstance(error, RETRYABLE) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return Classified("TRANSIENT_ERROR", f"{type(error).__name__}: {error}", True)
    return Classified("INTERNAL_ERROR", f"{type(error).__name__}: {error}", False)
