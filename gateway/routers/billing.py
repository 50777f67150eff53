"""Tenant billing: estimate, wallet, ledger, top-ups (Stripe)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import urlsplit

import stripe
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from billing import service as billing
from billing.exceptions import CheckoutUnavailable, StripeUnavailable
from billing.meters import ensure_customer
from billing.models import LedgerEntry
from billing.stripe_client import CreditPackage, get_package, is_real_stripe, stripe_client
from core.db import read_connection, session_scope
from core.errors import ValidationFailedError
from core.inputs import IdStr, RequestModel, text
from core.pagination import keyset_page
from core.settings import get_settings
from gateway.deps import CursorQ, ReadSessionDep, Scope, SessionDep, TenantDep
from gateway.errors import responses
from tenants.models import Tenant
from tenants.repository import scoped
from tenants.schemas import Principal
from transformers.registry import get_tool, resolve_request

router = APIRouter(
    prefix="/v1/billing",
    tags=["billing"],
    dependencies=[Scope("billing")],
    responses=responses(401, 403),
)


class EstimateIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    tool_id: text(64)  # type: ignore[valid-type]
    agents: list[IdStr] | None = Field(None, max_length=50)  # type: ignore[valid-type]
    roles: list[text(64)] | None = Field(  # type: ignore[valid-type]
        None, max_length=20, description="File roles you will upload (default: the required ones)."
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
async def wallet(principal: TenantDep) -> WalletOut:
    """Balance, credits held by running tasks, and what is available for new ones."""
    assert principal.tenant_id is not None
    # One hop to a worker thread for the whole read (a session dependency and a sync
    # endpoint would take three: open, endpoint, close).
    w = await run_in_threadpool(_read_wallet, principal.tenant_id)
    return WalletOut(balance=w.balance, held=w.held, available=w.available)


def _read_wallet(tenant_id: str) -> billing.WalletView:
    with read_connection() as conn:  # one statement: no ORM session to set up
        return billing.wallet(conn, tenant_id)


@router.get("/ledger", response_model=LedgerPage, responses=responses(401, 422))
def ledger(
    principal: TenantDep,
    session: ReadSessionDep,
    cursor: CursorQ = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Page size.")] = 100,
) -> LedgerPage:
    """Ledger entries, newest first, with cursor pagination: pass ``next_cursor`` as
    ``cursor`` until it is null. 422 ``INVALID_CURSOR`` for a cursor the gateway did not make."""
    assert principal.tenant_id is not None
    page = keyset_page(
        session, scoped(LedgerEntry, principal.tenant_id), LedgerEntry, cursor, limit
    )
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
            for e in page.items
        ],
        next_cursor=page.next_cursor,
    )


class TopUpIn(RequestModel):
    model_config = ConfigDict(extra="forbid")
    package_id: text(64) = Field(  # type: ignore[valid-type]
        description="A credit package id (CREDIT_PACKAGES)."
    )
    mode: Literal["checkout", "payment_intent"] = Field(
        "checkout",
        description="`checkout`: a hosted Stripe Checkout page; `payment_intent`: a client "
        "secret for Stripe.js or mobile SDKs.",
    )
    payment_method: text(255) | None = Field(  # type: ignore[valid-type]
        None,
        description="payment_intent mode only: a PaymentMethod id to confirm with at once "
        "(server-to-server top-ups).",
    )
    success_url: text(2000) | None = Field(  # type: ignore[valid-type]
        None, description="checkout mode: where Stripe returns (on one of your return origins)."
    )
    cancel_url: text(2000) | None = Field(  # type: ignore[valid-type]
        None, description="checkout mode: where a cancel returns (on one of your return origins)."
    )


class TopUpOut(BaseModel):
    package_id: str
    credits: int
    amount_cents: int
    currency: str
    mode: str
    checkout_url: str | None = None
    checkout_session_id: str | None = None
    payment_intent_id: str | None = None
    client_secret: str | None = None
    status: str | None = None


def _start_top_up(body: TopUpIn, principal: Principal, pkg: CreditPackage) -> TopUpOut:
    assert principal.tenant_id is not None
    settings = get_settings()
    client = stripe_client()
    metadata = {
        "tenant_id": principal.tenant_id,
        "package_id": pkg.package_id,
        "credits": str(pkg.credits),
    }
    out = TopUpOut(
        package_id=pkg.package_id,
        credits=pkg.credits,
        amount_cents=pkg.price_cents,
        currency=settings.stripe_currency,
        mode=body.mode,
    )
    if body.mode == "checkout" and not is_real_stripe():
        raise CheckoutUnavailable(
            "Checkout Sessions are not available on the configured Stripe API"
            " (STRIPE_API_BASE points at a test fake); use mode=payment_intent",
            details={"mode": "checkout"},
        )
    try:
        customer = ensure_customer(client, principal.tenant_id)
        if body.mode == "checkout":
            base = (settings.public_base_url or "").rstrip("/")
            session = client.v1.checkout.sessions.create(
                params={
                    "mode": "payment",
                    "customer": customer,
                    "line_items": [
                        {
                            "quantity": 1,
                            "price_data": {
                                "currency": settings.stripe_currency,
                                "unit_amount": pkg.price_cents,
                                "product_data": {"name": f"{pkg.credits} credits"},
                            },
                        }
                    ],
                    "metadata": metadata,
                    "payment_intent_data": {"metadata": metadata},
                    "success_url": body.success_url or f"{base}/billing/top-up/success",
                    "cancel_url": body.cancel_url or f"{base}/billing/top-up/cancelled",
                }
            )
            out.checkout_url, out.checkout_session_id = session.url, session.id
            out.status = session.status
            return out
        params: dict[str, object] = {
            "amount": pkg.price_cents,
            "currency": settings.stripe_currency,
            "customer": customer,
            "metadata": metadata,
            "payment_method_types": ["card"],
        }
        if body.payment_method:
            params.update(payment_method=body.payment_method, confirm=True)
        intent = client.v1.payment_intents.create(params=params)  # type: ignore[arg-type]
        out.payment_intent_id, out.client_secret = intent.id, intent.client_secret
        out.status = intent.status
        return out
    except stripe.CardError as exc:
        raise StripeUnavailable(
            f"The card was declined: {exc.user_message or exc}",
            code="CARD_DECLINED",
            details={"decline_code": getattr(exc, "code", None)},
        ) from None
    except stripe.StripeError as exc:
        raise StripeUnavailable(
            "Stripe could not start the payment; nothing was charged. Try again shortly.",
            details={"stripe_error": type(exc).__name__, "mode": body.mode},
        ) from None


@router.post(
    "/top-ups", status_code=201, response_model=TopUpOut, responses=responses(401, 422, 503)
)
async def top_up(body: TopUpIn, principal: TenantDep) -> TopUpOut:
    """Buy a credit package with Stripe.

    `mode: checkout` answers a Stripe Checkout Session URL to redirect the customer to;
    `mode: payment_intent` answers a PaymentIntent client secret (confirm it with Stripe.js, or
    pass `payment_method` to confirm at once). The tenant's Stripe Customer is created on first
    use. Credits are added when Stripe's webhook reports the payment (`POST
    /v1/billing/stripe/webhook`), never by this call. 422 `UNKNOWN_PACKAGE`,
    `RETURN_URL_NOT_ALLOWED` (a `success_url`/`cancel_url` off the tenant's return origins); 503
    `CHECKOUT_UNAVAILABLE` when the configured Stripe API has no Checkout (a test fake),
    `STRIPE_UNAVAILABLE` / `CARD_DECLINED` when Stripe refused, `STRIPE_NOT_CONFIGURED`.
    """
    pkg = get_package(body.package_id)
    await run_in_threadpool(_check_return_urls, body, principal)
    return await run_in_threadpool(_start_top_up, body, principal, pkg)


def _origin_of(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("https", "http") or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.hostname}" + (f":{port}" if port else "")


def _check_return_urls(body: TopUpIn, principal: Principal) -> None:
    """success_url / cancel_url only on the tenant's return origins (set by an operator) or
    the platform's own PUBLIC_BASE_URL: never an open redirect through Stripe."""
    urls = {"success_url": body.success_url, "cancel_url": body.cancel_url}
    if not any(urls.values()):
        return
    with session_scope() as session:
        tenant = session.get(Tenant, principal.tenant_id)
        allowed = set(tenant.return_origins or []) if tenant is not None else set()
    base = get_settings().public_base_url
    if base and _origin_of(base):
        allowed.add(str(_origin_of(base)))
    for field_name, url in urls.items():
        if url is not None and _origin_of(url) not in allowed:
            raise ValidationFailedError(
                f"{field_name} must be on one of the tenant's return origins",
                code="RETURN_URL_NOT_ALLOWED",
                details={"field": field_name, "allowed_origins": sorted(allowed)},
            )
