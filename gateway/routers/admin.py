"""Operator endpoints (admin scope only)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field

from billing import service as billing
from billing.models import EntryKind
from core.db import new_id
from core.errors import NotFoundError
from gateway import ratelimit
from gateway.deps import AdminDep, SessionDep
from gateway.errors import responses
from tenants import service as tenants
from tenants.models import Plan
from tenants.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    PlanOut,
    TenantCreate,
    TenantOut,
    TenantUpdate,
)
from transformers.errors import UnknownAgentError
from transformers.registry import all_agents

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post(
    "/tenants", status_code=201, response_model=TenantOut, responses=responses(401, 403, 422)
)
def create_tenant(body: TenantCreate, _: AdminDep, session: SessionDep) -> TenantOut:
    """Create a tenant on a plan."""
    t = tenants.create_tenant(session, body.name, body.plan)
    return TenantOut(tenant_id=t.id, name=t.name, plan=t.plan_id, created_at=t.created_at)


@router.patch(
    "/tenants/{tenant_id}", response_model=TenantOut, responses=responses(401, 403, 404, 422)
)
def update_tenant(
    tenant_id: str, body: TenantUpdate, _: AdminDep, session: SessionDep
) -> TenantOut:
    """Change a tenant's plan (new limits apply within seconds) or name."""
    t = tenants.get_tenant(session, tenant_id)
    if body.plan is not None:
        t = tenants.change_plan(session, tenant_id, body.plan)
    if body.name is not None:
        t.name = body.name
    return TenantOut(tenant_id=t.id, name=t.name, plan=t.plan_id, created_at=t.created_at)


@router.post(
    "/tenants/{tenant_id}/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses=responses(401, 403, 404, 422),
)
def issue_key(
    tenant_id: str, body: ApiKeyCreate, _: AdminDep, session: SessionDep
) -> ApiKeyCreated:
    """Issue an API key for a tenant. The secret is in this response only."""
    key, secret = tenants.issue_key(session, tenant_id, body.name, body.scopes)
    return ApiKeyCreated(key_id=key.id, api_key=secret, prefix=key.prefix, scopes=list(key.scopes))


@router.delete(
    "/tenants/{tenant_id}/api-keys/{key_id}", status_code=204, responses=responses(401, 403, 404)
)
def revoke_key(tenant_id: str, key_id: str, _: AdminDep, session: SessionDep) -> Response:
    """Revoke a key; it stops working within seconds everywhere."""
    tenants.revoke_key(session, tenant_id, key_id)
    return Response(status_code=204)


class GrantIn(BaseModel):
    credits: int = Field(description="Credits to add (negative removes).")
    reason: str = Field(min_length=1, max_length=500)
    idempotency_key: str | None = Field(None, max_length=200)


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


class PlanUpdate(BaseModel):
    """Only the fields sent change."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(None, min_length=1, max_length=100)
    submit_per_minute: int | None = Field(None, ge=0)
    read_per_minute: int | None = Field(None, ge=0)
    max_concurrent_tasks: int | None = Field(None, ge=0)
    max_concurrent_tasks_per_tool: int | None = Field(None, ge=0)
    max_file_bytes: int | None = Field(None, ge=0)
    max_rows: int | None = Field(None, ge=0)
    max_columns: int | None = Field(None, ge=0)
    max_cell_length: int | None = Field(None, ge=0)


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


class PriceIn(BaseModel):
    credits: int = Field(ge=0)


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
