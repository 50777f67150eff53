"""When the rate-limit storage is down: fail closed (503) by default, fail open when configured.

Each policy runs in a gateway process of its own whose limiter points at a closed port; the
database, Redis for everything else and S3 are the session's real ones.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.services import ManagedProcess, free_port
from tests.platform import ROOT, Platform


def _gateway(platform: Platform, name: str, fail_open: bool) -> tuple[ManagedProcess, str]:
    port, closed = free_port(), free_port()
    proc = ManagedProcess(
        name,
        [
            sys.executable,
            "-m",
            "uvicorn",
            "gateway.app:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        platform.workdir / "logs" / f"{name}.log",
        env={
            **platform.env,
            "DATABASE_URL": os.environ["DATABASE_URL"],
            "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{closed}/0",
            "RATELIMIT_FAIL_OPEN": "true" if fail_open else "false",
        },
        cwd=ROOT,
    ).start()
    return proc, f"http://127.0.0.1:{port}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def gateways(platform: Platform) -> Iterator[dict[str, str]]:
    """Both gateways start at once (interpreter start-up dominates)."""
    procs = {
        "closed": _gateway(platform, "gateway-ratelimit-fail-closed", fail_open=False),
        "open": _gateway(platform, "gateway-ratelimit-fail-open", fail_open=True),
    }
    try:
        for proc, url in procs.values():
            proc.wait_until(lambda url=url: _answers(url), 60)  # type: ignore[misc]
        yield {policy: url for policy, (_, url) in procs.items()}
    finally:
        for proc, _ in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
def api_key(admin: httpx.Client) -> str:
    r = admin.post("/v1/admin/tenants", json={"name": "rl-failure"})
    assert r.status_code == 201, r.text
    r = admin.post(f"/v1/admin/tenants/{r.json()['tenant_id']}/api-keys", json={})
    assert r.status_code == 201, r.text
    key: str = r.json()["api_key"]
    return key


def _get(url: str, path: str, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.get(f"{url}{path}", headers=headers, timeout=10)


def test_fail_closed_refuses_guarded_routes_with_503_and_is_not_ready(
    gateways: dict[str, str], api_key: str, platform: Platform
) -> None:
    url = gateways["closed"]
    r = _get(url, "/v1/billing/wallet", api_key)
    assert r.status_code == 503
    body: dict[str, Any] = r.json()["error"]
    assert body["code"] == "SERVICE_UNAVAILABLE"
    assert body["details"] == {"dependency": "rate-limit-storage"}
    assert r.headers["Retry-After"]
    assert _get(url, "/v1/tools").status_code == 503, "unauthenticated calls are guarded too"

    assert _get(url, "/healthz").status_code == 200, "liveness is never limited"
    r = _get(url, "/readyz")
    assert r.status_code == 503
    assert r.json() == {"status": "unavailable"}, "no dependency details in public"
    checks = _get(url, "/v1/admin/readiness", platform.admin_key).json()["checks"]
    assert checks["rate_limit_policy"] == "fail-closed"
    assert checks["rate_limit_storage"].startswith("error")
    assert checks["redis"] == "ok"


def test_fail_open_serves_without_limits_and_stays_ready(
    gateways: dict[str, str], api_key: str, platform: Platform
) -> None:
    url = gateways["open"]
    r = _get(url, "/v1/billing/wallet", api_key)
    assert r.status_code == 200, r.text
    assert "X-RateLimit-Limit" not in r.headers
    r = _get(url, "/readyz")
    assert r.status_code == 200, r.text
    checks = _get(url, "/v1/admin/readiness", platform.admin_key).json()["checks"]
    assert checks["rate_limit_policy"] == "fail-open"
    assert checks["rate_limit_storage"].startswith("error")
