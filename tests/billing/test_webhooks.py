"""Stripe webhooks against the live gateway: signed like Stripe, stored before 2xx, applied once."""

from __future__ import annotations

import json
import random
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError

from tests.billing.conftest import assert_wallet_matches_ledger, deliver, event, sign
from tests.conftest import submit

SAMPLE = (Path(__file__).resolve().parents[2] / "core" / "samples" / "customers.csv").read_bytes()


def _pi(tenant_id: str, credits: int = 1000, amount: int = 1000) -> dict:
    return {
        "id": f"pi_{uuid.uuid4().hex[:20]}",
        "object": "payment_intent",
        "amount": amount,
        "amount_received": amount,
        "currency": "usd",
        "status": "succeeded",
        "metadata": {"tenant_id": tenant_id, "package_id": "small", "credits": str(credits)},
    }


def _balance(tc) -> int:
    return int(tc.client.get("/v1/billing/wallet").json()["balance"])


def _stored(event_id: str):
    from billing.models import StripeEvent
    from core.db import session_scope

    with session_scope() as session:
        row = session.get(StripeEvent, event_id)
        if row is not None:
            session.expunge(row)
        return row


def test_a_payment_credits_once_when_its_events_arrive_five_times_each_in_any_order(
    stripe_env, gateway_url, make_tenant
):
    tc = make_tenant(credits=0)
    pi = _pi(tc.tenant_id)
    succeeded = event("payment_intent.succeeded", pi)
    completed = event(
        "checkout.session.completed",
        {
            "id": f"cs_{uuid.uuid4().hex[:20]}",
            "object": "checkout.session",
            "payment_intent": pi["id"],
            "payment_status": "paid",
            "amount_total": 1000,
            "metadata": pi["metadata"],
        },
    )
    deliveries = [succeeded] * 5 + [completed] * 5
    random.Random(5).shuffle(deliveries)
    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(lambda e: deliver(gateway_url, e), deliveries))

    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert _balance(tc) == 1000
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 1000
    purchases = [
        e for e in tc.client.get("/v1/billing/ledger").json()["items"] if e["kind"] == "purchase"
    ]
    assert len(purchases) == 1
    for e in (succeeded, completed):
        row = _stored(e["id"])
        assert row is not None and row.processed_at is not None and row.tenant_id == tc.tenant_id


@pytest.mark.parametrize(
    "header",
    [
        None,
        "t=1,v1=deadbeef",
        "wrong-secret",
        "tampered-body",
    ],
)
def test_a_bad_signature_is_400_and_credits_nothing(stripe_env, gateway_url, make_tenant, header):
    tc = make_tenant(credits=0)
    evt = event("payment_intent.succeeded", _pi(tc.tenant_id))
    payload = json.dumps(evt).encode()
    headers = {"content-type": "application/json"}
    if header == "wrong-secret":
        headers["Stripe-Signature"] = sign(payload, secret="whsec_someone_else")
    elif header == "tampered-body":
        headers["Stripe-Signature"] = sign(payload)
        payload = payload.replace(b'"1000"', b'"900000"')
    elif header is not None:
        headers["Stripe-Signature"] = header
    r = httpx.post(f"{gateway_url}/v1/billing/stripe/webhook", content=payload, headers=headers)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert _balance(tc) == 0
    assert _stored(evt["id"]) is None


def test_an_old_timestamp_is_400_even_with_a_valid_signature(stripe_env, gateway_url, make_tenant):
    tc = make_tenant(credits=0)
    evt = event("payment_intent.succeeded", _pi(tc.tenant_id))
    r = deliver(gateway_url, evt, timestamp=int(time.time()) - 301)
    assert r.status_code == 400 and r.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert _balance(tc) == 0 and _stored(evt["id"]) is None
    # The same event, freshly signed, is accepted: only the timestamp was wrong.
    assert deliver(gateway_url, evt, timestamp=int(time.time()) - 200).status_code == 200
    assert _balance(tc) == 1000


def test_a_database_failure_while_processing_is_non_2xx_and_stripes_retry_credits_once(
    stripe_env, gateway_url, make_tenant
):
    from core.db import get_engine

    tc = make_tenant(credits=0)
    evt = event("payment_intent.succeeded", _pi(tc.tenant_id))
    failures = []

    def fail_ledger_insert_once(conn, cursor, statement, params, context, executemany):
        if not failures and statement.lstrip().upper().startswith("INSERT INTO LEDGER_ENTRIES"):
            failures.append(statement)
            raise OperationalError(statement, params, Exception("injected: connection reset"))

    engine = get_engine()  # the gateway runs in this process, on this engine
    sa_event.listen(engine, "before_cursor_execute", fail_ledger_insert_once)
    try:
        r = deliver(gateway_url, evt)
    finally:
        sa_event.remove(engine, "before_cursor_execute", fail_ledger_insert_once)
    assert failures, "the injected failure did not happen"
    assert r.status_code == 503 and r.json()["error"]["code"] == "EVENT_NOT_PROCESSED"
    assert _balance(tc) == 0
    stored = _stored(evt["id"])
    assert stored is not None and stored.processed_at is None and stored.error

    retry = deliver(gateway_url, evt)  # Stripe retries the same event
    assert retry.status_code == 200 and retry.json()["status"] == "processed"
    assert deliver(gateway_url, evt).json()["status"] == "duplicate"
    assert _balance(tc) == 1000
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 1000


def _charge(pi: dict, refunded: int, customer: str | None = None) -> dict:
    return {
        "id": f"ch_{pi['id'][3:]}",
        "object": "charge",
        "payment_intent": pi["id"],
        "amount": pi["amount"],
        "amount_refunded": refunded,
        "customer": customer,
        "refunded": refunded == pi["amount"],
    }


def test_refunds_take_back_the_refunded_credits_once_and_a_debt_blocks_new_tasks(
    stripe_env, gateway_url, make_tenant, admin
):
    tc = make_tenant(credits=0)
    pi = _pi(tc.tenant_id)
    assert deliver(gateway_url, event("payment_intent.succeeded", pi)).status_code == 200
    admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/grants", json={"credits": -300, "reason": "spent"}
    ).raise_for_status()
    assert _balance(tc) == 700

    # Two partial refunds (cumulative amount_refunded 400, then 1000) delivered newest first.
    full = event("charge.refunded", _charge(pi, 1000))
    partial = event("charge.refunded", _charge(pi, 400))
    for evt in (full, partial, full):
        assert deliver(gateway_url, evt).status_code == 200
    assert _balance(tc) == -300  # 1000 bought, 300 spent, 1000 refunded: a recorded debt
    refunds = [
        e for e in tc.client.get("/v1/billing/ledger").json()["items"] if e["kind"] == "refund"
    ]
    assert sum(e["amount"] for e in refunds) == -1000
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == -300

    task_id = submit(
        tc,
        "profile-my-data",
        {"primary": ("c.csv", SAMPLE)},
        agents=["unified-profiler"],
        process=False,
    )
    r = tc.client.post(f"/v1/tasks/{task_id}/process")
    assert r.status_code == 402 and r.json()["error"]["code"] == "OUTSTANDING_DEBT"


def test_a_refund_that_arrives_before_its_purchase_is_refused_until_the_purchase_is_in(
    stripe_env, gateway_url, make_tenant
):
    from core.db import session_scope
    from tenants.models import Tenant

    tc = make_tenant(credits=0)
    customer = f"cus_{uuid.uuid4().hex[:14]}"
    with session_scope() as session:
        session.get(Tenant, tc.tenant_id).stripe_customer_id = customer
    pi = _pi(tc.tenant_id)
    refund = event("charge.refunded", _charge(pi, 1000, customer))

    early = deliver(gateway_url, refund)
    assert early.status_code == 503 and early.json()["error"]["code"] == "EVENT_NOT_PROCESSED"
    assert deliver(gateway_url, event("payment_intent.succeeded", pi)).status_code == 200
    assert _balance(tc) == 1000
    assert deliver(gateway_url, refund).status_code == 200  # Stripe's retry
    assert _balance(tc) == 0
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 0


def test_a_dispute_records_one_chargeback(stripe_env, gateway_url, make_tenant):
    tc = make_tenant(credits=0)
    pi = _pi(tc.tenant_id, credits=5000, amount=4500)
    assert deliver(gateway_url, event("payment_intent.succeeded", pi)).status_code == 200
    dispute = event(
        "charge.dispute.created",
        {
            "id": f"dp_{uuid.uuid4().hex[:20]}",
            "object": "dispute",
            "charge": f"ch_{pi['id'][3:]}",
            "payment_intent": pi["id"],
            "amount": 4500,
            "reason": "fraudulent",
        },
    )
    for _ in range(3):
        assert deliver(gateway_url, dispute).status_code == 200
    entries = tc.client.get("/v1/billing/ledger").json()["items"]
    chargebacks = [e for e in entries if e["kind"] == "chargeback"]
    assert [e["amount"] for e in chargebacks] == [-5000]
    assert _balance(tc) == 0
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 0


def test_an_event_of_another_type_or_tenant_is_acknowledged_without_credit(
    stripe_env, gateway_url, make_tenant
):
    tc = make_tenant(credits=0)
    other = deliver(gateway_url, event("customer.created", {"id": "cus_x", "object": "customer"}))
    assert other.status_code == 200 and other.json()["status"] == "ignored"
    stranger = _pi(str(uuid.uuid4()))
    r = deliver(gateway_url, event("payment_intent.succeeded", stranger))
    assert r.status_code == 200 and r.json()["status"] == "ignored"
    assert _balance(tc) == 0
