"""Typed dependencies. An endpoint without an auth alias is public on purpose."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.db import session_scope
from core.errors import AppError, DependencyUnavailableError, PermissionDeniedError
from core.logging import bind_log_context
from core.storage import Storage, get_storage
from core.telemetry import stage
from gateway import session_tokens
from tenants import service as tenants
from tenants.exceptions import InvalidApiKey, MissingApiKey
from tenants.models import Plan
from tenants.schemas import TENANT_SCOPES, Principal


def get_session() -> Iterator[Session]:
    """The request owns the transaction: commit on success, roll back on error. Jobs queued
    during the request are sent after the commit (``workers.enqueue``)."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent, so a 2xx always means "committed" and
# a failed commit becomes an error response rather than a lie.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_read_session() -> Iterator[Session]:
    """A unit of work that only reads (``session_scope(read_only=True)``): on SQLite it takes
    no write lock, so reads do not queue behind each other or behind a writer."""
    with session_scope(read_only=True) as session:
        yield session


#: For endpoints that only read; a write through it fails (it is a bug, not an outage).
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


def api_key_from(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


#: Writes the dashboard's "new analysis" form makes with its session token, on top of
#: ``session_tokens.SESSION_WRITE_PATHS``: create a task, upload its files, process it. The token
#: is sent as a header (never a cookie), so no other site can make these requests on its behalf;
#: cancel, delete and everything else stay API-key only.
DASHBOARD_TASK_WRITES = (
    ("POST", re.compile(r"^/v1/tasks$")),
    ("PUT", re.compile(r"^/v1/tasks/[^/]+/files/[^/]+$")),
    ("POST", re.compile(r"^/v1/tasks/[^/]+/process$")),
)


def dashboard_task_write(request: Request) -> bool:
    path = request.url.path
    return any(request.method == m and p.match(path) for m, p in DASHBOARD_TASK_WRITES)


def resolve_principal(request: Request) -> Principal:
    """Who is calling: the API key (or dashboard session token) resolved to a principal, once
    per request (kept on ``request.state``). Blocking; the rate limiter calls it from its
    worker thread before the endpoint runs.

    The lookup uses a short transaction of its own, never the endpoint's unit of work: on
    SQLite every transaction takes the write lock up front, so a request-long auth transaction
    would block the endpoint's own writes.
    """
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    _raise_if_unavailable(request)
    with stage("gateway.auth"):
        try:
            return _resolve(request)
        except DependencyUnavailableError as exc:
            # The limiter resolves first and falls back to limiting by address; the endpoint's
            # auth then answers this 503 at once instead of waiting on the database again.
            request.state.principal_unavailable = exc
            raise


def _raise_if_unavailable(request: Request) -> None:
    failed = getattr(request.state, "principal_unavailable", None)
    if failed is not None:
        raise failed


def _resolve(request: Request) -> Principal:
    key = _credential(request)
    if session_tokens.is_session_token(key):
        # A dashboard session (POST /v1/auth/session): reads, and only the writes it needs.
        if not dashboard_task_write(request):
            session_tokens.check_allowed(request)
        principal = session_tokens.authenticate(key)
        request.state.via_session_token = True
    else:
        principal = tenants.cached_principal(key) or _lookup(key)
    return _remember(request, principal)


async def get_principal(request: Request) -> Principal:
    """The auth dependency. A principal already resolved (by the rate limiter) or a key in
    the principal cache is answered on the event loop; anything else goes to a thread."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    _raise_if_unavailable(request)
    key = _credential(request)
    if not session_tokens.is_session_token(key):
        with stage("gateway.auth", cached=True):
            hit = tenants.cached_principal(key)
        if hit is not None:
            return _remember(request, hit)
    return await run_in_threadpool(resolve_principal, request)


def cached_principal_of(request: Request) -> Principal | None:
    """The caller's principal if it can be answered without blocking: already on the request,
    or an API key in the principal cache (then remembered on the request). None when it needs
    a lookup, or the credential is missing, malformed or a session token (the blocking path
    answers those)."""
    cached = getattr(request.state, "principal", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    if getattr(request.state, "principal_unavailable", None) is not None:
        return None
    try:
        key = _credential(request)
    except AppError:
        return None
    if session_tokens.is_session_token(key):
        return None
    with stage("gateway.auth", cached=True):
        hit = tenants.cached_principal(key)
    return _remember(request, hit) if hit is not None else None


#: Longer than any key or session token we issue; anything longer is not a credential.
MAX_CREDENTIAL_LENGTH = 1024


def _credential(request: Request) -> str:
    key = api_key_from(request) or session_tokens.token_from_query(request)
    if not key:
        raise MissingApiKey(
            "Send your API key as 'Authorization: Bearer <key>' or 'X-API-Key'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    # Keys and tokens are printable ASCII: anything else (non-ASCII bytes, control characters,
    # a megabyte of text) is a malformed credential, 401 before any comparison or lookup.
    if len(key) > MAX_CREDENTIAL_LENGTH or not all("!" <= ch <= "~" for ch in key):
        raise InvalidApiKey(
            "Malformed credential: API keys and session tokens are printable ASCII",
            code="MALFORMED_CREDENTIAL",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return key


def _remember(request: Request, principal: Principal) -> Principal:
    request.state.principal = principal
    bind_log_context(tenant_id=principal.tenant_id, task_id=request.path_params.get("task_id"))
    return principal


def _lookup(key: str) -> Principal:
    with session_scope() as session:
        return tenants.authenticate(session, key)


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_tenant(principal: PrincipalDep) -> Principal:
    if principal.tenant_id is None:
        raise PermissionDeniedError("This endpoint needs a tenant API key, not the operator key")
    return principal


TenantDep = Annotated[Principal, Depends(require_tenant)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if not principal.is_admin:
        raise PermissionDeniedError("This endpoint needs the admin scope")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


class InsufficientScope(PermissionDeniedError):
    code = "INSUFFICIENT_SCOPE"


class ScopeCheck:
    """The dependency a route (or its router) declares to say which key scope it needs.

    The map of what each scope grants lives where the routes are declared, one line per router
    (``APIRouter(dependencies=[Scope("tasks")])``), and is listed in docs/api.md; a test walks
    ``app.routes`` and fails on a tenant route that declares none."""

    def __init__(self, scope: str) -> None:
        self.scope = scope

    async def __call__(self, principal: TenantDep) -> Principal:
        if self.scope not in principal.scopes:
            raise InsufficientScope(
                f"This API key lacks the '{self.scope}' scope",
                details={"required": self.scope, "granted": sorted(principal.scopes)},
            )
        return principal


_SCOPE_CHECKS: dict[str, ScopeCheck] = {}


def require_scope(scope: str) -> ScopeCheck:
    """The one checker for ``scope`` (shared, so routes that need it compare equal)."""
    if scope not in TENANT_SCOPES:
        raise ValueError(f"unknown scope {scope!r}; known: {TENANT_SCOPES}")
    return _SCOPE_CHECKS.setdefault(scope, ScopeCheck(scope))


def Scope(scope: str) -> Any:
    """``Depends`` on the checker of ``scope``: 403 ``INSUFFICIENT_SCOPE`` without it."""
    return Depends(require_scope(scope))


def get_plan(principal: TenantDep) -> Plan:
    """The caller's plan (detached), through the plan cache: read once per
    ``PRINCIPAL_CACHE_SECONDS``, like the principal, and at once after a plan change here."""
    assert principal.tenant_id is not None
    return tenants.plan_of(principal.tenant_id, principal.plan_id)


PlanDep = Annotated[Plan, Depends(get_plan)]
StorageDep = Annotated[Storage, Depends(get_storage)]
#: The cursor of every list endpoint (core/pagination.py checks it: 422 ``INVALID_CURSOR``).
CursorQ = Annotated[
    str | None, Query(description="next_cursor of the previous page (opaque; omit for the first).")
]
