"""Error classification (spec: error_handlers.py): retry, fail for the user, or time out."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Classified:
    code: str
    message: str
    retryable: bool


def classify(error: BaseException) -> Classified:
    if isinstance(error, SoftTimeLimitExceeded):
        return Classified("TIMEOUT", "The task exceeded its time limit", False)
    if isinstance(error, TimeLimitExceeded):
        return Classified("HARD_TIMEOUT", "The task exceeded its hard time limit", False)
    if isinstance(error, AppError):
        return Classified(error.code, error.message, error.retryable)
    if isinstance(error, RETRYABLE) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    ):
        return Classified("TRANSIENT_ERROR", f"{type(error).__name__}: {error}", True)
    return Classified("INTERNAL_ERROR", f"{type(error).__name__}: {error}", False)
