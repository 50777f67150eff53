"""The "Other" findings and the concrete 5xx of the hostile-input issue, one test each:
rate limiting really off when disabled, /metrics for operators only (and throttled), the Stripe
webhook revealing nothing when unconfigured, body caps answered before the body is read,
top-up return URLs on the tenant's origins, Flower behind basic auth, the operator key API
(list, disable/enable, expiry, last use), malformed credentials 401, and the limiter counting
only storage errors as an outage."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.services import free_port
from tests.conftest import TenantClient, new_tenant
from tests.platform import wait


def _plan(**limits: int) -> str:
    from core.db import session_scope
    from tenants.models import Plan

    plan_id = f"guard-{uuid.uuid4().hex[:10]}"
    values: dict[str, Any] = {"submit_per_minute": 1_000, "read_per_minute": 1_000, **limits}
    with session_scope() as session:
        session.add(Plan(id=plan_id, name="guards test", **values))
    return plan_id


@pytest.fixture
def app_with(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A gateway app built in this test under the given environment (served in-process)."""
    from core.settings import reset_settings

    clients: list[TestClient] = []

    def build(**env: str) -> TestClient:
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_settings()
        from gateway.app import create_app

        # A client address of its own: anonymous limits are per address, and never shared
        # with another test (or another run of this one) through the shared Redis.
        address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"
        client = TestClient(create_app(), raise_server_exceptions=False, client=(address, 50_000))
        clients.append(client)
        return client

    yield build
    for c in clients:
        c.close()
    monkeypatch.undo()
    reset_settings()


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


# --- rate limiting switch -------------------------------------------------------------------


def test_ratelimit_enabled_false_turns_limiting_off(admin, gateway_url, app_with):
    tc = new_tenant(admin, gateway_url, credits=0, plan=_plan(read_per_minute=1))
    try:
        off = app_with(RATELIMIT_ENABLED="false")
        assert off.app.state.limiter.enabled is False
        codes = [
            off.get("/v1/billing/wallet", headers=_bearer(tc.api_key)).status_code for _ in range(4)
        ]
        assert codes == [200, 200, 200, 200]
        on = app_with(RATELIMIT_ENABLED="true")
        codes = [
            on.get("/v1/billing/wallet", headers=_bearer(tc.api_key)).status_code for _ in range(3)
        ]
        assert codes.count(429) >= 2, codes
    finally:
        tc.close()


# --- /metrics -------------------------------------------------------------------------------


def test_metrics_are_for_the_operator_key_only(gateway_url, make_tenant, platform):
    tc = make_tenant(credits=0)
    assert httpx.get(f"{gateway_url}/metrics").status_code == 401
    assert httpx.get(f"{gateway_url}/metrics", headers=_bearer(tc.api_key)).status_code == 403
    r = httpx.get(f"{gateway_url}/metrics", headers=_bearer(platform.admin_key))
    assert r.status_code == 200 and "agensium_queue_depth" in r.text


def test_anonymous_metrics_requests_are_throttled(app_with):
    client = app_with(RATELIMIT_ANONYMOUS_PER_MINUTE="2")
    codes = [client.get("/metrics").status_code for _ in range(4)]
    assert codes[:2] == [401, 401] and codes[2:] == [429, 429], codes


# --- Stripe webhook and body caps ------------------------------------------------------------


def test_the_webhook_reveals_nothing_when_stripe_is_not_configured(app_with, monkeypatch):
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    client = app_with()
    r = client.post("/v1/billing/stripe/webhook", content=b"{}", headers={"Stripe-Signature": "x"})
    assert r.status_code == 404, r.text
    assert r.json()["error"]["code"] == "NOT_FOUND"
    assert "stripe" not in r.text.lower() and "config" not in r.text.lower()


def _raw_status(port: int, request: bytes, timeout: float = 20) -> tuple[int, bytes]:
    """Send only the request head (no body) and read the answer: a server that waited for the
    body would time out here."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), rest


@pytest.mark.parametrize(
    "path", ["/v1/billing/stripe/webhook", "/v1/billing/estimate", "/v1/billing/top-ups"]
)
def test_a_12mb_body_is_413_before_it_is_read(gateway_url, tenant, path):
    port = int(gateway_url.rsplit(":", 1)[1])
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {tenant.api_key}\r\nContent-Length: 12000000\r\n\r\n"
    ).encode()
    status, rest = _raw_status(port, head)
    assert status == 413
    assert b"PAYLOAD_TOO_LARGE" in rest


def test_a_chunked_body_is_cut_off_at_the_cap(tenant):
    def chunks() -> Iterator[bytes]:
        yield b'{"tool_id": "'
        for _ in range(30):
            yield b"a" * 100_000
        yield b'"}'

    r = tenant.client.post(
        "/v1/billing/estimate", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413, r.text[:300]
    assert len(r.content) < 2_000


# --- the concrete 500s of the issue ---------------------------------------------------------


def _post_raw(tc: TenantClient, path: str, body: Any) -> httpx.Response:
    """JSON with ASCII escapes, so a lone surrogate travels as the six characters \\ud800."""
    return tc.client.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/tasks", {"tool_id": "profile-my-data", "agents": ["\ud800"]}),
        ("/v1/tasks", {"tool_id": "profile-my-data", "parameters": {"\ud800": {}}}),
        (
            "/v1/tasks",
            {"tool_id": "profile-my-data", "parameters": {"unified-profiler": {"x": "\x00"}}},
        ),
        ("/v1/billing/estimate", {"tool_id": "\ud800"}),
        ("/v1/billing/estimate", {"tool_id": "x" * 5_000_00}),
        ("/v1/billing/top-ups", {"package_id": "\ud800"}),
    ],
)
def test_lone_surrogates_nul_and_long_strings_are_422_with_a_small_answer(tenant, path, body):
    r = _post_raw(tenant, path, body)
    assert r.status_code == 422, r.text[:500]
    assert len(r.content) < 8_000


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/admin/tenants", {"name": "t", "plan": "\ud800"}),
        ("/v1/admin/tenants", {"name": "\ud800"}),
    ],
)
def test_operator_bodies_with_surrogates_are_422(admin, path, body):
    r = admin.post(
        path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 422, r.text


def test_admin_scopes_with_surrogates_and_huge_grants_are_422(admin, make_tenant):
    tc = make_tenant(credits=0)
    r = admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/api-keys",
        content=json.dumps({"scopes": ["\ud800"]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    for credits in (10**30, -(10**30)):
        r = admin.post(
            f"/v1/admin/tenants/{tc.tenant_id}/grants", json={"credits": credits, "reason": "x"}
        )
        assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "query",
    [
        {"to": "9999-12-31"},
        {"to": "0001-01-01T00:00:00+14:00"},
        {"from": "0001-01-01", "to": "0001-01-02"},
        {"to": "9999-12-31T23:59:59-14:00"},
    ],
)
def test_extreme_dates_are_422(tenant, admin, query):
    r = tenant.client.get("/v1/usage", params=query)
    assert r.status_code == 422, r.text
    r = admin.get("/v1/admin/usage", params=query)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize(
    "created",
    ["9999-12-31T23:59:59.999999-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+00:00"],
)
def test_cursors_at_date_extremes_are_422(tenant, created):
    import base64

    cursor = base64.urlsafe_b64encode(f"{created}|abc".encode()).decode()
    for path in ("/v1/tasks", "/v1/billing/ledger"):
        r = tenant.client.get(path, params={"cursor": cursor})
        assert r.status_code == 422, (path, r.text)


@pytest.mark.parametrize(
    "credential",
    # (control characters never reach the app: the HTTP parser refuses them with a 400)
    [b"ags.abc.\xe9", b"agk_\xff\xfe", b"a" * 5000, b"agk_abcdefghij_\xe9secret", b"ags.\xa0"],
)
def test_malformed_credentials_are_401_never_a_limiter_outage(gateway_url, credential):
    port = int(gateway_url.rsplit(":", 1)[1])
    head = (
        b"GET /v1/billing/wallet HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
        + credential
        + b"\r\nConnection: close\r\n\r\n"
    )
    status, rest = _raw_status(port, head)
    assert status == 401, rest[:300]


def test_only_storage_errors_count_as_a_limiter_outage(app_with, monkeypatch):
    import redis.exceptions

    from gateway import ratelimit

    client = app_with()
    limiter = client.app.state.limiter

    def broken_storage(*_: Any) -> None:
        raise redis.exceptions.ConnectionError("connection refused")

    def bug(*_: Any) -> None:
        raise TypeError("a bug, not an outage")

    monkeypatch.setattr(limiter, "_check_request_limit", broken_storage)
    r = client.get("/v1/tools")
    assert (
        r.status_code == 503 and r.json()["error"]["details"]["dependency"] == "rate-limit-storage"
    )
    monkeypatch.setattr(limiter, "_check_request_limit", bug)
    r = client.get("/v1/tools")
    assert r.status_code == 500  # a bug is reported as one, not as "limiter unavailable"
    assert "Rate limiting" not in r.text
    assert ratelimit.STORAGE_ERRORS and TypeError not in ratelimit.STORAGE_ERRORS


# --- top-up return URLs ---------------------------------------------------------------------


def test_top_up_return_urls_only_on_the_tenants_origins(admin, make_tenant):
    tc = make_tenant(credits=0)
    body = {"package_id": "small", "success_url": "https://evil.example/phish"}
    r = tc.client.post("/v1/billing/top-ups", json=body)
    assert r.status_code == 422 and r.json()["error"]["code"] == "RETURN_URL_NOT_ALLOWED", r.text
    for bad in ("https://app.tenant.example/path", "javascript:alert(1)", "https://u:p@x.example"):
        r = admin.patch(f"/v1/admin/tenants/{tc.tenant_id}", json={"return_origins": [bad]})
        assert r.status_code == 422, (bad, r.text)
    r = admin.patch(
        f"/v1/admin/tenants/{tc.tenant_id}", json={"return_origins": ["https://app.tenant.example"]}
    )
    assert r.status_code == 200 and r.json()["return_origins"] == ["https://app.tenant.example"]
    for url in (
        "https://app.tenant.example.evil.example/",
        "http://app.tenant.example/",
        "https://evil.example/",
    ):
        r = tc.client.post("/v1/billing/top-ups", json={**body, "success_url": url})
        assert r.json()["error"]["code"] == "RETURN_URL_NOT_ALLOWED", (url, r.text)
    ok = {
        **body,
        "success_url": "https://app.tenant.example/paid",
        "cancel_url": "https://app.tenant.example/",
    }
    r = tc.client.post("/v1/billing/top-ups", json=ok)
    # Past the origin check (this platform has no Stripe account: 503 STRIPE_NOT_CONFIGURED).
    assert r.status_code < 400 or r.json()["error"]["code"] != "RETURN_URL_NOT_ALLOWED", r.text


# --- Flower ---------------------------------------------------------------------------------


def test_flower_in_the_local_stack_asks_for_basic_auth(platform, tmp_path):
    from gateway.cli.stack import LocalStack, StackConfig

    stack = LocalStack(StackConfig(var=tmp_path, flower_port=free_port()), environ=dict(os.environ))
    stack.env = {**platform.env, "FLOWER_BASIC_AUTH": "ops:s3cret-" + uuid.uuid4().hex}
    (tmp_path / "logs").mkdir()
    try:
        stack._start_flower(tmp_path / "logs")
        url = f"http://127.0.0.1:{stack.config.flower_port}/"
        assert httpx.get(url, timeout=10).status_code == 401
        user, password = stack.env["FLOWER_BASIC_AUTH"].split(":", 1)
        assert httpx.get(url, auth=(user, "wrong"), timeout=10).status_code == 401
        assert httpx.get(url, auth=(user, password), timeout=10).status_code == 200
    finally:
        stack.stop()


def test_compose_runs_flower_with_basic_auth():
    import yaml

    from tests.platform import ROOT

    compose = yaml.safe_load((ROOT / "infra/compose.yaml").read_text())
    env = compose["services"]["flower"]["environment"]
    assert env["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    prom = yaml.safe_load((ROOT / "infra/prometheus/prometheus.yml").read_text())
    gateway_job = next(j for j in prom["scrape_configs"] if j["job_name"] == "gateway")
    assert gateway_job["authorization"]["credentials_file"] == "/run/secrets/operator_key"
    assert "operator_key" in compose["services"]["prometheus"]["secrets"]


# --- operator key API -----------------------------------------------------------------------


def test_operators_list_a_tenants_keys_with_their_use(admin, make_tenant):
    tc = make_tenant(credits=0)
    r = admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/api-keys", json={"name": "ci", "scopes": ["usage"]}
    )
    assert r.status_code == 201
    second = r.json()
    r = admin.get(f"/v1/admin/tenants/{tc.tenant_id}/api-keys")
    assert r.status_code == 200
    keys = {k["key_id"]: k for k in r.json()}
    assert len(keys) == 2
    ci = keys[second["key_id"]]
    assert ci["prefix"] == second["prefix"] and ci["name"] == "ci" and ci["scopes"] == ["usage"]
    assert ci["created_at"] and ci["last_used_at"] is None and ci["expires_at"] is None
    assert "api_key" not in ci and "hashed_key" not in ci
    assert tc.client.get("/v1/me").status_code == 200
    used = {k["key_id"]: k for k in admin.get(f"/v1/admin/tenants/{tc.tenant_id}/api-keys").json()}
    first_id = next(k for k in used if k != second["key_id"])
    assert used[first_id]["last_used_at"] is not None
    assert admin.get(f"/v1/admin/tenants/{uuid.uuid4()}/api-keys").status_code == 404
    assert tc.client.get(f"/v1/admin/tenants/{tc.tenant_id}/api-keys").status_code == 403


def test_last_used_at_is_written_at_most_once_a_minute(make_tenant, platform):
    from core.db import session_scope
    from tenants import service
    from tenants.models import ApiKey

    tc = make_tenant(credits=0)
    with session_scope() as session:
        service.invalidate_principals()
        principal = service.authenticate(session, tc.api_key)
    with session_scope() as session:
        first = session.get(ApiKey, principal.key_id).last_used_at
    assert first is not None
    for _ in range(3):
        service.invalidate_principals()
        with session_scope() as session:
            service.authenticate(session, tc.api_key)
    with session_scope() as session:
        key = session.get(ApiKey, principal.key_id)
        assert key.last_used_at == first, "not rewritten within the minute"
        key.last_used_at = first - dt.timedelta(minutes=2)
    service.invalidate_principals()
    with session_scope() as session:
        service.authenticate(session, tc.api_key)
    with session_scope() as session:
        assert session.get(ApiKey, principal.key_id).last_used_at > first


def test_a_disabled_tenant_is_refused_until_enabled(admin, make_tenant, gateway_url):
    tc = make_tenant(credits=0)
    token = httpx.post(f"{gateway_url}/v1/auth/session", headers=_bearer(tc.api_key)).json()[
        "token"
    ]
    r = admin.patch(f"/v1/admin/tenants/{tc.tenant_id}", json={"disabled": True})
    assert r.status_code == 200 and r.json()["disabled_at"] is not None

    def codes() -> tuple[int, int]:
        a = tc.client.get("/v1/me").status_code
        b = httpx.get(f"{gateway_url}/v1/me", headers=_bearer(token)).status_code
        return a, b

    wait(lambda: codes() == (401, 401), 20, what="the tenant disabled everywhere")
    assert tc.client.get("/v1/me").json()["error"]["code"] == "TENANT_DISABLED"
    assert admin.get(f"/v1/admin/tenants/{tc.tenant_id}").json()["disabled_at"] is not None
    r = admin.patch(f"/v1/admin/tenants/{tc.tenant_id}", json={"disabled": False})
    assert r.status_code == 200 and r.json()["disabled_at"] is None
    wait(lambda: codes() == (200, 200), 20, what="the tenant enabled again")


def test_keys_expire(admin, make_tenant, gateway_url):
    tc = make_tenant(credits=0)
    past = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).isoformat()
    r = admin.post(f"/v1/admin/tenants/{tc.tenant_id}/api-keys", json={"expires_at": past})
    assert r.status_code == 422, r.text
    r = admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/api-keys", json={"expires_at": "9999-12-31T00:00:00Z"}
    )
    assert r.status_code == 422, r.text
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3)
    r = admin.post(
        f"/v1/admin/tenants/{tc.tenant_id}/api-keys", json={"expires_at": soon.isoformat()}
    )
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["expires_at"] is not None
    url = f"{gateway_url}/v1/me"
    assert httpx.get(url, headers=_bearer(made["api_key"])).status_code == 200

    def expired() -> bool:
        r = httpx.get(url, headers=_bearer(made["api_key"]))
        return r.status_code == 401 and r.json()["error"]["code"] == "API_KEY_EXPIRED"

    wait(expired, 30, what="the key to expire")
    listed = {
        k["key_id"]: k for k in admin.get(f"/v1/admin/tenants/{tc.tenant_id}/api-keys").json()
    }
    assert listed[made["key_id"]]["expires_at"] is not None
    assert time.time() >= soon.timestamp()
