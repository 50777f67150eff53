"""Report postpaid usage to Stripe Billing Meters from the ``meter_events`` outbox.

Each capture of a postpaid tenant writes one outbox row in the capture's transaction
(``identifier`` = the capture's idempotency key ``task_id:agent_id:capture``, ``value`` = the
credits). ``send_pending`` sends pending rows with that identifier, so Stripe drops a report it
already has; a row is marked ``sent`` only after Stripe accepted it. When Stripe (or a fake
without Billing Meters, such as localstripe, which answers 404) refuses, the row stays
``pending`` with ``attempts`` and ``last_error`` and is retried on the next run, until
``MAX_ATTEMPTS``, after which it is ``failed`` and left for an operator (``agensium billing
report-usage --retry-failed``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import stripe
from sqlalchemy import select

from billing.models import MeterEvent, MeterEventStatus
from billing.stripe_client import stripe_client
from core.db import session_scope, utcnow
from tenants.models import Tenant

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10


@dataclass
class SendReport:
    sent: int = 0
    retry_later: int = 0
    failed: int = 0


def ensure_customer(client: stripe.StripeClient, tenant_id: str) -> str:
    """The tenant's Stripe Customer, created on first use (one per tenant, row-locked)."""
    with session_scope() as session:
        stmt = select(Tenant).where(Tenant.id == tenant_id)
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(of=Tenant)
        tenant = session.scalars(stmt).one()
        if tenant.stripe_customer_id:
            return tenant.stripe_customer_id
        customer = client.v1.customers.create(
            params={"name": tenant.name, "metadata": {"tenant_id": tenant.id}},
            options={"idempotency_key": f"customer-{tenant.id}"},
        )
        tenant.stripe_customer_id = customer.id
        log.info("stripe.customer_created tenant_id=%s customer=%s", tenant.id, customer.id)
        return str(customer.id)


def send_pending(limit: int = 500, *, retry_failed: bool = False) -> SendReport:
    """Send pending meter events (oldest first); never raises for a Stripe error."""
    statuses = [MeterEventStatus.PENDING] + ([MeterEventStatus.FAILED] if retry_failed else [])
    with session_scope() as session:
        rows = list(
            session.scalars(
                select(MeterEvent)
                .where(MeterEvent.status.in_(statuses))
                .order_by(MeterEvent.created_at)
                .limit(limit)
            )
        )
    report = SendReport()
    if not rows:
        return report
    client = stripe_client()
    for row in rows:
        error: str | None = None
        try:
            customer = ensure_customer(client, row.tenant_id)
            client.v1.billing.meter_events.create(
                params={
                    "event_name": row.event_name,
                    "identifier": row.identifier,
                    "timestamp": int(row.created_at.timestamp()),
                    "payload": {"stripe_customer_id": customer, "value": str(row.value)},
                }
            )
        except stripe.StripeError as exc:
            error = f"{type(exc).__name__}: {exc}"[:2000]
        with session_scope() as session:
            fresh = session.get(MeterEvent, row.identifier)
            if fresh is None:
                continue
            fresh.attempts += 1
            if error is None:
                fresh.status, fresh.sent_at, fresh.last_error = (
                    MeterEventStatus.SENT,
                    utcnow(),
                    None,
                )
                report.sent += 1
            else:
                fresh.last_error = error
                fresh.status = (
                    MeterEventStatus.FAILED
                    if fresh.attempts >= MAX_ATTEMPTS
                    else MeterEventStatus.PENDING
                )
                if fresh.status == MeterEventStatus.FAILED:
                    report.failed += 1
                else:
                    report.retry_later += 1
                log.warning(
                    "stripe.meter_event_failed identifier=%s attempts=%s error=%s",
                    row.identifier,
                    fresh.attempts,
                    error,
                )
    return report
