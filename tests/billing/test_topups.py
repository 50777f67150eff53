"""Top-ups through localstripe (a stateful fake Stripe over HTTP) and its signed webhooks."""

from __future__ import annotations

import time
import uuid

import httpx
import stripe

from tests.billing.conftest import WEBHOOK_SECRET, assert_wallet_matches_ledger
from tests.platform import wait


def _register_webhook(localstripe: str, gateway_url: str) -> None:
    r = httpx.post(
        f"{localstripe}/_config/webhooks/agensium-{uuid.uuid4().hex[:8]}",
        data={
            "url": f"{gateway_url}/v1/billing/stripe/webhook",
            "secret": WEBHOOK_SECRET,
            "events[]": ["payment_intent.succeeded"],
        },
    )
    assert r.status_code == 200, r.text


def _card(localstripe: str) -> str:
    import os

    client = stripe.StripeClient(os.environ["STRIPE_API_KEY"], base_addresses={"api": localstripe})
    pm = client.v1.payment_methods.create(
        params={
            "type": "card",
            "card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        }
    )
    return str(pm.id)


def test_a_paid_top_up_raises_the_balance_by_the_packages_credits(
    stripe_env, gateway_url, make_tenant
):
    localstripe = stripe_env
    _register_webhook(localstripe, gateway_url)
    tc = make_tenant(credits=0)

    r = tc.client.post(
        "/v1/billing/top-ups",
        json={
            "package_id": "medium",
            "mode": "payment_intent",
            "payment_method": _card(localstripe),
        },
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "succeeded" and body["credits"] == 5000
    assert body["amount_cents"] == 4500 and body["client_secret"]
    # Nothing is credited by the call itself: only the signed webhook from Stripe does that.
    wallet = wait(
        lambda: (w := tc.client.get("/v1/billing/wallet").json())["balance"] == 5000 and w,
        30,
        0.2,
        "the payment_intent.succeeded webhook to credit the wallet",
    )
    assert wallet == {"balance": 5000, "held": 0, "available": 5000}
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 5000

    # The Stripe Customer was created once and is reused for the next top-up.
    from core.db import session_scope
    from tenants.models import Tenant

    with session_scope() as session:
        customer = session.get(Tenant, tc.tenant_id).stripe_customer_id
    assert customer and customer.startswith("cus_")
    second = tc.client.post(
        "/v1/billing/top-ups", json={"package_id": "small", "mode": "payment_intent"}
    )
    assert second.status_code == 201 and second.json()["status"] != "succeeded"
    client = stripe.StripeClient("sk_test_x", base_addresses={"api": localstripe})
    intent = client.v1.payment_intents.retrieve(second.json()["payment_intent_id"])
    assert intent.customer == customer
    assert intent.metadata["tenant_id"] == tc.tenant_id and intent.metadata["credits"] == "1000"
    time.sleep(1.5)  # an unconfirmed intent sends no webhook and credits nothing
    assert tc.client.get("/v1/billing/wallet").json()["balance"] == 5000


def test_checkout_against_a_stripe_fake_is_503_with_a_clear_code(stripe_env, make_tenant):
    tc = make_tenant(credits=0)
    r = tc.client.post("/v1/billing/top-ups", json={"package_id": "small", "mode": "checkout"})
    assert r.status_code == 503
    assert r.json()["error"]["code"] == "CHECKOUT_UNAVAILABLE"


def test_an_unknown_package_is_422_naming_the_packages(stripe_env, make_tenant):
    tc = make_tenant(credits=0)
    r = tc.client.post("/v1/billing/top-ups", json={"package_id": "huge", "mode": "payment_intent"})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["code"] == "UNKNOWN_PACKAGE" and err["details"]["packages"] == ["medium", "small"]


def test_postpaid_usage_is_queued_per_capture_and_kept_for_retry_when_meters_are_missing(
    stripe_env, make_tenant
):
    """localstripe has no Billing Meters (404): the outbox row stays pending with the error,
    to be sent on a later run; a prepaid tenant's captures queue nothing."""
    from billing import service as billing
    from billing.meters import send_pending
    from billing.models import MeterEvent
    from core.db import session_scope

    postpaid = make_tenant(credits=100, plan="enterprise")
    prepaid = make_tenant(credits=100, plan="pro")
    keys = {}
    for tc in (postpaid, prepaid):
        task_id = str(uuid.uuid4())
        with session_scope() as session:
            billing.hold_for_task(session, tc.tenant_id, task_id, "profile-my-data", 30)
        with session_scope() as session:
            billing.capture_agent(
                session, tc.tenant_id, task_id, "profile-my-data", "unified-profiler", 20
            )
            billing.capture_agent(  # a redelivery: no second charge, no second report
                session, tc.tenant_id, task_id, "profile-my-data", "unified-profiler", 20
            )
            billing.release_task(session, tc.tenant_id, task_id, "profile-my-data")
        keys[tc.tenant_id] = f"{task_id}:unified-profiler:capture"

    report = send_pending()
    assert report.sent == 0 and report.retry_later >= 1
    with session_scope() as session:
        row = session.get(MeterEvent, keys[postpaid.tenant_id])
        assert row is not None and row.value == 20 and row.status == "pending"
        assert row.attempts == 1 and "404" in (row.last_error or "")
        assert session.get(MeterEvent, keys[prepaid.tenant_id]) is None
    for tc in (postpaid, prepaid):
        assert assert_wallet_matches_ledger(tc.tenant_id) == {
            "balance": 80,
            "held": 0,
            "available": 80,
        }
