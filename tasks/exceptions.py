from __future__ import annotations

from core.errors import ConflictError, NotFoundError, QuotaExceededError, ValidationFailedError


class TaskNotFound(NotFoundError):
    code = "TASK_NOT_FOUND"


class MissingFile(ConflictError):
    code = "MISSING_FILE"


class UnknownRole(ValidationFailedError):
    code = "UNKNOWN_ROLE"


class QuotaExceeded(QuotaExceededError):
    code = "QUOTA_EXCEEDED"


class InvalidCallbackUrl(ValidationFailedError):
    code = "INVALID_CALLBACK_URL"
