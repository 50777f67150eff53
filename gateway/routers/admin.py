"""Operator endpoints (admin scope only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from billing import service as billing
from billing.models import EntryKind
from core.db import new_id, utcnow
from core.errors import NotFoundError, ValidationFailedError
from core.inputs import BoundedInt, RequestModel, check_datetime, text
from gateway import ratelimit
from gateway.deps import AdminDep, SessionDep
from gateway.errors import responses
from tenants import service as tenants
from tenants.models import ApiKey, Plan, Tenant
from tenants.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    PlanOut,
    TenantCreate,
    TenantOut,
    TenantUpdate,
)
from transformers.errors import UnknownAgentError
from transformers.registry import all_agents

router = APIRouter(prefix="/v1/admin", tags=["admin"])

#: Most credits one grant may add or remove.
MAX_GRANT_CREDITS = 10**12


def tenant_out(t: Tenant) -> TenantOut:
    return TenantOut(
        tenant_id=t.id,
        name=t.name,
        plan=t.plan_id,
        created_at=t.created_at,
        disabled_at=t.disabled_at,
        return_origins=list(t.return_origins or []),
    )


def _origin(raw: str) -> str:
    """``scheme://host[:port]`` exactly (https; http only for localhost)."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        parts, port = None, None
    ok = (
        parts is not None
        and parts.scheme in ("https", "http")
        and parts.hostname
        and not parts.username
        and not parts.password
        and parts.path in ("", "/")
        and not parts.query
        and not parts.fragment
        and (parts.scheme == "https" or parts.hostname in ("localhost", "127.0.0.1"))
    )
    if not ok or parts is None:
        raise ValidationFailedError(
            "return_origins are origins like https://app.example.com (https, no path)",
            code="INVALID_ORIGIN",
            details={"origin": raw},
        )
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{port}" if port else "")


@router.post(
    "/tenants", status_code=201, response_model=TenantOut, responses=responses(401, 403, 422)
)
def create_tenant(body: TenantCreate, _: AdminDep, session: SessionDep) -> TenantOut:
    """Create a tenant on a plan."""
    t = tenants.create_tenant(session, body.name, body.plan)
    return tenant_out(t)


@router.patch(
    "/tenants/{tenant_id}", response_model=TenantOut, responses=responses(401, 403, 404, 422)
)
def update_tenant(
    tenant_id: str, body: TenantUpdate, _: AdminDep, session: SessionDep
) -> TenantOut:
    """Change a tenant's plan (new limits apply within seconds) or name; disable it (every key
    and session token answers 401 ``TENANT_DISABLED`` within seconds) or enable it again; set
    the origins its top-up return URLs may point at."""
    t = tenants.get_tenant(session, tenant_id)
    if body.plan is not None:
        t = tenants.change_plan(session, tenant_id, body.plan)
    if body.name is not None:
        t.name = body.name
    if body.return_origins is not None:
        t.return_origins = sorted({_origin(o) for o in body.return_origins})
    if body.disabled is not None:
        t = tenants.set_disabled(session, tenant_id, body.disabled)
    session.flush()
    return tenant_out(t)


@router.get("/tenants/{tenant_id}", response_model=TenantOut, responses=responses(401, 403, 404))
def get_tenant(tenant_id: str, _: AdminDep, session: SessionDep) -> TenantOut:
    """A tenant: plan, whether it is disabled, its return origins."""
    return tenant_out(tenants.get_tenant(session, tenant_id))


def key_out(k: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(
        key_id=k.id,
        prefix=k.prefix,
        name=k.name,
        scopes=list(k.scopes),
        created_at=k.created_at,
        last_used_at=k.last_used_at,
        expires_at=k.expires_at,
        revoked_at=k.revoked_at,
    )


@router.get(
    "/tenants/{tenant_id}/api-keys",
    response_model=list[ApiKeyOut],
    responses=responses(401, 403, 404),
)
def list_keys(tenant_id: str, _: AdminDep, session: SessionDep) -> list[ApiKeyOut]:
    """A tenant's keys (never the secrets): prefix, name, scopes, when created, last used
    (to within a minute), expires and was revoked."""
    return [key_out(k) for k in tenants.list_keys(session, tenant_id)]


@router.post(
    "/tenants/{tenant_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=responses(401, 403, 404, 422),
)
def issue_key(
    tenant_id: str, body: ApiKeyCreate, _: AdminDep, session: SessionDep
) -> ApiKeyCreated:
    """Issue an API key for a tenant, optionally expiring. The secret is in this response
    only."""
    expires = None
    if body.expires_at is not None:
        expires = check_datetime("expires_at", body.expires_at)
        if expires <= utcnow():
            raise ValidationFailedError("expires_at must be in the future", code="INVALID_DATE")
    key, secret = tenants.issue_key(session, tenant_id, body.name, body.scopes, expires)
    return ApiKeyCreated(
        key_id=key.id,
        api_key=secret,
        prefix=key.prefix,
        scopes=list(key.scopes),
        expires_at=key.expires_at,
    )


@router.delete(
    "/tenants/{tenant_id}/api-keys/{key_id}", status_code=204, responses=responses(401, 403, 404)
)
def revoke_key(tenant_id: str, key_id: str, _: AdminDep, session: SessionDep) -> Response:
    """Revoke a key; it stops working within seconds everywhere."""
    tenants.revoke_key(session, tenant_id, key_id)
    return Response(status_code=204)


class GrantIn(RequestModel):
    credits: BoundedInt(-MAX_GRANT_CREDITS, MAX_GRANT_CREDITS) = Field(  # type: ignore[valid-type]
        description=f"Credits to add (negative removes), at most {MAX_GRANT_CREDITS} either way."
    )
    reason: text(500, 1)  # type: ignore[valid-type]
    idempotency_key: text(200) | None = None  # type: ignore[valid-type]


class LedgerEntryCreated(BaseModel):
    id: str
    tenant_id: str
    kind: str
    amount: int
    reason: str | None


@router.post(
    "/tenants/{tenant_id}/grants",
    status_code=201,
    response_model=LedgerEntryCreated,
    responses=responses(401, 403, 404, 409, 422),
)
def grant(tenant_id: str, body: GrantIn, _: AdminDep, session: SessionDep) -> LedgerEntryCreated:
    """Grant (or with a negative amount, remove) credits, with a reason, as a ledger entry."""
    tenants.get_tenant(session, tenant_id)
    key = f"grant:{tenant_id}:{body.idempotency_key or new_id()}"
    kind = EntryKind.GRANT if body.credits >= 0 else EntryKind.ADJUSTMENT
    entry = billing.grant(session, tenant_id, body.credits, body.reason, key, kind=kind)
    if entry is None:
        from billing.exceptions import BillingConflict

        raise BillingConflict(
            "This grant was already applied", details={"idempotency_key": body.idempotency_key}
        )
    return LedgerEntryCreated(
        id=entry.id, tenant_id=tenant_id, kind=entry.kind, amount=entry.amount, reason=entry.reason
    )


_INT32 = 2**31 - 1


class PlanUpdate(RequestModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")
    name: text(100, 1) | None = None  # type: ignore[valid-type]
    submit_per_minute: int | None = Field(None, ge=0, le=10_000_000)
    read_per_minute: int | None = Field(None, ge=0, le=10_000_000)
    max_concurrent_tasks: int | None = Field(None, ge=0, le=100_000)
    max_concurrent_tasks_per_tool: int | None = Field(None, ge=0, le=100_000)
    max_file_bytes: int | None = Field(None, ge=0, le=5 * 1024**4)
    max_rows: int | None = Field(None, ge=0, le=_INT32)
    max_columns: int | None = Field(None, ge=0, le=1_000_000)
    max_cell_length: int | None = Field(None, ge=0, le=_INT32)


@router.patch("/plans/{plan_id}", response_model=PlanOut, responses=responses(401, 403, 404, 422))
def update_plan(plan_id: str, body: PlanUpdate, _: AdminDep, session: SessionDep) -> PlanOut:
    """Edit a plan's limits and quotas. Every tenant on the plan gets them within
    ``PRINCIPAL_CACHE_SECONDS`` (rate limits, concurrency, file size, rows, columns, cells);
    tasks already queued keep the row limits they were processed with."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError(
            f"Unknown plan '{plan_id}'", code="PLAN_NOT_FOUND", details={"plan": plan_id}
        )
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(plan, name, value)
    session.flush()
    # Before the commit: a request in between may cache the old rates, for at most the TTL.
    ratelimit.invalidate_plan_rates()
    tenants.invalidate_principals()  # and the cached plans
    return PlanOut.model_validate(plan, from_attributes=True)


class PriceIn(RequestModel):
    credits: int = Field(ge=0, le=10**9)


class PriceOut(BaseModel):
    agent_id: str
    credits: int


@router.put("/prices/{agent_id}", response_model=PriceOut, responses=responses(401, 403, 422))
def set_price(agent_id: str, body: PriceIn, _: AdminDep, session: SessionDep) -> PriceOut:
    """Set an agent's price; tasks already queued keep the price they were held at."""
    if agent_id not in all_agents():
        raise UnknownAgentError(f"Unknown agent '{agent_id}'", details={"agent_id": agent_id})
    row = billing.set_price(session, agent_id, body.credits)
    return PriceOut(agent_id=row.agent_id, credits=row.credits)
