"""Stripe webhook endpoint (public on purpose: authenticated by Stripe's signature)."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from billing import webhooks
from billing.exceptions import EventNotProcessed
from core.errors import NotFoundError
from core.settings import get_settings
from gateway.errors import responses

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/billing", tags=["billing"])


class WebhookAck(BaseModel):
    received: bool
    event_id: str
    status: str
    detail: str = ""


def _store_and_process(event: dict[str, object]) -> webhooks.Outcome:
    try:
        webhooks.store(event)  # type: ignore[arg-type]
    except Exception as exc:
        raise EventNotProcessed(
            "The event could not be stored; Stripe will deliver it again",
            code="EVENT_NOT_STORED",
            details={"event_id": event["id"]},
        ) from exc
    return webhooks.process(str(event["id"]))


@router.post("/stripe/webhook", response_model=WebhookAck, responses=responses(400, 404, 413, 503))
async def stripe_webhook(request: Request) -> WebhookAck:
    """Receive a Stripe event.

    The `Stripe-Signature` header is verified on the raw body (timestamp tolerance 300 s): a bad
    signature, an old timestamp or a body that is not an event answers 400 and changes nothing.
    The event is committed to the inbox (unique on its id) before it is applied, and applied at
    most once: `checkout.session.completed` and `payment_intent.succeeded` credit the top-up
    (once per payment), `charge.refunded` takes the refunded credits back (a negative balance is
    a debt that blocks new tasks), `charge.dispute.created` records a chargeback. Other types
    are stored and acknowledged. Bodies over ``MAX_REQUEST_BODY_BYTES`` are 413 unread. Without
    ``STRIPE_WEBHOOK_SECRET`` the endpoint answers 404 (nothing about the configuration leaks to
    anonymous callers; the gateway logs a warning). 2xx means the event is durably stored and
    applied; a 503 (`EVENT_NOT_STORED`, `EVENT_NOT_PROCESSED`) asks Stripe to deliver it again.
    """
    if get_settings().stripe_webhook_secret is None:
        # Without a webhook secret this deployment takes no Stripe events: answer as if the
        # route did not exist, rather than telling anonymous callers how billing is configured.
        log.warning("stripe.webhook_not_configured: STRIPE_WEBHOOK_SECRET is not set")
        raise NotFoundError("Not Found")
    payload = await request.body()
    event = webhooks.verify(payload, request.headers.get("stripe-signature"))
    outcome = await run_in_threadpool(_store_and_process, event)
    return WebhookAck(
        received=True, event_id=outcome.event_id, status=outcome.status, detail=outcome.detail
    )
