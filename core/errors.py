"""One error hierarchy for the whole platform, rendered by one handler in the gateway.

Every expected failure is an ``AppError`` with a stable ``code``, a user-facing ``message``,
an HTTP ``status_code`` and optional ``details``. The worker stores ``code`` and ``message``
on the task row, so a tenant sees the same code whichever side found the problem.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    code: ClassVar[str] = "INTERNAL_ERROR"
    status_code: ClassVar[int] = 500
    #: Transient errors may be retried by the worker; user errors never are.
    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        details: dict[str, Any] | None = None,
        code: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        self.headers = headers or {}
        if code is not None:
            self.code = code  # type: ignore[misc]

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class BadRequestError(AppError):
    code = "BAD_REQUEST"
    status_code = 400


class ValidationFailedError(AppError):
    code = "VALIDATION_ERROR"
    status_code = 422


class AuthenticationError(AppError):
    code = "UNAUTHENTICATED"
    status_code = 401


class PermissionDeniedError(AppError):
    code = "FORBIDDEN"
    status_code = 403


class NotFoundError(AppError):
    """Also what another tenant's resource answers: never 403, never data."""

    code = "NOT_FOUND"
    status_code = 404


class ConflictError(AppError):
    code = "CONFLICT"
    status_code = 409


class PaymentRequiredError(AppError):
    code = "INSUFFICIENT_CREDITS"
    status_code = 402


class TooLargeError(AppError):
    code = "PAYLOAD_TOO_LARGE"
    status_code = 413


class RateLimitedError(AppError):
    code = "RATE_LIMITED"
    status_code = 429


class QuotaExceededError(AppError):
    code = "QUOTA_EXCEEDED"
    status_code = 429


class DependencyUnavailableError(AppError):
    code = "SERVICE_UNAVAILABLE"
    status_code = 503
    retryable = True
