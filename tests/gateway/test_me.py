"""GET /v1/me: what the gateway knows about the calling key."""

from __future__ import annotations

import httpx


def test_a_tenant_key_sees_its_tenant_plan_scopes_and_limits(make_tenant, admin):
    tc = make_tenant(credits=0, plan="pro")
    r = tc.client.get("/v1/me")
    # A rate-limited read like any other (the gateway bench relies on it).
    assert r.headers["X-RateLimit-Limit"] == "6000"
    body = r.json()
    assert body["tenant_id"] == tc.tenant_id
    assert body["plan"] == "pro"
    assert body["scopes"] == ["billing", "tasks", "usage"]
    assert (body["submit_per_minute"], body["read_per_minute"]) == (600, 6000)
    operator = admin.get("/v1/me").json()
    assert operator["tenant_id"] is None and operator["scopes"] == ["admin"]


def test_a_revoked_key_is_refused_within_seconds(make_tenant, admin, gateway_url):
    import time

    tc = make_tenant(credits=0)
    key_id = tc.client.get("/v1/me").json()["key_id"]
    assert admin.delete(f"/v1/admin/tenants/{tc.tenant_id}/api-keys/{key_id}").status_code == 204
    time.sleep(1.5)  # PRINCIPAL_CACHE_SECONDS is 1 in tests
    r = tc.client.get("/v1/me")
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "INVALID_API_KEY"
    assert httpx.get(f"{gateway_url}/v1/me").status_code == 401
