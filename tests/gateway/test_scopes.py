"""Key scopes hold by structure: every tenant route declares the scope it needs, and a key
without it gets 403 ``INSUFFICIENT_SCOPE`` exactly there (API keys and dashboard sessions)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

#: The policy, stated once here as docs/api.md states it: path prefix -> scope it needs.
SCOPE_BY_PREFIX = {
    "/v1/tasks": "tasks",
    "/v1/callbacks": "tasks",
    "/v1/billing": "billing",
    "/v1/usage": "usage",
}
#: Routes any authenticated key may call (they describe the caller or the catalogue).
ANY_KEY = {"/v1/me", "/v1/tools", "/v1/tools/{tool_id}", "/v1/auth/session"}
#: Operator routes outside /v1/admin (Prometheus scrapes with the operator key).
OPERATOR = {"/metrics"}
#: Routes with no API key on purpose.
PUBLIC = {
    "/healthz",
    "/readyz",
    "/v1/billing/stripe/webhook",
    "/dashboard",
    "/dashboard/ops",
    "/dashboard/config.json",
    "/dashboard/tasks",
    "/dashboard/tasks/{task_id}",
}


def _calls(dependant: Any) -> Iterator[Any]:
    for dep in dependant.dependencies:
        yield dep.call
        yield from _calls(dep)


def _routes() -> list[tuple[str, str, list[Any]]]:
    # Imported here, not at collection: importing gateway.app builds the app (and the Celery
    # client) from the settings, before the test session has pointed them at its services.
    from gateway.app import create_app

    out = []
    for ctx in iter_route_contexts(create_app().routes):
        if isinstance(ctx.route, APIRoute):  # mounts (static files) and the docs pages aside
            for method in sorted(ctx.methods or ()):
                out.append((method, ctx.path, list(_calls(ctx.route.dependant))))
    return out


def _expected_scope(path: str) -> str | None:
    for prefix, scope in SCOPE_BY_PREFIX.items():
        if path == prefix or path.startswith(prefix + "/"):
            return scope
    return None


def test_every_route_is_classified_and_tenant_routes_declare_their_scope() -> None:
    from gateway.deps import ScopeCheck, get_principal, require_admin

    routes = _routes()
    assert len(routes) > 25
    for method, path, calls in routes:
        declared = sorted({c.scope for c in calls if isinstance(c, ScopeCheck)})
        where = f"{method} {path}"
        if path in PUBLIC:
            assert get_principal not in calls, f"{where} is listed public but authenticates"
        elif path.startswith("/v1/admin/") or path in OPERATOR:
            assert require_admin in calls, f"{where} does not require the operator key"
            assert not declared, where
        elif path in ANY_KEY:
            assert get_principal in calls and not declared, where
        else:
            expected = _expected_scope(path)
            assert expected is not None, f"{where} is a new route: give it a scope"
            assert declared == [expected], f"{where} declares {declared}, expected {expected}"


def _key(admin: httpx.Client, tenant_id: str, scopes: list[str]) -> str:
    r = admin.post(
        f"/v1/admin/tenants/{tenant_id}/api-keys", json={"name": "scoped", "scopes": scopes}
    )
    assert r.status_code == 201, r.text
    assert r.json()["scopes"] == sorted(scopes)
    key: str = r.json()["api_key"]
    return key


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: f"x{uuid.uuid4().hex[:8]}", path)


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    if method == "GET" and path.endswith("/events"):
        # The stream of an unknown task answers at once (404); never leave it open.
        with client.stream(method, _concrete(path)) as r:
            r.read()
            return r
    return client.request(method, _concrete(path), json=body)


@pytest.fixture(scope="module")
def scoped_clients(admin: httpx.Client, gateway_url: str) -> Iterator[dict[str, Any]]:
    r = admin.post("/v1/admin/tenants", json={"name": "scopes", "plan": "pro"})
    assert r.status_code == 201, r.text
    tenant_id = r.json()["tenant_id"]
    clients: dict[str, Any] = {}
    for scope in ("tasks", "billing", "usage"):
        key = _key(admin, tenant_id, [scope])
        clients[f"key:{scope}"] = (
            {scope},
            httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {key}"}),
        )
    usage_key = _key(admin, tenant_id, ["usage"])
    r = httpx.post(
        f"{gateway_url}/v1/auth/session", headers={"Authorization": f"Bearer {usage_key}"}
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    clients["session:usage"] = (
        {"usage"},
        httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {token}"}),
    )
    yield clients
    for _, client in clients.values():
        client.close()


def test_each_scope_matrix_403_exactly_where_the_map_says(
    scoped_clients: dict[str, Any],
) -> None:
    checked = 0
    for method, path, _ in _routes():
        scope = _expected_scope(path)
        if scope is None or path in PUBLIC:
            continue
        for name, (granted, client) in scoped_clients.items():
            if name.startswith("session:") and method != "GET":
                continue  # sessions are read-only apart from top-ups (tests/dashboard)
            r = _call(client, method, path)
            code = r.json().get("error", {}).get("code") if r.content else None
            where = f"{name} {method} {path} -> {r.status_code} {code}"
            if scope in granted:
                assert code != "INSUFFICIENT_SCOPE" and r.status_code < 500, where
            else:
                assert r.status_code == 403 and code == "INSUFFICIENT_SCOPE", where
                assert r.json()["error"]["details"]["required"] == scope
            checked += 1
    assert checked > 40


def test_a_key_with_every_scope_cannot_reach_operator_routes(
    admin: httpx.Client, gateway_url: str
) -> None:
    r = admin.post("/v1/admin/tenants", json={"name": "scopes-all", "plan": "pro"})
    key = _key(admin, r.json()["tenant_id"], ["tasks", "billing", "usage"])
    with httpx.Client(base_url=gateway_url, headers={"Authorization": f"Bearer {key}"}) as c:
        for method, path, _ in _routes():
            if path.startswith("/v1/admin/") or path in OPERATOR:
                resp = _call(c, method, path)
                assert resp.status_code == 403, f"{method} {path} -> {resp.status_code}"


def test_a_usage_key_cannot_create_a_task_or_read_the_callback_secret(
    scoped_clients: dict[str, Any],
) -> None:
    _, usage = scoped_clients["key:usage"]
    r = usage.post("/v1/tasks", json={"tool_id": "profile-my-data"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "INSUFFICIENT_SCOPE"
    assert usage.get("/v1/callbacks/secret").status_code == 403
    _, tasks = scoped_clients["key:tasks"]
    assert tasks.post("/v1/tasks", json={"tool_id": "profile-my-data"}).status_code == 201
    assert tasks.get("/v1/billing/wallet").status_code == 403
