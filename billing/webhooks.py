"""Stripe webhooks: verify, store in the inbox, then apply once.

1. ``verify``: the signature is checked on the raw body (``Stripe-Signature``, 300 s tolerance
   by default); a bad signature, an old timestamp or a body that is not an event is a 400.
2. ``store``: the event goes into ``stripe_events`` (primary key = ``event.id``) and is
   committed before anything else happens. If that fails the endpoint answers non-2xx and
   Stripe delivers the event again.
3. ``process``: in a second transaction the event row is locked, skipped if already processed,
   and its effect is posted to the ledger. Credits move at most once per payment: the purchase
   key is ``stripe:<payment_intent>:purchase`` (so ``checkout.session.completed`` and
   ``payment_intent.succeeded`` for one payment credit once), refunds and disputes are keyed per
   payment and refund total / dispute id. A failure here leaves the event stored but unprocessed,
   the endpoint answers non-2xx, and Stripe's retry applies it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from billing import service as billing
from billing.exceptions import (
    EventNotProcessed,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from billing.models import EntryKind, StripeEvent
from billing.stripe_client import webhook_secret
from core.db import is_postgres, session_scope, utcnow
from core.settings import get_settings
from tenants.models import Tenant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    event_id: str
    status: str  # processed | duplicate | ignored
    detail: str = ""


def verify(payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event as a dict, if ``signature`` is Stripe's for this raw body and recent enough."""
    secret = webhook_secret()
    try:
        stripe.Webhook.construct_event(
            payload,
            signature or "",
            secret,
            tolerance=get_settings().stripe_webhook_tolerance_seconds,
        )
    except stripe.SignatureVerificationError as exc:
        raise WebhookSignatureInvalid(f"Stripe signature verification failed: {exc}") from None
    except ValueError:
        raise WebhookPayloadInvalid("The body is not a Stripe event") from None
    event: dict[str, Any] = json.loads(payload)
    if not isinstance(event.get("id"), str) or not isinstance(event.get("type"), str):
        raise WebhookPayloadInvalid("The body is not a Stripe event (no id or type)")
    return event


def store(event: dict[str, Any]) -> bool:
    """Commit the event to the inbox; False if it was already there (a redelivery)."""
    with session_scope() as session:
        if session.get(StripeEvent, event["id"]) is not None:
            return False
        try:
            with session.begin_nested():
                session.add(StripeEvent(id=event["id"], type=event["type"], payload=event))
        except IntegrityError:  # a concurrent delivery of the same event stored it first
            return False
    return True


def process(event_id: str) -> Outcome:
    """Apply a stored event once. Raises ``EventNotProcessed`` (and records why) on failure."""
    try:
        with session_scope() as session:
            stmt = select(StripeEvent).where(StripeEvent.id == event_id)
            if is_postgres(session):
                stmt = stmt.with_for_update()
            row = session.scalars(stmt).one()
            if row.processed_at is not None:
                return Outcome(event_id, "duplicate")
            row.attempts += 1
            tenant_id, detail = _apply(session, row.type, row.payload)
            row.tenant_id = tenant_id
            row.processed_at = utcnow()
            row.error = None
            status = "processed" if tenant_id else "ignored"
            log.info(
                "stripe.event_processed event_id=%s type=%s tenant_id=%s outcome=%s",
                event_id,
                row.type,
                tenant_id,
                detail,
            )
            return Outcome(event_id, status, detail)
    except EventNotProcessed as exc:
        _record_failure(event_id, exc.message)
        raise
    except Exception as exc:
        log.warning("stripe.event_failed event_id=%s", event_id, exc_info=True)
        _record_failure(event_id, f"{type(exc).__name__}: {exc}")
        raise EventNotProcessed(
            "The event was stored but could not be applied; it will be retried",
            details={"event_id": event_id},
        ) from exc


def _record_failure(event_id: str, message: str) -> None:
    try:
        with session_scope() as session:
            row = session.get(StripeEvent, event_id)
            if row is not None and row.processed_at is None:
                row.attempts += 1
                row.error = message[:2000]
    except Exception:  # the database may be the thing that failed; Stripe retries anyway
        log.warning("stripe.event_failure_not_recorded event_id=%s", event_id, exc_info=True)


def _apply(session: Session, event_type: str, payload: dict[str, Any]) -> tuple[str | None, str]:
    obj: dict[str, Any] = payload.get("data", {}).get("object", {}) or {}
    handler = _HANDLERS.get(event_type)
    if handler is None:
        return None, f"type {event_type} is not used"
    return handler(session, payload["id"], obj)


def _tenant_exists(session: Session, tenant_id: str | None) -> bool:
    return bool(tenant_id) and session.get(Tenant, tenant_id) is not None


def _credit_purchase(
    session: Session,
    event_id: str,
    metadata: dict[str, Any],
    payment_intent_id: str | None,
    amount_cents: int,
) -> tuple[str | None, str]:
    tenant_id = metadata.get("tenant_id")
    credits = metadata.get("credits")
    if not _tenant_exists(session, tenant_id) or not credits or not payment_intent_id:
        return None, "not a top-up of a known tenant"
    assert tenant_id is not None
    entry = billing.purchase(
        session,
        tenant_id,
        int(credits),
        payment_intent_id=payment_intent_id,
        amount_cents=amount_cents,
        event_id=event_id,
        package_id=metadata.get("package_id"),
    )
    return tenant_id, ("credited" if entry else "already credited")


def _checkout_completed(
    session: Session, event_id: str, obj: dict[str, Any]
) -> tuple[str | None, str]:
    if obj.get("payment_status") != "paid":
        return None, f"payment_status {obj.get('payment_status')}"
    # A payment-mode session always has a PaymentIntent; the session id is the fallback key.
    payment = obj.get("payment_intent") or obj.get("id")
    return _credit_purchase(
        session, event_id, obj.get("metadata") or {}, payment, int(obj.get("amount_total") or 0)
    )


def _payment_intent_succeeded(
    session: Session, event_id: str, obj: dict[str, Any]
) -> tuple[str | None, str]:
    amount = int(obj.get("amount_received") or obj.get("amount") or 0)
    return _credit_purchase(session, event_id, obj.get("metadata") or {}, obj.get("id"), amount)


def _purchase_context(
    session: Session, payment_intent_id: str | None, customer: str | None
) -> tuple[str, int, int] | None:
    """(tenant, credits bought, cents paid) of the purchase behind a charge.

    Raises ``EventNotProcessed`` when the charge belongs to one of our tenants but its purchase
    has not arrived yet (events out of order): Stripe retries and the retry finds it.
    """
    purchase = (
        billing.purchase_for_payment(session, payment_intent_id) if payment_intent_id else None
    )
    if purchase is not None:
        return purchase.tenant_id, purchase.amount, int(purchase.meta.get("amount_cents") or 0)
    ours = customer and session.scalar(
        select(Tenant.id).where(Tenant.stripe_customer_id == customer)
    )
    if ours:
        raise EventNotProcessed(
            "The purchase this refers to has not been recorded yet; retry later",
            details={"payment_intent": payment_intent_id},
        )
    return None


def _credits_for(cents: int, credits: int, paid_cents: int) -> int:
    if paid_cents <= 0:
        return credits
    return min(credits, credits * cents // paid_cents)


def _charge_refunded(
    session: Session, event_id: str, obj: dict[str, Any]
) -> tuple[str | None, str]:
    payment = obj.get("payment_intent")
    context = _purchase_context(session, payment, obj.get("customer"))
    if context is None or not payment:
        return None, "not a charge of a known top-up"
    tenant_id, credits, paid = context
    # amount_refunded is cumulative: take back the difference with what refunds took so far.
    refunded_total = _credits_for(int(obj.get("amount_refunded") or 0), credits, paid)
    already = billing.removed_for_payment(session, tenant_id, payment, kinds=[EntryKind.REFUND])
    entry = billing.remove_purchased(
        session,
        tenant_id,
        EntryKind.REFUND,
        refunded_total - already,
        key=f"stripe:{payment}:refund:{obj.get('amount_refunded')}",
        payment_intent_id=payment,
        reason="refunded in Stripe",
        meta={"charge": obj.get("id"), "event_id": event_id},
    )
    return tenant_id, ("refunded" if entry else "nothing more to refund")


def _dispute_created(
    session: Session, event_id: str, obj: dict[str, Any]
) -> tuple[str | None, str]:
    payment = obj.get("payment_intent")
    context = _purchase_context(session, payment, None)
    if context is None or not payment:
        return None, "not a dispute on a known top-up"
    tenant_id, credits, paid = context
    entry = billing.remove_purchased(
        session,
        tenant_id,
        EntryKind.CHARGEBACK,
        _credits_for(int(obj.get("amount") or 0), credits, paid),
        key=f"stripe:{payment}:chargeback:{obj.get('id')}",
        payment_intent_id=payment,
        reason=f"dispute {obj.get('reason') or ''}".strip(),
        meta={"dispute": obj.get("id"), "charge": obj.get("charge"), "event_id": event_id},
    )
    return tenant_id, ("charged back" if entry else "already charged back")


_HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "payment_intent.succeeded": _payment_intent_succeeded,
    "charge.refunded": _charge_refunded,
    "charge.dispute.created": _dispute_created,
}
