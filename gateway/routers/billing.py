"""Tenant billing: estimate, wallet, ledger."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from billing import service as billing
from billing.models import LedgerEntry
from core.errors import ValidationFailedError
from gateway.deps import SessionDep, TenantDep
from gateway.errors import responses
from tenants.repository import scoped
from transformers.registry import get_tool, resolve_request

router = APIRouter(prefix="/v1/billing", tags=["billing"])


class EstimateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tool_id: str
    agents: list[str] | None = None
    roles: list[str] | None = Field(
        None, description="File roles you will upload (default: the required ones)."
    )


class EstimateOut(BaseModel):
    credits: int
    per_agent: dict[str, int]


class WalletOut(BaseModel):
    balance: int
    held: int
    available: int


class LedgerEntryOut(BaseModel):
    id: str
    kind: str
    amount: int
    held_delta: int
    task_id: str | None
    agent_id: str | None
    tool_id: str | None
    reason: str | None
    created_at: dt.datetime


class LedgerPage(BaseModel):
    items: list[LedgerEntryOut]
    next_cursor: str | None


@router.post("/estimate", response_model=EstimateOut, responses=responses(401, 422))
def estimate(body: EstimateIn, _: TenantDep, session: SessionDep) -> EstimateOut:
    """Credits a task would hold, per agent (agents needing a file you won't send cost 0)."""
    resolved = resolve_request(body.tool_id, body.agents, None)
    tool = get_tool(body.tool_id)
    roles = (
        set(body.roles)
        if body.roles is not None
        else {r.name for r in tool.file_roles if r.required}
    )
    est = billing.estimate(session, tool, resolved.agents, roles)
    return EstimateOut(credits=est.credits, per_agent=est.per_agent)


@router.get("/wallet", response_model=WalletOut, responses=responses(401))
def wallet(principal: TenantDep, session: SessionDep) -> WalletOut:
    """Balance, credits held by running tasks, and what is available for new ones."""
    assert principal.tenant_id is not None
    w = billing.wallet(session, principal.tenant_id)
    return WalletOut(balance=w.balance, held=w.held, available=w.available)


@router.get("/ledger", response_model=LedgerPage, responses=responses(401, 422))
def ledger(
    principal: TenantDep,
    session: SessionDep,
    cursor: Annotated[str | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> LedgerPage:
    """Ledger entries, newest first, with cursor pagination."""
    assert principal.tenant_id is not None
    stmt = scoped(LedgerEntry, principal.tenant_id)
    if cursor:
        try:
            created_s, last_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|", 1)
            created = dt.datetime.fromisoformat(created_s)
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailedError("Invalid cursor", code="INVALID_CURSOR") from None
        stmt = stmt.where(
            (LedgerEntry.created_at < created)
            | ((LedgerEntry.created_at == created) & (LedgerEntry.id < last_id))
        )
    rows = list(
        session.scalars(
            stmt.order_by(LedgerEntry.created_at.desc(), LedgerEntry.id.desc()).limit(limit + 1)
        )
    )
    page = rows[:limit]
    nxt = None
    if len(rows) > limit:
        last = page[-1]
        nxt = base64.urlsafe_b64encode(f"{last.created_at.isoformat()}|{last.id}".encode()).decode()
    return LedgerPage(
        items=[
            LedgerEntryOut(
                id=e.id,
                kind=e.kind,
                amount=e.amount,
                held_delta=e.held_delta,
                task_id=e.task_id,
                agent_id=e.agent_id,
                tool_id=e.tool_id,
                reason=e.reason,
                created_at=e.created_at,
            )
            for e in page
        ],
        next_cursor=nxt,
    )
