"""Typed dependencies. An endpoint without an auth alias is public on purpose."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.db import session_scope
from core.errors import PermissionDeniedError
from core.logging import bind_log_context
from core.storage import Storage, get_storage
from gateway import session_tokens
from tenants import service as tenants
from tenants.exceptions import InvalidApiKey, MissingApiKey
from tenants.models import Plan, Tenant
from tenants.schemas import Principal


def get_session() -> Iterator[Session]:
    """The request owns the transaction: commit on success, roll back on error. Jobs queued
    during the request are sent after the commit (``workers.enqueue``)."""
    with session_scope() as session:
        yield session


# scope="function": commit before the response is sent, so a 2xx always means "committed" and
# a failed commit becomes an error response rather than a lie.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def api_key_from(request: Request) -> str | None:
    auth = request.headers.get("authorization")
    if auth and auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    return request.headers.get("x-api-key") or None


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
    key = _credential(request)
    if session_tokens.is_session_token(key):
        # A dashboard session (POST /v1/auth/session): reads, and only the writes it needs.
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
    key = _credential(request)
    if not session_tokens.is_session_token(key):
        hit = tenants.cached_principal(key)
        if hit is not None:
            return _remember(request, hit)
    return await run_in_threadpool(resolve_principal, request)


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


def require_scope(scope: str):  # type: ignore[no-untyped-def]
    async def _check(principal: TenantDep) -> Principal:
        if scope not in principal.scopes:
            raise PermissionDeniedError(f"This API key lacks the '{scope}' scope")
        return principal

    return _check


def get_plan(principal: TenantDep) -> Plan:
    """The caller's plan, read fresh (plan changes apply at once), detached from its session."""
    with session_scope() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        assert tenant is not None
        plan = tenant.plan
        session.expunge(plan)
    return plan


PlanDep = Annotated[Plan, Depends(get_plan)]
StorageDep = Annotated[Storage, Depends(get_storage)]
