"""Only the admin scope grants credits or changes prices; a tenant key gets 403 and no effect."""

from __future__ import annotations

import httpx

from tests.billing.conftest import assert_wallet_matches_ledger


def test_a_tenant_key_cannot_grant_credits_or_change_prices(make_tenant, admin, gateway_url):
    tc = make_tenant(credits=100)
    price_before = admin.get("/v1/tools/profile-my-data").json()
    r = tc.client.post(
        f"/v1/admin/tenants/{tc.tenant_id}/grants", json={"credits": 1_000_000, "reason": "me"}
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    r = tc.client.put("/v1/admin/prices/unified-profiler", json={"credits": 0})
    assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
    # No key at all is 401, not a grant.
    anon = httpx.post(
        f"{gateway_url}/v1/admin/tenants/{tc.tenant_id}/grants",
        json={"credits": 5, "reason": "anon"},
    )
    assert anon.status_code == 401

    assert tc.client.get("/v1/billing/wallet").json()["balance"] == 100
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 100
    assert admin.get("/v1/tools/profile-my-data").json() == price_before


def test_the_operator_grants_and_adjusts_with_a_reason_once_per_idempotency_key(make_tenant, admin):
    tc = make_tenant(credits=0)
    body = {"credits": 250, "reason": "goodwill", "idempotency_key": "ticket-42"}
    r = admin.post(f"/v1/admin/tenants/{tc.tenant_id}/grants", json=body)
    assert r.status_code == 201 and r.json()["kind"] == "grant"
    again = admin.post(f"/v1/admin/tenants/{tc.tenant_id}/grants", json=body)
    assert again.status_code == 409
    r = admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/grants", json={"credits": -50, "reason": "correction"}
    )
    assert r.status_code == 201 and r.json()["kind"] == "adjustment"
    assert r.json()["reason"] == "correction"
    assert tc.client.get("/v1/billing/wallet").json() == {
        "balance": 200,
        "held": 0,
        "available": 200,
    }
    assert assert_wallet_matches_ledger(tc.tenant_id)["balance"] == 200
