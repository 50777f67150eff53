"""Billing fixtures: localstripe as the Stripe API (started once per session), the gateway's
Stripe settings, Stripe-style webhook signing, and the wallet-equals-ledger check."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.services import ManagedProcess, free_port, start_localstripe
from tests.platform import Platform

WEBHOOK_SECRET = "whsec_test_" + uuid.uuid4().hex


@pytest.fixture(scope="session")
def localstripe(platform: Platform, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A localstripe server over real HTTP; yields its base URL."""
    port = free_port()
    proc: ManagedProcess = start_localstripe(port, tmp_path_factory.mktemp("localstripe"))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()


def _set_env(values: dict[str, str | None]) -> dict[str, str | None]:
    from core.settings import reset_settings

    before = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    reset_settings()
    return before


@pytest.fixture
def stripe_env(localstripe: str, gateway_url: str) -> Iterator[str]:
    """Point the live gateway (it reads settings per request) at localstripe; restore after."""
    before = _set_env(
        {
            "STRIPE_API_KEY": "sk_test_" + uuid.uuid4().hex,
            "STRIPE_API_BASE": localstripe,
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "CREDIT_PACKAGES": "small:1000:1000,medium:5000:4500",
        }
    )
    try:
        yield localstripe
    finally:
        _set_env(before)


def sign(payload: bytes, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header exactly as Stripe builds it."""
    ts = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def event(event_type: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:24]}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()),
        "livemode": False,
        "data": {"object": obj},
    }


def deliver(
    gateway_url: str,
    evt: dict[str, Any],
    *,
    secret: str = WEBHOOK_SECRET,
    timestamp: int | None = None,
) -> httpx.Response:
    payload = json.dumps(evt).encode()
    return httpx.post(
        f"{gateway_url}/v1/billing/stripe/webhook",
        content=payload,
        headers={
            "Stripe-Signature": sign(payload, secret, timestamp),
            "content-type": "application/json",
        },
        timeout=30,
    )


def assert_wallet_matches_ledger(tenant_id: str) -> dict[str, int]:
    """The cached wallet row equals the totals derived from the ledger alone."""
    from billing import service as billing
    from core.db import session_scope

    with session_scope() as session:
        cached = billing.wallet(session, tenant_id)
        derived = billing.ledger_totals(session, tenant_id)
    assert cached == derived, f"wallet {cached} != ledger {derived}"
    return {"balance": derived.balance, "held": derived.held, "available": derived.available}
