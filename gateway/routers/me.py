"""Who the caller is, as the gateway sees it."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from gateway.deps import PrincipalDep
from gateway.errors import responses
from gateway.ratelimit import cached_plan_rates, plan_rates

router = APIRouter(prefix="/v1", tags=["auth"])


class MeOut(BaseModel):
    tenant_id: str | None = Field(description="None for the operator key.")
    key_id: str | None
    plan: str | None
    scopes: list[str]
    submit_per_minute: int | None = Field(description="Your plan's task submission rate limit.")
    read_per_minute: int | None = Field(description="Your plan's read rate limit.")


@router.get("/me", response_model=MeOut, responses=responses(401, 429))
async def me(principal: PrincipalDep) -> MeOut:
    """The tenant, plan, scopes and rate limits of the API key you called with: a cheap way
    to check a key. Served from the gateway's short principal and plan caches."""
    rates = None
    if principal.plan_id:
        rates = cached_plan_rates(principal.plan_id) or await run_in_threadpool(
            plan_rates, principal.plan_id
        )
    return MeOut(
        tenant_id=principal.tenant_id,
        key_id=principal.key_id,
        plan=principal.plan_id,
        scopes=sorted(principal.scopes),
        submit_per_minute=rates.submit_per_minute if rates else None,
        read_per_minute=rates.read_per_minute if rates else None,
    )
