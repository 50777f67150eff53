"""``POST /v1/auth/session``: exchange an API key for a short-lived dashboard session token."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from core.db import session_scope
from core.errors import PermissionDeniedError
from gateway import session_tokens
from gateway.deps import PrincipalDep
from gateway.errors import responses
from tenants.models import Tenant

router = APIRouter(prefix="/v1/auth", tags=["auth"])


class SessionOut(BaseModel):
    token: str = Field(
        description="Send as 'Authorization: Bearer <token>' on read endpoints (and as "
        "'?token=' on /v1/tasks/{id}/events). Signed; expires."
    )
    token_type: str = "Bearer"
    expires_at: dt.datetime
    expires_in: int = Field(description="Seconds until it expires.")
    tenant_id: str | None
    tenant_name: str | None
    is_admin: bool
    scopes: list[str]


@router.post(
    "/session",
    status_code=201,
    response_model=SessionOut,
    responses=responses(401, 403),
    summary="Start a dashboard session",
)
def create_session(request: Request, principal: PrincipalDep) -> SessionOut:
    """Exchange the API key in ``Authorization`` for a session token valid 15 minutes, so a web
    page can keep the token (in memory) instead of the key. The token reads; of the write
    endpoints it may only start a top-up. Revoking the key ends its sessions. A session token
    cannot start another session."""
    if getattr(request.state, "via_session_token", False):
        raise PermissionDeniedError(
            "Start a session with an API key, not a session token", code="API_KEY_REQUIRED"
        )
    issued = session_tokens.issue(principal)
    name = None
    if principal.tenant_id is not None:
        with session_scope() as session:
            tenant = session.get(Tenant, principal.tenant_id)
            name = tenant.name if tenant is not None else None
    return SessionOut(
        token=issued.token,
        expires_at=dt.datetime.fromtimestamp(issued.expires_at, dt.UTC),
        expires_in=issued.expires_in,
        tenant_id=principal.tenant_id,
        tenant_name=name,
        is_admin=principal.is_admin,
        scopes=sorted(principal.scopes),
    )
