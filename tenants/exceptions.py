from __future__ import annotations

from core.errors import AuthenticationError, NotFoundError, ValidationFailedError


class InvalidApiKey(AuthenticationError):
    code = "INVALID_API_KEY"


class MissingApiKey(AuthenticationError):
    code = "MISSING_API_KEY"


class TenantNotFound(NotFoundError):
    code = "TENANT_NOT_FOUND"


class UnknownPlan(ValidationFailedError):
    code = "UNKNOWN_PLAN"


class InvalidScopes(ValidationFailedError):
    code = "INVALID_SCOPES"
