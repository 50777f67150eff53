"""Dashboard sessions: an API key is exchanged for a short-lived signed token that reads, may
start a top-up, and nothing else; ``?token=`` works on the events stream only."""

from __future__ import annotations

import httpx

from gateway import session_tokens
from tenants.schemas import Principal


def _session(gateway_url: str, key: str) -> dict:
    r = httpx.post(f"{gateway_url}/v1/auth/session", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 201, r.text
    return r.json()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_session_token_reads_what_the_key_reads_and_never_contains_the_key(
    make_tenant, gateway_url
):
    tc = make_tenant(credits=321, name="token-reader")
    s = _session(gateway_url, tc.api_key)
    assert s["tenant_id"] == tc.tenant_id and s["tenant_name"] == "token-reader"
    assert s["expires_in"] == 15 * 60 and not s["is_admin"]
    assert tc.api_key not in s["token"] and tc.api_key.split("_")[2] not in s["token"]
    h = _bearer(s["token"])
    wallet = httpx.get(f"{gateway_url}/v1/billing/wallet", headers=h)
    assert wallet.json() == {"balance": 321, "held": 0, "available": 321}
    assert httpx.get(f"{gateway_url}/v1/usage", headers=h).status_code == 200
    assert httpx.get(f"{gateway_url}/v1/billing/ledger", headers=h).status_code == 200
    assert httpx.get(f"{gateway_url}/v1/tasks", headers=h).status_code == 200


def test_a_session_token_runs_the_dashboard_form_and_nothing_else(make_tenant, gateway_url):
    """The "new analysis" form's three writes (create, upload, process) pass with a session
    token; cancel, delete and minting another session stay API-key only."""
    tc = make_tenant(credits=100)
    h = _bearer(_session(gateway_url, tc.api_key)["token"])
    r = httpx.post(f"{gateway_url}/v1/tasks", headers=h, json={"tool_id": "profile-my-data"})
    assert r.status_code == 201, r.text
    task_id = r.json()["task_id"]
    r = httpx.put(
        f"{gateway_url}/v1/tasks/{task_id}/files/primary",
        headers=h,
        params={"filename": "a.csv"},
        content=b"a,b\n1,2\n",
    )
    assert r.status_code == 200, r.text
    for method, path in (
        ("POST", f"/v1/tasks/{task_id}/cancel"),
        ("DELETE", f"/v1/tasks/{task_id}"),
        ("POST", "/v1/auth/session"),
        ("POST", "/v1/admin/tenants"),
    ):
        r = httpx.request(method, f"{gateway_url}{path}", headers=h)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["code"] == "SESSION_TOKEN_NOT_ALLOWED", (method, path)
    r = httpx.post(f"{gateway_url}/v1/tasks/{task_id}/process", headers=h)
    assert r.status_code == 202, r.text
    # The one write the dashboard makes gets past authentication (whatever billing answers).
    r = httpx.post(f"{gateway_url}/v1/billing/top-ups", headers=h, json={"package_id": "small"})
    assert r.status_code not in (401, 403), r.text


def test_forged_expired_and_revoked_tokens_are_refused(make_tenant, gateway_url, admin):
    tc = make_tenant(credits=0)
    token = _session(gateway_url, tc.api_key)["token"]
    url = f"{gateway_url}/v1/billing/wallet"
    forged = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert httpx.get(url, headers=_bearer(forged)).status_code == 401
    key_id = session_tokens._decode(token)["k"]
    expired = session_tokens.issue(
        Principal(tc.tenant_id, str(key_id), "pro", frozenset({"usage"})), ttl_seconds=-1
    ).token
    r = httpx.get(url, headers=_bearer(expired))
    assert r.status_code == 401 and r.json()["error"]["code"] == "SESSION_EXPIRED"
    assert httpx.get(url, headers=_bearer(token)).status_code == 200
    assert admin.delete(f"/v1/admin/tenants/{tc.tenant_id}/api-keys/{key_id}").status_code == 204
    assert httpx.get(url, headers=_bearer(token)).status_code == 401


def test_query_token_only_on_the_events_stream_and_only_for_your_tasks(make_tenant, gateway_url):
    a, b = make_tenant(credits=100), make_tenant(credits=100)
    task_id = a.client.post("/v1/tasks", json={"tool_id": "profile-my-data"}).json()["task_id"]
    assert a.client.post(f"/v1/tasks/{task_id}/cancel").status_code == 200
    token_a = _session(gateway_url, a.api_key)["token"]
    token_b = _session(gateway_url, b.api_key)["token"]
    events = f"{gateway_url}/v1/tasks/{task_id}/events"

    r = httpx.get(events, params={"token": token_a}, timeout=10)
    assert r.status_code == 200 and "event: status" in r.text and "CANCELLED" in r.text
    assert httpx.get(events, params={"token": token_b}).status_code == 404
    assert httpx.get(events, params={"token": a.api_key}).status_code == 401  # keys never in URLs
    r = httpx.get(f"{gateway_url}/v1/usage", params={"token": token_a})
    assert r.status_code == 401


def test_operator_sessions_read_admin_usage_and_tenant_sessions_do_not(
    platform, make_tenant, gateway_url
):
    op = _session(gateway_url, platform.admin_key)
    assert op["is_admin"] and op["tenant_id"] is None
    assert (
        httpx.get(f"{gateway_url}/v1/admin/usage", headers=_bearer(op["token"])).status_code == 200
    )
    tc = make_tenant(credits=0)
    t = _session(gateway_url, tc.api_key)["token"]
    assert httpx.get(f"{gateway_url}/v1/admin/usage", headers=_bearer(t)).status_code == 403
