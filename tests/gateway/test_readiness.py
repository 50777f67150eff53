"""/readyz: ok/not-ok in public, details for the operator, database + Redis decide, S3 only
degrades, and the probe runs at most every READINESS_CACHE_SECONDS however many ask."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import httpx

from core.services import free_port
from tests.platform import Platform
from tests.workers.isolated import client_for, gateway_process


def test_readyz_answers_only_the_verdict_in_public(gateway_url: str, admin: httpx.Client):
    r = httpx.get(f"{gateway_url}/readyz", timeout=10)
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}
    details = admin.get("/v1/admin/readiness")
    assert details.status_code == 200
    body = details.json()
    assert body["status"] == "ok"
    assert {body["checks"][k] for k in ("database", "redis", "s3")} == {"ok"}


def test_readiness_details_need_the_operator_key(gateway_url: str, make_tenant):
    assert httpx.get(f"{gateway_url}/v1/admin/readiness", timeout=10).status_code == 401
    tc = make_tenant(credits=0)
    assert tc.client.get("/v1/admin/readiness").status_code == 403


def test_a_burst_of_anonymous_probes_runs_the_checks_at_most_once_per_cache_period(
    gateway_url: str, admin: httpx.Client
):
    before = admin.get("/v1/admin/readiness").json()["probes"]
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda _: httpx.get(f"{gateway_url}/readyz", timeout=30).status_code, range(80)
            )
        )
    after = admin.get("/v1/admin/readiness").json()["probes"]
    assert answers == [200] * 80
    # The burst and the two operator calls share the cached result: a handful of probes at most
    # (one per 1.5 s period the burst spans), never one per request.
    assert after - before <= 6, (before, after)


def test_without_redis_the_replica_is_not_ready_and_says_why_only_to_the_operator(
    platform: Platform,
):
    closed = free_port()
    proc, url = gateway_process(
        platform,
        "gateway-no-redis",
        {
            "REDIS_URL": f"redis://127.0.0.1:{closed}/0",
            "RATELIMIT_STORAGE_URI": platform.redis_url,
        },
    )
    try:
        r = httpx.get(f"{url}/readyz", timeout=20)
        assert r.status_code == 503
        assert r.json() == {"status": "unavailable"}
        assert "Error" not in r.text and "redis" not in r.text
        with client_for(url, platform.admin_key) as operator:
            checks = operator.get("/v1/admin/readiness").json()["checks"]
        assert checks["redis"].startswith("error: ")
        assert checks["database"] == "ok"
    finally:
        proc.stop()
    assert os.environ["REDIS_URL"] == platform.redis_url
