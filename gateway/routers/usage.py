"""Usage: per tenant (``GET /v1/usage``) and across tenants for operators
(``GET /v1/admin/usage``). Numbers come from the ledger and the task rows through index range
queries (``tasks.usage``, docs/usage.md)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from core.db import utcnow
from core.errors import ValidationFailedError
from core.inputs import check_datetime
from core.settings import get_settings
from gateway.deps import AdminDep, SessionDep, require_scope
from gateway.errors import responses
from tasks import usage as usage_q
from tenants.schemas import Principal

router = APIRouter(tags=["usage"])

UsageTenantDep = Annotated[Principal, Depends(require_scope("usage"))]


class UsageGroup(BaseModel):
    key: str = Field(description="The UTC day (YYYY-MM-DD), tool id or agent id.")
    credits: int = Field(description="Credits captured (charged) in the window.")
    tasks: dict[str, int] = Field(description="Tasks that ended in the window, by final status.")
    tasks_total: int
    rows_processed: int
    bytes_processed: int
    duration_ms_p50: float | None = Field(
        description="Median run time (started_at to finished_at; per agent run for agents)."
    )
    duration_ms_p95: float | None


class TopTenant(BaseModel):
    tenant_id: str
    name: str | None
    credits: int


class UsageOut(BaseModel):
    from_: dt.datetime = Field(alias="from", serialization_alias="from")
    to: dt.datetime
    group_by: usage_q.GroupBy
    groups: list[UsageGroup]
    totals: UsageGroup
    top_tenants: list[TopTenant] | None = None
    flower_url: str | None = Field(None, description="Admin only: Flower, when configured.")

    model_config = {"populate_by_name": True}


FromQ = Annotated[
    str | None,
    Query(
        alias="from",
        description="Start (inclusive): an ISO 8601 date or datetime, UTC unless it has an "
        "offset. Default: 30 days before `to`.",
        examples=["2026-11-01"],
    ),
]
ToQ = Annotated[
    str | None,
    Query(
        description="End (exclusive): an ISO 8601 datetime; a bare date means the end of that "
        "day. Default: now.",
        examples=["2026-11-30"],
    ),
]
GroupQ = Annotated[usage_q.GroupBy, Query(description="day, tool or agent.")]


def _parse(name: str, raw: str, end_of_day: bool) -> dt.datetime:
    try:
        if len(raw) == 10:
            day = dt.date.fromisoformat(raw)
            value = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
            if end_of_day and day < dt.date.max:
                value += dt.timedelta(days=1)
        else:
            value = dt.datetime.fromisoformat(raw)
    except ValueError:
        raise ValidationFailedError(
            f"`{name}` is not an ISO 8601 date or datetime",
            code="INVALID_WINDOW",
            details={name: raw},
        ) from None
    try:
        return check_datetime(name, value)
    except ValidationFailedError as exc:
        raise ValidationFailedError(
            exc.message, code="INVALID_WINDOW", details=exc.details
        ) from None


def window(raw_from: str | None, raw_to: str | None) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) in UTC. A bare date for ``to`` includes that whole day."""
    end = _parse("to", raw_to, True) if raw_to else utcnow()
    start = (
        _parse("from", raw_from, False)
        if raw_from
        else end - dt.timedelta(days=usage_q.DEFAULT_WINDOW_DAYS)
    )
    if start >= end:
        raise ValidationFailedError(
            "`from` must be before `to`",
            code="INVALID_WINDOW",
            details={"from": start.isoformat(), "to": end.isoformat()},
        )
    if end - start > dt.timedelta(days=usage_q.MAX_WINDOW_DAYS):
        raise ValidationFailedError(
            f"The window is limited to {usage_q.MAX_WINDOW_DAYS} days",
            code="INVALID_WINDOW",
            details={"max_days": usage_q.MAX_WINDOW_DAYS},
        )
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)


@router.get(
    "/v1/usage",
    response_model=UsageOut,
    response_model_by_alias=True,
    responses=responses(401, 403, 422),
    summary="Your usage",
)
def tenant_usage(
    principal: UsageTenantDep,
    session: SessionDep,
    from_: FromQ = None,
    to: ToQ = None,
    group_by: GroupQ = usage_q.GroupBy.DAY,
) -> dict[str, Any]:
    """Credits captured, tasks by final status, rows and bytes processed and run-time p50/p95
    in the window ``[from, to)`` (default: the last 30 days), per UTC day, tool or agent, with
    totals. Credits are the captures posted in the window; tasks are those that ended in it.
    With ``group_by=agent`` a task counts under each agent it ran, durations are the agents'
    own run times, and the totals count each task once. Days with nothing are listed with
    zeros."""
    assert principal.tenant_id is not None
    start, end = window(from_, to)
    return usage_q.tenant_usage(session, principal.tenant_id, start, end, group_by)


@router.get(
    "/v1/admin/usage",
    response_model=UsageOut,
    response_model_by_alias=True,
    responses=responses(401, 403, 422),
    tags=["admin"],
    summary="Usage across tenants",
)
def admin_usage(
    _: AdminDep,
    session: SessionDep,
    from_: FromQ = None,
    to: ToQ = None,
    group_by: GroupQ = usage_q.GroupBy.DAY,
    top: Annotated[int, Query(ge=1, le=100, description="How many top tenants.")] = 10,
) -> dict[str, Any]:
    """The same numbers as ``GET /v1/usage`` summed over every tenant, plus the tenants that
    were charged the most credits in the window, and the Flower URL (``FLOWER_URL``) if set."""
    start, end = window(from_, to)
    out = usage_q.usage_all_tenants(session, start, end, group_by, top_tenants=top)
    out["flower_url"] = get_settings().flower_url
    return out
